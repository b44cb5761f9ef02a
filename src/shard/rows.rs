//! ROWS: the flat Parquet tables the shard stages exchange with an engine
//! (Spark reads and writes them natively).
//!
//! Takes named columns of one physical type each (int32, int64, nullable
//! int64, double, UTF-8 string, binary); gives a Parquet file of one row
//! group per [`GROUP_ROWS`] rows, snappy-compressed, written under a
//! temporary name and renamed. Reads back a file, or every `*.parquet` of
//! a folder (an engine's output of part files, possibly empty) in name
//! order, holding the whole table: the tables of one shard or of one
//! partition of pairs are small (tens of bytes a row). Columns an engine
//! writes as nullable read as plain columns when they hold no null;
//! int32 and int64 columns both read as integers ([`Rows::ints`]).
//!
//! Builds without the `parquet` feature keep the type, and every read or
//! write fails with an error saying so.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Rows written per row group.
pub const GROUP_ROWS: usize = 1 << 20;

/// One column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// `int32`.
    I32(Vec<i32>),
    /// `int64`.
    I64(Vec<i64>),
    /// `int64`, nullable.
    OptI64(Vec<Option<i64>>),
    /// `double`.
    F64(Vec<f64>),
    /// `binary (UTF8)`: a string.
    Str(Vec<String>),
    /// `binary`: bytes.
    Bin(Vec<Vec<u8>>),
}

impl Column {
    /// Rows in the column.
    pub fn len(&self) -> usize {
        match self {
            Column::I32(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::OptI64(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::Bin(v) => v.len(),
        }
    }

    /// Whether it holds no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s rows (of the same type; else `false`).
    fn append(&mut self, other: Column) -> bool {
        match (self, other) {
            (Column::I32(a), Column::I32(b)) => a.extend(b),
            (Column::I64(a), Column::I64(b)) => a.extend(b),
            (Column::OptI64(a), Column::OptI64(b)) => a.extend(b),
            (Column::F64(a), Column::F64(b)) => a.extend(b),
            (Column::Str(a), Column::Str(b)) => a.extend(b),
            (Column::Bin(a), Column::Bin(b)) => a.extend(b),
            _ => return false,
        }
        true
    }

    /// The column's type in a Parquet message schema.
    #[cfg_attr(not(feature = "parquet"), allow(dead_code))]
    fn schema(&self, name: &str) -> String {
        match self {
            Column::I32(_) => format!("required int32 {name};"),
            Column::I64(_) => format!("required int64 {name};"),
            Column::OptI64(_) => format!("optional int64 {name};"),
            Column::F64(_) => format!("required double {name};"),
            Column::Str(_) => format!("required binary {name} (UTF8);"),
            Column::Bin(_) => format!("required binary {name};"),
        }
    }
}

/// A table: named columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    /// The file or folder it was read from (for errors).
    source: PathBuf,
    names: Vec<String>,
    columns: Vec<Column>,
}

impl Rows {
    /// An empty table.
    pub fn new() -> Rows {
        Rows::default()
    }

    /// The table with column `name` added.
    pub fn with(mut self, name: &str, column: Column) -> Rows {
        self.names.push(name.to_string());
        self.columns.push(column);
        self
    }

