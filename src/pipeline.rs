//! PIPELINE: the only place that knows the order of the stages.
//!
//! ```text
//! Corpus ─normalize─▶ NormText ─shingle─▶ hashes ─sketch─▶ signatures
//!        ─lsh─▶ candidates ─verify─▶ matches ─cluster─▶ document clusters
//! NormText (documents not removed as duplicates) ─blocks─▶ block clusters
//! both ─▶ Report
//! ```
//!
//! What each stage reads, gives and holds in memory (the stage modules say
//! how; `N` documents, `C` normalised characters of the documents left for
//! block detection, `M` the `--memory` budget):
//!
//! - **read + sketch** (`src/corpus`, `src/sketch.rs`): the inputs, streamed
//!   (JSONL in batches of ~4 MB; compressed inputs decompressed once, the
//!   copy written to the work folder) → per document its place (input, record, byte
//!   offset), id, text bytes, normalised length, exact hash and MinHash
//!   signature or SimHash, and a profile of its ideographs (260 bytes,
//!   [`crate::verify::IdeographProfile`]). Holds ~1 KB a document; no text.
//! - **documents** (`src/documents.rs`): the sketches, texts read back a
//!   bounded batch at a time ([`VERIFY_BUDGET`]) → document clusters (exact
//!   copies, LSH or Hamming candidates, prefilter, alignment, union-find,
//!   kept copy). Holds, per LSH pass in flight, the keys of up to eight
//!   bands (8 bytes a document each) and one band's table (12 to 20 bytes a
//!   document), and one batch of texts. The signatures and the ideograph
//!   profiles are dropped once the pairs are filtered, before any text is
//!   read back.
//! - **blocks** ([`blocks`]): the documents not removed as duplicates →
//!   block clusters (copies by document and character range). Normalised
//!   texts (5 bytes a character) are held all at once when `5·C ≤ M/2`,
//!   else read back and normalised a batch of `M/2` at a time for each step
//!   (chain verification, alignment to frequent passages, splits) and of at
//!   most 64 MB for the fingerprints, which read each document once (a
//!   document larger than `M/2` is read once and held while the steps need
//!   it, [`blocks::texts::Holding`]);
//!   fingerprints (`0.22·C`, 16 bytes each) stay in memory when
//!   they fit `M/4`, else spill to the work folder in hash partitions of
//!   about `M/4`, read back one at a time. Holds the seeds and verified
//!   pairs (of the repeated text only).
//! - **members** (`src/members/`; block copies: `members/blocks.rs`): a cluster's copies
//!   → report members (file, record, lines, bytes, preview) and the kept
//!   one; each document holding a copy is read again once, a batch at a
//!   time, and normalised with its byte map only around each copy (between
//!   the marks the block stage took while it held the texts: 8 bytes every
//!   64 or more characters), else whole. Holds the members and the
//!   characters of every copy.
//! - **report** (`build_report`): clusters numbered in order → [`Report`]
//!   with its summary and parameters; [`attach_diffs`] adds character
//!   diffs from the kept copy for people to read.
//!
//! With a work folder the user named (`--work DIR`), the stages after
//! which a run can resume write their results to `DIR/stages/`
//! ([`crate::stage`]): **read + sketch** → `read.bin` (the document table
//! and sketches: [`read_streaming`]), **documents** → `documents.bin` (the
//! document clusters), **blocks** → `blocks.bin` (the block clusters);
//! `clean` writes its checked plan (`plan.bin`, [`crate::clean`]) and
//! marks each output file it stages. With `--resume` a stage whose
//! marker matches the options and inputs is read back instead of run.
//!
//! Stages are pure functions; this module fans them out over documents with
//! rayon and sorts after every parallel step, so the report is the same at
//! any thread count and whatever the budget. Entry points:
//!
//! - [`scan_streaming`] (= [`read_streaming`] then [`scan_read`]) reads the
//!   inputs itself and holds no text: `neardup scan` and `neardup clean`;
//! - [`scan`] / [`scan_within`] work on a [`Corpus`] held in memory
//!   (the library);
//! - `scan_blocks_of` runs the block level over texts made on demand
//!   (clean's later rounds: the texts as its cuts leave them).
//!
//! Both give the same report for the same input.

