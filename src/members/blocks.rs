//! BLOCK MEMBERS: the block stage over the corpus → block clusters as
//! report clusters.
//!
//! Takes the documents not removed as duplicates (`active`, block document
//! `i` being corpus document `active[i]`), their normalised lengths, a way
//! to get their texts back ([`Texts`]) and how to find the clusters among
//! them ([`FindBlocks`]: [`blocks::find_blocks_in`], or from pairs a shard
//! engine found); gives the block [`Cluster`]s, members in input order,
//! ids not yet numbered.
//!
//! [`CorpusTexts`] is block detection's view of the corpus: texts
//! normalised a batch at a time, without the map back to source bytes.
//! When the texts fit the budget they are held for the stage, and the
//! places where each may be cut ([`Marks`]) are taken as they are
//! normalised. Each copy found is then mapped back to its source bytes
//! (file, record, lines, bytes, preview) by reading its document again and
//! normalising only the text between the marks around it, else the whole
//! text; the kept copy is chosen ([`crate::cluster::Keep`]) and every
//! other copy measured against it (exact LCS).

use rayon::prelude::*;

use crate::align;
use crate::blocks;
use crate::corpus::Corpus;
use crate::documents::Texts;
use crate::error::Result;
use crate::normalize::{normalize, NormText, NormalizeOptions};
use crate::pipeline::{FindBlocks, Progress, Run, ScanOptions};
use crate::place::Place;
use crate::report::{Cluster, ClusterKind, Member};
use crate::util::round4;

use super::{choose_keep, finish_cluster, member};

/// Block detection's view of the corpus: the documents not removed as
/// duplicates (`active`, block document `i` being corpus document
/// `active[i]`), normalised a batch at a time. The map back to source bytes
/// (4 bytes a character) is not kept: detection needs characters and line
/// breaks only.
pub(crate) struct CorpusTexts<'a> {
    pub(crate) corpus: &'a Corpus,
    pub(crate) texts: &'a Texts<'a>,
    pub(crate) sizes: &'a [u32],
    pub(crate) active: &'a [usize],
    pub(crate) chars: &'a [u32],
    pub(crate) opts: &'a NormalizeOptions,
    pub(crate) progress: &'a dyn Progress,
}

impl blocks::TextSource for CorpusTexts<'_> {
    fn docs(&self) -> usize {
        self.active.len()
    }
    fn chars(&self, doc: u32) -> usize {
        self.chars[doc as usize] as usize
    }
    fn cost(&self, doc: u32) -> usize {
        // 5 bytes a normalised character (the text read back is dropped
        // once normalised)
        5 * self.chars[doc as usize] as usize
    }
    fn read(&self, docs: &[u32]) -> Result<Vec<NormText>> {
        Ok(self.load(docs, false)?.0)
    }
    fn read_through(&self, n: usize) {
        self.progress.advance(n as u64);
    }
}

impl CorpusTexts<'_> {
    /// The normalised texts of block documents `docs` (sorted), read back a
    /// bounded slice at a time, each text dropped once normalised; with
    /// `marked`, also the [`Marks`] of each (else none).
    fn load(&self, docs: &[u32], marked: bool) -> Result<(Vec<NormText>, Vec<Marks>)> {
        let ids: Vec<u32> = docs
            .iter()
            .map(|&d| self.active[d as usize] as u32)
            .collect();
        let mut texts: Vec<NormText> = Vec::with_capacity(ids.len());
        let mut marks: Vec<Marks> = Vec::new();
        self.texts
            .batches(self.corpus, &ids, self.sizes, |_, raw| {
                let (t, m): (Vec<NormText>, Vec<Marks>) = raw
                    .par_iter()
                    .map(|t| unmapped(t, self.opts, marked))
                    .unzip();
                texts.extend(t);
                if marked {
                    marks.extend(m);
                }
            })?;
        Ok((texts, marks))
    }
}

/// The normalised units and line breaks of `text`, without the map back
/// to its bytes; with `marked`, the places where it may be cut
/// ([`marks_of`]), taken from that map before it goes.
fn unmapped(text: &str, opts: &NormalizeOptions, marked: bool) -> (NormText, Marks) {
    let mut n = normalize(text, opts);
    let marks = if marked {
        marks_of(text, &n.orig)
    } else {
        Marks::new()
    };
    n.orig = Vec::new();
    // held for the whole block stage: not the guess reserved for the text
    n.chars.shrink_to_fit();
    n.gap_before.shrink_to_fit();
    (n, marks)
}

