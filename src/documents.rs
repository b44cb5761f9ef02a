//! DOCUMENTS: sketches → clusters of near-duplicate documents.
//!
//! Takes every document's [`Sketch`](crate::sketch::Sketch) (length, exact hash,
//! signature) and a way to get texts back ([`Texts`]: the corpus holds
//! them, or they are read again from the inputs); gives the document
//! [`Cluster`]s, members in input order, ids not yet numbered.
//!
//! Exact copies (same normalised text) join first without alignment; one
//! of each goes to candidate search (LSH banding for MinHash, Hamming
//! search for SimHash), then to the prefilter (lengths, signatures), the
//! ideograph-count bound (profiles the read pass made: no text is read back
//! for a pair it drops) and the alignment that verifies them
//! ([`crate::verify`]), a batch of texts at a time ([`VERIFY_BUDGET`]
//! characters). Union-find groups the matches; each
//! group keeps one copy ([`crate::cluster::Keep`]) and every member's
//! similarity to it is known from verification, exact hashes, or one more
//! alignment.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::cluster::UnionFind;
use crate::corpus::Corpus;
use crate::error::Result;
use crate::fxhash::FxBuild;
use crate::lsh;
use crate::members::{choose_keep, finish_cluster, whole_doc_member};
use crate::normalize::normalize_chars;
use crate::pipeline::{NoProgress, Progress, ScanOptions, VERIFY_BUDGET};
use crate::report::{Cluster, ClusterKind, Member};
use crate::shingle::DEFAULT_CHAR_NGRAM;
use crate::signature::hamming;
use crate::sketch::{SketchKind, Sketches};
use crate::util::{batches_by_cost, round4};
use crate::verify::{self, VerifyOptions};

/// Where document texts come from after sketching.
pub(crate) enum Texts<'a> {
    /// The corpus holds them.
    Memory,
    /// Read again from the inputs.
    Reload(&'a crate::corpus::IngestOptions),
    /// Made by a function of the corpus and the (sorted) documents: clean's
    /// later rounds scan the texts as its cuts leave them.
    Made(&'a TextMaker<'a>),
}

/// What [`Texts::Made`] calls: the texts of some documents of a corpus.
pub(crate) type TextMaker<'a> = dyn Fn(&Corpus, &[u32]) -> Result<Vec<String>> + Sync + 'a;

impl Texts<'_> {
    /// Calls `f` on batches of `docs` (sorted) with their texts, each batch
    /// holding at most about [`VERIFY_BUDGET`] characters.
    pub(crate) fn batches<F>(
        &self,
        corpus: &Corpus,
        docs: &[u32],
        lens: &[u32],
        mut f: F,
    ) -> Result<()>
    where
        F: FnMut(&[u32], &[&str]),
    {
        let cost = |d: u32| lens[d as usize] as usize;
        batches_by_cost(
            docs,
            VERIFY_BUDGET,
            |&d, v| v.push(d),
            cost,
            |batch, _| {
                let owned = self.load(corpus, batch)?;
                let texts: Vec<&str> = owned.iter().map(|t| t.as_ref()).collect();
                f(batch, &texts);
                Ok(())
            },
        )
    }
}

impl Texts<'_> {
    /// The texts of `docs` (sorted), all at once: the caller bounds their size.
    pub(crate) fn load<'c>(
        &self,
        corpus: &'c Corpus,
        docs: &[u32],
    ) -> Result<Vec<std::borrow::Cow<'c, str>>> {
        Ok(match self {
            Texts::Memory => docs
                .iter()
                .map(|&d| std::borrow::Cow::Borrowed(corpus.docs[d as usize].text.as_str()))
                .collect(),
            Texts::Reload(ingest) => crate::corpus::reload_texts(corpus, docs, ingest)?
                .into_iter()
                .map(std::borrow::Cow::Owned)
                .collect(),
            Texts::Made(make) => make(corpus, docs)?
                .into_iter()
                .map(std::borrow::Cow::Owned)
                .collect(),
        })
    }
}

