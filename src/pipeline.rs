//! PIPELINE: the only place that knows the order of the stages.
//!
//! ```text
//! Corpus ─normalize─▶ NormText ─shingle─▶ hashes ─sketch─▶ signatures
//!        ─lsh─▶ candidates ─verify─▶ matches ─cluster─▶ document clusters
//! NormText (documents not removed as duplicates) ─blocks─▶ block clusters
//! both ─▶ Report
//! ```
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

use std::ops::Range;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::align;
use crate::blocks::{self, BlockOptions};
use crate::cluster::{self, Keep, KeepBy, UnionFind};
use crate::corpus::{Corpus, Document, TextKept};
use crate::error::{Error, Result};
use crate::lsh::{self, LshParams};
use crate::normalize::{
    normalize, normalize_chars, normalize_unmapped, NormText, NormalizeOptions,
};
use crate::report::{Cluster, ClusterKind, Member, Params, Report, Summary, SCHEMA};
use crate::shingle::{char_bytes, shingle_chars_into, ShingleOptions, DEFAULT_CHAR_NGRAM};
use crate::signature::{hamming, simhash, MinHasher};
use crate::util::round4;
use crate::verify::{self, VerifyOptions};

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
    pub keep_by: Option<KeepBy>,
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
        for c in built {
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
        let built: Vec<Cluster> = found
            .par_iter()
            .map(|bc| block_cluster(corpus, &active, &norms, bc, opts))
            .collect();
        clusters.extend(built);
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
            let mut sig = vec![0u32; sk.sig_len()].into_boxed_slice();
            let s = sk.sketch(&doc.text, &mut sig);
            (s, sig)
        })?;
    progress.finish();
    let mut sketches = Sketches {
        sketch: Vec::with_capacity(per_doc.len()),
        sigs: Vec::with_capacity(per_doc.len()),
        perms: sk.sig_len(),
    };
    for (s, sig) in per_doc {
        sketches.sketch.push(s);
        sketches.sigs.push(sig);
    }
    let clusters = document_level(&corpus, &Texts::Reload(ingest), &sketches, opts, progress)?;
    let mut clusters = clusters;
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

/// Where document texts come from after sketching.
enum Texts<'a> {
    /// The corpus holds them.
    Memory,
    /// Read again from the inputs.
    Reload(&'a crate::corpus::IngestOptions),
}

/// Normalised characters held at once while verifying (about 4 bytes each).
pub const VERIFY_BUDGET: usize = 64 << 20;

impl Texts<'_> {
    /// Calls `f` on batches of `docs` (sorted) with their texts, each batch
    /// holding at most about [`VERIFY_BUDGET`] characters.
    fn batches<F>(&self, corpus: &Corpus, docs: &[u32], lens: &[u32], mut f: F) -> Result<()>
    where
        F: FnMut(&[u32], &[&str]),
    {
        let mut start = 0;
        while start < docs.len() {
            let mut end = start;
            let mut size = 0usize;
            while end < docs.len()
                && (end == start || size + lens[docs[end] as usize] as usize <= VERIFY_BUDGET)
            {
                size += lens[docs[end] as usize] as usize;
                end += 1;
            }
            let batch = &docs[start..end];
            match self {
                Texts::Memory => {
                    let texts: Vec<&str> = batch
                        .iter()
                        .map(|&d| corpus.docs[d as usize].text.as_str())
                        .collect();
                    f(batch, &texts);
                }
                Texts::Reload(ingest) => {
                    let owned = crate::corpus::reload_texts(corpus, batch, ingest)?;
                    let texts: Vec<&str> = owned.iter().map(String::as_str).collect();
                    f(batch, &texts);
                }
            }
            start = end;
        }
        Ok(())
    }
}

impl Texts<'_> {
    /// The texts of `docs` (sorted), all at once: the caller bounds their size.
    fn load<'c>(&self, corpus: &'c Corpus, docs: &[u32]) -> Result<Vec<std::borrow::Cow<'c, str>>> {
        Ok(match self {
            Texts::Memory => docs
                .iter()
                .map(|&d| std::borrow::Cow::Borrowed(corpus.docs[d as usize].text.as_str()))
                .collect(),
            Texts::Reload(ingest) => crate::corpus::reload_texts(corpus, docs, ingest)?
                .into_iter()
                .map(std::borrow::Cow::Owned)
                .collect(),
        })
    }
}