use rayon::prelude::*;

use crate::blocks::{self, BlockOptions};
use crate::cluster::Keep;
use crate::corpus::{Corpus, TextKept};
use crate::documents::{document_level, Texts};
use crate::error::{Error, Result};
use crate::lsh::LshParams;
use crate::members::blocks::block_level;
use crate::members::{against_reference, reference_summary};
use crate::normalize::NormalizeOptions;
use crate::report::{Cluster, ClusterKind, Member, Params, Report, Summary, SCHEMA};
use crate::shingle::{ShingleOptions, DEFAULT_CHAR_NGRAM};
use crate::sketch::{sketch_corpus, Sketcher, Sketches};
use crate::stage::{self, Stage};

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Near-duplicate documents only.
    Doc,
    /// Repeated blocks only.
    Block,
    /// Both; text of a duplicate document is not reported again as blocks.
    #[default]
    All,
}

/// Which signature finds candidate documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// MinHash of `perms` permutations + banding: `perms` products a
    /// shingle.
    MinHash,
    /// One-permutation MinHash + banding (default): one hash a shingle,
    /// the estimate and banding of `perms` independent minima
    /// ([`crate::signature::OnePerm`]).
    #[default]
    Oph,
    /// SimHash + Hamming search.
    SimHash,
}

/// Options of a scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Documents, blocks or both.
    pub level: Level,
    /// Candidate generation for documents.
    pub method: Method,
    /// Normalisation.
    pub normalize: NormalizeOptions,
    /// Shingling.
    pub shingle: ShingleOptions,
    /// Document similarity threshold (`LCS / longer`).
    pub threshold: f64,
    /// MinHash permutations.
    pub perms: usize,
    /// Permutation seed.
    pub seed: u64,
    /// Banding; derived from the threshold when `None`.
    pub lsh: Option<LshParams>,
    /// SimHash Hamming radius (inclusive).
    pub max_hamming: u32,
    /// Block detection.
    pub blocks: BlockOptions,
    /// Which copy is kept.
    pub keep: Keep,
    /// Keep the copy with the largest or smallest value of a field first
    /// (the documents' [`crate::corpus::Document::sort_key`]s), `keep`
    /// deciding ties.
    pub keep_by: Option<crate::cluster::KeepBy>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            level: Level::All,
            method: Method::Oph,
            normalize: NormalizeOptions::default(),
            shingle: ShingleOptions::default(),
            threshold: 0.8,
            perms: 128,
            seed: 42,
            lsh: None,
            max_hamming: 4,
            blocks: BlockOptions::default(),
            keep: Keep::First,
            keep_by: None,
        }
    }
}

impl ScanOptions {
    /// The banding in force.
    pub fn lsh_params(&self) -> LshParams {
        self.lsh.unwrap_or_else(|| {
            LshParams::derive(
                self.threshold,
                self.shingle.ngram.unwrap_or(DEFAULT_CHAR_NGRAM),
                self.perms,
            )
        })
    }

    /// Checks option values.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] for a threshold outside (0, 1], zero
    /// permutations or n-gram size, or bands that do not fit.
    pub fn validate(&self) -> Result<()> {
        for (name, t) in [
            ("threshold", self.threshold),
            ("block-threshold", self.blocks.threshold),
        ] {
            if !(t > 0.0 && t <= 1.0) {
                return Err(Error::InvalidOption {
                    name,
                    reason: format!("{t} is not in (0, 1]"),
                });
            }
        }
        if self.perms == 0 || self.perms > 1024 {
            return Err(Error::InvalidOption {
                name: "perms",
                reason: "must be between 1 and 1024".into(),
            });
        }
        if self.shingle.ngram == Some(0) {
            return Err(Error::InvalidOption {
                name: "ngram",
                reason: "must be at least 1".into(),
            });
        }
        if self.blocks.min_block == 0 {
            return Err(Error::InvalidOption {
                name: "min-block",
                reason: "must be at least 1".into(),
            });
        }
        if self.blocks.boilerplate_docs < 2 {
            return Err(Error::InvalidOption {
                name: "boilerplate-docs",
                reason: "must be at least 2".into(),
            });
        }
        self.lsh_params().validate(self.perms)
    }
}

