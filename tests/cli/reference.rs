//! `--reference`: documents that are never modified and never removable,
//! against which the inputs are cleaned (decontamination, incremental
//! cleaning). Issue 16, item 4; `scripts/decontam.py` is the same check on
//! the generated 10,000-document corpus.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{assert_fails, cjk_text, json_lines, neardup, succeeded, TestDir};

/// A test set planted in a small corpus, and where each planted copy is.
struct Planted {
    t: TestDir,
    reference: PathBuf,
    corpus: PathBuf,
    /// (record id in the corpus, byte range of the planted text in it).
    plants: Vec<(String, [u64; 2])>,
    /// Ids of the corpus's own duplicate pair: the second is removed.
    own_duplicate: (String, String),
}

/// A document of the corpus: paragraphs of text of its own.
fn corpus_text(seed: u64) -> String {
    (0..3)
        .map(|p| cjk_text(seed * 10 + p, 250))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// Nine test documents in two reference files (the second also holding a
/// copy of a test document of the first: reference-only duplicates), and a
/// corpus of 30 documents of its own with the test set planted: three whole,
/// three as 320-character passages inside longer documents, three with four
/// characters changed, plus one duplicate pair of the corpus's own.
fn planted() -> Planted {
    let t = TestDir::new();
    let tests: Vec<String> = (0..9).map(|i| cjk_text(9000 + i, 420)).collect();
    let line = |id: &str, text: &str| serde_json::json!({ "id": id, "text": text }).to_string();
    let part = |ids: std::ops::Range<usize>| {
        let mut body = String::new();
        for i in ids {
            body.push_str(&line(&format!("test{i}"), &tests[i]));
            body.push('\n');
        }
        body
    };
    t.write("testset/a.jsonl", part(0..5));
    // the copy of test0 carries the id of a corpus record: the corpus's
    // ids are kept, the reference's renamed
    let clash = line("doc7", &tests[0]) + "\n";
    t.write("testset/b.jsonl", part(5..9) + &clash);
    let mut records: Vec<(String, String)> = (0..30)
        .map(|d| (format!("doc{d}"), corpus_text(d)))
        .collect();
    records.push(("doc30".into(), corpus_text(7)));
    let mut plants = Vec::new();
    for (n, test) in tests.iter().enumerate() {
        let id = format!("plant{n}");
        let mut chars: Vec<char> = test.chars().collect();
        match n % 3 {
            0 => {}
            1 => {
                // a passage at a paragraph break of a longer document
                let host_id = format!("doc{}", 3 * n);
                let host = records
                    .iter_mut()
                    .find(|(id, _)| *id == host_id)
                    .expect("host");
                let passage: String = chars[50..370].iter().collect();
                let at = host.1.find("\n\n").expect("a paragraph break") + 2;
                host.1.insert_str(at, &format!("{passage}\n\n"));
                let start = at as u64;
                plants.push((host.0.clone(), [start, start + passage.len() as u64]));
                continue;
            }
            _ => {
                for at in [10, 120, 230, 340] {
                    chars[at] = '改';
                }
            }
        }
        let text: String = chars.into_iter().collect();
        plants.push((id.clone(), [0, text.len() as u64]));
        records.insert(4 * n, (id, text));
    }
    let body: String = records
        .iter()
        .map(|(id, text)| line(id, text) + "\n")
        .collect();
    let corpus = t.write("corpus.jsonl", body);
    Planted {
        reference: t.path().join("testset"),
        corpus,
        plants,
        own_duplicate: ("doc7".into(), "doc30".into()),
        t,
    }
}

fn bytes_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .expect("folder")
        .map(|e| {
            let p = e.expect("entry").path();
            let b = std::fs::read(&p).expect("readable");
            (p, b)
        })
        .collect();
    files.sort();
    files
}