/// Per-document summary kept by the document-level path.
struct Sketch {
    len: u32,
    exact: u128,
    simhash: u64,
}

/// Sketches of every document: summaries and, for MinHash, the signatures
/// (`perms` values each; empty for SimHash).
struct Sketches {
    sketch: Vec<Sketch>,
    sigs: Vec<Box<[u32]>>,
    perms: usize,
}

/// Normalise → shingle → MinHash or SimHash, for one document.
struct Sketcher<'a> {
    opts: &'a ScanOptions,
    hasher: MinHasher,
    minhash: bool,
}

impl<'a> Sketcher<'a> {
    fn new(opts: &'a ScanOptions) -> Sketcher<'a> {
        Sketcher {
            opts,
            hasher: MinHasher::new(opts.perms, opts.seed),
            minhash: opts.method != Method::SimHash,
        }
    }

    fn sig_len(&self) -> usize {
        if self.minhash {
            self.opts.perms
        } else {
            0
        }
    }

    fn sketch(&self, text: &str, sig: &mut [u32]) -> Sketch {
        // One set of buffers per worker thread: no allocation per document.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.sketch_with(text, sig, &mut scratch),
            Err(_) => self.sketch_with(text, sig, &mut Scratch::default()),
        })
    }

    fn sketch_with(&self, text: &str, sig: &mut [u32], s: &mut Scratch) -> Sketch {
        normalize_unmapped(text, &self.opts.normalize, &mut s.chars, &mut s.gaps);
        shingle_chars_into(&s.chars, &s.gaps, &self.opts.shingle, &mut s.shingles);
        let simhash = if self.minhash {
            if self.opts.method == Method::Oph {
                self.hasher.sign_oph_into(&s.shingles, sig);
            } else {
                self.hasher.sign_into(&s.shingles, sig);
            }
            0
        } else {
            simhash(&s.shingles)
        };
        Sketch {
            len: s.chars.len() as u32,
            exact: xxh3_128(char_bytes(&s.chars)),
            simhash,
        }
    }
}

/// Per-thread working buffers of [`Sketcher`].
#[derive(Default)]
struct Scratch {
    chars: Vec<char>,
    gaps: Vec<u8>,
    shingles: Vec<u64>,
}

fn sketch_corpus(docs: &[Document], opts: &ScanOptions, progress: &dyn Progress) -> Sketches {
    let sk = Sketcher::new(opts);
    let perms = sk.sig_len();
    progress.stage("sketch", docs.len() as u64);
    let (sketch, sigs): (Vec<Sketch>, Vec<Box<[u32]>>) = docs
        .par_iter()
        .map(|doc| {
            progress.advance(1);
            let mut sig = vec![0u32; perms].into_boxed_slice();
            let s = sk.sketch(&doc.text, &mut sig);
            (s, sig)
        })
        .unzip();
    progress.finish();
    Sketches {
        sketch,
        sigs,
        perms,
    }
}