/// Progress of long stages, reported by the pipeline; the binary draws bars.
pub trait Progress: Sync {
    /// A stage starts with `total` units of work.
    fn stage(&self, name: &'static str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The stage is over.
    fn finish(&self);
}

/// Progress that shows nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Runs the scan over a corpus held in memory and builds the report.
///
/// # Errors
///
/// [`Error::InvalidOption`] when options do not validate.
pub fn scan(corpus: &Corpus, opts: &ScanOptions, progress: &dyn Progress) -> Result<Report> {
    scan_within(corpus, opts, blocks::Budget::UNLIMITED, progress)
}

/// [`scan`], block detection holding at most about `budget.memory` bytes
/// of normalised text and of fingerprints at once (they spill to
/// `budget.work`).
///
/// # Errors
///
/// [`Error::InvalidOption`] when options do not validate; a spill file
/// that cannot be written or read.
pub fn scan_within(
    corpus: &Corpus,
    opts: &ScanOptions,
    budget: blocks::Budget<'_>,
    progress: &dyn Progress,
) -> Result<Report> {
    opts.validate()?;
    let sketches =
        (opts.level != Level::Block).then(|| sketch_corpus(&corpus.docs, opts, progress));
    let sizes: Vec<u32> = corpus.docs.iter().map(|d| d.text.len() as u32).collect();
    let run = Run {
        corpus,
        texts: &Texts::Memory,
        sizes: &sizes,
        opts,
        budget,
        progress,
    };
    let clusters = scan_stages(&run, sketches, None)?;
    Ok(build_report(corpus, opts, clusters))
}

/// Scans without holding the corpus: each document is read, sketched and
/// its text dropped (JSONL streamed in batches); texts come back from the
/// inputs only when a later stage needs them, a bounded batch at a time:
/// for the documents of candidate pairs and of clusters ([`VERIFY_BUDGET`]),
/// and for block detection (the work folder's memory budget: fingerprints
/// spill there in hash partitions when they do not fit). Memory is about
/// 1 KB per document until candidates are verified (the signature, an
/// ideograph profile, a few counters, the id), a few hundred bytes after
/// (the signatures and profiles are dropped before texts are read back),
/// plus the budget. Compressed inputs are decompressed once and read back
/// from that copy, in the `work` folder.
///
/// # Errors
///
/// Invalid options, or an input that cannot be read (or changed between
/// the two reads), or a spill file that cannot be written.
pub fn scan_streaming(
    paths: &[std::path::PathBuf],
    ingest: &crate::corpus::IngestOptions,
    opts: &ScanOptions,
    work: Option<&crate::work::WorkDir>,
    progress: &dyn Progress,
) -> Result<(Corpus, Report)> {
    let read = read_streaming(paths, ingest, opts, work, progress)?;
    scan_read(read, ingest, opts, work, progress)
}

/// The block level of a scan over texts that `texts` gives (`sizes`
/// their bytes; a document of size 0 has no text): clean's later rounds,
/// which scan the corpus as its cuts leave it without holding it.
///
/// # Errors
///
/// A text that cannot be made, a spill file that cannot be written.
pub(crate) fn scan_blocks_of(
    corpus: &Corpus,
    texts: &Texts<'_>,
    sizes: &[u32],
    opts: &ScanOptions,
    budget: blocks::Budget<'_>,
) -> Result<Report> {
    debug_assert_eq!(opts.level, Level::Block);
    opts.validate()?;
    let run = Run {
        corpus,
        texts,
        sizes,
        opts,
        budget,
        progress: &NoProgress,
    };
    let clusters = scan_stages(&run, None, None)?;
    Ok(build_report(corpus, opts, clusters))
}

/// A corpus read by [`read_streaming`]: the documents without their texts,
/// and what the scan keeps of each.
pub struct Read {
    /// The inputs and documents (texts not held).
    pub corpus: Corpus,
    sketches: Option<Sketches>,
    sizes: Vec<u32>,
    /// The read stage's parameters, when the run keeps stage files.
    stage: Option<stage::Params>,
}

/// The first stage of [`scan_streaming`]: reads and sketches every document,
/// keeping no text. In a work folder with stage files ([`crate::stage`]) it
/// writes `read.bin`, or reads it back on `--resume`.
///
/// # Errors
///
/// Invalid options, or an input that cannot be read; on `--resume`, an
/// option or input file that changed since the work folder's run.
pub fn read_streaming(
    paths: &[std::path::PathBuf],
    ingest: &crate::corpus::IngestOptions,
    opts: &ScanOptions,
    work: Option<&crate::work::WorkDir>,
    progress: &dyn Progress,
) -> Result<Read> {
    opts.validate()?;
    let (Some(work), Some(st)) = (work, work.and_then(|w| w.stages())) else {
        return read_inputs(paths, ingest, opts, work, progress);
    };
    if paths
        .iter()
        .chain(&ingest.reference)
        .any(|p| p.as_os_str() == "-")
    {
        if st.resuming() {
            return Err(Error::InvalidOption {
                name: "resume",
                reason: "standard input (-) cannot be read again".into(),
            });
        }
        return read_inputs(paths, ingest, opts, Some(work), progress);
    }
    let params = stage::scan_params(Stage::Read, paths, ingest, opts);
    let stamps = stage::stamps(paths, ingest)?;
    // The signatures (4 bytes a permutation: most of a document's) serve
    // the documents stage only: left unread when it is reused.
    let mut doc_params = params.clone();
    stage::add_params(Stage::Documents, &mut doc_params, opts);
    let sigs = !st.finished(&[
        (Stage::Read.name(), &params, &stamps),
        (Stage::Documents.name(), &doc_params, &[]),
    ]);
    let loaded = st.load(Stage::Read.name(), &params, &stamps, |d| {
        let corpus = stage::decode_corpus(d)?;
        let (sketches, sizes) = stage::decode_sketches(d, corpus.docs.len(), sigs)?;
        Ok(Read {
            corpus,
            sketches,
            sizes,
            stage: None,
        })
    })?;
    if let Some(mut read) = loaded {
        // the decompressed copies the earlier run read back from
        let copies: Vec<std::path::PathBuf> = read
            .corpus
            .inputs
            .iter()
            .filter_map(|i| i.decompressed.clone())
            .collect();
        if let Some(gone) = copies.iter().find(|c| !c.is_file()) {
            return Err(st.refuse(format!("{} is gone; run without --resume", gone.display())));
        }
        work.sweep(&copies)?;
        for c in &copies {
            work.adopt(c);
        }
        work.record(st.file_bytes(Stage::Read.name()));
        read.stage = Some(params);
        return Ok(read);
    }
    work.sweep(&[])?;
    let mut read = read_inputs(paths, ingest, opts, Some(work), progress)?;
    progress.stage(Stage::Read.saving(), 0);
    st.save(Stage::Read.name(), &params, &stamps, |e| {
        stage::encode_corpus(e, &read.corpus)?;
        stage::encode_sketches(e, read.sketches.as_ref(), &read.sizes)
    })?;
    progress.finish();
    work.record(st.file_bytes(Stage::Read.name()));
    read.stage = Some(params);
    Ok(read)
}

/// Reads and sketches the inputs.
fn read_inputs(
    paths: &[std::path::PathBuf],
    ingest: &crate::corpus::IngestOptions,
    opts: &ScanOptions,
    work: Option<&crate::work::WorkDir>,
    progress: &dyn Progress,
) -> Result<Read> {
    let sk = Sketcher::new(opts);
    let sketching = opts.level != Level::Block;
    progress.stage("read+sketch", 0);
    let (corpus, per_doc) =
        crate::corpus::read_corpus_in(paths, ingest, TextKept::No, work, |doc| {
            progress.advance(1);
            let bytes = doc.text.len() as u32;
            (sketching.then(|| sk.sketch_profiled(&doc.text)), bytes)
        })?;
    progress.finish();
    // one pass, into room made once: no vector of the pairs in between
    let sizes: Vec<u32> = per_doc.iter().map(|(_, bytes)| *bytes).collect();
    let sketches = sketching.then(|| {
        let sketched = per_doc.into_iter().filter_map(|(p, _)| p);
        Sketches::collect_profiled(&sk, sizes.len(), sketched)
    });
    Ok(Read {
        corpus,
        sketches,
        sizes,
        stage: None,
    })
}

/// The stages of [`scan_streaming`] after reading. When `read` keeps stage
/// files, each stage writes its clusters to the work folder
/// (`documents.bin`, `blocks.bin`), or reads them back on `--resume`.
///
/// # Errors
///
/// An input that cannot be read again (or changed since), or a spill file
/// that cannot be written; on `--resume`, an option that changed since
/// the work folder's run.
pub fn scan_read(
    read: Read,
    ingest: &crate::corpus::IngestOptions,
    opts: &ScanOptions,
    work: Option<&crate::work::WorkDir>,
    progress: &dyn Progress,
) -> Result<(Corpus, Report)> {
    let Read {
        corpus,
        sketches,
        sizes,
        stage,
    } = read;
    let budget = blocks::Budget {
        memory: work.map_or(usize::MAX, |w| w.memory() as usize),
        work,
    };
    let texts = Texts::Reload(ingest);
    let run = Run {
        corpus: &corpus,
        texts: &texts,
        sizes: &sizes,
        opts,
        budget,
        progress,
    };
    let staging = work.zip(stage.as_ref());
    let clusters = scan_stages(&run, sketches, staging)?;
    let report = build_report(&corpus, opts, clusters);
    Ok((corpus, report))
}

/// What the stages after reading share: the corpus (its texts held or
/// read back), each document's text bytes, the options and the budget.
pub(crate) struct Run<'a> {
    pub(crate) corpus: &'a Corpus,
    pub(crate) texts: &'a Texts<'a>,
    pub(crate) sizes: &'a [u32],
    pub(crate) opts: &'a ScanOptions,
    pub(crate) budget: blocks::Budget<'a>,
    pub(crate) progress: &'a dyn Progress,
}