/// Places where a text may be cut, as `(unit, byte)`: the first unit of
/// the rest and its byte offset, about [`MARK_EVERY`] units apart, the
/// first `(0, 0)`. Each lies between two CJK ideographs, where
/// normalisation is local (as [`crate::normalize::normalize_into`] cuts a
/// long text): the text between two marks, normalised alone, gives the
/// same units as the whole text gives there. [`block_copies`] maps a copy
/// back to source bytes by normalising the text between the marks around
/// it, not the whole document again (80% of documents hold a copy of
/// some boilerplate). 8 bytes a mark.
type Marks = Vec<(u32, u32)>;

/// Units between two [`Marks`], at least (fewer where none can be cut).
const MARK_EVERY: usize = 64;

/// The [`Marks`] of `text`, `orig` the byte offset of each of its units.
fn marks_of(text: &str, orig: &[u32]) -> Marks {
    let bytes = text.as_bytes();
    // the ideograph that starts at byte `b`, if any, and whether one ends there
    let ideograph_at = |b: usize| {
        text.get(b..)
            .and_then(|t| t.chars().next())
            .is_some_and(crate::normalize::is_cjk_ideograph)
    };
    let ideograph_before = |b: usize| {
        text.get(..b)
            .and_then(|t| t.chars().next_back())
            .is_some_and(crate::normalize::is_cjk_ideograph)
    };
    let mut marks = vec![(0, 0)];
    let mut i = MARK_EVERY;
    while i < orig.len() {
        let b = orig[i] as usize;
        // a character of 3 bytes or more starts here: cheap test first
        if bytes.get(b).is_some_and(|&x| x >= 0xe0) && ideograph_at(b) && ideograph_before(b) {
            marks.push((i as u32, b as u32));
            i += MARK_EVERY;
        } else {
            i += 1;
        }
    }
    marks.shrink_to_fit();
    marks
}

/// The normalised units of `text` from the last of `marks` at or before
/// unit `r.start` to the first after unit `r.end` (or the end of the
/// text), and the unit and byte they start at. `None` when the piece does
/// not hold as many units as the marks say (text that changed since).
fn piece_around(
    text: &str,
    marks: &[(u32, u32)],
    r: &std::ops::Range<usize>,
    opts: &NormalizeOptions,
) -> Option<(NormText, usize, usize)> {
    let before = marks.partition_point(|&(u, _)| u as usize <= r.start);
    let (u0, b0) = *marks.get(before.checked_sub(1)?)?;
    let after = marks.partition_point(|&(u, _)| u as usize <= r.end);
    let end = marks.get(after).map(|&(u, b)| (u as usize, b as usize));
    let piece = normalize(
        text.get(b0 as usize..end.map_or(text.len(), |e| e.1))?,
        opts,
    );
    let fits = match end {
        Some((u1, _)) => piece.len() == u1 - u0 as usize,
        None => piece.len() >= r.end - u0 as usize,
    };
    fits.then_some((piece, u0 as usize, b0 as usize))
}

/// Block clusters among the `active` documents, as report clusters.
pub(crate) fn block_level(
    run: &Run<'_>,
    active: &[usize],
    chars: &[u32],
    find: &FindBlocks<'_>,
) -> Result<Vec<Cluster>> {
    let Run {
        corpus,
        texts,
        sizes,
        opts,
        budget,
        progress,
    } = *run;
    progress.stage("blocks", active.len() as u64);
    let src = CorpusTexts {
        corpus,
        texts,
        sizes,
        active,
        chars,
        opts: &opts.normalize,
        progress,
    };
    // Texts that fit the budget are normalised once and held; else each
    // step of block detection reads back the batch it needs.
    let held: usize = (0..active.len() as u32)
        .map(|d| blocks::TextSource::cost(&src, d))
        .sum();
    let (found, marks) = if held <= budget.texts() {
        let all: Vec<u32> = (0..active.len() as u32).collect();
        let (norms, marks) = src.load(&all, true)?;
        progress.advance(norms.len() as u64);
        let refs: Vec<&NormText> = norms.iter().collect();
        (find(&blocks::InMemory(&refs), &opts.blocks, budget)?, marks)
    } else {
        // a document larger than a batch is read once for the stage
        let src = blocks::texts::Holding::new(&src, budget.texts());
        (find(&src, &opts.blocks, budget)?, Vec::new())
    };
    progress.finish();
    progress.stage("block copies", found.len() as u64);
    let copies = block_copies(run, active, &found, &marks)?;
    let clusters = found
        .par_iter()
        .zip(copies)
        .map(|(bc, copies)| block_cluster(corpus, active, bc, copies, opts))
        .collect();
    progress.finish();
    Ok(clusters)
}