/// Candidates, verification, clusters, members: everything after sketching.
fn document_level(
    corpus: &Corpus,
    texts: &Texts<'_>,
    sk: &Sketches,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Vec<Cluster>> {
    let n = sk.sketch.len();
    let lens: Vec<u32> = sk.sketch.iter().map(|s| s.len).collect();
    // Exact copies (same normalised text) join without alignment; only the
    // first of each goes on to LSH.
    let mut uf = UnionFind::new(n);
    let mut by_hash: Vec<(u128, u32)> = (0..n as u32)
        .filter(|&d| lens[d as usize] > 0)
        .map(|d| (sk.sketch[d as usize].exact, d))
        .collect();
    by_hash.sort_unstable();
    let mut reps: Vec<u32> = Vec::new();
    for (i, &(h, d)) in by_hash.iter().enumerate() {
        if i > 0 && by_hash[i - 1].0 == h {
            uf.union(by_hash[i - 1].1, d);
        } else {
            reps.push(d);
        }
    }
    reps.sort_unstable();

    progress.stage("candidates", 1);
    let cands = if sk.perms > 0 {
        lsh::band_candidates(&sk.sigs, &reps, opts.lsh_params())
    } else {
        let hashes: Vec<u64> = sk.sketch.iter().map(|s| s.simhash).collect();
        lsh::hamming_candidates(&hashes, &reps, opts.max_hamming)
            .into_iter()
            .filter(|&(a, b)| hamming(hashes[a as usize], hashes[b as usize]) <= opts.max_hamming)
            .collect()
    };
    progress.finish();
    progress.stage("prefilter", cands.len() as u64);
    let vopts = VerifyOptions {
        threshold: opts.threshold,
        jaccard_floor: jaccard_floor(opts),
    };
    let sigs: Option<&dyn lsh::Signatures> = (sk.perms > 0).then_some(&sk.sigs);
    let pairs = verify::prefilter(&cands, &lens, sigs, &vopts);
    drop(cands);
    progress.finish();

    progress.stage("verify", pairs.len() as u64);
    // Members of clusters are built from the texts verification loads
    // anyway; only the rest is read again at the end.
    let mut built: std::collections::HashMap<u32, Member> = std::collections::HashMap::new();
    let mut matches = align_pairs(
        corpus,
        texts,
        &lens,
        &pairs,
        opts,
        progress,
        opts.threshold,
        &mut built,
        Some(&mut uf),
    )?;
    matches.retain(|m| m.similarity >= opts.threshold);
    progress.finish();
    matches.sort_unstable_by_key(|m| (m.a, m.b));
    let groups = uf.groups();

    // Similarity of every member to its cluster's kept document: known from
    // verification or exact hashes, aligned only where it is not.
    progress.stage("clusters", groups.len() as u64);
    let (keeps, reasons): (Vec<usize>, Vec<String>) = groups
        .iter()
        .map(|g| {
            let glens: Vec<usize> = g.iter().map(|&d| lens[d as usize] as usize).collect();
            choose_keep(corpus, g.iter().map(|&d| d as usize), &glens, opts)
        })
        .unzip();
    let known = |a: u32, b: u32| -> Option<f64> {
        if a == b || sk.sketch[a as usize].exact == sk.sketch[b as usize].exact {
            return Some(1.0);
        }
        let key = (a.min(b), a.max(b));
        matches
            .binary_search_by_key(&key, |m| (m.a, m.b))
            .ok()
            .map(|i| matches[i].similarity)
    };
    let mut unknown: Vec<(u32, u32)> = Vec::new();
    for (g, &k) in groups.iter().zip(&keeps) {
        for &d in g {
            if known(g[k], d).is_none() {
                unknown.push((g[k].min(d), g[k].max(d)));
            }
        }
    }
    unknown.sort_unstable();
    let extra = align_pairs(
        corpus,
        texts,
        &lens,
        &unknown,
        opts,
        &NoProgress,
        f64::NEG_INFINITY,
        &mut built,
        None,
    )?;
    let similarity = |a: u32, b: u32| -> f64 {
        known(a, b).unwrap_or_else(|| {
            let key = (a.min(b), a.max(b));
            extra
                .binary_search_by_key(&key, |m| (m.a, m.b))
                .map_or(0.0, |i| extra[i].similarity)
        })
    };

    // Members no alignment loaded (exact copies of a candidate) are read now.
    let mut missing: Vec<u32> = groups
        .iter()
        .flatten()
        .copied()
        .filter(|d| !built.contains_key(d))
        .collect();
    missing.sort_unstable();
    texts.batches(corpus, &missing, &lens, |batch, batch_texts| {
        let made: Vec<Member> = batch
            .par_iter()
            .zip(batch_texts)
            .map(|(&d, text)| whole_doc_member(corpus, d as usize, text, lens[d as usize] as usize))
            .collect();
        built.extend(batch.iter().copied().zip(made));
    })?;
    let clusters = groups
        .iter()
        .zip(&keeps)
        .zip(reasons)
        .map(|((g, &k), reason)| {
            let ms: Vec<Member> = g
                .iter()
                .filter_map(|d| {
                    let mut m = built.remove(d)?;
                    m.similarity = round4(similarity(g[k], *d));
                    Some(m)
                })
                .collect();
            let mut c = finish_cluster(ClusterKind::Document, ms, k, opts.threshold, false);
            c.keep_reason = reason;
            c
        })
        .collect();
    progress.finish();
    Ok(clusters)
}

/// `LCS / longer` of the pairs (sorted) at or above `member_from`, texts
/// loaded a batch at a time; both documents of each get their report member
/// built into `members` while their text is at hand. With `clusters`, only
/// pairs that could join two of its sets are aligned, and matches join them
/// ([`verify::verify_joins`]).
#[allow(clippy::too_many_arguments)]
fn align_pairs(
    corpus: &Corpus,
    texts: &Texts<'_>,
    lens: &[u32],
    pairs: &[(u32, u32)],
    opts: &ScanOptions,
    progress: &dyn Progress,
    member_from: f64,
    members: &mut std::collections::HashMap<u32, Member>,
    mut clusters: Option<&mut UnionFind>,
) -> Result<Vec<verify::Match>> {
    let mut out = Vec::with_capacity(pairs.len());
    let mut in_batch = vec![false; lens.len()];
    let mut start = 0;
    while start < pairs.len() {
        // take pairs while the documents they need fit in the budget
        let mut docs: Vec<u32> = Vec::new();
        let mut size = 0usize;
        let mut end = start;
        while end < pairs.len() {
            let (a, b) = pairs[end];
            let add: usize = [a, b]
                .iter()
                .filter(|&&d| !in_batch[d as usize])
                .map(|&d| lens[d as usize] as usize)
                .sum();
            if end > start && size + add > VERIFY_BUDGET {
                break;
            }
            for d in [a, b] {
                if !in_batch[d as usize] {
                    in_batch[d as usize] = true;
                    docs.push(d);
                }
            }
            size += add;
            end += 1;
        }
        docs.sort_unstable();
        for &d in &docs {
            in_batch[d as usize] = false;
        }
        let raw = texts.load(corpus, &docs)?;
        let norm: Vec<Vec<char>> = raw
            .par_iter()
            .map(|t| normalize_chars(t, &opts.normalize))
            .collect();
        let slot = |d: u32| -> &[char] {
            match docs.binary_search(&d) {
                Ok(i) => &norm[i],
                Err(_) => &[],
            }
        };
        let verified = match clusters.as_deref_mut() {
            Some(uf) => verify::verify_joins(&pairs[start..end], slot, member_from, uf),
            None => verify::verify(&pairs[start..end], slot, member_from),
        };
        // report members of the documents that matched, while their text is here
        let mut new: Vec<u32> = verified
            .iter()
            .flat_map(|m| [m.a, m.b])
            .filter(|d| !members.contains_key(d))
            .collect();
        new.sort_unstable();
        new.dedup();
        let made: Vec<(u32, Member)> = new
            .par_iter()
            .filter_map(|&d| {
                let i = docs.binary_search(&d).ok()?;
                Some((
                    d,
                    whole_doc_member(corpus, d as usize, &raw[i], norm[i].len()),
                ))
            })
            .collect();
        members.extend(made);
        out.extend(verified);
        progress.advance((end - start) as u64);
        start = end;
    }
    Ok(out)
}

/// The copy to keep among those of documents `docs` (in input order, with
/// lengths `lens`), and why.
fn choose_keep(
    corpus: &Corpus,
    docs: impl Iterator<Item = usize>,
    lens: &[usize],
    opts: &ScanOptions,
) -> (usize, String) {
    let keys: Vec<Option<&crate::corpus::SortKey>> = if opts.keep_by.is_some() {
        docs.map(|d| corpus.docs[d].sort_key.as_ref()).collect()
    } else {
        Vec::new()
    };
    cluster::choose_keep(lens, &keys, opts.keep, opts.keep_by.as_ref())
}

/// Half the Jaccard of an edited copy at the threshold: pairs whose
/// estimate is below it are not worth aligning.
fn jaccard_floor(opts: &ScanOptions) -> f64 {
    let n = opts.shingle.ngram.unwrap_or(DEFAULT_CHAR_NGRAM);
    let s = opts.threshold.powi(n as i32);
    0.5 * s / (2.0 - s)
}

fn block_cluster(
    corpus: &Corpus,
    active: &[usize],
    norms: &[NormText],
    bc: &blocks::BlockCluster,
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
    // The byte map was dropped for detection: rebuild it once per document
    // (copies are sorted by document, so one at a time suffices).
    let mut mapped: Option<(u32, NormText)> = None;
    let members: Vec<Member> = bc
        .copies
        .iter()
        .zip(&spans)
        .map(|(c, span)| {
            let d = active[c.doc as usize];
            if mapped.as_ref().is_none_or(|(doc, _)| *doc != c.doc) {
                mapped = Some((c.doc, normalize(&corpus.docs[d].text, &opts.normalize)));
            }
            let text_range = match &mapped {
                Some((_, norm)) => {
                    norm.source_range(&corpus.docs[d].text, c.range.start, c.range.end)
                }
                None => 0..0,
            };
            let lcs = align::lcs_len(span, spans[keep]);
            let sim = lcs as f64 / span.len().max(spans[keep].len()).max(1) as f64;
            let containment = lcs as f64 / span.len().max(1) as f64;
            member(
                corpus,
                d,
                &corpus.docs[d].text,
                text_range,
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

fn finish_cluster(
    kind: ClusterKind,
    members: Vec<Member>,
    keep: usize,
    threshold: f64,
    by_containment: bool,
) -> Cluster {
    let others = members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != keep)
        .map(|(_, m)| m);
    let (mut lo, mut hi) = (1.0f64, 0.0f64);
    let mut all_above = true;
    for m in others {
        lo = lo.min(m.similarity);
        hi = hi.max(m.similarity);
        let score = if by_containment {
            m.containment.unwrap_or(m.similarity)
        } else {
            m.similarity
        };
        all_above &= score >= threshold;
    }
    let mut docs: Vec<usize> = members.iter().map(|m| m.doc_index).collect();
    docs.sort_unstable();
    docs.dedup();
    Cluster {
        id: 0,
        kind,
        keep,
        chars: members[keep].chars,
        documents: docs.len(),
        boilerplate: false,
        keep_reason: String::new(),
        similarity: [round4(lo.min(hi)), round4(hi)],
        all_above_threshold: all_above,
        members,
    }
}

/// A report member for `text_range` (bytes of the document's text).
/// A member spanning a whole document.
fn whole_doc_member(corpus: &Corpus, d: usize, text: &str, chars: usize) -> Member {
    member(corpus, d, text, 0..text.len(), 0..chars, 1.0, None)
}

fn member(
    corpus: &Corpus,
    d: usize,
    text: &str,
    text_range: Range<usize>,
    norm_range: Range<usize>,
    similarity: f64,
    containment: Option<f64>,
) -> Member {
    let doc = &corpus.docs[d];
    let input = corpus.input_of(doc);
    let (lines, bytes) = input.span(doc.record, text, &text_range);
    Member {
        doc: doc.id.clone(),
        path: input.path.display().to_string(),
        record: doc.record,
        lines,
        bytes,
        chars: norm_range.len(),
        similarity: round4(similarity),
        containment: containment.map(round4),
        preview: preview(&text[text_range.clone()]),
        diff: None,
        doc_index: d,
        text_range,
        norm_range,
    }
}

fn preview(s: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        n += 1;
        if n >= 30 {
            out.push('…');
            break;
        }
    }
    out
}

fn build_report(corpus: &Corpus, opts: &ScanOptions, clusters: Vec<Cluster>) -> Report {
    let mut summary = Summary {
        inputs: corpus.inputs.len(),
        documents: corpus.docs.len(),
        skipped: corpus.skipped.len(),
        binary_skipped: corpus.binary.len(),
        ..Summary::default()
    };
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
