//! Bad inputs and bad options: one-line errors that name the file (and the
//! line or byte), exit code 2, no panic, nothing written; and
//! `--on-error skip`. Every input is generated in a temporary folder.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::util::{
    assert_error, assert_input_refused, cjk_text, clusters, gzip, neardup, run, s, scan_json, text,
    TestDir,
};

/// Three lines of UTF-8 CJK text with one 0xFF byte in the middle of the
/// third; returns the file's bytes and the bad byte's offset.
fn corrupt_utf8() -> (Vec<u8>, usize) {
    let lines = [cjk_text(1, 100), cjk_text(2, 100), cjk_text(3, 100)];
    let good = lines.join("\n");
    let at = lines[0].len() + 1 + lines[1].len() + 1 + 3 * 30;
    assert!(good.is_char_boundary(at));
    let mut bytes = good.into_bytes();
    bytes.insert(at, 0xFF);
    (bytes, at)
}

#[test]
fn invalid_utf8_in_a_cjk_file_names_line_and_byte() {
    let dir = TestDir::new();
    let (bytes, at) = corrupt_utf8();
    let p = dir.write("broken.txt", bytes);
    let good = dir.write("good.txt", text(4));
    assert_input_refused(
        &[&good, &p],
        &[],
        &[&format!("{}:3 (byte {at})", s(&p)), "utf-8"],
    );
    // a JSONL file with a bad byte in its second record
    let j = dir.write(
        "broken.jsonl",
        [
            format!("{}\n", json!({"text": text(5)})).into_bytes(),
            b"{\"text\": \"abc \xff def\"}\n".to_vec(),
        ]
        .concat(),
    );
    assert_input_refused(&[&j], &[], &[&format!("{}:2", s(&j)), "utf-8"]);
}

#[test]
fn bad_byte_in_an_ascii_first_line_is_not_read_as_gb18030() {
    // Even runs of UTF-8 CJK bytes are also valid GBK: a truncated sequence
    // in an ASCII title line must still be reported, not decoded as mojibake.
    let dir = TestDir::new();
    let mut body: String = cjk_text(6, 700)
        .chars()
        .filter(|c| !c.to_string().as_bytes().contains(&0x80))
        .take(600)
        .collect();
    body.push('\n');
    let mut bytes = b"Title: report \xe4\xb8 2024\n".to_vec();
    bytes.extend_from_slice(body.as_bytes());
    assert!(
        encoding_rs::GB18030
            .decode_without_bom_handling_and_without_replacement(&bytes)
            .is_some(),
        "the file is also valid GB18030"
    );
    let p = dir.write("title.txt", bytes);
    assert_input_refused(&[&p], &[], &[&format!("{}:1 (byte 14)", s(&p)), "utf-8"]);
}

#[test]
fn invalid_gb18030_and_utf16_name_the_byte() {
    let dir = TestDir::new();
    let t = format!("{}\n{}\n", cjk_text(30, 40), cjk_text(31, 40));
    let (gb, _, _) = encoding_rs::GB18030.encode(&t);
    // two characters into line 2
    let at = gb.iter().position(|&b| b == b'\n').expect("newline") + 1 + 4;
    // a lead byte, then a byte that starts no valid sequence with it
    let mut bad = gb[..at].to_vec();
    bad.extend_from_slice(b"\x81\x30\x81");
    bad.extend_from_slice(&gb[at..]);
    let p = dir.write("gb.txt", bad);
    assert!(gb[..at].contains(&b'\n'), "the bad bytes are on line 2");
    assert_input_refused(
        &[&p],
        &["--encoding", "gb18030"],
        &[&format!("{}:2 (byte {at})", s(&p)), "gb18030"],
    );

    // UTF-16LE with a lone surrogate after 50 code units, and with an odd byte
    let mut utf16 = vec![0xFF, 0xFE];
    let units: Vec<u16> = t.encode_utf16().collect();
    utf16.extend(units[..50].iter().flat_map(|u| u.to_le_bytes()));
    utf16.extend_from_slice(&[0x00, 0xD8]);
    utf16.extend(units[50..].iter().flat_map(|u| u.to_le_bytes()));
    let p = dir.write("utf16.txt", &utf16);
    assert_input_refused(
        &[&p],
        &[],
        &[&format!("{}:2 (byte 102)", s(&p)), "UTF-16LE"],
    );
    let mut odd = vec![0xFF, 0xFE];
    odd.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    odd.push(b'x');
    let end = 2 + 2 * units.len();
    let p = dir.write("odd.txt", &odd);
    assert_input_refused(&[&p], &[], &[&format!("{}:3 (byte {end})", s(&p))]);
}