/// Candidates, verification, clusters, members: everything after sketching.
pub(crate) fn document_level(
    corpus: &Corpus,
    texts: &Texts<'_>,
    sk: &mut Sketches,
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Result<Vec<Cluster>> {
    let n = sk.sketch.len();
    let lens: Vec<u32> = sk.sketch.iter().map(|s| s.len).collect();
    let mut uf = UnionFind::new(n);
    let (reps, first) = join_exact_copies(sk, &lens, &mut uf);
    let (pairs, cands_len, prefiltered) = candidate_pairs(sk, &reps, &lens, opts, progress);

    progress.stage("verify", pairs.len() as u64);
    // Members of clusters are built from the texts verification loads
    // anyway; only the rest is read again at the end.
    let mut aligner = Aligner::new(corpus, texts, &lens, opts);
    let (mut matches, aligned) = aligner.verify_joining(&pairs, &mut uf, progress)?;
    matches.retain(|m| m.similarity >= opts.threshold);
    progress.finish();
    show_count(progress, "candidate pairs", cands_len);
    show_count(progress, "after prefilter", prefiltered);
    show_count(progress, "after ideograph bound", pairs.len());
    show_count(progress, "aligned", aligned);
    show_count(progress, "accepted", matches.len());
    matches.sort_unstable_by_key(|m| (m.a, m.b));
    let groups = uf.groups();

    // Similarity of every member to its cluster's kept document: known from
    // verification or exact hashes, aligned only where it is not. An exact
    // copy stands for its first copy (same normalised text, same
    // similarity): pairs verification aligned are between first copies, and
    // the texts it has in memory are theirs.
    progress.stage("clusters", groups.len() as u64);
    let (keeps, reasons) = keeps_of(corpus, &groups, &lens, opts);
    let first_pair = |a: u32, b: u32| {
        let (a, b) = (first[a as usize], first[b as usize]);
        (a.min(b), a.max(b))
    };
    let known = |a: u32, b: u32| -> Option<f64> {
        if a == b || sk.sketch[a as usize].exact == sk.sketch[b as usize].exact {
            return Some(1.0);
        }
        let (a, b) = first_pair(a, b);
        found_similarity(&matches, a, b)
    };
    let unknown = unknown_pairs(&groups, &keeps, known, first_pair);
    let extra = aligner.similarities(&unknown)?;
    let similarity = |a: u32, b: u32| -> f64 {
        known(a, b).unwrap_or_else(|| {
            let (a, b) = first_pair(a, b);
            found_similarity(&extra, a, b).unwrap_or(0.0)
        })
    };
    let clusters = clusters_of(
        corpus,
        texts,
        &lens,
        &groups,
        (&keeps, reasons),
        aligner.members,
        &similarity,
        opts,
    )?;
    progress.finish();
    // pairs aligned a second time (exactly) are among these
    show_count(progress, "member alignments", unknown.len());
    Ok(clusters)
}

/// Joins exact copies (same normalised text) in `uf` without alignment;
/// gives the first of each (sorted), the only ones that go on to
/// candidate search, and each document's first copy (itself if it is
/// one). Empty documents join nothing.
fn join_exact_copies(sk: &Sketches, lens: &[u32], uf: &mut UnionFind) -> (Vec<u32>, Vec<u32>) {
    let n = sk.sketch.len();
    // room made once: grown by doubling, it was copied into fresh pages
    // (at 10k documents, 259 page faults in this join against 112)
    let mut by_hash: Vec<(u128, u32)> = Vec::with_capacity(n);
    by_hash.extend(
        (0..n as u32)
            .filter(|&d| lens[d as usize] > 0)
            .map(|d| (sk.sketch[d as usize].exact, d)),
    );
    by_hash.sort_unstable();
    let mut reps: Vec<u32> = Vec::new();
    let mut first: Vec<u32> = (0..n as u32).collect();
    for (i, &(h, d)) in by_hash.iter().enumerate() {
        if i > 0 && by_hash[i - 1].0 == h {
            uf.union(by_hash[i - 1].1, d);
            first[d as usize] = first[by_hash[i - 1].1 as usize];
        } else {
            reps.push(d);
        }
    }
    reps.sort_unstable();
    (reps, first)
}

/// The pairs of `reps` worth aligning: candidates (LSH banding for
/// MinHash, Hamming search for SimHash) that pass the prefilter and the
/// ideograph-count bound. What only candidates needed (signatures,
/// profiles) is dropped before the texts come. Also gives the number of
/// candidates and of pairs after the prefilter.
fn candidate_pairs(
    sk: &mut Sketches,
    reps: &[u32],
    lens: &[u32],
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> (Vec<(u32, u32)>, usize, usize) {
    progress.stage("candidates", 1);
    let cands = if let SketchKind::MinHash { .. } = sk.kind {
        lsh::band_candidates(&sk.sigs, reps, opts.lsh_params())
    } else {
        let hashes: Vec<u64> = sk.sketch.iter().map(|s| s.simhash).collect();
        lsh::hamming_candidates(&hashes, reps, opts.max_hamming)
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
    let sigs: Option<&dyn lsh::Signatures> = match sk.kind {
        SketchKind::MinHash { .. } => Some(&sk.sigs),
        SketchKind::SimHash => None,
    };
    let mut pairs = verify::prefilter(&cands, lens, sigs, &vopts);
    let prefiltered = pairs.len();
    if sk.profiles.len() == sk.sketch.len() {
        pairs = verify::within_ideograph_bound(&pairs, lens, &sk.profiles, opts.threshold);
    }
    let cands_len = cands.len();
    drop(cands);
    sk.sigs = Vec::new();
    sk.profiles = Vec::new();
    progress.finish();
    (pairs, cands_len, prefiltered)
}

/// The similarity of documents `a` and `b` in `found` (sorted by pair),
/// if it is there.
fn found_similarity(found: &[verify::Match], a: u32, b: u32) -> Option<f64> {
    let key = (a.min(b), a.max(b));
    found
        .binary_search_by_key(&key, |m| (m.a, m.b))
        .ok()
        .map(|i| found[i].similarity)
}

/// The pairs to align (`pair` of them: smaller document first; sorted, no
/// repeats) for each group's kept member (`keeps`) and another whose
/// similarity `known` does not give.
fn unknown_pairs(
    groups: &[Vec<u32>],
    keeps: &[usize],
    known: impl Fn(u32, u32) -> Option<f64>,
    pair: impl Fn(u32, u32) -> (u32, u32),
) -> Vec<(u32, u32)> {
    let mut unknown: Vec<(u32, u32)> = Vec::new();
    for (g, &k) in groups.iter().zip(keeps) {
        for &d in g {
            if known(g[k], d).is_none() {
                unknown.push(pair(g[k], d));
            }
        }
    }
    unknown.sort_unstable();
    unknown.dedup();
    unknown
}

/// The kept member of each of `groups` (documents of normalised lengths
/// `lens`), and why ([`choose_keep`]).
pub(crate) fn keeps_of(
    corpus: &Corpus,
    groups: &[Vec<u32>],
    lens: &[u32],
    opts: &ScanOptions,
) -> (Vec<usize>, Vec<String>) {
    groups
        .iter()
        .map(|g| {
            let glens: Vec<usize> = g.iter().map(|&d| lens[d as usize] as usize).collect();
            let docs = g.iter().map(|&d| d as usize);
            choose_keep(corpus, docs, &glens, opts.keep, opts.keep_by.as_ref())
        })
        .unzip()
}

/// Report members already made, by document (Fx: tens of thousands of
/// them go in and out on one thread).
pub(crate) type Built = HashMap<u32, Member, FxBuild>;

/// The report clusters of `groups` (each sorted, in the order of their
/// first member), `keeps` each one's kept member (index in the group) and
/// why: every member a whole-document member (`built` those made already;
/// the others' texts are read now, a batch at a time) with its rounded
/// `similarity` to the kept one. Also what the sharded path
/// ([`crate::shard`]) builds from an engine's clusters.
#[allow(clippy::too_many_arguments)]
pub(crate) fn clusters_of(
    corpus: &Corpus,
    texts: &Texts<'_>,
    lens: &[u32],
    groups: &[Vec<u32>],
    (keeps, reasons): (&[usize], Vec<String>),
    mut built: Built,
    similarity: &(dyn Fn(u32, u32) -> f64 + Sync),
    opts: &ScanOptions,
) -> Result<Vec<Cluster>> {
    // Members no alignment loaded (exact copies of a candidate) are read now.
    let mut missing: Vec<u32> = groups
        .iter()
        .flatten()
        .copied()
        .filter(|d| !built.contains_key(d))
        .collect();
    missing.sort_unstable();
    // by place in `missing` (batches are consecutive runs of it), not into
    // `built`: growing that table moved every member it held
    let mut made: Vec<Option<Member>> = Vec::with_capacity(missing.len());
    texts.batches(corpus, &missing, lens, |batch, batch_texts| {
        made.par_extend(batch.par_iter().zip(batch_texts).map(|(&d, text)| {
            Some(whole_doc_member(
                corpus,
                d as usize,
                text,
                lens[d as usize] as usize,
            ))
        }));
    })?;
    let mut take = |d: u32| {
        built.remove(&d).or_else(|| {
            let i = missing.binary_search(&d).ok()?;
            made.get_mut(i)?.take()
        })
    };
    let clusters = groups
        .iter()
        .zip(keeps)
        .zip(reasons)
        .map(|((g, &k), reason)| {
            let ms: Vec<Member> = g
                .iter()
                .filter_map(|d| {
                    let mut m = take(*d)?;
                    m.similarity = round4(similarity(g[k], *d));
                    Some(m)
                })
                .collect();
            let mut c = finish_cluster(ClusterKind::Document, ms, k, opts.threshold, false);
            c.keep_reason = reason;
            c
        })
        .collect();
    Ok(clusters)
}

/// Aligns document pairs with their texts loaded a batch at a time (at
/// most about [`VERIFY_BUDGET`] characters), and builds the report member
/// of every document that matched while its text is at hand (unless made
/// [`Aligner::without_members`]).
pub(crate) struct Aligner<'a> {
    corpus: &'a Corpus,
    texts: &'a Texts<'a>,
    lens: &'a [u32],
    opts: &'a ScanOptions,
    /// Report members built so far, by document.
    members: Built,
    /// Whether members are built.
    with_members: bool,
    /// The last batch verification loaded, kept for the members' similarities
    /// ([`Aligner::similarities`]): at small scale it is every text.
    last: Option<Loaded>,
}

/// One batch's documents (sorted) with their texts normalised, and the
/// report members not taken yet of those read when members are built.
struct Loaded {
    docs: Vec<u32>,
    norm: Vec<Vec<char>>,
    members: Vec<Option<Member>>,
}

/// A document's normalised text and report member.
type Normalised = (Vec<char>, Option<Member>);

/// Documents read and normalised at a time by one thread of
/// [`Aligner::load`].
const LOAD_CHUNK: usize = 64;

/// The normalised texts of one batch of documents.
struct Batch<'s> {
    docs: &'s [u32],
    norm: &'s [Vec<char>],
}

impl<'s> Batch<'s> {
    /// The text of `d` (empty if it is not in the batch).
    fn text(&self, d: u32) -> &'s [char] {
        match self.docs.binary_search(&d) {
            Ok(i) => &self.norm[i],
            Err(_) => &[],
        }
    }
}

