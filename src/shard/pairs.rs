//! `neardup verify-pairs`: candidate pairs → verified edges, or the
//! similarity of member pairs.
//!
//! Takes a table of pairs (`a_shard`, `a_ord`, `b_shard`, `b_ord`, `a`
//! before `b` in `(shard, ord)` order; a Parquet file or a folder of part
//! files) and the `sign` folders of their shards. Gives a table of the
//! pairs with `similarity` (`LCS / longer`, rounded to 4 places), sorted
//! by `(a, b)`:
//!
//! - by default the edges: pairs that pass the prefilter (lengths, MinHash
//!   estimate), the character-count bound and whose alignment reaches
//!   `--threshold`, as one machine verifies a candidate
//!   ([`crate::verify`]);
//! - with `similarity`, every pair however low: a cluster's members
//!   against its kept copy.
//!
//! Holds the document tables and signatures of the shards the pairs name
//! (~700 bytes a document), the pairs, and one batch of texts
//! ([`crate::pipeline::VERIFY_BUDGET`] characters), read back by shard and
//! offset (compressed inputs from the shard's decompressed copy).

use std::path::Path;

use crate::corpus::{Corpus, IngestOptions};
use crate::documents::{jaccard_floor, Aligner, Texts};
use crate::error::{Error, Result};
use crate::pipeline::ScanOptions;
use crate::sketch::{SketchKind, Sketches};
use crate::stage::Stages;
use crate::util::round4;
use crate::verify::{self, VerifyOptions};

use super::rows::{Column, Rows};
use super::{require_finished, shard_dir, sign, Manifest};

/// Verifies the pairs of `pairs` (a file or folder) against the shards
/// signed in `signed`, and writes the edges (or, with `similarity`, every
/// pair's similarity) to `out`. Gives the rows written.
///
/// # Errors
///
/// A pair naming no document, a shard not signed with the manifest's
/// parameters, an input that cannot be read again, a write that fails.
pub fn verify_pairs(
    manifest: &Manifest,
    pairs: &Path,
    signed: &Path,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    similarity: bool,
    out: &Path,
) -> Result<usize> {
    let table = Rows::read_any(pairs)?;
    let cols = ["a_shard", "a_ord", "b_shard", "b_ord"].map(|c| table.ints(c));
    let [a_shard, a_ord, b_shard, b_ord] = cols;
    let (a_shard, a_ord, b_shard, b_ord) = (a_shard?, a_ord?, b_shard?, b_ord?);
    let held = Held::load_named(manifest, signed, &[&a_shard, &b_shard])?;
    let bad = |row: usize, why: String| Error::Stage {
        path: pairs.display().to_string(),
        reason: format!("pair {row}: {why}"),
    };
    let mut cands: Vec<(u32, u32)> = Vec::with_capacity(a_ord.len());
    for r in 0..a_ord.len() {
        let a = held
            .global(a_shard[r], a_ord[r])
            .ok_or_else(|| bad(r, format!("no document ({}, {})", a_shard[r], a_ord[r])))?;
        let b = held
            .global(b_shard[r], b_ord[r])
            .ok_or_else(|| bad(r, format!("no document ({}, {})", b_shard[r], b_ord[r])))?;
        if a == b {
            return Err(bad(r, "a document paired with itself".into()));
        }
        cands.push((a.min(b), a.max(b)));
    }
    cands.sort_unstable();
    cands.dedup();

    let lens: Vec<u32> = held.sk.sketch.iter().map(|s| s.len).collect();
    let texts = Texts::Reload(ingest);
    let mut aligner = Aligner::new(&held.corpus, &texts, &lens, opts).without_members();
    let matches = if similarity {
        aligner.similarities(&cands)?
    } else {
        let vopts = VerifyOptions {
            threshold: opts.threshold,
            jaccard_floor: jaccard_floor(opts),
        };
        let sigs: &dyn crate::lsh::Signatures = &held.sk.sigs;
        let pairs = verify::prefilter(&cands, &lens, Some(sigs), &vopts);
        let mut m = aligner.verify_all(&pairs)?;
        m.retain(|m| m.similarity >= opts.threshold);
        m
    };
    let mut matches = matches;
    matches.sort_unstable_by_key(|m| (m.a, m.b));
    let a: Vec<Doc> = matches.iter().map(|m| held.local(m.a)).collect();
    let b: Vec<Doc> = matches.iter().map(|m| held.local(m.b)).collect();
    let rows = Rows::new()
        .with("a_shard", Column::I32(a.iter().map(|x| x.0).collect()))
        .with("a_ord", Column::I64(a.iter().map(|x| x.1).collect()))
        .with("b_shard", Column::I32(b.iter().map(|x| x.0).collect()))
        .with("b_ord", Column::I64(b.iter().map(|x| x.1).collect()))
        .with(
            "similarity",
            Column::F64(matches.iter().map(|m| round4(m.similarity)).collect()),
        );
    rows.write(out)?;
    Ok(rows.len())
}

