//! Same input and options, same bytes out, at any thread count.

use std::path::Path;

use crate::util::{cjk_text, clusters, s, scan_json, scan_json_bytes, seeds, TestDir};

fn scan_bytes(input: &Path, threads: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec![s(input), "--threads", threads];
    args.extend_from_slice(extra);
    scan_json_bytes(&args)
}

#[test]
fn seeds_report_is_identical_with_1_2_and_8_threads() {
    let one = scan_bytes(&seeds(), "1", &[]);
    assert_eq!(one, scan_bytes(&seeds(), "2", &[]));
    assert_eq!(one, scan_bytes(&seeds(), "8", &[]));
}

#[test]
fn generated_corpus_report_is_identical_across_threads_and_runs() {
    let t = TestDir::new();
    let mut lines = String::new();
    for i in 0..300u64 {
        // every fifth document is an edited copy of an earlier one
        let text = if i % 5 == 4 {
            let mut c: Vec<char> = cjk_text(i - 1, 400).chars().collect();
            c[i as usize % 50] = '某';
            c.into_iter().collect()
        } else {
            cjk_text(i, 400)
        };
        lines.push_str(&serde_json::json!({"id": format!("d{i}"), "text": text}).to_string());
        lines.push('\n');
    }
    let f = t.write("c.jsonl", lines);
    let one = scan_bytes(&f, "1", &[]);
    let report: serde_json::Value = serde_json::from_slice(&one).expect("json");
    assert_eq!(report["summary"]["duplicate_documents"], 60);
    assert_eq!(one, scan_bytes(&f, "2", &[]));
    assert_eq!(one, scan_bytes(&f, "8", &[]));
    assert_eq!(one, scan_bytes(&f, "2", &[]));
}

#[test]
fn streaming_document_scan_equals_the_in_memory_scan() {
    // `--level doc` stops after the document stage; `--level all` goes on
    // to blocks among the documents left. Their document clusters must agree.
    let t = TestDir::new();
    let mut lines = String::new();
    for i in 0..120u64 {
        let text = if i % 4 == 3 {
            let mut c: Vec<char> = cjk_text(i - 2, 500).chars().collect();
            c[(i as usize * 7) % 400] = '某';
            c.into_iter().collect()
        } else {
            cjk_text(i, 500)
        };
        lines.push_str(
            &serde_json::json!({"id": format!("d{i}"), "n": i, "text": text}).to_string(),
        );
        lines.push('\n');
    }
    let f = t.write("c.jsonl", &lines);
    let doc_clusters = |level: &str| {
        let r = scan_json(&[s(&f), "--level", level]);
        serde_json::to_string(&clusters(&r, "document")).unwrap()
    };
    let streamed = doc_clusters("doc");
    assert!(streamed.contains("\"d3\""), "{streamed}");
    assert_eq!(streamed, doc_clusters("all"));
}
