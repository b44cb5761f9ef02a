//! A memory budget too small for the corpus changes where block detection
//! keeps its texts and fingerprints (batches read back, hash partitions on
//! disk), never what it finds: not at any thread count, not for `scan` nor
//! for `clean`, not on the generated corpus nor on the seeds.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::util::{
    clean_ok_with, files, mixed_lines, neardup, s, scan_json, scan_json_bytes, seeds, stderr_of,
    TestDir,
};

/// The thread counts every spilled run is tried at.
const THREADS: [&str; 3] = ["1", "2", "8"];

fn corpus(t: &TestDir) -> PathBuf {
    t.write("c.jsonl", mixed_lines().concat())
}

fn scan_bytes(input: &Path, extra: &[&str]) -> Vec<u8> {
    let mut args = vec![s(input)];
    args.extend_from_slice(extra);
    scan_json_bytes(&args)
}

/// Runs `neardup SUB INPUT ARGS` with `NEARDUP_TIMINGS` set, asserting
/// success; gives its output and the work folder's peak on disk (a timing
/// line of `scan`, the summary line of `clean`), which is above 0 only when
/// the budget was too small and the run spilled.
fn timed(sub: &str, input: &Path, args: &[&str]) -> (Output, u64) {
    let o = neardup()
        .env("NEARDUP_TIMINGS", "1")
        .arg(sub)
        .arg(input)
        .args(args)
        .output()
        .expect("runs");
    let stderr = stderr_of(&o);
    assert!(o.status.success(), "{sub} {args:?}: {stderr}");
    let peak = stderr
        .lines()
        .find_map(|l| l.split_once("work folder peak ").map(|(_, n)| n))
        .and_then(|n| n.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    (o, peak)
}

/// `scan INPUT --format json` under `--memory BUDGET` at every thread
/// count of [`THREADS`] gives `whole`, the report of a run in memory, byte
/// for byte, and really spills (else the comparison proves nothing).
fn spills_to_the_same_report(input: &Path, budget: &str, whole: &[u8]) {
    for threads in THREADS {
        let args = ["--format", "json", "--memory", budget, "--threads", threads];
        let (o, peak) = timed("scan", input, &args);
        let what = format!("scan --memory {budget} --threads {threads}");
        assert!(peak > 0, "{what}: spilled nothing: {}", stderr_of(&o));
        assert!(o.stdout == whole, "{what}: report differs");
    }
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
    spills_to_the_same_report(&f, "64K", &whole);
    for level in ["block", "all"] {
        let a = scan_bytes(&f, &["--level", level]);
        let b = scan_bytes(&f, &["--level", level, "--memory", "16K"]);
        assert!(a == b, "--level {level}");
    }
    // the spill files are the run's: gone after success, from a work
    // folder the user named too
    let work = t.path().join("work");
    let (_, peak) = timed("scan", &f, &["--memory", "64K", "--work", s(&work)]);
    assert!(peak > 0);
    let left: Vec<_> = std::fs::read_dir(&work)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "work folder emptied: {left:?}");
}

#[test]
fn the_seeds_spilled_give_the_same_report() {
    let whole = scan_bytes(&seeds(), &[]);
    let report: serde_json::Value = serde_json::from_slice(&whole).expect("json");
    assert!(report["summary"]["duplicate_blocks"].as_u64() > Some(0));
    spills_to_the_same_report(&seeds(), "16K", &whole);
}

#[test]
fn a_tiny_memory_budget_cleans_to_the_same_bytes() {
    let t = TestDir::new();
    let f = corpus(&t);
    let a = t.path().join("a");
    clean_ok_with(&f, &a, &[]);
    let whole = files(&a);
    // every file: the cleaned input, the removal log, the manifest
    assert!(whole.len() >= 3, "{:?}", whole.keys());
    for threads in THREADS {
        let b = t.path().join(format!("b{threads}"));
        let args = ["-o", s(&b), "--memory", "32K", "--threads", threads];
        let (o, peak) = timed("clean", &f, &args);
        let what = format!("clean --memory 32K --threads {threads}");
        assert!(peak > 0, "{what}: spilled nothing: {}", stderr_of(&o));
        assert!(files(&b) == whole, "{what}: output differs");
    }
    let report = scan_json(&[s(&f)]);
    assert!(report["summary"]["duplicate_blocks"].as_u64() > Some(0));
}
