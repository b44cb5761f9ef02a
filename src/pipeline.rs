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
//! any thread count. Document-level work keeps per document only its
//! signature, length and exact hash; texts are normalised again only for
//! the documents that are candidates of a pair.

use std::ops::Range;

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::align;
use crate::blocks::{self, BlockOptions};
use crate::cluster::{Keep, UnionFind};
use crate::corpus::{line_of, Corpus, Document, Format};
use crate::error::{Error, Result};
use crate::lsh::{self, LshParams};
use crate::normalize::{normalize, NormText, NormalizeOptions};
use crate::report::{Cluster, ClusterKind, Member, Params, Report, Summary, SCHEMA};
use crate::shingle::{shingle_into, ShingleOptions, DEFAULT_CHAR_NGRAM};
use crate::signature::{hamming, simhash, MinHasher};
use crate::verify::{self, VerifyOptions};

/// What to look for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Level {
    /// Near-duplicate documents only.
    Doc,
    /// Repeated blocks only.
    Block,
    /// Both; text of a duplicate document is not reported again as blocks.
    #[default]
    All,
}

impl Level {
    fn name(self) -> &'static str {
        match self {
            Level::Doc => "doc",
            Level::Block => "block",
            Level::All => "all",
        }
    }
}

/// Which signature finds candidate documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// MinHash + banding.
    #[default]
    MinHash,
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

/// Per-document summary kept by the document-level path.
struct Sketch {
    len: u32,
    exact: u128,
    simhash: u64,
}

