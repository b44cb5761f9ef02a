//! `neardup plan`: what an engine found (document clusters, region pairs
//! of both block paths) → clean's checked plan, cut into one file a shard.
//!
//! Takes the manifest, the shards' `sign` folders and three tables (each a
//! Parquet file or a folder of part files):
//!
//! - `--doc-clusters`: `shard`, `ord`, `similarity` for every member of
//!   every document cluster of two or more members (the kept one's
//!   similarity is 1.0; the other rows as `apply --clusters` has them),
//!   and `cluster`;
//! - `--regions`: `block-pairs`' output, every part;
//! - `--star`: `star-split`'s output, every part (the star path's pairs,
//!   [`super::star`]).
//!
//! Builds the document clusters single-machine builds from them (members
//! read once for their places, keep by [`crate::cluster::choose_keep`]),
//! then runs what one machine runs after finding pairs, with its own
//! functions: the merge of every region pair, block clustering, the
//! report, and clean's plan with its later rounds (which look for repeats
//! again in the text the cuts leave). Gives
//! `PLAN_DIR/shard-NNNNN/stages/plan.bin` (the shard's drops and cuts),
//! `PLAN_DIR/removed.jsonl` (the whole removal log, in single-machine
//! order) and `PLAN_DIR/_SUCCESS`.
//!
//! **One process.** It holds the document table of the whole corpus
//! (~700 bytes a document with the signatures), the region pairs and one
//! batch of texts: the memory of single-machine clean's later stages, not
//! of its detection. The block clustering and the plan's rounds are what
//! would be distributed next (by connected block clusters).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use crate::blocks;
use crate::clean::{checked_plan_of, encode_plan, log_lines, Plan};
use crate::corpus::IngestOptions;
use crate::documents::{clusters_of, keeps_of, Texts};
use crate::error::{Error, Result};
use crate::pipeline::{mark_removed, report_of, ScanOptions};
use crate::report::Cluster;
use crate::stage::Stages;

use super::apply::clean_options;
use super::blocks::read_regions;
use super::pairs::Held;
use super::rows::Rows;
use super::{mark_finished, shard_dir, Manifest};

/// Name of the plan's stage file in each shard's folder.
pub const STAGE: &str = "plan";

/// What `plan` found.
#[derive(Debug, Clone, Default)]
pub struct Planned {
    /// Documents dropped whole.
    pub dropped: usize,
    /// Lines of the removal log.
    pub removals: usize,
}

/// The tables an engine computed (module docs).
#[derive(Debug, Clone, Copy)]
pub struct Found<'p> {
    /// Every member of every document cluster.
    pub doc_clusters: &'p Path,
    /// The region pairs of `block-pairs`.
    pub regions: &'p Path,
    /// The region pairs of `star-split` (the star path's).
    pub star: &'p Path,
}

/// Plans the clean of the whole corpus from what the engine `found` and
/// writes it, a file a shard, into `out` (module docs).
///
/// # Errors
///
/// A table without its columns or naming no document (or a removed one),
/// a shard not signed with the manifest's parameters, an input that cannot
/// be read again, a failed no-loss check, a write that fails.
pub fn plan(
    manifest: &Manifest,
    signed: &Path,
    found: Found<'_>,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    memory: usize,
    out: &Path,
) -> Result<Planned> {
    let shards: Vec<usize> = (0..manifest.shards.len()).collect();
    let held = Held::load(manifest, signed, &shards)?;
    let corpus = &held.corpus;
    let lens: Vec<u32> = held.sk.sketch.iter().map(|s| s.len).collect();
    let doc_clusters = doc_clusters_of(&held, found.doc_clusters, ingest, opts, &lens)?;
    let (active, global) = block_docs(corpus.docs.len(), &doc_clusters, opts.threshold);
    // the star path's pairs first, as one machine merges them
    let mut pairs = Vec::new();
    for path in [found.star, found.regions] {
        pairs.extend(pairs_of(&held, &active, path)?);
    }
    let past = |x| past_text(&held, &active, &global, found, x);

    // the block level and clean's plan, with one machine's functions
    let injected = Mutex::new(Some(pairs));
    let find =
        |src: &dyn blocks::TextSource, bopts: &blocks::BlockOptions, budget: blocks::Budget<'_>| {
            let mut pairs = injected
                .lock()
                .ok()
                .and_then(|mut g| g.take())
                .unwrap_or_default();
            blocks::sort_pairs(&mut pairs);
            blocks::blocks_of_checked_pairs(src, pairs, bopts, budget)?.map_err(past)
        };
    let budget = blocks::Budget { memory, work: None };
    let report = report_of(
        corpus,
        ingest,
        &held.sizes,
        &lens,
        opts,
        budget,
        doc_clusters,
        &find,
    )?;
    // the plan does not depend on how the output is compressed
    let copts = clean_options(out, opts, ingest, crate::clean::OutputCompression::Same);
    let plan = checked_plan_of(corpus, &report, &copts, ingest, budget)?;
    write_plan(manifest, &held, &shards, &plan, out)?;
    Ok(Planned {
        dropped: plan.drop_doc.iter().filter(|&&d| d).count(),
        removals: plan.removals.len(),
    })
}

/// The error of table `path`, which is not what the plan needs.
fn bad(path: &Path, why: String) -> Error {
    Error::Stage {
        path: path.display().to_string(),
        reason: why,
    }
}

/// The document of each row of table `t` (its `{side}shard` and
/// `{side}ord` columns), by its held index.
fn docs_of(held: &Held, path: &Path, t: &Rows, side: &str) -> Result<Vec<u32>> {
    let shard = t.ints(&format!("{side}shard"))?;
    let ord = t.ints(&format!("{side}ord"))?;
    (0..shard.len())
        .map(|r| {
            let (s, o) = (shard[r], ord[r]);
            held.global(s, o)
                .ok_or_else(|| bad(path, format!("row {r}: no document ({s}, {o})")))
        })
        .collect()
}

