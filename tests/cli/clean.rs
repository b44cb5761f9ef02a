//! `neardup clean`: what is kept, what is removed, and the log.

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use crate::util::{
    assert_error, assert_verifies, cjk_text, clean_ok, clean_ok_with, gzip, json_lines, neardup,
    run, seeds, TestDir,
};

fn seed_lines(file: &str, first: usize, last: usize) -> String {
    let text = std::fs::read_to_string(seeds().join(file)).expect("seed");
    text.split_inclusive('\n')
        .skip(first - 1)
        .take(last - first + 1)
        .collect()
}

fn clean_seeds(t: &TestDir) -> PathBuf {
    let out = t.path().join("out");
    clean_ok(&seeds(), &out);
    out
}

#[test]
fn seeds_clean_keeps_first_copies_and_unique_speeches() {
    let t = TestDir::new();
    let out = clean_seeds(&t);
    let f002 = std::fs::read_to_string(out.join("002_213c1cc202ead32c.txt")).expect("002");
    assert_eq!(
        f002.trim_end(),
        seed_lines("002_213c1cc202ead32c.txt", 1, 9).trim_end()
    );

    let f004 = std::fs::read_to_string(out.join("004_792cc556aa004db2.txt")).expect("004");
    let name = "004_792cc556aa004db2.txt";
    // copy A, 篇二 and 第五篇 intact
    assert!(f004.contains(&seed_lines(name, 2, 24)), "copy A lost");
    assert!(f004.contains(&seed_lines(name, 68, 89)), "篇二 lost");
    assert!(f004.contains(&seed_lines(name, 161, 188)), "第五篇 lost");
    // copies B, C, D gone: no paragraph of theirs is left twice
    for (first, last) in [(47, 67), (95, 133), (138, 160)] {
        for l in first..=last {
            let line = seed_lines(name, l, l);
            if line.trim().chars().count() > 60 {
                assert!(
                    f004.matches(line.trim()).count() <= 1,
                    "line {l} is still there twice"
                );
            }
        }
    }
    let input = std::fs::read_to_string(seeds().join(name)).expect("004");
    assert!(
        f004.len() < input.len() / 2,
        "{} of {} bytes left",
        f004.len(),
        input.len()
    );
    // the opening paragraph A lacks survives exactly once (copy B's)
    let opening = seed_lines(name, 46, 46);
    assert_eq!(f004.matches(opening.trim()).count(), 1);
    // untouched files are byte-identical
    for f in [
        "000_e9ae08571794868f.txt",
        "001_87fb1114b3afc742.txt",
        "003_0f8a8ee2608b735d.txt",
    ] {
        assert_eq!(
            std::fs::read(out.join(f)).expect("out"),
            std::fs::read(seeds().join(f)).expect("in"),
            "{f}"
        );
    }
}

#[test]
fn removal_log_lists_exactly_the_dropped_copies_and_accounts_for_every_byte() {
    let t = TestDir::new();
    let out = clean_seeds(&t);
    let log = json_lines(&out.join("removed.jsonl"));
    let mut by_file: std::collections::BTreeMap<String, Vec<&Value>> = Default::default();
    for r in &log {
        assert_eq!(r["reason"], "block");
        // SEEDS.md: the copies are over 90% alike
        assert!(r["containment"].as_f64() > Some(0.9), "{r}");
        let p = r["removed"]["path"].as_str().expect("path");
        by_file
            .entry(p.rsplit('/').next().unwrap_or(p).to_string())
            .or_default()
            .push(r);
        assert_eq!(r["kept"]["path"], r["removed"]["path"]);
    }
    let f002 = &by_file["002_213c1cc202ead32c.txt"];
    assert_eq!(f002.len(), 1);
    assert_eq!(f002[0]["removed"]["lines"], serde_json::json!([10, 18]));
    assert_eq!(f002[0]["kept"]["lines"], serde_json::json!([1, 9]));
    let f004 = &by_file["004_792cc556aa004db2.txt"];
    // one removal per dropped copy, and for C and D their opening paragraph,
    // which only B keeps
    let in_copy = |r: &Value, a: u64, b: u64| {
        let l = &r["removed"]["lines"];
        l[0].as_u64() >= Some(a) && l[1].as_u64() <= Some(b)
    };
    assert!(
        f004.iter()
            .all(|r| in_copy(r, 45, 67) || in_copy(r, 89, 135) || in_copy(r, 134, 160)),
        "{f004:#?}"
    );
    for (a, b) in [(45, 67), (89, 135), (134, 160)] {
        assert!(
            f004.iter().any(|r| in_copy(r, a, b)),
            "no removal in {a}-{b}"
        );
    }
    assert_eq!(by_file.len(), 2);
    // bytes: kept + removed = read, per file
    for (f, rs) in &by_file {
        let before = std::fs::metadata(seeds().join(f)).expect("in").len();
        let after = std::fs::metadata(out.join(f)).expect("out").len();
        let removed: u64 = rs
            .iter()
            .map(|r| r["bytes_removed"].as_u64().expect("n"))
            .sum();
        assert_eq!(after + removed, before, "{f}");
    }
}