    /// Rows in the table.
    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Column::len)
    }

    /// Whether it has no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Column `name`, when the table has it.
    pub fn column(&self, name: &str) -> Option<&Column> {
        let i = self.names.iter().position(|n| n == name)?;
        Some(&self.columns[i])
    }

    fn missing(&self, name: &str, want: &str) -> Error {
        Error::Stage {
            path: self.source.display().to_string(),
            reason: format!("no {want} column `{name}`"),
        }
    }

    /// Integer column `name` (int32 or int64, without nulls); an empty
    /// table has every column, empty.
    ///
    /// # Errors
    ///
    /// [`Error::Stage`] naming the table and column when it is missing or
    /// of another type.
    pub fn ints(&self, name: &str) -> Result<Vec<i64>> {
        match self.column(name) {
            Some(Column::I32(v)) => Ok(v.iter().map(|&x| i64::from(x)).collect()),
            Some(Column::I64(v)) => Ok(v.clone()),
            None if self.is_empty() => Ok(Vec::new()),
            _ => Err(self.missing(name, "integer")),
        }
    }

    /// Nullable integer column `name`.
    ///
    /// # Errors
    ///
    /// As [`Rows::ints`].
    pub fn opt_ints(&self, name: &str) -> Result<Vec<Option<i64>>> {
        match self.column(name) {
            Some(Column::OptI64(v)) => Ok(v.clone()),
            Some(_) => Ok(self.ints(name)?.into_iter().map(Some).collect()),
            None if self.is_empty() => Ok(Vec::new()),
            None => Err(self.missing(name, "integer")),
        }
    }

    /// Double column `name`.
    ///
    /// # Errors
    ///
    /// As [`Rows::ints`].
    pub fn doubles(&self, name: &str) -> Result<&[f64]> {
        match self.column(name) {
            Some(Column::F64(v)) => Ok(v),
            None if self.is_empty() => Ok(&[]),
            _ => Err(self.missing(name, "double")),
        }
    }

    /// String column `name`.
    ///
    /// # Errors
    ///
    /// As [`Rows::ints`].
    pub fn strs(&self, name: &str) -> Result<&[String]> {
        match self.column(name) {
            Some(Column::Str(v)) => Ok(v),
            None if self.is_empty() => Ok(&[]),
            _ => Err(self.missing(name, "string")),
        }
    }

    /// Binary column `name`.
    ///
    /// # Errors
    ///
    /// As [`Rows::ints`].
    pub fn bins(&self, name: &str) -> Result<&[Vec<u8>]> {
        match self.column(name) {
            Some(Column::Bin(v)) => Ok(v),
            None if self.is_empty() => Ok(&[]),
            _ => Err(self.missing(name, "binary")),
        }
    }

    /// The table in `path`: a file, or a folder of part files
    /// ([`Rows::read_dir`]).
    ///
    /// # Errors
    ///
    /// As [`Rows::read`] and [`Rows::read_dir`].
    pub fn read_any(path: &Path) -> Result<Rows> {
        if path.is_dir() {
            Rows::read_dir(path)
        } else {
            Rows::read(path)
        }
    }

    /// Every `*.parquet` file of folder `dir` (in name order; files whose
    /// name starts with `.` or `_`, an engine's own, are not tables), as one
    /// table. A folder without any is an empty table.
    ///
    /// # Errors
    ///
    /// A folder that cannot be listed, a file that cannot be read, or files
    /// whose columns differ.
    pub fn read_dir(dir: &Path) -> Result<Rows> {
        let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for e in entries {
            let path = e.map_err(|e| Error::io(dir, e))?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let table = name.is_some_and(|n| {
                n.ends_with(".parquet") && !n.starts_with('.') && !n.starts_with('_')
            });
            if table && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        let mut all = Rows {
            source: dir.to_path_buf(),
            ..Rows::default()
        };
        for f in files {
            let part = Rows::read(&f)?;
            if part.is_empty() {
                continue;
            }
            if all.is_empty() && all.names.is_empty() {
                all.names = part.names;
                all.columns = part.columns;
                continue;
            }
            if all.names != part.names {
                return Err(Error::Stage {
                    path: f.display().to_string(),
                    reason: format!("columns {:?}, not {:?} as before", part.names, all.names),
                });
            }
            for (a, b) in all.columns.iter_mut().zip(part.columns) {
                if !a.append(b) {
                    return Err(Error::Stage {
                        path: f.display().to_string(),
                        reason: "a column of another type than in the files before".into(),
                    });
                }
            }
        }
        Ok(all)
    }
}

#[cfg(feature = "parquet")]
mod io {
    use std::fs::File;
    use std::path::Path;
    use std::sync::Arc;

    use parquet::basic::{Compression, Type as Physical};
    use parquet::column::writer::ColumnWriter;
    use parquet::data_type::ByteArray;
    use parquet::errors::ParquetError;
    use parquet::file::properties::WriterProperties;
    use parquet::file::reader::FileReader;
    use parquet::file::writer::SerializedFileWriter;

    use super::{Column, Rows, GROUP_ROWS};
    use crate::corpus::parquet::{bad, open, read_rows, values_of, Values};
    use crate::error::Result;

