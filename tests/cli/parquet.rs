//! Parquet inputs (`--features parquet`): rows as documents, report
//! locations by row, `clean` writing the file back, and bad files refused.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::writer::SerializedFileWriter;
use parquet::record::Field;
use parquet::schema::parser::parse_message_type;
use serde_json::Value;

use crate::util::{
    assert_error, assert_input_refused, cjk_text, clean_ok, clusters, neardup, run, s, scan_json,
    seeds, succeeded, TestDir,
};

/// One row of the fixture.
struct Rec {
    id: Option<&'static str>,
    text: String,
    url: Option<&'static str>,
    score: i64,
    tags: Vec<i32>,
}

/// The seed file with one report pasted twice (lines 1-9, again 10-18).
fn pasted_twice() -> String {
    std::fs::read_to_string(seeds().join("002_213c1cc202ead32c.txt")).expect("seed")
}

/// Its first copy, which `clean` keeps.
fn first_copy() -> String {
    pasted_twice().split_inclusive('\n').take(9).collect()
}

/// Four rows in two row groups: row 3 repeats row 1, row 2 holds a block
/// pasted twice, row 4 (no id) is unique.
fn records() -> Vec<Vec<Rec>> {
    vec![
        vec![
            Rec {
                id: Some("a"),
                text: cjk_text(1, 800),
                url: Some("https://a.example/"),
                score: 1,
                tags: vec![1, 2],
            },
            Rec {
                id: Some("b"),
                text: pasted_twice(),
                url: None,
                score: 2,
                tags: vec![],
            },
        ],
        vec![
            Rec {
                id: Some("c"),
                text: cjk_text(1, 800),
                url: Some("https://c.example/"),
                score: 3,
                tags: vec![3],
            },
            Rec {
                id: None,
                text: cjk_text(2, 800),
                url: Some("https://d.example/"),
                score: 4,
                tags: vec![4, 5, 6],
            },
        ],
    ]
}

/// Writes `groups` as a Parquet file at `path` (zstd): a required `text`,
/// optional `id` and `url`, a required `score` and a repeated `tags`.
fn write_parquet(path: &Path, groups: &[Vec<Rec>]) {
    let schema = parse_message_type(
        "message doc {
            optional binary id (UTF8);
            required binary text (UTF8);
            optional binary url (UTF8);
            required int64 score;
            repeated int32 tags;
        }",
    )
    .unwrap();
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(Default::default()))
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut w = SerializedFileWriter::new(file, Arc::new(schema), Arc::new(props)).unwrap();
    let strings = |v: Vec<Option<&str>>| {
        let def: Vec<i16> = v.iter().map(|x| i16::from(x.is_some())).collect();
        let vals: Vec<ByteArray> = v.into_iter().flatten().map(ByteArray::from).collect();
        (vals, def)
    };
    for g in groups {
        let mut rg = w.next_row_group().unwrap();
        let (ids, id_def) = strings(g.iter().map(|r| r.id).collect());
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<ByteArrayType>()
            .write_batch(&ids, Some(&id_def), None)
            .unwrap();
        c.close().unwrap();
        let texts: Vec<ByteArray> = g.iter().map(|r| ByteArray::from(r.text.as_str())).collect();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<ByteArrayType>()
            .write_batch(&texts, None, None)
            .unwrap();
        c.close().unwrap();
        let (urls, url_def) = strings(g.iter().map(|r| r.url).collect());
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<ByteArrayType>()
            .write_batch(&urls, Some(&url_def), None)
            .unwrap();
        c.close().unwrap();
        let scores: Vec<i64> = g.iter().map(|r| r.score).collect();
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<Int64Type>()
            .write_batch(&scores, None, None)
            .unwrap();
        c.close().unwrap();
        // a repeated column: an empty list is one level at definition 0
        let (mut tags, mut def, mut rep) = (Vec::new(), Vec::new(), Vec::new());
        for r in g {
            if r.tags.is_empty() {
                def.push(0);
                rep.push(0);
            }
            for (i, &t) in r.tags.iter().enumerate() {
                tags.push(t);
                def.push(1);
                rep.push(i16::from(i > 0));
            }
        }
        let mut c = rg.next_column().unwrap().unwrap();
        c.typed::<Int32Type>()
            .write_batch(&tags, Some(&def), Some(&rep))
            .unwrap();
        c.close().unwrap();
        rg.close().unwrap();
    }
    w.close().unwrap();
}

