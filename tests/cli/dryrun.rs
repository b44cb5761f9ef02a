//! `clean --dry-run` previews `clean`: the same removals, line for line,
//! and the same numbers, with nothing written to the output folder.
//! Issue 16, item 3.

use std::path::Path;

use proptest::prelude::*;

use crate::util::{cjk_text, neardup, s, seeds, TestDir};

/// The three numbers of "remove(d) N documents and M block copies (B bytes)".
fn removed_numbers(line: &str) -> [u64; 3] {
    let number_before = |needle: &str| -> u64 {
        let at = line
            .find(needle)
            .unwrap_or_else(|| panic!("{needle:?} in {line}"));
        let head = &line[..at];
        let start = head.rfind([' ', '(']).map_or(0, |p| p + 1);
        head[start..].parse().expect("a number")
    };
    [
        number_before(" documents and "),
        number_before(" block copies ("),
        number_before(" bytes)"),
    ]
}

/// Runs `clean --dry-run --log DRY` then `clean` on `inputs` with `extra`;
/// asserts that the preview wrote nothing to OUT and that both runs agree
/// on every removal and every number. Gives the removal log.
fn assert_preview_matches(inputs: &[&Path], extra: &[&str]) -> String {
    let t = TestDir::new();
    let out = t.path().join("out");
    let dry_log = t.path().join("dry.jsonl");
    let dry = neardup()
        .args(["clean", "--dry-run", "--quiet"])
        .args(inputs)
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg("--log")
        .arg(&dry_log)
        .output()
        .expect("runs");
    let dry_out = String::from_utf8_lossy(&dry.stdout).to_string();
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    assert!(
        !out.exists(),
        "a dry run writes nothing to the output folder"
    );
    let real = neardup()
        .arg("clean")
        .args(inputs)
        .args(extra)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("runs");
    let real_err = String::from_utf8_lossy(&real.stderr).to_string();
    assert!(real.status.success(), "{real_err}");
    let preview = std::fs::read_to_string(&dry_log).expect("dry-run log");
    let log = std::fs::read_to_string(out.join("removed.jsonl")).expect("clean's log");
    assert_eq!(preview, log, "the same removals, byte for byte");
    let summary = real_err
        .lines()
        .find(|l| l.starts_with("neardup: wrote "))
        .expect("clean's summary");
    assert!(dry_out.contains("would remove "), "{dry_out}");
    assert_eq!(removed_numbers(&dry_out), removed_numbers(summary));
    let files = |line: &str| {
        line.split_whitespace()
            .nth(if line.contains("dry run") { 5 } else { 2 })
            .map(str::to_string)
    };
    assert_eq!(files(&dry_out), files(summary), "{dry_out} / {summary}");
    log
}

#[test]
fn dry_run_of_the_seeds_is_what_clean_removes() {
    let log = assert_preview_matches(&[&seeds()], &[]);
    assert!(log.contains("\"round\":2"), "the seeds need a second round");
}

/// A corpus of `docs` text files and a JSONL file built from a handful of
/// passages: each document strings some of them together with text of its
/// own, some copies lightly edited, so that copies overlap differently
/// (which is what leaves repeats for clean's later rounds).
fn generated_corpus(t: &TestDir, seed: u64, docs: usize) -> std::path::PathBuf {
    let passages: Vec<String> = (0..5).map(|p| cjk_text(seed * 100 + p, 260)).collect();
    let mut state = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let root = t.path().join(format!("corpus{seed}"));
    let mut jsonl = String::new();
    for d in 0..docs {
        let mut text = String::new();
        for k in 0..3 {
            let p = &passages[next(passages.len() as u64) as usize];
            let mut copy: Vec<char> = p.chars().collect();
            if next(3) == 0 {
                // a light edit: a few characters replaced
                for _ in 0..4 {
                    let at = next(copy.len() as u64) as usize;
                    copy[at] = '改';
                }
            }
            text.extend(copy);
            text.push('\n');
            if next(2) == 0 {
                text.push_str(&cjk_text(seed * 1000 + d as u64 * 10 + k, 120));
                text.push('\n');
            }
        }
        if d % 4 == 3 {
            let line = serde_json::json!({ "id": format!("r{d}"), "text": text });
            jsonl.push_str(&line.to_string());
            jsonl.push('\n');
        } else {
            t.write(&format!("corpus{seed}/doc{d:02}.txt"), &text);
        }
    }
    t.write(&format!("corpus{seed}/records.jsonl"), jsonl);
    root
}

