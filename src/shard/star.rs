//! `neardup star-runs`, `star-pairs`, `star-split`: the block stage's star
//! path (frequent passages, `src/blocks/frequent.rs`) as three stages
//! that run a partition at a time, with a text-free grouping by the
//! engine between the first two.
//!
//! The star path on one machine is: (1) each document's frequent
//! occurrences cut into runs, measured in weight (text work, one document
//! at a time); (2) each fingerprint's first run, and each run's parents by
//! vote (no text: a grouping of key rows); (3) each run aligned to each of
//! its parents (text work, one pair at a time); (4) the aligned pairs cut
//! where a parent's passages meet (text work, one parent document at a
//! time: its cuts depend on every pair whose `a` it is). The stages:
//!
//! - **`star-runs`** (step 1): takes `hash`, `shard`, `ord`, `pos` of the
//!   frequent occurrences of whole documents (a partition by shard); gives
//!   the runs: `shard`, `ord`, `run` (the position of the run's first
//!   occurrence: runs in `(shard, ord, run)` order are one machine's run
//!   order), `hash`, `pos`, every occurrence of every run kept.
//! - **the engine** (step 2): `first` = the least `(shard, ord, run)`
//!   holding each hash; a run's votes = its rows grouped by their hash's
//!   first run (itself not counted); its parents = those with at least
//!   [`MIN_VOTES`] votes, most first, then the least run, at most
//!   [`MAX_PARENTS`]. It is a `groupBy`, a join and a window over rows of
//!   28 bytes: Spark's work, as the seeds of rare fingerprints are, so no
//!   process sees every run. Then, for each child run, its own rows and
//!   each parent's (`c_shard`, `c_ord`, `c_run`, `shard`, `ord`, `run`,
//!   `hash`, `pos`; the child's own rows have `(shard, ord, run)` equal
//!   to `c_*`), partitioned by child.
//! - **`star-pairs`** (step 3): aligns each child run of its table to each
//!   of its parents; gives region pairs (`block-pairs`' columns, `frequent`
//!   1), `a` on the parent's document.
//! - **`star-split`** (step 4): takes the aligned pairs of whole `a`
//!   documents (a partition by `a`); gives them cut where passages meet:
//!   the star path's region pairs, which `plan` merges with `block-pairs`'
//!   as one machine merges its two paths.
//!
//! Each holds the document tables of the shards its rows name (~700 bytes
//! a document), its rows (the occurrences, 16 bytes each) and one batch of
//! normalised texts (`--memory`'s half). A passage's copies are aligned in
//! as many partitions as their runs; only the cut (step 4) of one parent
//! document is one task, and it reads the texts of that document's pairs.

use std::collections::HashMap;
use std::ops::Range;
use std::path::Path;

use crate::blocks::frequent::{self, Occ};
use crate::blocks::{self, RegionPair};
use crate::corpus::IngestOptions;
use crate::error::{Error, Result};
use crate::pipeline::ScanOptions;

pub use crate::blocks::frequent::{MAX_PARENTS, MIN_VOTES};

use super::blocks::{held_source, read_regions, region_rows};
use super::pairs::Held;
use super::rows::{Column, Rows};
use super::Manifest;

/// A run's key: `(shard, ord, position of its first occurrence)`.
type RunKey = (i64, i64, i64);

/// The stages' common inputs.
#[derive(Debug, Clone, Copy)]
pub struct Stage<'p> {
    /// The manifest of `neardup shards`.
    pub manifest: &'p Manifest,
    /// The folder of the shards' `sign` folders.
    pub signed: &'p Path,
    /// How the inputs are read.
    pub ingest: &'p IngestOptions,
    /// clean's options.
    pub opts: &'p ScanOptions,
    /// Bytes of texts held at once, about.
    pub memory: usize,
}

impl Stage<'_> {
    fn budget(&self) -> blocks::Budget<'static> {
        blocks::Budget {
            memory: self.memory,
            work: None,
        }
    }
}

/// Whose rows: a table's path and the row at fault.
fn bad(path: &Path, row: usize, why: String) -> Error {
    Error::Stage {
        path: path.display().to_string(),
        reason: format!("row {row}: {why}"),
    }
}

/// A position column's values, each a `u32`.
fn positions(path: &Path, t: &Rows, name: &str) -> Result<Vec<u32>> {
    t.ints(name)?
        .into_iter()
        .enumerate()
        .map(|(r, p)| u32::try_from(p).map_err(|_| bad(path, r, format!("{name} {p}"))))
        .collect()
}

/// Each row's held document.
fn docs_of(path: &Path, held: &Held, shard: &[i64], ord: &[i64]) -> Result<Vec<u32>> {
    (0..shard.len())
        .map(|r| {
            held.global(shard[r], ord[r])
                .ok_or_else(|| bad(path, r, format!("no document ({}, {})", shard[r], ord[r])))
        })
        .collect()
}