impl<'a> Aligner<'a> {
    pub(crate) fn new(
        corpus: &'a Corpus,
        texts: &'a Texts<'a>,
        lens: &'a [u32],
        opts: &'a ScanOptions,
    ) -> Self {
        Aligner {
            corpus,
            texts,
            lens,
            opts,
            members: Built::default(),
            with_members: true,
            last: None,
        }
    }

    /// An aligner that builds no report members (the sharded path's).
    pub(crate) fn without_members(mut self) -> Self {
        self.with_members = false;
        self
    }

    /// Verifies every pair (sorted) as [`Aligner::verify_joining`] does,
    /// pairs of one cluster too: the matches at or above the threshold.
    pub(crate) fn verify_all(&mut self, pairs: &[(u32, u32)]) -> Result<Vec<verify::Match>> {
        let threshold = self.opts.threshold;
        self.in_batches(pairs, true, &NoProgress, |batch, texts| {
            verify::verify(batch, |d| texts.text(d), threshold)
        })
    }

    /// Verifies candidate pairs (sorted): only pairs that could join two
    /// sets of `clusters` are aligned, and those at or above the threshold
    /// join them ([`verify::verify_joins`]). Gives those matches and how
    /// many pairs were aligned.
    fn verify_joining(
        &mut self,
        pairs: &[(u32, u32)],
        clusters: &mut UnionFind,
        progress: &dyn Progress,
    ) -> Result<(Vec<verify::Match>, usize)> {
        let threshold = self.opts.threshold;
        let mut aligned = 0;
        let matches = self.in_batches(pairs, true, progress, |batch, texts| {
            let joins = verify::verify_joins(batch, |d| texts.text(d), threshold, clusters);
            aligned += joins.aligned;
            joins.matches
        })?;
        Ok((matches, aligned))
    }

