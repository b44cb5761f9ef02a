//! Writing a plan: checks on the output location, staging, the cleaned
//! files in their input's format, the removal log and the renames.

use std::path::{Path, PathBuf};

use super::manifest::{self, Manifest, ManifestFile, ManifestOptions, RawPath};
use super::plan::{apply_cuts, Plan};
use super::{CleanOptions, CleanSummary, Reason, Removal, Run, STAGING};
use crate::corpus::{Compression, Corpus, Format, IngestOptions, InputFile};
use crate::error::{Error, Result};
use crate::util::{
    absolute_path, canonical_path, is_special, temp_beside, write_in_place, write_synced,
};

/// The error of two inputs `a` and `b` that would both be written to `to`.
pub(crate) fn written_twice(to: &Path, a: &Path, b: &Path) -> Error {
    Error::Output {
        path: to.display().to_string(),
        reason: format!(
            "inputs {} and {} would both be written here; give the folders that hold them, named differently (each folder is then written below its own name), or clean them separately",
            a.display(),
            b.display()
        ),
    }
}

/// Refuses an output folder that is an input, lies inside one, or holds
/// files (unless forced).
///
/// # Errors
///
/// [`Error::Output`].
pub fn check_output(corpus: &Corpus, opts: &CleanOptions) -> Result<()> {
    let out = &opts.out;
    let out_abs = canonical_path(out);
    for input in &corpus.inputs {
        if input.path == Path::new("-") {
            continue;
        }
        let inside_folder = input
            .root
            .as_ref()
            .is_some_and(|root| out_abs.starts_with(canonical_path(root)));
        if inside_folder || out_abs == canonical_path(&input.path) {
            return Err(Error::Output {
                path: out.display().to_string(),
                reason: format!(
                    "output would be inside the input {}",
                    input.root.as_ref().unwrap_or(&input.path).display()
                ),
            });
        }
    }
    let mut rels: Vec<(PathBuf, &Path)> = corpus
        .inputs
        .iter()
        .map(|i| (opts.output_compression.of(i).1, i.path.as_path()))
        .collect();
    rels.sort();
    for w in rels.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(written_twice(&out.join(&w[0].0), w[0].1, w[1].1));
        }
    }
    if let Some(i) = corpus
        .inputs
        .iter()
        .find(|i| i.path == Path::new("-") && i.format == Format::Jsonl)
    {
        return Err(Error::Output {
            path: i.path.display().to_string(),
            reason: "clean cannot rewrite JSONL read from standard input; give it as a file".into(),
        });
    }
    if let Ok(entries) = std::fs::read_dir(out) {
        let busy = entries
            .filter_map(|e| e.ok())
            .any(|e| e.file_name() != STAGING && e.file_name() != crate::work::WORK_NAME);
        if busy && !opts.force {
            return Err(Error::Output {
                path: out.display().to_string(),
                reason: "output folder exists and is not empty (use --force to write into it)"
                    .into(),
            });
        }
    } else if out.exists() {
        return Err(Error::Output {
            path: out.display().to_string(),
            reason: "output exists and is not a folder".into(),
        });
    } else if let Some(blocker) = non_folder_ancestor(out) {
        return Err(Error::Output {
            path: out.display().to_string(),
            reason: format!("cannot create it: {} is not a folder", blocker.display()),
        });
    }
    check_log_and_overwrites(corpus, opts, &out_abs)
}

