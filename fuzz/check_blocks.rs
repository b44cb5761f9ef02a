// The property the `blocks` fuzz target checks, `include!`d by the fuzz
// target and by the regression tests so that both check the same thing.

/// What the `blocks` fuzz target checks, shared with its regression tests in
/// `tests/cli/hostile.rs` (both `include!` this file):
/// three knob bytes, then text cut into one to three documents, scanned for
/// blocks of 20 characters or more; the clean plan must pass its own check,
/// and every removal's text (its spans) must be contained in its kept
/// copy's text at the threshold, as `neardup verify` measures it, and a
/// block removal's logged containment is the measured one. Gives the
/// number of removals; panics on any violation.
pub fn check_blocks(data: &[u8]) -> usize {
    use neardup::blocks::BlockOptions;
    use neardup::clean::{self, CleanOptions};
    use neardup::corpus::Corpus;
    use neardup::normalize::{normalize, NormalizeOptions};
    use neardup::pipeline::{self, Level, NoProgress, ScanOptions};

    use neardup::align::containment;

    if data.len() < 3 || data.len() > 4096 {
        return 0;
    }
    let (knobs, rest) = data.split_at(3);
    let Ok(text) = std::str::from_utf8(rest) else {
        return 0;
    };
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
        return 0;
    };
    let opts = CleanOptions {
        out: "unused".into(),
        log: None,
        force: false,
        scan: scan.clone(),
        text_field: "text".into(),
        drop_boilerplate: false,
        output_compression: Default::default(),
    };
    let plan = clean::plan(&corpus, &report, &opts).expect("plan");
    clean::check_plan(&corpus, &plan, &opts).expect("check_plan");
    for r in &plan.removals {
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
        if r.reason == clean::Reason::Block {
            assert!(
                c + 1e-9 >= scan.blocks.threshold,
                "{r:?}: only {c} contained"
            );
            assert!((c - r.containment).abs() < 1e-4, "{r:?}: measured {c}");
        } else {
            assert!(c + 1e-9 >= scan.threshold, "{r:?}: only {c} contained");
        }
    }
    plan.removals.len()
}
