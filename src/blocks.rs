//! BLOCKS: normalised documents → clusters of repeated sections, inside one
//! document and across documents.
//!
//! Takes the normalised text of every document (whitespace already gone,
//! so wrapping and spacing cannot matter) and gives [`BlockCluster`]s: each
//! copy as a document and a range of normalised characters.
//!
//! # Method
//!
//! 1. **Fingerprints** (Schleimer, Wilkerson & Aiken 2003, "Winnowing").
//!    Every `k`-character window is hashed; in each run of `w` consecutive
//!    hashes the minimum is kept. Any shared stretch of `w + k − 1`
//!    characters therefore yields a shared fingerprint, with about
//!    `2 / (w + 1)` fingerprints per character. `k = 8` is short enough
//!    that copies with scattered edits keep many exact seeds.
//! 2. **Seeds.** Fingerprints are sorted by hash; every two occurrences of
//!    one hash are a seed `(doc a, pos a, doc b, pos b)`. Hashes occurring
//!    more than [`BlockOptions::max_occurrences`] times (boilerplate, stock
//!    phrases of the genre) are ignored.
//! 3. **Chains.** Per pair of documents, seeds are taken in order of
//!    position and chained greedily: a seed extends the open chain it
//!    follows in both texts, preferring the one on the nearest diagonal.
//!    A gap may skip up to [`BlockOptions::max_gap`] characters in one text
//!    (an insertion, a missing passage) but only half that in both at once
//!    (edits); copies at different offsets of one document are different
//!    diagonals, so they stay apart, and inside one document a chain stops
//!    before its first copy runs into its second.
//! 4. **Verification.** Each chain spans a region in both texts, extended
//!    outwards past substitutions (a gapless X-drop extension), moved back
//!    to a line break it overshoots by a few characters, and clipped so
//!    that two copies inside one document never overlap. A region pair is kept when both
//!    sides have at least [`BlockOptions::min_block`] characters and their
//!    similarity `LCS / longer` ([`crate::align`]) is at least
//!    [`BlockOptions::threshold`].
//! 5. **Clusters.** The two sides of every verified pair are occurrences.
//!    Occurrences of one document that overlap by at least half of the
//!    shorter are merged into one copy (copy A found against B and against
//!    C is one copy, even if B is shorter); copies linked by verified pairs
//!    form a cluster (union-find).
//!
//! Everything is sorted before it is grouped, so the result does not depend
//! on thread count.

use std::ops::Range;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::shingle::char_bytes;

use crate::align;
use crate::cluster::UnionFind;
use crate::normalize::{NormText, GAP_LINE};

/// Options of block detection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockOptions {
    /// Minimum length of a copy, in normalised characters.
    pub min_block: usize,
    /// Minimum similarity (`LCS / longer`) between two copies.
    pub threshold: f64,
    /// Fingerprint k-gram length, in characters.
    pub k: usize,
    /// Winnowing window, in k-grams.
    pub window: usize,
    /// Fingerprints seen in more places than this are ignored as boilerplate.
    pub max_occurrences: usize,
    /// Largest gap, in characters of either text, a chain bridges.
    pub max_gap: usize,
}

impl Default for BlockOptions {
    fn default() -> Self {
        BlockOptions {
            min_block: 200,
            threshold: 0.8,
            k: 8,
            window: 8,
            max_occurrences: 64,
            max_gap: 300,
        }
    }
}

/// One copy of a repeated block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copy {
    /// Index of the document in the input slice.
    pub doc: u32,
    /// Normalised character range.
    pub range: Range<usize>,
}

impl Copy {
    fn key(&self) -> (u32, usize, usize) {
        (self.doc, self.range.start, self.range.end)
    }
}

impl Ord for Copy {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key().cmp(&other.key())
    }
}

impl PartialOrd for Copy {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// A repeated block and all its copies, in input order.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockCluster {
    /// The copies, sorted by document and position.
    pub copies: Vec<Copy>,
}

/// A verified pair of similar regions.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionPair {
    /// The earlier region.
    pub a: Copy,
    /// The later region.
    pub b: Copy,
    /// Their similarity.
    pub similarity: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Seed {
    da: u32,
    db: u32,
    pa: u32,
    pb: u32,
}

