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
//! 2. **Rare fingerprints, pairwise.** Fingerprints are sorted by hash;
//!    every two occurrences of a hash seen in at most
//!    [`BlockOptions::max_occurrences`] places are a seed
//!    `(doc a, pos a, doc b, pos b)`, and each document pair's seeds are
//!    chained and verified (`blocks/chain.rs`).
//! 3. **Frequent fingerprints, star** (`blocks/frequent.rs`). A passage repeated on
//!    hundreds or thousands of pages (a footer, a disclaimer, a navigation
//!    bar) would give every pair of its copies a seed: quadratic. Instead,
//!    each document's frequent fingerprints are cut into runs (candidate
//!    passage occurrences); every run is aligned to the earliest run that
//!    holds most of its fingerprints (its *parent*), so `k` copies cost
//!    about `k` alignments, not `k²/2`. Copies that vary (a date, a site
//!    name, a missing line) share most fingerprints and so the same parent;
//!    past a line only one side has, the alignment grows by whole lines
//!    that match on both sides (a box that lost a title still ends with
//!    its last line).
//!    What varies is rare, and so gives pairwise seeds between copies that
//!    happen to share it (two pages of one date): a document pair whose
//!    every seed lies inside runs on both sides is left to the star path,
//!    which aligns those copies already (a pair with one seed outside
//!    keeps all its seeds: a shared article beside a footer).
//! 4. **Chains and verification** (`blocks/chain.rs`), the same for both paths:
//!    seeds are chained greedily along near-diagonals, the chain's region is
//!    extended past substitutions at its ends, moved back to line breaks it
//!    overshoots, and kept when both sides are long enough and their
//!    similarity `LCS / longer` ([`crate::align`]) is at least
//!    [`BlockOptions::threshold`]. Both sides must have
//!    [`BlockOptions::min_block`] characters — except on the star path,
//!    where [`SHORT_BLOCK`] suffices: a short passage counts only when
//!    [`BlockOptions::boilerplate_docs`] documents hold it (step 5). On the
//!    star path, numbers are fields: any digit matches any digit (a date,
//!    a counter, a phone number varies from page to page; its words do not).
//! 5. **Clusters** (`blocks/cluster.rs`). The two sides of every verified pair are
//!    occurrences; occurrences of one document that overlap by at least
//!    half of the shorter are merged into one copy (where a pairwise copy
//!    runs on into a frequent passage, the passage keeps its characters);
//!    copies linked by verified pairs form a cluster (union-find). A
//!    cluster whose copies are
//!    all shorter than `min_block` is kept only when at least
//!    `boilerplate_docs` documents hold it.
//!
//! Everything is sorted before it is grouped, so the result does not depend
//! on thread count.

use std::ops::Range;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use crate::normalize::NormText;
use crate::shingle::char_bytes;

mod chain;
mod cluster;
pub(crate) mod frequent;
mod spill;
pub mod texts;

pub use cluster::cluster_pairs;
pub use texts::{InMemory, Loaded, NormTexts, TextSource};

use chain::{DocPair, Seed};
use spill::{Fp, Sink};
use texts::{each_batch, in_batches};

use crate::error::{Error, Result};

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
    /// Fingerprints seen in more places than this are frequent: their
    /// occurrences are aligned to one representative (star), not pairwise.
    pub max_occurrences: usize,
    /// Largest gap, in characters of either text, a chain bridges.
    pub max_gap: usize,
    /// A passage held by at least this many documents is boilerplate: it
    /// is a block even when shorter than `min_block` (down to
    /// [`SHORT_BLOCK`] characters), and clean can drop every copy of it.
    pub boilerplate_docs: usize,
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
            boilerplate_docs: 100,
        }
    }
}

/// Shortest passage that can be a block at all: one held by at least
/// [`BlockOptions::boilerplate_docs`] documents (a share line, a navigation
/// bar). Shorter repeated strings are phrases, not passages.
pub const SHORT_BLOCK: usize = 50;

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

impl BlockCluster {
    /// Number of distinct documents holding a copy.
    pub fn documents(&self) -> usize {
        let mut n = 0;
        let mut last = None;
        for c in &self.copies {
            if last != Some(c.doc) {
                n += 1;
                last = Some(c.doc);
            }
        }
        n
    }
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
    /// Found on the frequent-passage (star) path.
    pub frequent: bool,
}

/// Winnowed fingerprints `(hash, pos)` of one text.
pub fn fingerprints(chars: &[char], k: usize, window: usize, out: &mut Vec<(u64, u32)>) {
    out.clear();
    if chars.len() < k {
        return;
    }
    let mut hashes = crate::normalize::grams(chars, k).map(|g| xxh3_64(char_bytes(&chars[g])));
    // Only the window's hashes are held (every gram's would be 8 bytes a
    // character: 2.7 times a large CJK document): gram `i`'s hash is at
    // `i % w` and again at `i % w + w`, so each window is one slice.
    let gw = crate::normalize::gram_window(chars, window);
    // winnowing keeps about 2 / (w + 1) of the grams
    out.reserve(chars.len() * 9 / (4 * (gw + 1)) + 16);
    let mut ring: Vec<u64> = hashes.by_ref().take(gw).collect();
    let w = ring.len(); // fewer grams than a window: one window of all
    if w == 0 {
        return;
    }
    ring.extend_from_within(..);
    let mut last: Option<usize> = None;
    let mut start = 0usize;
    // `start % w`, kept as it goes (a division a gram cost more than the
    // winnowing itself)
    let mut slot = 0usize;
    // rightmost minimum of the window starting at gram `start` (held at
    // `slot`), as in the paper, so that runs of equal hashes give one
    // fingerprint
    let rightmost_min = |ring: &[u64], start: usize, slot: usize| -> (usize, u64) {
        let mut best = 0;
        for (o, &h) in ring[slot..slot + w].iter().enumerate() {
            if h <= ring[slot + best] {
                best = o;
            }
        }
        (start + best, ring[slot + best])
    };
    let (mut best, mut min) = rightmost_min(&ring, 0, 0);
    loop {
        if last != Some(best) {
            out.push((min, best as u32));
            last = Some(best);
        }
        let Some(h) = hashes.next() else { break };
        // gram `start + w` takes the place of gram `start`, leaving
        ring[slot] = h;
        ring[slot + w] = h;
        start += 1;
        slot += 1;
        if slot == w {
            slot = 0;
        }
        // The window's minimum changes only when the new gram's hash is at
        // most it (the new gram is then the rightmost minimum) or when the
        // minimum leaves (then the window is scanned again): the same
        // fingerprints as scanning every window, in about one comparison a
        // gram for random hashes instead of `w`.
        if h <= min {
            (best, min) = (start + w - 1, h);
        } else if best < start {
            (best, min) = rightmost_min(&ring, start, slot);
        }
    }
}

