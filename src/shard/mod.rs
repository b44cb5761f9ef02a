//! SHARD: `neardup clean` (at `--level doc` and at the default `all`) cut
//! into stages that run one shard or one partition of pairs at a time, for
//! a distributed engine (Spark, `contrib/spark/`) that schedules them,
//! shuffles their small key rows, groups fingerprints and finds connected
//! components. Every byte of text work is neardup's, done by the same
//! functions as on one machine, so the output is the same bytes.
//!
//! # Definition of the clusters (both paths)
//!
//! Documents are `(shard, ord)`: shards are runs of consecutive input
//! files in neardup's reading order ([`plan()`]) and `ord` the document's
//! index in its shard, so `(shard, ord)` order is the single-machine
//! document order. The single-machine path (`src/documents.rs`) and the
//! sharded one define the clusters alike:
//!
//! 1. **Exact**: documents with `chars > 0` and the same exact hash (of
//!    the normalised text) are one cluster; the first by `(shard, ord)` is
//!    the representative, and only representatives go on to LSH.
//! 2. **Candidates**: in each `(band, key)` bucket of representatives
//!    ([`crate::lsh::band_key`]), every pair when the bucket holds at most
//!    [`crate::lsh::MAX_BUCKET`] documents; else, in `(shard, ord)` order,
//!    each document with the next and the first with each (the giant-bucket
//!    guard). Distinct pairs.
//! 3. **Verify**: a candidate is an edge when it passes the length bound,
//!    the MinHash estimate floor, the character-count bound and its
//!    alignment reaches `--threshold` (`verify-pairs`, [`pairs`]).
//! 4. **Clusters**: connected components of exact and verified edges.
//!    (One machine aligns only the pairs that could still join two
//!    components; the components are the same.)
//! 5. **Keep**: the member with the smallest `(keep_rank, shard, ord)`
//!    (`keep_rank` compares as bytes: [`sign::keep_rank`] encodes
//!    `--keep`/`--keep-by`). A member's similarity is 1.0 when its exact
//!    hash is the kept one's, else `LCS / longer` against the kept one
//!    (`verify-pairs --similarity`), rounded to 4 places.
//! 6. **Ids**: clusters are numbered 1, 2, … in the order of their first
//!    member by `(shard, ord)`.
//! 7. **Removed**: every member but the kept one whose rounded similarity
//!    is at least `--threshold`.
//!
//! # Definition of the block level (`--level all`)
//!
//! 8. **Active**: the documents not removed by step 7, in `(shard, ord)`
//!    order (block document `i` is the `i`-th of them).
//! 9. **Fingerprints**: `sign`'s `fingerprints.parquet`, the block stage's
//!    winnowed fingerprints ([`crate::blocks::fingerprints`]) over its
//!    units (a word is one) of every document with at least
//!    `min(--min-block, 50)` normalised characters and units.
//! 10. **Groups**: the active documents' fingerprints by hash; `n` rows.
//!     `n > --max-occurrences`: **frequent**, every occurrence goes to the
//!     star path. `2 ≤ n ≤ --max-occurrences`: **rare**, the occurrences
//!     sorted by `(shard, ord, pos)` and every `x < y` among them a seed,
//!     except within one document when `pos_y < pos_x + k` (`k` = 8).
//! 11. **Region pairs**: the star path's ([`star`]) over the frequent
//!     occurrences: each document's occurrences cut into runs
//!     (`star-runs`); each hash's first run, the least `(shard, ord,
//!     run)` holding it; each run's parents, the other runs that are the
//!     first of at least [`star::MIN_VOTES`] of its rows, most first, then
//!     the least, at most [`star::MAX_PARENTS`]; each run aligned to each
//!     parent (`star-pairs`); the aligned pairs cut where a parent
//!     document's passages meet (`star-split`). And each document pair's
//!     seeds chained and verified (`block-pairs`, [`blocks`]), but those
//!     of a pair whose every seed lies inside a run on both sides: from
//!     `w` units before the run's first occurrence to `k + w` past its
//!     last (`w` = 8, the winnowing window); the star path aligns those
//!     copies. Both paths' pairs, the star path's first, sorted and made
//!     distinct (of equal regions the least similar).
//! 12. **Everything after**: block clusters, the report, clean's plan and
//!     its later rounds, exactly as one machine ([`cuts`]).
//!
//! # Stages, their files and memory
//!
//! | command | reads | writes | holds |
//! |---|---|---|---|
//! | `shards` ([`plan()`]) | the input listing | `MANIFEST.json`: the parameters and their hash, the files of each shard | the listing |
//! | `sign` ([`sign`]) | one shard's files | `DIR/shard-NNNNN/`: `docs.parquet`, `bands.parquet`, `stages/sign.bin`, decompressed copies of compressed inputs, `_SUCCESS` | ~700 bytes a document of the shard, one batch of text |
//! | `verify-pairs` ([`pairs`]) | a table of pairs, the `sign.bin` of their shards | a table of edges | the document tables and signatures of those shards, one batch of text |
//! | `block-pairs` ([`blocks`]) | a table of seeds (every seed of a document pair in one call), the `sign.bin` of their shards | a table of region pairs | the document tables of those shards, the seeds (16 bytes each), one batch of normalised texts |
//! | `star-runs` ([`star`]) | the frequent occurrences of whole documents, the `sign.bin` of their shards | a table of the occurrences in runs | the document tables of those shards, the occurrences (16 bytes each), one batch of normalised texts |
//! | `star-pairs` ([`star`]) | the rows of child runs and their parents, the `sign.bin` of their shards | a table of aligned pairs | the document tables of those shards, the rows, one batch of normalised texts |
//! | `star-split` ([`star`]) | the aligned pairs of whole parent documents, the `sign.bin` of their shards | a table of region pairs | the document tables of those shards, the pairs, one batch of normalised texts |
//! | `plan` ([`cuts`]), **one process** | every shard's `sign.bin`, the engine's document clusters, the region pairs of both paths | `PLAN_DIR/`: a drop-and-cut file a shard, the whole removal log | the document table of the corpus (~700 bytes a document), the region pairs, one batch of texts |
//! | `apply` ([`apply`]) | one shard's files, its removed documents (`--clusters`) or its part of the plan (`--plan`) | the shard's cleaned files, `OUT/.neardup-parts/` | the shard's document table, one file |
//! | `apply --finish` | the parts of every shard (and the plan's log) | `OUT/removed.jsonl`, the manifest | one line of each shard's log |
//!
//! `plan` is the one stage that sees the whole corpus: it runs the block
//! clustering and clean's plan (with its later rounds, which search the
//! text the cuts leave again) in one process, with the memory of one
//! machine's clean after detection. Distributing them, by connected group
//! of block clusters, is the next step.
//!
//! Bytes a document on disk (the generated 10,000-document corpus in 4
//! shards, defaults: 128 permutations, 64 bands of 2 rows, snappy):
//! `docs.parquet` 56, `bands.parquet` 608 (64 rows of a random 8-byte key
//! and its document), `sign.bin` 585 (the signatures: 4 bytes a
//! permutation); a compressed input adds its decompressed copy.
//! `fingerprints.parquet` (`--level all`) is the largest: ~2,370 bytes a
//! document there (23.7 MB for 34.7 MB of JSONL, 0.22 random 8-byte hashes
//! a unit that snappy cannot shrink).
//!
//! Every file is written under a temporary name and renamed; a shard whose
//! `_SUCCESS` holds the parameters' hash is not signed again. Every stage
//! compares its command line's parameters with the manifest's and refuses
//! files written with others, naming the option.
//!
//! Not yet: `--level block` (blocks among every document), `--reference`,
//! `--method simhash`, `--log`, `--drop-boilerplate`, standard input.

