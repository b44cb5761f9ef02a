//! PIPELINE: the only place that knows the order of the stages.
//!
//! ```text
//! Corpus ─normalize─▶ NormText ─shingle─▶ hashes ─sketch─▶ signatures
//!        ─lsh─▶ candidates ─verify─▶ matches ─cluster─▶ document clusters
//! NormText (documents not removed as duplicates) ─blocks─▶ block clusters
//! both ─▶ Report
//! ```
//!
//! What each stage takes and gives (the stage modules say how):
//!
//! - **sketch** (`src/sketch.rs`): a document's text → its length, exact
//!   hash and MinHash signature or SimHash; the text is not kept.
//! - **documents** (`src/documents.rs`): the sketches, and texts read back
//!   a bounded batch at a time → document clusters (exact copies, LSH or
//!   Hamming candidates, prefilter, alignment, union-find, kept copy).
//! - **blocks** ([`blocks`]): normalised texts of the documents not removed
//!   as duplicates → block clusters (copies by document and character
//!   range), made report clusters here with their source byte ranges.
//! - **members** (`src/members.rs`): a cluster's copies → report members,
//!   the kept one and the similarity range, for both kinds.
//! - **report** (`build_report`): clusters numbered in order → [`Report`]
//!   with its summary and parameters; [`attach_diffs`] adds character
//!   diffs from the kept copy for people to read.
//!
//! Stages are pure functions; this module fans them out over documents with
//! rayon and sorts after every parallel step, so the report is the same at
//! any thread count. Two entry points:
//!
//! - [`scan`] works on a [`Corpus`] held in memory (documents and blocks);
//! - [`scan_documents_streaming`] reads the inputs itself for the
//!   document level only, keeping per document its signature, length and
//!   exact hash, and reading texts back from the inputs, a bounded batch at
//!   a time, only for candidate pairs and cluster members.
//!
//! Both give the same document clusters for the same input.

use rayon::prelude::*;

use crate::align;
use crate::blocks::{self, BlockOptions};
use crate::cluster::Keep;
use crate::corpus::{Corpus, TextKept};
use crate::documents::{document_level, Texts};
use crate::error::{Error, Result};
use crate::lsh::LshParams;
use crate::members::{against_reference, choose_keep, finish_cluster, member, reference_summary};
use crate::normalize::{normalize, NormText, NormalizeOptions};
use crate::place::Place;
use crate::report::{Cluster, ClusterKind, Member, Params, Report, Summary, SCHEMA};
use crate::shingle::{ShingleOptions, DEFAULT_CHAR_NGRAM};
use crate::sketch::{sketch_corpus, Sketcher, Sketches};

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
    /// MinHash + banding.
    #[default]
    MinHash,
    /// One-permutation MinHash with densification + banding: one hash per
    /// shingle instead of one per permutation.
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
            method: Method::MinHash,
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
    opts.validate()?;
    let docs = &corpus.docs;
    let mut clusters: Vec<Cluster> = Vec::new();
    let mut removed_docs = vec![false; docs.len()];
    if opts.level != Level::Block {
        let sketches = sketch_corpus(docs, opts, progress);
        let built = document_level(corpus, &Texts::Memory, &sketches, opts, progress)?;
        for c in against_reference(corpus, built, opts) {
            for (i, m) in c.members.iter().enumerate() {
                if i != c.keep && m.similarity >= opts.threshold {
                    removed_docs[m.doc_index] = true;
                }
            }
            clusters.push(c);
        }
    }
    if opts.level != Level::Doc {
        let active: Vec<usize> = (0..docs.len()).filter(|&d| !removed_docs[d]).collect();
        progress.stage("blocks", active.len() as u64);
        // Block detection needs characters and line breaks; the map back to
        // source bytes (4 bytes a character) is rebuilt only for documents
        // that hold a copy.
        let norms: Vec<NormText> = active
            .par_iter()
            .map(|&d| {
                let mut n = normalize(&docs[d].text, &opts.normalize);
                n.orig = Vec::new();
                progress.advance(1);
                n
            })
            .collect();
        let texts: Vec<&NormText> = norms.iter().collect();
        let found = blocks::find_blocks(&texts, &opts.blocks);
        progress.finish();
        let ranges = source_ranges(corpus, &active, &found, opts);
        let built: Vec<Cluster> = found
            .par_iter()
            .zip(&ranges)
            .map(|(bc, r)| block_cluster(corpus, &active, &norms, bc, r, opts))
            .collect();
        clusters.extend(against_reference(corpus, built, opts));
    }
    for (i, c) in clusters.iter_mut().enumerate() {
        c.id = i + 1;
    }
    Ok(build_report(corpus, opts, clusters))
}