/// The work folder whose stage files a run keeps, with the read stage's
/// parameters.
type Staging<'a> = Option<(&'a crate::work::WorkDir, &'a stage::Params)>;

/// The clusters of `stage`: read back from its stage file when the run
/// resumes one, else `compute`d (and written when the run keeps stage
/// files).
fn staged(
    run: &Run<'_>,
    staging: Staging<'_>,
    stage: Stage,
    compute: impl FnOnce() -> Result<Vec<Cluster>>,
) -> Result<Vec<Cluster>> {
    let Some((work, read, st)) = staging.and_then(|(w, p)| Some((w, p, w.stages()?))) else {
        return compute();
    };
    let mut params = read.clone();
    stage::add_params(stage, &mut params, run.opts);
    let docs = run.corpus.docs.len();
    if let Some(c) = st.load(stage.name(), &params, &[], |d| {
        stage::decode_clusters(d, docs)
    })? {
        work.record(st.file_bytes(stage.name()));
        return Ok(c);
    }
    let clusters = compute()?;
    run.progress.stage(stage.saving(), 0);
    st.save(stage.name(), &params, &[], |e| {
        stage::encode_clusters(e, &clusters)
    })?;
    run.progress.finish();
    work.record(st.file_bytes(stage.name()));
    Ok(clusters)
}