#[test]
fn documents_over_max_doc_bytes() {
    let dir = TestDir::new();
    let t = text(32);
    let plain = dir.write("big.txt", &t);
    let gz = dir.write("big.txt.gz", gzip(t.as_bytes()));
    let opt = ["--max-doc-bytes", "1000"];
    assert_input_refused(&[&plain], &opt, &[s(&plain), "--max-doc-bytes 1000"]);
    // the size is only known once decompressed
    assert_input_refused(&[&gz], &opt, &[s(&gz), "--max-doc-bytes 1000"]);
    // a JSONL record is its line
    let j = dir.write(
        "big.jsonl",
        format!("{}\n{}\n", json!({"text": "short"}), json!({"text": t})),
    );
    assert_input_refused(
        &[&j],
        &opt,
        &[&format!("{}:2", s(&j)), "--max-doc-bytes 1000"],
    );
    // standard input
    let o = neardup()
        .args(["scan", "-", "--max-doc-bytes", "1000"])
        .write_stdin(t.clone())
        .output()
        .expect("runs");
    let needle = format!(
        "-: document of {} bytes exceeds --max-doc-bytes 1000",
        t.len()
    );
    assert_error(&o, "standard input", &[&needle]);
}

#[test]
fn empty_and_whitespace_only_files() {
    let dir = TestDir::new();
    let good = dir.write("good.txt", text(7));
    for (name, body) in [
        ("empty.txt", ""),
        ("blank.txt", "  \n\t\r\n  \u{3000}\n"),
        ("empty.jsonl", ""),
        ("blank.jsonl", "\n  \n\r\n"),
    ] {
        let p = dir.write(name, body);
        assert_input_refused(&[&good, &p], &[], &[s(&p), "empty"]);
    }
}

#[test]
fn binary_file_with_nul_bytes() {
    let dir = TestDir::new();
    let good = dir.write("good.txt", text(8));
    let p = dir.write("image.txt", b"GIF89a\n\x01\x00\x02\x00\xff\xfe");
    assert_input_refused(
        &[&good, &p],
        &[],
        &[&format!("{}:2 (byte 8)", s(&p)), "binary"],
    );
}

#[test]
fn missing_path_is_named_once() {
    let dir = TestDir::new();
    let good = dir.write("good.txt", text(9));
    let p = dir.path().join("no such file.txt");
    assert_input_refused(&[&good, &p], &[], &[s(&p), "No such file"]);
    let o = run("scan", &[&p], &[], &p);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
}

#[test]
fn malformed_jsonl_records_name_the_line() {
    let dir = TestDir::new();
    let ok = json!({"id": "ok", "text": text(10)}).to_string();
    for (name, bad, needle) in [
        (
            "notjson.jsonl",
            r#"{"text": "unterminated"#.to_string(),
            "malformed JSONL",
        ),
        (
            "array.jsonl",
            r#"["text", "a list"]"#.to_string(),
            "not a JSON object",
        ),
        (
            "string.jsonl",
            r#""just a string""#.to_string(),
            "not a JSON object",
        ),
        ("nofield.jsonl", json!({"body": "x"}).to_string(), "`text`"),
        ("number.jsonl", json!({"text": 42}).to_string(), "`text`"),
        ("null.jsonl", json!({"text": null}).to_string(), "`text`"),
    ] {
        let p = dir.write(name, format!("{ok}\n\n{bad}\n{ok}\n"));
        assert_input_refused(&[&p], &[], &[&format!("{}:3", s(&p)), needle]);
    }
    // --text-field is what is looked for
    let p = dir.write("custom.jsonl", format!("{ok}\n"));
    assert_input_refused(
        &[&p],
        &["--text-field", "body"],
        &[&format!("{}:1", s(&p)), "`body`"],
    );
}