/// The removal log must be creatable and outside every input, and no file
/// clean writes (outputs, log, manifest) may be an input or another one.
pub(super) fn check_log_and_overwrites(
    corpus: &Corpus,
    opts: &CleanOptions,
    out_abs: &Path,
) -> Result<()> {
    let log = log_path(opts);
    let log_abs = canonical_path(&log);
    let refuse = |path: &Path, reason: String| Error::Output {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(&log) {
        Ok(meta) if meta.is_dir() => {
            return Err(refuse(
                &log,
                "the removal log would replace a folder".into(),
            ))
        }
        Ok(_) => {}
        Err(_) => {
            if let Some(blocker) = non_folder_ancestor(&log) {
                return Err(refuse(
                    &log,
                    format!(
                        "cannot create the removal log: {} is not a folder",
                        blocker.display()
                    ),
                ));
            }
        }
    }
    // Every file clean gives a final name, and what it is.
    let mut finals: std::collections::HashMap<PathBuf, String> = corpus
        .inputs
        .iter()
        .map(|i| {
            (
                out_abs.join(opts.output_compression.of(i).1),
                format!("the output of {}", i.path.display()),
            )
        })
        .collect();
    for (path, what) in [
        (out_abs.join(manifest::MANIFEST), "the manifest".to_string()),
        (log_abs.clone(), "the removal log".to_string()),
    ] {
        if let Some(other) = finals.insert(path.clone(), what.clone()) {
            return Err(refuse(
                &path,
                format!("{what} and {other} would both be written here"),
            ));
        }
    }
    for input in &corpus.inputs {
        if input.path == Path::new("-") {
            continue;
        }
        let in_abs = canonical_path(&input.path);
        if let Some(what) = finals.get(&in_abs) {
            return Err(refuse(
                &input.path,
                format!("{what} would overwrite this input"),
            ));
        }
        if let Some(root) = input
            .root
            .as_ref()
            .filter(|r| log_abs.starts_with(canonical_path(r)))
        {
            return Err(refuse(
                &log,
                format!(
                    "the removal log would be inside the input {}",
                    root.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The nearest existing ancestor of `p`, when it is not a folder (so `p`
/// cannot be created).
pub(super) fn non_folder_ancestor(p: &Path) -> Option<PathBuf> {
    let mut cur = p.parent();
    while let Some(dir) = cur.filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => return None,
            Ok(_) => return Some(dir.to_path_buf()),
            Err(_) => cur = dir.parent(),
        }
    }
    None
}

/// The removal log's path.
pub(super) fn log_path(opts: &CleanOptions) -> PathBuf {
    opts.log
        .clone()
        .unwrap_or_else(|| opts.out.join("removed.jsonl"))
}

/// How the removal log is written.
pub(crate) enum LogTarget {
    /// Written to `tmp` (on the log's file system) and renamed to `fin`.
    Staged { tmp: PathBuf, fin: PathBuf },
    /// A device or pipe (`/dev/stdout`): written to directly, before any
    /// rename, as it cannot be replaced.
    Direct(PathBuf),
}

impl LogTarget {
    pub(super) fn new(opts: &CleanOptions, staging: &Path) -> LogTarget {
        let fin = log_path(opts);
        if is_special(&fin) {
            return LogTarget::Direct(fin);
        }
        let tmp = if canonical_path(&fin).starts_with(canonical_path(&opts.out)) {
            staging.join("removed.jsonl")
        } else {
            // A rename cannot cross file systems: stage it beside its place.
            temp_beside(&fin)
        };
        LogTarget::Staged { tmp, fin }
    }

    pub(super) fn path(&self) -> &Path {
        match self {
            LogTarget::Staged { fin, .. } | LogTarget::Direct(fin) => fin,
        }
    }
}

/// A file written under its staging name, and its final name.
type Staged = (PathBuf, PathBuf);

/// Writes every file of the plan into `staging`, then renames them all into
/// place: the cleaned inputs, the removal log and, last, the manifest.
pub(super) fn write_all(
    corpus: &Corpus,
    plan: &Plan,
    opts: &CleanOptions,
    run: &Run,
    staging: &Path,
    log: &LogTarget,
) -> Result<CleanSummary> {
    let (mut staged, files) = stage_files(corpus, plan, opts, run, &staging.join("files"))?;
    let files_written = staged.len();
    let log_body = log_lines(&plan.removals, log.path())?;
    if let LogTarget::Staged { tmp, fin } = log {
        write_file(tmp, &log_body, fin)?;
        run.staged_file(opts, &super::log_unit(), tmp)?;
        staged.push((tmp.clone(), fin.clone()));
    }
    let manifest_final = opts.out.join(manifest::MANIFEST);
    let manifest_tmp = staging.join(manifest::MANIFEST);
    let mut body = serde_json::to_vec_pretty(&manifest_of(opts, run, log, files))
        .map_err(|e| Error::io(&manifest_final, std::io::Error::other(e)))?;
    body.push(b'\n');
    write_file(&manifest_tmp, &body, &manifest_final)?;

    let stale = stale_files(corpus, opts, &staged);

    // Last chance to stop with nothing changed.
    run.check()?;
    if let LogTarget::Direct(fin) = log {
        write_in_place(fin, &log_body).map_err(|e| Error::io(fin, e))?;
    }
    rename_all(
        &staged,
        (&manifest_tmp, &manifest_final),
        &stale,
        run.progress(),
    )?;
    let _ = std::fs::remove_dir_all(staging);
    let mut summary = summary(corpus, plan, files_written, log.path());
    summary.stale_removed = stale.len();
    Ok(summary)
}

/// The files an earlier run of neardup wrote into the output folder (its
/// manifest lists them: outputs and a log inside the folder) that this run
/// does not write again: left there, they would be outputs of no input
/// (and `verify` rejects them). Only paths below the folder count, and
/// never an input of this run or a file this run writes; anything the old
/// manifest does not name, or an unreadable manifest, is left alone.
fn stale_files(corpus: &Corpus, opts: &CleanOptions, staged: &[Staged]) -> Vec<PathBuf> {
    let Ok(raw) = std::fs::read(opts.out.join(manifest::MANIFEST)) else {
        return Vec::new();
    };
    let Ok(old) = serde_json::from_slice::<Manifest>(&raw) else {
        return Vec::new();
    };
    let below = |p: &Path| {
        p.components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
            && p.components().next().is_some()
    };
    let ours: std::collections::HashSet<PathBuf> =
        staged.iter().map(|(_, fin)| canonical_path(fin)).collect();
    let is_input = |abs: &Path| {
        corpus.inputs.iter().any(|i| {
            i.path != Path::new("-")
                && (canonical_path(&i.path) == abs
                    || i.root
                        .as_ref()
                        .is_some_and(|r| abs.starts_with(canonical_path(r))))
        })
    };
    let mut stale: Vec<PathBuf> = old
        .files
        .iter()
        .filter_map(|f| f.output.as_ref())
        .chain([&old.log])
        .map(|rel| rel.0.clone())
        .filter(|rel| below(rel))
        .map(|rel| opts.out.join(rel))
        .filter(|p| p.is_file())
        .filter(|p| {
            let abs = canonical_path(p);
            !ours.contains(&abs) && !is_input(&abs)
        })
        .collect();
    stale.sort();
    stale.dedup();
    stale
}

/// Writes the cleaned inputs below `files_dir`: each input's
/// `(staged, final)` path, and what the manifest records of every input.
pub(crate) fn stage_files(
    corpus: &Corpus,
    plan: &Plan,
    opts: &CleanOptions,
    run: &Run,
    files_dir: &Path,
) -> Result<(Vec<Staged>, Vec<ManifestFile>)> {
    let mut staged = Vec::new();
    let mut files = Vec::with_capacity(corpus.inputs.len());
    let progress = run.progress();
    progress.stage("write", corpus.inputs.len() as u64);
    for (idx, (input, docs)) in corpus.inputs.iter().zip(docs_by_input(corpus)).enumerate() {
        run.check()?;
        progress.advance(1);
        let mut output = None;
        let (compression, rel) = opts.output_compression.of(input);
        let (tmp, fin) = (files_dir.join(&rel), opts.out.join(&rel));
        if streams(input) && writes_output(input, plan, &docs) {
            if !run.reuse_staged(opts, idx, &tmp)? {
                let to = (tmp.as_path(), fin.as_path(), compression);
                stream_jsonl(corpus, plan, idx, &docs, &opts.text_field, to)?;
                run.staged_file(opts, &super::staged_unit(idx), &tmp)?;
            }
            staged.push((tmp, fin));
            output = Some(RawPath(rel));
            if let Some(on_staged) = run.on_staged {
                on_staged(staged.len());
            }
        } else if writes_output(input, plan, &docs) && run.reuse_staged(opts, idx, &tmp)? {
            staged.push((tmp, fin));
            output = Some(RawPath(rel));
        } else if let Some(body) = cleaned(corpus, plan, idx, &docs, &opts.text_field, run)? {
            let body = compress(&input.path, body, compression)?;
            write_file(&tmp, &body, &fin)?;
            run.staged_file(opts, &super::staged_unit(idx), &tmp)?;
            staged.push((tmp, fin));
            output = Some(RawPath(rel));
            if let Some(on_staged) = run.on_staged {
                on_staged(staged.len());
            }
        }
        files.push(manifest_file(input, output, docs.len())?);
    }
    progress.finish();
    Ok((staged, files))
}

/// The cleaned, encoded (not yet compressed) content of input `idx`, whose
/// documents are `docs`; `None` for a text file whose document is removed.
fn cleaned(
    corpus: &Corpus,
    plan: &Plan,
    idx: usize,
    docs: &[usize],
    field: &str,
    run: &Run,
) -> Result<Option<Vec<u8>>> {
    let input = &corpus.inputs[idx];
    if !writes_output(input, plan, docs) {
        return Ok(None);
    }
    Ok(Some(match input.format {
        Format::Text => {
            let d = docs[0];
            let doc = &corpus.docs[d];
            if held(doc) {
                encode_back(input, &apply_cuts(&doc.text, &plan.cuts[d]))
            } else {
                let bytes = crate::corpus::read_decompressed(input)?;
                let text = crate::corpus::decode_as(&input.path, &bytes, input.encoding)?;
                drop(bytes);
                encode_back(input, &apply_cuts(&text, &plan.cuts[d]))
            }
        }
        Format::Jsonl => rewrite_jsonl(corpus, plan, idx, docs, field)?,
        Format::Parquet => rewrite_parquet(corpus, plan, idx, docs, field, run)?,
    }))
}

/// Whether the corpus holds `doc`'s text (else it is read again from the
/// input, as `clean` reads inputs).
fn held(doc: &crate::corpus::Document) -> bool {
    doc.text.len() == doc.len
}

/// Whether `input` is rewritten a line at a time ([`stream_jsonl`]): a
/// JSONL file whose encoding can be cut into lines before decoding (UTF-8,
/// GB18030…), plain or compressed: the bulk of a large corpus. Other
/// inputs (UTF-16, standard input, text files and Parquet) are built whole
/// in memory.
fn streams(input: &InputFile) -> bool {
    input.format == Format::Jsonl
        && input.encoding.splits_at_newlines()
        && input.path != Path::new("-")
}

/// Rewrites JSONL input `idx` into `tmp` a line at a time, compressed as
/// `compression`: lines of documents without changes are copied byte for
/// byte, lines of removed documents left out, lines with cuts decoded,
/// re-serialised with the new text and encoded back. Memory is one line
/// and the compressor's buffers. Errors name `shown`, the file's final
/// name.
fn stream_jsonl(
    corpus: &Corpus,
    plan: &Plan,
    idx: usize,
    docs: &[usize],
    field: &str,
    (tmp, shown, compression): (&Path, &Path, Compression),
) -> Result<()> {
    use std::io::{BufRead, Write};
    let input = &corpus.inputs[idx];
    let from = input.decompressed.as_deref().unwrap_or(&input.path);
    let mut reader = std::io::BufReader::with_capacity(
        1 << 20,
        std::fs::File::open(from).map_err(|e| Error::io(from, e))?,
    );
    if let Some(parent) = tmp.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(shown, e))?;
    }
    let out = std::fs::File::create(tmp).map_err(|e| Error::io(shown, e))?;
    let out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut w =
        crate::corpus::Compressor::new(out, compression, None).map_err(|e| Error::io(shown, e))?;
    let utf8 = input.encoding == crate::corpus::TextEncoding::UTF8;
    let records = Records::of(corpus, docs);
    let mut line = Vec::new();
    let mut lineno = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(from, e))?;
        if n == 0 {
            break;
        }
        lineno += 1;
        let kept: &[u8] = match records.get(lineno) {
            Some(d) if plan.drop_doc[d] => continue,
            Some(d) if !plan.cuts[d].is_empty() => {
                // the byte-order mark, if any, stays in front of line 1
                let bom = if lineno == 1 { input.bom } else { 0 };
                let record = if utf8 {
                    cut_record(corpus, plan, idx, lineno, d, &line[bom..], field)?
                } else {
                    let text = crate::corpus::decode_as(&input.path, &line[bom..], input.encoding)?;
                    cut_record(corpus, plan, idx, lineno, d, text.as_bytes(), field)?
                };
                let mut rewritten = line[..bom].to_vec();
                if utf8 {
                    rewritten.extend_from_slice(record.as_bytes());
                } else {
                    rewritten.extend(input.encoding.encode(&record));
                }
                rewritten.push(b'\n');
                line = rewritten;
                &line
            }
            _ => &line,
        };
        w.write_all(kept).map_err(|e| Error::io(shown, e))?;
    }
    let out = w.finish().map_err(|e| Error::io(shown, e))?;
    let out = out
        .into_inner()
        .map_err(|e| Error::io(shown, e.into_error()))?;
    out.sync_all().map_err(|e| Error::io(shown, e))
}

/// Whether `input` (holding `docs`) has an output file under `plan`: a JSONL
/// or Parquet file always does, a text file unless its document is
/// removed, a reference input never.
pub(super) fn writes_output(input: &InputFile, plan: &Plan, docs: &[usize]) -> bool {
    // a reference is read, never cleaned, so it has no output
    if input.reference {
        return false;
    }
    match input.format {
        Format::Text => docs.first().is_some_and(|&d| !plan.drop_doc[d]),
        Format::Jsonl | Format::Parquet => true,
    }
}

/// `text` in `input`'s encoding, behind the byte-order mark it had.
fn encode_back(input: &InputFile, text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + input.bom);
    if input.bom > 0 {
        bytes.extend_from_slice(input.encoding.bom());
    }
    bytes.extend(input.encoding.encode(text));
    bytes
}

/// What the manifest records of one input and its `output`.
fn manifest_file(
    input: &InputFile,
    output: Option<RawPath>,
    documents: usize,
) -> Result<ManifestFile> {
    let stdin = input.path == Path::new("-");
    Ok(ManifestFile {
        input: RawPath(if stdin {
            input.path.clone()
        } else {
            absolute_path(&input.path)
        }),
        name: input.path.display().to_string(),
        output,
        format: input.format,
        documents,
        reference: input.reference,
        size: if stdin {
            None
        } else {
            Some(
                std::fs::metadata(&input.path)
                    .map_err(|e| Error::io(&input.path, e))?
                    .len(),
            )
        },
    })
}

/// The removal log: one JSON object per line (errors name `path`).
pub(crate) fn log_lines(removals: &[Removal], path: &Path) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    for r in removals {
        serde_json::to_writer(&mut body, r)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        body.push(b'\n');
    }
    Ok(body)
}