/// The fixture in a folder of its own, with a text file beside it.
fn fixture(t: &TestDir) -> (PathBuf, PathBuf) {
    let dir = t.path().join("corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("rows.parquet");
    write_parquet(&file, &records());
    std::fs::write(dir.join("other.txt"), cjk_text(9, 500)).unwrap();
    (dir, file)
}

/// Every row of a Parquet file, column name to value.
fn rows(path: &Path) -> Vec<Vec<(String, Field)>> {
    let reader = SerializedFileReader::new(std::fs::File::open(path).unwrap()).unwrap();
    reader
        .get_row_iter(None)
        .unwrap()
        .map(|r| r.unwrap().into_columns())
        .collect()
}

fn column_names(row: &[(String, Field)]) -> Vec<&str> {
    row.iter().map(|(n, _)| n.as_str()).collect()
}

fn text_of(row: &[(String, Field)]) -> &str {
    match row.iter().find(|(n, _)| n == "text") {
        Some((_, Field::Str(t))) => t,
        other => panic!("no text: {other:?}"),
    }
}

/// (doc, record) of each member of the report's clusters of `kind`.
fn members(report: &Value, kind: &str) -> Vec<Vec<(String, u64)>> {
    clusters(report, kind)
        .iter()
        .map(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| {
                    (
                        m["doc"].as_str().unwrap().to_string(),
                        m["record"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .collect()
}

#[test]
fn rows_are_documents_placed_by_row_in_a_walked_folder() {
    let t = TestDir::new();
    let (dir, file) = fixture(&t);
    let report = scan_json(&[s(&dir)]);
    assert_eq!(
        report["summary"]["documents"], 5,
        "4 rows and the text file"
    );
    assert_eq!(
        members(&report, "document"),
        [vec![("a".to_string(), 1), ("c".to_string(), 3)]]
    );
    let doc = clusters(&report, "document")[0];
    assert!(doc["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["path"] == s(&file)));
    // the block pasted twice inside row 2, read again from its row group
    assert_eq!(
        members(&report, "block"),
        [vec![("b".to_string(), 2), ("b".to_string(), 2)]]
    );
    // --keep-by on an integer column: the larger score is kept
    let report = scan_json(&[s(&file), "--keep-by", "score"]);
    let doc = clusters(&report, "document")[0];
    let keep = doc["keep"].as_u64().unwrap() as usize;
    assert_eq!(doc["members"][keep]["doc"], "c");
    assert_eq!(doc["keep_reason"], "max score");
    // a row without an id is named by file and row
    let out = succeeded(
        neardup()
            .args(["scan", "--level", "doc", "--format", "json"])
            .args([s(&file), "--id-field", "url"]),
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        members(&report, "document"),
        [vec![
            ("https://a.example/".to_string(), 1),
            ("https://c.example/".to_string(), 3)
        ]]
    );
    let text = succeeded(neardup().args(["scan", "--level", "doc"]).arg(&file));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains(&format!("{}:3", s(&file))), "{text}");
}

#[test]
fn clean_writes_the_rows_back_less_the_removed_with_cuts_applied() {
    let t = TestDir::new();
    let (_, file) = fixture(&t);
    let out = t.path().join("out");
    clean_ok(&file, &out);
    let before = rows(&file);
    let after = rows(&out.join("rows.parquet"));
    assert_eq!(after.len(), 3, "row 3 (a copy of row 1) is removed");
    assert_eq!(
        column_names(&after[0]),
        ["id", "text", "url", "score", "tags"]
    );
    // rows 1 and 4 as they were; row 2 with its second copy cut
    assert_eq!(after[0], before[0]);
    assert_eq!(after[2], before[3]);
    assert_eq!(text_of(&after[1]).trim_end(), first_copy().trim_end());
    let others = |r: &[(String, Field)]| -> Vec<(String, Field)> {
        r.iter().filter(|(n, _)| n != "text").cloned().collect()
    };
    assert_eq!(others(&after[1]), others(&before[1]));
    let log = std::fs::read_to_string(out.join("removed.jsonl")).unwrap();
    let records: Vec<u64> = log
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["removed"]["record"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(records, [3, 2]);
    succeeded(neardup().arg("verify").arg(&out));

    // verify reads the Parquet output: a row put back is caught
    std::fs::copy(&file, out.join("rows.parquet")).unwrap();
    let o = neardup().arg("verify").arg(&out).output().unwrap();
    assert_error(
        &o,
        "verify of a tampered output",
        &["rows.parquet", "verification failed"],
    );
}

#[test]
fn clean_with_every_row_removed_from_one_file_still_writes_it() {
    let t = TestDir::new();
    let dir = t.path().join("corpus");
    std::fs::create_dir_all(&dir).unwrap();
    let rec = |id, score| Rec {
        id: Some(id),
        text: cjk_text(7, 800),
        url: None,
        score,
        tags: vec![],
    };
    write_parquet(&dir.join("1.parquet"), &[vec![rec("x", 1)]]);
    write_parquet(
        &dir.join("2.parquet"),
        &[vec![rec("y", 2)], vec![rec("z", 3)]],
    );
    let out = t.path().join("out");
    clean_ok(&dir, &out);
    assert_eq!(rows(&out.join("1.parquet")).len(), 1);
    assert_eq!(rows(&out.join("2.parquet")).len(), 0);
    succeeded(neardup().arg("verify").arg(&out));
}

#[test]
fn a_parquet_without_the_text_column_names_the_columns_it_has() {
    let t = TestDir::new();
    let (_, file) = fixture(&t);
    assert_input_refused(
        &[&file],
        &["--text-field", "body"],
        &[
            s(&file),
            "`body`",
            "columns: id, text, url, score, tags",
            "--text-field text",
        ],
    );
}

#[test]
fn a_corrupt_or_truncated_parquet_is_refused_naming_the_file() {
    let t = TestDir::new();
    let (_, file) = fixture(&t);
    let whole = std::fs::read(&file).unwrap();
    let truncated = t.write("truncated.parquet", &whole[..whole.len() / 2]);
    let garbage = t.write("garbage.parquet", b"PAR1 not really a parquet file PAR1");
    let mut flipped = whole.clone();
    // the footer's length, four bytes before the closing magic
    let n = flipped.len();
    flipped[n - 6] ^= 0x7f;
    let flipped = t.write("flipped.parquet", flipped);
    for bad in [&truncated, &garbage, &flipped] {
        assert_input_refused(&[bad], &[], &[s(bad), "Parquet"]);
    }
    // skipped, with the others read, under --on-error skip
    let o = run(
        "scan",
        &[&truncated, &file],
        &["--on-error", "skip"],
        Path::new(""),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("truncated.parquet"));
}
