//! PARQUET: reads `.parquet` inputs row by row, and writes them back.
//!
//! Takes a Parquet file (recognised by its name or its `PAR1` magic): each
//! row is a document, its text the string column `--text-field`, its id
//! the column `--id-field` (a string or an integer), its `--keep-by` value
//! a number or string column; nested columns are named by their dotted
//! path. Gives documents streamed a batch of rows at a time (only one batch
//! of text is alive, whatever the row groups' size), placed by row —
//! 1-based across the file, as a JSONL record is by line — and, when they
//! drop their texts, by where the text is in a copy of the texts written to
//! the work folder as they are read (else by row group, read again).
//!
//! For `clean`, [`rewrite`] gives a file back with the same schema,
//! key-value metadata and per-column compression, and every value of every
//! column as it was, less the rows left out and with cut texts replaced.
//! For `verify`, [`Table`] holds a file's rows to compare two files row by
//! row. Only the column API of the `parquet` crate is used (no Arrow): each
//! leaf column is its definition and repetition levels and its values, so
//! any schema (lists, structs, maps) is copied row by row without being
//! understood.

use std::fs::File;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use parquet::column::reader::ColumnReader;
use parquet::column::writer::ColumnWriter;
use parquet::data_type::{ByteArray, FixedLenByteArray, Int96};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::FileReader;
use parquet::file::serialized_reader::SerializedFileReader;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::{ColumnDescriptor, SchemaDescriptor, TypePtr};
use rayon::prelude::*;

use super::jsonl::SortKey;
use super::{
    Compression, Document, FileRead, Format, IngestOptions, InputFile, OnError, Skipped,
    TextEncoding, TextKept,
};
use crate::error::{Error, Location, Result};
use crate::work::WorkDir;

/// Rows asked of a column reader at a time.
const STEP_ROWS: usize = 1024;

/// A Parquet error about `path` (at `row`, when known).
pub(crate) fn bad(path: &Path, row: Option<u64>, e: impl std::fmt::Display) -> Error {
    let said = e.to_string();
    // the crate's own prefix says nothing the message does not
    let said = said.strip_prefix("Parquet error: ").unwrap_or(&said);
    let reason = match said.strip_prefix("Disabled feature at compile time: ") {
        Some(codec) => format!(
            "{codec} compression, which this build cannot read (it reads snappy, zstd and gzip)"
        ),
        None => said.to_string(),
    };
    Error::Parquet {
        loc: Location {
            path: path.to_path_buf(),
            line: row,
            byte: None,
        },
        reason,
    }
}

pub(crate) fn open(path: &Path) -> Result<SerializedFileReader<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    SerializedFileReader::new(file).map_err(|e| bad(path, None, e))
}

/// The leaf column whose dotted path is `name`, when it holds one value per
/// row (not inside a list).
fn find_column(schema: &SchemaDescriptor, name: &str) -> Option<usize> {
    schema
        .columns()
        .iter()
        .position(|c| c.max_rep_level() == 0 && c.path().string() == name)
}

/// The columns a file has, and the flags to try, for a missing text column.
fn column_hint(schema: &SchemaDescriptor, opts: &IngestOptions) -> String {
    const SHOWN: usize = 12;
    let cols = schema.columns();
    let mut names: Vec<String> = cols.iter().take(SHOWN).map(|c| c.path().string()).collect();
    if cols.len() > SHOWN {
        names.push("…".into());
    }
    let mut hint = format!("; columns: {}", names.join(", "));
    let strings: Vec<String> = cols
        .iter()
        .filter(|c| c.max_rep_level() == 0 && c.physical_type() == parquet::basic::Type::BYTE_ARRAY)
        .map(|c| c.path().string())
        .filter(|n| *n != opts.id_field)
        .collect();
    // Without the values at hand, the likeliest text column is the one
    // named like text, else the only string column.
    let likely = strings
        .iter()
        .find(|n| {
            let n = n.to_ascii_lowercase();
            ["text", "content", "body", "raw_content"]
                .iter()
                .any(|t| n == *t || n.ends_with(&format!(".{t}")))
        })
        .or((strings.len() == 1).then(|| &strings[0]));
    if let Some(n) = likely {
        hint.push_str(&format!(" (try --text-field {n})"));
    }
    hint
}

/// One leaf column's values, by physical type.
#[derive(Debug, Clone)]
pub(crate) enum Values {
    Bool(Vec<bool>),
    I32(Vec<i32>),
    I64(Vec<i64>),
    I96(Vec<Int96>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bytes(Vec<ByteArray>),
    Fixed(Vec<FixedLenByteArray>),
}

/// Calls `$body` with `$v` bound to the vector inside a [`Values`].
macro_rules! each_values {
    ($values:expr, $v:ident => $body:expr) => {
        match $values {
            Values::Bool($v) => $body,
            Values::I32($v) => $body,
            Values::I64($v) => $body,
            Values::I96($v) => $body,
            Values::F32($v) => $body,
            Values::F64($v) => $body,
            Values::Bytes($v) => $body,
            Values::Fixed($v) => $body,
        }
    };
}

impl Values {
    fn len(&self) -> usize {
        each_values!(self, v => v.len())
    }