/// The document clusters of table `path` (`--doc-clusters`), as one
/// machine builds them (`lens` every document's normalised length).
fn doc_clusters_of(
    held: &Held,
    path: &Path,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    lens: &[u32],
) -> Result<Vec<Cluster>> {
    let corpus = &held.corpus;
    let table = Rows::read_any(path)?;
    let (ids, sims) = (table.ints("cluster")?, table.doubles("similarity")?);
    let mut by_id: HashMap<i64, Vec<(u32, f64)>> = HashMap::new();
    for (r, d) in docs_of(held, path, &table, "")?.into_iter().enumerate() {
        by_id.entry(ids[r]).or_default().push((d, sims[r]));
    }
    let mut groups: Vec<Vec<(u32, f64)>> = by_id.into_values().collect();
    for g in &mut groups {
        g.sort_unstable_by_key(|m| m.0);
        g.dedup_by_key(|m| m.0);
    }
    // a cluster is two documents or more, as union-find's groups
    groups.retain(|g| g.len() >= 2);
    // in the order of their first member, as union-find's groups come
    groups.sort_unstable_by_key(|g| g[0].0);
    let sim_of: HashMap<u32, f64> = groups.iter().flatten().copied().collect();
    let groups: Vec<Vec<u32>> = groups
        .into_iter()
        .map(|g| g.into_iter().map(|m| m.0).collect())
        .collect();
    let (keeps, reasons) = keeps_of(corpus, &groups, lens, opts);
    let similarity = |kept: u32, d: u32| -> f64 {
        if kept == d {
            1.0
        } else {
            sim_of.get(&d).copied().unwrap_or(0.0)
        }
    };
    let texts = Texts::Reload(ingest);
    clusters_of(
        corpus,
        &texts,
        lens,
        &groups,
        (&keeps, reasons),
        crate::documents::Built::default(),
        &similarity,
        opts,
    )
}

/// Block documents: those `doc_clusters` leave (of `n`). Gives each
/// document's block index (none when removed) and each block document's
/// index in the corpus.
fn block_docs(n: usize, doc_clusters: &[Cluster], threshold: f64) -> (Vec<Option<u32>>, Vec<u32>) {
    let mut removed = vec![false; n];
    mark_removed(doc_clusters, threshold, &mut removed);
    let mut active: Vec<Option<u32>> = vec![None; n];
    let mut global: Vec<u32> = Vec::new();
    for (d, a) in active.iter_mut().enumerate() {
        if !removed[d] {
            *a = Some(global.len() as u32);
            global.push(d as u32);
        }
    }
    (active, global)
}

/// The block document of each row of table `t` (`side` as in
/// [`docs_of`]); a row naming a removed document is an error.
fn block_docs_of(
    held: &Held,
    active: &[Option<u32>],
    path: &Path,
    t: &Rows,
    side: &str,
) -> Result<Vec<u32>> {
    let docs = docs_of(held, path, t, side)?;
    docs.iter()
        .enumerate()
        .map(|(r, &d)| {
            active[d as usize].ok_or_else(|| {
                bad(
                    path,
                    format!(
                        "row {r}: document {d} is removed as a duplicate, not a block document"
                    ),
                )
            })
        })
        .collect()
}

/// The region pairs of table `path`, by block document.
fn pairs_of(held: &Held, active: &[Option<u32>], path: &Path) -> Result<Vec<blocks::RegionPair>> {
    let table = Rows::read_any(path)?;
    read_regions(path, &table, |side| {
        block_docs_of(held, active, path, &table, side)
    })
}

/// The error of side `c` past its text of `len` characters. Only a
/// tampered row holds one, and it is found where the texts are read; the
/// tables are read again to name its row.
fn past_text(
    held: &Held,
    active: &[Option<u32>],
    global: &[u32],
    found: Found<'_>,
    (c, len): (blocks::Copy, usize),
) -> Error {
    let (s, d) = held.local(global[c.doc as usize]);
    let why = |x: &blocks::Copy| {
        format!(
            "region {}..{} of ({s}, {d}) is past its text ({len} characters)",
            x.range.start, x.range.end
        )
    };
    for path in [found.star, found.regions] {
        let Ok(pairs) = pairs_of(held, active, path) else {
            continue;
        };
        for (r, p) in pairs.iter().enumerate() {
            if let Some(x) = [&p.a, &p.b]
                .into_iter()
                .find(|x| x.doc == c.doc && x.range.end > len)
            {
                return bad(path, format!("row {r}: {}", why(x)));
            }
        }
    }
    bad(found.regions, why(&c))
}

/// Writes `plan` into `out`: a file a shard (its drops and cuts), the
/// removal log whole; then marks the folder finished.
fn write_plan(
    manifest: &Manifest,
    held: &Held,
    shards: &[usize],
    plan: &Plan,
    out: &Path,
) -> Result<()> {
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    for &n in shards {
        let docs = held.range(n);
        let part = Plan {
            drop_doc: plan.drop_doc[docs.clone()].to_vec(),
            cuts: plan.cuts[docs].to_vec(),
            removals: Vec::new(),
        };
        let st = Stages::open(&shard_dir(out, n), false)?;
        st.save(STAGE, &manifest.params, &[], |e| encode_plan(e, &part))?;
    }
    let log = out.join(LOG);
    let body = log_lines(&plan.removals, &log)?;
    crate::util::write_atomic(&log, &body).map_err(|e| Error::io(&log, e))?;
    mark_finished(out, &manifest.params_hash)
}

/// Name of the whole removal log in the plan's folder.
pub const LOG: &str = "removed.jsonl";
