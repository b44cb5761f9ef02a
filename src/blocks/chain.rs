//! CHAINS: one document pair's seeds → verified region pairs.
//!
//! Takes the seeds (shared fingerprints) of two documents, sorted by
//! position, and gives the [`RegionPair`]s they support: seeds are chained
//! greedily along near-diagonals, weak ends are trimmed, each chain is
//! extended past substitutions at its ends, moved back to line breaks it
//! overshoots, and kept when both sides are long enough and similar enough
//! (`LCS / longer`, [`crate::align`]); a chain that is not is split at its
//! widest gap and its halves tried. Positions are units
//! ([`crate::normalize`]: CJK characters, words of other scripts); gaps and
//! lengths are weighed as CJK characters, a word counting
//! [`crate::normalize::WORD_WEIGHT`]. Used by the pairwise path for rare
//! fingerprints and by the star path for frequent passages alike.

use crate::align;
use crate::normalize::{gram_end, NormText, GAP_LINE};

use super::texts::NormTexts;

use super::{BlockOptions, Copy, RegionPair};

/// Two occurrences of one fingerprint: document and position in each, the
/// first `(da, pa)` before the second in input order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Seed {
    pub da: u32,
    pub db: u32,
    pub pa: u32,
    pub pb: u32,
}

/// A chain of seeds: where it starts and where its last seed lies in both texts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Chain {
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

impl Chain {
    /// The chain of these seeds (in order, at least one).
    pub(super) fn spanning(seeds: &[(u32, u32)]) -> Chain {
        let (first, last) = (seeds[0], seeds[seeds.len() - 1]);
        Chain {
            sa: first.0,
            sb: first.1,
            la: last.0,
            lb: last.1,
        }
    }
}

/// Greedy chaining of one document pair's seeds (sorted by `pa`, `pb`),
/// gaps weighed with `scale`, the mean weight of a unit in each text
/// ([`unit_weight`]: taken once a document, not once a pair), each chain
/// verified ([`verify_chain`], sides of at least `min_len`); a
/// chain that fails is split at its widest gap between seeds and its
/// halves tried in turn, a few levels deep ([`SPLIT_LEVELS`]): a lightly
/// revised text keeps some sentences and rewrites others, and its copies
/// of the kept ones pass where the whole does not.
pub(super) fn verify_chains(
    seeds: &[Seed],
    pair: &DocPair<'_>,
    opts: &BlockOptions,
    k: usize,
    min_len: usize,
    scale: [f64; 2],
) -> Vec<RegionPair> {
    let mut out = Vec::new();
    let mut todo: Vec<(Vec<(u32, u32)>, usize)> = chain_seeds_scaled(seeds, opts, k, scale)
        .into_iter()
        .map(|c| (c, 0))
        .collect();
    while let Some((c, level)) = todo.pop() {
        if let Some(p) = verify_chain(pair, Chain::spanning(&c), k, min_len, opts) {
            out.push(p);
            continue;
        }
        if level == SPLIT_LEVELS || c.len() < 4 {
            continue;
        }
        let widest = (1..c.len())
            .max_by_key(|&i| {
                (
                    (c[i].0 - c[i - 1].0).max(c[i].1 - c[i - 1].1),
                    std::cmp::Reverse(i),
                )
            })
            .unwrap_or(1);
        let (head, tail) = c.split_at(widest);
        todo.push((tail.to_vec(), level + 1));
        todo.push((head.to_vec(), level + 1));
    }
    out
}

/// Mean weight of a unit of `t` (1 for CJK text, more with words).
pub(super) fn unit_weight(t: &NormText) -> f64 {
    t.weight(0..t.len()) as f64 / t.len().max(1) as f64
}

/// How many times a failing chain is halved at most ([`verify_chains`]).
const SPLIT_LEVELS: usize = 3;

/// The seeds `(pa, pb)` of each chain, trimmed, in order of their first.
pub(super) fn chain_seeds(seeds: &[Seed], opts: &BlockOptions, k: usize) -> Vec<Vec<(u32, u32)>> {
    chain_seeds_scaled(seeds, opts, k, [1.0, 1.0])
}