    impl Rows {
        /// Writes the table to `path`: under a temporary name, renamed
        /// once complete.
        ///
        /// # Errors
        ///
        /// A write that fails.
        pub fn write(&self, path: &Path) -> Result<()> {
            let failed = |e: ParquetError| bad(path, None, format!("cannot write it: {e}"));
            let fields: String = self
                .names
                .iter()
                .zip(&self.columns)
                .map(|(n, c)| c.schema(n))
                .collect();
            let schema = parquet::schema::parser::parse_message_type(&format!(
                "message rows {{ {fields} }}"
            ))
            .map_err(failed)?;
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let written = |tmp: &Path| -> crate::Result<()> {
                let file = File::create(tmp).map_err(|e| crate::Error::io(tmp, e))?;
                let mut w = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props))
                    .map_err(failed)?;
                let n = self.len();
                let mut start = 0;
                // an empty table still gets its schema (one empty group)
                while start < n || start == 0 {
                    let end = (start + GROUP_ROWS).min(n);
                    let mut group = w.next_row_group().map_err(failed)?;
                    for c in &self.columns {
                        let Some(mut col) = group.next_column().map_err(failed)? else {
                            return Err(failed(ParquetError::General(
                                "fewer columns than given".into(),
                            )));
                        };
                        write_column(col.untyped(), c, start..end).map_err(failed)?;
                        col.close().map_err(failed)?;
                    }
                    group.close().map_err(failed)?;
                    if end == n {
                        break;
                    }
                    start = end;
                }
                w.close().map_err(failed)?;
                Ok(())
            };
            crate::util::replace_via_temp(path, written, |e| crate::Error::io(path, e))
        }

        /// Reads the table in `path`: every column holding one value per row.
        ///
        /// # Errors
        ///
        /// A file that cannot be read, nested columns, or nulls where the
        /// column's type has none.
        pub fn read(path: &Path) -> Result<Rows> {
            let reader = open(path)?;
            let schema = reader.metadata().file_metadata().schema_descr_ptr();
            let mut rows = Rows {
                source: path.to_path_buf(),
                ..Rows::default()
            };
            for (i, desc) in schema.columns().iter().enumerate() {
                let name = desc.path().string();
                if desc.max_rep_level() > 0 {
                    return Err(bad(path, None, format!("column {name} is nested")));
                }
                let mut values = values_of(desc.physical_type());
                let (mut def, mut rep) = (Vec::new(), Vec::new());
                for g in 0..reader.num_row_groups() {
                    let group = reader.get_row_group(g).map_err(|e| bad(path, None, e))?;
                    let mut col = group.get_column_reader(i).map_err(|e| bad(path, None, e))?;
                    read_rows(&mut col, usize::MAX, &mut values, &mut def, &mut rep)
                        .map_err(|e| bad(path, None, e))?;
                }
                let present: Option<Vec<bool>> =
                    (desc.max_def_level() > 0).then(|| def.iter().map(|&d| d > 0).collect());
                let utf8 = desc.physical_type() == Physical::BYTE_ARRAY
                    && matches!(
                        desc.logical_type_ref(),
                        Some(parquet::basic::LogicalType::String)
                    )
                    || desc.converted_type() == parquet::basic::ConvertedType::UTF8;
                let column = column_of(values, present, utf8)
                    .map_err(|why| bad(path, None, format!("column {name}: {why}")))?;
                rows.names.push(name);
                rows.columns.push(column);
            }
            Ok(rows)
        }
    }

    /// A column read back: `present` says which rows have a value (none
    /// when the column is required).
    fn column_of(
        values: Values,
        present: Option<Vec<bool>>,
        utf8: bool,
    ) -> std::result::Result<Column, String> {
        let nulls = present.as_ref().is_some_and(|p| p.iter().any(|x| !x));
        if nulls {
            let Values::I64(v) = values else {
                return Err("has nulls".into());
            };
            let mut it = v.into_iter();
            let present = present.unwrap_or_default();
            return Ok(Column::OptI64(
                present
                    .into_iter()
                    .map(|p| if p { it.next() } else { None })
                    .collect(),
            ));
        }
        Ok(match values {
            Values::I32(v) => Column::I32(v),
            Values::I64(v) => Column::I64(v),
            Values::F64(v) => Column::F64(v),
            Values::Bytes(v) if utf8 => Column::Str(
                v.iter()
                    .map(|b| String::from_utf8(b.data().to_vec()))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| "invalid UTF-8".to_string())?,
            ),
            Values::Bytes(v) => Column::Bin(v.iter().map(|b| b.data().to_vec()).collect()),
            _ => return Err("of a type no stage file has".into()),
        })
    }

    /// Writes rows `range` of `c` into `w`.
    fn write_column(
        w: &mut ColumnWriter<'_>,
        c: &Column,
        range: std::ops::Range<usize>,
    ) -> std::result::Result<(), ParquetError> {
        let bytes = |v: &mut dyn Iterator<Item = &[u8]>| -> Vec<ByteArray> {
            v.map(|b| ByteArray::from(b.to_vec())).collect()
        };
        match (w, c) {
            (ColumnWriter::Int32ColumnWriter(w), Column::I32(v)) => {
                w.write_batch(&v[range], None, None)?;
            }
            (ColumnWriter::Int64ColumnWriter(w), Column::I64(v)) => {
                w.write_batch(&v[range], None, None)?;
            }
            (ColumnWriter::Int64ColumnWriter(w), Column::OptI64(v)) => {
                let rows = &v[range];
                let def: Vec<i16> = rows.iter().map(|x| i16::from(x.is_some())).collect();
                let vals: Vec<i64> = rows.iter().flatten().copied().collect();
                w.write_batch(&vals, Some(&def), None)?;
            }
            (ColumnWriter::DoubleColumnWriter(w), Column::F64(v)) => {
                w.write_batch(&v[range], None, None)?;
            }
            (ColumnWriter::ByteArrayColumnWriter(w), Column::Str(v)) => {
                let vals = bytes(&mut v[range].iter().map(|s| s.as_bytes()));
                w.write_batch(&vals, None, None)?;
            }
            (ColumnWriter::ByteArrayColumnWriter(w), Column::Bin(v)) => {
                let vals = bytes(&mut v[range].iter().map(|b| b.as_slice()));
                w.write_batch(&vals, None, None)?;
            }
            _ => return Err(ParquetError::General("column of an unexpected type".into())),
        }
        Ok(())
    }
}