/// The stages after reading: document clusters from the sketches, then
/// block clusters among the documents not removed as duplicates; numbered.
/// `sizes` are the documents' text bytes.
fn scan_stages(
    run: &Run<'_>,
    mut sketches: Option<Sketches>,
    staging: Staging<'_>,
) -> Result<Vec<Cluster>> {
    let Run {
        corpus,
        texts,
        sizes,
        opts,
        progress,
        ..
    } = *run;
    let docs = &corpus.docs;
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut removed_docs = vec![false; docs.len()];
    if let Some(sketches) = &mut sketches {
        let found = staged(run, staging, Stage::Documents, || {
            if sketches.sigs.len() != docs.len() {
                // read without them as the stage was to be reused: it was
                // not (its files went in between)
                return Err(Error::Resume {
                    work: staging.map_or_else(String::new, |s| s.0.path().display().to_string()),
                    reason: "its documents stage is gone; run again with --resume".into(),
                });
            }
            let built = document_level(corpus, texts, sketches, opts, progress)?;
            Ok(against_reference(corpus, built, opts))
        })?;
        // the documents removed as duplicates: derived again, not stored
        mark_removed(&found, opts.threshold, &mut removed_docs);
        clusters.extend(found);
    }
    if opts.level != Level::Doc {
        let active: Vec<usize> = (0..docs.len()).filter(|&d| !removed_docs[d]).collect();
        // normalised characters: known from the sketch, else at most the bytes
        let chars: Vec<u32> = match &sketches {
            Some(sk) => active.iter().map(|&d| sk.sketch[d].len).collect(),
            None => active.iter().map(|&d| sizes[d]).collect(),
        };
        // the signatures are done with: their memory goes to block detection
        drop(sketches);
        clusters.extend(staged(run, staging, Stage::Blocks, || {
            let built = block_level(run, &active, &chars, &blocks::find_blocks_in)?;
            Ok(against_reference(corpus, built, opts))
        })?);
    }
    for (i, c) in clusters.iter_mut().enumerate() {
        c.id = i + 1;
    }
    Ok(clusters)
}