#[test]
fn clean_never_writes_into_its_inputs_and_refuses_a_busy_output() {
    let t = TestDir::new();
    let corpus = t.copy_seeds("corpus");
    let before = std::fs::read(corpus.join("002_213c1cc202ead32c.txt")).expect("read");
    let out = t.path().join("out");
    clean_ok(&corpus, &out);
    assert_eq!(
        std::fs::read(corpus.join("002_213c1cc202ead32c.txt")).expect("read"),
        before
    );
    // a second run into the same folder needs --force
    let again = run("clean", &[&corpus], &["--quiet"], &out);
    assert_error(&again, "clean again", &["--force"]);
    clean_ok_with(&corpus, &out, &["--force"]);
    // no staging leftovers
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
}

#[test]
fn duplicate_documents_are_dropped_whole_and_logged() {
    let t = TestDir::new();
    let text = cjk_text(5, 800);
    let mut edited: Vec<char> = text.chars().collect();
    for i in (0..edited.len()).step_by(20) {
        edited[i] = '某';
    }
    let edited: String = edited.into_iter().collect();
    t.write("in/a.txt", &text);
    t.write("in/b.txt", &edited);
    t.write("in/c.txt", cjk_text(6, 800));
    let out = t.path().join("out");
    clean_ok(&t.path().join("in"), &out);
    assert!(out.join("a.txt").exists());
    assert!(!out.join("b.txt").exists());
    assert!(out.join("c.txt").exists());
    let log = json_lines(&out.join("removed.jsonl"));
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["reason"], "document");
    assert!(log[0]["removed"]["doc"]
        .as_str()
        .expect("id")
        .ends_with("b.txt"));
    assert!(log[0]["kept"]["doc"]
        .as_str()
        .expect("id")
        .ends_with("a.txt"));
    let sim = log[0]["similarity"].as_f64().expect("sim");
    assert!(sim > 0.9 && sim < 1.0, "{sim}");
}

#[test]
fn two_inputs_with_one_output_name_are_refused_before_writing() {
    let t = TestDir::new();
    let a = t.write("a/x.txt", cjk_text(1, 300));
    let b = t.write("b/x.txt", cjk_text(2, 300));
    let out = t.path().join("out");
    let o = run("clean", &[&a, &b], &["--quiet"], &out);
    assert_error(&o, "clean", &["would both be written"]);
    assert!(!out.exists());
}

