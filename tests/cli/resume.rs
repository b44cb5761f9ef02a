//! `--work DIR --resume`: a run killed with SIGKILL in the middle of a
//! stage, run again with `--resume`, reuses the stages it finished and
//! gives the same bytes as a run never stopped; a changed option or input
//! file is refused, naming it.
//!
//! The kill comes from the binary's test-only hook `NEARDUP_TEST_KILL`
//! (`STAGE[:N]`: SIGKILL once progress stage STAGE starts or has done N
//! units; `staged:N` once clean has staged N output files).

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::util::{
    assert_error, assert_fails, files, gzip, mixed_lines, neardup, s, stderr_of, TestDir,
};

/// The mixed corpus in four files, one of them gzip-compressed (its
/// decompressed copy in the work folder is reused too).
fn corpus(t: &TestDir) -> PathBuf {
    let lines = mixed_lines();
    let part = |k: usize| lines[k * 60..(k + 1) * 60].concat();
    t.write("in/a.jsonl", part(0));
    t.write("in/b.jsonl", part(1));
    t.write("in/c.jsonl.gz", gzip(part(2).as_bytes()));
    t.write("in/d.jsonl", part(3));
    t.path().join("in")
}

/// Runs `neardup SUB INPUT ARGS` with `env` set.
fn run_env(sub: &str, input: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = neardup();
    cmd.arg(sub).arg(input).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.timeout(Duration::from_secs(120))
        .output()
        .expect("runs")
}

