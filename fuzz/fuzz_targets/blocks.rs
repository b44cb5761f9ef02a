//! Small arbitrary text cut into one to three documents, scanned for blocks
//! of 20 characters or more: the scan must not panic, and the clean plan
//! must pass its own no-loss check. Each removal's span must also hold up
//! the way `neardup verify` judges it later: its text contained in its kept
//! copy's text at the block threshold.

#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::align::containment;
use neardup::blocks::BlockOptions;
use neardup::clean::{self, CleanOptions};
use neardup::corpus::Corpus;
use neardup::normalize::{normalize, NormalizeOptions};
use neardup::pipeline::{self, Level, NoProgress, ScanOptions};

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 || data.len() > 4096 {
        return;
    }
    let (knobs, rest) = data.split_at(3);
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    // split points on character boundaries
    let cut = |k: u8| {
        let mut at = text.len() * k as usize / 255;
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        at
    };
    let docs: Vec<&str> = match knobs[0] % 3 {
        0 => vec![text],
        1 => {
            let a = cut(knobs[1]);
            vec![&text[..a], &text[a..]]
        }
        _ => {
            let (a, b) = (cut(knobs[1].min(knobs[2])), cut(knobs[1].max(knobs[2])));
            vec![&text[..a], &text[a..b], &text[b..]]
        }
    };
    let corpus = Corpus::from_texts(&docs);
    let scan = ScanOptions {
        level: if knobs[0] & 8 == 0 {
            Level::Block
        } else {
            Level::All
        },
        normalize: NormalizeOptions {
            mask_fold: knobs[0] & 16 != 0,
        },
        blocks: BlockOptions {
            min_block: 20,
            ..BlockOptions::default()
        },
        ..ScanOptions::default()
    };
    let Ok(report) = pipeline::scan(&corpus, &scan, &NoProgress) else {
        return;
    };
    let opts = CleanOptions {
        out: "unused".into(),
        log: None,
        force: false,
        scan: scan.clone(),
        text_field: "text".into(),
    };
    let plan = clean::plan(&corpus, &report, &opts).expect("plan");
    if let Err(e) = clean::check_plan(&corpus, &plan, &opts) {
        panic!("check_plan: {e}");
    }
    for r in &plan.removals {
        // from_texts inputs are UTF-8 text files: log bytes are text bytes
        let text_of = |p: &clean::Place, spans: &[[u64; 2]]| -> String {
            let d = corpus.docs.iter().position(|d| d.id == p.doc).expect("doc");
            let t = &corpus.docs[d].text;
            if spans.is_empty() {
                t[p.bytes[0] as usize..p.bytes[1] as usize].to_string()
            } else {
                spans
                    .iter()
                    .map(|s| &t[s[0] as usize..s[1] as usize])
                    .collect()
            }
        };
        let norm = |t: &str| normalize(t, &scan.normalize).chars;
        let c = containment(
            &norm(&text_of(&r.removed, &r.spans)),
            &norm(&text_of(&r.kept, &[])),
        );
        let limit = if r.reason == "document" {
            scan.threshold
        } else {
            scan.blocks.threshold
        };
        assert!(
            c + 1e-9 >= limit,
            "removal {:?} is {c} contained in its kept copy {:?} ({} logged)",
            r.removed,
            r.kept,
            r.containment
        );
    }
});