/// Winnowed fingerprints `(hash, pos)` of one text.
pub fn fingerprints(chars: &[char], k: usize, window: usize, out: &mut Vec<(u64, u32)>) {
    out.clear();
    if chars.len() < k {
        return;
    }
    let hashes: Vec<u64> = chars.windows(k).map(|w| xxh3_64(char_bytes(w))).collect();
    let w = window.max(1).min(hashes.len());
    let mut last: Option<usize> = None;
    for start in 0..=hashes.len() - w {
        // rightmost minimum of the window, as in the paper, so that runs
        // of equal hashes give one fingerprint
        let mut best = start;
        for i in start..start + w {
            if hashes[i] <= hashes[best] {
                best = i;
            }
        }
        if last != Some(best) {
            out.push((hashes[best], best as u32));
            last = Some(best);
        }
    }
}

/// Finds repeated blocks among `texts` (normalised documents).
pub fn find_blocks(texts: &[&NormText], opts: &BlockOptions) -> Vec<BlockCluster> {
    let pairs = find_pairs(texts, opts);
    cluster_pairs(&pairs)
}

/// Steps 1–4: verified region pairs, sorted.
pub fn find_pairs(texts: &[&NormText], opts: &BlockOptions) -> Vec<RegionPair> {
    let k = opts.k.max(2);
    // 1. fingerprints
    let mut fps: Vec<(u64, u32, u32)> = texts
        .par_iter()
        .enumerate()
        .flat_map_iter(|(d, t)| {
            let mut v = Vec::new();
            if t.len() >= opts.min_block {
                fingerprints(&t.chars, k, opts.window, &mut v);
            }
            v.into_iter().map(move |(h, p)| (h, d as u32, p))
        })
        .collect();
    fps.par_sort_unstable();
    // 2. seeds
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut s = 0;
    while s < fps.len() {
        let mut e = s + 1;
        while e < fps.len() && fps[e].0 == fps[s].0 {
            e += 1;
        }
        if e - s >= 2 && e - s <= opts.max_occurrences {
            runs.push(s..e);
        }
        s = e;
    }
    let mut seeds: Vec<Seed> = runs
        .par_iter()
        .flat_map_iter(|r| {
            let run = &fps[r.clone()];
            let mut v = Vec::new();
            for (x, &(_, da, pa)) in run.iter().enumerate() {
                for &(_, db, pb) in &run[x + 1..] {
                    if da == db && (pb as usize) < pa as usize + k {
                        continue;
                    }
                    v.push(Seed { da, db, pa, pb });
                }
            }
            v
        })
        .collect();
    drop(fps);
    seeds.par_sort_unstable();
    // 3. chains, per document pair
    let mut groups: Vec<Range<usize>> = Vec::new();
    let mut s = 0;
    while s < seeds.len() {
        let mut e = s + 1;
        while e < seeds.len() && seeds[e].da == seeds[s].da && seeds[e].db == seeds[s].db {
            e += 1;
        }
        groups.push(s..e);
        s = e;
    }
    let mut pairs: Vec<RegionPair> = groups
        .par_iter()
        .flat_map_iter(|g| {
            let group = &seeds[g.clone()];
            let (da, db) = (group[0].da, group[0].db);
            let (ta, tb) = (texts[da as usize], texts[db as usize]);
            chain(group, opts, k)
                .into_iter()
                .filter_map(move |c| verify_chain(da, db, ta, tb, c, k, opts))
        })
        .collect();
    pairs.sort_by(|x, y| (&x.a, &x.b).cmp(&(&y.a, &y.b)));
    pairs
}

#[derive(Debug, Clone, Copy)]
struct Chain {
    sa: u32,
    sb: u32,
    la: u32,
    lb: u32,
}

/// An open chain: its seeds in order.
struct Open {
    seeds: Vec<(u32, u32)>,
}

impl Open {
    fn last(&self) -> (u32, u32) {
        self.seeds[self.seeds.len() - 1]
    }
}