#[test]
fn truncated_gzip_and_zstd() {
    let dir = TestDir::new();
    let body: String = (0..4)
        .map(|i| format!("{}\n", json!({"id": i, "text": text(20 + i)})))
        .collect();
    let gz = gzip(body.as_bytes());
    let zst = ruzstd::encoding::compress_to_vec(
        body.as_bytes(),
        ruzstd::encoding::CompressionLevel::Fastest,
    );
    for (name, data, format) in [
        ("half.jsonl.gz", &gz[..gz.len() / 2], "gzip"),
        ("notrailer.jsonl.gz", &gz[..gz.len() - 4], "gzip"),
        ("header.txt.gz", &gz[..6], "gzip"),
        ("magic.jsonl.gz", &gz[..1], "gzip"),
        ("magic.txt.zst", &zst[..3], "zstd"),
        ("half.jsonl.zst", &zst[..zst.len() / 2], "zstd"),
        ("end.jsonl.zst", &zst[..zst.len() - 3], "zstd"),
        ("header.txt.zst", &zst[..6], "zstd"),
    ] {
        let p = dir.write(name, data);
        assert_input_refused(&[&p], &[], &[s(&p), format, "decompress"]);
    }
}

#[cfg(unix)]
#[test]
fn symlink_loop_in_a_folder() {
    let dir = TestDir::new();
    let root = dir.path().join("corpus");
    dir.write("corpus/sub/a.txt", text(11));
    std::os::unix::fs::symlink("..", root.join("sub/up")).expect("symlink");
    assert_input_refused(&[&root], &[], &[s(&root.join("sub/up")), "loop"]);

    let root2 = dir.path().join("corpus2");
    dir.write("corpus2/a.txt", text(12));
    std::os::unix::fs::symlink("self", root2.join("self")).expect("symlink");
    assert_input_refused(&[&root2], &[], &[s(&root2.join("self"))]);
}

#[cfg(unix)]
#[test]
fn dangling_symlink() {
    let dir = TestDir::new();
    let good = dir.write("corpus/a.txt", text(13));
    let link = dir.path().join("corpus/gone.txt");
    std::os::unix::fs::symlink(dir.path().join("nowhere.txt"), &link).expect("symlink");
    // given directly, and met while walking
    assert_input_refused(&[&good, &link], &[], &[s(&link), "No such file"]);
    assert_input_refused(
        &[&dir.path().join("corpus")],
        &[],
        &[s(&link), "No such file"],
    );
}

#[cfg(unix)]
fn mkfifo(p: &Path) {
    let st = std::process::Command::new("mkfifo")
        .arg(p)
        .status()
        .expect("mkfifo runs");
    assert!(st.success());
}

#[cfg(unix)]
#[test]
fn fifo_is_refused_without_blocking() {
    // No writer ever opens the FIFO: opening it for reading would hang, and
    // the 30-second timeout of `run` would fail the test.
    let dir = TestDir::new();
    let good = dir.write("corpus/a.txt", text(14));
    let fifo = dir.path().join("corpus/pipe.txt");
    mkfifo(&fifo);
    assert_input_refused(&[&good, &fifo], &[], &[s(&fifo), "FIFO"]);
    assert_input_refused(&[&dir.path().join("corpus")], &[], &[s(&fifo), "FIFO"]);
    // skipped like any bad input
    let report = scan_json(&[s(&dir.path().join("corpus")), "--on-error", "skip"]);
    assert_eq!(report["summary"]["skipped"], 1);
    assert_eq!(report["skipped"][0]["path"], s(&fifo));
}