/// The manifest of this run: its inputs as given (when `run` names them),
/// its options, the log's place and what became of every input.
pub(crate) fn manifest_of(
    opts: &CleanOptions,
    run: &Run,
    log: &LogTarget,
    files: Vec<ManifestFile>,
) -> Manifest {
    let default_ingest = IngestOptions {
        text_field: opts.text_field.clone(),
        ..IngestOptions::default()
    };
    let (inputs, ingest) = match run.source {
        Some(src) => (
            src.inputs
                .iter()
                .map(|p| {
                    RawPath(if p == Path::new("-") {
                        p.clone()
                    } else {
                        absolute_path(p)
                    })
                })
                .collect(),
            &src.ingest,
        ),
        None => (Vec::new(), &default_ingest),
    };
    let log_abs = absolute_path(log.path());
    Manifest {
        schema: manifest::SCHEMA.into(),
        inputs,
        options: ManifestOptions::new(ingest, &opts.scan),
        log: RawPath(
            log_abs
                .strip_prefix(absolute_path(&opts.out))
                .map_or(log_abs.clone(), Path::to_path_buf),
        ),
        files,
    }
}

/// Gives every `(staged, final)` file its final name, the manifest last,
/// after removing the `stale` files of an earlier run.
fn rename_all(
    staged: &[Staged],
    manifest: (&Path, &Path),
    stale: &[PathBuf],
    progress: &dyn crate::pipeline::Progress,
) -> Result<()> {
    // Every file is complete on disk. An older manifest goes first, so that
    // a run that dies halfway through the renames leaves no manifest and
    // `verify` does not vouch for a mix.
    let (manifest_tmp, manifest_final) = manifest;
    match std::fs::remove_file(manifest_final) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(manifest_final, e))
        }
        _ => {}
    }
    for path in stale {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(path, e)),
            _ => {}
        }
        remove_emptied(path, manifest_final.parent().unwrap_or(Path::new("")));
    }
    let all = staged.iter().map(|(t, f)| (t.as_path(), f.as_path()));
    progress.stage("rename", staged.len() as u64 + 1);
    for (tmp, fin) in all.chain([(manifest_tmp, manifest_final)]) {
        if let Some(parent) = fin.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(tmp, fin).map_err(|e| Error::io(fin, e))?;
        progress.advance(1);
    }
    progress.finish();
    Ok(())
}