/// A copy of a block cluster as the report shows it, with its normalised
/// characters (to measure it against the kept copy).
struct CopyOut {
    member: Member,
    chars: Vec<char>,
}

/// Every copy of every block cluster as a report member (its similarity
/// not yet known). Each document holding a copy is read again once,
/// however many clusters it is in (a page holds a header, a navigation bar
/// and a footer), and normalised with the map back to source bytes: only
/// around each copy when the block stage left its [`Marks`] (`marks`, by
/// block document; empty when it held no texts), else whole.
///
/// Where the work goes (b30000, `--threads 1`, 37k copies): normalising
/// the pieces is 3/4 of the work per copy (1.0 of 1.3 G instructions),
/// nearly all of it the copy itself (marks at least 16 units apart
/// instead of 64 saved 1/6 of it, for four times the marks' memory);
/// parsing the documents read again costs about 0.4 G more.
fn block_copies(
    run: &Run<'_>,
    active: &[usize],
    found: &[blocks::BlockCluster],
    marks: &[Marks],
) -> Result<Vec<Vec<CopyOut>>> {
    let Run {
        corpus,
        texts,
        sizes,
        opts,
        ..
    } = *run;
    let mut at: Vec<(u32, u32, u32)> = found
        .iter()
        .enumerate()
        .flat_map(|(c, bc)| {
            bc.copies
                .iter()
                .enumerate()
                .map(move |(i, copy)| (active[copy.doc as usize] as u32, c as u32, i as u32))
        })
        .collect();
    at.sort_unstable();
    let docs: Vec<u32> = at.chunk_by(|x, y| x.0 == y.0).map(|g| g[0].0).collect();
    let mut made: Vec<(u32, u32, CopyOut)> = Vec::with_capacity(at.len());
    let mut next = 0;
    texts.batches(corpus, &docs, sizes, |batch, raw| {
        let end = next + at[next..].partition_point(|x| x.0 <= batch[batch.len() - 1]);
        let mine = &at[next..end];
        next = end;
        let groups: Vec<&[(u32, u32, u32)]> = mine.chunk_by(|x, y| x.0 == y.0).collect();
        made.par_extend(groups.par_iter().flat_map_iter(|&g| {
            let d = g[0].0 as usize;
            let text = raw[batch.partition_point(|&b| (b as usize) < d)];
            let block_doc = found[g[0].1 as usize].copies[g[0].2 as usize].doc as usize;
            let doc_marks = marks.get(block_doc).map_or(&[][..], |m| &m[..]);
            let mut whole: Option<NormText> = None;
            // a document holding many copies has its lines indexed once
            let index = (g.len() > 1).then(|| crate::corpus::LineIndex::new(text));
            g.iter()
                .map(|&(_, c, i)| {
                    let r = found[c as usize].copies[i as usize].range.clone();
                    let piece = piece_around(text, doc_marks, &r, &opts.normalize);
                    let (norm, u0, b0) = match &piece {
                        Some((p, u0, b0)) => (p, *u0, *b0),
                        None => (
                            &*whole.get_or_insert_with(|| normalize(text, &opts.normalize)),
                            0,
                            0,
                        ),
                    };
                    let local = norm.source_range(&text[b0..], r.start - u0, r.end - u0);
                    let text_range = local.start + b0..local.end + b0;
                    let place =
                        Place::in_indexed_text(corpus, d, text, &text_range, index.as_ref());
                    let chars = norm.chars[r.start - u0..r.end - u0].to_vec();
                    let member = member(place, d, text, text_range, r, 0.0, None);
                    (c, i, CopyOut { member, chars })
                })
                .collect::<Vec<_>>()
        }));
    })?;
    made.sort_unstable_by_key(|x| (x.0, x.1));
    let mut out: Vec<Vec<CopyOut>> = found
        .iter()
        .map(|bc| Vec::with_capacity(bc.copies.len()))
        .collect();
    for (c, _, copy) in made {
        out[c as usize].push(copy);
    }
    Ok(out)
}

