//! LSH: signatures → candidate pairs, in time linear in the corpus.
//!
//! # Which index when
//!
//! - [`band_candidates`] (MinHash banding, default): the signature is cut
//!   into `b` bands of `r` rows; two documents are candidates when one band
//!   is equal. A pair with Jaccard `J` becomes a candidate with probability
//!   `1 − (1 − J^r)^b`. [`LshParams::derive`] chooses `r` and `b` from the
//!   similarity threshold so that an edited copy *at* the threshold is still
//!   found (see there); verification removes the extra candidates.
//! - [`hamming_candidates`] (SimHash): the 64 bits are cut into `k + 1`
//!   blocks; by pigeonhole, two hashes within Hamming distance `k` agree on
//!   one whole block, so documents sharing a block are candidates (distance
//!   `<= k`, checked exactly afterwards).
//!
//! Buckets are found in an open-addressing table of 4-byte slots, the
//! documents of a key chained through an array, not with hash maps of
//! vectors: less memory, linear time, and the candidates (sorted at the
//! end) do not depend on the order the keys came in.
//! A bucket with more than [`MAX_BUCKET`] documents (boilerplate that many
//! documents share) yields only a star and a path through its members
//! instead of all pairs, which keeps true duplicate groups connected
//! without a quadratic blow-up.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{Error, Result};
use crate::signature::mix;

/// Buckets above this size give linear instead of quadratic pairs.
pub const MAX_BUCKET: usize = 64;

/// Banding parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LshParams {
    /// Number of bands.
    pub bands: usize,
    /// Rows (signature positions) per band.
    pub rows: usize,
}

impl LshParams {
    /// Bands and rows for a character-similarity `threshold` with
    /// `ngram`-shingles and `perms` permutations.
    ///
    /// A copy with a fraction `1 − t` of its characters edited, edits spread
    /// out, keeps about `s = t^n` of its n-grams, so its Jaccard is
    /// `J* = s / (2 − s)` (0.20 for t = 0.8, n = 5). The largest `r` whose
    /// banding still finds a pair at `J*` with probability ≥ 0.9 is chosen,
    /// with `b = perms / r`.
    pub fn derive(threshold: f64, ngram: usize, perms: usize) -> LshParams {
        let s = threshold.powi(ngram as i32);
        let j = s / (2.0 - s);
        let mut best = LshParams {
            bands: perms,
            rows: 1,
        };
        for rows in 1..=perms {
            let bands = perms / rows;
            if bands == 0 {
                break;
            }
            let p = 1.0 - (1.0 - j.powi(rows as i32)).powi(bands as i32);
            if p >= 0.9 {
                best = LshParams { bands, rows };
            }
        }
        best
    }

    /// Checks that the bands fit in the signature.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] when `bands × rows > perms` or either is 0.
    pub fn validate(&self, perms: usize) -> Result<()> {
        if self.bands == 0 || self.rows == 0 || self.bands * self.rows > perms {
            return Err(Error::InvalidOption {
                name: "bands",
                reason: format!(
                    "{} bands × {} rows must be at least 1 and fit in {perms} permutations",
                    self.bands, self.rows
                ),
            });
        }
        Ok(())
    }