/// Memory and disk the block stage may use.
#[derive(Debug, Clone, Copy)]
pub struct Budget<'w> {
    /// Bytes the stage's texts and fingerprints hold at once, about: half
    /// of it for normalised texts (held all at once when they fit, else
    /// read back a batch at a time), a quarter for fingerprints (else
    /// spilled in hash partitions, each about a quarter).
    pub memory: usize,
    /// Where fingerprints spill when they do not fit; without it they stay
    /// in memory.
    pub work: Option<&'w crate::work::WorkDir>,
}

impl Budget<'_> {
    /// Bytes of normalised text held at once (5 bytes a character).
    pub fn texts(&self) -> usize {
        self.memory / 2
    }

    /// Bytes of fingerprints held at once (16 bytes each).
    pub fn fingerprints(&self) -> usize {
        self.memory / 4
    }

    /// No limit: everything in memory.
    pub const UNLIMITED: Budget<'static> = Budget {
        memory: usize::MAX,
        work: None,
    };
}

impl Default for Budget<'_> {
    fn default() -> Self {
        Budget::UNLIMITED
    }
}

/// Finds repeated blocks among `texts` (normalised documents held in memory).
pub fn find_blocks(texts: &[&NormText], opts: &BlockOptions) -> Vec<BlockCluster> {
    // texts in memory are never read again, so this cannot fail
    find_blocks_in(&InMemory(texts), opts, Budget::UNLIMITED).unwrap_or_default()
}

