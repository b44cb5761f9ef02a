//! # neardup
//!
//! Finds exact and near-duplicate documents and repeated blocks in text
//! corpora — scraped web text, often Chinese with no spaces between words —
//! and writes a cleaned corpus that keeps one copy of everything.
//!
//! ```text
//! inputs ─corpus─▶ Document ─normalize─▶ NormText (+ map to original bytes)
//!   documents: shingle ─▶ signature (MinHash | SimHash) ─▶ lsh ─▶ verify ─▶ cluster
//!   blocks:    winnowed fingerprints ─▶ seeds ─▶ chains ─▶ verify ─▶ cluster
//!   ─▶ report (text | JSON | HTML)      ─▶ clean (corpus + removal log)
//! copies ─variants─▶ character diff | template (skeleton + slots) ─▶ report
//! ```
//!
//! - [`corpus`]: files, folders, JSONL, gzip/zstd, stdin; UTF-8, UTF-16, GB18030.
//! - [`normalize`]: NFKC, case, width, whitespace, masks; offsets back to the source.
//! - [`shingle`]: character n-grams (CJK) or word n-grams, hashed with xxh3.
//! - [`signature`]: MinHash (vectorised) and SimHash.
//! - [`lsh`]: banding and Hamming search → candidate pairs.
//! - [`align`]: the character similarity everything is judged by.
//! - [`verify`]: candidates → verified matches.
//! - [`cluster`]: union-find groups.
//! - [`blocks`]: repeated sections inside and across documents.
//! - [`pipeline`]: runs the stages in order, in parallel, deterministically;
//!   its private stages are `sketch` (text → signature), `documents`
//!   (signatures → document clusters) and `members` (copies → report members).
//! - [`variants`]: character diffs between copies, template view of variants.
//! - [`hunks`]: a diff's stretches → aligned rows with line numbers, for every view.
//! - [`place`]: where a span is (document, file, lines, bytes), for the report and the removal log.
//! - [`report`]: the report models and their renderers.
//! - [`clean`]: writes the cleaned corpus and the removal log, atomically.
//! - [`shard`]: the document level of `clean` as stages over shards, for Spark.
//! - [`util`]: rounding, absolute paths and atomic writes the stages share.
//! - [`work`]: the work folder for what a run keeps on disk between stages.
//!
//! ```
//! use neardup::corpus::{Corpus, Document, InputFile};
//! use neardup::pipeline::{scan, NoProgress, ScanOptions};
//! # let text = "今天我们召开的这次会议，是市政府研究部署重点工作的一次重要会议。".repeat(20);
//! # let corpus = neardup::corpus::Corpus::from_texts(&[text.clone(), text]);
//! let report = scan(&corpus, &ScanOptions::default(), &NoProgress)?;
//! assert_eq!(report.summary.duplicate_documents, 1);
//! # Ok::<(), neardup::Error>(())
//! ```

pub mod align;
pub mod blocks;
pub mod clean;
pub mod cluster;
pub mod corpus;
mod documents;
pub mod error;
mod fxhash;
pub mod hunks;
pub mod lsh;
mod members;
pub mod normalize;
pub mod pipeline;
pub mod place;
pub mod report;
pub mod shard;
pub mod shingle;
pub mod signature;
pub mod sketch;
pub mod stage;
pub mod util;
pub mod variants;
pub mod verify;
pub mod work;

pub use error::{Error, Location, Result};

/// Helpers shared by unit tests.
#[cfg(test)]
mod testutil {
    /// A seeded generator of numbers below `n`, for reproducible random texts.
    pub fn lcg(mut state: u64) -> impl FnMut(u64) -> u64 {
        move |n| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        }
    }

    /// Three documents: two near-copies of one passage, and a third that
    /// holds the passage between text of its own (a document cluster and a
    /// block for the stage-file round trips).
    pub fn passage_texts() -> [String; 3] {
        let base = "天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳".repeat(8);
        let own: String = (0..600u32)
            .filter_map(|i| char::from_u32(0x4e00 + i * 7))
            .collect();
        [
            format!("{base}。"),
            format!("{base}！"),
            format!("{own}\n{base}\n后记。"),
        ]
    }
}