    /// Probability that a pair of Jaccard `j` becomes a candidate.
    pub fn probability(&self, j: f64) -> f64 {
        1.0 - (1.0 - j.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

/// The signature of each document, however they are stored.
pub trait Signatures: Sync {
    /// The signature of document `doc`.
    fn signature(&self, doc: u32) -> &[u32];
}

/// One boxed signature per document (what the streaming scan builds as it
/// reads: no second, flat copy).
impl Signatures for Vec<Box<[u32]>> {
    fn signature(&self, doc: u32) -> &[u32] {
        &self[doc as usize]
    }
}

/// Signatures stored back to back, `perms` values per document.
#[derive(Debug, Clone, Copy)]
pub struct Flat<'a> {
    /// All values.
    pub values: &'a [u32],
    /// Values per document.
    pub perms: usize,
}

impl Signatures for Flat<'_> {
    fn signature(&self, doc: u32) -> &[u32] {
        let d = doc as usize;
        &self.values[d * self.perms..(d + 1) * self.perms]
    }
}

/// The rows whose bands one pass over the signatures keys: a 64-byte cache
/// line of each signature (the signatures are far larger than the caches,
/// and each is its own allocation), so each line is read once.
const ROWS_PER_PASS: usize = 16;

/// At most this many bands a pass (each holds 8 bytes a document in flight).
const MAX_BANDS_PER_PASS: usize = 8;

/// How many documents ahead a pass asks for its signature's line.
const PREFETCH: usize = 8;

/// Candidate pairs `(a, b)`, `a < b`, sorted and unique, among the
/// documents listed in `docs`.
///
/// Holds, per pass in flight, the keys of the bands of 16 rows (at most
/// eight, 8 bytes a document each) and one band's table (12 to 20 bytes a
/// document), and the pairs found, before they are merged.
pub fn band_candidates<S: Signatures + ?Sized>(
    sigs: &S,
    docs: &[u32],
    params: LshParams,
) -> Vec<(u32, u32)> {
    let bands_per_pass = (ROWS_PER_PASS / params.rows).clamp(1, MAX_BANDS_PER_PASS);
    let firsts: Vec<usize> = (0..params.bands).step_by(bands_per_pass).collect();
    let per_pass: Vec<Vec<u64>> = firsts
        .into_par_iter()
        .map(|first| {
            let bands = first..(first + bands_per_pass).min(params.bands);
            let mut keys: Vec<Vec<u64>> = bands
                .clone()
                .map(|_| Vec::with_capacity(docs.len()))
                .collect();
            for (i, &d) in docs.iter().enumerate() {
                if let Some(&ahead) = docs.get(i + PREFETCH) {
                    if let Some(line) = sigs.signature(ahead).get(first * params.rows..) {
                        prefetch(line);
                    }
                }
                let sig = sigs.signature(d);
                for (k, band) in keys.iter_mut().zip(bands.clone()) {
                    k.push(grouping_key(sig, band, params.rows));
                }
            }
            let mut grouper = Grouper::default();
            for k in &keys {
                grouper.pairs(k, docs);
            }
            grouper.out
        })
        .collect();
    merge_pairs(per_pass)
}

/// Asks for the cache line that `values` starts on, for a read soon.
#[inline(always)]
fn prefetch(values: &[u32]) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint: it reads nothing and faults on no address.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(values.as_ptr().cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}

/// The bucket key of band `band` (of `rows` rows) of signature `sig`: two
/// documents are candidates when one band's keys are equal. The sharded
/// path ([`crate::shard`]) writes these keys for an engine to group.
pub fn band_key(sig: &[u32], band: usize, rows: usize) -> u64 {
    let lo = band * rows;
    hash_row(&sig[lo..lo + rows], band as u64)
}

/// The key [`band_candidates`] groups band `band` by: equal exactly when
/// the band's rows are (up to a hash collision when they fill more than
/// 64 bits), spread evenly over all 64 bits for [`Grouper`]. Bands of one
/// or two rows (the default derived for threshold 0.8) are their own key,
/// mixed by a bijection, so no hashing is needed and nothing collides.
fn grouping_key(sig: &[u32], band: usize, rows: usize) -> u64 {
    let lo = band * rows;
    match rows {
        1 => mix(u64::from(sig[lo])),
        2 => mix(u64::from(sig[lo]) << 32 | u64::from(sig[lo + 1])),
        _ => band_key(sig, band, rows),
    }
}

// Keys go through `mix` (the splitmix64 finaliser, a bijection whose top
// bits depend on every input bit): MinHash values are small numbers and
// SimHash blocks a few bits of the hash, so [`Grouper`] could not bucket
// them by their top bits as they are.

/// Candidate pairs among `docs` whose SimHashes may be within `max_hamming` bits.
pub fn hamming_candidates(hashes: &[u64], docs: &[u32], max_hamming: u32) -> Vec<(u32, u32)> {
    let blocks = (max_hamming as usize + 1).min(64);
    let per_block: Vec<Vec<u64>> = (0..blocks)
        .into_par_iter()
        .map(|blk| {
            let lo = blk * 64 / blocks;
            let hi = (blk + 1) * 64 / blocks;
            let mask = if hi - lo == 64 {
                !0
            } else {
                ((1u64 << (hi - lo)) - 1) << lo
            };
            let keys: Vec<u64> = docs
                .iter()
                .map(|&d| mix(hashes[d as usize] & mask))
                .collect();
            let mut grouper = Grouper::default();
            grouper.pairs(&keys, docs);
            grouper.out
        })
        .collect();
    merge_pairs(per_block)
}

fn hash_row(row: &[u32], band: u64) -> u64 {
    let mut buf = [0u8; 4 * 32];
    let mut h = band;
    for chunk in row.chunks(32) {
        for (i, v) in chunk.iter().enumerate() {
            buf[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
        }
        h = xxh3_64_with_seed(&buf[..chunk.len() * 4], h);
    }
    h
}

/// Groups documents by key and gives the pairs of each group, with its
/// buffers reused from one band to the next.
///
/// Keys go into an open-addressing table indexed by their top bits (they
/// are evenly spread), at most half full, each slot the last of its key's
/// documents, which chain back to the first: a probe or two a document,
/// where a counting sort of every band's keys took four passes over them
/// (and the sort of `n log n` before it, most of this stage's time).
/// 4 bytes a slot and 4 a document.
#[derive(Default)]
struct Grouper {
    /// The table: for each slot, the index (into `keys`) of the last
    /// document of its key so far, or [`EMPTY`].
    slots: Vec<u32>,
    /// For each document index, the one before it with the same key, or
    /// [`EMPTY`] for the first.
    before: Vec<u32>,
    /// The slots of keys with two documents or more.
    shared: Vec<usize>,
    /// One group's documents, sorted.
    group: Vec<u32>,
    /// The pairs found so far, `a << 32 | b` with `a < b`.
    out: Vec<u64>,
}

/// No document: a free slot, or the first of its key.
const EMPTY: u32 = u32::MAX;

impl Grouper {
    /// Adds the pairs of documents `docs[i]` whose `keys[i]` are equal:
    /// every pair of a group of at most [`MAX_BUCKET`] documents, else a
    /// path through the group's documents (in increasing order) and a
    /// star from its first.
    fn pairs(&mut self, keys: &[u64], docs: &[u32]) {
        let n = keys.len();
        // indices are `u32` (documents are), `EMPTY` none of them
        debug_assert!(n < EMPTY as usize);
        // at least twice as many slots as keys
        let bits = (usize::BITS - (2 * n).leading_zeros()).max(1);
        let (shift, mask) = (64 - bits, (1usize << bits) - 1);
        self.slots.clear();
        self.slots.resize(1 << bits, EMPTY);
        self.before.clear();
        self.before.resize(n, EMPTY);
        self.shared.clear();
        for (i, &k) in keys.iter().enumerate() {
            let mut s = (k >> shift) as usize;
            loop {
                let last = self.slots[s];
                if last == EMPTY {
                    self.slots[s] = i as u32;
                    break;
                }
                if keys[last as usize] == k {
                    if self.before[last as usize] == EMPTY {
                        self.shared.push(s);
                    }
                    self.before[i] = last;
                    self.slots[s] = i as u32;
                    break;
                }
                s = (s + 1) & mask;
            }
        }
        let pair = |a: u32, b: u32| u64::from(a.min(b)) << 32 | u64::from(a.max(b));
        for &s in &self.shared {
            self.group.clear();
            let mut i = self.slots[s];
            while i != EMPTY {
                self.group.push(docs[i as usize]);
                i = self.before[i as usize];
            }
            self.group.sort_unstable();
            let group = &self.group;
            if group.len() <= MAX_BUCKET {
                for (x, &a) in group.iter().enumerate() {
                    for &b in &group[x + 1..] {
                        self.out.push(pair(a, b));
                    }
                }
            } else {
                let first = group[0];
                for w in group.windows(2) {
                    self.out.push(pair(w[0], w[1]));
                    self.out.push(pair(first, w[1]));
                }
            }
        }
    }
}

/// The pairs of `parts` (`a << 32 | b`, `a <= b`) as `(a, b)`, sorted,
/// without repeats and without a document paired with itself.
///
/// Near-duplicates share most bands, so most pairs come many times (about
/// a hundred each on generated corpora). Rather than sorting them all, a
/// counting sort groups them by `a` (4 bytes a pair) and a mark per
/// document drops the repeats of each `a`, leaving only the few distinct
/// pairs of each `a` to sort.
fn merge_pairs(parts: Vec<Vec<u64>>) -> Vec<(u32, u32)> {
    // one past the largest document (`b`, the larger of each pair)
    let end = parts
        .iter()
        .flatten()
        .map(|&p| p as u32 as usize + 1)
        .max()
        .unwrap_or(0);
    let mut starts = vec![0usize; end + 1];
    for &p in parts.iter().flatten() {
        starts[(p >> 32) as usize + 1] += 1;
    }
    for a in 1..=end {
        starts[a] += starts[a - 1];
    }
    let mut seconds = vec![0u32; starts[end]];
    let mut next = starts.clone();
    for &p in parts.iter().flatten() {
        let slot = &mut next[(p >> 32) as usize];
        seconds[*slot] = p as u32;
        *slot += 1;
    }
    drop((parts, next));
    // seen[b] == a: (a, b) is already out
    let mut seen = vec![u32::MAX; end];
    let mut out = Vec::new();
    for (a, range) in starts.windows(2).enumerate() {
        let a = a as u32;
        let first = out.len();
        for &b in &seconds[range[0]..range[1]] {
            if b != a && seen[b as usize] != a {
                seen[b as usize] = a;
                out.push((a, b));
            }
        }
        out[first..].sort_unstable();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_bands_find_edited_copies_at_the_threshold() {
        let p = LshParams::derive(0.8, 5, 128);
        assert!(p.bands * p.rows <= 128);
        let s = 0.8f64.powi(5);
        assert!(p.probability(s / (2.0 - s)) >= 0.9);
        assert!(p.probability(0.01) < 0.01, "{p:?}");
    }

    #[test]
    fn equal_bands_are_candidates() {
        let perms = 4;
        let sigs = vec![1, 2, 3, 4, /**/ 1, 2, 9, 9, /**/ 7, 7, 7, 7];
        let flat = Flat {
            values: &sigs,
            perms,
        };
        let c = band_candidates(&flat, &[0, 1, 2], LshParams { bands: 2, rows: 2 });
        assert_eq!(c, vec![(0, 1)]);
    }

    /// Every pair sharing a band, found by comparing all pairs, whatever
    /// the order of `docs`; values from a small range so that many bands
    /// are equal, at 1, 2 and 3 rows (exact and hashed keys).
    #[test]
    fn candidates_are_the_pairs_sharing_a_band() {
        let perms = 12;
        let n = 300u32;
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let values: Vec<u32> = (0..n as usize * perms)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 3) as u32
            })
            .collect();
        let flat = Flat {
            values: &values,
            perms,
        };
        let docs: Vec<u32> = (0..n).rev().filter(|d| d % 7 != 3).collect();
        for rows in 1..=3 {
            let params = LshParams {
                bands: perms / rows,
                rows,
            };
            let mut want = Vec::new();
            for &a in &docs {
                for &b in &docs {
                    let band = |d: u32, i: usize| &flat.signature(d)[i * rows..(i + 1) * rows];
                    if a < b && (0..params.bands).any(|i| band(a, i) == band(b, i)) {
                        want.push((a, b));
                    }
                }
            }
            want.sort_unstable();
            // values in 0..3: with one or two rows, buckets are huge and
            // give paths and stars only; with three, most are small
            let got = band_candidates(&flat, &docs, params);
            assert!(got.windows(2).all(|w| w[0] < w[1]));
            assert!(
                got.iter().all(|p| want.binary_search(p).is_ok()),
                "{rows} rows"
            );
            if rows == 3 {
                assert!(
                    got.len() * 2 > want.len(),
                    "{} of {}",
                    got.len(),
                    want.len()
                );
            }
        }
    }

    /// A bucket above [`MAX_BUCKET`] documents keeps them connected by a
    /// path and a star from its smallest document, in increasing order.
    #[test]
    fn a_giant_bucket_gives_a_path_and_a_star() {
        let n = MAX_BUCKET as u32 + 2;
        let values = vec![5u32; n as usize];
        let flat = Flat {
            values: &values,
            perms: 1,
        };
        let docs: Vec<u32> = (0..n).rev().collect();
        let got = band_candidates(&flat, &docs, LshParams { bands: 1, rows: 1 });
        let mut want: Vec<(u32, u32)> = (1..n).map(|b| (0, b)).collect();
        want.extend((1..n - 1).map(|a| (a, a + 1)));
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn hamming_pigeonhole_finds_close_hashes() {
        let h = vec![0u64, 0b111, u64::MAX, 0b1_0000_0000_0000_0001];
        let c = hamming_candidates(&h, &[0, 1, 2, 3], 3);
        assert!(c.contains(&(0, 1)));
        assert!(c.contains(&(0, 3)));
        assert!(!c.contains(&(0, 2)));
    }
}
