//! A memory budget too small for the corpus changes where block detection
//! keeps its texts and fingerprints (batches read back, hash partitions on
//! disk), never what it finds.

use std::path::Path;

use crate::util::{clean_ok_with, mixed_lines, neardup, s, scan_json, scan_json_bytes, TestDir};

fn corpus(t: &TestDir) -> std::path::PathBuf {
    t.write("c.jsonl", mixed_lines().concat())
}

fn scan_bytes(input: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args = vec![s(input)];
    args.extend_from_slice(extra);
    scan_json_bytes(&args)
}

#[test]
fn a_tiny_memory_budget_gives_the_same_report() {
    let t = TestDir::new();
    let f = corpus(&t);
    let whole = scan_bytes(&f, &[]);
    let report: serde_json::Value = serde_json::from_slice(&whole).expect("json");
    let kinds = |kind: &str| {
        report["clusters"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|c| c["kind"] == kind).count())
    };
    let counts = (kinds("document"), kinds("block"));
    assert!(counts.0 >= 20 && counts.1 >= 20, "{counts:?}");
    assert!(
        report["clusters"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["boilerplate"] == true)),
        "the footer is boilerplate"
    );
    let work = t.path().join("work");
    for threads in ["1", "2"] {
        let small = scan_bytes(
            &f,
            &["--memory", "64K", "--threads", threads, "--work", s(&work)],
        );
        assert!(small == whole, "--memory 64K at {threads} threads");
    }
    for level in ["block", "all"] {
        let a = scan_bytes(&f, &["--level", level]);
        let b = scan_bytes(&f, &["--level", level, "--memory", "16K"]);
        assert!(a == b, "--level {level}");
    }
    // the budget really was too small: fingerprints went to disk
    let o = neardup()
        .env("NEARDUP_TIMINGS", "1")
        .args(["scan", s(&f), "--memory", "64K", "-o"])
        .arg(t.path().join("r.json"))
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let peak: u64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("neardup: timing: work folder peak "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(o.status.success() && peak > 0, "{stderr}");
    // the spill files are the run's: gone after success
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "work folder emptied: {left:?}");
}

#[test]
fn a_tiny_memory_budget_cleans_to_the_same_bytes() {
    let t = TestDir::new();
    let f = corpus(&t);
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    clean_ok_with(&f, &a, &[]);
    clean_ok_with(&f, &b, &["--memory", "32K"]);
    for name in ["c.jsonl", "removed.jsonl"] {
        let (x, y) = (std::fs::read(a.join(name)), std::fs::read(b.join(name)));
        assert!(x.is_ok() && x.ok() == y.ok(), "{name} differs");
    }
    let report = scan_json(&[s(&f)]);
    assert!(report["summary"]["duplicate_blocks"].as_u64() > Some(0));
}