#[cfg(not(feature = "parquet"))]
impl Rows {
    /// Fails: this build has no Parquet support.
    ///
    /// # Errors
    ///
    /// Always.
    pub fn write(&self, path: &Path) -> Result<()> {
        Err(crate::corpus::no_parquet(path))
    }

    /// Fails: this build has no Parquet support.
    ///
    /// # Errors
    ///
    /// Always.
    pub fn read(path: &Path) -> Result<Rows> {
        Err(crate::corpus::no_parquet(path))
    }
}

#[cfg(all(test, feature = "parquet"))]
mod tests {
    use super::*;

    fn table(n: usize) -> Rows {
        Rows::new()
            .with("a", Column::I32((0..n as i32).collect()))
            .with("b", Column::I64((0..n as i64).map(|x| -x).collect()))
            .with(
                "c",
                Column::OptI64((0..n as i64).map(|x| (x % 2 == 0).then_some(x)).collect()),
            )
            .with("d", Column::F64((0..n).map(|x| x as f64 / 3.0).collect()))
            .with("e", Column::Str((0..n).map(|x| format!("文{x}")).collect()))
            .with(
                "f",
                Column::Bin((0..n).map(|x| vec![0, x as u8, 255]).collect()),
            )
    }

    /// Every column type comes back as written, nulls in place; an empty
    /// table keeps its columns; a folder reads its tables in name order,
    /// leaving out an engine's own files.
    #[test]
    fn tables_read_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let one = dir.path().join("part-1.parquet");
        table(5).write(&one).unwrap();
        let back = Rows::read(&one).unwrap();
        assert_eq!((back.names.clone(), back.columns.clone()), {
            let t = table(5);
            (t.names, t.columns)
        });
        assert_eq!(back.ints("a").unwrap(), [0, 1, 2, 3, 4]);
        assert_eq!(back.opt_ints("c").unwrap()[1], None);
        assert!(back.strs("a").is_err());

        let empty = dir.path().join("part-0.parquet");
        table(0).write(&empty).unwrap();
        let e = Rows::read(&empty).unwrap();
        assert_eq!((e.len(), e.names.len()), (0, 6));

        std::fs::write(dir.path().join("_SUCCESS"), "").unwrap();
        std::fs::write(dir.path().join(".part-1.parquet.crc"), "x").unwrap();
        table(3).write(&dir.path().join("part-2.parquet")).unwrap();
        let all = Rows::read_dir(dir.path()).unwrap();
        assert_eq!(all.ints("a").unwrap(), [0, 1, 2, 3, 4, 0, 1, 2]);
        assert!(Rows::read_dir(&dir.path().join("none")).is_err());
    }
}