/// Marks the documents `clusters` remove as duplicates: every member but
/// the kept one whose similarity reaches `threshold`.
pub(crate) fn mark_removed(clusters: &[Cluster], threshold: f64, removed: &mut [bool]) {
    for c in clusters {
        for (i, m) in c.members.iter().enumerate() {
            if i != c.keep && m.similarity >= threshold {
                removed[m.doc_index] = true;
            }
        }
    }
}

/// How the block level finds its clusters among the texts of a source:
/// [`blocks::find_blocks_in`], or from pairs an engine found (`src/shard`).
pub(crate) type FindBlocks<'f> = dyn Fn(
        &dyn blocks::TextSource,
        &BlockOptions,
        blocks::Budget<'_>,
    ) -> Result<Vec<blocks::BlockCluster>>
    + Sync
    + 'f;

/// The report of a corpus whose document clusters (`doc_clusters`, built
/// as [`document_level`] builds them) and block pairs were found
/// elsewhere (`src/shard`): the block level over the documents they do
/// not remove (`chars` every document's normalised length), its clusters
/// found by `find` over those documents (block document `i` being the
/// `i`-th of them), then everything a scan does after.
///
/// # Errors
///
/// An input that cannot be read again.
#[allow(clippy::too_many_arguments)]
pub(crate) fn report_of(
    corpus: &Corpus,
    ingest: &crate::corpus::IngestOptions,
    sizes: &[u32],
    chars: &[u32],
    opts: &ScanOptions,
    budget: blocks::Budget<'_>,
    doc_clusters: Vec<Cluster>,
    find: &FindBlocks<'_>,
) -> Result<Report> {
    let texts = Texts::Reload(ingest);
    let run = Run {
        corpus,
        texts: &texts,
        sizes,
        opts,
        budget,
        progress: &NoProgress,
    };
    let mut removed = vec![false; corpus.docs.len()];
    mark_removed(&doc_clusters, opts.threshold, &mut removed);
    let mut clusters = against_reference(corpus, doc_clusters, opts);
    if opts.level != Level::Doc {
        let active: Vec<usize> = (0..corpus.docs.len()).filter(|&d| !removed[d]).collect();
        let chars: Vec<u32> = active.iter().map(|&d| chars[d]).collect();
        let built = block_level(&run, &active, &chars, find)?;
        clusters.extend(against_reference(corpus, built, opts));
    }
    for (i, c) in clusters.iter_mut().enumerate() {
        c.id = i + 1;
    }
    Ok(build_report(corpus, opts, clusters))
}

/// Diffs are attached to the members of this many clusters at most (a
/// report is read by people; the JSON of every cluster has the locations).
pub const DIFF_CLUSTERS: usize = 1000;