#[test]
fn jsonl_with_bom_keeps_its_bom() {
    let t = TestDir::new();
    let text = cjk_text(3, 400);
    let mut body = vec![0xEF, 0xBB, 0xBF];
    for (i, tx) in [&text, &text, &cjk_text(4, 400)].iter().enumerate() {
        body.extend(serde_json::json!({"id": i, "text": tx}).to_string().bytes());
        body.push(b'\n');
    }
    let f = t.write("c.jsonl", body);
    let out = t.path().join("out");
    clean_ok(&f, &out);
    let written = std::fs::read(out.join("c.jsonl")).expect("out");
    assert!(written.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert_eq!(String::from_utf8_lossy(&written[3..]).lines().count(), 2);
}

#[test]
fn jsonl_from_stdin_cannot_be_cleaned_and_says_so() {
    let t = TestDir::new();
    let out = t.path().join("out");
    let o = neardup()
        .args(["clean", "--quiet", "-", "-o"])
        .arg(&out)
        .write_stdin("{\"text\": \"今天我们召开会议\"}\n")
        .output()
        .expect("runs");
    assert_error(&o, "clean -", &["standard input"]);
    assert!(!out.exists());
}

/// `neardup verify OUT`: exit code, stdout and stderr.
fn verify(out: &Path) -> Output {
    neardup().arg("verify").arg(out).output().expect("runs")
}

/// Asserts `verify` refuses `out` with a message holding every needle.
fn assert_verify_fails(out: &Path, needles: &[&str]) {
    let mut all = vec!["verification failed"];
    all.extend_from_slice(needles);
    assert_error(&verify(out), "verify", &all);
}

/// Cleans a copy of the seeds into `out` and returns (corpus, out).
fn clean_seed_copy(t: &TestDir) -> (PathBuf, PathBuf) {
    let corpus = t.copy_seeds("corpus");
    let out = t.path().join("out");
    clean_ok(&corpus, &out);
    (corpus, out)
}

#[test]
fn verify_passes_on_the_cleaned_seeds_and_names_a_tampered_output() {
    let t = TestDir::new();
    let (_, out) = clean_seed_copy(&t);
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("neardup-manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["schema"], "neardup.manifest/1");
    assert_eq!(manifest["log"], "removed.jsonl");
    assert_eq!(manifest["files"].as_array().map(Vec::len), Some(5));
    let o = verify(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // the summary counts what the log says was removed
    let log = json_lines(&out.join("removed.jsonl"));
    let removed: u64 = log
        .iter()
        .map(|r| r["bytes_removed"].as_u64().unwrap())
        .sum();
    assert_eq!(
        String::from_utf8_lossy(&o.stdout).trim_end(),
        format!(
            "verified {}: 5 input files, 5 documents, 5 output files; {} removals ({removed} bytes) add up",
            out.display(),
            log.len()
        )
    );

    // one line deleted from an output
    let f = out.join("002_213c1cc202ead32c.txt");
    let text = std::fs::read_to_string(&f).unwrap();
    let shorter: String = text
        .split_inclusive('\n')
        .enumerate()
        .filter(|&(i, _)| i != 3)
        .map(|(_, l)| l)
        .collect();
    std::fs::write(&f, shorter).unwrap();
    assert_verify_fails(&out, &["002_213c1cc202ead32c.txt", "bytes kept"]);
    // put back, verify passes again; a changed character is caught too
    std::fs::write(&f, &text).unwrap();
    assert_verifies(&out, &[]);
    std::fs::write(&f, text.replacen('党', "觉", 1)).unwrap();
    assert_verify_fails(&out, &["002_213c1cc202ead32c.txt", "differs at byte 53"]);
    std::fs::write(&f, &text).unwrap();

    // an extra file, a missing one
    std::fs::write(out.join("stray.txt"), "x").unwrap();
    assert_verify_fails(&out, &["stray.txt", "not the output of any input"]);
    std::fs::remove_file(out.join("stray.txt")).unwrap();
    let g = out.join("000_e9ae08571794868f.txt");
    let kept = std::fs::read(&g).unwrap();
    std::fs::remove_file(&g).unwrap();
    assert_verify_fails(
        &out,
        &["000_e9ae08571794868f.txt", "cannot read the output"],
    );
    std::fs::write(&g, kept).unwrap();
    assert_verifies(&out, &[]);

    // no manifest: not a finished output
    let m = out.join("neardup-manifest.json");
    let body = std::fs::read(&m).unwrap();
    std::fs::remove_file(&m).unwrap();
    assert_verify_fails(&out, &["neardup-manifest.json", "no manifest"]);
    std::fs::write(&m, body).unwrap();
}

#[test]
fn verify_fails_on_a_tampered_log_or_a_changed_input() {
    let t = TestDir::new();
    let (corpus, out) = clean_seed_copy(&t);
    let log = out.join("removed.jsonl");
    let original = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<&str> = original.lines().collect();

    // a removal left out of the log
    std::fs::write(&log, format!("{}\n", lines[1..].join("\n"))).unwrap();
    assert_verify_fails(&out, &["bytes kept", "removed per the log"]);

    // a removal whose kept copy is somewhere else: the same length of
    // unrelated text in another file
    let mut r: Value = serde_json::from_str(lines[0]).unwrap();
    let other = corpus.join("003_0f8a8ee2608b735d.txt");
    let other_text = std::fs::read_to_string(&other).unwrap();
    let mut end = r["removed"]["bytes"][1].as_u64().unwrap() as usize;
    while !other_text.is_char_boundary(end) {
        end += 1;
    }
    r["kept"]["path"] = Value::String(other.display().to_string());
    r["kept"]["bytes"] = serde_json::json!([0, end]);
    r["kept"]["doc"] = r["kept"]["path"].clone();
    let mut tampered = vec![r.to_string()];
    tampered.extend(lines[1..].iter().map(|l| l.to_string()));
    std::fs::write(&log, tampered.join("\n") + "\n").unwrap();
    assert_verify_fails(
        &out,
        &["removed.jsonl", "line 1", "contained in its kept copy"],
    );

    // garbage in the log
    std::fs::write(&log, format!("{original}{{not json\n")).unwrap();
    assert_verify_fails(&out, &["removed.jsonl", "line 7"]);
    std::fs::write(&log, &original).unwrap();
    assert_verifies(&out, &[]);

    // an input changed since
    let f = corpus.join("001_87fb1114b3afc742.txt");
    let mut body = std::fs::read(&f).unwrap();
    body.extend_from_slice("新增一行。\n".as_bytes());
    std::fs::write(&f, &body).unwrap();
    assert_verify_fails(
        &out,
        &["001_87fb1114b3afc742.txt", "input changed since clean"],
    );
    std::fs::write(&f, &body[..body.len() - "新增一行。\n".len()]).unwrap();
    assert_verifies(&out, &[]);
    // a file added to the input folder
    std::fs::write(corpus.join("005_new.txt"), cjk_text(40, 300)).unwrap();
    assert_verify_fails(&out, &["005_new.txt", "was not read then"]);
}

#[test]
fn verify_checks_jsonl_gzip_and_dropped_documents() {
    let t = TestDir::new();
    let text = cjk_text(11, 700);
    let shared = cjk_text(12, 400);
    let mut lines = String::new();
    for (i, tx) in [
        text.clone(),
        cjk_text(13, 500),
        text.clone(),
        format!("{}\n{shared}\n", cjk_text(14, 300)),
        format!("{}\n{shared}\n", cjk_text(15, 300)),
    ]
    .iter()
    .enumerate()
    {
        lines.push_str(&serde_json::json!({"id": i, "meta": {"n": i}, "text": tx}).to_string());
        lines.push('\n');
    }
    t.write("in/records.jsonl.gz", gzip(lines.as_bytes()));
    t.write("in/a.txt", &text);
    t.write("in/b.txt", &text);
    let out = t.path().join("out");
    clean_ok(&t.path().join("in"), &out);
    let log = json_lines(&out.join("removed.jsonl"));
    assert!(log.iter().any(|r| r["reason"] == "document"), "{log:?}");
    assert!(log.iter().any(|r| r["reason"] == "block"), "{log:?}");
    assert!(!out.join("b.txt").exists());
    assert_verifies(&out, &[]);

    // an untouched record edited in the output
    let gz_out = std::fs::read(out.join("records.jsonl.gz")).unwrap();
    let mut plain = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::MultiGzDecoder::new(&gz_out[..]),
        &mut plain,
    )
    .unwrap();
    let edited = plain.replacen("\"n\":1", "\"n\":9", 1);
    assert_ne!(edited, plain);
    std::fs::write(out.join("records.jsonl.gz"), gzip(edited.as_bytes())).unwrap();
    assert_verify_fails(&out, &["records.jsonl.gz:2", "differs from"]);
    std::fs::write(out.join("records.jsonl.gz"), gz_out).unwrap();
    // a dropped document written back
    std::fs::write(out.join("b.txt"), &text).unwrap();
    assert_verify_fails(&out, &["b.txt", "not the output of any input"]);
}

/// Names in `out` other than the staging folder.
fn only_staging(out: &Path) -> Vec<String> {
    std::fs::read_dir(out)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n != ".neardup-staging")
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn killed_after_one_staged_file_leaves_no_final_file_and_a_rerun_completes() {
    let t = TestDir::new();
    let corpus = t.copy_seeds("corpus");
    let out = t.path().join("out");
    let o = neardup()
        .args(["clean", "--quiet"])
        .arg(&corpus)
        .arg("-o")
        .arg(&out)
        .env("NEARDUP_TEST_ABORT_AFTER", "1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert_eq!(o.status.code(), None, "killed by SIGABRT");
    assert!(out.join(".neardup-staging").is_dir());
    assert_eq!(only_staging(&out), Vec::<String>::new());
    assert_verify_fails(&out, &["no manifest"]);

    // the next run (forced or not: only the staging folder is there) completes
    clean_ok_with(&corpus, &out, &["--force"]);
    assert!(!out.join(".neardup-staging").exists());
    let fresh = t.path().join("fresh");
    clean_ok(&corpus, &fresh);
    for e in std::fs::read_dir(&fresh).unwrap() {
        let name = e.unwrap().file_name();
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(fresh.join(&name)).unwrap(),
            "{name:?}"
        );
    }
    assert_eq!(
        std::fs::read_dir(&out).unwrap().count(),
        std::fs::read_dir(&fresh).unwrap().count()
    );
    assert_verifies(&out, &[]);
}

#[cfg(unix)]
#[test]
fn sigterm_or_ctrl_c_while_writing_exits_130_and_leaves_nothing() {
    for signal in ["TERM", "INT"] {
        let t = TestDir::new();
        let corpus = t.copy_seeds("corpus");
        let out = t.path().join("out");
        let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("neardup"))
            .args(["clean", "--quiet"])
            .arg(&corpus)
            .arg("-o")
            .arg(&out)
            // holds the run after each staged file until a signal comes
            .env("NEARDUP_TEST_STAGE_DELAY_MS", "60000")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let staged = out.join(".neardup-staging/files");
        let start = std::time::Instant::now();
        while std::fs::read_dir(&staged).map_or(0, |d| d.count()) == 0 {
            assert!(start.elapsed().as_secs() < 60, "nothing staged");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let kill = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(kill.success());
        let o = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(130), "{signal}: {stderr}");
        assert_eq!(stderr.trim_end(), "neardup: error: interrupted");
        assert!(!out.exists(), "{signal}: {:?}", only_staging(&out));
    }
}