/// Runs the scan and builds the report.
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
        let (groups, known) = document_clusters(docs, opts, progress);
        progress.stage("clusters", groups.len() as u64);
        let built: Vec<Cluster> = groups
            .par_iter()
            .map(|g| doc_cluster(corpus, g, opts, &known))
            .collect();
        for c in built {
            for (i, m) in c.members.iter().enumerate() {
                if i != c.keep && m.similarity >= opts.threshold {
                    removed_docs[m.doc_index] = true;
                }
            }
            clusters.push(c);
        }
        progress.finish();
    }
    if opts.level != Level::Doc {
        let active: Vec<usize> = (0..docs.len()).filter(|&d| !removed_docs[d]).collect();
        progress.stage("blocks", active.len() as u64);
        let norms: Vec<NormText> = active
            .par_iter()
            .map(|&d| {
                let n = normalize(&docs[d].text, &opts.normalize);
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

/// Document clusters as sorted groups of document indices.
fn document_clusters(
    docs: &[Document],
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> (Vec<Vec<u32>>, Known) {
    let n = docs.len();
    let perms = opts.perms;
    let hasher = MinHasher::new(perms, opts.seed);
    let use_minhash = opts.method == Method::MinHash;
    let mut sigs: Vec<u32> = if use_minhash {
        vec![0; n * perms]
    } else {
        Vec::new()
    };
    progress.stage("sketch", n as u64);
    let sketch_one = |doc: &Document, buf: &mut Vec<u64>, sig: Option<&mut [u32]>| {
        let norm = normalize(&doc.text, &opts.normalize);
        shingle_into(&norm, &opts.shingle, buf);
        if let Some(sig) = sig {
            hasher.sign_into(buf, sig);
        }
        let sh = if use_minhash { 0 } else { simhash(buf) };
        progress.advance(1);
        Sketch {
            len: norm.len() as u32,
            exact: xxh3_128(char_bytes(&norm.chars)),
            simhash: sh,
        }
    };
    let sketches: Vec<Sketch> = if use_minhash {
        docs.par_iter()
            .zip(sigs.par_chunks_mut(perms))
            .map_init(Vec::new, |buf, (doc, sig)| sketch_one(doc, buf, Some(sig)))
            .collect()
    } else {
        docs.par_iter()
            .map_init(Vec::new, |buf, doc| sketch_one(doc, buf, None))
            .collect()
    };
    progress.finish();

    // Exact copies (same normalised text) join without alignment; only the
    // first of each goes on to LSH.
    let mut uf = UnionFind::new(n);
    let mut by_hash: Vec<(u128, u32)> = (0..n as u32)
        .filter(|&d| sketches[d as usize].len > 0)
        .map(|d| (sketches[d as usize].exact, d))
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
    let cands = if use_minhash {
        lsh::band_candidates(&sigs, perms, &reps, opts.lsh_params())
    } else {
        let hashes: Vec<u64> = sketches.iter().map(|s| s.simhash).collect();
        lsh::hamming_candidates(&hashes, &reps, opts.max_hamming)
            .into_iter()
            .filter(|&(a, b)| hamming(hashes[a as usize], hashes[b as usize]) <= opts.max_hamming)
            .collect()
    };
    let lens: Vec<u32> = sketches.iter().map(|s| s.len).collect();
    let vopts = VerifyOptions {
        threshold: opts.threshold,
        jaccard_floor: jaccard_floor(opts),
    };
    let pairs = verify::prefilter(
        &cands,
        &lens,
        use_minhash.then_some((&sigs[..], perms)),
        &vopts,
    );
    drop(cands);
    progress.finish();

    // Normalise again only the documents that appear in a pair.
    let mut needed: Vec<u32> = pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
    needed.sort_unstable();
    needed.dedup();
    progress.stage("verify", pairs.len() as u64);
    let texts: Vec<Vec<char>> = needed
        .par_iter()
        .map(|&d| normalize(&docs[d as usize].text, &opts.normalize).chars)
        .collect();
    let slot = |d: u32| -> &[char] {
        match needed.binary_search(&d) {
            Ok(i) => &texts[i],
            Err(_) => &[],
        }
    };
    let mut matches = verify::verify(&pairs, slot, opts.threshold);
    progress.finish();
    for m in &matches {
        uf.union(m.a, m.b);
    }
    matches.sort_unstable_by_key(|m| (m.a, m.b));
    let known = Known {
        matches,
        exact: sketches.iter().map(|s| s.exact).collect(),
        needed,
        texts,
    };
    (uf.groups(), known)
}

/// What document-level verification already knows, so that building the
/// clusters does not normalise or align the same texts again.
struct Known {
    /// Verified pairs, sorted by `(a, b)`.
    matches: Vec<verify::Match>,
    /// Hash of each document's normalised text.
    exact: Vec<u128>,
    /// Documents whose normalised text is in `texts`, sorted.
    needed: Vec<u32>,
    /// Their normalised texts.
    texts: Vec<Vec<char>>,
}

impl Known {
    fn text(&self, corpus: &Corpus, d: u32, opts: &ScanOptions) -> std::borrow::Cow<'_, [char]> {
        match self.needed.binary_search(&d) {
            Ok(i) => std::borrow::Cow::Borrowed(&self.texts[i]),
            Err(_) => std::borrow::Cow::Owned(
                normalize(&corpus.docs[d as usize].text, &opts.normalize).chars,
            ),
        }
    }

    fn similarity(&self, a: u32, b: u32, ta: &[char], tb: &[char]) -> f64 {
        if a == b || self.exact[a as usize] == self.exact[b as usize] {
            return 1.0;
        }
        let key = (a.min(b), a.max(b));
        match self.matches.binary_search_by_key(&key, |m| (m.a, m.b)) {
            Ok(i) => self.matches[i].similarity,
            Err(_) => align::similarity(ta, tb),
        }
    }
}

/// Half the Jaccard of an edited copy at the threshold: pairs whose
/// estimate is below it are not worth aligning.
fn jaccard_floor(opts: &ScanOptions) -> f64 {
    let n = opts.shingle.ngram.unwrap_or(DEFAULT_CHAR_NGRAM);
    let s = opts.threshold.powi(n as i32);
    0.5 * s / (2.0 - s)
}

fn char_bytes(chars: &[char]) -> &[u8] {
    // SAFETY: `char` is a 4-byte plain value with no padding.
    unsafe { std::slice::from_raw_parts(chars.as_ptr().cast::<u8>(), std::mem::size_of_val(chars)) }
}

fn choose_keep(lens: &[usize], keep: Keep) -> usize {
    match keep {
        Keep::First => 0,
        Keep::Longest => {
            let max = lens.iter().copied().max().unwrap_or(0);
            lens.iter().position(|&l| l == max).unwrap_or(0)
        }
    }
}

fn doc_cluster(corpus: &Corpus, group: &[u32], opts: &ScanOptions, known: &Known) -> Cluster {
    let norms: Vec<std::borrow::Cow<'_, [char]>> =
        group.iter().map(|&d| known.text(corpus, d, opts)).collect();
    let lens: Vec<usize> = norms.iter().map(|n| n.len()).collect();
    let keep = choose_keep(&lens, opts.keep);
    let sims: Vec<f64> = group
        .iter()
        .zip(&norms)
        .map(|(&d, n)| known.similarity(group[keep], d, &norms[keep], n))
        .collect();
    let members: Vec<Member> = group
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let doc = &corpus.docs[d as usize];
            member(
                corpus,
                d as usize,
                0..doc.text.len(),
                0..lens[i],
                sims[i],
                None,
            )
        })
        .collect();
    finish_cluster(ClusterKind::Document, members, keep, opts.threshold, false)
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
    let keep = choose_keep(&lens, opts.keep);
    let members: Vec<Member> = bc
        .copies
        .iter()
        .zip(&spans)
        .map(|(c, span)| {
            let d = active[c.doc as usize];
            let norm = &norms[c.doc as usize];
            let text_range = norm.source_range(&corpus.docs[d].text, c.range.start, c.range.end);
            let lcs = align::lcs_len(span, spans[keep]);
            let sim = lcs as f64 / span.len().max(spans[keep].len()).max(1) as f64;
            let containment = lcs as f64 / span.len().max(1) as f64;
            member(
                corpus,
                d,
                text_range,
                c.range.clone(),
                sim,
                Some(containment),
            )
        })
        .collect();
    finish_cluster(
        ClusterKind::Block,
        members,
        keep,
        opts.blocks.threshold,
        true,
    )
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
    Cluster {
        id: 0,
        kind,
        keep,
        chars: members[keep].chars,
        similarity: [round4(lo.min(hi)), round4(hi)],
        all_above_threshold: all_above,
        members,
    }
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A report member for `text_range` (bytes of the document's text).
fn member(
    corpus: &Corpus,
    d: usize,
    text_range: Range<usize>,
    norm_range: Range<usize>,
    similarity: f64,
    containment: Option<f64>,
) -> Member {
    let doc = &corpus.docs[d];
    let input = corpus.input_of(doc);
    let text = &doc.text;
    let (lines, bytes) = match input.format {
        Format::Jsonl => {
            let r = doc.record.unwrap_or(0);
            ([r, r], [text_range.start as u64, text_range.end as u64])
        }
        Format::Text => {
            let first = line_of(text, text_range.start);
            let last = line_of(text, text_range.end.saturating_sub(1).max(text_range.start));
            (
                [first, last],
                [
                    input.file_offset(text, text_range.start),
                    input.file_offset(text, text_range.end),
                ],
            )
        }
    };
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
            level: opts.level.name().into(),
            method: match opts.method {
                Method::MinHash => "minhash".into(),
                Method::SimHash => "simhash".into(),
            },
            threshold: opts.threshold,
            ngram: opts.shingle.ngram,
            perms: opts.perms,
            lsh: opts.lsh_params(),
            max_hamming: opts.max_hamming,
            seed: opts.seed,
            min_block: opts.blocks.min_block,
            block_threshold: opts.blocks.threshold,
            keep: opts.keep,
            mask_fold: opts.normalize.mask_fold,
        },
        summary,
        clusters,
        skipped: corpus.skipped.clone(),
    }
}