#[test]
fn dry_run_agrees_with_clean_on_generated_corpora() {
    let t = TestDir::new();
    let mut later_rounds = 0;
    for seed in 1..=4 {
        let root = generated_corpus(&t, seed, 12);
        let log = assert_preview_matches(&[&root], &["--min-block", "150"]);
        assert!(log.contains("\"reason\":\"block\""), "seed {seed}: {log}");
        later_rounds += log.matches("\"round\":2").count() + log.matches("\"round\":3").count();
        // and with whole-document duplicates and boilerplate dropping too
        let copy = root.join("doc00.txt");
        if copy.exists() {
            std::fs::copy(&copy, root.join("doc00-copy.txt")).expect("copy");
        }
        assert_preview_matches(&[&root], &["--drop-boilerplate", "--boilerplate-docs", "4"]);
    }
    assert!(later_rounds > 0, "some corpus needs more than one round");
}

proptest! {
    // Each case runs the debug binary twice on a dozen documents: a few
    // cases keep this to seconds.
    #![proptest_config(ProptestConfig { cases: 4, .. ProptestConfig::default() })]

    /// Over generated corpora (repeated passages, some edited, a duplicate
    /// document, random seeds), with or without part of the corpus as a
    /// reference and with or without boilerplate dropping, `clean --dry-run`
    /// logs exactly the removals `clean` makes: same spans, reasons, rounds,
    /// cluster ids and reference flags, line for line.
    #[test]
    fn dry_run_removals_are_clean_removals(
        seed in 5u64..1_000_000,
        docs in 6usize..12,
        with_reference in any::<bool>(),
        drop_boilerplate in any::<bool>(),
    ) {
        let t = TestDir::new();
        let root = generated_corpus(&t, seed, docs);
        std::fs::copy(root.join("doc00.txt"), root.join("doc00-copy.txt")).expect("copy");
        let mut extra = vec!["--min-block", "150"];
        if drop_boilerplate {
            extra.extend(["--drop-boilerplate", "--boilerplate-docs", "3"]);
        }
        let reference = t.path().join("reference");
        if with_reference {
            std::fs::create_dir(&reference).expect("mkdir");
            for f in ["doc01.txt", "doc02.txt"] {
                std::fs::rename(root.join(f), reference.join(f)).expect("move");
            }
            extra.extend(["--reference", s(&reference)]);
        }
        let log = assert_preview_matches(&[&root], &extra);
        prop_assert!(log.contains("\"reason\""), "seed {}: something is removed", seed);
        prop_assert_eq!(
            log.contains("\"reference\":true"),
            with_reference,
            "seed {}: removals against the reference only with one",
            seed
        );
    }
}

#[test]
fn dry_run_refuses_a_busy_output_as_clean_does_and_writes_no_default_log() {
    let t = TestDir::new();
    let out = t.write("out/other.txt", "not ours");
    let out = out.parent().expect("folder").to_path_buf();
    let o = neardup()
        .args(["clean", "--dry-run", "--quiet"])
        .arg(seeds())
        .arg("-o")
        .arg(&out)
        .output()
        .expect("runs");
    crate::util::assert_error(&o, "busy output", &[s(&out), "--force"]);
    let fresh = t.path().join("fresh");
    let o = neardup()
        .args(["clean", "--dry-run", "--quiet"])
        .arg(seeds())
        .arg("-o")
        .arg(&fresh)
        .output()
        .expect("runs");
    assert!(o.status.success());
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        said.contains("log: not written (give --log FILE)"),
        "{said}"
    );
    assert!(!fresh.exists(), "nothing written");
}

/// Round 1's cluster ids are the scan report's (the removed copy is a
/// member of the report's cluster of that id); later rounds number theirs
/// after the report's, so that no id names two clusters.
#[test]
fn removal_log_cluster_ids_join_to_the_report_and_never_repeat_across_rounds() {
    let t = TestDir::new();
    let out = t.path().join("out");
    crate::util::clean_ok(&seeds(), &out);
    let report = crate::util::scan_json(&[s(&seeds())]);
    let clusters = report["clusters"].as_array().expect("clusters");
    let max_id = clusters.iter().filter_map(|c| c["id"].as_u64()).max();
    let max_id = max_id.expect("the seeds have clusters");
    let log = std::fs::read_to_string(out.join("removed.jsonl")).expect("log");
    let mut round_of = std::collections::HashMap::new();
    let mut later = 0;
    for line in log.lines() {
        let r: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let (id, round) = (r["cluster"].as_u64().expect("id"), r["round"].as_u64());
        let round = round.expect("round");
        assert_eq!(*round_of.entry(id).or_insert(round), round, "{line}");
        if round == 1 {
            let c = clusters
                .iter()
                .find(|c| c["id"] == id)
                .unwrap_or_else(|| panic!("cluster {id} in the report: {line}"));
            let members = c["members"].as_array().expect("members");
            assert!(
                members.iter().any(|m| m["doc"] == r["removed"]["doc"]),
                "{line} is a copy of report cluster {id}"
            );
        } else {
            later += 1;
            assert!(id > max_id, "round {round} id {id} after {max_id}");
        }
    }
    assert!(later > 0, "the seeds need a second round");
}