/// Scans documents without holding the corpus: each document is read,
/// sketched and its text dropped (JSONL streamed in batches); texts come
/// back from the inputs only for the documents of candidate pairs and of
/// clusters, a bounded batch at a time ([`VERIFY_BUDGET`]). Memory is about
/// 700 bytes per document (the signature, a few counters, the id). With a
/// `work` folder, compressed inputs are decompressed there once, and read
/// back from that copy.
///
/// # Errors
///
/// Invalid options, or an input that cannot be read (or changed between
/// the two reads).
pub fn scan_documents_streaming(
    paths: &[std::path::PathBuf],
    ingest: &crate::corpus::IngestOptions,
    opts: &ScanOptions,
    work: Option<&crate::work::WorkDir>,
    progress: &dyn Progress,
) -> Result<(Corpus, Report)> {
    opts.validate()?;
    let sk = Sketcher::new(opts);
    progress.stage("read+sketch", 0);
    let (corpus, per_doc) =
        crate::corpus::read_corpus_in(paths, ingest, TextKept::No, work, |doc| {
            progress.advance(1);
            sk.sketch_doc(&doc.text)
        })?;
    progress.finish();
    let sketches = Sketches::collect(&sk, per_doc);
    let clusters = document_level(&corpus, &Texts::Reload(ingest), &sketches, opts, progress)?;
    let mut clusters = against_reference(&corpus, clusters, opts);
    for (i, c) in clusters.iter_mut().enumerate() {
        c.id = i + 1;
    }
    let report = build_report(&corpus, opts, clusters);
    Ok((corpus, report))
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

/// Byte ranges, in its document's text, of every copy of every block
/// cluster. The byte map was dropped for detection: each document holding
/// a copy is normalised again once, however many clusters it is in (a page
/// holds a header, a navigation bar and a footer).
fn source_ranges(
    corpus: &Corpus,
    active: &[usize],
    found: &[blocks::BlockCluster],
    opts: &ScanOptions,
) -> Vec<Vec<std::ops::Range<usize>>> {
    let mut at: Vec<(u32, u32, u32)> = found
        .iter()
        .enumerate()
        .flat_map(|(c, bc)| {
            bc.copies
                .iter()
                .enumerate()
                .map(move |(i, copy)| (copy.doc, c as u32, i as u32))
        })
        .collect();
    at.sort_unstable();
    let groups: Vec<&[(u32, u32, u32)]> = at.chunk_by(|x, y| x.0 == y.0).collect();
    let mapped: Vec<(u32, u32, std::ops::Range<usize>)> = groups
        .par_iter()
        .flat_map_iter(|&g| {
            let text = &corpus.docs[active[g[0].0 as usize]].text;
            let norm = normalize(text, &opts.normalize);
            g.iter()
                .map(|&(_, c, i)| {
                    let r = &found[c as usize].copies[i as usize].range;
                    (c, i, norm.source_range(text, r.start, r.end))
                })
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out: Vec<Vec<std::ops::Range<usize>>> =
        found.iter().map(|bc| vec![0..0; bc.copies.len()]).collect();
    for (c, i, r) in mapped {
        out[c as usize][i as usize] = r;
    }
    out
}

fn block_cluster(
    corpus: &Corpus,
    active: &[usize],
    norms: &[NormText],
    bc: &blocks::BlockCluster,
    text_ranges: &[std::ops::Range<usize>],
    opts: &ScanOptions,
) -> Cluster {
    let spans: Vec<&[char]> = bc
        .copies
        .iter()
        .map(|c| &norms[c.doc as usize].chars[c.range.clone()])
        .collect();
    let lens: Vec<usize> = spans.iter().map(|s| s.len()).collect();
    let docs = bc.copies.iter().map(|c| active[c.doc as usize]);
    let (keep, reason) = choose_keep(corpus, docs, &lens, opts);
    // A document holding many copies has its lines indexed once (copies
    // come sorted by document), not counted from its start for each copy.
    let mut index: Option<(usize, crate::corpus::LineIndex)> = None;
    let members: Vec<Member> = bc
        .copies
        .iter()
        .zip(&spans)
        .zip(text_ranges)
        .enumerate()
        .map(|(i, ((c, span), text_range))| {
            let d = active[c.doc as usize];
            let text = &corpus.docs[d].text;
            let repeated = bc.copies.get(i + 1).is_some_and(|n| n.doc == c.doc);
            if repeated && index.as_ref().is_none_or(|(x, _)| *x != d) {
                index = Some((d, crate::corpus::LineIndex::new(text)));
            }
            let lines = index.as_ref().filter(|(x, _)| *x == d).map(|(_, ix)| ix);
            let place = Place::in_indexed_text(corpus, d, text, text_range, lines);
            let lcs = align::lcs_len(span, spans[keep]);
            let sim = lcs as f64 / span.len().max(spans[keep].len()).max(1) as f64;
            let containment = lcs as f64 / span.len().max(1) as f64;
            member(
                place,
                d,
                text,
                text_range.clone(),
                c.range.clone(),
                sim,
                Some(containment),
            )
        })
        .collect();
    let mut c = finish_cluster(
        ClusterKind::Block,
        members,
        keep,
        opts.blocks.threshold,
        true,
    );
    c.boilerplate = c.documents >= opts.blocks.boilerplate_docs;
    c.keep_reason = reason;
    c
}

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
