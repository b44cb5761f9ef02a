//! Properties over generated text (proptest, bounded number of cases),
//! through the library: repeated passages are found, clean accounts for
//! every byte and never removes the only copy of anything, normalisation
//! maps back monotonically, and results do not depend on document order.

use proptest::prelude::*;

use neardup::clean::{self, CleanOptions};
use neardup::corpus::Corpus;
use neardup::normalize::{normalize, NormalizeOptions};
use neardup::pipeline::{scan, Level, NoProgress, ScanOptions};

use crate::util::cjk_text;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A copy of `passage` with a fraction `rate` of its characters substituted
/// and a line break every `wrap`-ish characters.
fn edited_copy(passage: &str, rate: f64, wrap: usize, rng: &mut Rng) -> String {
    let mut out = String::new();
    for (i, c) in passage.chars().enumerate() {
        if (rng.below(10_000) as f64) < rate * 10_000.0 {
            out.push(char::from_u32(0x4e00 + rng.below(3000) as u32).unwrap_or('某'));
        } else {
            out.push(c);
        }
        if i % wrap == wrap - 1 {
            out.push('\n');
        }
    }
    out.push('\n');
    out
}

/// Length of the longest common subsequence of `a` and `b` (plain dynamic
/// programming: an independent measure to check clean's figures against).
fn lcs(a: &[char], b: &[char]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for &x in a {
        let mut diag = 0;
        for (j, &y) in b.iter().enumerate() {
            let up = row[j + 1];
            row[j + 1] = if x == y { diag + 1 } else { up.max(row[j]) };
            diag = up;
        }
    }
    row[b.len()]
}

