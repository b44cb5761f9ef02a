//! `neardup diff`: the diff and template expectations of fixtures/SEEDS.md
//! (004: a diff between copies shows their differences character by
//! character and nothing else; 000: the template view shows the shared
//! skeleton and the differing slots), and its error handling.

use serde_json::Value;

use crate::util::{assert_fails, clusters, neardup, s, scan_json, seeds, TestDir};

const F000: &str = "000_e9ae08571794868f.txt";
const F004: &str = "004_792cc556aa004db2.txt";

fn span(file: &str, lines: &str) -> String {
    format!("{}:{lines}", seeds().join(file).display())
}

fn diff_json(spans: &[String]) -> Value {
    let out = neardup()
        .arg("diff")
        .args(spans)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "diff failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("valid JSON")
}

fn runs<'a>(v: &'a Value, op: &str) -> Vec<&'a str> {
    v["diff"]
        .as_array()
        .expect("diff runs")
        .iter()
        .filter(|r| r["op"] == op)
        .map(|r| r["text"].as_str().expect("text"))
        .collect()
}

fn visible(s: &str) -> usize {
    s.chars().filter(|c| !c.is_whitespace()).count()
}

#[test]
fn copies_of_the_speech_differ_only_where_seeds_md_says() {
    // copy A (lines 2-24) against copy B (lines 45-67)
    let v = diff_json(&[span(F004, "2-24"), span(F004, "45-67")]);
    let deleted = runs(&v, "delete");
    let inserted = runs(&v, "insert");
    // B stops after section 三: A's section 四 is a deletion
    assert!(
        deleted
            .iter()
            .any(|t| t.contains("四、切实做好当前几项重点工作")),
        "section four not shown as deleted"
    );
    // A's anonymised xx against B's real names
    assert!(deleted.iter().any(|t| t.contains("xx")), "{deleted:?}");
    assert!(
        inserted
            .iter()
            .any(|t| t.contains("河南") || t.contains("安徽")),
        "{inserted:?}"
    );
    // re-wrapping and spaces inside numbers are not differences
    for t in deleted.iter().chain(&inserted) {
        assert!(visible(t) > 0, "whitespace-only change shown: {t:?}");
    }
    assert!(!inserted
        .iter()
        .any(|t| t.trim() == "24" || t.trim() == "小时"));
    // and nothing else: the diff matches (nearly) as many characters as the
    // exact alignment behind the similarity
    let equal: usize = runs(&v, "equal").iter().map(|t| visible(t)).sum();
    let sim = v["sources"][1]["similarity"].as_f64().expect("similarity");
    let longer = v["sources"]
        .as_array()
        .expect("sources")
        .iter()
        .map(|s| s["chars"].as_u64().expect("chars"))
        .max()
        .expect("two") as f64;
    assert!(sim > 0.8, "copies are near-duplicates: {sim}");
    assert!(
        equal as f64 >= 0.97 * sim * longer,
        "diff matches {equal} chars, alignment {}",
        sim * longer
    );
}

/// Every piece occurs in `text`, each after the one before.
fn assert_in_order(text: &str, pieces: &[&str]) {
    let mut from = 0;
    for piece in pieces {
        match text[from..].find(piece) {
            Some(i) => from += i + piece.len(),
            None => panic!("{piece} not in order in skeleton: {text}"),
        }
    }
}

fn skeleton_of(v: &Value) -> String {
    v["template"]
        .as_array()
        .expect("template")
        .iter()
        .filter(|p| p["kind"] == "skeleton")
        .map(|p| p["text"].as_str().expect("text"))
        .collect()
}

