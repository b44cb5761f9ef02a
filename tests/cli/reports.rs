//! Reports people read: what reaches the terminal, and locations that
//! `neardup diff` reads back (issue 12).

use serde_json::Value;

use crate::util::{cjk_text, clusters, neardup, scan_json, succeeded, TestDir};

/// No byte of `out` is a control character a terminal would act on: below
/// 0x20 only line feed and tab, no DEL, no C1 (U+0080–U+009F).
fn assert_inert(what: &str, out: &[u8]) {
    let text = String::from_utf8_lossy(out);
    for (i, c) in text.chars().enumerate() {
        let bad = (c < ' ' && c != '\n' && c != '\t') || ('\u{7f}'..='\u{9f}').contains(&c);
        assert!(!bad, "{what}: raw control {:?} at char {i}: {text}", c);
    }
}

// See: issue 12, "The terminal"
#[test]
fn r12_control_characters_in_documents_and_paths_are_shown_escaped() {
    let dir = TestDir::new();
    let hostile = "\u{1b}]0;pwned\u{7}\u{1b}[31m\u{0}\u{8}\r\u{9b}2J\u{85}";
    // (text files with NUL are skipped as binary, and names cannot hold it)
    let named = hostile.replace('\u{0}', "");
    let body = format!("{named}{}{named}\n", cjk_text(1, 400));
    let a = dir.write(&format!("a{named}.txt"), &body);
    let b = dir.write(&format!("b{named}.txt"), &body);
    // a JSONL record whose id and text hold them too, and a broken record
    dir.write(
        "c.jsonl",
        format!(
            "{}\n{{broken\u{1b}[2J\n",
            serde_json::json!({"id": format!("id{hostile}"), "text": format!("{hostile}{body}")})
        ),
    );
    let out = succeeded(neardup().arg("scan").arg(dir.path()).args([
        "--color",
        "never",
        "--on-error",
        "skip",
    ]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("3 copies"), "{text}");
    assert!(text.contains("\\x1b]0;pwned\\x07"), "shown escaped: {text}");
    assert_inert("scan report", &out.stdout);
    assert_inert("scan warnings", &out.stderr);

    for args in [vec![], vec!["--template"]] {
        let out = neardup()
            .arg("diff")
            .arg(&a)
            .arg(&b)
            .args(&args)
            .args(["--color", "never"])
            .output()
            .expect("runs");
        assert!(out.status.success());
        assert_inert("diff", &out.stdout);
    }
}

/// The locations the text report prints for `kind` clusters, without the
/// record id and similarity after them.
fn locations(report: &str, kind: &str) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    let mut inside = false;
    for line in report.lines() {
        if line.starts_with(kind) && line.contains(" cluster ") {
            out.push(Vec::new());
            inside = true;
        } else if inside && (line.starts_with("  keep ") || line.starts_with("   dup ")) {
            let loc = line.trim_start()[4..].trim_start();
            let loc = loc.split(' ').next().expect("location");
            if let Some(c) = out.last_mut() {
                c.push(loc.to_string());
            }
        } else {
            inside = false;
        }
    }
    out
}

fn diff_similarity(a: &str, b: &str) -> f64 {
    let out = succeeded(neardup().args(["diff", a, b, "--format", "json"]));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["sources"][1]["similarity"].as_f64().expect("similarity")
}

// See: issue 12, "Every location the report prints can be diffed"
#[test]
fn r12_a_block_inside_a_jsonl_record_is_printed_as_a_location_diff_reads() {
    let dir = TestDir::new();
    let block = cjk_text(7, 300);
    let rec = |id: &str, seed: u64| {
        serde_json::json!({
            "id": id,
            "text": format!("{}\n{block}\n{}", cjk_text(seed, 500), cjk_text(seed + 1, 500)),
        })
    };
    let file = dir.write(
        "crawl.jsonl",
        format!("{}\n{}\n", rec("x", 10), rec("y", 20)),
    );
    let out = neardup()
        .arg("scan")
        .arg(&file)
        .args(["--level", "block", "--quiet"])
        .output()
        .expect("runs");
    let report = String::from_utf8(out.stdout).expect("utf-8");
    let found = locations(&report, "block");
    assert_eq!(found.len(), 1, "{report}");
    let locs = &found[0];
    assert!(
        locs.iter()
            .all(|l| l.contains(".jsonl:") && l.contains('@')),
        "{report}"
    );
    // the block, not the whole record, is compared
    assert!(diff_similarity(&locs[0], &locs[1]) > 0.99, "{locs:?}");
    let whole = |l: &str| l.split('@').next().expect("record").to_string();
    assert!(diff_similarity(&whole(&locs[0]), &whole(&locs[1])) < 0.5);
    // and a range that is not in the record is a clear error
    let bad = format!("{}@0-999999", whole(&locs[0]));
    crate::util::assert_fails(
        neardup().args(["diff", &bad, &locs[1]]),
        2,
        "bytes must be within",
    );
}

