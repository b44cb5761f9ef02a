//! `neardup apply`: a shard's removed documents → its cleaned files and
//! its removal-log lines; `apply --finish`: every shard's parts → the
//! removal log and the manifest, as `neardup clean` leaves them.
//!
//! Takes, for shard `N`, a table of its removed documents (a folder of
//! Parquet part files: `shard`, `ord`, `cluster`, `similarity` and the kept
//! copy's place, `kept_doc_id`, `kept_path`, `kept_record`,
//! `kept_line_first`, `kept_line_last`, `kept_byte_start`,
//! `kept_byte_end`, `kept_unit`, as `docs.parquet` has them). Rows of other
//! shards are left out; without a `shard` column (the shard's folder of an
//! output partitioned by shard) every row is the shard's. Reads the shard's files again and writes its
//! cleaned files with clean's own writers ([`crate::clean`]), compressed
//! as `--output-compression` says (a shard's option, as clean's; a name
//! that files of two shards would both be written to is refused): staged in
//! `OUT/.neardup-staging-N/`, then renamed into place. Then its parts, in
//! `OUT/.neardup-parts/`: `removed-N.jsonl` (its log lines, by cluster
//! then document) and `files-N.json` (what the manifest records of its
//! files). Holds the shard's document table and one file's text;
//! compressed inputs are decompressed once into a temporary work folder.
//!
//! `--finish` merges the logs by `(cluster, shard, ord)`, the order of one
//! machine's log (its clusters in order, each one's members in document
//! order), a line of each shard at a time, into `OUT/removed.jsonl`;
//! writes the manifest last and removes the parts. An output whose parts
//! are gone and whose manifest is there is finished: nothing is done.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::clean::manifest::{ManifestFile, MANIFEST};
use crate::clean::{
    check_output, check_plan, log_lines, manifest_of, stage_files, written_twice, ByteUnits,
    CleanOptions, LogTarget, OutputCompression, Place, Plan, Reason, Removal, Run, Source,
};
use crate::corpus::{read_listing_in, Corpus, IngestOptions, TextKept};
use crate::error::{Error, Result};
use crate::pipeline::ScanOptions;
use crate::util::round4;
use crate::work::{Placement, WorkDir, WorkOptions};

use super::rows::Rows;
use super::sign::whole_places;
use super::Manifest;

/// Folder of the shards' parts inside the output folder.
pub const PARTS: &str = ".neardup-parts";

/// What `apply` did to one shard, or `--finish` to the output.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Files written.
    pub files_written: usize,
    /// Documents removed.
    pub documents_removed: usize,
    /// The removal log (`--finish`).
    pub log: PathBuf,
}

/// Clean's options for the output folder `out`: the log in it, files
/// written into it whatever it holds (other shards' files).
pub(super) fn clean_options(
    out: &Path,
    opts: &ScanOptions,
    ingest: &IngestOptions,
    output_compression: OutputCompression,
) -> CleanOptions {
    CleanOptions {
        out: out.to_path_buf(),
        log: None,
        force: true,
        scan: opts.clone(),
        text_field: ingest.text_field.clone(),
        drop_boilerplate: false,
        output_compression,
    }
}

/// Refuses shard `n`'s files (`corpus`) when a file of another shard
/// would be written to one of their names, as `neardup clean` refuses two
/// inputs written to one name: only a compression other than `same` maps
/// two listed files (`a.jsonl`, `a.jsonl.gz`) to one name, and the
/// per-shard check sees one shard. Only the other shards' files whose name
/// could collide are opened (for their magic number).
///
/// # Errors
///
/// The names of the two inputs, as `check_output` gives them; a file of
/// another shard that cannot be opened.
fn check_other_shards(
    manifest: &Manifest,
    n: usize,
    corpus: &Corpus,
    copts: &CleanOptions,
) -> Result<()> {
    let how = copts.output_compression;
    if how == OutputCompression::Same {
        return Ok(());
    }
    // a name without its .gz/.zst suffix: names that differ here never
    // collide
    let stem = |p: &Path| {
        let s = p.to_string_lossy().to_ascii_lowercase();
        let cut = [".gz", ".zst"].iter().find_map(|x| s.strip_suffix(x));
        cut.map_or_else(|| s.clone(), str::to_string)
    };
    let ours: HashMap<PathBuf, &Path> = corpus
        .inputs
        .iter()
        .map(|i| (how.of(i).1, i.path.as_path()))
        .collect();
    let stems: HashSet<String> = ours.keys().map(|p| stem(p)).collect();
    let others = manifest.shards.iter().filter(|s| s.shard != n);
    for f in others.flat_map(|s| &s.files) {
        if !stems.contains(&stem(&f.rel.0)) {
            continue;
        }
        let (compression, parquet) = crate::corpus::stored_as(&f.path.0)?;
        let (_, rel) = how.of_file(&f.rel.0, compression, parquet);
        if let Some(mine) = ours.get(&rel) {
            return Err(written_twice(&copts.out.join(&rel), &f.path.0, mine));
        }
    }
    Ok(())
}