#[test]
fn template_variants_show_the_skeleton_and_the_slots() {
    // 篇一 and 篇二 share greeting, opening, numbered paragraphs and closing
    // (篇三 has neither greeting nor closing, so the three-way skeleton is
    // smaller)
    let two = neardup()
        .arg("diff")
        .args([span(F000, "1-10"), span(F000, "12-21")])
        .args(["--template", "--format", "json"])
        .output()
        .expect("runs");
    assert!(two.status.success());
    let two: Value = serde_json::from_slice(&two.stdout).expect("json");
    // SEEDS.md: the same greeting, the same 一是… 二是… 三是… 四是… skeleton,
    // the same closing 汇报完毕, in that order
    assert_in_order(
        &skeleton_of(&two),
        &[
            "各位领导",
            "今年以来",
            "一是",
            "二是",
            "三是",
            "四是",
            "汇报完毕",
        ],
    );

    let v = diff_json(&[span(F000, "1-10"), span(F000, "12-21"), span(F000, "23-30")]);
    assert!(v.get("diff").is_none(), "three texts: template view only");
    let skeleton = skeleton_of(&v);
    assert_in_order(&skeleton, &["今年以来", "一是", "二是", "三是", "四是"]);
    // the bodies differ: most of each report is in the slots, not the skeleton
    let slots: Vec<&Vec<Value>> = v["template"]
        .as_array()
        .expect("template")
        .iter()
        .filter(|p| p["kind"] == "slot")
        .map(|p| p["texts"].as_array().expect("texts"))
        .collect();
    assert!(!slots.is_empty());
    for i in 0..3 {
        let in_slots: usize = slots
            .iter()
            .map(|s| visible(s[i].as_str().expect("slot text")))
            .sum();
        let chars = v["sources"][i]["chars"].as_u64().expect("chars") as f64;
        assert!(
            in_slots as f64 > 0.8 * chars,
            "report {i}: only {in_slots} of {chars} chars in slots"
        );
    }
    assert!(
        visible(&skeleton) < 100,
        "skeleton is the template, not a body"
    );
}

#[test]
fn text_and_html_show_the_same_diff() {
    let spans = [span(F004, "2-24"), span(F004, "45-67")];
    let text = neardup().arg("diff").args(&spans).output().expect("runs");
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).expect("utf-8");
    assert!(text.contains("[-") && text.contains("{+"), "wdiff markers");
    assert!(!text.contains('\x1b'), "no colour when not a terminal");

    let dir = TestDir::new();
    let html = diff_html(&dir, &spans);
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        !html.contains(" src=") && !html.contains("http:") && !html.contains("https:"),
        "self-contained"
    );
    // the page draws the same rows: section 四 of A deleted, 河南 inserted
    let d = &page_data(&html)["diff"];
    let changed = |side: usize| changed_pieces(d, side).concat();
    assert!(changed(2).contains("四、切实做好当前几项重点工作"));
    assert!(changed(3).contains("河南"));
    assert_eq!(
        d["n"].as_u64(),
        text.split_once(" change")
            .and_then(|(n, _)| n.lines().last()?.parse().ok())
    );
}

#[test]
fn english_diffs_whole_words_with_the_source_spacing_in_every_view() {
    // a re-wrapped copy with one word changed
    let dir = TestDir::new();
    let a = dir.write(
        "a.txt",
        "Our weekly newsletter collects the best posts. Engineers, designers and managers\n\
         already read it each week and it costs nothing to join.\n",
    );
    let b = dir.write(
        "b.txt",
        "Our weekly newsletter collects the best posts.\n\
         Engineers, designers and managers already reads it each\n\
         week and it costs nothing to join.\n",
    );
    let spans = [s(&a).to_string(), s(&b).to_string()];
    let v = diff_json(&spans);
    assert_eq!(runs(&v, "delete"), ["read"]);
    assert_eq!(runs(&v, "insert"), ["reads"]);
    assert!(runs(&v, "equal").iter().any(|t| t.ends_with("\nalready ")));
    assert!(runs(&v, "equal")
        .iter()
        .any(|t| t.starts_with(" it each week")));

    // the terminal view: each line, markers taken out, is a line of its
    // source (no two words run together, no word cut)
    let out = neardup().arg("diff").args(&spans).output().expect("runs");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert!(text.contains("already [-read-] it each week"), "{text}");
    assert!(text.contains("already {+reads+} it each"), "{text}");
    let lines = |p: &std::path::Path| -> Vec<String> {
        std::fs::read_to_string(p)
            .expect("read")
            .lines()
            .map(String::from)
            .collect()
    };
    let (la, lb) = (lines(&a), lines(&b));
    for line in text.lines() {
        let plain: String = line
            .get(1..)
            .unwrap_or("")
            .replace("[-", "")
            .replace("-]", "")
            .replace("{+", "")
            .replace("+}", "");
        match line.chars().next() {
            Some('-') if !line.starts_with("---") => assert!(la.contains(&plain), "{line}"),
            Some('+') if !line.starts_with("+++") => assert!(lb.contains(&plain), "{line}"),
            _ => {}
        }
    }

    // the HTML page marks the same whole words
    let d = &page_data(&diff_html(&dir, &spans))["diff"];
    assert_eq!(
        (changed_pieces(d, 2), changed_pieces(d, 3)),
        (vec!["read"], vec!["reads"])
    );
}