/// Removes the folders below `out` that held only `path`, now gone.
fn remove_emptied(path: &Path, out: &Path) {
    let mut dir = path.parent();
    while let Some(d) = dir.filter(|d| *d != out && d.starts_with(out)) {
        if std::fs::remove_dir(d).is_err() {
            break;
        }
        dir = d.parent();
    }
}

/// See [`super::reclaim_renamed`].
pub(super) fn reclaim_renamed(corpus: &Corpus, opts: &CleanOptions, run: &Run) -> Result<usize> {
    let staging = opts.out.join(STAGING);
    let Some((st, params)) = run.file_params(opts) else {
        return Ok(0);
    };
    if !st.resuming() || !staging.is_dir() {
        return Ok(0);
    }
    let files_dir = staging.join("files");
    let mut units: Vec<(String, PathBuf, PathBuf)> = corpus
        .inputs
        .iter()
        .enumerate()
        .map(|(idx, input)| {
            let rel = opts.output_compression.of(input).1;
            (
                super::staged_unit(idx),
                files_dir.join(&rel),
                opts.out.join(&rel),
            )
        })
        .collect();
    // a log outside OUT is staged beside it, and does not block OUT
    if let LogTarget::Staged { tmp, fin } = LogTarget::new(opts, &staging) {
        if tmp.starts_with(&staging) {
            units.push((super::log_unit(), tmp, fin));
        }
    }
    let mut moved = 0;
    for (unit, tmp, fin) in units {
        let Ok(meta) = std::fs::symlink_metadata(&fin) else {
            continue;
        };
        let ours = meta.is_file() && st.recorded(&unit, &params) == Some(meta.len());
        if !ours || tmp.exists() {
            continue;
        }
        if let Some(parent) = tmp.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(&fin, &tmp).map_err(|e| Error::io(&fin, e))?;
        remove_emptied(&fin, &opts.out);
        moved += 1;
    }
    Ok(moved)
}