/// Greedy chaining of one document pair's seeds (sorted by `pa`, `pb`).
fn chain(seeds: &[Seed], opts: &BlockOptions, k: usize) -> Vec<Chain> {
    let gap = opts.max_gap as i64;
    let sub = gap / 2;
    let same_doc = seeds.first().is_some_and(|s| s.da == s.db);
    let mut open: Vec<Open> = Vec::new();
    let mut done: Vec<Chain> = Vec::new();
    for s in seeds {
        let (pa, pb) = (s.pa as i64, s.pb as i64);
        // close chains that can no longer be extended
        let mut i = 0;
        while i < open.len() {
            if open[i].last().0 as i64 + gap < pa {
                let c = open.swap_remove(i);
                done.extend(trim(&c.seeds, k, opts.window));
            } else {
                i += 1;
            }
        }
        let diag = pb - pa;
        let mut best: Option<(i64, usize)> = None;
        for (idx, c) in open.iter().enumerate() {
            let (la, lb) = c.last();
            let (la, lb) = (la as i64, lb as i64);
            // A gap may be an insertion or deletion of up to `max_gap`
            // characters in one text, but unmatched text on both sides at
            // once (substitutions) only up to half that: past that the next
            // seeds belong to another copy.
            // Inside one document, the first copy may not run into the
            // second (three copies back to back are two pairs, not one).
            let (da_, db_) = (pa - la, pb - lb);
            let overlaps = same_doc && pa + k as i64 > c.seeds[0].1 as i64;
            if da_ > 0 && db_ > 0 && da_.max(db_) <= gap && da_.min(db_) <= sub && !overlaps {
                let drift = (diag - (lb - la)).abs();
                if best.is_none_or(|(d, _)| drift < d) {
                    best = Some((drift, idx));
                }
            }
        }
        match best {
            Some((_, idx)) => open[idx].seeds.push((s.pa, s.pb)),
            None => open.push(Open {
                seeds: vec![(s.pa, s.pb)],
            }),
        }
    }
    for c in open {
        done.extend(trim(&c.seeds, k, opts.window));
    }
    done.sort_by_key(|c| (c.sa, c.sb));
    done
}

/// Cuts weak ends off a chain. Seeds closer than `4 (k + w)` characters
/// form a run (an edit breaks about `k + w` characters of seeds, two close
/// edits twice that); a run at
/// either end that matches less than a short sentence ([`MIN_END_RUN`]) and
/// is cut off by a longer gap is a stray stock phrase the chain picked up
/// on its way (a heading, a closing formula), not part of the copy.
fn trim(seeds: &[(u32, u32)], k: usize, window: usize) -> Option<Chain> {
    if seeds.len() < 2 {
        return None;
    }
    let run_gap = 4 * (k + window) as u32;
    // run boundaries: indices where a new run starts
    let mut starts = vec![0usize];
    for i in 1..seeds.len() {
        let (a0, b0) = seeds[i - 1];
        let (a1, b1) = seeds[i];
        if (a1 - a0).max(b1 - b0) > run_gap {
            starts.push(i);
        }
    }
    let span = |from: usize, to: usize| seeds[to - 1].0 - seeds[from].0 + k as u32;
    let (mut first, mut last) = (0usize, starts.len() - 1);
    while first < last && span(starts[first], starts[first + 1]) < MIN_END_RUN {
        first += 1;
    }
    while last > first && span(starts[last], seeds.len()) < MIN_END_RUN {
        last -= 1;
    }
    let from = starts[first];
    let to = if last + 1 < starts.len() {
        starts[last + 1]
    } else {
        seeds.len()
    };
    (to - from >= 2).then(|| Chain {
        sa: seeds[from].0,
        sb: seeds[from].1,
        la: seeds[to - 1].0,
        lb: seeds[to - 1].1,
    })
}

/// Shortest run of seeds kept at the end of a chain, in characters.
const MIN_END_RUN: u32 = 40;

/// A copy that starts or ends up to this many characters past a line
/// break is moved back to the break: a heading that follows both copies
/// (`第四篇：市长在市政府…`, `第五篇：市长在市政府…`) is not part of them.
const LINE_SLACK: usize = 12;

/// Moves region edges that overshoot a line break by a few characters back
/// to it, when those characters do not match exactly on both sides: two
/// copies followed by similar headings (`第四篇：市长在市政府`, `第五篇：…`)
/// match on scraps of the heading, which belong to neither copy. A copy
/// that really starts or ends inside a line matches there exactly, and keeps
/// its fragment if it has at least [`MIN_FRAGMENT`] characters.
fn snap_to_lines(
    na: &NormText,
    nb: &NormText,
    sa: usize,
    ea: usize,
    sb: usize,
    eb: usize,
) -> (usize, usize, usize, usize) {
    let (ta, tb) = (&na.chars, &nb.chars);
    // end: the largest overshoot past a break on either side
    let tail = |t: &NormText, s: usize, e: usize| {
        (e.saturating_sub(LINE_SLACK).max(s + 1)..e)
            .find(|&i| t.gap_before[i] == GAP_LINE)
            .map_or(0, |i| e - i)
    };
    let l = tail(na, sa, ea).max(tail(nb, sb, eb));
    let (ea, eb) = if l > 0
        && l < ea - sa
        && l < eb - sb
        && (l < MIN_FRAGMENT || ta[ea - l..ea] != tb[eb - l..eb])
    {
        (ea - l, eb - l)
    } else {
        (ea, eb)
    };
    let head = |t: &NormText, s: usize, e: usize| {
        (s + 1..=(s + LINE_SLACK).min(e.saturating_sub(1)))
            .rev()
            .find(|&i| t.gap_before[i] == GAP_LINE)
            .map_or(0, |i| i - s)
    };
    let l = head(na, sa, ea).max(head(nb, sb, eb));
    let (sa, sb) = if l > 0
        && l < ea - sa
        && l < eb - sb
        && (l < MIN_FRAGMENT || ta[sa..sa + l] != tb[sb..sb + l])
    {
        (sa + l, sb + l)
    } else {
        (sa, sb)
    };
    (sa, ea, sb, eb)
}

