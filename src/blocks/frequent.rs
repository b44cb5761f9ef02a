//! FREQUENT PASSAGES: fingerprints seen in many places → region pairs, in
//! time linear in their occurrences.
//!
//! Takes the fingerprints sorted by hash and the ranges of those seen in
//! more than [`BlockOptions::max_occurrences`] places; gives verified
//! [`RegionPair`]s, each linking one occurrence of a frequent passage to an
//! earlier one.
//!
//! A footer on 5,000 pages gives each of its fingerprints 5,000 occurrences;
//! seeding every pair of them would make 12.5 million seeds per fingerprint.
//! Instead:
//!
//! 1. **Runs.** Each document's frequent fingerprints, in order of position,
//!    are cut into runs wherever two of them are more than [`RUN_GAP`]
//!    characters apart. A run is a candidate occurrence of a frequent
//!    passage; the gap bridges what varies from copy to copy (a date, a site
//!    name, a phone number), whose fingerprints are rare. Runs spanning
//!    less than [`MIN_RUN`] of weight (CJK characters, a word counting
//!    [`crate::normalize::WORD_WEIGHT`]) are stock phrases and are dropped.
//! 2. **Parents.** Runs are numbered in input order, and each frequent
//!    fingerprint points to the first run that holds it. Every run counts
//!    these pointers over its fingerprints: each other run that gets at
//!    least [`MIN_VOTES`] of them (at most [`MAX_PARENTS`], most votes
//!    first) is a parent. Copies of one passage share most fingerprints,
//!    and so the same parent — its first copy — even when they vary; a run
//!    that holds two passages side by side (a share line above a footer)
//!    gets one parent for each.
//! 3. **Alignment.** A run and each of its parents are seeded with the
//!    fingerprints they share and chained and verified like any document
//!    pair ([`super::chain`]), with [`SHORT_BLOCK`] as the minimum length
//!    (whether a short passage is boilerplate is decided per cluster, by
//!    how many documents hold it). A passage in `k` places costs about `k`
//!    alignments, and memory is the occurrences themselves.
//!
//! Lengths (a run's span, a copy's or a piece's length) are weights, as
//! everywhere in the block stage, so that a 12-word English share line is
//! as much a passage as a 120-character Chinese one; distances between
//! fingerprints ([`RUN_GAP`], [`GROW`], [`SNAP`]) are units, as the
//! fingerprints are laid out in units.
//!
//! The result depends on the order of the input only, never on threads.

use std::ops::Range;

use rayon::prelude::*;

use crate::error::Result;
use crate::normalize::NormText;

use super::chain::{self, accept, DocPair, Seed};
use super::texts::{in_batches, NormTexts, TextSource};
use super::{past_text, BlockOptions, Budget, RegionPair, SHORT_BLOCK};

/// Largest distance between two frequent fingerprints of one run, in
/// characters: a varying field (a date, a phone number) removes about
/// `k + w` characters of fingerprints around it.
pub const RUN_GAP: u32 = 64;

/// Shortest run, from its first fingerprint to the end of its last, in
/// weight: stock phrases of the genre (`深入学习贯彻…思想`, `for more
/// information`) are shorter.
pub const MIN_RUN: u32 = 32;

/// Fewest fingerprints a run must share with the first run holding them
/// for that run to be a parent.
pub const MIN_VOTES: u32 = 3;

/// Most parents a run is aligned to.
pub const MAX_PARENTS: usize = 8;

/// One occurrence of a frequent fingerprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Occ {
    pub doc: u32,
    pub pos: u32,
    /// Index of the fingerprint among the frequent ones, in hash order.
    pub fp: u32,
}

