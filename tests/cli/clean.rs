//! `neardup clean`: what is kept, what is removed, and the log.

use serde_json::Value;

use crate::util::{neardup, seeds, TestDir};

fn read_log(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("log")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn seed_lines(file: &str, first: usize, last: usize) -> String {
    let text = std::fs::read_to_string(seeds().join(file)).expect("seed");
    text.split_inclusive('\n')
        .skip(first - 1)
        .take(last - first + 1)
        .collect()
}

fn clean_seeds(t: &TestDir) -> std::path::PathBuf {
    let out = t.path().join("out");
    neardup()
        .args(["clean", "--quiet"])
        .arg(seeds())
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
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
    let log = read_log(&out.join("removed.jsonl"));
    let mut by_file: std::collections::BTreeMap<String, Vec<&Value>> = Default::default();
    for r in &log {
        assert_eq!(r["reason"], "block");
        assert!(r["containment"].as_f64() >= Some(0.8), "{r}");
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
    neardup()
        .args(["clean", "--quiet"])
        .arg(&corpus)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(corpus.join("002_213c1cc202ead32c.txt")).expect("read"),
        before
    );
    // a second run into the same folder needs --force
    let again = neardup()
        .args(["clean", "--quiet"])
        .arg(&corpus)
        .arg("-o")
        .arg(&out)
        .output()
        .expect("runs");
    assert_eq!(again.status.code(), Some(2));
    neardup()
        .args(["clean", "--quiet", "--force"])
        .arg(&corpus)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
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
    let text = crate::util::cjk_text(5, 800);
    let mut edited: Vec<char> = text.chars().collect();
    for i in (0..edited.len()).step_by(20) {
        edited[i] = '某';
    }
    let edited: String = edited.into_iter().collect();
    t.write("in/a.txt", &text);
    t.write("in/b.txt", &edited);
    t.write("in/c.txt", crate::util::cjk_text(6, 800));
    let out = t.path().join("out");
    neardup()
        .args(["clean", "--quiet"])
        .arg(t.path().join("in"))
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    assert!(out.join("a.txt").exists());
    assert!(!out.join("b.txt").exists());
    assert!(out.join("c.txt").exists());
    let log = read_log(&out.join("removed.jsonl"));
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
    let a = t.write("a/x.txt", crate::util::cjk_text(1, 300));
    let b = t.write("b/x.txt", crate::util::cjk_text(2, 300));
    let out = t.path().join("out");
    crate::util::assert_fails(
        neardup()
            .args(["clean", "--quiet"])
            .arg(&a)
            .arg(&b)
            .arg("-o")
            .arg(&out),
        2,
        "would both be written",
    );
    assert!(!out.exists());
}

#[test]
fn jsonl_with_bom_keeps_its_bom() {
    let t = TestDir::new();
    let text = crate::util::cjk_text(3, 400);
    let mut body = vec![0xEF, 0xBB, 0xBF];
    for (i, tx) in [&text, &text, &crate::util::cjk_text(4, 400)]
        .iter()
        .enumerate()
    {
        body.extend(serde_json::json!({"id": i, "text": tx}).to_string().bytes());
        body.push(b'\n');
    }
    let f = t.write("c.jsonl", body);
    let out = t.path().join("out");
    neardup()
        .args(["clean", "--quiet"])
        .arg(&f)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    let written = std::fs::read(out.join("c.jsonl")).expect("out");
    assert!(written.starts_with(&[0xEF, 0xBB, 0xBF]));
    assert_eq!(String::from_utf8_lossy(&written[3..]).lines().count(), 2);
}

#[test]
fn jsonl_from_stdin_cannot_be_cleaned_and_says_so() {
    let t = TestDir::new();
    let out = t.path().join("out");
    crate::util::assert_fails(
        neardup()
            .args(["clean", "--quiet", "-", "-o"])
            .arg(&out)
            .write_stdin("{\"text\": \"今天我们召开会议\"}\n"),
        2,
        "standard input",
    );
}