/// The row of `docs` and `pos` holding `o`, an occurrence past its text
/// (its gram starts at or after the end of its normalised text: the
/// position a tampered row holds), named as an error.
fn row_past_text(path: &Path, held: &Held, docs: &[u32], pos: &[u32], o: Occ) -> Error {
    let r = (0..docs.len())
        .find(|&r| (docs[r], pos[r]) == (o.doc, o.pos))
        .unwrap_or_default();
    let (s, d) = held.local(o.doc);
    bad(
        path,
        r,
        format!("pos {} of ({s}, {d}): a gram past its text", o.pos),
    )
}

/// The fingerprints' indices among the distinct `hashes` in hash order
/// (as one machine numbers the frequent ones: only their order and
/// equality count), and the hash of each index.
fn numbered(hashes: &[i64]) -> (Vec<u32>, Vec<u64>) {
    let mut keys: Vec<u64> = hashes.iter().map(|&h| h as u64).collect();
    keys.sort_unstable();
    keys.dedup();
    let fp = hashes
        .iter()
        .map(|&h| keys.partition_point(|&k| k < h as u64) as u32)
        .collect();
    (fp, keys)
}

/// `star-runs`: the runs of the frequent occurrences in `occurrences`
/// (whole documents), written to `out`. Gives the rows written.
///
/// # Errors
///
/// A row naming no document, or a position negative or past its text, a
/// shard not signed with the manifest's parameters, an input that cannot
/// be read again, a write that fails.
pub fn star_runs(stage: Stage<'_>, occurrences: &Path, out: &Path) -> Result<usize> {
    let t = Rows::read_any(occurrences)?;
    let (shard, ord) = (t.ints("shard")?, t.ints("ord")?);
    let hashes = t.ints("hash")?;
    let pos = positions(occurrences, &t, "pos")?;
    let held = Held::load_named(stage.manifest, stage.signed, &[&shard])?;
    let docs = docs_of(occurrences, &held, &shard, &ord)?;
    drop(t);
    let (fp, keys) = numbered(&hashes);
    let mut occ: Vec<Occ> = (0..docs.len())
        .map(|r| Occ {
            doc: docs[r],
            pos: pos[r],
            fp: fp[r],
        })
        .collect();
    let runs = held_source(&held, stage.ingest, stage.opts, |src| {
        frequent::runs_of(src, &mut occ, &stage.opts.blocks, stage.budget())
    })?
    .map_err(|o| row_past_text(occurrences, &held, &docs, &pos, o))?;
    let kept: Vec<(usize, &Occ)> = runs
        .iter()
        .flat_map(|r| occ[r.clone()].iter().map(move |o| (r.start, o)))
        .collect();
    let local: Vec<(i32, i64)> = kept.iter().map(|(_, o)| held.local(o.doc)).collect();
    let table = Rows::new()
        .with("shard", Column::I32(local.iter().map(|d| d.0).collect()))
        .with("ord", Column::I64(local.iter().map(|d| d.1).collect()))
        .with(
            "run",
            Column::I32(kept.iter().map(|&(s, _)| occ[s].pos as i32).collect()),
        )
        .with(
            "hash",
            Column::I64(
                kept.iter()
                    .map(|(_, o)| keys[o.fp as usize] as i64)
                    .collect(),
            ),
        )
        .with(
            "pos",
            Column::I32(kept.iter().map(|(_, o)| o.pos as i32).collect()),
        );
    table.write(out)?;
    Ok(table.len())
}

