//! Ingest: JSONL fields and ids, encodings, compression, stdin, folder
//! walking, byte-order marks, and `clean` keeping JSONL records as they were.
//! Every input is generated in a temporary folder.

use std::io::Read;
use std::path::Path;

use serde_json::{json, Value};

use crate::util::{
    assert_fails, cjk_text, clusters, gzip, neardup, s, scan_json, succeeded, text, zstd, TestDir,
};

/// `scan --level doc` of `inputs` (plus `extra` options).
fn scan_doc(inputs: &[&Path], extra: &[&str]) -> Value {
    let mut args: Vec<&str> = inputs.iter().map(|p| s(p)).collect();
    args.extend_from_slice(&["--level", "doc"]);
    args.extend_from_slice(extra);
    scan_json(&args)
}

/// Every document cluster as the `doc` ids of its members, in report order.
fn doc_groups(report: &Value) -> Vec<Vec<String>> {
    clusters(report, "document")
        .iter()
        .map(|c| {
            c["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m["doc"].as_str().expect("doc").to_string())
                .collect()
        })
        .collect()
}

/// Member paths of the one document cluster of a report.
fn member_paths(report: &Value) -> Vec<String> {
    let cs = clusters(report, "document");
    assert_eq!(cs.len(), 1, "one document cluster: {report:#}");
    cs[0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["path"].as_str().expect("path").to_string())
        .collect()
}

fn jsonl(records: &[Value]) -> String {
    records.iter().map(|r| format!("{r}\n")).collect()
}

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::MultiGzDecoder::new(data)
        .read_to_string(&mut out)
        .expect("valid gzip of UTF-8 text");
    out
}