/// The report cluster of block cluster `bc` with its copies `copies`: the
/// kept copy chosen, every copy's similarity and containment to it.
fn block_cluster(
    corpus: &Corpus,
    active: &[usize],
    bc: &blocks::BlockCluster,
    copies: Vec<CopyOut>,
    opts: &ScanOptions,
) -> Cluster {
    let lens: Vec<usize> = copies.iter().map(|c| c.chars.len()).collect();
    let docs = bc.copies.iter().map(|c| active[c.doc as usize]);
    // Boilerplate keeps its fullest copy, whatever `--keep` says: its
    // copies are one passage, some with a line or an item lost, some run
    // into the text beside them, and a kept copy without a line leaves that
    // line on every page that has it (too little of a copy for it to be cut
    // with the rest, too short to be a block of its own). Which page keeps
    // a footer matters little; reference text still comes first.
    let boilerplate = bc.documents() >= opts.blocks.boilerplate_docs;
    let (keep, reason) = if boilerplate && !docs.clone().any(|d| corpus.is_reference(d)) {
        let chars: Vec<&[char]> = copies.iter().map(|c| &c.chars[..]).collect();
        (fullest(&chars), "fullest (boilerplate)".to_string())
    } else {
        choose_keep(corpus, docs, &lens, opts.keep, opts.keep_by.as_ref())
    };
    let kept = &copies[keep].chars;
    // Exact LCS, unthresholded. Aligning first only as far as the block
    // threshold needs (`lcs_at_least`, exact when reached) cost more than
    // it saved on b30000 (723 M instructions against 650 M): the band of
    // a copy at 0.8 keeps most words, and the copies below are aligned
    // twice. A copy identical to the kept one (most of a navigation
    // bar's) costs a prefix compare; other boilerplate copies differ in
    // dates and counters, so aligning each distinct text once saves little.
    // In parallel: a navigation bar's cluster holds nearly half of a
    // boilerplate corpus's copies, and clusters are one task each.
    let sims: Vec<(f64, f64)> = copies
        .par_iter()
        .with_min_len(64)
        .map(|c| {
            let lcs = align::lcs_len(&c.chars, kept);
            let sim = lcs as f64 / c.chars.len().max(kept.len()).max(1) as f64;
            (sim, lcs as f64 / c.chars.len().max(1) as f64)
        })
        .collect();
    let members: Vec<Member> = copies
        .into_iter()
        .zip(sims)
        .map(|(c, (sim, containment))| Member {
            similarity: round4(sim),
            containment: Some(round4(containment)),
            ..c.member
        })
        .collect();
    let mut c = finish_cluster(
        ClusterKind::Block,
        members,
        keep,
        opts.blocks.threshold,
        true,
    );
    c.boilerplate = boilerplate;
    c.keep_reason = reason;
    c
}

/// Copies [`fullest`] weighs at most: spread through a large
/// cluster, every line or item more than a few copies have is among them.
const FULLEST_SAMPLE: usize = 256;