/// Shortest exact fragment past a line break that stays part of a copy.
const MIN_FRAGMENT: usize = 4;

/// How far a gapless extension goes before it gives up, in score points
/// (a match scores 1, a mismatch −3).
const XDROP: i64 = 12;

/// Length of the best gapless extension of at most `limit` characters,
/// `eq(i)` telling whether the `i`-th characters out agree: the extension
/// ends at the highest score, so it never ends on a mismatch, and stops once
/// the score falls [`XDROP`] below its best.
fn xdrop(limit: usize, eq: impl Fn(usize) -> bool) -> usize {
    let (mut score, mut best, mut best_len) = (0i64, 0i64, 0usize);
    for i in 0..limit {
        score += if eq(i) { 1 } else { -3 };
        if score > best {
            best = score;
            best_len = i + 1;
        } else if best - score > XDROP {
            break;
        }
    }
    best_len
}

fn verify_chain(
    da: u32,
    db: u32,
    na: &NormText,
    nb: &NormText,
    c: Chain,
    k: usize,
    opts: &BlockOptions,
) -> Option<RegionPair> {
    let (ta, tb) = (na.chars.as_slice(), nb.chars.as_slice());
    let (mut sa, mut sb) = (c.sa as usize, c.sb as usize);
    let (mut ea, mut eb) = (
        (c.la as usize + k).min(ta.len()),
        (c.lb as usize + k).min(tb.len()),
    );
    // Extend outwards past substitutions near the ends, where seeds are
    // too sparse to reach (two copies in one text never grow into each other).
    let back_limit = if da == db {
        sa.min(sb - ea.min(sb))
    } else {
        sa.min(sb)
    };
    let back = xdrop(back_limit, |i| ta[sa - 1 - i] == tb[sb - 1 - i]);
    sa -= back;
    sb -= back;
    let fwd_limit = (ta.len() - ea).min(tb.len() - eb);
    let fwd_limit = if da == db {
        fwd_limit.min(sb.saturating_sub(ea))
    } else {
        fwd_limit
    };
    let fwd = xdrop(fwd_limit, |i| ta[ea + i] == tb[eb + i]);
    ea += fwd;
    eb += fwd;
    if da == db && ea > sb {
        // overlapping copies of a periodic text: cut at the second copy
        ea = sb;
    }
    if ea <= sa || eb <= sb {
        return None;
    }
    let (sa, ea, sb, eb) = snap_to_lines(na, nb, sa, ea, sb, eb);
    if ea <= sa || eb <= sb {
        return None;
    }
    let (la, lb) = (ea - sa, eb - sb);
    if la.min(lb) < opts.min_block {
        return None;
    }
    if (la.min(lb) as f64) < opts.threshold * la.max(lb) as f64 {
        return None;
    }
    let similarity = align::similarity(&ta[sa..ea], &tb[sb..eb]);
    (similarity >= opts.threshold).then_some(RegionPair {
        a: Copy {
            doc: da,
            range: sa..ea,
        },
        b: Copy {
            doc: db,
            range: sb..eb,
        },
        similarity,
    })
}

