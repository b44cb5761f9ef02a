//! `neardup block-pairs`: seeds of rare fingerprints → verified region
//! pairs.
//!
//! Takes a table of seeds (`a_shard`, `a_ord`, `a_pos`, `b_shard`,
//! `b_ord`, `b_pos`: two occurrences of one rare fingerprint, `a` not
//! after `b` by `(shard, ord, pos)`; a Parquet file or a folder of part
//! files) holding every seed of each document pair it names, and the
//! `sign` folders of their shards. Chains and verifies each document
//! pair's seeds as the block stage does on one machine (the same
//! function, [`crate::blocks::verify_seed_pairs`]) and gives the region
//! pairs: `a_shard`, `a_ord`, `a_start`, `a_end`, `b_shard`, `b_ord`,
//! `b_start`, `b_end` (ranges of normalised characters), `similarity`
//! (unrounded) and `frequent` (0: these are never the star path's), in
//! `(a, b)` order.
//!
//! Holds the document tables of the shards the seeds name (~700 bytes a
//! document), the seeds (16 bytes each), and one batch of normalised
//! texts (`--memory`'s half), read back by shard and offset.

use std::path::Path;

use crate::blocks::{self, Copy, RegionPair, TextSource};
use crate::corpus::IngestOptions;
use crate::documents::Texts;
use crate::error::{Error, Result};
use crate::members::blocks::CorpusTexts;
use crate::pipeline::{NoProgress, ScanOptions};

use super::pairs::Held;
use super::rows::{Column, Rows};
use super::Manifest;

/// Chains and verifies the seeds of `seeds` (a file or folder) against
/// the shards signed in `signed`, and writes the region pairs to `out`.
/// Gives the rows written.
///
/// # Errors
///
/// A seed naming no document or out of order, a shard not signed with the
/// manifest's parameters, an input that cannot be read again, a write
/// that fails.
pub fn block_pairs(
    manifest: &Manifest,
    seeds: &Path,
    signed: &Path,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    memory: usize,
    out: &Path,
) -> Result<usize> {
    let table = Rows::read_any(seeds)?;
    let names = ["a_shard", "a_ord", "a_pos", "b_shard", "b_ord", "b_pos"];
    let cols = names.map(|c| table.ints(c));
    let [a_shard, a_ord, a_pos, b_shard, b_ord, b_pos] = cols;
    let (a_shard, a_ord, a_pos) = (a_shard?, a_ord?, a_pos?);
    let (b_shard, b_ord, b_pos) = (b_shard?, b_ord?, b_pos?);
    let held = Held::load_named(manifest, signed, &[&a_shard, &b_shard])?;
    let bad = |row: usize, why: String| Error::Stage {
        path: seeds.display().to_string(),
        reason: format!("seed {row}: {why}"),
    };
    let pos = |row: usize, p: i64| u32::try_from(p).map_err(|_| bad(row, format!("position {p}")));
    let mut rows = Vec::with_capacity(a_ord.len());
    for r in 0..a_ord.len() {
        let doc = |s: i64, o: i64| {
            held.global(s, o)
                .ok_or_else(|| bad(r, format!("no document ({s}, {o})")))
        };
        let (da, pa) = (doc(a_shard[r], a_ord[r])?, pos(r, a_pos[r])?);
        let (db, pb) = (doc(b_shard[r], b_ord[r])?, pos(r, b_pos[r])?);
        if (da, pa) > (db, pb) {
            return Err(bad(r, "a after b".into()));
        }
        rows.push((da, pa, db, pb));
    }
    drop(table);
    let budget = blocks::Budget { memory, work: None };
    // a seed's gram must lie inside its text, in the block stage's units
    // (checked as the texts are read: the sketch's characters are another
    // count, lower on text with punctuation the sketch drops)
    let found = held_source(&held, ingest, opts, |src| {
        blocks::verify_seed_pairs(src, &rows, &opts.blocks, budget)
    })?;
    let mut pairs = found.map_err(|(da, pa, db, pb)| {
        let r = rows
            .iter()
            .position(|&x| x == (da, pa, db, pb))
            .unwrap_or_default();
        let ((sa, oa), (sb, ob)) = (held.local(da), held.local(db));
        bad(
            r,
            format!(
                "positions {pa} of ({sa}, {oa}) and {pb} of ({sb}, {ob}): a gram past its text"
            ),
        )
    })?;
    blocks::sort_pairs(&mut pairs);
    let table = region_rows(&pairs, |d| held.local(d));
    table.write(out)?;
    Ok(table.len())
}