pub mod apply;
pub mod blocks;
pub mod cuts;
pub mod pairs;
pub mod plan;
pub mod rows;
pub mod sign;
pub mod star;

pub use plan::{plan, Manifest};

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Name of shard `n`'s folder in the `sign` output.
pub fn shard_dir(out: &Path, n: usize) -> PathBuf {
    out.join(format!("shard-{n:05}"))
}

/// The marker a finished unit writes last: the parameters' hash.
pub const SUCCESS: &str = "_SUCCESS";

/// Whether the unit in `dir` was finished with parameters of hash `hash`.
fn finished(dir: &Path, hash: &str) -> bool {
    std::fs::read_to_string(dir.join(SUCCESS)).is_ok_and(|h| h.trim() == hash)
}

/// Marks the unit in `dir` finished with parameters of hash `hash`.
fn mark_finished(dir: &Path, hash: &str) -> Result<()> {
    let path = dir.join(SUCCESS);
    crate::util::write_atomic(&path, format!("{hash}\n").as_bytes())
        .map_err(|e| Error::io(&path, e))
}

/// Refuses a unit in `dir` (a shard's `sign` folder) unless it was
/// finished with parameters of hash `hash`.
fn require_finished(dir: &Path, hash: &str) -> Result<()> {
    if finished(dir, hash) {
        return Ok(());
    }
    let reason = match std::fs::read_to_string(dir.join(SUCCESS)) {
        Ok(h) => format!(
            "written with other parameters (hash {}, the manifest's is {hash}); sign it again",
            h.trim()
        ),
        Err(_) => "not finished (no _SUCCESS); run `neardup sign` for it".into(),
    };
    Err(Error::Stage {
        path: dir.display().to_string(),
        reason,
    })
}