/// Region pairs linking each frequent passage occurrence to its parents,
/// and where the runs lie. `occ` are the occurrences of the `frequent`
/// frequent fingerprints.
pub(super) fn star_pairs(
    src: &dyn TextSource,
    mut occ: Vec<Occ>,
    frequent: usize,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<(Vec<RegionPair>, RunIndex)> {
    if occ.is_empty() {
        return Ok((Vec::new(), RunIndex::default()));
    }
    // the occurrences and pairs of these texts always lie inside them
    let runs = runs_of(src, &mut occ, opts, budget)?.unwrap_or_default();
    let index = RunIndex::of(
        &occ,
        &runs,
        super::gram_len(opts) as u32,
        opts.window as u32,
    );
    // each fingerprint's first run
    let mut first = vec![u32::MAX; frequent];
    for (r, run) in runs.iter().enumerate() {
        for o in &occ[run.clone()] {
            if first[o.fp as usize] == u32::MAX {
                first[o.fp as usize] = r as u32;
            }
        }
    }
    let items: Vec<(usize, Vec<u32>)> = runs
        .par_iter()
        .enumerate()
        .map(|(r, run)| (r, parents(&occ[run.clone()], &first, r as u32)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    let pairs = align_runs(src, &occ, &runs, &items, opts, budget)?.unwrap_or_default();
    Ok((
        split_pairs(src, pairs, opts, budget)?.unwrap_or_default(),
        index,
    ))
}

/// Where the runs lie, to leave to the star path the rare seeds inside
/// them (step 2 of the block method): each run as `(doc, start, end)`,
/// sorted, from a window before its first occurrence to a window past its
/// last's gram. Around a passage, whether a gram is a fingerprint depends
/// on the text beside the passage, so its first and last fingerprints are
/// often rare: a copy's neighbours in a window's reach decide them.
#[derive(Debug, Default)]
pub(crate) struct RunIndex {
    spans: Vec<(u32, u32, u32)>,
}

impl RunIndex {
    /// The spans of `runs` (ranges of `occ`, sorted by document and
    /// position), grams `k` units long, windows of `w` grams.
    pub(super) fn of(occ: &[Occ], runs: &[Range<usize>], k: u32, w: u32) -> Self {
        let mut spans: Vec<(u32, u32, u32)> = runs
            .iter()
            .map(|r| {
                let (first, last) = (occ[r.start], occ[r.end - 1]);
                (first.doc, first.pos.saturating_sub(w), last.pos + k + w)
            })
            .collect();
        spans.sort_unstable();
        RunIndex { spans }
    }

    /// Whether the gram at `pos` of `doc` starts inside a run.
    pub(crate) fn covers(&self, doc: u32, pos: u32) -> bool {
        let i = self
            .spans
            .partition_point(|&(d, s, _)| (d, s) <= (doc, pos));
        i > 0 && {
            let (d, _, e) = self.spans[i - 1];
            d == doc && pos < e
        }
    }
}

/// Step 1: sorts the occurrences (by document, position, fingerprint) and
/// cuts them into runs, or gives an occurrence past its text. The
/// occurrences of a document are all it needs: the sharded path runs it a
/// shard at a time.
pub(crate) fn runs_of(
    src: &dyn TextSource,
    occ: &mut [Occ],
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<std::result::Result<Vec<Range<usize>>, Occ>> {
    super::sort_by_doc(occ, |o| o.doc);
    let spans = run_spans(src, occ, opts.k.max(2), budget)?;
    Ok(spans.map(|spans| cut_runs(occ, &spans)))
}

/// The first of `occ` whose gram lies past its text.
fn first_past_text(texts: &dyn NormTexts, occ: &[Occ]) -> Option<Occ> {
    occ.iter()
        .find(|o| past_text(texts.get(o.doc), o.pos as usize + 1))
        .copied()
}

/// Step 3: each run of `items` (an index into `runs`, ranges of `occ`)
/// aligned to each of its parents (indices into `runs` too), or an
/// occurrence past its text. Every pair stands alone: the sharded path
/// aligns them in any partition.
pub(crate) fn align_runs(
    src: &dyn TextSource,
    occ: &[Occ],
    runs: &[Range<usize>],
    items: &[(usize, Vec<u32>)],
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<std::result::Result<Vec<RegionPair>, Occ>> {
    let k = opts.k.max(2);
    let shortest = short_pair(opts);
    let aligned = in_batches(
        src,
        items,
        budget.texts(),
        |(r, parents), v| {
            v.push(occ[runs[*r].start].doc);
            v.extend(parents.iter().map(|&p| occ[runs[p as usize].start].doc));
        },
        |texts, (r, parents)| {
            let mine = &occ[runs[*r].clone()];
            let all = std::iter::once(mine)
                .chain(parents.iter().map(|&p| &occ[runs[p as usize].clone()]));
            if let Some(o) = all.filter_map(|run| first_past_text(texts, run)).next() {
                return Err(o);
            }
            Ok(parents
                .iter()
                .flat_map(|&p| {
                    let theirs = &occ[runs[p as usize].clone()];
                    // inside one document the earlier copy is `a`
                    if theirs[0].doc == mine[0].doc && theirs[0].pos > mine[0].pos {
                        align(texts, mine, theirs, k, shortest, opts)
                    } else {
                        align(texts, theirs, mine, k, shortest, opts)
                    }
                })
                .collect::<Vec<_>>())
        },
    )?;
    Ok(aligned
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(|v| v.into_iter().flatten().collect()))
}

/// The aligned pairs cut where passages meet ([`split_at_boundaries`]),
/// or a pair with a side past its text. A pair's `a` is its parent's
/// document; the cuts of a document depend on the pairs whose `a` it is,
/// all of them and no other.
pub(crate) fn split_pairs(
    src: &dyn TextSource,
    mut pairs: Vec<RegionPair>,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<std::result::Result<Vec<RegionPair>, RegionPair>> {
    pairs.par_sort_unstable_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    split_at_boundaries(src, pairs, short_pair(opts), opts, budget)
}

/// Shortest side of a pair on the star path: a copy of a
/// [`SHORT_BLOCK`]-character passage may lose a fifth of it at a varying
/// edge (a site name, a date) and still match at the block threshold.
pub(super) fn short_pair(opts: &BlockOptions) -> usize {
    let short = (SHORT_BLOCK as f64 * opts.threshold).ceil() as usize;
    opts.min_block.min(short)
}

/// Farthest a region grows to reach the start or end of its line.
const GROW: usize = 40;

/// Grows both sides of a pair to the start and the end of their lines,
/// when those are near and the grown pair still verifies. Boilerplate
/// varies at its edges (`公文范文网欢迎您！今天是2019年…`, `…阅读：63665次`),
/// where no fingerprint is shared and a gapless extension stops; without
/// this, each copy would leave those scraps behind.
fn grow_to_lines(pair: &DocPair<'_>, p: RegionPair, opts: &BlockOptions) -> RegionPair {
    let (na, nb) = (pair.na, pair.nb);
    let line_start = |t: &NormText, s: usize| {
        (s.saturating_sub(GROW)..=s)
            .rev()
            .find(|&i| i == 0 || t.gap_before[i] == crate::normalize::GAP_LINE)
    };
    let line_end = |t: &NormText, e: usize| {
        (e..=(e + GROW).min(t.len()))
            .find(|&i| i == t.len() || t.gap_before[i] == crate::normalize::GAP_LINE)
    };
    let (ra, rb) = (p.a.range.clone(), p.b.range.clone());
    let starts = line_start(na, ra.start).zip(line_start(nb, rb.start));
    let ends = line_end(na, ra.end).zip(line_end(nb, rb.end));
    let tries = [(starts, ends), (starts, None), (None, ends)];
    for (s, e) in tries {
        if s.is_none() && e.is_none() {
            continue;
        }
        let (sa, sb) = s.unwrap_or((ra.start, rb.start));
        let (ea, eb) = e.unwrap_or((ra.end, rb.end));
        if (sa, ea, sb, eb) == (ra.start, ra.end, rb.start, rb.end) {
            break;
        }
        // two copies inside one document never grow into each other
        if pair.da == pair.db && ea > sb {
            continue;
        }
        if let Some(similarity) = accept(&na.chars[sa..ea], &nb.chars[sb..eb], opts, true) {
            return RegionPair {
                a: super::Copy {
                    doc: pair.da,
                    range: sa..ea,
                },
                b: super::Copy {
                    doc: pair.db,
                    range: sb..eb,
                },
                similarity,
                frequent: true,
            };
        }
    }
    p
}

/// Longest line [`grow_by_lines`] compares, in characters: boilerplate's
/// lines are short, and longer ones are left to the alignment.
const LINE_MAX: usize = 80;

/// Grows a pair past whole lines that match on both sides but lie beyond a
/// line that only one side has: a related-articles box that lost one title
/// still ends with the same `更多精彩内容请访问…专题栏目。` line, which the
/// gapless extension, stopped at the missing title, never reaches. At
/// each end, up to twice, the next (or previous) line of one side is
/// compared with the next line of the other or the one after it (numbers
/// as fields, [`LINE_ALIKE`] of the shorter);
/// the pair grows to it when the grown pair still verifies.
fn grow_by_lines(pair: &DocPair<'_>, mut p: RegionPair, opts: &BlockOptions) -> RegionPair {
    let (na, nb) = (pair.na, pair.nb);
    let alike = |x: &Range<usize>, y: &Range<usize>| {
        let (a, b) = (&na.chars[x.clone()], &nb.chars[y.clone()]);
        let lcs =
            crate::align::lcs_len(&crate::align::fold_digits(a), &crate::align::fold_digits(b));
        // of the shorter, and below the block threshold: a site name is a
        // field of such a line (`…请访问瑞文网专题栏目。`, `…请访问星期五
        // 文库专题栏目。`: 14 of 19 characters alike), and two unrelated
        // lines of six characters or more share 70% of the shorter's in
        // order by no chance; the grown pair is still verified whole
        a.len().min(b.len()) >= MIN_LINE && lcs as f64 >= LINE_ALIKE * a.len().min(b.len()) as f64
    };
    for forward in [true, false] {
        for _ in 0..2 {
            let line = |t: &NormText, at: usize| {
                if forward {
                    line_after(t, at)
                } else {
                    line_before(t, at)
                }
            };
            let (ra, rb) = (p.a.range.clone(), p.b.range.clone());
            let (ea, eb) = if forward {
                (ra.end, rb.end)
            } else {
                (ra.start, rb.start)
            };
            let (Some(a1), Some(b1)) = (line(na, ea), line(nb, eb)) else {
                break;
            };
            let next =
                |t: &NormText, l: &Range<usize>| line(t, if forward { l.end } else { l.start });
            // the next lines, or past one line only one side has
            let tries = [
                Some((a1.clone(), b1.clone())),
                next(na, &a1).map(|a2| (a2, b1.clone())),
                next(nb, &b1).map(|b2| (a1.clone(), b2)),
            ];
            let grown = tries.into_iter().flatten().find_map(|(x, y)| {
                if !alike(&x, &y) {
                    return None;
                }
                let (a, b) = if forward {
                    (ra.start..x.end, rb.start..y.end)
                } else {
                    (x.start..ra.end, y.start..rb.end)
                };
                // two copies inside one document never grow into each other
                if pair.da == pair.db && a.end > b.start {
                    return None;
                }
                let similarity = accept(&na.chars[a.clone()], &nb.chars[b.clone()], opts, true)?;
                Some(RegionPair {
                    a: super::Copy {
                        doc: pair.da,
                        range: a,
                    },
                    b: super::Copy {
                        doc: pair.db,
                        range: b,
                    },
                    similarity,
                    frequent: true,
                })
            });
            match grown {
                Some(g) => p = g,
                None => break,
            }
        }
    }
    p
}

/// Shortest line [`grow_by_lines`] grows by, in characters.
const MIN_LINE: usize = 6;

/// Share of the shorter of two lines [`grow_by_lines`] must find in order
/// in the other.
const LINE_ALIKE: f64 = 0.7;

/// The line that starts at unit `at` of `t` (a line break just before it),
/// when at most [`LINE_MAX`] long.
fn line_after(t: &NormText, at: usize) -> Option<Range<usize>> {
    if at >= t.len() || t.gap_before[at] != crate::normalize::GAP_LINE {
        return None;
    }
    let end = (at + 1..=(at + LINE_MAX).min(t.len()))
        .find(|&i| i == t.len() || t.gap_before[i] == crate::normalize::GAP_LINE)?;
    Some(at..end)
}

/// The line that ends at unit `at` of `t` (a line break just after it),
/// when at most [`LINE_MAX`] long.
fn line_before(t: &NormText, at: usize) -> Option<Range<usize>> {
    if at == 0 || at > t.len() || (at < t.len() && t.gap_before[at] != crate::normalize::GAP_LINE) {
        return None;
    }
    let start = (at.saturating_sub(LINE_MAX)..at)
        .rev()
        .find(|&i| i == 0 || t.gap_before[i] == crate::normalize::GAP_LINE)?;
    Some(start..at)
}

/// Where pieces of a parent's region end or start, a line break within
/// this many characters is taken instead.
const SNAP: usize = 12;

/// Splits pairs whose parent region spans the boundary of another
/// passage. Two passages side by side in a parent (a share line above a
/// footer, a header a title away from a navigation bar) align as one
/// region with children that also hold both; other children hold one of
/// them alone and end or start there. A point of the parent where at least
/// two of its pairs end or start is such a boundary: every pair across it
/// is cut there (in the child at the same relative offset, snapped to a line
/// break), and each piece is verified again. Pairs come sorted by parent.
fn split_at_boundaries(
    src: &dyn TextSource,
    pairs: Vec<RegionPair>,
    min_len: usize,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<std::result::Result<Vec<RegionPair>, RegionPair>> {
    let groups: Vec<&[RegionPair]> = pairs.chunk_by(|x, y| x.a.doc == y.a.doc).collect();
    // where each parent's passages meet (the parent's text alone; ranges
    // past it only make no cut) ...
    let cuts: Vec<Vec<usize>> = in_batches(
        src,
        &groups,
        budget.texts(),
        |g, v| v.push(g[0].a.doc),
        |texts, &group| boundaries(texts.get(group[0].a.doc), group),
    )?;
    // ... then every pair cut there (both texts)
    let items: Vec<(&RegionPair, &[usize])> = groups
        .iter()
        .zip(&cuts)
        .flat_map(|(g, c)| g.iter().map(move |p| (p, c.as_slice())))
        .collect();
    let split = in_batches(
        src,
        &items,
        budget.texts(),
        |(p, _), v| v.extend([p.a.doc, p.b.doc]),
        |texts, &(p, cuts)| {
            let past = |c: &super::Copy| past_text(texts.get(c.doc), c.range.end);
            if past(&p.a) || past(&p.b) {
                return Err(p.clone());
            }
            Ok(split_pair(texts, p, cuts, min_len, opts))
        },
    )?;
    Ok(split
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()
        .map(|v| v.into_iter().flatten().collect()))
}

/// Points of a parent where at least two of its pairs end or start
/// (within [`SNAP`] characters of each other), and at least half as many
/// as run across it, snapped to a line break. (Where a few copies lack a
/// line, most pairs run across the place it was: that is no boundary.)
fn boundaries(parent: &NormText, group: &[RegionPair]) -> Vec<usize> {
    let mut ends: Vec<usize> = group
        .iter()
        .flat_map(|p| [p.a.range.start, p.a.range.end])
        .collect();
    ends.sort_unstable();
    let mut cuts = Vec::new();
    let mut s = 0;
    while s < ends.len() {
        let mut e = s + 1;
        while e < ends.len() && ends[e] - ends[e - 1] <= SNAP {
            e += 1;
        }
        let (lo, hi) = (ends[s], ends[e - 1]);
        let across = group
            .iter()
            .filter(|p| p.a.range.start + SNAP < lo && p.a.range.end > hi + SNAP)
            .count();
        if e - s >= 2 && (e - s) * 2 > across {
            cuts.push(snap_to_break(parent, ends[s + (e - s) / 2]));
        }
        s = e;
    }
    cuts.dedup();
    cuts
}

/// The line break nearest to `x` within [`SNAP`] characters, or `x`.
fn snap_to_break(t: &NormText, x: usize) -> usize {
    let lo = x.saturating_sub(SNAP);
    let hi = (x + SNAP).min(t.len().saturating_sub(1));
    (lo..=hi)
        .filter(|&i| t.gap_before.get(i) == Some(&crate::normalize::GAP_LINE))
        .min_by_key(|&i| i.abs_diff(x))
        .unwrap_or(x)
}

/// A pair cut at every boundary strictly inside its parent region (at
/// least `min_len` from either end); pieces that no longer verify are
/// dropped.
fn split_pair(
    texts: &dyn NormTexts,
    p: &RegionPair,
    cuts: &[usize],
    min_len: usize,
    opts: &BlockOptions,
) -> Vec<RegionPair> {
    let (ra, rb) = (&p.a.range, &p.b.range);
    let (ta, tb) = (texts.get(p.a.doc), texts.get(p.b.doc));
    let inside: Vec<usize> = cuts
        .iter()
        .copied()
        .filter(|&x| {
            ra.contains(&x) && ta.weight(ra.start..x) >= min_len && ta.weight(x..ra.end) >= min_len
        })
        .collect();
    if inside.is_empty() {
        return vec![p.clone()];
    }
    let scale = rb.len() as f64 / ra.len() as f64;
    let mut at_a = vec![ra.start];
    let mut at_b = vec![rb.start];
    for x in inside {
        let y = rb.start + ((x - ra.start) as f64 * scale).round() as usize;
        let y = snap_to_break(tb, y).clamp(rb.start, rb.end);
        if y > at_b[at_b.len() - 1] {
            at_a.push(x);
            at_b.push(y);
        }
    }
    at_a.push(ra.end);
    at_b.push(rb.end);
    (1..at_a.len())
        .filter_map(|i| {
            let (sa, ea, sb, eb) = (at_a[i - 1], at_a[i], at_b[i - 1], at_b[i]);
            if ta.weight(sa..ea).min(tb.weight(sb..eb)) < min_len {
                return None;
            }
            let similarity = accept(&ta.chars[sa..ea], &tb.chars[sb..eb], opts, true)?;
            Some(RegionPair {
                a: super::Copy {
                    doc: p.a.doc,
                    range: sa..ea,
                },
                b: super::Copy {
                    doc: p.b.doc,
                    range: sb..eb,
                },
                similarity,
                frequent: true,
            })
        })
        .collect()
}

/// Cuts occurrences sorted by document and position into runs of at
/// least [`MIN_RUN`] weight (`spans`).
fn cut_runs(occ: &[Occ], spans: &RunSpans) -> Vec<Range<usize>> {
    let mut runs = Vec::new();
    let mut s = 0;
    while s < occ.len() {
        let mut e = s + 1;
        while e < occ.len() && occ[e].doc == occ[s].doc && occ[e].pos - occ[e - 1].pos <= RUN_GAP {
            e += 1;
        }
        if e - s >= 2 && spans.weight(s..e) >= MIN_RUN {
            runs.push(s..e);
        }
        s = e;
    }
    runs
}

/// For each occurrence, the weight of its document's text before it and
/// the end of its k-gram: runs are measured in weight, as copies are.
struct RunSpans {
    start: Vec<u32>,
    end: Vec<u32>,
}

impl RunSpans {
    /// Weight from the first occurrence of `r` to the end of its last's gram.
    fn weight(&self, r: Range<usize>) -> u32 {
        self.end[r.end - 1].saturating_sub(self.start[r.start])
    }
}

/// [`RunSpans`] of occurrences sorted by document and position, one
/// document's text at a time (one pass over the texts that hold frequent
/// fingerprints, within the budget like every other).
fn run_spans(
    src: &dyn TextSource,
    occ: &[Occ],
    k: usize,
    budget: Budget<'_>,
) -> Result<std::result::Result<RunSpans, Occ>> {
    let docs: Vec<Range<usize>> = {
        let mut v = Vec::new();
        let mut s = 0;
        while s < occ.len() {
            let e = s + occ[s..].partition_point(|o| o.doc == occ[s].doc);
            v.push(s..e);
            s = e;
        }
        v
    };
    let per_doc = in_batches(
        src,
        &docs,
        budget.texts(),
        |r, v| v.push(occ[r.start].doc),
        |texts, r| {
            if let Some(o) = first_past_text(texts, &occ[r.clone()]) {
                return Err(o);
            }
            let t = texts.get(occ[r.start].doc);
            let (mut at, mut w) = (0usize, 0usize);
            let mut weight_to = |p: usize| {
                w += crate::normalize::weight(&t.chars[at..p.max(at)]);
                at = at.max(p);
                w as u32
            };
            let starts: Vec<u32> = occ[r.clone()]
                .iter()
                .map(|o| weight_to(o.pos as usize))
                .collect();
            let ends: Vec<u32> = occ[r.clone()]
                .iter()
                .zip(&starts)
                .map(|(o, &s)| {
                    let p = o.pos as usize;
                    let end = crate::normalize::gram_end(&t.chars, p, k);
                    s + crate::normalize::weight(&t.chars[p..end]) as u32
                })
                .collect();
            Ok((starts, ends))
        },
    )?;
    let mut spans = RunSpans {
        start: Vec::with_capacity(occ.len()),
        end: Vec::with_capacity(occ.len()),
    };
    for doc in per_doc {
        let (s, e) = match doc {
            Ok(d) => d,
            Err(o) => return Ok(Err(o)),
        };
        spans.start.extend(s);
        spans.end.extend(e);
    }
    Ok(Ok(spans))
}

/// The other runs that are parents of at least [`MIN_VOTES`] of this
/// run's fingerprints, most votes first (ties: earlier first).
fn parents(mine: &[Occ], first: &[u32], me: u32) -> Vec<u32> {
    let mut votes: Vec<u32> = mine
        .iter()
        .map(|o| first[o.fp as usize])
        .filter(|&p| p != me)
        .collect();
    votes.sort_unstable();
    let mut counted: Vec<(u32, u32)> = Vec::new();
    for v in votes {
        match counted.last_mut() {
            Some((p, n)) if *p == v => *n += 1,
            _ => counted.push((v, 1)),
        }
    }
    counted.retain(|&(_, n)| n >= MIN_VOTES);
    counted.sort_by_key(|&(p, n)| (std::cmp::Reverse(n), p));
    counted.truncate(MAX_PARENTS);
    counted.into_iter().map(|(p, _)| p).collect()
}

/// Seeds a run against an earlier one by the fingerprints they share, then
/// chains and verifies them.
fn align(
    texts: &dyn NormTexts,
    theirs: &[Occ],
    mine: &[Occ],
    k: usize,
    min_len: usize,
    opts: &BlockOptions,
) -> Vec<RegionPair> {
    let (da, db) = (theirs[0].doc, mine[0].doc);
    let mut by_fp: Vec<(u32, u32)> = theirs.iter().map(|o| (o.fp, o.pos)).collect();
    by_fp.sort_unstable();
    let mut seeds: Vec<Seed> = Vec::new();
    for o in mine {
        let from = by_fp.partition_point(|&(fp, _)| fp < o.fp);
        for &(_, pa) in by_fp[from..].iter().take_while(|&&(fp, _)| fp == o.fp) {
            if da == db && pa as usize + k > o.pos as usize {
                continue;
            }
            seeds.push(Seed {
                da,
                db,
                pa,
                pb: o.pos,
            });
        }
    }
    seeds.sort_unstable();
    let pair = DocPair::new(texts, da, db, true);
    let mut out = Vec::new();
    for c in chain::chain_seeds(&seeds, opts, k) {
        verify_or_split(&pair, &c, k, min_len, opts, &mut out);
    }
    out
}

/// Verifies a chain; when it fails, verifies the two halves on either side
/// of its widest gap instead. A chain between two runs may bridge from one
/// passage to the next over a line that differs (a header, a title line,
/// then a navigation bar), and the whole then falls below the threshold
/// though each passage matches. Regions are grown to their lines before
/// the length check: the stable core of a short passage may be shorter than
/// the passage.
fn verify_or_split(
    pair: &DocPair<'_>,
    seeds: &[(u32, u32)],
    k: usize,
    min_len: usize,
    opts: &BlockOptions,
    out: &mut Vec<RegionPair>,
) {
    if seeds.len() < 2 {
        return;
    }
    let found = chain::verify_chain(pair, chain::Chain::spanning(seeds), k, 1, opts)
        .map(|p| grow_by_lines(pair, grow_to_lines(pair, p, opts), opts));
    if let Some(p) = found {
        if pair
            .na
            .weight(p.a.range.clone())
            .min(pair.nb.weight(p.b.range.clone()))
            >= min_len
        {
            out.push(p);
        }
        return;
    }
    let widest = (1..seeds.len())
        .max_by_key(|&i| {
            let gap = (seeds[i].0 - seeds[i - 1].0).max(seeds[i].1 - seeds[i - 1].1);
            (gap, std::cmp::Reverse(i))
        })
        .unwrap_or(1);
    if (seeds[widest].0 - seeds[widest - 1].0).max(seeds[widest].1 - seeds[widest - 1].1)
        <= 2 * k as u32
    {
        return; // no gap: a real mismatch, not two passages
    }
    verify_or_split(pair, &seeds[..widest], k, min_len, opts, out);
    verify_or_split(pair, &seeds[widest..], k, min_len, opts, out);
}
