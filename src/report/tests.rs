//! One fixture report rendered through every format (hyperfine's
//! `export/tests.rs`): a skipped input, a cluster with a member below the
//! threshold to the kept copy, JSONL members, a block cluster and document
//! clusters. The JSON schemas and the text report are pinned by insta
//! snapshots; the HTML page is checked for what it must say.

use std::path::PathBuf;

use super::*;
use crate::corpus::{read_corpus, IngestOptions, OnError};
use crate::normalize::NormalizeOptions;
use crate::pipeline::{attach_diffs, scan, NoProgress, ScanOptions};
use crate::variants::{compare, Source};

/// Reproducible CJK text of `n` characters.
fn text(seed: u64, n: usize) -> String {
    let mut rnd = crate::testutil::lcg(seed);
    (0..n)
        .map(|i| match rnd(3000) {
            _ if i % 29 == 28 => '。',
            r => char::from_u32(0x4e00 + r as u32).unwrap_or('一'),
        })
        .collect()
}

/// `t` with characters `from..to` replaced by other text.
fn replaced(t: &str, from: usize, to: usize, seed: u64) -> String {
    let chars: Vec<char> = t.chars().collect();
    let mid = text(seed, to - from);
    format!(
        "{}{mid}{}",
        chars[..from].iter().collect::<String>(),
        chars[to..].iter().collect::<String>()
    )
}

struct Fixture {
    dir: tempfile::TempDir,
    report: Report,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, body: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, body).expect("write");
        p
    };
    // a, b, c: b is a with 12% replaced, c is b with another 12% replaced:
    // c is above the threshold to b, below it to a (the kept copy)
    let a = text(1, 400);
    let b = replaced(&a, 40, 88, 2);
    let c = replaced(&b, 240, 288, 3);
    write("a.txt", &format!("{a}\n"));
    write("b.txt", &format!("{b}\n"));
    // a section repeated inside a JSONL record and a text file
    let block = text(4, 240);
    // and a broken record, which `--on-error skip` skips
    let jsonl = format!(
        "{}\n{}\n{{\"id\": broken\n",
        serde_json::json!({"id": "rec-c", "text": c}),
        serde_json::json!({"id": "rec-block", "text": format!("{}\n{block}\n{}", text(5, 120), text(6, 120))}),
    );
    write("c.jsonl", &jsonl);
    write(
        "d.txt",
        &format!("{}\n{block}\n{}\n", text(7, 100), text(8, 100)),
    );
    write("e.txt", &format!("{}\n", text(9, 300)));
    write("f.txt", &format!("{}\n", text(9, 300)));
    let ingest = IngestOptions {
        on_error: OnError::Skip,
        ..IngestOptions::default()
    };
    let corpus = read_corpus(&[dir.path().to_path_buf()], &ingest).expect("reads");
    let opts = ScanOptions::default();
    let mut report = scan(&corpus, &opts, &NoProgress).expect("scans");
    attach_diffs(&mut report, &corpus, None, &opts.normalize, 1000).expect("diffs");
    Fixture { dir, report }
}

fn rendered(r: &Report, f: Format) -> String {
    let mut out = Vec::new();
    render(r, f, &RenderOptions::default(), &mut out).expect("renders");
    String::from_utf8(out).expect("utf-8")
}

/// `f` rendered, the temporary folder replaced so snapshots do not depend on it.
fn pinned(fx: &Fixture, f: Format) -> String {
    rendered(&fx.report, f).replace(&fx.dir.path().display().to_string(), "[DIR]")
}

#[test]
fn the_fixture_has_what_every_format_must_show() {
    let r = fixture().report;
    assert_eq!(r.skipped.len(), 1, "{:?}", r.skipped);
    let docs: Vec<&Cluster> = r
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Document)
        .collect();
    assert!(docs.iter().any(|c| !c.all_above_threshold));
    assert!(docs
        .iter()
        .any(|c| c.members.iter().any(|m| m.record.is_some())));
    let block = r
        .clusters
        .iter()
        .find(|c| c.kind == ClusterKind::Block)
        .expect("a block cluster");
    assert!(block.members.iter().any(|m| m.record.is_some()));
}

#[test]
fn json_report_schema() {
    let fx = fixture();
    insta::assert_snapshot!(pinned(&fx, Format::Json));
}

#[test]
fn a_large_json_report_is_rendered_as_serde_renders_it_whole() {
    // clusters are rendered in parallel pieces past a few hundred: the
    // bytes must be those of the one-piece printer, across piece bounds
    let mut r = fixture().report;
    if let Some(m) = r.clusters[0].members.first_mut() {
        m.preview = "line\nbreak, \"quoted\" [] {}\n  \"clusters\": []".into();
    }
    let one = r.clusters.clone();
    while r.clusters.len() < 4096 + 300 {
        r.clusters.extend(one.iter().cloned());
    }
    let whole = serde_json::to_string_pretty(&r).expect("serialises") + "\n";
    assert_eq!(rendered(&r, Format::Json), whole);
    r.skipped.clear();
    let whole = serde_json::to_string_pretty(&r).expect("serialises") + "\n";
    assert_eq!(rendered(&r, Format::Json), whole);
}

#[test]
fn text_report() {
    let fx = fixture();
    insta::assert_snapshot!(pinned(&fx, Format::Text));
}