/// What a plan does (written or previewed) with `log` as its log.
pub(super) fn summary(
    corpus: &Corpus,
    plan: &Plan,
    files_written: usize,
    log: &Path,
) -> CleanSummary {
    let bytes_removed = corpus
        .docs
        .iter()
        .enumerate()
        .map(|(d, doc)| {
            if plan.drop_doc[d] {
                doc.len as u64
            } else {
                plan.cuts[d].iter().map(|r| r.len() as u64).sum()
            }
        })
        .sum();
    CleanSummary {
        files_written,
        documents_removed: plan.drop_doc.iter().filter(|&&x| x).count(),
        blocks_removed: plan
            .removals
            .iter()
            .filter(|r| r.reason != Reason::Document)
            .count(),
        bytes_removed,
        log: log.to_path_buf(),
        stale_removed: 0,
        reference_removed: plan.removals.iter().filter(|r| r.reference).count(),
    }
}

/// The documents of each input, in order.
pub(crate) fn docs_by_input(corpus: &Corpus) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); corpus.inputs.len()];
    for (d, doc) in corpus.docs.iter().enumerate() {
        out[doc.input].push(d);
    }
    out
}

/// JSONL record `line` (line `lineno` of input `idx`, document `d`; its line
/// break is ignored) with its text `field` as `d`'s cuts leave it.
fn cut_record(
    corpus: &Corpus,
    plan: &Plan,
    idx: usize,
    lineno: u64,
    d: usize,
    line: &[u8],
    field: &str,
) -> Result<String> {
    let changed = |reason: String| Error::Jsonl {
        loc: crate::Location::line(&corpus.inputs[idx].path, lineno),
        reason: format!("changed since it was read: {reason}"),
    };
    let mut value: serde_json::Value =
        serde_json::from_slice(line.trim_ascii_end()).map_err(|e| changed(e.to_string()))?;
    // the field as ingest found it (a dotted path reaches a nested one)
    let Some(slot) = crate::corpus::field_mut(&mut value, field) else {
        return Err(changed(format!("no text field `{field}`")));
    };
    let doc = &corpus.docs[d];
    let new_text = match (held(doc), &*slot) {
        (true, _) => apply_cuts(&doc.text, &plan.cuts[d]),
        (false, serde_json::Value::String(text)) if text.len() == doc.len => {
            apply_cuts(text, &plan.cuts[d])
        }
        _ => {
            return Err(changed(format!(
                "the text field `{field}` is not the one read"
            )))
        }
    };
    *slot = serde_json::Value::String(new_text);
    Ok(value.to_string())
}