/// The characters of `text` that are not whitespace (what is compared).
fn visible(text: &str) -> Vec<char> {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

fn clean_opts(scan: &ScanOptions) -> CleanOptions {
    CleanOptions {
        out: std::path::PathBuf::from("unused"),
        log: None,
        force: false,
        scan: scan.clone(),
        text_field: "text".into(),
        drop_boilerplate: false,
        output_compression: Default::default(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    #[test]
    fn repeated_passage_is_found_and_clean_accounts_for_every_byte(
        seed in 1u64..u64::MAX,
        k in 2usize..5,
        len in 260usize..700,
        rate in 0.0f64..0.04,
        wrap in 15usize..120,
        docs in 1usize..3,
    ) {
        let mut rng = Rng(seed);
        let passage = cjk_text(seed ^ 0xabcd, len);
        let mut texts = vec![String::new(); docs];
        let mut uniques = Vec::new();
        let mut copies = Vec::new(); // (doc, byte range)
        for i in 0..k {
            let d = i % docs;
            let unique = cjk_text(seed.wrapping_add(i as u64 * 7919 + 1), 150 + rng.below(300) as usize);
            texts[d].push_str(&unique);
            texts[d].push('\n');
            uniques.push(unique);
            let copy = if i == 0 { passage.clone() + "\n" } else { edited_copy(&passage, rate, wrap, &mut rng) };
            let start = texts[d].len();
            texts[d].push_str(&copy);
            copies.push((d, start..texts[d].len()));
        }
        for (d, t) in texts.iter_mut().enumerate() {
            let tail = cjk_text(seed.wrapping_add(1_000_003 + d as u64), 200);
            t.push_str(&tail);
            uniques.push(tail);
        }
        let corpus = Corpus::from_texts(&texts);
        let opts = ScanOptions { level: Level::Block, ..ScanOptions::default() };
        let report = scan(&corpus, &opts, &NoProgress).unwrap();
        // one cluster holds every inserted copy
        let found = report.clusters.iter().any(|c| {
            copies.iter().all(|(d, r)| c.members.iter().any(|m| {
                let overlap = m.text_range.end.min(r.end).saturating_sub(m.text_range.start.max(r.start));
                m.doc_index == *d && overlap * 10 >= r.len() * 9
            }))
        });
        prop_assert!(found, "copies {:?} not all in one cluster: {:#?}", copies, report.clusters);
        // clean: the log accounts for every byte (the text outside the
        // logged spans, in order, is what is kept), and every logged removal
        // is what it says: its text, measured here, is contained in the kept
        // copy as logged and at least at the threshold
        let copts = clean_opts(&opts);
        let plan = clean::plan(&corpus, &report, &copts).unwrap();
        clean::check_plan(&corpus, &plan, &copts).unwrap();
        let text_of = |doc: &str| &corpus.docs.iter().find(|d| d.id == doc).expect("logged doc").text;
        for (d, doc) in corpus.docs.iter().enumerate() {
            let mut spans: Vec<[u64; 2]> = plan.removals.iter()
                .filter(|r| r.removed.doc == doc.id)
                .flat_map(clean::Removal::removed_spans)
                .collect();
            spans.sort_unstable();
            let (mut outside, mut pos) = (String::new(), 0);
            for [a, b] in spans {
                prop_assert!(a as usize >= pos, "logged spans overlap in {}", doc.id);
                outside.push_str(&doc.text[pos..a as usize]);
                pos = b as usize;
            }
            outside.push_str(&doc.text[pos..]);
            let kept = clean::apply_cuts(&doc.text, &plan.cuts[d]);
            prop_assert_eq!(&outside, &kept);
            // the first copy survives whole, and so does every unique passage
            if d == 0 {
                prop_assert!(kept.contains(&passage), "the first copy was cut");
            }
        }
        for r in &plan.removals {
            let removed: String = r.removed_spans().iter()
                .map(|&[a, b]| &text_of(&r.removed.doc)[a as usize..b as usize])
                .collect();
            let kept = &text_of(&r.kept.doc)[r.kept.bytes[0] as usize..r.kept.bytes[1] as usize];
            let (a, b) = (visible(&removed), visible(kept));
            let measured = lcs(&a, &b) as f64 / a.len().max(1) as f64;
            prop_assert!((measured - r.containment).abs() < 1e-4, "measured {} for {:?}", measured, r);
            prop_assert!(measured + 1e-9 >= opts.blocks.threshold, "{:?}", r);
        }
        let all_kept: String = corpus.docs.iter().enumerate()
            .map(|(d, doc)| clean::apply_cuts(&doc.text, &plan.cuts[d])).collect();
        for u in &uniques {
            prop_assert!(all_kept.contains(u.as_str()), "a unique passage was removed");
        }
    }

    #[test]
    fn normalised_offsets_are_monotone_and_in_bounds(s in "\\PC{0,200}", fold in any::<bool>()) {
        let n = normalize(&s, &NormalizeOptions { mask_fold: fold });
        prop_assert_eq!(n.chars.len(), n.orig.len());
        prop_assert_eq!(n.chars.len(), n.gap_before.len());
        for w in n.orig.windows(2) {
            prop_assert!(w[0] <= w[1]);
        }
        for &o in &n.orig {
            prop_assert!((o as usize) < s.len() && s.is_char_boundary(o as usize));
        }
        if !n.is_empty() {
            let r = n.source_range(&s, 0, n.len());
            prop_assert!(r.end <= s.len() && s.is_char_boundary(r.start) && s.is_char_boundary(r.end));
        }
    }

    #[test]
    fn document_clusters_do_not_depend_on_input_order(seed in 1u64..u64::MAX, rot in 0usize..12) {
        let mut rng = Rng(seed);
        let mut texts = Vec::new();
        for i in 0..12u64 {
            let base = cjk_text(seed ^ (i / 3), 300);
            texts.push(if i % 3 == 0 { base } else { edited_copy(&base, 0.03, 1000, &mut rng) });
        }
        let clusters_of = |texts: &[String]| {
            let corpus = Corpus::from_texts(texts);
            let opts = ScanOptions { level: Level::Doc, ..ScanOptions::default() };
            let report = scan(&corpus, &opts, &NoProgress).unwrap();
            let mut sets: Vec<Vec<String>> = report.clusters.iter().map(|c| {
                let mut v: Vec<String> = c.members.iter().map(|m| texts[m.doc_index].clone()).collect();
                v.sort();
                v
            }).collect();
            sets.sort();
            sets
        };
        let mut rotated = texts.clone();
        rotated.rotate_left(rot);
        prop_assert_eq!(clusters_of(&texts), clusters_of(&rotated));
    }
}