/// A document: `(shard, ord)`.
type Doc = (i32, i64);

/// The document tables and sketches of some shards, as one corpus:
/// document `base + ord` is `(shard, ord)`.
pub(super) struct Held {
    pub(super) corpus: Corpus,
    pub(super) sk: Sketches,
    /// The documents' text bytes.
    pub(super) sizes: Vec<u32>,
    /// Per shard held, in order: its number and its first document.
    bases: Vec<(usize, u32)>,
}

impl Held {
    /// Reads the `sign` stage files of `shards` (sorted) from `signed`.
    pub(super) fn load(manifest: &Manifest, signed: &Path, shards: &[usize]) -> Result<Held> {
        let mut held = Held {
            corpus: Corpus::default(),
            sk: Sketches {
                sketch: Vec::new(),
                sigs: Vec::new(),
                profiles: Vec::new(),
                kind: SketchKind::MinHash { perms: 0 },
            },
            sizes: Vec::new(),
            bases: Vec::new(),
        };
        for &s in shards {
            manifest.shard(s)?;
            let (corpus, sk, sizes) = read_signed(manifest, &shard_dir(signed, s))?;
            held.sizes.extend(sizes);
            held.bases.push((s, held.corpus.docs.len() as u32));
            let inputs = held.corpus.inputs.len();
            held.corpus.inputs.extend(corpus.inputs);
            held.corpus
                .docs
                .extend(corpus.docs.into_iter().map(|mut d| {
                    d.input += inputs;
                    d
                }));
            held.sk.kind = sk.kind;
            held.sk.sketch.extend(sk.sketch);
            held.sk.sigs.extend(sk.sigs);
        }
        Ok(held)
    }

    /// Reads the `sign` stage files of the shards named in `columns` (of a
    /// table of pairs).
    pub(super) fn load_named(
        manifest: &Manifest,
        signed: &Path,
        columns: &[&[i64]],
    ) -> Result<Held> {
        let mut shards: Vec<usize> = columns
            .iter()
            .flat_map(|c| c.iter())
            .map(|&s| s as usize)
            .collect();
        shards.sort_unstable();
        shards.dedup();
        Held::load(manifest, signed, &shards)
    }

    /// The held index of `(shard, ord)`.
    pub(super) fn global(&self, shard: i64, ord: i64) -> Option<u32> {
        let i = self
            .bases
            .binary_search_by_key(&shard, |&(s, _)| s as i64)
            .ok()?;
        let end = self
            .bases
            .get(i + 1)
            .map_or(self.corpus.docs.len() as u32, |b| b.1);
        let g = i64::from(self.bases[i].1) + ord;
        (ord >= 0 && g < i64::from(end)).then_some(g as u32)
    }

    /// The held indices of shard `n`'s documents.
    pub(super) fn range(&self, n: usize) -> std::ops::Range<usize> {
        let i = self
            .bases
            .binary_search_by_key(&n, |&(s, _)| s)
            .unwrap_or(self.bases.len());
        let start = self.bases.get(i).map_or(0, |b| b.1 as usize);
        let end = self
            .bases
            .get(i + 1)
            .map_or(self.corpus.docs.len(), |b| b.1 as usize);
        start..end
    }

    /// `(shard, ord)` of held document `g`.
    pub(super) fn local(&self, g: u32) -> Doc {
        let i = self.bases.partition_point(|&(_, base)| base <= g) - 1;
        let (s, base) = self.bases[i];
        (s as i32, i64::from(g - base))
    }
}

/// The document table, sketches (with signatures) and text bytes a
/// shard's `sign` left in `dir`.
///
/// # Errors
///
/// A shard not signed, or signed with other parameters; a stage file that
/// does not read back.
pub(crate) fn read_signed(manifest: &Manifest, dir: &Path) -> Result<(Corpus, Sketches, Vec<u32>)> {
    require_finished(dir, &manifest.params_hash)?;
    let st = Stages::open(dir, true)?;
    let loaded = st.load(sign::STAGE, &manifest.params, &[], |d| {
        let corpus = crate::stage::decode_corpus(d)?;
        let (sk, sizes) = crate::stage::decode_sketches(d, corpus.docs.len(), true)?;
        Ok((corpus, sk, sizes))
    })?;
    match loaded {
        Some((corpus, Some(sk), sizes)) => Ok((corpus, sk, sizes)),
        _ => Err(Error::Stage {
            path: dir.display().to_string(),
            reason: "its sign stage file is missing; sign the shard again".into(),
        }),
    }
}