    /// `LCS / longer` of every pair (sorted), however low. Pairs whose texts
    /// are both in verification's last batch are aligned from it; the others
    /// are read again.
    pub(crate) fn similarities(&mut self, pairs: &[(u32, u32)]) -> Result<Vec<verify::Match>> {
        let align = |batch: &[(u32, u32)], texts: &Batch<'_>| {
            verify::verify(batch, |d| texts.text(d), f64::NEG_INFINITY)
        };
        let Some(mut last) = self.last.take() else {
            return self.in_batches(pairs, false, &NoProgress, align);
        };
        let held = |d: u32| last.docs.binary_search(&d).is_ok();
        let (here, rest): (Vec<_>, Vec<_>) = pairs.iter().partition(|&&(a, b)| held(a) && held(b));
        let texts = Batch {
            docs: &last.docs,
            norm: &last.norm,
        };
        let verified = align(&here, &texts);
        self.add_members(&verified, &mut last);
        drop(last);
        let mut out = verified;
        out.extend(self.in_batches(&rest, false, &NoProgress, align)?);
        out.sort_unstable_by_key(|m| (m.a, m.b));
        Ok(out)
    }

    /// Gives every document of `verified` that has no report member yet
    /// its member from `loaded`.
    fn add_members(&mut self, verified: &[verify::Match], loaded: &mut Loaded) {
        // room for every document of the batch at once: growing the
        // table by doubling rehashed it into fresh pages several times
        self.members
            .reserve(loaded.docs.len().min(2 * verified.len()));
        for d in verified.iter().flat_map(|m| [m.a, m.b]) {
            let Ok(i) = loaded.docs.binary_search(&d) else {
                continue;
            };
            if let Some(member) = loaded.members[i].take() {
                self.members.entry(d).or_insert(member);
            }
        }
    }

    /// The texts of `docs` (sorted) normalised, and their members when
    /// members are built. Read a few at a time on each thread and dropped
    /// once normalised: the read texts take the same memory over and over,
    /// and only the normalised ones stay.
    fn load(&self, docs: &[u32]) -> Result<Loaded> {
        let (corpus, lens, opts) = (self.corpus, self.lens, self.opts);
        let parts: Vec<Result<Vec<Normalised>>> = docs
            .par_chunks(LOAD_CHUNK)
            .map(|chunk| {
                let raw = self.texts.load(corpus, chunk)?;
                Ok(chunk
                    .iter()
                    .zip(raw)
                    .map(|(&d, text)| {
                        let norm = normalize_chars(&text, &opts.normalize);
                        let chars = lens[d as usize] as usize;
                        let member = self
                            .with_members
                            .then(|| whole_doc_member(corpus, d as usize, &text, chars));
                        (norm, member)
                    })
                    .collect())
            })
            .collect();
        let mut out = Loaded {
            docs: docs.to_vec(),
            norm: Vec::with_capacity(docs.len()),
            members: Vec::with_capacity(docs.len()),
        };
        for part in parts {
            for (norm, member) in part? {
                out.norm.push(norm);
                out.members.push(member);
            }
        }
        Ok(out)
    }

    /// Runs `align` over batches of `pairs` whose documents fit the budget;
    /// the documents of the matches it gives get members. When
    /// `verifying` and members are built, the last batch is kept (for
    /// [`Aligner::similarities`]).
    fn in_batches<F>(
        &mut self,
        pairs: &[(u32, u32)],
        verifying: bool,
        progress: &dyn Progress,
        mut align: F,
    ) -> Result<Vec<verify::Match>>
    where
        F: FnMut(&[(u32, u32)], &Batch<'_>) -> Vec<verify::Match>,
    {
        let lens = self.lens;
        let mut out = Vec::with_capacity(pairs.len());
        // take pairs while the documents they need fit in the budget
        let docs_of = |&(a, b): &(u32, u32), v: &mut Vec<u32>| v.extend([a, b]);
        batches_by_cost(
            pairs,
            VERIFY_BUDGET,
            docs_of,
            |d| lens[d as usize] as usize,
            |batch, docs| {
                // one batch in memory at a time
                self.last = None;
                let mut loaded = self.load(docs)?;
                let texts = Batch {
                    docs,
                    norm: &loaded.norm,
                };
                let verified = align(batch, &texts);
                self.add_members(&verified, &mut loaded);
                if verifying && self.with_members {
                    self.last = Some(loaded);
                }
                out.extend(verified);
                progress.advance(batch.len() as u64);
                Ok(())
            },
        )?;
        Ok(out)
    }
}

/// Shows a count next to the stage timings (`NEARDUP_TIMINGS`), as a stage
/// of no duration whose units are the count: [`Progress`] carries nothing
/// else to the binary.
fn show_count(progress: &dyn Progress, name: &'static str, n: usize) {
    progress.stage(name, n as u64);
    progress.finish();
}

/// Half the Jaccard of an edited copy at the threshold: pairs whose
/// estimate is below it are not worth aligning.
pub(crate) fn jaccard_floor(opts: &ScanOptions) -> f64 {
    let n = opts.shingle.ngram.unwrap_or(DEFAULT_CHAR_NGRAM);
    let s = opts.threshold.powi(n as i32);
    0.5 * s / (2.0 - s)
}