/// Writes shard `n`'s cleaned files and parts into `out` (module docs).
///
/// # Errors
///
/// A clusters table without the columns or naming no document of the
/// shard, an input that cannot be read again, a write that fails.
pub fn apply(
    manifest: &Manifest,
    n: usize,
    from: From<'_>,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    output_compression: OutputCompression,
    out: &Path,
) -> Result<Applied> {
    let listing = manifest.listing(n)?;
    // clean's writers stream a compressed input from its decompressed copy
    let work = WorkDir::create(&WorkOptions::default(), Placement::Temp)?;
    let (corpus, _) = read_listing_in(listing, ingest, TextKept::No, Some(&work), |_| ())?;
    let copts = clean_options(out, opts, ingest, output_compression);
    check_output(&corpus, &copts)?;
    check_other_shards(manifest, n, &corpus, &copts)?;

    let plan = match from {
        From::Clusters(clusters) => removed_documents(&corpus, n, clusters, ingest)?,
        From::Plan(dir) => planned(manifest, n, dir, corpus.docs.len())?,
    };
    let documents_removed = plan.drop_doc.iter().filter(|&&d| d).count();
    check_plan(&corpus, &plan, &copts)?;

    let staging = out.join(format!("{}-{n}", crate::clean::STAGING));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    let (staged, files) = stage_files(
        &corpus,
        &plan,
        &copts,
        &Run::default(),
        &staging.join("files"),
    )?;
    for (tmp, fin) in &staged {
        if let Some(parent) = fin.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(tmp, fin).map_err(|e| Error::io(fin, e))?;
    }
    let _ = std::fs::remove_dir_all(&staging);

    let parts = out.join(PARTS);
    std::fs::create_dir_all(&parts).map_err(|e| Error::io(&parts, e))?;
    let log = parts.join(format!("removed-{n}.jsonl"));
    let body = log_lines(&plan.removals, &log)?;
    crate::util::write_atomic(&log, &body).map_err(|e| Error::io(&log, e))?;
    let listed = parts.join(format!("files-{n}.json"));
    let body =
        serde_json::to_vec(&files).map_err(|e| Error::io(&listed, std::io::Error::other(e)))?;
    crate::util::write_atomic(&listed, &body).map_err(|e| Error::io(&listed, e))?;
    work.finish()?;
    Ok(Applied {
        files_written: staged.len(),
        documents_removed,
        log,
    })
}

