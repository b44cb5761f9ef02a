//! VERIFY: candidate pairs → [`Match`]es whose real similarity is at least
//! the threshold.
//!
//! Cheap bounds run first, the character alignment only on what survives:
//! 1. length: `LCS ≤ shorter`, so `shorter / longer < t` cannot reach `t`;
//! 2. MinHash estimate: a pair whose estimated Jaccard is below
//!    `jaccard_floor` (half the Jaccard of an edited copy at the threshold)
//!    is dropped without touching its text;
//! 3. [`crate::align::similarity_at_least`] on the normalised text
//!    decides (with its own linear-time bound and early stop).

use rayon::prelude::*;

use crate::align;
use crate::lsh::Signatures;
use crate::signature::MinHasher;

/// A verified near-duplicate pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Earlier document.
    pub a: u32,
    /// Later document.
    pub b: u32,
    /// `LCS / longer` of their normalised texts.
    pub similarity: f64,
}

/// Options of the verify stage.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Minimum similarity.
    pub threshold: f64,
    /// Minimum estimated Jaccard before the texts are aligned (0 disables).
    pub jaccard_floor: f64,
}

/// Pairs that pass the length and signature bounds (step 1 and 2).
pub fn prefilter(
    cands: &[(u32, u32)],
    lens: &[u32],
    sigs: Option<&dyn Signatures>,
    opts: &VerifyOptions,
) -> Vec<(u32, u32)> {
    cands
        .par_iter()
        .copied()
        .filter(|&(a, b)| {
            let (la, lb) = (lens[a as usize] as f64, lens[b as usize] as f64);
            if la.min(lb) < opts.threshold * la.max(lb) {
                return false;
            }
            match sigs {
                Some(sigs) if opts.jaccard_floor > 0.0 => {
                    MinHasher::estimate(sigs.signature(a), sigs.signature(b)) >= opts.jaccard_floor
                }
                _ => true,
            }
        })
        .collect()
}

/// Aligns each pair (step 3); `text(d)` gives document `d`'s normalised
/// chars. Only pairs at or above `threshold` come back, with their exact
/// similarity (an alignment stops once the threshold is out of reach).
pub fn verify<'t, F>(pairs: &[(u32, u32)], text: F, threshold: f64) -> Vec<Match>
where
    F: Fn(u32) -> &'t [char] + Sync,
{
    pairs
        .par_iter()
        .filter_map(|&(a, b)| {
            let similarity = align::similarity_at_least(text(a), text(b), threshold);
            (similarity >= threshold).then_some(Match { a, b, similarity })
        })
        .collect()
}