/// [`chain_seeds`] with gaps measured in weight (CJK characters, a word
/// counting [`crate::normalize::WORD_WEIGHT`]): `scale` is the mean weight
/// of a unit in each text, so that `max_gap` bridges about as much text in
/// English as in Chinese.
fn chain_seeds_scaled(
    seeds: &[Seed],
    opts: &BlockOptions,
    k: usize,
    scale: [f64; 2],
) -> Vec<Vec<(u32, u32)>> {
    let gap = opts.max_gap as i64;
    let sub = gap / 2;
    let same_doc = seeds.first().is_some_and(|s| s.da == s.db);
    let mut open: Vec<Open> = Vec::new();
    let mut done: Vec<Vec<(u32, u32)>> = Vec::new();
    let trimmed = |c: Open| trim(&c.seeds, k, opts.window, scale[0]).map(|r| c.seeds[r].to_vec());
    // unit distances in each text as weight
    let wa = |d: i64| (d as f64 * scale[0]) as i64;
    let wb = |d: i64| (d as f64 * scale[1]) as i64;
    for s in seeds {
        let (pa, pb) = (s.pa as i64, s.pb as i64);
        // close chains that can no longer be extended
        let mut i = 0;
        while i < open.len() {
            if wa(pa - open[i].last().0 as i64) > gap {
                done.extend(trimmed(open.swap_remove(i)));
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
            let (ga, gb) = (wa(da_), wb(db_));
            if da_ > 0 && db_ > 0 && ga.max(gb) <= gap && ga.min(gb) <= sub && !overlaps {
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
    done.extend(open.into_iter().filter_map(trimmed));
    done.sort_by_key(|c| c[0]);
    done
}

/// Cuts weak ends off a chain. Seeds closer than `4 (k + w)` characters
/// form a run (an edit breaks about `k + w` characters of seeds, two close
/// edits twice that); a run at
/// either end that matches less than a short sentence ([`MIN_END_RUN`]) and
/// is cut off by a longer gap is a stray stock phrase the chain picked up
/// on its way (a heading, a closing formula), not part of the copy.
fn trim(
    seeds: &[(u32, u32)],
    k: usize,
    window: usize,
    scale: f64,
) -> Option<std::ops::Range<usize>> {
    if seeds.len() < 2 {
        return None;
    }
    let run_gap = 4 * (k + window) as u32;
    // in units of the first text
    let min_end_run = (MIN_END_RUN as f64 / scale).ceil() as u32;
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
    while first < last && span(starts[first], starts[first + 1]) < min_end_run {
        first += 1;
    }
    while last > first && span(starts[last], seeds.len()) < min_end_run {
        last -= 1;
    }
    let from = starts[first];
    let to = if last + 1 < starts.len() {
        starts[last + 1]
    } else {
        seeds.len()
    };
    (to - from >= 2).then_some(from..to)
}

/// Shortest run of seeds kept at the end of a chain, in characters.
const MIN_END_RUN: u32 = 40;

/// A copy that starts or ends up to this many characters (a weight: one
/// word of English) past a line break is moved back to the break: a
/// heading that follows both copies (`第四篇：市长在市政府…`,
/// `第五篇：市长在市政府…`) is not part of them.
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
    // Slack and fragments are weights, as every length (a word counts ten
    // characters): counted in units, the slack was twelve words of English,
    // a whole line, and two re-wrapped copies lost their first and last.
    // end: the largest overshoot past a break on either side
    let tail = |t: &NormText, s: usize, e: usize| {
        let mut over = 0;
        for i in (s + 1..e).rev() {
            if t.weight(i..e) > LINE_SLACK {
                break;
            }
            if t.gap_before[i] == GAP_LINE {
                over = e - i;
            }
        }
        over
    };
    let l = tail(na, sa, ea).max(tail(nb, sb, eb));
    let (ea, eb) = if l > 0
        && l < ea - sa
        && l < eb - sb
        && (na.weight(ea - l..ea) < MIN_FRAGMENT || ta[ea - l..ea] != tb[eb - l..eb])
    {
        (ea - l, eb - l)
    } else {
        (ea, eb)
    };
    let head = |t: &NormText, s: usize, e: usize| {
        let mut over = 0;
        for i in s + 1..e {
            if t.weight(s..i) > LINE_SLACK {
                break;
            }
            if t.gap_before[i] == GAP_LINE {
                over = i - s;
            }
        }
        over
    };
    let l = head(na, sa, ea).max(head(nb, sb, eb));
    let (sa, sb) = if l > 0
        && l < ea - sa
        && l < eb - sb
        && (na.weight(sa..sa + l) < MIN_FRAGMENT || ta[sa..sa + l] != tb[sb..sb + l])
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

/// The two documents a chain runs between: `a` before `b` in input order
/// (the same document when a block repeats inside it).
pub(super) struct DocPair<'t> {
    pub da: u32,
    pub db: u32,
    pub na: &'t NormText,
    pub nb: &'t NormText,
    /// Accept copies by containment ([`accept`]): on the star path, where
    /// boilerplate loses lines from page to page.
    pub contained: bool,
}

impl<'t> DocPair<'t> {
    /// Documents `da` and `db` of `texts`.
    pub fn new(texts: &'t dyn NormTexts, da: u32, db: u32, contained: bool) -> DocPair<'t> {
        DocPair {
            da,
            db,
            na: texts.get(da),
            nb: texts.get(db),
            contained,
        }
    }
}

/// Shortest share of the longer copy that the shorter must have to be
/// accepted by containment.
pub(super) const CONTAINED_SHARE: f64 = 0.7;

/// Whether two regions are copies of one block: their similarity
/// (`LCS / longer`) when they are, else `None`. With `contained` (the star
/// path, boilerplate), copies that lack a line of the other also are: the
/// shorter needs [`CONTAINED_SHARE`] of the longer's length and
/// `LCS / shorter` at the threshold (a footer that lost a line is still
/// that footer), and numbers are fields ([`template_lcs_at_least`]).
pub(super) fn accept(a: &[char], b: &[char], opts: &BlockOptions, contained: bool) -> Option<f64> {
    let (short, long) = lengths_fit(a, b, opts, contained)?;
    let base = if contained { short } else { long };
    // The smallest LCS that passes: the alignment stops once it is out of
    // reach (most chains between texts that only share a passage), and is
    // exact, banded, for the copies that pass.
    let at_least = opts.threshold * base as f64;
    let need = if at_least > 0.0 {
        at_least.ceil() as usize
    } else {
        0
    };
    let lcs = if contained {
        template_lcs_at_least(a, b, need)
    } else {
        align::lcs_at_least(a, b, need)
    };
    (lcs as f64 >= at_least).then(|| lcs as f64 / long as f64)
}

/// The shorter and longer length of two regions when the shorter is long
/// enough for [`accept`] to take them as copies: [`CONTAINED_SHARE`] of
/// the longer with `contained`, else the threshold's share.
fn lengths_fit(
    a: &[char],
    b: &[char],
    opts: &BlockOptions,
    contained: bool,
) -> Option<(usize, usize)> {
    let (short, long) = (a.len().min(b.len()), a.len().max(b.len()));
    let share = if contained {
        CONTAINED_SHARE
    } else {
        opts.threshold
    };
    ((short as f64) >= share * long as f64 && short > 0).then_some((short, long))
}

/// LCS of two copies of a frequent passage with every digit matching every
/// other: in boilerplate, numbers are the fields that vary from page to
/// page (a date, a counter, a phone number, a licence number), and a
/// footer whose copies differ in five numbers (30 of its 130 characters)
/// is one footer. Its words and characters must still match. Only the
/// star path compares this way: between rare passages a changed number is
/// a change.
///
/// Exact when it is at least `need`, otherwise some value below `need`
/// ([`align::lcs_at_least`]): callers only compare it with a threshold.
///
/// The common prefix and suffix (digits matching digits) are taken off
/// first, as [`align::lcs_at_least`] would take them off the folded
/// texts, and only the rest is folded: copies of a passage that differ
/// only in their numbers cost two scans and nothing more.
pub(super) fn template_lcs_at_least(a: &[char], b: &[char], need: usize) -> usize {
    let same = |(x, y): &(&char, &char)| x == y || (x.is_ascii_digit() && y.is_ascii_digit());
    let pre = a.iter().zip(b).take_while(same).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a.iter().rev().zip(b.iter().rev()).take_while(same).count();
    let (a, b) = (&a[..a.len() - suf], &b[..b.len() - suf]);
    if a.is_empty() || b.is_empty() {
        return pre + suf;
    }
    let need = need.saturating_sub(pre + suf);
    let inner = if a.iter().chain(b).any(char::is_ascii_digit) {
        align::lcs_at_least(&align::fold_digits(a), &align::fold_digits(b), need)
    } else {
        align::lcs_at_least(a, b, need)
    };
    pre + suf + inner
}

/// Turns a chain into a verified region pair whose sides have at least
/// `min_len` characters of weight ([`NormText::weight`]), or nothing.
pub(super) fn verify_chain(
    pair: &DocPair<'_>,
    c: Chain,
    k: usize,
    min_len: usize,
    opts: &BlockOptions,
) -> Option<RegionPair> {
    let (da, db, na, nb) = (pair.da, pair.db, pair.na, pair.nb);
    let (ta, tb) = (na.chars.as_slice(), nb.chars.as_slice());
    let (mut sa, mut sb) = (c.sa as usize, c.sb as usize);
    let (mut ea, mut eb) = (
        gram_end(ta, c.la as usize, k),
        gram_end(tb, c.lb as usize, k),
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
    // lengths in CJK characters, a word counting several (normalize docs)
    if na.weight(sa..ea).min(nb.weight(sb..eb)) < min_len {
        return None;
    }
    let similarity = accept(&ta[sa..ea], &tb[sb..eb], opts, pair.contained)?;
    Some(RegionPair {
        a: Copy {
            doc: da,
            range: sa..ea,
        },
        b: Copy {
            doc: db,
            range: sb..eb,
        },
        similarity,
        // the star path is the one that accepts by containment
        frequent: pair.contained,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What [`accept`] decides, from the whole LCS (digits folded on the
    /// star path): its early stop must not change a verdict or a value.
    fn accept_by_full_lcs(
        a: &[char],
        b: &[char],
        opts: &BlockOptions,
        contained: bool,
    ) -> Option<f64> {
        let (short, long) = lengths_fit(a, b, opts, contained)?;
        let lcs = if contained {
            align::lcs_len(&align::fold_digits(a), &align::fold_digits(b))
        } else {
            align::lcs_len(a, b)
        };
        let base = if contained { short } else { long };
        (lcs as f64 >= opts.threshold * base as f64).then(|| lcs as f64 / long as f64)
    }

    #[test]
    fn accepting_a_copy_gives_the_verdict_and_similarity_of_the_whole_lcs() {
        let mut rnd = crate::testutil::lcg(17);
        let opts = BlockOptions::default();
        let (mut accepted, mut rejected) = (0, 0);
        for _ in 0..300 {
            // a passage of ideographs and digits, and a copy with a share
            // of its characters replaced, dropped or inserted
            let len = 20 + rnd(400) as usize;
            let pick = |rnd: &mut dyn FnMut(u64) -> u64| match rnd(5) {
                0 => char::from(b'0' + rnd(10) as u8),
                _ => char::from_u32(0x4e00 + rnd(300) as u32).unwrap_or('一'),
            };
            let a: Vec<char> = (0..len).map(|_| pick(&mut rnd)).collect();
            let rate = rnd(45);
            let mut b = Vec::new();
            for &c in &a {
                match rnd(100) {
                    r if r < rate / 3 => {}
                    r if r < 2 * rate / 3 => b.extend([pick(&mut rnd), c]),
                    r if r < rate => b.push(pick(&mut rnd)),
                    _ => b.push(c),
                }
            }
            for contained in [false, true] {
                let want = accept_by_full_lcs(&a, &b, &opts, contained);
                assert_eq!(accept(&a, &b, &opts, contained), want, "{a:?} {b:?}");
                accepted += usize::from(want.is_some());
                rejected += usize::from(want.is_none());
            }
        }
        assert!(
            accepted > 100 && rejected > 100,
            "{accepted} accepted, {rejected} rejected"
        );
    }
}