/// Finds repeated blocks among the documents of `src`, loading their texts
/// a batch at a time within `budget`.
///
/// # Errors
///
/// A text that cannot be read again, or a spill file that cannot be
/// written or read.
pub fn find_blocks_in(
    src: &dyn TextSource,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<Vec<BlockCluster>> {
    let pairs = find_pairs_in(src, opts, budget)?;
    blocks_of_pairs(src, pairs, opts, budget)
}

/// Step 5 and the filters after it: the block clusters of verified region
/// pairs (sorted and distinct, as [`sort_pairs`] leaves them).
///
/// # Errors
///
/// A text that cannot be read again, or a pair with a side past its text.
pub fn blocks_of_pairs(
    src: &dyn TextSource,
    pairs: Vec<RegionPair>,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<Vec<BlockCluster>> {
    blocks_of_checked_pairs(src, pairs, opts, budget)?.map_err(|(c, len)| Error::Stage {
        path: "region pairs".to_string(),
        reason: format!(
            "region {}..{} of document {} is past its text ({len} characters)",
            c.range.start, c.range.end, c.doc
        ),
    })
}

/// [`blocks_of_pairs`], or a copy that ends past its text, with that
/// text's length. Only pairs read from an engine's tables can hold one
/// (`neardup plan`, which names the row).
///
/// # Errors
///
/// A text that cannot be read again.
pub(crate) fn blocks_of_checked_pairs(
    src: &dyn TextSource,
    pairs: Vec<RegionPair>,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<std::result::Result<Vec<BlockCluster>, (Copy, usize)>> {
    let clusters = cluster_pairs(&pairs);
    drop(pairs);
    // Copies cut apart where they overlapped may leave a scrap (`65182次`)
    // that is no copy of anything; a short passage is a block only where it
    // is boilerplate. Lengths are weights (a word counts as several
    // characters, [`NormText::weight`]), measured on the texts once: the
    // copies that stay, and those at least `min_block` long.
    let floor = frequent::short_pair(opts);
    let measured = in_batches(
        src,
        &clusters,
        budget.texts(),
        |c, v| v.extend(c.copies.iter().map(|x| x.doc)),
        |texts, c| {
            let mut stay = Vec::new();
            let mut long = Vec::new();
            for x in &c.copies {
                let t = texts.get(x.doc);
                if x.range.end > t.len() {
                    return Err((x.clone(), t.len()));
                }
                let w = t.weight(x.range.clone());
                if w >= floor {
                    stay.push(x.clone());
                }
                if w >= opts.min_block {
                    long.push(x.clone());
                }
            }
            Ok((BlockCluster { copies: stay }, long))
        },
    )?;
    let measured = match measured
        .into_iter()
        .collect::<std::result::Result<Vec<_>, _>>()
    {
        Ok(m) => m,
        Err(past) => return Ok(Err(past)),
    };
    let mut long: Vec<Copy> = Vec::new();
    let big = |c: &BlockCluster| c.documents() >= opts.boilerplate_docs;
    let mut out = Vec::with_capacity(measured.len());
    for (c, l) in measured {
        long.extend(l);
        if big(&c) {
            out.extend(unchain(src, c, budget)?);
        } else {
            out.push(c);
        }
    }
    long.sort_unstable();
    let is_long = |x: &Copy| long.binary_search(x).is_ok();
    out.retain(|c| c.copies.len() >= 2 && (c.copies.iter().any(is_long) || big(c)));
    Ok(Ok(out))
}

/// Splits off the copies of a boilerplate cluster that share less than
/// half of the shorter with its first copy: another passage, joined
/// through a copy that holds both side by side (a share line run into a
/// different footer), not a variant of this one. Those copies are treated
/// the same way among themselves, a few levels deep.
fn unchain(src: &dyn TextSource, c: BlockCluster, budget: Budget<'_>) -> Result<Vec<BlockCluster>> {
    let mut out = Vec::new();
    let mut rest = c.copies;
    for _ in 0..UNCHAIN_LEVELS {
        if rest.len() < 2 {
            break;
        }
        let first = rest[0].clone();
        let stays = in_batches(
            src,
            &rest[1..],
            budget.texts(),
            |x, v| v.extend([first.doc, x.doc]),
            |texts, x| {
                let first = &texts.get(first.doc).chars[first.range.clone()];
                let t = &texts.get(x.doc).chars[x.range.clone()];
                // `2 * lcs >= shorter`, the alignment stopping below it
                let need = t.len().min(first.len()).div_ceil(2);
                chain::template_lcs_at_least(t, first, need) >= need
            },
        )?;
        let (mut stay, mut away) = (vec![first], Vec::new());
        for (x, s) in rest.into_iter().skip(1).zip(stays) {
            if s {
                stay.push(x);
            } else {
                away.push(x);
            }
        }
        out.push(BlockCluster { copies: stay });
        rest = away;
    }
    if rest.len() >= 2 {
        out.push(BlockCluster { copies: rest });
    }
    Ok(out)
}

/// Levels [`unchain`] splits a boilerplate cluster into at most.
const UNCHAIN_LEVELS: usize = 4;

/// Cost of the texts of one batch of a step that reads each document once
/// (fingerprinting), where smaller batches cost no extra reading.
const STREAM_BATCH: usize = 64 << 20;

/// Steps 1–4 over texts in memory: verified region pairs, sorted.
pub fn find_pairs(texts: &[&NormText], opts: &BlockOptions) -> Vec<RegionPair> {
    // texts in memory are never read again, so this cannot fail
    find_pairs_in(&InMemory(texts), opts, Budget::UNLIMITED).unwrap_or_default()
}

/// The fingerprints' gram length: `k`, at least 2.
pub fn gram_len(opts: &BlockOptions) -> usize {
    opts.k.max(2)
}

/// Normalised characters a document needs for its fingerprints to be
/// taken: the shortest block there can be.
pub fn shortest_block(opts: &BlockOptions) -> usize {
    opts.min_block.min(SHORT_BLOCK)
}

/// Steps 1–4: verified region pairs, sorted.
fn find_pairs_in(
    src: &dyn TextSource,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<Vec<RegionPair>> {
    let k = gram_len(opts);
    let shortest = shortest_block(opts);
    // 1. fingerprints, a batch of texts at a time, into memory or hash
    // partitions on disk
    let docs: Vec<u32> = (0..src.docs() as u32)
        .filter(|&d| src.chars(d) >= shortest)
        .collect();
    let chars: usize = docs.iter().map(|&d| src.chars(d)).sum();
    let expected = chars * 2 / (opts.window.max(1) + 1);
    let mut sink = Sink::new(expected, opts.window, budget.fingerprints(), budget.work)?;
    // each document's mean unit weight, taken here where every text is read
    // once: chaining needs it for every pair a document is in
    let mut scale = vec![1.0f64; src.docs()];
    // Each document is read once here whatever the batch size, so batches
    // stay small: a batch's texts and fingerprints (3.5 bytes a character)
    // are held together, and the fingerprints go to the sink right away.
    each_batch(
        src,
        &docs,
        budget.texts().min(STREAM_BATCH),
        |&d, v| v.push(d),
        |texts, batch| {
            // one vector a document (turned into `Fp`s in place), pushed
            // and freed in turn: a large document's fingerprints are held
            // twice at most, not three times
            let per_doc: Vec<(Vec<Fp>, f64)> = batch
                .par_iter()
                .map(|&d| {
                    let t = texts.get(d);
                    let mut v = Vec::new();
                    if t.len() >= shortest {
                        fingerprints(&t.chars, k, opts.window, &mut v);
                    }
                    let fps = v.into_iter().map(|(h, p)| (h, d, p)).collect();
                    (fps, chain::unit_weight(t))
                })
                .collect();
            src.read_through(batch.len());
            let (fps, weights): (Vec<Vec<Fp>>, Vec<f64>) = per_doc.into_iter().unzip();
            for (&d, w) in batch.iter().zip(weights) {
                scale[d as usize] = w;
            }
            sink.push_batch(&fps)?;
            // a few hundred thousand vectors: freed by the pool, not one by one here
            fps.into_par_iter().for_each(drop);
            Ok(())
        },
    )?;
    // 2. runs of one hash, a partition at a time: rare ones give pairwise
    // seeds, frequent ones go to the star path
    let mut seeds: Vec<Seed> = Vec::new();
    let mut occ: Vec<frequent::Occ> = Vec::new();
    let mut frequent_fps = 0u32;
    sink.drain(|mut fps| {
        fps.par_sort_unstable();
        let (frequent, rare) = hash_runs(&fps, opts.max_occurrences);
        let first = frequent_fps;
        occ.par_extend(frequent.par_iter().enumerate().flat_map_iter(|(i, r)| {
            fps[r.clone()]
                .iter()
                .map(move |&(_, doc, pos)| frequent::Occ {
                    doc,
                    pos,
                    fp: first + i as u32,
                })
        }));
        frequent_fps += frequent.len() as u32;
        seeds.par_extend(rare.par_iter().flat_map_iter(|r| {
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
        }));
        Ok(())
    })?;
    let (mut pairs, runs) = frequent::star_pairs(src, occ, frequent_fps as usize, opts, budget)?;
    // 3. chains, per document pair
    // seeds of these texts always lie inside them
    pairs.extend(
        verify_seeds(src, seeds, opts, budget, Some(&scale), Some(&runs))?.unwrap_or_default(),
    );
    sort_pairs(&mut pairs);
    Ok(pairs)
}

/// Runs of one hash: ranges of the sorted fingerprints.
type Runs = Vec<Range<usize>>;

/// The runs of one hash in sorted `fps`: those of more than `max` occurrences
/// (frequent) and those of 2 to `max` (rare), each in hash order. Scanned
/// in parallel, a share of the fingerprints per task, each share starting
/// where a run starts.
fn hash_runs(fps: &[Fp], max: usize) -> (Runs, Runs) {
    let tasks = rayon::current_num_threads() * 4;
    let mut starts: Vec<usize> = (0..tasks).map(|t| t * fps.len() / tasks).collect();
    for s in &mut starts {
        while *s > 0 && *s < fps.len() && fps[*s].0 == fps[*s - 1].0 {
            *s += 1;
        }
    }
    starts.push(fps.len());
    starts.dedup();
    let shares: Vec<(Runs, Runs)> = starts
        .par_windows(2)
        .map(|w| {
            let (mut frequent, mut rare) = (Vec::new(), Vec::new());
            let mut s = w[0];
            while s < w[1] {
                let mut e = s + 1;
                while e < w[1] && fps[e].0 == fps[s].0 {
                    e += 1;
                }
                if e - s > max {
                    frequent.push(s..e);
                } else if e - s >= 2 {
                    rare.push(s..e);
                }
                s = e;
            }
            (frequent, rare)
        })
        .collect();
    let (frequent, rare): (Vec<_>, Vec<_>) = shares.into_iter().unzip();
    (frequent.concat(), rare.concat())
}

/// Step 3: each document pair's seeds chained and verified ([`chain`]),
/// a batch of texts at a time, but those left to the star path (`runs`,
/// the frequent runs, when the star path ran here); the pairs in seed
/// order, or a seed whose gram lies past its text. `scale` is each
/// document's mean unit weight ([`chain::unit_weight`]) when the caller
/// took it while reading every text once; else it is taken a pair at a time.
fn verify_seeds(
    src: &dyn TextSource,
    mut seeds: Vec<Seed>,
    opts: &BlockOptions,
    budget: Budget<'_>,
    scale: Option<&[f64]>,
    runs: Option<&frequent::RunIndex>,
) -> Result<std::result::Result<Vec<RegionPair>, Seed>> {
    sort_by_doc(&mut seeds, |s| s.da);
    // A pair with one seed has no chain (a chain is two seeds or more):
    // with boilerplate, most pairs are two pages that share only a date
    // or a counter (on b100000, 1.0 of 1.1 million pairs), and skipping
    // them spares loading and chaining them.
    let mut groups: Vec<&[Seed]> = seeds
        .chunk_by(|x, y| x.da == y.da && x.db == y.db)
        .filter(|g| g.len() >= 2)
        .collect();
    // A pair whose every seed lies inside frequent runs on both sides is
    // two copies of boilerplate sharing what varies in it (a date, a site
    // name): the star path aligns each copy to its parent; chaining them
    // here too found the same copies again (on b100000, 66 of 142 thousand
    // pairs).
    if let Some(runs) = runs {
        groups = groups
            .into_par_iter()
            .filter(|g| {
                !g.iter()
                    .all(|s| runs.covers(s.da, s.pa) && runs.covers(s.db, s.pb))
            })
            .collect();
    }
    let verified = in_batches(
        src,
        &groups,
        budget.texts(),
        |g, v| v.extend([g[0].da, g[0].db]),
        |texts, group| {
            let (da, db) = (group[0].da, group[0].db);
            let pair = DocPair::new(texts, da, db, false);
            // seeds made elsewhere are checked against the texts they name
            // (on one machine they come from these texts): a seed starts
            // inside its text
            if let Some(s) = group.iter().find(|s| {
                past_text(pair.na, s.pa as usize + 1) || past_text(pair.nb, s.pb as usize + 1)
            }) {
                return Err(*s);
            }
            let scale = match scale {
                Some(s) => [s[da as usize], s[db as usize]],
                None => [pair.na, pair.nb].map(chain::unit_weight),
            };
            Ok(chain::verify_chains(
                group,
                &pair,
                opts,
                gram_len(opts),
                opts.min_block,
                scale,
            ))
        },
    )?;
    let mut out = Vec::new();
    for v in verified {
        match v {
            Ok(pairs) => out.extend(pairs),
            Err(seed) => return Ok(Err(seed)),
        }
    }
    Ok(Ok(out))
}

/// Sorts `v` as `par_sort_unstable` does, for items whose order begins
/// with a document index (`doc`) and whose equal items are identical: a
/// counting sort by document, then each document's items sorted on their
/// own, in parallel. Seeds and frequent occurrences come grouped by hash,
/// millions of them over a few thousand documents each; moving each once
/// and sorting a document's few at a time costs a fraction of sorting them
/// all at once. Holds a second copy of `v` while it runs.
///
/// The counting sort runs on every core too: the documents are cut into
/// one range a thread, each holding about as many items, and each thread
/// reads all of `v` and moves the items of its range into its own part of
/// the output. On the boilerplate corpus (2.6 million seeds over 78,000
/// documents) the one-thread scatter, a cache miss an item, was most of
/// the block stage's serial time; reading `v` once more a thread costs
/// far less than that miss.
pub(crate) fn sort_by_doc<T>(v: &mut [T], doc: impl Fn(&T) -> u32 + Sync)
where
    T: Ord + std::marker::Copy + Send + Sync,
{
    let Some(last) = v.par_iter().map(&doc).max() else {
        return;
    };
    // few items over many documents (a shard's, or indices made
    // elsewhere): a table a document would cost more than it spares
    if last as usize > 4 * v.len() + 1024 {
        v.par_sort_unstable();
        return;
    }
    // where each document's items start in the output
    let mut start = vec![0usize; last as usize + 2];
    for x in v.iter() {
        start[doc(x) as usize + 1] += 1;
    }
    for d in 1..start.len() {
        start[d] += start[d - 1];
    }
    // documents `cuts[t]..cuts[t + 1]` are thread t's, about an equal share
    // of the items each: thread t's range starts at the first document
    // with `t / threads` of the items before it
    let threads = rayon::current_num_threads().clamp(1, 64);
    let mut cuts: Vec<usize> = (0..threads)
        .map(|t| start.partition_point(|&s| s < t * v.len() / threads))
        .collect();
    cuts.push(last as usize + 1);
    cuts.dedup();
    let mut out = vec![v[0]; v.len()];
    let mut parts: Vec<(std::ops::Range<usize>, &mut [T])> = Vec::with_capacity(cuts.len());
    let mut rest = out.as_mut_slice();
    for w in cuts.windows(2) {
        let (part, tail) = rest.split_at_mut(start[w[1]] - start[w[0]]);
        parts.push((w[0]..w[1], part));
        rest = tail;
    }
    let items: &[T] = v;
    parts.par_iter_mut().for_each(|(docs, part)| {
        let base = start[docs.start];
        let mut at: Vec<usize> = start[docs.clone()].iter().map(|&s| s - base).collect();
        for &x in items {
            let d = doc(&x) as usize;
            if docs.contains(&d) {
                part[at[d - docs.start]] = x;
                at[d - docs.start] += 1;
            }
        }
    });
    let mut each: Vec<&mut [T]> = Vec::new();
    let mut rest = out.as_mut_slice();
    for w in start.windows(2) {
        let (part, tail) = rest.split_at_mut(w[1] - w[0]);
        if part.len() > 1 {
            each.push(part);
        }
        rest = tail;
    }
    each.par_iter_mut().for_each(|p| p.sort_unstable());
    v.par_chunks_mut(1 << 16)
        .zip(out.par_chunks(1 << 16))
        .for_each(|(to, from)| to.copy_from_slice(from));
}

/// Whether a span of `t` ending at `end` (exclusive; a gram at `p` ends
/// at `p + 1` or later) lies past its end. Positions made elsewhere (a
/// stage file's rows, `src/shard`) are checked with it before use: a
/// tampered row would index past the text. Those made from the texts on
/// one machine always lie inside them.
pub(crate) fn past_text(t: &NormText, end: usize) -> bool {
    end > t.len()
}

/// Step 3 over seeds made elsewhere (an engine's grouping of the
/// fingerprints, `src/shard`): `(doc a, pos a, doc b, pos b)` with `a`
/// not after `b`, every seed of a document pair among them. Gives the
/// verified pairs in seed order, or a seed `(doc a, pos a, doc b, pos b)`
/// whose gram lies past the end of its text (in the block stage's units).
///
/// # Errors
///
/// A text that cannot be read again.
#[allow(clippy::type_complexity)]
pub fn verify_seed_pairs(
    src: &dyn TextSource,
    seeds: &[(u32, u32, u32, u32)],
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<std::result::Result<Vec<RegionPair>, (u32, u32, u32, u32)>> {
    let seeds = seeds
        .iter()
        .map(|&(da, pa, db, pb)| Seed { da, db, pa, pb })
        .collect();
    Ok(verify_seeds(src, seeds, opts, budget, None, None)?.map_err(|s| (s.da, s.pa, s.db, s.pb)))
}

/// The star path (step 3 of the method) over frequent fingerprints found
/// elsewhere (an engine's grouping, `src/shard`): `(hash, doc, pos)` of
/// every occurrence of every fingerprint held in more than
/// [`BlockOptions::max_occurrences`] places, in any order. Numbers the
/// fingerprints in hash order, as one machine's sorted fingerprints do.
///
/// # Errors
///
/// A text that cannot be read again.
pub fn star_pairs_of(
    src: &dyn TextSource,
    mut fps: Vec<(u64, u32, u32)>,
    opts: &BlockOptions,
    budget: Budget<'_>,
) -> Result<Vec<RegionPair>> {
    fps.par_sort_unstable();
    let mut occ = Vec::with_capacity(fps.len());
    let mut n = 0u32;
    for (i, &(h, doc, pos)) in fps.iter().enumerate() {
        if i > 0 && fps[i - 1].0 != h {
            n += 1;
        }
        occ.push(frequent::Occ { doc, pos, fp: n });
    }
    let fingerprints = if fps.is_empty() { 0 } else { n as usize + 1 };
    drop(fps);
    Ok(frequent::star_pairs(src, occ, fingerprints, opts, budget)?.0)
}

/// Sorts verified pairs by their regions and keeps one of each (the
/// least similar, as every path has).
pub fn sort_pairs(pairs: &mut Vec<RegionPair>) {
    pairs.par_sort_by(|x, y| {
        (&x.a, &x.b)
            .cmp(&(&y.a, &y.b))
            .then(x.similarity.total_cmp(&y.similarity))
    });
    pairs.dedup_by(|x, y| x.a == y.a && x.b == y.b);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize, NormalizeOptions};

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

    /// Runs of one hash are found whole wherever the parallel shares cut
    /// the fingerprints (runs longer than a share, runs at a share's edge):
    /// the same runs, in the same order, as one scan from the start.
    #[test]
    fn hash_runs_are_whole_across_shares() {
        let mut rnd = crate::testutil::lcg(7);
        for len in [0usize, 1, 2, 5, 40, 333, 5000] {
            // few distinct hashes: long runs that span several shares
            let mut fps: Vec<Fp> = (0..len)
                .map(|i| (rnd(1 + len as u64 / 30), (i % 13) as u32, i as u32))
                .collect();
            fps.sort_unstable();
            let mut want = (Vec::new(), Vec::new());
            let mut s = 0;
            while s < fps.len() {
                let e = s + fps[s..].iter().take_while(|f| f.0 == fps[s].0).count();
                match e - s {
                    n if n > 20 => want.0.push(s..e),
                    n if n >= 2 => want.1.push(s..e),
                    _ => {}
                }
                s = e;
            }
            assert_eq!(hash_runs(&fps, 20), want, "{len} fingerprints");
        }
    }

    /// The fingerprints are those of winnowing over every gram's hash at
    /// once, as the paper defines them, whatever the text's length.
    /// A paragraph of words shared at the very end of two texts is found:
    /// its last grams hold fewer than `k` units, and no seed check may
    /// take them for seeds past their text.
    #[test]
    fn a_shared_paragraph_of_words_at_the_end_is_found() {
        let shared: String = (0..80).map(|i| format!("word{} ", i * 7 % 53)).collect();
        let a = format!("first document opens here differently. {shared}");
        let b = format!("another text starts with other words entirely. {shared}");
        let opts = NormalizeOptions::default();
        let (na, nb) = (normalize(&a, &opts), normalize(&b, &opts));
        let found = find_blocks(&[&na, &nb], &BlockOptions::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].documents(), 2);
    }

    #[test]
    fn fingerprints_are_the_rightmost_minima_of_every_window() {
        for (seed, n, window) in [(4, 0, 8), (5, 7, 8), (6, 12, 8), (7, 900, 8), (8, 300, 1)] {
            let mut t = text(seed, n);
            // runs of equal hashes
            for i in (0..t.len()).step_by(50) {
                let end = (i + 30).min(t.len());
                t[i..end].fill('一');
            }
            let hashes: Vec<u64> = crate::normalize::grams(&t, 8)
                .map(|g| xxh3_64(char_bytes(&t[g])))
                .collect();
            let mut expected = Vec::new();
            let w = crate::normalize::gram_window(&t, window).min(hashes.len());
            if t.len() >= 8 {
                for start in 0..=hashes.len() - w {
                    let best = (start..start + w).rev().min_by_key(|&i| hashes[i]).unwrap();
                    if expected.last().map(|&(_, p)| p) != Some(best as u32) {
                        expected.push((hashes[best], best as u32));
                    }
                }
            }
            let mut got = Vec::new();
            fingerprints(&t, 8, window, &mut got);
            assert_eq!(got, expected, "{n} characters, window {window}");
        }
    }

    /// Seeds and occurrences are grouped by document after a sort by
    /// document first: it must give the order of a full sort (which the
    /// pairs found, and so the report, depend on), however many
    /// documents the items spread over.
    #[test]
    fn sorting_by_document_gives_the_order_of_a_full_sort() {
        let mut rnd = crate::testutil::lcg(31);
        for (n, docs) in [
            (0, 1),
            (1, 1),
            (2, 1),
            (500, 7),
            (3000, 200),
            (50, 100_000),
            (20_000, 3),
        ] {
            let mut v: Vec<Seed> = (0..n)
                .map(|_| Seed {
                    da: rnd(docs) as u32,
                    db: rnd(docs) as u32,
                    pa: rnd(50) as u32,
                    pb: rnd(50) as u32,
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            // one range of documents a thread: 1, 3 and 8 of them
            for threads in [1, 3, 8] {
                let mut got = v.clone();
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                pool.install(|| sort_by_doc(&mut got, |s| s.da));
                assert_eq!(
                    got, want,
                    "{n} seeds over {docs} documents, {threads} threads"
                );
            }
            sort_by_doc(&mut v, |s| s.da);
            assert_eq!(v, want, "{n} seeds over {docs} documents");
        }
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

    /// A document of lines: a line break before each part but the first.
    fn page(parts: &[Vec<char>]) -> NormText {
        let mut n = nt(&[]);
        for (i, p) in parts.iter().enumerate() {
            for (j, &c) in p.iter().enumerate() {
                n.chars.push(c);
                n.orig.push(n.orig.len() as u32);
                let line = i > 0 && j == 0;
                n.gap_before
                    .push(if line { crate::normalize::GAP_LINE } else { 0 });
            }
        }
        n
    }

    /// `passage` with the characters in `field` replaced by ones drawn
    /// from `seed` (a date, a site name that varies from page to page).
    fn varied(passage: &[char], field: Range<usize>, seed: u64) -> Vec<char> {
        let mut v = passage.to_vec();
        v.splice(field.clone(), text(seed, field.len()));
        v
    }

    /// Holders of each cluster: (documents, copies).
    fn shape(clusters: &[BlockCluster]) -> Vec<(usize, usize)> {
        let mut v: Vec<_> = clusters
            .iter()
            .map(|c| (c.documents(), c.copies.len()))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_passage_on_hundreds_of_pages_is_one_cluster_of_every_copy() {
        // 300 characters in three lines; a varying field; every fifth page
        // lacks the middle line (10% of the passage: such a copy stays
        // above the block threshold)
        let lines = [text(100, 135), text(101, 30), text(102, 135)];
        let docs: Vec<NormText> = (0..300u64)
            .map(|d| {
                let mut footer = vec![varied(&lines[0], 10..22, 1000 + d)];
                if d % 5 != 0 {
                    footer.push(lines[1].clone());
                }
                footer.push(lines[2].clone());
                let mut parts = vec![text(2000 + d, 300)];
                parts.extend(footer);
                page(&parts)
            })
            .collect();
        let refs: Vec<&NormText> = docs.iter().collect();
        let clusters = find_blocks(&refs, &BlockOptions::default());
        assert_eq!(shape(&clusters), vec![(300, 300)]);
        for c in &clusters[0].copies {
            assert!(c.range.start.abs_diff(300) <= 1, "{c:?}");
        }
    }

    #[test]
    fn copies_sharing_what_varies_in_boilerplate_are_left_to_the_star_path() {
        // a 300-character footer on 300 pages whose 40-character site name
        // is one of 10: pages of one site share rare fingerprints inside
        // the footer, which alone would chain them pairwise
        let lines = [text(110, 135), text(111, 30), text(112, 135)];
        let docs: Vec<NormText> = (0..300u64)
            .map(|d| {
                let footer = varied(&lines[0], 60..100, 1000 + d % 10);
                page(&[
                    text(2000 + d, 300),
                    footer,
                    lines[1].clone(),
                    lines[2].clone(),
                ])
            })
            .collect();
        let refs: Vec<&NormText> = docs.iter().collect();
        let opts = BlockOptions::default();
        let pairs = find_pairs(&refs, &opts);
        assert!(!pairs.is_empty());
        let pairwise: Vec<_> = pairs.iter().filter(|p| !p.frequent).collect();
        assert!(
            pairwise.is_empty(),
            "{:?}",
            &pairwise[..pairwise.len().min(3)]
        );
        assert_eq!(shape(&find_blocks(&refs, &opts)), vec![(300, 300)]);
    }

    #[test]
    fn a_box_that_lost_its_last_title_still_ends_with_its_last_line() {
        // a related-articles box: a heading, nine titles and a line naming
        // the site (one of seven names of 3 to 6 characters); a third of
        // the pages lose one title, the last one included. Past a missing
        // title the gapless extension stops; every copy still ends where
        // the box does.
        let titles: Vec<Vec<char>> = (0..9).map(|i| text(300 + i, 20)).collect();
        let head: Vec<char> = "相关文章推荐：".chars().collect();
        let more: Vec<char> = "更多精彩内容请访问".chars().collect();
        let topic: Vec<char> = "专题栏目。".chars().collect();
        let mut ends = Vec::new();
        let docs: Vec<NormText> = (0..300u64)
            .map(|d| {
                let mut parts = vec![text(5000 + d, 200), head.clone()];
                let lost = (d % 3 == 0).then_some((d / 3 % 9) as usize);
                parts.extend(
                    (0..9)
                        .filter(|&i| Some(i) != lost)
                        .map(|i| titles[i].clone()),
                );
                let site = text(400 + d % 7, 3 + (d % 7) as usize / 2);
                parts.push([more.clone(), site, topic.clone()].concat());
                let page_len: usize = parts.iter().map(Vec::len).sum();
                ends.push(page_len);
                parts.push(text(6000 + d, 200));
                page(&parts)
            })
            .collect();
        let refs: Vec<&NormText> = docs.iter().collect();
        let clusters = find_blocks(&refs, &BlockOptions::default());
        let boxes: Vec<&BlockCluster> = clusters.iter().filter(|c| c.documents() == 300).collect();
        assert_eq!(boxes.len(), 1, "{:?}", shape(&clusters));
        for c in &boxes[0].copies {
            assert_eq!(c.range.end, ends[c.doc as usize], "{c:?}");
        }
    }

    #[test]
    fn a_run_covers_its_grams_and_a_window_around() {
        let occ = |doc, pos| frequent::Occ { doc, pos, fp: 0 };
        let occ = [occ(1, 10), occ(1, 40), occ(1, 90), occ(3, 5), occ(3, 20)];
        // grams of 8, windows of 4
        let runs = frequent::RunIndex::of(&occ, &[0..2, 3..5], 8, 4);
        let inside = [(1, 6), (1, 10), (1, 51), (3, 1), (3, 31)];
        let outside = [
            (1, 5),
            (1, 52),
            (1, 90),
            (0, 20),
            (2, 20),
            (3, 0),
            (3, 32),
            (4, 10),
        ];
        for (d, p) in inside {
            assert!(runs.covers(d, p), "{d} {p}");
        }
        for (d, p) in outside {
            assert!(!runs.covers(d, p), "{d} {p}");
        }
    }

    #[test]
    fn a_short_passage_counts_only_in_many_documents() {
        let line = text(200, 70);
        let pages = |n: u64| -> Vec<NormText> {
            (0..n)
                .map(|d| page(&[text(3000 + d, 200), line.clone(), text(4000 + d, 200)]))
                .collect()
        };
        let opts = BlockOptions::default();
        let many = pages(120);
        let found = find_blocks(&many.iter().collect::<Vec<_>>(), &opts);
        assert_eq!(shape(&found), vec![(120, 120)]);
        // in 80 documents it is frequent but not boilerplate: shorter than
        // --min-block, so not a block
        let few = pages(80);
        assert!(find_blocks(&few.iter().collect::<Vec<_>>(), &opts).is_empty());
    }

    #[test]
    fn two_passages_side_by_side_stay_two_clusters() {
        // A on pages 0..150, B on pages 100..250, A directly above B on
        // pages 100..150
        let (a, b) = (text(300, 150), text(301, 110));
        let docs: Vec<NormText> = (0..250u64)
            .map(|d| {
                let mut parts = vec![text(5000 + d, 200)];
                if d < 150 {
                    parts.push(a.clone());
                }
                if d >= 100 {
                    parts.push(b.clone());
                }
                parts.push(text(6000 + d, 200));
                page(&parts)
            })
            .collect();
        let refs: Vec<&NormText> = docs.iter().collect();
        let clusters = find_blocks(&refs, &BlockOptions::default());
        assert_eq!(shape(&clusters), vec![(150, 150), (150, 150)]);
    }

    /// `n` made-up English words drawn from `seed`, in lines of 12.
    fn prose(seed: u64, n: usize) -> String {
        let mut rnd = crate::testutil::lcg(seed);
        let syl = [
            "ka", "lo", "mi", "tre", "son", "vu", "pel", "dar", "en", "ro",
        ];
        let mut s = String::new();
        for i in 0..n {
            let len = 1 + rnd(3) as usize;
            let w: String = (0..len).map(|_| syl[rnd(10) as usize]).collect();
            s.push_str(&w);
            s.push(if i % 12 == 11 { '\n' } else { ' ' });
        }
        s
    }

    #[test]
    fn a_short_english_line_on_many_pages_is_one_cluster() {
        // 13 words and a counter: shorter than --min-block (20 words), a
        // passage because 150 pages hold it; lengths count words as
        // weight, not as one unit each
        let pages: Vec<NormText> = (0..150u64)
            .map(|d| {
                let text = format!(
                    "{}\nShare this article on Facebook, Twitter or by email | \
                     printer-friendly version | read {} times\n{}",
                    prose(7000 + d, 60),
                    1000 + d * 7,
                    prose(8000 + d, 60)
                );
                crate::normalize::normalize(&text, &Default::default())
            })
            .collect();
        let found = find_blocks(&pages.iter().collect::<Vec<_>>(), &BlockOptions::default());
        assert_eq!(shape(&found), vec![(150, 150)]);
        for (c, t) in found[0].copies.iter().zip(&pages) {
            let words = t.chars[c.range.clone()]
                .iter()
                .filter(|&&u| crate::normalize::is_word_unit(u))
                .count();
            assert_eq!(words, 13, "{c:?}");
        }
    }

    /// `n` random digits drawn from `seed`.
    fn digits(seed: u64, n: usize) -> Vec<char> {
        let mut rnd = crate::testutil::lcg(seed);
        (0..n).map(|_| char::from(b'0' + rnd(10) as u8)).collect()
    }

    #[test]
    fn a_footer_whose_numbers_vary_and_that_lost_a_line_is_one_cluster() {
        // three of four lines end in 24 digits (a licence number and a
        // phone number) that differ on every page; every fifth page lacks
        // the third line: such a copy shares about 0.75 of its characters
        // in order with a full one, and all of its other characters
        let lines = [text(400, 20), text(401, 30), text(402, 40), text(403, 20)];
        let docs: Vec<NormText> = (0..200u64)
            .map(|d| {
                let mut parts = vec![text(7000 + d, 300)];
                for (i, l) in lines.iter().enumerate() {
                    if i == 2 && d % 5 == 1 {
                        continue;
                    }
                    let mut line = l.clone();
                    if i != 2 {
                        line.extend(digits(10 * d + i as u64, 24));
                    }
                    parts.push(line);
                }
                page(&parts)
            })
            .collect();
        let refs: Vec<&NormText> = docs.iter().collect();
        let clusters = find_blocks(&refs, &BlockOptions::default());
        assert_eq!(shape(&clusters), vec![(200, 200)]);
    }

    #[test]
    fn an_article_shared_by_two_pages_leaves_their_share_line_to_its_cluster() {
        // 250 pages end with one share line (a varying counter at its end);
        // pages 0..100 come in pairs that share an article just above it,
        // and the pair's alignment runs on through the share line as far
        // as it agrees
        let (line, shared) = (text(500, 60), |p: u64| text(600 + p, 300));
        let docs: Vec<NormText> = (0..250u64)
            .map(|d| {
                let body = if d < 100 {
                    shared(d / 2)
                } else {
                    text(9000 + d, 300)
                };
                let mut share = line.clone();
                share.extend(digits(d, 5));
                page(&[text(8000 + d, 200), body, share])
            })
            .collect();
        let refs: Vec<&NormText> = docs.iter().collect();
        let clusters = find_blocks(&refs, &BlockOptions::default());
        let mut want = vec![(2, 2); 50];
        want.push((250, 250));
        assert_eq!(shape(&clusters), want);
        for c in clusters.iter().filter(|c| c.copies.len() == 2) {
            for x in &c.copies {
                assert_eq!(x.range, 200..500, "{c:?}");
            }
        }
    }

    #[test]
    fn unrelated_texts_give_nothing() {
        let a = text(11, 3000);
        let b = text(12, 3000);
        assert!(find_blocks(&[&nt(&a), &nt(&b)], &BlockOptions::default()).is_empty());
    }
}