/// Re-reads a JSONL input and writes it back without removed records, with
/// cut text fields; untouched lines are copied verbatim.
pub(super) fn rewrite_jsonl(
    corpus: &Corpus,
    plan: &Plan,
    idx: usize,
    docs: &[usize],
    field: &str,
) -> Result<Vec<u8>> {
    let input = &corpus.inputs[idx];
    let bytes = crate::corpus::read_decompressed(input)?;
    let text = crate::corpus::decode_as(&input.path, &bytes, input.encoding)?;
    let records = Records::of(corpus, docs);
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let lineno = i as u64 + 1;
        match records.get(lineno) {
            Some(d) if plan.drop_doc[d] => {}
            Some(d) if !plan.cuts[d].is_empty() => {
                out.push_str(&cut_record(
                    corpus,
                    plan,
                    idx,
                    lineno,
                    d,
                    line.as_bytes(),
                    field,
                )?);
                out.push('\n');
            }
            _ => out.push_str(line),
        }
    }
    Ok(encode_back(input, &out))
}

/// The documents of one input by record (JSONL line, Parquet row).
pub(crate) struct Records(Vec<(u64, usize)>);

impl Records {
    /// The records of `docs`, documents of one input of `corpus`.
    pub(crate) fn of(corpus: &Corpus, docs: &[usize]) -> Records {
        let mut by_record: Vec<(u64, usize)> = docs
            .iter()
            .map(|&d| (corpus.docs[d].record.unwrap_or(0), d))
            .collect();
        by_record.sort_unstable();
        Records(by_record)
    }