/// Which of `copies` holds the most of what they share: the one whose
/// distinct 3-grams (numbers as fields) are held by the most copies in
/// all, the first of equals. A copy that lost a line scores less than one
/// that has it; one run into text of its own page gains almost nothing
/// from that text, and loses what it lacks. Of a large cluster only
/// [`FULLEST_SAMPLE`] copies are weighed (a navigation bar has tens of
/// thousands, nearly all alike).
fn fullest(copies: &[&[char]]) -> usize {
    let grams = |c: &[char]| -> Vec<u64> {
        let fold = |c: char| align::fold_digit(c) as u64;
        let mut g: Vec<u64> = c
            .windows(3)
            .map(|w| fold(w[0]) << 42 | fold(w[1]) << 21 | fold(w[2]))
            .collect();
        g.sort_unstable();
        g.dedup();
        g
    };
    // one copy from each of FULLEST_SAMPLE equal stretches, at a place
    // that varies from stretch to stretch (every n-th copy could see only
    // pages of one template where pages alternate)
    let step = copies.len().div_ceil(FULLEST_SAMPLE).max(1);
    let weighed: Vec<usize> = (0..copies.len())
        .step_by(step)
        .map(|i| {
            let mix = (i as u64 ^ 0x9e37_79b9_7f4a_7c15).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            (i + (mix >> 32) as usize % step).min(copies.len() - 1)
        })
        .collect();
    let held: Vec<Vec<u64>> = weighed.par_iter().map(|&i| grams(copies[i])).collect();
    let mut count: std::collections::HashMap<u64, u32, crate::fxhash::FxBuild> = Default::default();
    for g in held.iter().flatten() {
        *count.entry(*g).or_default() += 1;
    }
    let scores: Vec<u64> = held
        .iter()
        .map(|h| h.iter().map(|g| u64::from(count[g])).sum())
        .collect();
    // the first of the highest
    let best = scores.iter().copied().max().unwrap_or(0);
    weighed[scores.iter().position(|&s| s == best).unwrap_or(0)]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of every kind normalisation treats apart: ideographs, words
    /// (hyphenated across a line break too), numbers, full-width forms,
    /// punctuation of both scripts, list marks, spaces and line breaks.
    fn mixed(seed: u64, parts: usize) -> String {
        let mut rnd = crate::testutil::lcg(seed);
        let pieces = [
            "中文的文本",
            "是",
            "，",
            "。",
            "“引号”",
            "Ｆｕｌｌ",
            "word ",
            "Hello, world! ",
            "hyphen-\nated ",
            "2019年3月",
            " 12:30 ",
            "\n",
            "\n- ",
            "  ",
            "（注）",
            "e.g. ",
            "數據",
            "𠀀𠀁",
            "naïve café ",
            "・",
            "—",
            "1. ",
            "ABC",
            "\t",
        ];
        (0..parts)
            .map(|_| pieces[rnd(pieces.len() as u64) as usize])
            .collect()
    }

    /// A copy's bytes and units, found by normalising only the text
    /// between the marks around it, are those the whole text gives.
    #[test]
    fn a_piece_between_marks_maps_a_copy_as_the_whole_text_does() {
        let opts = NormalizeOptions::default();
        let mut rnd = crate::testutil::lcg(99);
        let mut pieces = 0;
        for seed in 0..60 {
            let text = mixed(seed, 400);
            let whole = normalize(&text, &opts);
            let marks = marks_of(&text, &whole.orig);
            assert_eq!(marks[0], (0, 0));
            for _ in 0..40 {
                let n = whole.len() as u64;
                let s = rnd(n) as usize;
                let e = s + 1 + rnd(n - s as u64) as usize;
                let Some((piece, u0, b0)) = piece_around(&text, &marks, &(s..e), &opts) else {
                    panic!("no piece around {s}..{e} of text {seed}");
                };
                pieces += usize::from(u0 > 0);
                let local = piece.source_range(&text[b0..], s - u0, e - u0);
                assert_eq!(
                    local.start + b0..local.end + b0,
                    whole.source_range(&text, s, e),
                    "text {seed}, units {s}..{e}"
                );
                assert_eq!(piece.chars[s - u0..e - u0], whole.chars[s..e]);
            }
        }
        // the pieces did start inside the texts, not at their beginnings
        assert!(pieces > 1000, "{pieces}");
    }

    #[test]
    fn boilerplate_keeps_the_copy_that_holds_most_of_the_others() {
        let chars = |s: &str| -> Vec<char> { s.chars().collect() };
        let (l1, l2, l3) = (
            "版权所有保留所有权利",
            "联系电话：010-12345678",
            "未经书面授权禁止复制或建立镜像",
        );
        let copies = [
            // the first lost its second line
            chars(&format!("{l1}{l3}")),
            // one runs into the text of its page, but lacks the first line
            chars(&format!("孤立的正文内容在这里结束了{l2}{l3}")),
            // whole, with other numbers (fields): the fullest
            chars(&format!("{l1}联系电话：010-87654321{l3}")),
            chars(&format!("{l1}{l2}{l3}")),
            chars(&format!("{l1}{l3}")),
        ];
        let refs: Vec<&[char]> = copies.iter().map(|c| &c[..]).collect();
        // the first of the two whole copies
        assert_eq!(fullest(&refs), 2);
        assert_eq!(fullest(&refs[3..]), 0);
        // of a large cluster a sample is weighed: a whole copy still wins
        let many: Vec<&[char]> = (0..5000)
            .map(|i| refs[if i % 5 == 0 { 4 } else { 3 }])
            .collect();
        assert_eq!(many[fullest(&many)].len(), copies[3].len());
    }
}
