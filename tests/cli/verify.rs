//! `neardup verify` reading texts back in batches: with a budget far
//! smaller than one document (every log line checked alone) it catches
//! every kind of corruption, with the message of the default budget.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::util::{
    assert_error, assert_verifies, cjk_text, clean_ok, json_lines, neardup, TestDir,
};

/// `neardup verify OUT --memory MEMORY`.
fn verify(out: &Path, memory: &str) -> Output {
    neardup()
        .arg("verify")
        .arg(out)
        .args(["--memory", memory])
        .output()
        .expect("runs")
}

/// Both budgets refuse `out` with the same one-line message, holding every
/// needle.
fn assert_refused(out: &Path, needles: &[&str]) {
    let tiny = verify(out, "1K");
    assert_error(&tiny, "verify --memory 1K", needles);
    let default = verify(out, "1G");
    assert_eq!(
        String::from_utf8_lossy(&tiny.stderr),
        String::from_utf8_lossy(&default.stderr),
        "same message whatever the budget"
    );
}

/// Both budgets pass `out`.
fn assert_passes(out: &Path) {
    for memory in ["1K", "1G"] {
        assert_verifies(out, &["--memory", memory]);
    }
}

/// A JSONL corpus (near-duplicate and exact-copy records, records sharing
/// a passage) and a text file holding the passage too, cleaned.
fn cleaned(t: &TestDir) -> (PathBuf, PathBuf) {
    let a = cjk_text(21, 600);
    let b = cjk_text(22, 500);
    let shared = cjk_text(23, 400);
    let mut near = a.clone();
    near.replace_range(0..3, "改");
    let texts = [
        a.clone(),
        b.clone(),
        near,
        b,
        format!("{}\n{shared}\n", cjk_text(24, 300)),
        format!("{}\n{shared}\n", cjk_text(25, 300)),
        cjk_text(26, 200),
        format!("{}\n{shared}\n{}", cjk_text(27, 300), cjk_text(28, 100)),
    ];
    let mut lines = String::new();
    for (i, tx) in texts.iter().enumerate() {
        lines.push_str(&serde_json::json!({"id": i, "n": i, "text": tx}).to_string());
        lines.push('\n');
    }
    t.write("in/records.jsonl", &lines);
    t.write("in/note.txt", format!("{}\n{shared}\n", cjk_text(29, 300)));
    let out = t.path().join("out");
    clean_ok(&t.path().join("in"), &out);
    let log = json_lines(&out.join("removed.jsonl"));
    for reason in ["document", "block"] {
        assert!(log.iter().any(|r| r["reason"] == reason), "{log:?}");
    }
    (t.path().join("in"), out)
}

fn write_log(path: &Path, log: &[Value]) {
    let body: String = log.iter().map(|r| format!("{r}\n")).collect();
    std::fs::write(path, body).unwrap();
}

#[test]
fn a_tiny_budget_catches_each_corruption_with_the_same_message() {
    let t = TestDir::new();
    let (_, out) = cleaned(&t);
    assert_passes(&out);
    let rec = out.join("records.jsonl");
    let body = std::fs::read_to_string(&rec).unwrap();
    let lines: Vec<&str> = body.split_inclusive('\n').collect();
    let cut_line = lines
        .iter()
        .position(|l| l.contains("\"id\":5"))
        .expect("a cut record is written");
    let restore = |t: &str| std::fs::write(&rec, t).unwrap();

    // a character of a cut record's text changed
    let mut v: Value = serde_json::from_str(lines[cut_line]).unwrap();
    let text = v["text"].as_str().unwrap().to_string();
    let mut chars: Vec<char> = text.chars().collect();
    chars[5] = if chars[5] == '丁' { '七' } else { '丁' };
    v["text"] = Value::String(chars.into_iter().collect());
    let mut edited: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    edited[cut_line] = format!("{v}\n");
    restore(&edited.concat());
    assert_refused(&out, &["records.jsonl:", "differs at byte"]);

    // an untouched record edited, a record gone, a line added
    restore(&body.replacen("\"n\":1,", "\"n\":9,", 1));
    assert_refused(&out, &["records.jsonl:", "which the log does not cut"]);
    restore(&lines[..lines.len() - 1].concat());
    assert_refused(&out, &["records.jsonl", "ends before the record of"]);
    restore(&format!("{body}{{\"text\":\"多\"}}\n"));
    assert_refused(&out, &["records.jsonl:", "a line that is not in"]);

    // a difference early and a byte that is not UTF-8 later: the file does
    // not decode, as when read whole
    let mut bytes = body.replacen("\"n\":1,", "\"n\":9,", 1).into_bytes();
    bytes.extend_from_slice(b"\xff\n");
    std::fs::write(&rec, &bytes).unwrap();
    assert_refused(&out, &["records.jsonl", "invalid utf-8"]);
    restore(&body);
    assert_passes(&out);

    // the log: a span that splits a character, a kept copy elsewhere
    let log_path = out.join("removed.jsonl");
    let log = json_lines(&log_path);
    let block = log.iter().position(|r| r["reason"] == "block").unwrap();
    let mut bad = log.clone();
    let start = bad[block]["removed"]["bytes"][0].as_u64().unwrap();
    bad[block]["removed"]["bytes"][0] = (start + 1).into();
    write_log(&log_path, &bad);
    assert_refused(
        &out,
        &[
            "removed.jsonl",
            &format!("line {}", block + 1),
            "not a span of",
        ],
    );
    let doc = log.iter().position(|r| r["reason"] == "document").unwrap();
    let records = log[doc]["removed"]["path"].clone();
    let mut bad = log.clone();
    for k in [doc, block] {
        // record 7 shares no text with anything
        bad[k]["kept"]["path"] = records.clone();
        bad[k]["kept"]["record"] = 7.into();
        bad[k]["kept"]["bytes"] = serde_json::json!([0, 300]);
    }
    write_log(&log_path, &bad);
    let first = doc.min(block) + 1;
    assert_refused(
        &out,
        &[&format!("line {first}:"), "contained in its kept copy"],
    );
    write_log(&log_path, &log);
    assert_passes(&out);
}
