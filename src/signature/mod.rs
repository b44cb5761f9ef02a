//! SKETCH: shingle hashes → fixed-size signatures that estimate similarity.
//!
//! # Which signature when
//!
//! - [`MinHasher`] (default): `k` minima of `k` hash permutations. The
//!   fraction of equal positions estimates the Jaccard similarity of the
//!   shingle sets, and banding ([`crate::lsh`]) finds pairs above a
//!   Jaccard level in time linear in the corpus. It sees copies whose
//!   shingle sets overlap only partly (edited copies), which is what a
//!   near-duplicate detector needs.
//! - [`simhash`]: 64 bits per document, Hamming distance tracks cosine
//!   similarity of the shingle multisets. Cheap and compact, but on CJK text
//!   it separates poorly (true copies reach distance 15 while unrelated
//!   texts come down to 16): use it as a filter for near-exact copies
//!   (`--method simhash`), not as the main detector.
//!
//! Both are computed per document with no allocation per shingle; the
//! pipeline runs them in parallel over documents with rayon.

mod minhash;
mod oph;
mod simhash;

pub(crate) use minhash::mix;
pub use minhash::MinHasher;
pub use oph::OnePerm;
pub use simhash::{hamming, simhash};