    /// Appends `from[range]` (of the same type).
    fn extend_from(&mut self, from: &Values, range: Range<usize>) {
        match (self, from) {
            (Values::Bool(a), Values::Bool(b)) => a.extend_from_slice(&b[range]),
            (Values::I32(a), Values::I32(b)) => a.extend_from_slice(&b[range]),
            (Values::I64(a), Values::I64(b)) => a.extend_from_slice(&b[range]),
            (Values::I96(a), Values::I96(b)) => a.extend_from_slice(&b[range]),
            (Values::F32(a), Values::F32(b)) => a.extend_from_slice(&b[range]),
            (Values::F64(a), Values::F64(b)) => a.extend_from_slice(&b[range]),
            (Values::Bytes(a), Values::Bytes(b)) => a.extend_from_slice(&b[range]),
            (Values::Fixed(a), Values::Fixed(b)) => a.extend_from_slice(&b[range]),
            _ => unreachable!("a column keeps its physical type"),
        }
    }

    /// Whether `self[a]` and `other[b]` hold the same values (floats
    /// compared bit for bit, so that a NaN equals itself).
    fn same(&self, a: Range<usize>, other: &Values, b: Range<usize>) -> bool {
        match (self, other) {
            (Values::Bool(x), Values::Bool(y)) => x[a] == y[b],
            (Values::I32(x), Values::I32(y)) => x[a] == y[b],
            (Values::I64(x), Values::I64(y)) => x[a] == y[b],
            (Values::I96(x), Values::I96(y)) => x[a] == y[b],
            (Values::F32(x), Values::F32(y)) => x[a]
                .iter()
                .map(|f| f.to_bits())
                .eq(y[b].iter().map(|f| f.to_bits())),
            (Values::F64(x), Values::F64(y)) => x[a]
                .iter()
                .map(|f| f.to_bits())
                .eq(y[b].iter().map(|f| f.to_bits())),
            (Values::Bytes(x), Values::Bytes(y)) => x[a] == y[b],
            (Values::Fixed(x), Values::Fixed(y)) => x[a] == y[b],
            _ => false,
        }
    }
}

/// Reads up to `rows` more rows (all of them: `usize::MAX`) of a column
/// into `values` and the level vectors; gives the rows read.
pub(crate) fn read_rows(
    reader: &mut ColumnReader,
    rows: usize,
    values: &mut Values,
    def: &mut Vec<i16>,
    rep: &mut Vec<i16>,
) -> std::result::Result<usize, ParquetError> {
    macro_rules! read {
        ($r:expr, $v:expr) => {{
            let mut got = 0;
            while got < rows {
                let ask = (rows - got).min(STEP_ROWS);
                let (n, _, _) = $r.read_records(ask, Some(&mut *def), Some(&mut *rep), $v)?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            got
        }};
    }
    Ok(match (reader, values) {
        (ColumnReader::BoolColumnReader(r), Values::Bool(v)) => read!(r, v),
        (ColumnReader::Int32ColumnReader(r), Values::I32(v)) => read!(r, v),
        (ColumnReader::Int64ColumnReader(r), Values::I64(v)) => read!(r, v),
        (ColumnReader::Int96ColumnReader(r), Values::I96(v)) => read!(r, v),
        (ColumnReader::FloatColumnReader(r), Values::F32(v)) => read!(r, v),
        (ColumnReader::DoubleColumnReader(r), Values::F64(v)) => read!(r, v),
        (ColumnReader::ByteArrayColumnReader(r), Values::Bytes(v)) => read!(r, v),
        (ColumnReader::FixedLenByteArrayColumnReader(r), Values::Fixed(v)) => read!(r, v),
        _ => return Err(ParquetError::General("column of an unexpected type".into())),
    })
}

/// The empty [`Values`] of a column of physical type `t`.
pub(crate) fn values_of(t: parquet::basic::Type) -> Values {
    use parquet::basic::Type;
    match t {
        Type::BOOLEAN => Values::Bool(Vec::new()),
        Type::INT32 => Values::I32(Vec::new()),
        Type::INT64 => Values::I64(Vec::new()),
        Type::INT96 => Values::I96(Vec::new()),
        Type::FLOAT => Values::F32(Vec::new()),
        Type::DOUBLE => Values::F64(Vec::new()),
        Type::BYTE_ARRAY => Values::Bytes(Vec::new()),
        Type::FIXED_LEN_BYTE_ARRAY => Values::Fixed(Vec::new()),
    }
}

/// Some rows of one leaf column: levels, values, and where each row starts.
#[derive(Debug, Clone)]
struct Chunk {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    max_def: i16,
    max_rep: i16,
    /// Per row, its first level and first value; one more entry closes the
    /// last row.
    starts: Vec<(usize, usize)>,
}

impl Chunk {
    /// No rows yet of a column described by `desc`.
    fn new(desc: &ColumnDescriptor) -> Chunk {
        Chunk {
            values: values_of(desc.physical_type()),
            def: Vec::new(),
            rep: Vec::new(),
            max_def: desc.max_def_level(),
            max_rep: desc.max_rep_level(),
            starts: Vec::new(),
        }
    }

    /// Reads the next `rows` rows (or all that are left) of `reader`, a
    /// reader of a column described by `desc`.
    fn read(
        reader: &mut ColumnReader,
        rows: usize,
        desc: &ColumnDescriptor,
    ) -> std::result::Result<Chunk, ParquetError> {
        let mut c = Chunk::new(desc);
        read_rows(reader, rows, &mut c.values, &mut c.def, &mut c.rep)?;
        c.index();
        Ok(c)
    }

    /// Finds where rows start: at every level of a column outside lists, at
    /// repetition level 0 inside one; a value is there at the maximum
    /// definition level (levels are not stored when they cannot vary).
    fn index(&mut self) {
        let levels = if self.max_def > 0 {
            self.def.len()
        } else if self.max_rep > 0 {
            self.rep.len()
        } else {
            self.values.len()
        };
        self.starts.clear();
        let mut v = 0;
        for l in 0..levels {
            if self.max_rep == 0 || self.rep[l] == 0 {
                self.starts.push((l, v));
            }
            if self.max_def == 0 || self.def[l] == self.max_def {
                v += 1;
            }
        }
        self.starts.push((levels, v));
    }

    fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    /// Row `r`'s levels and values.
    fn row(&self, r: usize) -> (Range<usize>, Range<usize>) {
        let (l0, v0) = self.starts[r];
        let (l1, v1) = self.starts[r + 1];
        (l0..l1, v0..v1)
    }

    /// Row `r`'s one value, when the column holds one value per row.
    fn bytes(&self, r: usize) -> Option<&[u8]> {
        match &self.values {
            Values::Bytes(v) => v
                .get(self.row(r).1)
                .and_then(|s| s.first())
                .map(|b| b.data()),
            _ => None,
        }
    }

    /// Row `r`'s value as an id: a string, or an integer's digits.
    fn id(&self, r: usize) -> Option<String> {
        let (_, vals) = self.row(r);
        match &self.values {
            Values::Bytes(v) => v
                .get(vals)?
                .first()
                .map(|b| String::from_utf8_lossy(b.data()).into_owned()),
            Values::I32(v) => v.get(vals)?.first().map(i32::to_string),
            Values::I64(v) => v.get(vals)?.first().map(i64::to_string),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }

    /// Row `r`'s value as a `--keep-by` key: a number, or a string cut
    /// as JSONL's are.
    fn key(&self, r: usize) -> Option<SortKey> {
        let (_, vals) = self.row(r);
        match &self.values {
            Values::I32(v) => v.get(vals)?.first().map(|&x| SortKey::Num(f64::from(x))),
            Values::I64(v) => v.get(vals)?.first().map(|&x| SortKey::Num(x as f64)),
            Values::F32(v) => v.get(vals)?.first().map(|&x| SortKey::Num(f64::from(x))),
            Values::F64(v) => v.get(vals)?.first().map(|&x| SortKey::Num(x)),
            Values::Bytes(v) => v.get(vals)?.first().map(|b| {
                let s = String::from_utf8_lossy(b.data());
                let end = super::floor_char_boundary(&s, SortKey::MAX_BYTES);
                SortKey::Str(s[..end].into())
            }),
            _ => None,
        }
    }

    /// The definition and repetition levels at `l`; levels that are not
    /// stored (their maximum is 0) read as empty.
    fn levels(&self, l: Range<usize>) -> (&[i16], &[i16]) {
        (
            self.def.get(l.clone()).unwrap_or(&[]),
            self.rep.get(l).unwrap_or(&[]),
        )
    }

    /// Whether row `a` of `self` and row `b` of `other` are the same.
    fn same_row(&self, a: usize, other: &Chunk, b: usize) -> bool {
        let ((la, va), (lb, vb)) = (self.row(a), other.row(b));
        la.len() == lb.len()
            && self.levels(la) == other.levels(lb)
            && self.values.same(va, &other.values, vb)
    }

    /// Appends row `r` of `from`.
    fn push_row(&mut self, from: &Chunk, r: usize) {
        let (levels, vals) = from.row(r);
        if self.max_def > 0 {
            self.def.extend_from_slice(&from.def[levels.clone()]);
        }
        if self.max_rep > 0 {
            self.rep.extend_from_slice(&from.rep[levels]);
        }
        self.values.extend_from(&from.values, vals);
    }

    /// Appends a row holding the one string `text` (a text column's).
    fn push_text(&mut self, text: &str) {
        if self.max_def > 0 {
            self.def.push(self.max_def);
        }
        if self.max_rep > 0 {
            self.rep.push(0);
        }
        if let Values::Bytes(v) = &mut self.values {
            v.push(ByteArray::from(text.as_bytes().to_vec()));
        }
    }

    /// Writes the rows into a column writer of the same type.
    fn write(&self, writer: &mut ColumnWriter<'_>) -> std::result::Result<(), ParquetError> {
        let def = (self.max_def > 0).then_some(self.def.as_slice());
        let rep = (self.max_rep > 0).then_some(self.rep.as_slice());
        macro_rules! write {
            ($w:expr, $v:expr) => {
                $w.write_batch($v, def, rep).map(|_| ())
            };
        }
        match (writer, &self.values) {
            (ColumnWriter::BoolColumnWriter(w), Values::Bool(v)) => write!(w, v),
            (ColumnWriter::Int32ColumnWriter(w), Values::I32(v)) => write!(w, v),
            (ColumnWriter::Int64ColumnWriter(w), Values::I64(v)) => write!(w, v),
            (ColumnWriter::Int96ColumnWriter(w), Values::I96(v)) => write!(w, v),
            (ColumnWriter::FloatColumnWriter(w), Values::F32(v)) => write!(w, v),
            (ColumnWriter::DoubleColumnWriter(w), Values::F64(v)) => write!(w, v),
            (ColumnWriter::ByteArrayColumnWriter(w), Values::Bytes(v)) => write!(w, v),
            (ColumnWriter::FixedLenByteArrayColumnWriter(w), Values::Fixed(v)) => write!(w, v),
            _ => Err(ParquetError::General("column of an unexpected type".into())),
        }
    }
}

/// Every leaf column of some row groups of a file, read whole.
#[derive(Debug)]
pub struct Table {
    schema: TypePtr,
    columns: Vec<Chunk>,
    text: usize,
}

impl Table {
    /// Reads row groups `groups` (all of them when `None`) of the file
    /// `reader` opened at `path`; the text column is `text_field`.
    fn read_groups(
        reader: &SerializedFileReader<File>,
        path: &Path,
        text_field: &str,
        groups: Option<usize>,
    ) -> Result<Table> {
        let meta = reader.metadata();
        let schema = meta.file_metadata().schema_descr();
        let text = text_column(schema, path, text_field)?;
        let mut columns: Vec<Chunk> = Vec::with_capacity(schema.num_columns());
        let range = match groups {
            Some(g) => g..g + 1,
            None => 0..reader.num_row_groups(),
        };
        for (i, desc) in schema.columns().iter().enumerate() {
            let mut chunk = Chunk::new(desc);
            for g in range.clone() {
                let group = reader.get_row_group(g).map_err(|e| bad(path, None, e))?;
                let mut col = group.get_column_reader(i).map_err(|e| bad(path, None, e))?;
                read_rows(
                    &mut col,
                    usize::MAX,
                    &mut chunk.values,
                    &mut chunk.def,
                    &mut chunk.rep,
                )
                .map_err(|e| bad(path, None, e))?;
            }
            chunk.index();
            columns.push(chunk);
        }
        let table = Table {
            schema: schema.root_schema_ptr(),
            columns,
            text,
        };
        if table.columns.iter().any(|c| c.rows() != table.rows()) {
            return Err(bad(path, None, "columns of different lengths"));
        }
        Ok(table)
    }

    /// Reads all of the Parquet file at `path`; its text column is
    /// `text_field`.
    ///
    /// # Errors
    ///
    /// A file that cannot be read, is not Parquet, or has no such column.
    pub fn read(path: &Path, text_field: &str) -> Result<Table> {
        Table::read_groups(&open(path)?, path, text_field, None)
    }

    /// The number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, Chunk::rows)
    }

    /// Row `r`'s text, when it has one and it is UTF-8.
    pub fn text(&self, r: usize) -> Option<&str> {
        std::str::from_utf8(self.columns[self.text].bytes(r)?).ok()
    }

    /// Whether the two tables have the same schema: column names, types,
    /// nesting and logical types.
    pub fn same_columns(&self, other: &Table) -> bool {
        self.schema == other.schema
    }

    /// Whether row `a` of `self` and row `b` of `other` are the same in
    /// every column, the text column too unless `with_text` is false.
    pub fn same_row(&self, a: usize, other: &Table, b: usize, with_text: bool) -> bool {
        self.columns
            .iter()
            .zip(&other.columns)
            .enumerate()
            .filter(|&(i, _)| with_text || i != self.text)
            .all(|(_, (x, y))| x.same_row(a, y, b))
    }
}

/// The index of the text column, or the error naming the columns there are.
fn text_column(schema: &SchemaDescriptor, path: &Path, text_field: &str) -> Result<usize> {
    let opts = IngestOptions {
        text_field: text_field.to_string(),
        ..IngestOptions::default()
    };
    text_column_of(schema, path, &opts)
}

fn text_column_of(schema: &SchemaDescriptor, path: &Path, opts: &IngestOptions) -> Result<usize> {
    find_column(schema, &opts.text_field)
        .filter(|&i| schema.column(i).physical_type() == parquet::basic::Type::BYTE_ARRAY)
        .ok_or_else(|| Error::MissingField {
            loc: Location::file(path),
            field: opts.text_field.clone(),
            hint: column_hint(schema, opts),
        })
}

/// One row as ingest needs it.
struct Row {
    /// 1-based, across the file.
    row: u64,
    group: usize,
    /// Where its text is in the copy of the texts, when one is written.
    at: Option<u64>,
    text: Result<String>,
    id: Option<String>,
    key: Option<SortKey>,
}

/// Rows are read in batches of about this many bytes of text (JSONL's
/// batches, read into recycled buffers, are smaller: `BATCH_BYTES`).
const PARQUET_BATCH_BYTES: usize = 32 << 20;

/// Reads the rows of `path` that `want` accepts, in row groups `groups`
/// accepts, a batch of about [`PARQUET_BATCH_BYTES`] of text at a time, giving
/// each batch to `sink`.
fn read_batches(
    path: &Path,
    opts: &IngestOptions,
    groups: &dyn Fn(usize) -> bool,
    want: &dyn Fn(u64) -> bool,
    sink: &mut dyn FnMut(Vec<Row>) -> Result<()>,
) -> Result<u64> {
    let reader = open(path)?;
    let meta = reader.metadata();
    let schema = meta.file_metadata().schema_descr();
    let text_col = text_column_of(schema, path, opts)?;
    let id_col = find_column(schema, &opts.id_field);
    let key_col = opts.keep_by.as_deref().and_then(|k| find_column(schema, k));
    let mut first_row = 1u64;
    // a batch may hold rows of several (small) row groups
    let mut batch: Vec<Row> = Vec::new();
    let mut bytes = 0usize;
    for g in 0..reader.num_row_groups() {
        let rows_in_group = meta.row_group(g).num_rows().max(0) as u64;
        let start = first_row;
        first_row += rows_in_group;
        if !groups(g) {
            continue;
        }
        let group = reader.get_row_group(g).map_err(|e| bad(path, None, e))?;
        let column = |i: usize| group.get_column_reader(i).map_err(|e| bad(path, None, e));
        let mut text_r = column(text_col)?;
        let mut id_r = id_col.map(column).transpose()?;
        let mut key_r = key_col.map(column).transpose()?;
        let mut row = start;
        loop {
            let at = |e| bad(path, Some(row), e);
            let texts =
                Chunk::read(&mut text_r, STEP_ROWS, &schema.column(text_col)).map_err(at)?;
            let n = texts.rows();
            if n == 0 {
                break;
            }
            let side = |reader: &mut Option<ColumnReader>, col: Option<usize>| match (
                reader.as_mut(),
                col,
            ) {
                (Some(reader), Some(c)) => {
                    let chunk = Chunk::read(reader, n, &schema.column(c))?;
                    if chunk.rows() != n {
                        return Err(ParquetError::General(format!(
                            "column {} holds fewer rows than the text column",
                            schema.column(c).path()
                        )));
                    }
                    Ok(Some(chunk))
                }
                _ => Ok(None),
            };
            let ids = side(&mut id_r, id_col).map_err(at)?;
            let keys = side(&mut key_r, key_col).map_err(at)?;
            for i in 0..n {
                let this = row + i as u64;
                if !want(this) {
                    continue;
                }
                let text = row_text(path, this, texts.bytes(i), opts);
                bytes += text.as_ref().map_or(0, String::len);
                batch.push(Row {
                    row: this,
                    group: g,
                    at: None,
                    text,
                    id: ids.as_ref().and_then(|c| c.id(i)),
                    key: keys.as_ref().and_then(|c| c.key(i)),
                });
            }
            row += n as u64;
            if bytes >= PARQUET_BATCH_BYTES {
                sink(std::mem::take(&mut batch))?;
                bytes = 0;
            }
        }
        if row != first_row {
            return Err(bad(
                path,
                None,
                format!(
                    "row group {g} holds {} rows, its metadata says {rows_in_group}",
                    row - start
                ),
            ));
        }
    }
    if !batch.is_empty() {
        sink(batch)?;
    }
    Ok(first_row - 1)
}

/// A row's text: its text column's string, checked.
fn row_text(path: &Path, row: u64, bytes: Option<&[u8]>, opts: &IngestOptions) -> Result<String> {
    let loc = || Location::line(path, row);
    let Some(bytes) = bytes else {
        return Err(Error::MissingField {
            loc: loc(),
            field: opts.text_field.clone(),
            hint: "; it is null in this row".into(),
        });
    };
    if bytes.len() as u64 > opts.max_doc_bytes {
        return Err(Error::TooLarge {
            loc: loc(),
            size: bytes.len() as u64,
            limit: opts.max_doc_bytes,
        });
    }
    match super::encoding::str_of(bytes) {
        Ok(s) => Ok(s.to_string()),
        Err(e) => Err(Error::Decode {
            loc: Location::at(path, Some(row), e.valid_up_to() as u64),
            encoding: "utf-8",
        }),
    }
}

/// The texts of a Parquet input, written to the work folder as they are
/// read when documents do not keep them: each is read again by a seek
/// (like a line of JSONL), not by decompressing its row group again.
/// Each text is its byte length (8 bytes, little-endian), then its bytes.
struct TextCopy {
    path: std::path::PathBuf,
    out: std::io::BufWriter<File>,
    at: u64,
}

impl TextCopy {
    fn create(work: &WorkDir, input: &Path) -> Result<TextCopy> {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = work.file(&format!("{name}.texts"))?;
        let file = File::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(TextCopy {
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            path,
            at: 0,
        })
    }

    /// Writes the texts of `batch`, noting where each one is.
    fn write(&mut self, batch: &mut [Row]) -> Result<()> {
        use std::io::Write;
        for r in batch {
            let Ok(text) = &r.text else { continue };
            r.at = Some(self.at);
            let len = text.len() as u64;
            self.out
                .write_all(&len.to_le_bytes())
                .and_then(|()| self.out.write_all(text.as_bytes()))
                .map_err(|e| Error::io(&self.path, e))?;
            self.at += 8 + len;
        }
        Ok(())
    }

    /// Flushes the copy; gives its path and size.
    fn finish(mut self) -> Result<(std::path::PathBuf, u64)> {
        use std::io::Write;
        self.out.flush().map_err(|e| Error::io(&self.path, e))?;
        Ok((self.path, self.at))
    }
}

/// Reads the texts of `docs` (indices into `all`) from the copy at `copy`.
fn reload_copied(copy: &Path, all: &[Document], docs: &[u32]) -> Result<Vec<(u32, String)>> {
    use std::io::{Read, Seek, SeekFrom};
    let changed = || {
        bad(
            copy,
            None,
            "the copy of the texts changed since it was written",
        )
    };
    let parts: Vec<Result<Vec<(u32, String)>>> = docs
        .par_chunks(512)
        .map(|chunk| {
            let file = File::open(copy).map_err(|e| Error::io(copy, e))?;
            let mut f = std::io::BufReader::with_capacity(1 << 16, file);
            let mut out = Vec::with_capacity(chunk.len());
            for &d in chunk {
                let mut len = [0u8; 8];
                f.seek(SeekFrom::Start(all[d as usize].offset))
                    .and_then(|_| f.read_exact(&mut len))
                    .map_err(|e| Error::io(copy, e))?;
                let mut text =
                    vec![0u8; usize::try_from(u64::from_le_bytes(len)).map_err(|_| changed())?];
                f.read_exact(&mut text).map_err(|e| Error::io(copy, e))?;
                out.push((d, String::from_utf8(text).map_err(|_| changed())?));
            }
            Ok(out)
        })
        .collect();
    let mut out = Vec::with_capacity(docs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// Reads a Parquet file's rows into documents, calling `map` on each (in
/// parallel) as it is read, while the next batch is read. With
/// [`TextKept::No`] and a `work` folder, the texts are also written to a
/// copy there ([`InputFile::decompressed`]), for [`reload`].
pub(super) fn read<T: Send, F: Fn(&Document) -> T + Sync>(
    entry: &super::walk::Listed,
    opts: &IngestOptions,
    kept: TextKept,
    map: &F,
    want: &(dyn Fn(u64) -> bool + Sync),
    work: Option<&WorkDir>,
) -> Result<FileRead<T>> {
    let path = entry.path.as_path();
    let mut docs = Vec::new();
    let mut mapped = Vec::new();
    let mut skipped = Vec::new();
    let mut copy = match (kept, work) {
        (TextKept::No, Some(work)) => Some(TextCopy::create(work, path)?),
        _ => None,
    };
    // One thread reads (and decompresses) the next batch, and writes its
    // texts to the copy, while the pool maps this one, as for JSONL.
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Row>>(1);
    let (rows, copy) = std::thread::scope(|scope| -> Result<(u64, Option<TextCopy>)> {
        let reader = scope.spawn(move || {
            let rows = read_batches(path, opts, &|_| true, &|r| want(r), &mut |mut batch| {
                if let Some(copy) = copy.as_mut() {
                    copy.write(&mut batch)?;
                }
                tx.send(batch)
                    .map_err(|_| bad(path, None, "reading stopped"))
            });
            rows.map(|n| (n, copy))
        });
        for batch in rx {
            let parsed: Vec<Result<(Document, T)>> = batch
                .into_par_iter()
                .with_min_len(64)
                .map(|r| {
                    let text = r.text?;
                    let mut doc = Document {
                        id: r
                            .id
                            .unwrap_or_else(|| format!("{}:{}", path.display(), r.row)),
                        input: 0,
                        record: Some(r.row),
                        offset: r.at.unwrap_or(r.group as u64),
                        sort_key: r.key,
                        len: text.len(),
                        text,
                    };
                    let t = map(&doc);
                    if kept == TextKept::No {
                        doc.text = String::new();
                    }
                    Ok((doc, t))
                })
                .collect();
            for p in parsed {
                match p {
                    Ok((doc, t)) => {
                        docs.push(doc);
                        mapped.push(t);
                    }
                    Err(err) if opts.on_error == OnError::Skip => {
                        skipped.push(Skipped::of(path, &err));
                    }
                    // dropping the receiver stops the reader
                    Err(err) => return Err(err),
                }
            }
        }
        reader
            .join()
            .unwrap_or_else(|_| Err(bad(path, None, "the reader failed")))
    })?;
    if rows == 0 {
        return Err(Error::Empty {
            loc: Location::file(path),
        });
    }
    let decompressed = match (copy, work) {
        (Some(copy), Some(work)) => {
            let (to, size) = copy.finish()?;
            work.record(size);
            Some(to)
        }
        _ => None,
    };
    Ok(FileRead {
        input: InputFile {
            path: path.to_path_buf(),
            rel: entry.rel.clone(),
            root: entry.root.clone(),
            format: Format::Parquet,
            encoding: TextEncoding::UTF8,
            bom: 0,
            compression: Compression::None,
            decompressed,
            reference: false,
        },
        docs,
        mapped,
        skipped,
    })
}

/// Reads again the texts of `docs` (indices into `all`, sorted), documents
/// of the Parquet input `file`: from the copy of its texts when there is
/// one, else from their row groups (only those, in parallel, and only
/// their text column).
pub(super) fn reload(
    file: &InputFile,
    all: &[Document],
    docs: &[u32],
    opts: &IngestOptions,
) -> Result<Vec<(u32, String)>> {
    if let Some(copy) = &file.decompressed {
        return reload_copied(copy, all, docs);
    }
    let path = file.path.as_path();
    // (group, row, doc): documents are in row order, so groups are too
    let mut by_group: Vec<Vec<(u64, u32)>> = Vec::new();
    let mut last = None;
    for &d in docs {
        let doc = &all[d as usize];
        if last != Some(doc.offset) {
            by_group.push(Vec::new());
            last = Some(doc.offset);
        }
        if let Some(g) = by_group.last_mut() {
            g.push((doc.record.unwrap_or(0), d));
        }
    }
    let text_only = IngestOptions {
        id_field: String::new(),
        keep_by: None,
        ..opts.clone()
    };
    let parts: Vec<Result<Vec<(u32, String)>>> = by_group
        .par_iter()
        .map(|rows| {
            let group = all[rows[0].1 as usize].offset;
            let at = |r: u64| rows.binary_search_by_key(&r, |&(row, _)| row).ok();
            let mut out = Vec::with_capacity(rows.len());
            read_batches(
                path,
                &text_only,
                &|g| g as u64 == group,
                &|r| at(r).is_some(),
                &mut |batch| {
                    for r in batch {
                        let text = r.text.map_err(|e| {
                            bad(path, Some(r.row), format!("changed since it was read: {e}"))
                        })?;
                        if let Some(i) = at(r.row) {
                            out.push((rows[i].1, text));
                        }
                    }
                    Ok(())
                },
            )?;
            if out.len() != rows.len() {
                return Err(bad(path, None, "input changed since it was read"));
            }
            Ok(out)
        })
        .collect();
    let mut out = Vec::with_capacity(docs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

/// What becomes of one row when a file is written back.
#[derive(Debug, Clone)]
pub enum Fate {
    /// Written as it was.
    Keep,
    /// Left out.
    Drop,
    /// Written with this text in the text column.
    Text(String),
}

/// The Parquet file at `path` written again, row by row in order: each
/// row's `fate` (given its 1-based row number) says whether it is left out
/// or its text replaced; every other value, the schema, the key-value
/// metadata and each column's compression stay as they were. One row group
/// is written per row group read (none when all its rows are left out).
///
/// # Errors
///
/// A file that cannot be read again, or a write that fails.
pub fn rewrite(path: &Path, text_field: &str, fate: &dyn Fn(u64) -> Fate) -> Result<Vec<u8>> {
    let reader = open(path)?;
    let meta = reader.metadata();
    let file_meta = meta.file_metadata();
    let schema = file_meta.schema_descr();
    let mut props =
        WriterProperties::builder().set_key_value_metadata(file_meta.key_value_metadata().cloned());
    if let Some(first) = meta.row_groups().first() {
        for c in first.columns() {
            props = props.set_column_compression(c.column_path().clone(), c.compression());
        }
    }
    let failed = |e: ParquetError| bad(path, None, format!("cannot write it back: {e}"));
    let mut writer = SerializedFileWriter::new(
        Vec::new(),
        schema.root_schema_ptr(),
        Arc::new(props.build()),
    )
    .map_err(failed)?;
    let mut first_row = 1u64;
    for g in 0..reader.num_row_groups() {
        let table = Table::read_groups(&reader, path, text_field, Some(g))?;
        let mut out: Vec<Chunk> = schema.columns().iter().map(|d| Chunk::new(d)).collect();
        let mut written = 0usize;
        for r in 0..table.rows() {
            let new_text = match fate(first_row + r as u64) {
                Fate::Drop => continue,
                Fate::Keep => None,
                Fate::Text(t) => Some(t),
            };
            written += 1;
            for (i, (o, c)) in out.iter_mut().zip(&table.columns).enumerate() {
                match &new_text {
                    Some(t) if i == table.text => o.push_text(t),
                    _ => o.push_row(c, r),
                }
            }
        }
        first_row += table.rows() as u64;
        if written == 0 {
            continue;
        }
        let mut group = writer.next_row_group().map_err(failed)?;
        for chunk in &out {
            let Some(mut col) = group.next_column().map_err(failed)? else {
                return Err(bad(path, None, "schema with fewer columns than read"));
            };
            chunk.write(col.untyped()).map_err(failed)?;
            col.close().map_err(failed)?;
        }
        group.close().map_err(failed)?;
    }
    writer.into_inner().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::{read_corpus_in, reload_texts};
    use parquet::data_type::ByteArrayType;

    /// A file of one text column, `groups` as its row groups.
    fn write(path: &Path, groups: &[&[&str]]) {
        let schema = parquet::schema::parser::parse_message_type(
            "message m { required binary text (UTF8); }",
        )
        .unwrap();
        let file = File::create(path).unwrap();
        let props = Arc::new(WriterProperties::builder().build());
        let mut w = SerializedFileWriter::new(file, Arc::new(schema), props).unwrap();
        for g in groups {
            let mut rg = w.next_row_group().unwrap();
            let mut col = rg.next_column().unwrap().unwrap();
            let values: Vec<ByteArray> = g.iter().map(|t| ByteArray::from(*t)).collect();
            col.typed::<ByteArrayType>()
                .write_batch(&values, None, None)
                .unwrap();
            col.close().unwrap();
            rg.close().unwrap();
        }
        w.close().unwrap();
    }

    #[test]
    fn texts_are_read_again_from_row_groups_or_from_the_copy() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        write(&p, &[&["甲乙丙", "丁"], &["戊己", "", "庚\n辛"]]);
        let opts = IngestOptions::default();
        let all = ["甲乙丙", "丁", "戊己", "", "庚\n辛"];
        let work_opts = crate::work::WorkOptions {
            dir: Some(dir.path().join("work")),
            ..Default::default()
        };
        let work = WorkDir::create(&work_opts, crate::work::Placement::Temp).unwrap();
        for work in [None, Some(&work)] {
            let (corpus, _) =
                read_corpus_in(std::slice::from_ref(&p), &opts, TextKept::No, work, |_| ())
                    .unwrap();
            assert_eq!(corpus.inputs[0].decompressed.is_some(), work.is_some());
            let rows: Vec<Option<u64>> = corpus.docs.iter().map(|d| d.record).collect();
            assert_eq!(rows, [Some(1), Some(2), Some(3), Some(4), Some(5)]);
            assert!(corpus.docs.iter().all(|d| d.text.is_empty()));
            assert_eq!(reload_texts(&corpus, &[0, 1, 2, 3, 4], &opts).unwrap(), all);
            assert_eq!(
                reload_texts(&corpus, &[1, 4], &opts).unwrap(),
                ["丁", "庚\n辛"]
            );
        }
    }
}