#[test]
fn planted_test_set_is_removed_and_the_reference_left_untouched() {
    let p = planted();
    let out = p.t.path().join("out");
    let before = bytes_of(&p.reference);
    // --keep longest: a reference copy is kept even when an input copy is
    // longer (a passage's host document)
    succeeded(
        neardup()
            .args(["clean", "--quiet", "--keep", "longest", "--reference"])
            .arg(&p.reference)
            .arg(&p.corpus)
            .arg("-o")
            .arg(&out),
    );
    assert_eq!(bytes_of(&p.reference), before, "reference files unchanged");
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["corpus.jsonl", "neardup-manifest.json", "removed.jsonl"],
        "no reference file is written"
    );
    let log = json_lines(&out.join("removed.jsonl"));
    // every planted copy is removed, exactly, against the reference
    for (id, bytes) in &p.plants {
        let r = log
            .iter()
            .find(|r| r["removed"]["doc"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} is removed: {log:?}"));
        assert_eq!(r["reference"], true, "{r}");
        assert!(
            r["kept"]["path"].as_str().unwrap().contains("testset"),
            "{r}"
        );
        let spans: Vec<[u64; 2]> = match r["spans"].as_array() {
            Some(v) => v
                .iter()
                .map(|s| [s[0].as_u64().unwrap(), s[1].as_u64().unwrap()])
                .collect(),
            None => vec![[
                r["removed"]["bytes"][0].as_u64().unwrap(),
                r["removed"]["bytes"][1].as_u64().unwrap(),
            ]],
        };
        let inside: u64 = spans
            .iter()
            .map(|s| s[1].min(bytes[1]).saturating_sub(s[0].max(bytes[0])))
            .sum();
        let removed: u64 = spans.iter().map(|s| s[1] - s[0]).sum();
        // the cut snaps to whole lines: the passage's line break goes too
        assert!(
            inside == bytes[1] - bytes[0] && removed <= inside + 2,
            "{id}: {r}"
        );
    }
    // and nothing else but the corpus's own duplicate, which is removed as
    // before, against its first copy (whose id a reference record shares)
    assert_eq!(log.len(), p.plants.len() + 1, "{log:?}");
    let own = log
        .iter()
        .find(|r| r["removed"]["doc"] == p.own_duplicate.1.as_str())
        .expect("the corpus's own duplicate is removed");
    assert_eq!(own["kept"]["doc"], p.own_duplicate.0.as_str());
    assert!(own.get("reference").is_none(), "{own}");
    // the manifest names the reference, so that verify reads it again
    let verified = succeeded(neardup().arg("verify").arg(&out));
    assert!(
        String::from_utf8_lossy(&verified.stdout).contains("3 input files"),
        "{}",
        String::from_utf8_lossy(&verified.stdout)
    );
    // a log that claims text was cut from the reference is caught
    let log_path = out.join("removed.jsonl");
    let good_log = std::fs::read_to_string(&log_path).expect("log");
    let mut first: Value = serde_json::from_str(good_log.lines().next().unwrap()).unwrap();
    let kept = first["kept"].clone();
    first["kept"] = std::mem::replace(&mut first["removed"], kept);
    let rest: Vec<&str> = good_log.lines().skip(1).collect();
    std::fs::write(&log_path, format!("{first}\n{}\n", rest.join("\n"))).expect("write");
    let o = neardup().arg("verify").arg(&out).output().expect("runs");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("removes text from a reference input"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    std::fs::write(&log_path, good_log).expect("write");
    succeeded(neardup().arg("verify").arg(&out));
    std::fs::write(p.reference.join("a.jsonl"), "{\"text\": \"changed\"}\n").expect("write");
    let o = neardup().arg("verify").arg(&out).output().expect("runs");
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains("a.jsonl: verification failed: input changed since clean"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn scan_reports_input_copies_of_the_reference_and_never_the_reference_alone() {
    let p = planted();
    let o = succeeded(
        neardup()
            .args(["scan", "--quiet", "--format", "json", "--reference"])
            .arg(&p.reference)
            .arg(&p.corpus),
    );
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    let r = &report["summary"]["reference"];
    assert_eq!(r["inputs"], 2);
    assert_eq!(r["documents"], 10);
    assert_eq!(r["duplicate_documents"], 6, "{r}");
    assert_eq!(r["duplicate_blocks"], 3, "{r}");
    let clusters = report["clusters"].as_array().expect("clusters");
    for c in clusters {
        let members = c["members"].as_array().expect("members");
        let keep = c["keep"].as_u64().unwrap() as usize;
        let refs: Vec<usize> = (0..members.len())
            .filter(|&i| members[i]["reference"] == true)
            .collect();
        // one reference copy at most, and it is the kept one
        assert!(refs.is_empty() || refs == [keep], "{c}");
        if !refs.is_empty() {
            let reason = c["keep_reason"].as_str().unwrap();
            assert!(reason.starts_with("reference"), "{c}");
        }
        assert!(
            members.iter().any(|m| m.get("reference").is_none()),
            "a cluster of reference copies only is not reported: {c}"
        );
    }
    // test0 is in both reference files: one cluster with its whole copy
    let whole = clusters
        .iter()
        .find(|c| {
            c["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["doc"] == "plant0")
        })
        .expect("plant0 is reported");
    assert_eq!(whole["members"].as_array().unwrap().len(), 2, "{whole}");
    // the same run without the reference finds none of it
    let o = succeeded(
        neardup()
            .args(["scan", "--quiet", "--format", "json"])
            .arg(&p.corpus),
    );
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON report");
    assert!(report["summary"].get("reference").is_none());
    assert_eq!(report["summary"]["duplicate_documents"], 1);
    // and the text summary says how much duplicates the reference
    let o = succeeded(
        neardup()
            .args(["scan", "--color", "never", "--reference"])
            .arg(&p.reference)
            .arg(&p.corpus),
    );
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains(
            "reference: 10 documents in 2 inputs, duplicated by 6 documents and 3 block copies"
        ),
        "{text}"
    );
    assert!(text.contains("(kept: reference)"), "{text}");
}

#[test]
fn standard_input_is_not_both_a_reference_and_an_input() {
    assert_fails(
        neardup().args(["scan", "--reference", "-", "-"]),
        2,
        "standard input (-) cannot be both a reference and an input",
    );
}