/// The changed pieces of an HTML page's diff rows on `side` (2 left, 3
/// right), in order.
fn changed_pieces(d: &Value, side: usize) -> Vec<&str> {
    d["r"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r.as_array().map(Vec::len) == Some(5))
        .flat_map(|r| {
            r[side]
                .as_array()
                .expect("pieces")
                .iter()
                .skip(1)
                .step_by(2)
        })
        .map(|p| p.as_str().expect("text"))
        .collect()
}

/// The JSON blob an HTML page's script draws from.
pub fn page_data(html: &str) -> Value {
    let open = "<script type=\"application/json\" id=\"data\">";
    let start = html.find(open).expect("data blob") + open.len();
    let end = start + html[start..].find("</script>").expect("end");
    serde_json::from_str(&html[start..end]).expect("valid JSON")
}

#[test]
fn a_bad_span_is_a_clear_error() {
    let file = seeds().join(F000);
    assert_fails(
        neardup()
            .arg("diff")
            .arg(format!("{}:20-5", file.display()))
            .arg(&file),
        2,
        "lines must be within 1-30",
    );
    let dir = TestDir::new();
    let jsonl = dir.write(
        "c.jsonl",
        "{\"text\": \"一二三四五\"}\n{\"text\": \"一二三六五\"}\n",
    );
    assert_fails(
        neardup().arg("diff").arg(&jsonl).arg(&jsonl),
        2,
        "FILE:LINE",
    );
    let out = neardup()
        .arg("diff")
        .arg(format!("{}:1", jsonl.display()))
        .arg(format!("{}:2", jsonl.display()))
        .args(["--format", "json"])
        .output()
        .expect("runs");
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(runs(&v, "delete"), vec!["四"]);
    assert_eq!(runs(&v, "insert"), vec!["六"]);
}

#[test]
fn scan_reports_carry_each_copy_s_diff_from_the_kept_copy() {
    let seeds_dir = seeds();
    let report = scan_json(&[s(&seeds_dir), "--diffs"]);
    let speech = clusters(&report, "block")
        .into_iter()
        .find(|c| c["members"].as_array().expect("members").len() == 4)
        .expect("the four copies of the speech");
    let keep = speech["keep"].as_u64().expect("keep") as usize;
    for (i, m) in speech["members"]
        .as_array()
        .expect("members")
        .iter()
        .enumerate()
    {
        assert_eq!(m.get("diff").is_some(), i != keep, "member {i}");
    }
    // copy B lacks section 四 of the kept copy A
    let b = &speech["members"][1]["diff"];
    assert!(
        b.as_array()
            .expect("runs")
            .iter()
            .any(|r| r["op"] == "delete"
                && r["text"].as_str().expect("text").contains("四、切实做好"))
    );

    // without --diffs the JSON stays lean; HTML always shows them side by side
    let plain = scan_json(&[s(&seeds_dir)]);
    assert!(!plain.to_string().contains("\"diff\""));
    let out = neardup()
        .arg("scan")
        .arg(&seeds_dir)
        .args(["--format", "html", "--quiet"])
        .output()
        .expect("runs");
    let html = String::from_utf8(out.stdout).expect("utf-8");
    let data = page_data(&html);
    let deleted = data["diffs"]
        .as_array()
        .expect("diffs")
        .iter()
        .flat_map(|d| d["r"].as_array().cloned().unwrap_or_default())
        .filter(|r| r.as_array().map(Vec::len) == Some(5))
        .any(|r| {
            r[2][1]
                .as_str()
                .is_some_and(|t| t.starts_with("四、切实做好当前几项重点工作"))
        });
    assert!(deleted, "section four deleted in the page's diff");
}

/// `neardup diff SPANS --format html -o FILE` in `dir`, asserting success:
/// the page written.
fn diff_html<S: AsRef<std::ffi::OsStr>>(dir: &TestDir, spans: &[S]) -> String {
    let page = dir.path().join("diff.html");
    neardup()
        .arg("diff")
        .args(spans)
        .args(["--format", "html", "-o"])
        .arg(&page)
        .assert()
        .success();
    std::fs::read_to_string(&page).expect("written")
}