#[test]
fn the_text_diff_folds_unchanged_lines_like_diff_u() {
    let dir = TestDir::new();
    let lines: Vec<String> = (0..30).map(|i| cjk_text(100 + i, 20)).collect();
    let mut changed = lines.clone();
    changed[15] = cjk_text(999, 20);
    let a = dir.write("a.txt", lines.join("\n") + "\n");
    let b = dir.write("b.txt", changed.join("\n") + "\n");
    let run = |context: &str| -> String {
        let out = neardup()
            .arg("diff")
            .arg(&a)
            .arg(&b)
            .args(["-U", context])
            .output()
            .expect("runs");
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let u3 = run("3");
    assert!(u3.starts_with("[1] "), "{u3}");
    assert!(u3.contains("\n1 change\n"), "{u3}");
    assert!(u3.contains("\n@@ -13,7 +13,7 @@\n"), "{u3}");
    assert!(u3.contains("⋯ 12 unchanged lines"), "{u3}");
    assert!(u3.contains(&format!("-[-{}-]", lines[15])), "{u3}");
    assert!(u3.contains(&format!("+{{+{}+}}", changed[15])), "{u3}");
    let u0 = run("0");
    assert!(u0.contains("@@ -16,1 +16,1 @@"), "{u0}");
    assert!(!u0.contains(&lines[14]), "{u0}");
    // --template shows the template view of two texts instead
    let t = neardup()
        .arg("diff")
        .arg(&a)
        .arg(&b)
        .arg("--template")
        .output()
        .expect("runs");
    let t = String::from_utf8(t.stdout).expect("utf-8");
    assert!(
        !t.contains("@@") && t.contains(&format!("  [2] {}", changed[15])),
        "{t}"
    );
    // an identical copy is said to be one, not printed twice
    let same = neardup()
        .arg("diff")
        .arg(&a)
        .arg(&a)
        .output()
        .expect("runs");
    let same = String::from_utf8(same.stdout).expect("utf-8");
    assert!(same.contains("identical after normalisation"), "{same}");
    assert!(!same.contains(&lines[0]), "{same}");
}

#[test]
fn dash_as_the_output_file_means_standard_output() {
    let dir = TestDir::new();
    let out = succeeded(
        neardup()
            .current_dir(dir.path())
            .args(["scan", "--quiet", "--format", "json", "-o", "-"])
            .arg(crate::util::seeds()),
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON report on stdout");
    assert!(report["clusters"].as_array().is_some_and(|c| !c.is_empty()));
    assert!(
        !dir.path().join("-").exists(),
        "`-o -` wrote a file named '-'"
    );
}

// Exact copies (the same text once normalised) are one text to the report:
// the copy verification aligned and the copy that joined it by its exact
// hash show the same length and the same similarity to the kept copy, and
// `--keep longest` keeps a copy no other outmeasures. Latin words inside the
// Chinese make the case: `ab cd` and `abcd` are the same characters, but
// two words against one to the alignment.
#[test]
fn exact_copies_report_one_length_and_one_similarity() {
    let dir = TestDir::new();
    let (p1, p2) = (cjk_text(41, 300), cjk_text(42, 300));
    let kept = format!("{p1} XX 报告 ab cd {p2}");
    let edited = format!("{p1} XX 报告 ab cd {}{}", cjk_text(43, 12), &p2[36..]);
    let copy = edited.replace("ab cd", "abcd").replace('。', "。\n");
    let lines: String = [("kept", &kept), ("edited", &edited), ("copy", &copy)]
        .iter()
        .map(|(id, t)| format!("{}\n", serde_json::json!({"id": id, "text": t})))
        .collect();
    let path = dir.write("c.jsonl", lines);
    for keep in ["first", "longest"] {
        let report = scan_json(&[path.to_str().expect("utf-8"), "--keep", keep]);
        let docs = clusters(&report, "document");
        assert_eq!(docs.len(), 1, "{report:#}");
        let members = docs[0]["members"].as_array().expect("members");
        assert_eq!(members.len(), 3, "{report:#}");
        let by_id = |id: &str| {
            members
                .iter()
                .find(|m| m["doc"] == id)
                .unwrap_or_else(|| panic!("{id} in {report:#}"))
        };
        let (e, c) = (by_id("edited"), by_id("copy"));
        assert_eq!(e["chars"], c["chars"], "{report:#}");
        if keep == "first" {
            assert_eq!(e["similarity"], c["similarity"], "{report:#}");
            assert!(e["similarity"].as_f64().expect("number") < 1.0);
        }
        let k = docs[0]["keep"].as_u64().expect("keep") as usize;
        let most = members.iter().map(|m| m["chars"].as_u64().expect("chars"));
        assert_eq!(
            members[k]["chars"].as_u64(),
            most.max(),
            "{keep}: {report:#}"
        );
    }
}