#[test]
fn variants_schema_and_text_diff() {
    let src = |label: &str, text: &str| Source {
        label: label.into(),
        text: text.into(),
        first_line: 1,
    };
    let v = compare(
        &[
            src(
                "a.txt:1-4",
                "各位领导：\n睢县、柘城县召开会议。\n研究工作。\n汇报完毕。\n",
            ),
            src(
                "b.txt:1-4",
                "各位领导：\nXX县召开会议。\n研究工作。\n汇报完毕。\n",
            ),
        ],
        &NormalizeOptions::default(),
    );
    let mut json = Vec::new();
    render_variants(&v, Format::Json, &RenderOptions::default(), &mut json).expect("renders");
    insta::assert_snapshot!("variants_json", String::from_utf8_lossy(&json));
    let mut text = Vec::new();
    let opts = RenderOptions {
        context: 1,
        ..RenderOptions::default()
    };
    render_variants(&v, Format::Text, &opts, &mut text).expect("renders");
    insta::assert_snapshot!("variants_text", String::from_utf8_lossy(&text));
}

/// The JSON blob the HTML page's script reads.
fn page_data(html: &str) -> serde_json::Value {
    let start = html
        .find("<script type=\"application/json\" id=\"data\">")
        .expect("data blob");
    let body = &html[start..];
    let body = &body[body.find('>').expect("tag end") + 1..body.find("</script>").expect("end")];
    serde_json::from_str(body).expect("valid JSON")
}

#[test]
fn html_shows_what_the_text_report_shows() {
    let fx = fixture();
    let r = &fx.report;
    let html = rendered(r, Format::Html);
    let text = rendered(r, Format::Text);
    assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"zh\">"));
    assert!(html.contains("Content-Security-Policy"));
    // the summary, the skipped input, the below-threshold warning, the options
    assert!(html.contains(&summary_line(&r.summary)));
    assert!(html.contains("1 inputs were skipped") && html.contains("c.jsonl:3"));
    assert!(html.contains(BELOW_THRESHOLD) && text.contains(BELOW_THRESHOLD));
    assert!(html.contains("threshold=0.8") && html.contains(env!("CARGO_PKG_VERSION")));
    // every cluster, every location the text report prints
    let data = page_data(&html);
    let clusters = data["clusters"].as_array().expect("clusters");
    assert_eq!(clusters.len(), r.clusters.len());
    for (c, d) in r.clusters.iter().zip(clusters) {
        assert_eq!(d[0], c.id);
        assert_eq!(d[1], kind_name(c.kind));
        for (m, dm) in c.members.iter().zip(d[7].as_array().expect("members")) {
            let loc = location(m, c.kind);
            assert_eq!(dm[0], loc.as_str());
            assert!(text.contains(&loc), "{loc} not in the text report");
            if m.record.is_some() {
                assert_eq!(dm[1], m.doc.as_str());
            }
        }
    }
    // a block inside a JSONL record has a location `diff` reads
    assert!(text.contains(".jsonl:2@"), "{text}");
}

#[test]
fn copies_are_diffed_in_aligned_rows_and_identical_ones_say_so() {
    let r = fixture().report;
    let data = page_data(&rendered(&r, Format::Html));
    let diffs = data["diffs"].as_array().expect("diffs");
    // e.txt and f.txt are the same text: no second copy, a note
    assert!(diffs.iter().any(|d| d["n"] == 0 && d.get("r").is_none()));
    // the others: rows with line numbers on both sides and a change count
    let changed = diffs
        .iter()
        .find(|d| d["n"].as_u64().unwrap_or(0) > 0)
        .expect("a changed copy");
    let rows = changed["r"].as_array().expect("rows");
    assert!(rows.iter().all(|r| r[0].is_u64() && r[1].is_u64()));
    assert!(rows.iter().any(|r| r.as_array().map(Vec::len) == Some(5)));
}

#[test]
fn a_copy_included_by_containment_says_so() {
    let mut r = fixture().report;
    let c = r
        .clusters
        .iter_mut()
        .find(|c| c.kind == ClusterKind::Block)
        .expect("a block cluster");
    let dup = usize::from(c.keep == 0);
    c.members[dup].similarity = 0.556;
    c.members[dup].containment = Some(0.97);
    let text = rendered(&r, Format::Text);
    assert!(text.contains("(0.556, contained)"), "{text}");
    let data = page_data(&rendered(&r, Format::Html));
    let block = data["clusters"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c[1] == "block"))
        .expect("block cluster");
    assert_eq!(block[7][dup][2], "0.556 (contained)");
    // a low similarity without containment is just a number
    r.clusters.iter_mut().for_each(|c| {
        c.members.iter_mut().for_each(|m| m.containment = Some(0.5));
    });
    assert!(!rendered(&r, Format::Text).contains("contained"));
}

#[test]
fn control_characters_never_reach_the_terminal() {
    assert_eq!(
        escape_controls("a\u{1b}]0;title\u{7}b"),
        "a\\x1b]0;title\\x07b"
    );
    assert_eq!(escape_controls("x\u{9b}31m\r\0"), "x\\u{9b}31m\\r\\x00");
    assert_eq!(escape_controls("行一\n\t行二"), "行一\n\t行二");
}

#[test]
fn previews_fit_the_terminal() {
    let r = fixture().report;
    let lines = |width: Option<usize>| -> Vec<String> {
        let opts = RenderOptions {
            width,
            ..RenderOptions::default()
        };
        let mut out = Vec::new();
        render(&r, Format::Text, &opts, &mut out).expect("renders");
        let text = String::from_utf8(out).expect("utf-8");
        text.lines()
            .filter(|l| l.starts_with("  keep") || l.starts_with("   dup"))
            .map(str::to_string)
            .collect()
    };
    let wide = lines(None);
    assert!(wide.iter().any(|l| console::measure_text_width(l) > 100));
    let cut = lines(Some(100));
    for (w, c) in wide.iter().zip(&cut) {
        assert!(console::measure_text_width(c) <= 100, "{c}");
        // the location and similarity stay whole; only the preview is cut
        let head = &w[..w.rfind("  ").expect("preview")];
        assert!(c.starts_with(head), "{c}");
    }
}