/// `star-pairs`: each child run of `links` aligned to each of its parents
/// (module docs), the region pairs written to `out`. Gives the rows
/// written.
///
/// # Errors
///
/// A row naming no document or a position past its text, a child without
/// its own rows, a shard not signed with the manifest's parameters, an
/// input that cannot be read again, a write that fails.
pub fn star_pairs(stage: Stage<'_>, links: &Path, out: &Path) -> Result<usize> {
    let t = Rows::read_any(links)?;
    let ints = |c: &str| t.ints(c);
    let (c_shard, c_ord, c_run) = (ints("c_shard")?, ints("c_ord")?, ints("c_run")?);
    let (shard, ord, run) = (ints("shard")?, ints("ord")?, ints("run")?);
    let hashes = ints("hash")?;
    let pos = positions(links, &t, "pos")?;
    let held = Held::load_named(stage.manifest, stage.signed, &[&c_shard, &shard])?;
    let docs = docs_of(links, &held, &shard, &ord)?;
    drop(t);
    let (fp, _) = numbered(&hashes);
    // rows by run, then child: a run's rows are copied once per child
    // that names it; the first child's copy is the run
    let mut rows: Vec<(RunKey, RunKey, u32, u32, usize)> = (0..docs.len())
        .map(|r| {
            let me = (shard[r], ord[r], run[r]);
            let child = (c_shard[r], c_ord[r], c_run[r]);
            (me, child, pos[r], fp[r], r)
        })
        .collect();
    rows.sort_unstable();
    let mut occ: Vec<Occ> = Vec::with_capacity(rows.len());
    let mut runs: Vec<Range<usize>> = Vec::new();
    let mut index: HashMap<RunKey, u32> = HashMap::new();
    let mut links_of: Vec<(RunKey, RunKey)> = Vec::new();
    for same_run in rows.chunk_by(|x, y| x.0 == y.0) {
        let me = same_run[0].0;
        let first_child = same_run[0].1;
        let start = occ.len();
        for &(_, child, p, f, r) in same_run {
            if child == first_child {
                occ.push(Occ {
                    doc: docs[r],
                    pos: p,
                    fp: f,
                });
            }
        }
        index.insert(me, runs.len() as u32);
        runs.push(start..occ.len());
        let mut children: Vec<RunKey> = same_run.iter().map(|x| x.1).collect();
        children.dedup();
        links_of.extend(children.into_iter().map(|c| (c, me)));
    }
    links_of.sort_unstable();
    let mut items: Vec<(usize, Vec<u32>)> = Vec::new();
    for same_child in links_of.chunk_by(|x, y| x.0 == y.0) {
        let child = same_child[0].0;
        let Some(&mine) = index
            .get(&child)
            .filter(|_| same_child.iter().any(|l| l.1 == child))
        else {
            let r = rows.iter().find(|x| x.1 == child).map_or(0, |x| x.4);
            return Err(bad(
                links,
                r,
                format!(
                    "the child run at {} of ({}, {}) has no rows of its own",
                    child.2, child.0, child.1
                ),
            ));
        };
        let parents: Vec<u32> = same_child
            .iter()
            .filter(|l| l.1 != child)
            .map(|l| index[&l.1])
            .collect();
        if !parents.is_empty() {
            items.push((mine as usize, parents));
        }
    }
    let mut pairs = held_source(&held, stage.ingest, stage.opts, |src| {
        frequent::align_runs(src, &occ, &runs, &items, &stage.opts.blocks, stage.budget())
    })?
    .map_err(|o| row_past_text(links, &held, &docs, &pos, o))?;
    // not made distinct: two equal pairs count twice where `star-split`
    // looks for the places passages meet, as on one machine
    pairs.sort_by(|x, y| {
        (&x.a, &x.b)
            .cmp(&(&y.a, &y.b))
            .then(x.similarity.total_cmp(&y.similarity))
    });
    write_pairs(&held, &pairs, out)
}

/// `star-split`: the aligned pairs of `aligned` (every pair of each `a`
/// document it names) cut where passages meet, written to `out`. Gives the
/// rows written.
///
/// # Errors
///
/// As [`star_pairs`]; a region past its text.
pub fn star_split(stage: Stage<'_>, aligned: &Path, out: &Path) -> Result<usize> {
    let t = Rows::read_any(aligned)?;
    let held = Held::load_named(
        stage.manifest,
        stage.signed,
        &[&t.ints("a_shard")?, &t.ints("b_shard")?],
    )?;
    let pairs = aligned_pairs(aligned, &t, &held)?;
    drop(t);
    let found = held_source(&held, stage.ingest, stage.opts, |src| {
        frequent::split_pairs(src, pairs, &stage.opts.blocks, stage.budget())
    })?;
    let mut pairs = match found {
        Ok(pairs) => pairs,
        Err(p) => {
            // the table is read again to name the row: only a tampered
            // file gets here, and the pairs are not held twice
            let t = Rows::read_any(aligned)?;
            let r = aligned_pairs(aligned, &t, &held)?
                .iter()
                .position(|x| (&x.a, &x.b) == (&p.a, &p.b))
                .unwrap_or_default();
            let side = |c: &blocks::Copy| {
                let (s, d) = held.local(c.doc);
                format!("{}..{} of ({s}, {d})", c.range.start, c.range.end)
            };
            let why = format!("regions {} and {}: past its text", side(&p.a), side(&p.b));
            return Err(bad(aligned, r, why));
        }
    };
    blocks::sort_pairs(&mut pairs);
    write_pairs(&held, &pairs, out)
}

/// The region pairs of the aligned table `t` (read from `path`), of
/// `held`'s documents.
fn aligned_pairs(path: &Path, t: &Rows, held: &Held) -> Result<Vec<RegionPair>> {
    read_regions(path, t, |side| {
        docs_of(
            path,
            held,
            &t.ints(&format!("{side}shard"))?,
            &t.ints(&format!("{side}ord"))?,
        )
    })
}

/// Writes `pairs` (of held documents) as a region table.
fn write_pairs(held: &Held, pairs: &[RegionPair], out: &Path) -> Result<usize> {
    let table = region_rows(pairs, |d| held.local(d));
    table.write(out)?;
    Ok(table.len())
}