/// `clean --force` into the output of an earlier run removes the files that
/// run wrote (its manifest names them) and writes no more, and nothing else:
/// a file of the user's stays, and `verify` names it as the one file that is
/// not an output; without it, `verify` passes.
#[test]
fn force_into_an_old_output_removes_its_stale_files_and_nothing_else() {
    let t = TestDir::new();
    let first = t.path().join("first");
    let passage = cjk_text(7, 400);
    t.write("first/x.txt", format!("{passage}\n{}\n", cjk_text(8, 300)));
    t.write(
        "first/sub/y.txt",
        format!("{}\n{passage}\n", cjk_text(9, 300)),
    );
    let out = t.path().join("out");
    crate::util::clean_ok(&first, &out);
    assert!(out.join("sub/y.txt").is_file() && out.join("removed.jsonl").is_file());
    let notes = t.write("out/notes.md", "mine");

    let second = t.path().join("second");
    t.write("second/z.txt", format!("{passage}\n{passage}\n"));
    let elsewhere = t.path().join("second.jsonl");
    let o = crate::util::run(
        "clean",
        &[&second],
        &["--force", "--log", s(&elsewhere)],
        &out,
    );
    let said = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{said}");
    assert!(
        said.contains("removed 3 files an earlier run wrote"),
        "{said}"
    );
    for gone in ["x.txt", "sub/y.txt", "sub", "removed.jsonl"] {
        assert!(!out.join(gone).exists(), "{gone} of the first run is gone");
    }
    assert!(out.join("z.txt").is_file());
    assert_eq!(std::fs::read_to_string(&notes).expect("kept"), "mine");
    let v = neardup().arg("verify").arg(&out).output().expect("runs");
    crate::util::assert_error(&v, "a file of the user's", &["notes.md", "not the output"]);
    std::fs::remove_file(&notes).expect("rm");
    neardup().arg("verify").arg(&out).assert().success();

    // An old output read as an input of the next run is an input: kept.
    let out2 = t.path().join("out2");
    crate::util::clean_ok(&first, &out2);
    let input = out2.join("sub");
    let before = std::fs::read(input.join("y.txt")).expect("old output");
    crate::util::clean_ok_with(&input, &out2, &["--force"]);
    assert_eq!(std::fs::read(input.join("y.txt")).expect("kept"), before);
    assert!(
        !out2.join("x.txt").exists(),
        "x.txt of the first run is gone"
    );
    assert!(out2.join("y.txt").is_file());
}

/// Each removal says what its byte fields count: `removed.bytes` of a
/// GB18030 file are offsets of that file's bytes, `bytes_removed` counts
/// the decoded text as UTF-8, and the two agree on the same text.
#[test]
fn removal_log_names_the_unit_of_every_byte_field() {
    let t = TestDir::new();
    let passage = cjk_text(21, 400);
    t.write("c/a.txt", format!("{}\n{passage}\n", cjk_text(22, 300)));
    let gb_text = format!("{passage}\n{}\n", cjk_text(23, 300));
    let (gb, _, _) = encoding_rs::GB18030.encode(&gb_text);
    let gb_path = t.write("c/b.txt", &gb);
    let out = t.path().join("out");
    crate::util::clean_ok(&t.path().join("c"), &out);
    let log = std::fs::read_to_string(out.join("removed.jsonl")).expect("log");
    let r: serde_json::Value =
        serde_json::from_str(log.lines().next().expect("a removal")).expect("JSON");
    assert_eq!(r["removed"]["path"], s(&gb_path), "{log}");
    assert_eq!(r["units"]["removed"], "file:gb18030", "{log}");
    assert_eq!(r["units"]["kept"], "file:UTF-8", "{log}");
    assert_eq!(r["units"]["bytes_removed"], "text:UTF-8", "{log}");
    let at = |i: usize| r["removed"]["bytes"][i].as_u64().expect("offset") as usize;
    let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(&gb[at(0)..at(1)]);
    assert!(gb_text.contains(text.as_ref()) && text.contains(&passage[..60]));
    assert_eq!(
        text.len() as u64,
        r["bytes_removed"].as_u64().expect("count")
    );
    assert!(at(1) - at(0) < text.len(), "file bytes are not UTF-8 bytes");
}