/// What `apply` writes a shard from.
#[derive(Debug, Clone, Copy)]
pub enum From<'p> {
    /// The folder of the shard's removed documents (`--level doc`).
    Clusters(&'p Path),
    /// The folder `neardup plan` wrote.
    Plan(&'p Path),
}

/// The plan of shard `n` (`corpus`) that drops the removed documents
/// of the `clusters` table.
fn removed_documents(
    corpus: &crate::corpus::Corpus,
    n: usize,
    clusters: &Path,
    ingest: &IngestOptions,
) -> Result<Plan> {
    let table = Rows::read_any(clusters)?;
    let removed = Removed::of(&table, n, corpus.docs.len(), clusters)?;
    let docs: Vec<u32> = removed.iter().map(|r| r.ord).collect::<Vec<_>>();
    let mut sorted = docs.clone();
    sorted.sort_unstable();
    let places = whole_places(corpus, ingest, &sorted)?;
    let mut plan = Plan {
        drop_doc: vec![false; corpus.docs.len()],
        cuts: vec![Vec::new(); corpus.docs.len()],
        removals: Vec::with_capacity(removed.len()),
    };
    for r in &removed {
        let d = r.ord as usize;
        plan.drop_doc[d] = true;
        let place = places[sorted.binary_search(&r.ord).unwrap_or(0)].clone();
        plan.removals.push(Removal {
            reason: Reason::Document,
            cluster: r.cluster,
            round: 1,
            removed: place,
            spans: Vec::new(),
            kept: r.kept.clone(),
            similarity: r.similarity,
            containment: r.similarity,
            bytes_removed: corpus.docs[d].len as u64,
            units: ByteUnits::between(ByteUnits::unit(corpus, d), r.kept_unit.clone()),
            reference: false,
            numbers_as_fields: false,
        });
    }
    Ok(plan)
}

/// Shard `n`'s part of the plan `neardup plan` wrote into `dir`, for its
/// `docs` documents (its log lines are in the plan's whole log).
fn planned(manifest: &Manifest, n: usize, dir: &Path, docs: usize) -> Result<Plan> {
    let shard = super::shard_dir(dir, n);
    super::require_finished(dir, &manifest.params_hash)?;
    let st = crate::stage::Stages::open(&shard, true)?;
    st.load(super::cuts::STAGE, &manifest.params, &[], |d| {
        crate::clean::decode_plan(d, docs)
    })?
    .ok_or_else(|| Error::Stage {
        path: shard.display().to_string(),
        reason: "no plan of this shard; run `neardup plan` again".into(),
    })
}

/// Copies the log `from` to `to`; gives its lines.
fn copy_log(from: &Path, to: &Path) -> Result<usize> {
    let body = std::fs::read(from).map_err(|e| Error::io(from, e))?;
    std::fs::write(to, &body).map_err(|e| Error::io(to, e))?;
    Ok(body.iter().filter(|&&b| b == b'\n').count())
}

/// One removed document of the clusters table.
struct Removed {
    ord: u32,
    cluster: usize,
    similarity: f64,
    kept: Place,
    kept_unit: String,
}

impl Removed {
    /// The removed documents of shard `n` (of `docs` documents) in
    /// `table`, by cluster then document.
    fn of(table: &Rows, n: usize, docs: usize, path: &Path) -> Result<Vec<Removed>> {
        // a folder of an engine's output partitioned by shard has no
        // shard column: its rows are the shard's
        let shard = match table.column("shard") {
            None => vec![n as i64; table.len()],
            Some(_) => table.ints("shard")?,
        };
        let ord = table.ints("ord")?;
        let cluster = table.ints("cluster")?;
        let similarity = table.doubles("similarity")?;
        let doc = table.strs("kept_doc_id")?;
        let kpath = table.strs("kept_path")?;
        let record = table.opt_ints("kept_record")?;
        let line = [
            table.ints("kept_line_first")?,
            table.ints("kept_line_last")?,
        ];
        let byte = [table.ints("kept_byte_start")?, table.ints("kept_byte_end")?];
        let unit = table.strs("kept_unit")?;
        let mut out = Vec::new();
        for r in 0..shard.len() {
            if shard[r] != n as i64 {
                continue;
            }
            if ord[r] < 0 || ord[r] as usize >= docs || cluster[r] < 1 {
                return Err(Error::Stage {
                    path: path.display().to_string(),
                    reason: format!(
                        "row {r}: no document {} in shard {n} ({docs} documents), or cluster {} < 1",
                        ord[r], cluster[r]
                    ),
                });
            }
            out.push(Removed {
                ord: ord[r] as u32,
                cluster: cluster[r] as usize,
                similarity: round4(similarity[r]),
                kept: Place {
                    doc: doc[r].clone(),
                    path: kpath[r].clone(),
                    record: record[r].map(|x| x as u64),
                    lines: [line[0][r] as u64, line[1][r] as u64],
                    bytes: [byte[0][r] as u64, byte[1][r] as u64],
                },
                kept_unit: unit[r].clone(),
            });
        }
        out.sort_by_key(|r| (r.cluster, r.ord));
        if let Some(w) = out.windows(2).find(|w| w[0].ord == w[1].ord) {
            return Err(Error::Stage {
                path: path.display().to_string(),
                reason: format!("document {} of shard {n} is removed twice", w[0].ord),
            });
        }
        Ok(out)
    }
}

/// Writes the removal log and the manifest of `out` from its shards'
/// parts (module docs).
///
/// # Errors
///
/// A shard not applied, a part that does not read, a write that fails.
pub fn finish(
    manifest: &Manifest,
    plan: Option<&Path>,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    out: &Path,
) -> Result<Applied> {
    let parts = out.join(PARTS);
    let log = out.join("removed.jsonl");
    if !parts.exists() && out.join(MANIFEST).is_file() {
        return Ok(Applied {
            log,
            ..Applied::default()
        });
    }
    let mut files: Vec<ManifestFile> = Vec::new();
    let mut logs = Vec::with_capacity(manifest.shards.len());
    for s in &manifest.shards {
        let listed = parts.join(format!("files-{}.json", s.shard));
        let raw = std::fs::read(&listed).map_err(|_| Error::Stage {
            path: listed.display().to_string(),
            reason: format!(
                "shard {} is not applied: run `neardup apply --shard {}`",
                s.shard, s.shard
            ),
        })?;
        let part: Vec<ManifestFile> = serde_json::from_slice(&raw).map_err(|e| Error::Stage {
            path: listed.display().to_string(),
            reason: format!("unreadable: {e}"),
        })?;
        files.extend(part);
        logs.push(parts.join(format!("removed-{}.jsonl", s.shard)));
    }
    // with a plan, its log is whole already (the shards' parts are empty)
    let removed = crate::util::replace_via_temp(
        &log,
        |tmp| match plan {
            Some(dir) => copy_log(&dir.join(super::cuts::LOG), tmp),
            None => merge_logs(&logs, tmp),
        },
        |e| Error::io(&log, e),
    )?;

    let source = Source {
        inputs: manifest.input_paths(),
        ingest: ingest.clone(),
    };
    let run = Run {
        source: Some(&source),
        ..Run::default()
    };
    // the manifest records no output compression: any will do
    let copts = clean_options(out, opts, ingest, OutputCompression::Same);
    let target = LogTarget::Staged {
        tmp: crate::util::temp_beside(&log),
        fin: log.clone(),
    };
    let path = out.join(MANIFEST);
    let mut body = serde_json::to_vec_pretty(&manifest_of(&copts, &run, &target, files.clone()))
        .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    body.push(b'\n');
    crate::util::write_atomic(&path, &body).map_err(|e| Error::io(&path, e))?;
    std::fs::remove_dir_all(&parts).map_err(|e| Error::io(&parts, e))?;
    Ok(Applied {
        files_written: files.iter().filter(|f| f.output.is_some()).count(),
        documents_removed: removed,
        log,
    })
}

/// Merges the shards' logs (each by cluster, then document) into `to` by
/// `(cluster, shard)`, reading a line of each at a time; gives the lines.
fn merge_logs(logs: &[PathBuf], to: &Path) -> Result<usize> {
    #[derive(serde::Deserialize)]
    struct Cluster {
        cluster: usize,
    }
    let mut readers = Vec::with_capacity(logs.len());
    for p in logs {
        let f = std::fs::File::open(p).map_err(|e| Error::io(p, e))?;
        readers.push(BufReader::new(f).lines());
    }
    // the next line of shard `i`, keyed by its cluster
    let next = |i: usize,
                r: &mut std::io::Lines<BufReader<std::fs::File>>|
     -> Result<Option<(usize, String)>> {
        let Some(line) = r.next() else {
            return Ok(None);
        };
        let line = line.map_err(|e| Error::io(&logs[i], e))?;
        let c: Cluster = serde_json::from_str(&line).map_err(|e| Error::Stage {
            path: logs[i].display().to_string(),
            reason: format!("not a removal-log line: {e}"),
        })?;
        Ok(Some((c.cluster, line)))
    };
    let mut heap = BinaryHeap::new();
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some((c, line)) = next(i, r)? {
            heap.push(std::cmp::Reverse((c, i, line)));
        }
    }
    let file = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
    let mut w = BufWriter::new(file);
    let mut n = 0;
    while let Some(std::cmp::Reverse((_, i, line))) = heap.pop() {
        w.write_all(line.as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| Error::io(to, e))?;
        n += 1;
        if let Some((c, line)) = next(i, &mut readers[i])? {
            heap.push(std::cmp::Reverse((c, i, line)));
        }
    }
    let file = w.into_inner().map_err(|e| Error::io(to, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(to, e))?;
    Ok(n)
}