/// Step 5: merges overlapping occurrences and groups them by verified pairs.
pub fn cluster_pairs(pairs: &[RegionPair]) -> Vec<BlockCluster> {
    let mut occ: Vec<Copy> = pairs
        .iter()
        .flat_map(|p| [p.a.clone(), p.b.clone()])
        .collect();
    occ.sort();
    occ.dedup();
    // merge overlapping occurrences of one document into copies
    let mut copies: Vec<Copy> = Vec::new();
    let mut copy_of: Vec<usize> = Vec::with_capacity(occ.len());
    for o in &occ {
        let merge = copies.last().is_some_and(|c: &Copy| {
            c.doc == o.doc && {
                let overlap = c.range.end.min(o.range.end).saturating_sub(o.range.start);
                let shorter = (c.range.end - c.range.start).min(o.range.end - o.range.start);
                overlap * 2 >= shorter
            }
        });
        if merge {
            if let Some(c) = copies.last_mut() {
                c.range.end = c.range.end.max(o.range.end);
            }
        } else {
            copies.push(o.clone());
        }
        copy_of.push(copies.len() - 1);
    }
    // Copies of one document that still overlap a little (the ends of
    // copies pasted back to back align either way) are cut apart, so that
    // no character belongs to two copies.
    for i in 1..copies.len() {
        let (prev, cur) = copies.split_at_mut(i);
        let (p, c) = (&prev[i - 1], &mut cur[0]);
        if p.doc == c.doc && c.range.start < p.range.end && p.range.end < c.range.end {
            c.range.start = p.range.end;
        }
    }
    let index = |c: &Copy| -> usize {
        // occ is sorted and unique: binary search finds the occurrence
        occ.binary_search(c).map(|i| copy_of[i]).unwrap_or(0)
    };
    let mut uf = UnionFind::new(copies.len());
    for p in pairs {
        uf.union(index(&p.a) as u32, index(&p.b) as u32);
    }
    uf.groups()
        .into_iter()
        .map(|g| BlockCluster {
            copies: g.into_iter().map(|i| copies[i as usize].clone()).collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nt(chars: &[char]) -> NormText {
        NormText {
            chars: chars.to_vec(),
            orig: (0..chars.len() as u32).collect(),
            gap_before: vec![0; chars.len()],
        }
    }

    fn text(seed: u64, n: usize) -> Vec<char> {
        let mut rnd = crate::testutil::lcg(seed);
        (0..n)
            .map(|_| char::from_u32(0x4e00 + rnd(2000) as u32).unwrap_or('一'))
            .collect()
    }

    #[test]
    fn winnowing_guarantees_a_shared_fingerprint() {
        let a = text(1, 500);
        let mut b = text(2, 300);
        b.extend_from_slice(&a[100..100 + 15]);
        b.extend(text(3, 300));
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        fingerprints(&a, 8, 8, &mut fa);
        fingerprints(&b, 8, 8, &mut fb);
        let ha: std::collections::HashSet<u64> = fa.iter().map(|x| x.0).collect();
        assert!(fb.iter().any(|x| ha.contains(&x.0)));
    }

    #[test]
    fn finds_an_edited_copy_inside_one_document() {
        let block = text(7, 600);
        let mut doc = text(8, 400);
        doc.extend_from_slice(&block);
        doc.extend(text(9, 500));
        let mut copy = block.clone();
        for i in (0..copy.len()).step_by(23) {
            copy[i] = '某';
        }
        copy.drain(300..320);
        let second = doc.len();
        doc.extend_from_slice(&copy);
        doc.extend(text(10, 300));
        let clusters = find_blocks(&[&nt(&doc)], &BlockOptions::default());
        assert_eq!(clusters.len(), 1, "{clusters:?}");
        let c = &clusters[0].copies;
        assert_eq!(c.len(), 2);
        assert!(
            c[0].range.start.abs_diff(400) < 10 && c[0].range.end.abs_diff(1000) < 10,
            "{c:?}"
        );
        assert!(c[1].range.start.abs_diff(second) < 10, "{c:?}");
    }

    #[test]
    fn three_copies_back_to_back_are_three_copies() {
        let block = text(21, 400);
        let mut doc = text(22, 100);
        for _ in 0..3 {
            doc.extend_from_slice(&block);
        }
        doc.extend(text(23, 100));
        let clusters = find_blocks(&[&nt(&doc)], &BlockOptions::default());
        assert_eq!(clusters.len(), 1, "{clusters:?}");
        let ranges: Vec<_> = clusters[0].copies.iter().map(|c| c.range.clone()).collect();
        assert_eq!(ranges, vec![100..500, 500..900, 900..1300]);
    }

    #[test]
    fn unrelated_texts_give_nothing() {
        let a = text(11, 3000);
        let b = text(12, 3000);
        assert!(find_blocks(&[&nt(&a), &nt(&b)], &BlockOptions::default()).is_empty());
    }
}