/// Attaches to every non-kept member of the first `limit` clusters (by
/// default [`DIFF_CLUSTERS`]) its character diff from the kept copy. Texts come from
/// `corpus` when it holds them, else are read again with `reload`.
///
/// # Errors
///
/// An input that cannot be read again (or changed since the scan).
pub fn attach_diffs(
    report: &mut Report,
    corpus: &Corpus,
    reload: Option<&crate::corpus::IngestOptions>,
    opts: &NormalizeOptions,
    limit: usize,
) -> Result<()> {
    let n = report.clusters.len().min(limit);
    let clusters = &mut report.clusters[..n];
    let mut docs: Vec<u32> = clusters
        .iter()
        .flat_map(|c| c.members.iter().map(|m| m.doc_index as u32))
        .collect();
    docs.sort_unstable();
    docs.dedup();
    let texts = match reload {
        Some(ingest) => Texts::Reload(ingest),
        None => Texts::Memory,
    };
    let loaded = texts.load(corpus, &docs)?;
    let text_of = |m: &Member| -> &str {
        docs.binary_search(&(m.doc_index as u32))
            .ok()
            .and_then(|i| loaded[i].get(m.text_range.clone()))
            .unwrap_or("")
    };
    // line numbers of the files (of the record's text, in JSONL)
    let first_line = |m: &Member| match m.record {
        Some(_) => {
            let whole = docs
                .binary_search(&(m.doc_index as u32))
                .ok()
                .map_or("", |i| &loaded[i][..]);
            1 + whole
                .get(..m.text_range.start)
                .map_or(0, |t| t.matches('\n').count()) as u64
        }
        None => m.lines[0],
    };
    for c in clusters.iter_mut() {
        let kept = text_of(&c.members[c.keep]).to_string();
        let keep = c.keep;
        let kept_line = first_line(&c.members[keep]);
        let diffs: Vec<Option<crate::variants::CopyDiff>> = c
            .members
            .par_iter()
            .enumerate()
            .map(|(i, m)| {
                (i != keep).then(|| {
                    crate::variants::diff_copy(&kept, text_of(m), [kept_line, first_line(m)], opts)
                })
            })
            .collect();
        for (m, d) in c.members.iter_mut().zip(diffs) {
            m.diff = d;
        }
    }
    Ok(())
}

/// Normalised characters held at once while verifying (about 4 bytes each).
pub const VERIFY_BUDGET: usize = 64 << 20;

fn build_report(corpus: &Corpus, opts: &ScanOptions, clusters: Vec<Cluster>) -> Report {
    let mut summary = Summary {
        inputs: corpus.inputs.len(),
        documents: corpus.docs.len(),
        skipped: corpus.skipped.len(),
        binary_skipped: corpus.binary.len(),
        ..Summary::default()
    };
    summary.reference = reference_summary(corpus, &clusters);
    for c in &clusters {
        let dups = c.members.iter().enumerate().filter(|(i, _)| *i != c.keep);
        let mut n = 0;
        for (_, m) in dups {
            n += 1;
            summary.bytes_removable += m.text_range.len() as u64;
        }
        match c.kind {
            ClusterKind::Document => {
                summary.document_clusters += 1;
                summary.duplicate_documents += n;
            }
            ClusterKind::Block => {
                summary.block_clusters += 1;
                summary.duplicate_blocks += n;
            }
        }
    }
    Report {
        schema: SCHEMA,
        params: Params {
            level: opts.level,
            method: opts.method,
            threshold: opts.threshold,
            ngram: opts.shingle.ngram,
            perms: opts.perms,
            lsh: opts.lsh_params(),
            max_hamming: opts.max_hamming,
            seed: opts.seed,
            min_block: opts.blocks.min_block,
            block_threshold: opts.blocks.threshold,
            boilerplate_docs: opts.blocks.boilerplate_docs,
            keep: opts.keep,
            keep_by: opts.keep_by.clone(),
            mask_fold: opts.normalize.mask_fold,
        },
        summary,
        clusters,
        skipped: corpus.skipped.clone(),
    }
}
