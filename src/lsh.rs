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
//! Buckets are built by sorting `(key, doc)` pairs, not with hash maps of
//! vectors: less memory, faster, and the candidate order is deterministic.
//! A bucket with more than [`MAX_BUCKET`] documents (boilerplate that many
//! documents share) yields only a star and a path through its members
//! instead of all pairs, which keeps true duplicate groups connected
//! without a quadratic blow-up.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::{Error, Result};

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

/// Candidate pairs `(a, b)`, `a < b`, sorted and unique, among the
/// documents listed in `docs`.
pub fn band_candidates<S: Signatures + ?Sized>(
    sigs: &S,
    docs: &[u32],
    params: LshParams,
) -> Vec<(u32, u32)> {
    let per_band: Vec<Vec<(u32, u32)>> = (0..params.bands)
        .into_par_iter()
        .map(|band| {
            let mut keys: Vec<(u64, u32)> = docs
                .iter()
                .map(|&d| (band_key(sigs.signature(d), band, params.rows), d))
                .collect();
            keys.sort_unstable();
            pairs_from_runs(&keys)
        })
        .collect();
    merge_pairs(per_band)
}

/// The bucket key of band `band` (of `rows` rows) of signature `sig`: two
/// documents are candidates when one band's keys are equal. The sharded
/// path ([`crate::shard`]) writes these keys for an engine to group.
pub fn band_key(sig: &[u32], band: usize, rows: usize) -> u64 {
    let lo = band * rows;
    hash_row(&sig[lo..lo + rows], band as u64)
}

/// Candidate pairs among `docs` whose SimHashes may be within `max_hamming` bits.
pub fn hamming_candidates(hashes: &[u64], docs: &[u32], max_hamming: u32) -> Vec<(u32, u32)> {
    let blocks = (max_hamming as usize + 1).min(64);
    let per_block: Vec<Vec<(u32, u32)>> = (0..blocks)
        .into_par_iter()
        .map(|blk| {
            let lo = blk * 64 / blocks;
            let hi = (blk + 1) * 64 / blocks;
            let mask = if hi - lo == 64 {
                !0
            } else {
                ((1u64 << (hi - lo)) - 1) << lo
            };
            let mut keys: Vec<(u64, u32)> = docs
                .iter()
                .map(|&d| (hashes[d as usize] & mask, d))
                .collect();
            keys.sort_unstable();
            pairs_from_runs(&keys)
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

fn pairs_from_runs(keys: &[(u64, u32)]) -> Vec<(u32, u32)> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < keys.len() {
        let mut end = start + 1;
        while end < keys.len() && keys[end].0 == keys[start].0 {
            end += 1;
        }
        let run = &keys[start..end];
        if run.len() <= MAX_BUCKET {
            for (x, &(_, a)) in run.iter().enumerate() {
                for &(_, b) in &run[x + 1..] {
                    out.push((a.min(b), a.max(b)));
                }
            }
        } else {
            let first = run[0].1;
            for w in run.windows(2) {
                out.push((w[0].1.min(w[1].1), w[0].1.max(w[1].1)));
                out.push((first.min(w[1].1), first.max(w[1].1)));
            }
        }
        start = end;
    }
    out
}

fn merge_pairs(parts: Vec<Vec<(u32, u32)>>) -> Vec<(u32, u32)> {
    let mut all: Vec<(u32, u32)> = parts
        .into_iter()
        .flatten()
        .filter(|(a, b)| a != b)
        .collect();
    all.par_sort_unstable();
    all.dedup();
    all
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

    #[test]
    fn hamming_pigeonhole_finds_close_hashes() {
        let h = vec![0u64, 0b111, u64::MAX, 0b1_0000_0000_0000_0001];
        let c = hamming_candidates(&h, &[0, 1, 2, 3], 3);
        assert!(c.contains(&(0, 1)));
        assert!(c.contains(&(0, 3)));
        assert!(!c.contains(&(0, 2)));
    }
}