    /// The document read from `record`, if any.
    pub(crate) fn get(&self, record: u64) -> Option<usize> {
        self.0
            .binary_search_by_key(&record, |&(r, _)| r)
            .ok()
            .map(|p| self.0[p].1)
    }
}

/// Re-reads a Parquet input and writes it back without removed rows, with
/// cut texts, every other value as it was
/// ([`crate::corpus::parquet::rewrite`]).
fn rewrite_parquet(
    corpus: &Corpus,
    plan: &Plan,
    idx: usize,
    docs: &[usize],
    field: &str,
    run: &Run,
) -> Result<Vec<u8>> {
    let input = &corpus.inputs[idx];
    #[cfg(feature = "parquet")]
    {
        use crate::corpus::parquet::{rewrite, Fate};
        // the texts to cut that the corpus does not hold, read back
        let cut: Vec<u32> = docs
            .iter()
            .filter(|&&d| !plan.drop_doc[d] && !plan.cuts[d].is_empty())
            .filter(|&&d| !held(&corpus.docs[d]))
            .map(|&d| d as u32)
            .collect();
        let texts = match run.reload {
            Some(ingest) => crate::corpus::reload_texts(corpus, &cut, ingest)?,
            None => Vec::new(),
        };
        let text_of = |d: usize| match cut.binary_search(&(d as u32)) {
            Ok(i) => texts.get(i).map_or("", String::as_str),
            Err(_) => corpus.docs[d].text.as_str(),
        };
        let records = Records::of(corpus, docs);
        let fate = |row: u64| match records.get(row) {
            Some(d) if plan.drop_doc[d] => Fate::Drop,
            Some(d) if !plan.cuts[d].is_empty() => {
                Fate::Text(apply_cuts(text_of(d), &plan.cuts[d]))
            }
            _ => Fate::Keep,
        };
        rewrite(&input.path, field, &fate)
    }
    #[cfg(not(feature = "parquet"))]
    {
        let _ = (plan, docs, field, run);
        Err(crate::corpus::no_parquet(&input.path))
    }
}

/// Compresses on all cores ([`crate::corpus::compress`]).
pub(super) fn compress(path: &Path, body: Vec<u8>, c: Compression) -> Result<Vec<u8>> {
    crate::corpus::compress(path, body, c)
}

/// Writes a staged file; errors name `shown`, the file's final name (where
/// it was going is what the user knows).
pub(super) fn write_file(path: &Path, body: &[u8], shown: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(shown, e))?;
    }
    write_synced(path, body).map_err(|e| Error::io(shown, e))
}