/// The rows of a region table; `local` gives a document's `(shard, ord)`.
pub(super) fn region_rows(pairs: &[RegionPair], local: impl Fn(u32) -> (i32, i64)) -> Rows {
    let a: Vec<(i32, i64)> = pairs.iter().map(|p| local(p.a.doc)).collect();
    let b: Vec<(i32, i64)> = pairs.iter().map(|p| local(p.b.doc)).collect();
    let ends =
        |f: &dyn Fn(&RegionPair) -> usize| Column::I64(pairs.iter().map(|p| f(p) as i64).collect());
    Rows::new()
        .with("a_shard", Column::I32(a.iter().map(|x| x.0).collect()))
        .with("a_ord", Column::I64(a.iter().map(|x| x.1).collect()))
        .with("a_start", ends(&|p| p.a.range.start))
        .with("a_end", ends(&|p| p.a.range.end))
        .with("b_shard", Column::I32(b.iter().map(|x| x.0).collect()))
        .with("b_ord", Column::I64(b.iter().map(|x| x.1).collect()))
        .with("b_start", ends(&|p| p.b.range.start))
        .with("b_end", ends(&|p| p.b.range.end))
        .with(
            "similarity",
            Column::F64(pairs.iter().map(|p| p.similarity).collect()),
        )
        .with(
            "frequent",
            Column::I32(pairs.iter().map(|p| i32::from(p.frequent)).collect()),
        )
}

/// Runs `f` over the texts of `held`'s documents, every one a block
/// document by its held index.
pub(super) fn held_source<R>(
    held: &Held,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    f: impl FnOnce(&dyn TextSource) -> R,
) -> R {
    let all: Vec<usize> = (0..held.corpus.docs.len()).collect();
    let chars: Vec<u32> = held.sk.sketch.iter().map(|s| s.len).collect();
    let texts = Texts::Reload(ingest);
    let src = CorpusTexts {
        corpus: &held.corpus,
        texts: &texts,
        sizes: &held.sizes,
        active: &all,
        chars: &chars,
        opts: &opts.normalize,
        progress: &NoProgress,
    };
    f(&src)
}

/// The region pairs of a region table `t` (read from `path`); `docs`
/// gives each row's document on a side (`"a_"`, `"b_"`).
pub(super) fn read_regions(
    path: &Path,
    t: &Rows,
    docs: impl Fn(&str) -> Result<Vec<u32>>,
) -> Result<Vec<RegionPair>> {
    let [a_start, a_end, b_start, b_end] =
        ["a_start", "a_end", "b_start", "b_end"].map(|c| t.ints(c));
    let (a_start, a_end, b_start, b_end) = (a_start?, a_end?, b_start?, b_end?);
    let (sims, frequent) = (t.doubles("similarity")?, t.ints("frequent")?);
    let (a, b) = (docs("a_")?, docs("b_")?);
    (0..t.len())
        .map(|r| {
            let range = |s: i64, e: i64| {
                let ok = 0 <= s && s <= e;
                ok.then_some(s as usize..e as usize)
                    .ok_or_else(|| Error::Stage {
                        path: path.display().to_string(),
                        reason: format!("row {r}: region {s}..{e}"),
                    })
            };
            Ok(RegionPair {
                a: Copy {
                    doc: a[r],
                    range: range(a_start[r], a_end[r])?,
                },
                b: Copy {
                    doc: b[r],
                    range: range(b_start[r], b_end[r])?,
                },
                similarity: sims[r],
                frequent: frequent[r] != 0,
            })
        })
        .collect()
}