/// The corpus, the output folder of an uninterrupted clean of it, and
/// every file that clean wrote there.
fn cleaned_whole(
    t: &TestDir,
) -> (
    PathBuf,
    PathBuf,
    std::collections::BTreeMap<PathBuf, Vec<u8>>,
) {
    let input = corpus(t);
    let out = t.path().join("out");
    let o = run_env("clean", &input, &["-o", s(&out)], &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let whole = files(&out);
    (input, out, whole)
}

fn killed(o: &Output, at: &str) {
    assert_eq!(
        o.status.signal(),
        Some(9),
        "killed at {at}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn clean_killed_in_any_stage_resumes_to_the_same_bytes() {
    let t = TestDir::new();
    let (input, out, whole) = cleaned_whole(&t);
    // the corpus has both kinds of duplicates, and several output files
    let log = String::from_utf8_lossy(&whole[Path::new("removed.jsonl")]).into_owned();
    assert!(log.contains(r#""reason":"document""#) && log.contains(r#""reason":"block""#));
    assert!(whole.len() >= 6, "{:?}", whole.keys());

    // (kill point, what the resumed run reuses)
    let cases = [
        ("read+sketch:100", "reused nothing"),
        ("verify:1", "reused read"),
        ("blocks", "reused read, documents"),
        ("blocks:1", "reused read, documents"),
        // the blocks found, their copies not yet placed: the block stage
        // is not saved until they are
        ("block copies", "reused read, documents\n"),
        // every detection stage saved, the plan not
        ("plan", "reused read, documents, blocks\n"),
        // after the plan is saved, before any output file
        ("write", "reused read, documents, blocks, plan\n"),
        (
            "staged:2",
            "reused read, documents, blocks, plan, 2 staged output files",
        ),
    ];
    for (i, (at, reused)) in cases.into_iter().enumerate() {
        std::fs::remove_dir_all(&out).expect("clear out");
        let work = t.path().join(format!("work{i}"));
        let args = ["-o", s(&out), "--work", s(&work)];
        killed(
            &run_env("clean", &input, &args, &[("NEARDUP_TEST_KILL", at)]),
            at,
        );
        assert!(work.join("stages").is_dir(), "{at}: stage files kept");
        // resumed at another thread count and memory budget
        let threads = if i % 2 == 0 { "1" } else { "3" };
        let more = [
            &args[..],
            &["--resume", "--threads", threads, "--memory", "64K"],
        ]
        .concat();
        let o = run_env("clean", &input, &more, &[]);
        assert!(o.status.success(), "{at}: {}", stderr_of(&o));
        assert!(stderr_of(&o).contains(reused), "{at}: {}", stderr_of(&o));
        assert!(files(&out) == whole, "{at}: output differs");
        assert!(!work.join("stages").exists(), "{at}: stage files removed");
    }
}

#[test]
fn clean_killed_while_renaming_into_the_output_resumes_to_the_same_bytes() {
    let t = TestDir::new();
    let (input, out, whole) = cleaned_whole(&t);
    // renamed: the outputs, the log, the manifest last
    let renames = whole.len();
    for (i, done) in [1, renames - 1].into_iter().enumerate() {
        std::fs::remove_dir_all(&out).expect("clear out");
        let work = t.path().join(format!("work{i}"));
        let args = ["-o", s(&out), "--work", s(&work)];
        let at = format!("rename:{done}");
        killed(
            &run_env("clean", &input, &args, &[("NEARDUP_TEST_KILL", &at)]),
            &at,
        );
        // some files have their final name, the manifest has not
        let there = files(&out);
        let finals = there
            .keys()
            .filter(|p| !p.starts_with(".neardup-staging"))
            .count();
        assert_eq!(finals, done, "{at}: {:?}", there.keys());
        assert!(!out.join("manifest.json").exists());
        let resume = [&args[..], &["--resume"]].concat();
        let o = run_env("clean", &input, &resume, &[]);
        assert!(o.status.success(), "{at}: {}", stderr_of(&o));
        let staged = format!("plan, {} staged output files", renames - 2);
        assert!(stderr_of(&o).contains(&staged), "{at}: {}", stderr_of(&o));
        assert!(files(&out) == whole, "{at}: output differs");
    }
    // a file of the same name that is not the run's own is refused
    std::fs::remove_dir_all(&out).expect("clear out");
    let work = t.path().join("work-other");
    let args = ["-o", s(&out), "--work", s(&work)];
    killed(
        &run_env("clean", &input, &args, &[("NEARDUP_TEST_KILL", "rename:1")]),
        "rename:1",
    );
    let first = whole
        .keys()
        .find(|p| out.join(p).is_file())
        .expect("one renamed");
    std::fs::write(out.join(first), "someone else's\n").expect("write");
    let resume = [&args[..], &["--resume"]].concat();
    assert_error(
        &run_env("clean", &input, &resume, &[]),
        "not ours",
        &["not empty"],
    );
}

#[test]
fn a_changed_option_or_input_file_is_refused() {
    let t = TestDir::new();
    let input = corpus(&t);
    let (out, work) = (t.path().join("out"), t.path().join("work"));
    let args = ["-o", s(&out), "--work", s(&work), "--quiet"];
    killed(
        &run_env("clean", &input, &args, &[("NEARDUP_TEST_KILL", "blocks:1")]),
        "blocks",
    );
    let resume = [&args[..], &["--resume"]].concat();
    let changed = [&resume[..], &["--threshold", "0.9"]].concat();
    assert_error(
        &run_env("clean", &input, &changed, &[]),
        "--threshold",
        &[
            s(&work),
            "--threshold was 0.8 in the work folder's run, is 0.9 now; run without --resume",
        ],
    );
    let changed = [&resume[..], &["--text-field", "body"]].concat();
    assert_error(
        &run_env("clean", &input, &changed, &[]),
        "--text-field",
        &["--text-field was text in the work folder's run, is body now"],
    );
    let b = input.join("b.jsonl");
    let mut body = std::fs::read(&b).expect("read");
    body.extend_from_slice(mixed_lines()[0].as_bytes());
    std::fs::write(&b, body).expect("write");
    assert_error(
        &run_env("clean", &input, &resume, &[]),
        "changed input",
        &[&format!(
            "input {} changed since the work folder's run",
            s(&b)
        )],
    );
    // nothing was reused or written by the refused runs; a fresh run works
    assert!(!out.join("removed.jsonl").exists());
    let o = run_env("clean", &input, &args, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
}

#[test]
fn scan_killed_in_the_block_stage_resumes_to_the_same_report() {
    let t = TestDir::new();
    let input = corpus(&t);
    let work = t.path().join("work");
    let json = ["--format", "json"];
    let o = run_env("scan", &input, &json, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let whole = o.stdout;
    let args = [&json[..], &["--work", s(&work)]].concat();
    killed(
        &run_env("scan", &input, &args, &[("NEARDUP_TEST_KILL", "blocks:1")]),
        "blocks",
    );
    let resume = [&args[..], &["--resume", "--threads", "1"]].concat();
    let o = run_env("scan", &input, &resume, &[]);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("reused read, documents"),
        "{}",
        stderr_of(&o)
    );
    assert!(o.stdout == whole, "report differs");
}

#[test]
fn resume_needs_a_work_folder_and_a_named_input() {
    let t = TestDir::new();
    let input = corpus(&t);
    assert_fails(
        neardup().arg("scan").arg(&input).arg("--resume"),
        2,
        "--work",
    );
    let work = t.path().join("w");
    let o = neardup()
        .args(["scan", "-", "--resume", "--work", s(&work)])
        .write_stdin(mixed_lines().concat())
        .output()
        .expect("runs");
    assert_error(&o, "stdin", &["--resume", "standard input"]);
}

#[test]
fn params_prints_what_the_stage_markers_record() {
    let t = TestDir::new();
    let input = corpus(&t);
    let (out, work) = (t.path().join("out"), t.path().join("work"));
    let args = ["-o", s(&out), "--work", s(&work), "--min-block", "150"];
    killed(
        &run_env("clean", &input, &args, &[("NEARDUP_TEST_KILL", "staged:1")]),
        "staged:1",
    );
    let marker: serde_json::Value = serde_json::from_slice(
        &std::fs::read(work.join("stages/clean-000000.json")).expect("marker"),
    )
    .expect("json");
    let params = |extra: &[&str]| -> serde_json::Value {
        let o = neardup()
            .args(["params", "--json", "clean"])
            .arg(&input)
            .args(args)
            .args(extra)
            .output()
            .expect("runs");
        assert!(o.status.success(), "{}", stderr_of(&o));
        serde_json::from_slice(&o.stdout).expect("json")
    };
    let p = params(&[]);
    assert_eq!(p["command"], "clean");
    assert_eq!(p["params"], marker["params"]);
    assert_eq!(p["hash"], marker["params_hash"]);
    assert_eq!(p["params"]["--min-block"], "150");
    assert_eq!(p["params"]["--threshold"], "0.8", "defaults filled in");
    // what cannot change the output is no parameter; what can, is
    assert_eq!(
        params(&["--threads", "1", "--memory", "64K"])["hash"],
        p["hash"]
    );
    assert_ne!(params(&["--drop-boilerplate"])["hash"], p["hash"]);
    // a bad option is refused as the command refuses it
    let o = neardup()
        .args(["params", "scan"])
        .arg(&input)
        .args(["--threshold", "2"])
        .output()
        .expect("runs");
    assert_error(&o, "bad threshold", &["--threshold"]);
}
