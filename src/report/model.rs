//! The report model: built once by the pipeline, read by every renderer.
//!
//! Serialised as JSON with the stable schema `neardup.report/1`; fields are
//! only ever added. Spans are in the user's coordinates: `lines` are 1-based
//! inclusive lines of the file (for a JSONL record, its line), `bytes` a
//! half-open byte range of the (decompressed) file, or of the record's text
//! field for JSONL.

use serde::Serialize;

use crate::cluster::Keep;
use crate::corpus::Skipped;
use crate::lsh::LshParams;
use crate::place::Place;

/// The schema name every JSON report carries.
pub const SCHEMA: &str = "neardup.report/1";

/// What a cluster groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ClusterKind {
    /// Whole documents that are near-duplicates.
    Document,
    /// Repeated sections inside or across documents.
    Block,
}

/// One copy in a cluster.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Member {
    /// Where the copy is: document, file, lines, bytes (serialised inline,
    /// as the member's first fields).
    #[serde(flatten)]
    pub place: Place,
    /// Length in normalised characters.
    pub chars: usize,
    /// Similarity to the kept member (`LCS / longer`, see [`crate::align`]).
    pub similarity: f64,
    /// For blocks: share of this copy found in the kept copy (`LCS / this`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub containment: Option<f64>,
    /// The first characters of the copy, for people reading the report.
    pub preview: String,
    /// With `--diffs` (and in HTML reports): the character diff from the
    /// kept copy to this one ([`crate::variants::diff`]); none on the kept copy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<crate::variants::CopyDiff>,
    /// A copy in a reference input (`--reference`): the kept copy, never
    /// removed (serialised only when true).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
    /// Index of the document in the corpus (not serialised).
    #[serde(skip)]
    pub doc_index: usize,
    /// Byte range in the document's decoded text (not serialised).
    #[serde(skip)]
    pub text_range: std::ops::Range<usize>,
    /// Normalised character range in the document (not serialised).
    #[serde(skip)]
    pub norm_range: std::ops::Range<usize>,
}

/// A member reads as its place: `m.path`, `m.lines`, … (the renderers
/// predate the flattening).
impl std::ops::Deref for Member {
    type Target = Place;

    fn deref(&self) -> &Place {
        &self.place
    }
}

/// A group of copies.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    /// 1-based number in the report.
    pub id: usize,
    /// Documents or blocks.
    pub kind: ClusterKind,
    /// Index in `members` of the copy that `clean` keeps.
    pub keep: usize,
    /// Normalised characters of the kept copy.
    pub chars: usize,
    /// Distinct documents holding a copy.
    pub documents: usize,
    /// A block held by at least `boilerplate_docs` documents (a footer, a
    /// disclaimer, a navigation bar): `clean --drop-boilerplate` removes
    /// every copy of it, the kept one too.
    pub boilerplate: bool,
    /// Why the kept copy was kept: `first`, `longest`, `max date`, or
    /// `max date, then first` when several copies share the best value;
    /// `reference` (or `reference, then first`, …) when it is reference
    /// text (`--reference`).
    pub keep_reason: String,
    /// Lowest and highest similarity of a non-kept member to the kept one.
    pub similarity: [f64; 2],
    /// False when some member is below the threshold to the kept one (it
    /// joined through another member): worth a look before cleaning.
    pub all_above_threshold: bool,
    /// The copies, in input order.
    pub members: Vec<Member>,
}

/// Effective options, so a run can be repeated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Params {
    /// `doc`, `block` or `all`.
    pub level: crate::pipeline::Level,
    /// `minhash`, `oph` or `simhash`.
    pub method: crate::pipeline::Method,
    /// Similarity threshold for documents.
    pub threshold: f64,
    /// n-gram size override, if any.
    pub ngram: Option<usize>,
    /// MinHash permutations.
    pub perms: usize,
    /// LSH banding.
    pub lsh: LshParams,
    /// SimHash Hamming radius.
    pub max_hamming: u32,
    /// Permutation seed.
    pub seed: u64,
    /// Minimum block length in normalised characters.
    pub min_block: usize,
    /// Similarity threshold for blocks.
    pub block_threshold: f64,
    /// Documents that make a block boilerplate.
    pub boilerplate_docs: usize,
    /// Which copy is kept.
    pub keep: Keep,
    /// The field that decides first, if any (`--keep-by`).
    pub keep_by: Option<crate::cluster::KeepBy>,
    /// Whether masks were folded.
    pub mask_fold: bool,
}

/// Totals.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Input files read.
    pub inputs: usize,
    /// Documents read.
    pub documents: usize,
    /// Inputs or records skipped under `--on-error skip`.
    pub skipped: usize,
    /// Files of folder walks left out as binary (NUL byte in the first 8 KiB).
    pub binary_skipped: usize,
    /// Clusters of duplicate documents.
    pub document_clusters: usize,
    /// Documents that `clean` would remove.
    pub duplicate_documents: usize,
    /// Clusters of repeated blocks.
    pub block_clusters: usize,
    /// Block copies that `clean` would remove.
    pub duplicate_blocks: usize,
    /// Bytes of text in the copies `clean` would remove.
    pub bytes_removable: u64,
    /// With `--reference`: what the reference holds and how much of the
    /// inputs duplicates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<ReferenceSummary>,
}

/// Totals of a scan against a reference (`--reference`), which is read but
/// never cleaned: clusters of reference copies only are not reported.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ReferenceSummary {
    /// Reference files read.
    pub inputs: usize,
    /// Reference documents read.
    pub documents: usize,
    /// Input documents that duplicate a reference document (among
    /// `duplicate_documents`).
    pub duplicate_documents: usize,
    /// Input block copies that duplicate reference text (among
    /// `duplicate_blocks`).
    pub duplicate_blocks: usize,
}

/// Everything a scan found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The options used.
    pub params: Params,
    /// Totals.
    pub summary: Summary,
    /// Clusters: documents first, then blocks, each in input order of the kept copy.
    pub clusters: Vec<Cluster>,
    /// Inputs skipped under `--on-error skip`.
    pub skipped: Vec<Skipped>,
}