#[test]
fn on_error_skip_continues_past_a_bad_file_and_a_bad_record() {
    let dir = TestDir::new();
    let t = text(15);
    dir.write("corpus/a.txt", &t);
    // (a binary file would be skipped by the walk, and odd bytes may be
    // cp1252: see inputs.rs; a truncated gzip stream is bad in any case)
    dir.write("corpus/b.txt.gz", b"\x1f\x8b\x08\x00 truncated");
    dir.write(
        "corpus/c.jsonl",
        format!(
            "{}\nnot json at all\n{}\n",
            json!({"id": "c1", "text": t}),
            json!({"id": "c3", "text": text(16)})
        ),
    );
    dir.write("corpus/d.txt", &t);
    let root = dir.path().join("corpus");

    // stops by default
    assert_input_refused(&[&root], &[], &[s(&root.join("b.txt.gz"))]);

    let out = neardup()
        .args([
            "scan",
            s(&root),
            "--on-error",
            "skip",
            "--level",
            "doc",
            "--format",
            "json",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning"), "warns: {stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(report["summary"]["skipped"], 2, "{report:#}");
    assert_eq!(report["summary"]["documents"], 4);
    let skipped = report["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 2);
    assert_eq!(skipped[0]["path"], s(&root.join("b.txt.gz")));
    assert!(skipped[0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("decompress")));
    assert_eq!(skipped[1]["path"], s(&root.join("c.jsonl")));
    let line = format!("{}:2", s(&root.join("c.jsonl")));
    assert!(
        skipped[1]["error"]
            .as_str()
            .is_some_and(|e| e.contains(&line)),
        "{skipped:?}"
    );
    let cs = clusters(&report, "document");
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0]["members"].as_array().map(Vec::len), Some(3));
}

/// Every file below `dir`, relative, sorted.
fn listing(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).expect("below").to_path_buf())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        out.push(p.clone());
        if p.is_dir() {
            out.extend(walk(&p));
        }
    }
    out
}

#[test]
fn clean_output_inside_an_input_folder_is_refused() {
    let dir = TestDir::new();
    let t = text(17);
    dir.write("corpus/a.txt", &t);
    dir.write("corpus/sub/b.txt", &t);
    let root = dir.path().join("corpus");
    let before = listing(&root);
    for out in [root.join("cleaned"), root.join("sub/cleaned"), root.clone()] {
        let o = run("clean", &[&root], &["--force"], &out);
        assert_error(&o, "clean", &["inside the input"]);
        assert_eq!(
            listing(&root),
            before,
            "nothing written for {}",
            out.display()
        );
    }
}

#[test]
fn clean_into_a_non_empty_folder_needs_force() {
    let dir = TestDir::new();
    let t = text(18);
    let a = dir.write("in/a.txt", &t);
    let b = dir.write("in/b.txt", &t);
    let out = dir.path().join("out");
    dir.write("out/existing.txt", "keep me");
    assert_error(&run("clean", &[&a, &b], &[], &out), "clean", &["--force"]);
    assert_eq!(listing(&out), [PathBuf::from("existing.txt")]);

    neardup()
        .args(["clean", s(&a), s(&b), "-o", s(&out), "--force", "--quiet"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read_to_string(out.join("existing.txt")).expect("kept"),
        "keep me"
    );
    assert!(out.join("a.txt").exists() && !out.join("b.txt").exists());
}

#[test]
fn bad_option_values_name_the_option() {
    let dir = TestDir::new();
    let good = dir.write("good.txt", text(19));
    for (extra, needle) in [
        (&["--threshold", "1.5"][..], "--threshold"),
        (&["--threshold", "0"][..], "--threshold"),
        (&["--bands", "50", "--rows", "8"][..], "--bands"),
        (
            &["--perms", "64", "--bands", "16", "--rows", "8"][..],
            "--bands",
        ),
        (&["--block-threshold", "2"][..], "--block-threshold"),
    ] {
        assert_input_refused(&[&good], extra, &[needle]);
    }
}