#[test]
fn jsonl_custom_text_and_id_fields() {
    let dir = TestDir::new();
    let (t, u) = (text(1), text(2));
    let p = dir.write(
        "records.jsonl",
        jsonl(&[
            json!({"key": "first", "body": t, "text": "not this field"}),
            json!({"key": "other", "body": u}),
            json!({"body": t, "key": "second", "n": 7}),
        ]),
    );
    let report = scan_doc(&[&p], &["--text-field", "body", "--id-field", "key"]);
    assert_eq!(report["summary"]["documents"], 3);
    let cs = clusters(&report, "document");
    assert_eq!(cs.len(), 1, "{report:#}");
    let members = cs[0]["members"].as_array().expect("members");
    let docs: Vec<&str> = members
        .iter()
        .map(|m| m["doc"].as_str().unwrap_or(""))
        .collect();
    let records: Vec<u64> = members
        .iter()
        .map(|m| m["record"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(docs, ["first", "second"]);
    assert_eq!(records, [1, 3]);
    assert!(members.iter().all(|m| m["path"] == s(&p)));
}

#[test]
fn jsonl_id_falls_back_to_path_and_line() {
    let dir = TestDir::new();
    let t = text(3);
    let p = dir.write(
        "noid.jsonl",
        jsonl(&[
            json!({"text": text(4)}),
            json!({"text": t}),
            json!({"text": t, "id": "named"}),
            json!({"text": t, "id": ""}),
        ]),
    );
    let report = scan_doc(&[&p], &[]);
    assert_eq!(
        doc_groups(&report),
        [vec![
            format!("{}:2", s(&p)),
            "named".to_string(),
            format!("{}:4", s(&p)),
        ]]
    );
}

#[test]
fn gb18030_is_detected_and_forced() {
    let dir = TestDir::new();
    let t = format!("第一章 Chapter 1 (2024)\n{}\n", text(5));
    let (gb, _, lossy) = encoding_rs::GB18030.encode(&t);
    assert!(!lossy);
    assert!(std::str::from_utf8(&gb).is_err(), "really not UTF-8");
    let gb_path = dir.write("legacy/gb.txt", &gb[..]);
    let utf8_path = dir.write("utf8.txt", &t);

    // Auto-detected: the GB18030 copy and the UTF-8 copy are one cluster,
    // and the preview shows the text, not mojibake.
    let report = scan_doc(&[&gb_path, &utf8_path], &[]);
    assert_eq!(doc_groups(&report), [vec![s(&gb_path), s(&utf8_path)]]);
    let preview = clusters(&report, "document")[0]["members"][0]["preview"]
        .as_str()
        .expect("preview")
        .to_string();
    assert!(preview.starts_with("第一章"), "{preview}");

    // Forced with --encoding gb18030.
    let gb2 = dir.write("legacy/gb2.txt", &gb[..]);
    let report = scan_doc(&[&gb_path, &gb2], &["--encoding", "gb18030"]);
    assert_eq!(doc_groups(&report), [vec![s(&gb_path), s(&gb2)]]);
    let preview = clusters(&report, "document")[0]["members"][1]["preview"]
        .as_str()
        .expect("preview")
        .to_string();
    assert!(preview.starts_with("第一章"), "{preview}");
}

#[test]
fn gzip_and_zstd_jsonl_are_read() {
    let dir = TestDir::new();
    let (t, u, v) = (text(6), text(7), text(8));
    let gz = dir.write(
        "a.jsonl.gz",
        gzip(
            jsonl(&[
                json!({"id": "gz1", "text": t}),
                json!({"id": "gz2", "text": u}),
            ])
            .as_bytes(),
        ),
    );
    let zst = dir.write(
        "b.jsonl.zst",
        zstd(
            jsonl(&[
                json!({"id": "zst1", "text": v}),
                json!({"id": "zst2", "text": t}),
            ])
            .as_bytes(),
        ),
    );
    let report = scan_doc(&[&gz, &zst], &[]);
    assert_eq!(report["summary"]["inputs"], 2);
    assert_eq!(report["summary"]["documents"], 4);
    assert_eq!(doc_groups(&report), [vec!["gz1", "zst2"]]);
    let members = clusters(&report, "document")[0]["members"].clone();
    assert_eq!(members[0]["record"], 1);
    assert_eq!(members[1]["record"], 2);
}

#[test]
fn compression_is_detected_by_magic_bytes_not_name() {
    let dir = TestDir::new();
    let t = text(9);
    // a gzip text file without .gz, and a gzip JSONL file named .jsonl
    let plain = dir.write("plain.txt", &t);
    let hidden_gz = dir.write("archive.dat", gzip(t.as_bytes()));
    let jsonl_gz = dir.write(
        "records.jsonl",
        gzip(jsonl(&[json!({"id": "r1", "text": t})]).as_bytes()),
    );
    let zst_noext = dir.write("other.txt", zstd(t.as_bytes()));
    let report = scan_doc(&[&plain, &hidden_gz, &jsonl_gz, &zst_noext], &[]);
    assert_eq!(report["summary"]["documents"], 4);
    assert_eq!(
        doc_groups(&report),
        [vec![s(&plain), s(&hidden_gz), "r1", s(&zst_noext)]]
    );
}

#[test]
fn stdin_plain_text() {
    let dir = TestDir::new();
    let t = text(10);
    let file = dir.write("copy.txt", &t);
    let out = succeeded(
        neardup()
            .args([
                "scan",
                "-",
                s(&file),
                "--level",
                "doc",
                "--format",
                "json",
                "--quiet",
            ])
            .write_stdin(t.clone()),
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["summary"]["documents"], 2);
    assert_eq!(doc_groups(&report), [vec!["-", s(&file)]]);
}

#[test]
fn stdin_jsonl() {
    let t = text(11);
    let input = jsonl(&[
        json!({"id": "s1", "text": t}),
        json!({"id": "s2", "text": text(12)}),
        json!({"id": "s3", "text": t}),
    ]);
    let out = succeeded(
        neardup()
            .args(["scan", "-", "--level", "doc", "--format", "json", "--quiet"])
            .write_stdin(input),
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["summary"]["documents"], 3);
    assert_eq!(doc_groups(&report), [vec!["s1", "s3"]]);
    let members = clusters(&report, "document")[0]["members"].clone();
    assert_eq!(members[0]["record"], 1);
    assert_eq!(members[1]["record"], 3);
}

#[test]
fn folders_are_walked_recursively_sorted_and_filtered() {
    let dir = TestDir::new();
    let t = text(13);
    // written out of order; walked in byte order of names
    for rel in [
        "corpus/b.txt",
        "corpus/sub/deeper/z.txt",
        "corpus/a/notes.md",
        "corpus/B.txt",
        "corpus/a/c.txt",
        "corpus/.hidden.txt",
        "corpus/.git/objects.txt",
        "corpus/a/.swap.txt",
    ] {
        dir.write(rel, &t);
    }
    let root = dir.path().join("corpus");
    let p = |rel: &str| s(&root.join(rel)).to_string();

    let report = scan_doc(&[&root], &[]);
    assert_eq!(report["summary"]["documents"], 5, "dot-files are ignored");
    assert_eq!(
        member_paths(&report),
        [
            p("B.txt"),
            p("a/c.txt"),
            p("a/notes.md"),
            p("b.txt"),
            p("sub/deeper/z.txt")
        ]
    );

    let report = scan_doc(&[&root], &["--include", "*.txt"]);
    assert_eq!(
        member_paths(&report),
        [p("B.txt"), p("a/c.txt"), p("b.txt"), p("sub/deeper/z.txt")]
    );

    let report = scan_doc(&[&root], &["--include", "*.txt", "--exclude", "sub/**"]);
    assert_eq!(
        member_paths(&report),
        [p("B.txt"), p("a/c.txt"), p("b.txt")]
    );

    let report = scan_doc(&[&root], &["--exclude", "a/*", "--exclude", "*/deeper/*"]);
    assert_eq!(member_paths(&report), [p("B.txt"), p("b.txt")]);
}

#[test]
fn byte_order_marks_utf8_and_utf16le() {
    let dir = TestDir::new();
    let t = text(14);
    let plain = dir.write("plain.txt", &t);
    let mut with_bom = vec![0xEF, 0xBB, 0xBF];
    with_bom.extend_from_slice(t.as_bytes());
    let bom = dir.write("bom.txt", with_bom);
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(t.encode_utf16().flat_map(u16::to_le_bytes));
    let utf16_path = dir.write("utf16.txt", utf16);

    let report = scan_doc(&[&plain, &bom, &utf16_path], &[]);
    assert_eq!(
        doc_groups(&report),
        [vec![s(&plain), s(&bom), s(&utf16_path)]]
    );
    let members = clusters(&report, "document")[0]["members"].clone();
    for m in members.as_array().expect("members") {
        assert!(
            m["preview"]
                .as_str()
                .is_some_and(|p| p.len() > 10 && t.starts_with(p.trim_end_matches('…'))),
            "decoded text, BOM skipped: {m}"
        );
    }
    // byte ranges are in the file's own bytes: after the BOM, in UTF-16 units
    let units = t.encode_utf16().count() as u64;
    assert_eq!(members[0]["bytes"], json!([0, t.len()]));
    assert_eq!(members[1]["bytes"], json!([3, 3 + t.len()]));
    assert_eq!(members[2]["bytes"], json!([2, 2 + 2 * units]));
}

/// Raw JSONL lines, written byte for byte: number formats, escapes, nested
/// objects and non-ASCII text that a re-serialisation would change.
fn raw_records(t: &str, u: &str) -> [String; 3] {
    [
        format!(
            r#"{{"id": "a", "text": "{t}", "score": 1.50, "big": 12345678901234567890, "meta": {{"tags": ["x", "y"], "nested": {{"k": null, "e": 1e3}}}}, "title": "\u00e9t\u00e9 ☃ 标题"}}"#
        ),
        format!(r#"{{"text":"{u}","id":"b","list":[1,2,3],"flag":true}}"#),
        format!(r#"{{ "id" : "c" , "text" : "{t}" , "score" : 2.0 }}"#),
    ]
}

#[test]
fn clean_keeps_other_jsonl_fields_byte_for_byte() {
    let dir = TestDir::new();
    let (t, u) = (text(15), text(16));
    let lines = raw_records(&t, &u);
    let input = dir.write(
        "in/data.jsonl",
        format!("{}\n{}\r\n{}\n", lines[0], lines[1], lines[2]),
    );
    let out = dir.path().join("out");
    neardup()
        .args(["clean", s(&input), "-o", s(&out), "--quiet"])
        .assert()
        .success();

    let written = std::fs::read(out.join("data.jsonl")).expect("output JSONL");
    let expected = format!("{}\n{}\r\n", lines[0], lines[1]);
    assert_eq!(
        String::from_utf8_lossy(&written),
        expected,
        "kept records byte-identical, duplicate dropped"
    );

    let log = std::fs::read_to_string(out.join("removed.jsonl")).expect("log");
    let entries: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).expect("log line is JSON"))
        .collect();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["reason"], "document");
    assert_eq!(entries[0]["removed"]["doc"], "c");
    assert_eq!(entries[0]["removed"]["record"], 3);
    assert_eq!(entries[0]["removed"]["path"], s(&input));
    assert_eq!(entries[0]["kept"]["doc"], "a");
    // the input is untouched
    assert_eq!(
        std::fs::read_to_string(&input).expect("input"),
        format!("{}\n{}\r\n{}\n", lines[0], lines[1], lines[2])
    );
}

#[test]
fn clean_of_gzip_jsonl_writes_gzip_jsonl() {
    let dir = TestDir::new();
    let (t, u) = (text(17), text(18));
    let lines = raw_records(&t, &u);
    let body = format!("{}\n{}\n{}\n", lines[0], lines[1], lines[2]);
    let input = dir.write("in/data.jsonl.gz", gzip(body.as_bytes()));
    let out = dir.path().join("out");
    neardup()
        .args(["clean", s(&input), "-o", s(&out), "--quiet"])
        .assert()
        .success();

    let written = std::fs::read(out.join("data.jsonl.gz")).expect("output .gz");
    assert!(written.starts_with(&[0x1f, 0x8b]), "gzip magic");
    let text = gunzip(&written);
    assert_eq!(text, format!("{}\n{}\n", lines[0], lines[1]));
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).expect("valid JSON line");
        assert!(v.is_object());
    }
    let log = std::fs::read_to_string(out.join("removed.jsonl")).expect("log");
    assert!(log.contains(r#""doc":"c""#), "{log}");
}

#[cfg(unix)]
#[test]
fn broken_entries_that_would_not_be_read_do_not_stop_the_walk() {
    use std::os::unix::fs::symlink;
    let dir = TestDir::new();
    let t = text(19);
    dir.write("corpus/a.txt", &t);
    dir.write("corpus/b.txt", &t);
    dir.write("corpus/.git/HEAD", "ref: refs/heads/main\n");
    let root = dir.path().join("corpus");
    // an editor's lock file: a dangling hidden symlink
    symlink("user@host.1234:1700000000", root.join(".#a.txt")).expect("symlink");
    // inside a hidden folder: a dangling link and a loop
    symlink("missing", root.join(".git/dangling")).expect("symlink");
    symlink("..", root.join(".git/up")).expect("symlink");
    // a dangling link the globs leave out
    symlink("missing.log", root.join("old.log")).expect("symlink");

    let report = scan_doc(&[&root], &["--exclude", "*.log"]);
    assert_eq!(report["summary"]["documents"], 2);
    let report = scan_doc(&[&root], &["--include", "*.txt"]);
    assert_eq!(report["summary"]["documents"], 2);
    // not left out: named in a one-line error
    assert_fails(
        neardup().args(["scan", s(&root)]),
        2,
        &format!("{}: No such file", s(&root.join("old.log"))),
    );
}

#[test]
fn stdin_jsonl_with_byte_order_mark() {
    let t = text(20);
    let body = jsonl(&[json!({"id": "x", "text": t}), json!({"id": "y", "text": t})]);
    let mut utf8 = vec![0xEF, 0xBB, 0xBF];
    utf8.extend_from_slice(body.as_bytes());
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(body.encode_utf16().flat_map(u16::to_le_bytes));
    for input in [utf8, utf16] {
        let out = succeeded(
            neardup()
                .args(["scan", "-", "--level", "doc", "--format", "json", "--quiet"])
                .write_stdin(input),
        );
        let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(doc_groups(&report), [vec!["x", "y"]], "read as JSONL");
    }
}

#[test]
fn largest_max_doc_bytes_reads_compressed_files() {
    let dir = TestDir::new();
    let t = text(21);
    let gz = dir.write("a.txt.gz", gzip(t.as_bytes()));
    let zst = dir.write("b.txt.zst", zstd(t.as_bytes()));
    let report = scan_doc(&[&gz, &zst], &["--max-doc-bytes", &u64::MAX.to_string()]);
    assert_eq!(doc_groups(&report), [vec![s(&gz), s(&zst)]]);
}

#[test]
fn gb18030_text_starting_with_a_valid_utf8_sequence_is_still_detected() {
    // 嗖 is E0 B2 and 凘 is 84 40 in GB18030: the file starts with
    // E0 B2 84, a valid UTF-8 sequence, before its first invalid byte.
    let t = TestDir::new();
    let text = format!("嗖凘{}", cjk_text(9, 300));
    let (bytes, _, bad) = encoding_rs::GB18030.encode(&text);
    assert!(!bad);
    assert!(bytes.starts_with(&[0xE0, 0xB2, 0x84]));
    assert!(std::str::from_utf8(&bytes[..3]).is_ok());
    let f = t.write("gb.txt", &bytes);
    let r = scan_json(&[s(&f), "--level", "doc"]);
    assert_eq!(r["summary"]["documents"], 1);
    assert_eq!(r["summary"]["skipped"], 0);
}
