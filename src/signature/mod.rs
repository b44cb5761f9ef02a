//! SKETCH: shingle hashes → fixed-size signatures that estimate similarity.
//!
//! # Which signature when
//!
//! - [`OnePerm`] (default) and [`MinHasher`]: `k` minima whose fraction of
//!   equal positions estimates the Jaccard similarity of the shingle sets;
//!   banding ([`crate::lsh`]) then finds pairs above a Jaccard level in
//!   time linear in the corpus. They see copies whose shingle sets overlap
//!   only partly (edited copies), which is what a near-duplicate detector
//!   needs. [`MinHasher`] takes the minimum of `k` permutations, `k`
//!   products a shingle; [`OnePerm`] sends each shingle to one of `k` bins,
//!   one hash a shingle, and fills a short text's empty bins by further
//!   rounds. Their estimates are as close (root-mean-square error at or
//!   below `k` permutations' for sets of 10 to 2,000 shingles, tested), and
//!   so is banding's recall of short edited copies; on AVX2 the read pass
//!   runs about twice as fast with [`OnePerm`] (BENCHMARKS.md), which is
//!   why it is the default.
//! - [`simhash`]: 64 bits per document, Hamming distance tracks cosine
//!   similarity of the shingle multisets. Cheap and compact, but on CJK text
//!   it separates poorly (true copies reach distance 15 while unrelated
//!   texts come down to 16): use it as a filter for near-exact copies
//!   (`--method simhash`), not as the main detector.
//!
//! All are computed per document with no allocation per shingle; the
//! pipeline runs them in parallel over documents with rayon.

mod minhash;
mod oph;
mod simhash;

pub(crate) use minhash::mix;
pub use minhash::MinHasher;
pub use oph::OnePerm;
pub use simhash::{hamming, simhash};
