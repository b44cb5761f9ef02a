//! VERIFY A CLEAN OUTPUT: an output folder of `clean` → proof that it
//! still adds up, or the first thing that does not.
//!
//! Takes the folder and the manifest `clean` left in it
//! ([`super::manifest`]), reads the inputs again with the recorded options,
//! and reads the outputs and the removal log. It checks, in this order:
//!
//! 1. no input changed since (its size on disk is what it was);
//! 2. the inputs still hold the same files and documents;
//! 3. the log parses and every line names a document that was read;
//! 4. per document, bytes in the output + bytes removed per the log = bytes
//!    in the input, and the output is exactly the input less the logged
//!    spans; untouched JSONL lines are copied byte for byte;
//! 5. every file in the folder is the output of an input;
//! 6. every removed span (text taken from the input) is contained in its
//!    kept copy at or above the threshold, on normalised text, and that
//!    kept copy was not removed whole.
//!
//! Reference inputs (`--reference`) are read again too, before the inputs:
//! a kept copy may be in one, but no log line removes anything from one,
//! none has an output, and none changed (step 1).
//!
//! This is the same no-loss promise `clean` checks before it writes, made
//! again from what is on disk, so that an output copied, edited, truncated
//! or half-written since is caught.
//!
//! Memory: the document table (place, id and text length of each
//! document, as [`crate::pipeline::read_streaming`] holds it) and the log's
//! lines; never the corpus. Outputs are compared with their inputs a line
//! at a time ([`corpus::Relines`]; a Parquet file or a text file whole);
//! the texts steps 3 and 6 need come back from the inputs by offset, a
//! batch of at most half the `memory` budget at a time, the log's lines
//! taken in the order of the documents they remove.

use std::collections::{BTreeSet, HashMap};
use std::io::BufRead;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::manifest::{Manifest, MANIFEST, SCHEMA};
use super::{apply_cuts, docs_by_input, Place, Reason, Removal, STAGING};
use crate::align;
use crate::corpus::{
    self, Corpus, Format, IngestOptions, InputFile, Relines, TextEncoding, TextKept,
};
use crate::error::{Error, Result};
use crate::normalize::{normalize, NormalizeOptions};
use crate::util::absolute_path;

/// What a successful verification covered.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifySummary {
    /// Input files read again.
    pub files: usize,
    /// Documents in them.
    pub documents: usize,
    /// Output files checked.
    pub outputs: usize,
    /// Lines of the removal log checked.
    pub removals: usize,
    /// Bytes the log says were removed.
    pub bytes_removed: u64,
}

/// A parsed log line with its documents and the text it removed.
struct Entry {
    line: usize,
    removal: Removal,
    removed: usize,
    /// What it removed, in the removed document's text.
    ranges: Vec<Range<usize>>,
    kept: usize,
}

fn fail(path: &Path, reason: impl Into<String>) -> Error {
    Error::Verify {
        path: path.display().to_string(),
        reason: reason.into(),
    }
}

/// Checks a finished `clean` output folder against its inputs and log,
/// holding at most about [`crate::work::DEFAULT_MEMORY`] of text.
///
/// # Errors
///
/// As [`verify_within`].
pub fn verify(out: &Path) -> Result<VerifySummary> {
    verify_within(out, crate::work::DEFAULT_MEMORY)
}

/// Checks a finished `clean` output folder against its inputs and log,
/// reading texts back in batches of at most `memory / 2` bytes (one larger
/// document is read alone).
///
/// # Errors
///
/// [`Error::Verify`] naming the first file (or log line) that does not add
/// up; the input errors of [`corpus::read_corpus`] when an input can no
/// longer be read.
pub fn verify_within(out: &Path, memory: u64) -> Result<VerifySummary> {
    let m = read_manifest(&out.join(MANIFEST))?;
    check_sizes(&m)?; // 1.
    let t = Table::read(&m, memory)?;
    let docs_of = docs_by_input(&t.corpus);
    check_same_inputs(&m, &t.corpus, &docs_of)?; // 2.
    let log_path = if m.log.0.is_absolute() {
        m.log.0.clone()
    } else {
        out.join(&m.log.0)
    };
    let entries = read_log(&log_path, &t, &docs_of, &m)?; // 3.
    let tally = Tally::of(&entries, &t, &log_path)?;
    let outputs = check_outputs(out, &m, &t, &docs_of, &tally)?; // 4.
    check_nothing_else(out, &log_path, &outputs)?; // 5.
    check_removals(&t, &entries, &tally.dropped, &m, &log_path)?; // 6.
    Ok(VerifySummary {
        files: t.corpus.inputs.len(),
        documents: t.corpus.docs.len(),
        outputs: outputs.len(),
        removals: entries.len(),
        bytes_removed: entries.iter().map(|e| e.removal.bytes_removed).sum(),
    })
}

/// The inputs read again without their texts, and how to read texts back.
struct Table {
    corpus: Corpus,
    /// Each document's text bytes.
    sizes: Vec<usize>,
    ingest: IngestOptions,
    /// Text bytes a batch of texts read back may hold.
    batch: usize,
}

/// Texts read back: documents `docs` (sorted) and their `texts`.
struct Held<'a> {
    docs: &'a [u32],
    texts: Vec<String>,
}

impl Held<'_> {
    /// Document `d`'s text; `None` when the batch does not hold it.
    fn text(&self, d: usize) -> Option<&str> {
        let i = self.docs.binary_search(&(d as u32)).ok()?;
        Some(&self.texts[i])
    }
}

impl Table {
    fn read(m: &Manifest, memory: u64) -> Result<Table> {
        let ingest = m.options.ingest();
        let (corpus, sizes) =
            corpus::read_corpus_in(&inputs_of(m), &ingest, TextKept::No, None, |d| d.text.len())?;
        Ok(Table {
            corpus,
            sizes,
            ingest,
            batch: usize::try_from(memory / 2).unwrap_or(usize::MAX).max(1),
        })
    }

    /// The text of document `d`, read back alone.
    fn text(&self, d: usize) -> Result<String> {
        let mut t = corpus::reload_texts(&self.corpus, &[d as u32], &self.ingest)?;
        Ok(t.pop().unwrap_or_default())
    }

    /// Calls `f` on consecutive batches of `items` with the texts of the
    /// documents they name (`docs_of` pushes them), a batch ending before
    /// its texts would pass the budget (an item alone may pass it).
    fn each_batch<T, D, F>(&self, items: &[T], docs_of: D, mut f: F) -> Result<()>
    where
        D: Fn(&T, &mut Vec<u32>),
        F: FnMut(&Held, &[T]) -> Result<()>,
    {
        crate::util::batches_by_cost(
            items,
            self.batch,
            docs_of,
            |d| self.sizes[d as usize],
            |batch, docs| {
                let texts = corpus::reload_texts(&self.corpus, docs, &self.ingest)?;
                f(&Held { docs, texts }, batch)
            },
        )
    }
}

/// The manifest, when it is one this version can check against.
fn read_manifest(path: &Path) -> Result<Manifest> {
    let raw = std::fs::read(path).map_err(|e| {
        fail(
            path,
            format!("no manifest, so not the output of a finished clean ({e})"),
        )
    })?;
    let m: Manifest = serde_json::from_slice(&raw)
        .map_err(|e| fail(path, format!("not a neardup manifest: {e}")))?;
    if m.schema != SCHEMA {
        return Err(fail(
            path,
            format!("schema {:?}, expected {SCHEMA:?}", m.schema),
        ));
    }
    if m.inputs.is_empty() {
        return Err(fail(path, "lists no inputs to check against"));
    }
    if m.inputs
        .iter()
        .chain(&m.options.reference)
        .any(|p| p.0 == Path::new("-"))
    {
        return Err(fail(
            path,
            "an input was standard input, which cannot be read again",
        ));
    }
    Ok(m)
}

fn inputs_of(m: &Manifest) -> Vec<PathBuf> {
    m.inputs.iter().map(|p| p.0.clone()).collect()
}

/// Step 1: no input changed size since clean.
fn check_sizes(m: &Manifest) -> Result<()> {
    for f in &m.files {
        let meta = std::fs::metadata(&f.input.0)
            .map_err(|e| fail(&f.input.0, format!("input is gone since clean: {e}")))?;
        if let Some(size) = f.size.filter(|&s| s != meta.len()) {
            return Err(fail(
                &f.input.0,
                format!(
                    "input changed since clean: {} bytes, was {size}",
                    meta.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Step 2: the inputs read again hold the same files, in the same order, with
/// as many documents each.
fn check_same_inputs(m: &Manifest, corpus: &Corpus, docs_of: &[Vec<usize>]) -> Result<()> {
    let then: BTreeSet<&Path> = m.files.iter().map(|f| f.input.0.as_path()).collect();
    let now: Vec<PathBuf> = corpus
        .inputs
        .iter()
        .map(|f| absolute_path(&f.path))
        .collect();
    let now_set: BTreeSet<&Path> = now.iter().map(PathBuf::as_path).collect();
    if let Some(new) = now.iter().find(|p| !then.contains(p.as_path())) {
        return Err(fail(
            new,
            "input changed since clean: this file was not read then",
        ));
    }
    if let Some(gone) = then.iter().find(|p| !now_set.contains(*p)) {
        return Err(fail(
            gone,
            "input changed since clean: this file holds no document now",
        ));
    }
    for ((f, path), docs) in m.files.iter().zip(&now).zip(docs_of) {
        if &f.input.0 != path {
            return Err(fail(
                path,
                "input changed since clean: read in another order",
            ));
        }
        if docs.len() != f.documents {
            return Err(fail(
                path,
                format!(
                    "input changed since clean: {} documents, were {}",
                    docs.len(),
                    f.documents
                ),
            ));
        }
    }
    Ok(())
}

/// What the log removes from each document.
struct Tally {
    /// Removed whole.
    dropped: Vec<bool>,
    /// Bytes cut out.
    cut: Vec<u64>,
    /// The ranges cut out, in the document's text, of the documents cut.
    cuts: HashMap<usize, Vec<Range<usize>>>,
}

impl Tally {
    /// Step 3: adds up the log's lines per document: a document is removed at
    /// most once, and never both removed and cut; each line's
    /// `bytes_removed` is what it removes.
    fn of(entries: &[Entry], t: &Table, log_path: &Path) -> Result<Tally> {
        let n = t.corpus.docs.len();
        let mut tally = Tally {
            dropped: vec![false; n],
            cut: vec![0; n],
            cuts: HashMap::new(),
        };
        for e in entries {
            let text_len = t.sizes[e.removed] as u64;
            let at = || format!("line {}: {}", e.line, e.removal.removed.path);
            if t.corpus.is_reference(e.removed) {
                return Err(fail(
                    log_path,
                    format!("{}: removes text from a reference input", at()),
                ));
            }
            if e.removal.reference != t.corpus.is_reference(e.kept) {
                return Err(fail(
                    log_path,
                    format!(
                        "{}: \"reference\": {} is wrong for its kept copy",
                        at(),
                        e.removal.reference
                    ),
                ));
            }
            match e.removal.reason {
                Reason::Document => {
                    if e.removal.bytes_removed != text_len {
                        return Err(fail(
                            log_path,
                            format!(
                                "{}: removes {} bytes of a {text_len}-byte document",
                                at(),
                                e.removal.bytes_removed
                            ),
                        ));
                    }
                    if std::mem::replace(&mut tally.dropped[e.removed], true) {
                        return Err(fail(log_path, format!("{}: removed twice", at())));
                    }
                }
                Reason::Block | Reason::Boilerplate => {
                    let held: usize = e.ranges.iter().map(|r| r.len()).sum();
                    if held as u64 != e.removal.bytes_removed {
                        return Err(fail(
                            log_path,
                            format!(
                                "{}: bytes_removed is {}, its spans hold {held}",
                                at(),
                                e.removal.bytes_removed
                            ),
                        ));
                    }
                    tally.cut[e.removed] += e.removal.bytes_removed;
                    tally
                        .cuts
                        .entry(e.removed)
                        .or_default()
                        .extend(e.ranges.iter().cloned());
                }
            }
        }
        if let Some(e) = entries
            .iter()
            .find(|e| tally.dropped[e.removed] && tally.cut[e.removed] > 0)
        {
            return Err(fail(
                log_path,
                format!(
                    "line {}: {} is both removed whole and cut",
                    e.line, e.removal.removed.path
                ),
            ));
        }
        Ok(tally)
    }

    /// Document `d`'s text as `kept` in an output (shown as `shown`) is its
    /// input `text` less exactly what the log cuts from it.
    fn check_document(
        &self,
        t: &Table,
        d: usize,
        text: &str,
        kept: &str,
        shown: &str,
    ) -> Result<()> {
        let doc = &t.corpus.docs[d];
        let read = t.sizes[d] as u64;
        let wrong = |reason: String| Error::Verify {
            path: shown.to_string(),
            reason,
        };
        if kept.len() as u64 + self.cut[d] != read {
            return Err(wrong(format!(
                "{} bytes kept + {} removed per the log != {read} bytes in {}",
                kept.len(),
                self.cut[d],
                doc.id
            )));
        }
        let mut ranges = self.cuts.get(&d).cloned().unwrap_or_default();
        ranges.sort_by_key(|r| (r.start, r.end));
        if ranges.windows(2).any(|w| w[0].end > w[1].start) {
            return Err(wrong(format!(
                "the log removes some bytes of {} twice",
                doc.id
            )));
        }
        if text.len() as u64 != read || ranges.iter().any(|r| text.get(r.clone()).is_none()) {
            return Err(changed(t, d));
        }
        let expected = apply_cuts(text, &ranges);
        if let Some(at) = first_difference(kept, &expected) {
            return Err(wrong(format!(
                "differs at byte {at} from {} less what the log removes",
                doc.id
            )));
        }
        Ok(())
    }
}

/// Document `d`'s text read back is not the one read first.
fn changed(t: &Table, d: usize) -> Error {
    let doc = &t.corpus.docs[d];
    fail(
        &t.corpus.input_of(doc).path,
        format!("input changed since it was read: {}", doc.id),
    )
}

/// Step 4: every input's output adds up; gives the outputs' paths below `out`.
fn check_outputs(
    out: &Path,
    m: &Manifest,
    t: &Table,
    docs_of: &[Vec<usize>],
    tally: &Tally,
) -> Result<BTreeSet<PathBuf>> {
    let mut expected: BTreeSet<PathBuf> = BTreeSet::new();
    for (i, f) in m.files.iter().enumerate() {
        let input = &t.corpus.inputs[i];
        let docs = &docs_of[i];
        if input.reference {
            if let Some(rel) = &f.output {
                return Err(fail(
                    &out.join(&rel.0),
                    "written, but its input is a reference, never cleaned",
                ));
            }
            continue;
        }
        let Some(rel) = &f.output else {
            let all_dropped = docs.iter().all(|&d| tally.dropped[d]);
            if input.format == Format::Text && !all_dropped {
                return Err(fail(
                    &f.input.0,
                    "has no output, but the log does not remove it",
                ));
            }
            continue;
        };
        let out_path = out.join(&rel.0);
        expected.insert(rel.0.clone());
        let file = OneFile {
            t,
            m,
            tally,
            idx: i,
            docs,
            out_path: &out_path,
        };
        match input.format {
            Format::Parquet => file.check_parquet()?,
            Format::Jsonl => file.check_jsonl()?,
            Format::Text => {
                let out_text = read_text(&out_path, input)?;
                let Some(&d) = docs.first() else { continue };
                if tally.dropped[d] {
                    return Err(fail(&out_path, "written, but the log removes it whole"));
                }
                let text = t.text(d)?;
                let shown = out_path.display().to_string();
                tally.check_document(t, d, &text, &out_text, &shown)?;
            }
        }
    }
    Ok(expected)
}

/// Step 5: the folder holds nothing but the `outputs`, the manifest and the log
/// (and a staging folder left by an interrupted later run).
fn check_nothing_else(out: &Path, log_path: &Path, outputs: &BTreeSet<PathBuf>) -> Result<()> {
    let log_abs = absolute_path(log_path);
    let walker = walkdir::WalkDir::new(out)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() != 1 || e.file_name() != STAGING);
    for entry in walker {
        let entry = entry.map_err(|e| {
            let p = e.path().unwrap_or(out).to_path_buf();
            fail(&p, format!("cannot list the output folder: {e}"))
        })?;
        if entry.file_type().is_dir() {
            continue;
        }
        let rel = entry.path().strip_prefix(out).unwrap_or(entry.path());
        if rel == Path::new(MANIFEST) || absolute_path(entry.path()) == log_abs {
            continue;
        }
        if !outputs.contains(rel) {
            return Err(fail(entry.path(), "not the output of any input"));
        }
    }
    Ok(())
}

/// Step 6: every removal is in its kept copy. The log's lines are taken in
/// the order of the documents they remove, their texts read back a batch
/// at a time, each batch checked in parallel (each aligns texts); the
/// error of the first line wins, as if they had been checked in order.
fn check_removals(
    t: &Table,
    entries: &[Entry],
    dropped: &[bool],
    m: &Manifest,
    log_path: &Path,
) -> Result<()> {
    let norm = NormalizeOptions {
        mask_fold: m.options.mask_fold,
    };
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&k| entries[k].removed);
    let mut first = FirstError::default();
    t.each_batch(
        &order,
        |&k, docs| docs.extend([entries[k].removed as u32, entries[k].kept as u32]),
        |held, batch| {
            first.extend(batch.par_iter().filter_map(|&k| {
                check_removal(t, held, &entries[k], dropped, m, &norm, log_path)
                    .err()
                    .map(|e| (k, e))
            }));
            Ok(())
        },
    )?;
    first.into_result()
}

/// The error of the first log line among those found out of order.
#[derive(Default)]
struct FirstError(Option<(usize, Error)>);

impl FirstError {
    fn extend<I: ParallelIterator<Item = (usize, Error)>>(&mut self, errors: I) {
        let found: Vec<(usize, Error)> = errors.collect();
        for (k, e) in found {
            if self.0.as_ref().is_none_or(|(first, _)| k < *first) {
                self.0 = Some((k, e));
            }
        }
    }

    fn into_result(self) -> Result<()> {
        self.0.map_or(Ok(()), |(_, e)| Err(e))
    }
}

/// Step 3: the log's lines, each with the documents it names and the
/// ranges of text it removes; the first line that is not one. The log is
/// read a line at a time; the removed documents' texts, where a span may
/// not fall on characters, come back in batches.
fn read_log(path: &Path, t: &Table, docs_of: &[Vec<usize>], m: &Manifest) -> Result<Vec<Entry>> {
    let unreadable = |e: std::io::Error| fail(path, format!("cannot read the removal log: {e}"));
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut reader = std::io::BufReader::with_capacity(1 << 20, file);
    let docs = DocsByPlace::new(t, docs_of, m);
    let mut out = Vec::new();
    // A line that does not parse: lines after it are only checked to be
    // text, as reading the log whole would.
    let mut bad_line = None;
    let mut buf = Vec::new();
    let mut i = 0;
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf).map_err(unreadable)? == 0 {
            break;
        }
        i += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            return Err(unreadable(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "stream did not contain valid UTF-8",
            )));
        };
        if bad_line.is_some() || line.trim().is_empty() {
            continue;
        }
        match parse_entry(path, i, line, &docs) {
            Ok(e) => out.push(e),
            Err(e) => bad_line = Some(e),
        }
    }
    resolve_ranges(path, t, &mut out)?;
    bad_line.map_or(Ok(out), Err)
}

/// Log line `i` (`line`) with its documents; its ranges come later.
fn parse_entry(path: &Path, i: usize, line: &str, docs: &DocsByPlace) -> Result<Entry> {
    let at = |reason: String| fail(path, format!("line {i}: {reason}"));
    let removal: Removal =
        serde_json::from_str(line).map_err(|e| at(format!("not a removal: {e}")))?;
    let removed = docs.find(&removal.removed).map_err(&at)?;
    let kept = docs.find(&removal.kept).map_err(&at)?;
    Ok(Entry {
        line: i,
        removal,
        removed,
        ranges: Vec::new(),
        kept,
    })
}

/// Fills in each entry's ranges; the error of the first line whose spans
/// are not spans of its document. Spans of records are checked on the
/// text's length where they start and end at its ends; other spans, and
/// every span of a text file (file offsets), read the text back.
fn resolve_ranges(path: &Path, t: &Table, entries: &mut [Entry]) -> Result<()> {
    let ranges_of = |e: &Entry, text: Option<&str>| -> Option<Result<Vec<Range<usize>>>> {
        let mut out = Vec::new();
        for sp in e.removal.removed_spans() {
            match span_of(t, e.removed, sp, text) {
                Span::At(r) => out.push(r),
                Span::NeedsText => return None,
                Span::Bad => {
                    return Some(Err(fail(
                        path,
                        format!(
                            "line {}: bytes {}-{} are not a span of {}",
                            e.line, sp[0], sp[1], e.removal.removed.path
                        ),
                    )))
                }
            }
        }
        Some(Ok(out))
    };
    let mut first = FirstError::default();
    let mut later: Vec<usize> = Vec::new();
    for (k, e) in entries.iter_mut().enumerate() {
        match ranges_of(e, None) {
            Some(Ok(r)) => e.ranges = r,
            Some(Err(err)) => first.extend(rayon::iter::once((k, err))),
            None => later.push(k),
        }
    }
    later.sort_by_key(|&k| entries[k].removed);
    let mut found: Vec<(usize, Vec<Range<usize>>)> = Vec::new();
    let view: &[Entry] = entries;
    t.each_batch(
        &later,
        |&k, docs| docs.push(view[k].removed as u32),
        |held, batch| {
            let res: Vec<(usize, Result<Vec<Range<usize>>>)> = batch
                .par_iter()
                .map(|&k| {
                    let e = &view[k];
                    let r = held
                        .text(e.removed)
                        .and_then(|text| ranges_of(e, Some(text)))
                        .unwrap_or_else(|| Err(changed(t, e.removed)));
                    (k, r)
                })
                .collect();
            let (ok, bad): (Vec<_>, Vec<_>) = res.into_iter().partition(|(_, r)| r.is_ok());
            found.extend(ok.into_iter().map(|(k, r)| (k, r.unwrap_or_default())));
            first.extend(
                bad.into_par_iter()
                    .filter_map(|(k, r)| r.err().map(|e| (k, e))),
            );
            Ok(())
        },
    )?;
    for (k, r) in found {
        entries[k].ranges = r;
    }
    first.into_result()
}

/// The documents read, by the place a log line gives them: the inputs by
/// file name as logged (two when two inputs print the same name, as file
/// names that are not UTF-8 can), then the document by JSONL line.
struct DocsByPlace<'a> {
    inputs: HashMap<&'a str, Vec<usize>>,
    docs_of: &'a [Vec<usize>],
    corpus: &'a Corpus,
}

impl<'a> DocsByPlace<'a> {
    fn new(t: &'a Table, docs_of: &'a [Vec<usize>], m: &'a Manifest) -> DocsByPlace<'a> {
        let mut inputs: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, f) in m.files.iter().enumerate().take(docs_of.len()) {
            inputs.entry(f.name.as_str()).or_default().push(i);
        }
        DocsByPlace {
            inputs,
            docs_of,
            corpus: &t.corpus,
        }
    }

    /// The document at `p`, or why there is none.
    fn find(&self, p: &Place) -> std::result::Result<usize, String> {
        let shown = match p.record {
            Some(r) => format!("{}:{r}", p.path),
            None => p.path.clone(),
        };
        let mut found = self
            .inputs
            .get(p.path.as_str())
            .into_iter()
            .flatten()
            .filter_map(|&i| {
                // an input's documents are in record order
                let docs = &self.docs_of[i];
                docs.binary_search_by_key(&p.record, |&d| self.corpus.docs[d].record)
                    .ok()
                    .map(|at| docs[at])
            });
        match (found.next(), found.next()) {
            (Some(d), None) => Ok(d),
            (Some(_), Some(_)) => Err(format!("{shown} names two inputs")),
            (None, _) => Err(format!("{shown} is not a document that was read")),
        }
    }
}

/// An output file's text, decoded as its input was.
fn read_text(path: &Path, input: &InputFile) -> Result<String> {
    let raw = std::fs::read(path).map_err(|e| cannot_read(path, e))?;
    let (_, bytes) = corpus::decompress_bytes(path, raw)?;
    corpus::decode_as(path, &bytes, input.encoding)
}

fn cannot_read(path: &Path, e: std::io::Error) -> Error {
    fail(path, format!("cannot read the output: {e}"))
}

/// Byte offset of the first difference between `a` and `b`.
fn first_difference(a: &str, b: &str) -> Option<usize> {
    let same = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (a.len() != b.len() || same < a.len()).then_some(same)
}

/// One input file and its output, checked in step 4.
struct OneFile<'a> {
    t: &'a Table,
    m: &'a Manifest,
    tally: &'a Tally,
    idx: usize,
    /// Its documents.
    docs: &'a [usize],
    out_path: &'a Path,
}

impl OneFile<'_> {
    /// The JSONL output is its input line for line, less removed records,
    /// with cut records holding exactly their cut text. A UTF-8 input and
    /// its output are read a line at a time, the errors of reading either
    /// whole (output first) before any difference.
    fn check_jsonl(&self) -> Result<()> {
        let input = &self.t.corpus.inputs[self.idx];
        if input.encoding == TextEncoding::UTF8 {
            if let Some(mut out) =
                Relines::open(self.out_path).map_err(|e| cannot_read(self.out_path, e))?
            {
                match Relines::open(&input.path) {
                    Ok(Some(mut inp)) => {
                        let found = self.compare_jsonl(
                            std::iter::from_fn(|| inp.next_line()),
                            std::iter::from_fn(|| out.next_line()),
                        );
                        out.finish()?;
                        inp.finish()?;
                        return found;
                    }
                    Ok(None) => {}
                    Err(e) => {
                        out.finish()?;
                        return Err(cannot_read(&input.path, e));
                    }
                }
            }
        }
        let out_text = read_text(self.out_path, input)?;
        let in_text = read_text(&input.path, input)?;
        self.compare_jsonl(
            in_text.split_inclusive('\n'),
            out_text.split_inclusive('\n'),
        )
    }

    fn compare_jsonl<I, O>(&self, in_lines: I, out_lines: O) -> Result<()>
    where
        I: Iterator,
        I::Item: AsRef<str>,
        O: Iterator,
        O::Item: AsRef<str>,
    {
        let (t, tally, out_path) = (self.t, self.tally, self.out_path);
        let input = &t.corpus.inputs[self.idx];
        let name = &self.m.files[self.idx].name;
        let field = &self.m.options.text_field;
        let at = |j: usize| format!("{}:{}", out_path.display(), j + 1);
        let mut docs = self.docs.iter().copied().peekable();
        let mut out_lines = out_lines.enumerate();
        for (i, line) in in_lines.enumerate() {
            let line = line.as_ref();
            let lineno = i as u64 + 1;
            while docs
                .next_if(|&d| t.corpus.docs[d].record < Some(lineno))
                .is_some()
            {}
            let doc = docs.next_if(|&d| t.corpus.docs[d].record == Some(lineno));
            if doc.is_some_and(|d| tally.dropped[d]) {
                continue;
            }
            let Some((j, out_line)) = out_lines.next() else {
                return Err(fail(
                    out_path,
                    format!("ends before the record of {name}:{lineno}"),
                ));
            };
            let out_line = out_line.as_ref();
            match doc {
                Some(d) if tally.cut[d] > 0 => {
                    let body = out_line.trim_end_matches(['\n', '\r']);
                    let value: serde_json::Value =
                        serde_json::from_str(body).map_err(|e| Error::Verify {
                            path: at(j),
                            reason: format!("not a JSON record: {e}"),
                        })?;
                    let Some(kept) = corpus::field(&value, field).and_then(|v| v.as_str()) else {
                        return Err(Error::Verify {
                            path: at(j),
                            reason: format!("record has no string field `{field}`"),
                        });
                    };
                    let record = line.trim_end_matches(['\n', '\r']);
                    let text = corpus::record_text(&input.path, lineno, record, &t.ingest)
                        .map_err(|_| changed(t, d))?;
                    tally.check_document(t, d, &text, kept, &at(j))?;
                }
                _ if out_line != line => {
                    return Err(Error::Verify {
                        path: at(j),
                        reason: format!("differs from {name}:{lineno}, which the log does not cut"),
                    })
                }
                _ => {}
            }
        }
        if let Some((j, _)) = out_lines.next() {
            return Err(Error::Verify {
                path: at(j),
                reason: format!("a line that is not in {name}"),
            });
        }
        Ok(())
    }

    /// The Parquet output is its input row for row, less removed rows,
    /// with cut rows holding exactly their cut text and every other value
    /// as it was. Both are read whole.
    fn check_parquet(&self) -> Result<()> {
        let (t, tally, out_path) = (self.t, self.tally, self.out_path);
        let input = &t.corpus.inputs[self.idx];
        #[cfg(feature = "parquet")]
        {
            use crate::corpus::parquet::Table;
            let name = &self.m.files[self.idx].name;
            let field = &self.m.options.text_field;
            let before = Table::read(&input.path, field)?;
            let after = Table::read(out_path, field)
                .map_err(|e| fail(out_path, format!("cannot read the output: {e}")))?;
            if !before.same_columns(&after) {
                return Err(fail(
                    out_path,
                    format!("its columns are not those of {name}"),
                ));
            }
            let cut: Vec<u32> = self
                .docs
                .iter()
                .filter(|&&d| tally.cut[d] > 0)
                .map(|&d| d as u32)
                .collect();
            let held = Held {
                texts: corpus::reload_texts(&t.corpus, &cut, &t.ingest)?,
                docs: &cut,
            };
            let records = super::output::Records::of(&t.corpus, self.docs);
            let at = |j: usize| format!("{}:{}", out_path.display(), j + 1);
            let mut j = 0;
            for r in 0..before.rows() {
                let row = r as u64 + 1;
                let doc = records.get(row);
                if doc.is_some_and(|d| tally.dropped[d]) {
                    continue;
                }
                if j >= after.rows() {
                    return Err(fail(
                        out_path,
                        format!("ends before the row of {name}:{row}"),
                    ));
                }
                let cut = doc.filter(|&d| tally.cut[d] > 0);
                if !before.same_row(r, &after, j, cut.is_none()) {
                    let which = if cut.is_some() {
                        "outside its text"
                    } else {
                        "and the log does not cut it"
                    };
                    return Err(Error::Verify {
                        path: at(j),
                        reason: format!("differs from {name}:{row} {which}"),
                    });
                }
                if let Some(d) = cut {
                    let kept = after.text(j).ok_or_else(|| Error::Verify {
                        path: at(j),
                        reason: format!("row has no string in column `{field}`"),
                    })?;
                    let text = held.text(d).ok_or_else(|| changed(t, d))?;
                    tally.check_document(t, d, text, kept, &at(j))?;
                }
                j += 1;
            }
            if j < after.rows() {
                return Err(Error::Verify {
                    path: at(j),
                    reason: format!("a row that is not in {name}"),
                });
            }
            Ok(())
        }
        #[cfg(not(feature = "parquet"))]
        {
            let _ = (tally, out_path);
            Err(corpus::no_parquet(&input.path))
        }
    }
}

/// Where logged bytes fall in a document's text.
enum Span {
    /// This range of the decoded text.
    At(Range<usize>),
    /// Not a span of it.
    Bad,
    /// Only the text can tell.
    NeedsText,
}

/// The range of document `d`'s decoded text (`text`, when read back) that
/// logged bytes cover.
fn span_of(t: &Table, d: usize, bytes: [u64; 2], text: Option<&str>) -> Span {
    let doc = &t.corpus.docs[d];
    let input = t.corpus.input_of(doc);
    let size = t.sizes[d];
    let range = match (input.format, text) {
        (Format::Text, None) => return Span::NeedsText,
        (Format::Text, Some(text)) => text_offset(input, text, bytes[0])
            .zip(text_offset(input, text, bytes[1]))
            .map(|(s, e)| s..e),
        (Format::Jsonl | Format::Parquet, _) => usize::try_from(bytes[0])
            .ok()
            .zip(usize::try_from(bytes[1]).ok())
            .map(|(s, e)| s..e),
    };
    let Some(range) = range.filter(|r| r.start <= r.end && r.end <= size) else {
        return Span::Bad;
    };
    match text {
        Some(text) if text.get(range.clone()).is_some() => Span::At(range),
        Some(_) => Span::Bad,
        // the text's ends are on characters
        None if [range.start, range.end]
            .iter()
            .all(|&o| o == 0 || o == size) =>
        {
            Span::At(range)
        }
        None => Span::NeedsText,
    }
}

/// The offset in `text` that [`InputFile::file_offset`] maps to `file_off`.
fn text_offset(input: &InputFile, text: &str, file_off: u64) -> Option<usize> {
    let (mut lo, mut hi) = (0usize, text.len());
    // file_offset is non-decreasing in its argument.
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if input.file_offset(text, mid) < file_off {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    (text.is_char_boundary(lo) && input.file_offset(text, lo) == file_off).then_some(lo)
}

fn check_removal(
    t: &Table,
    held: &Held,
    e: &Entry,
    dropped: &[bool],
    m: &Manifest,
    norm: &NormalizeOptions,
    log_path: &Path,
) -> Result<()> {
    let r = &e.removal;
    let place = |p: &Place| match p.record {
        Some(rec) => format!("{}:{rec}", p.path),
        None => format!("{}:{}-{}", p.path, p.lines[0], p.lines[1]),
    };
    if dropped[e.kept] {
        return Err(fail(
            log_path,
            format!(
                "line {}: the kept copy {} of {} was removed as well",
                e.line,
                place(&r.kept),
                place(&r.removed)
            ),
        ));
    }
    let bad_range = |p: &Place| {
        fail(
            log_path,
            format!(
                "line {}: bytes {}-{} are not a span of {}",
                e.line,
                p.bytes[0],
                p.bytes[1],
                place(p)
            ),
        )
    };
    let text = held.text(e.removed).ok_or_else(|| changed(t, e.removed))?;
    let removed: String = e
        .ranges
        .iter()
        .map(|r| text.get(r.clone()).ok_or_else(|| changed(t, e.removed)))
        .collect::<Result<_>>()?;
    let kept_text = held.text(e.kept).ok_or_else(|| changed(t, e.kept))?;
    let kept = match span_of(t, e.kept, r.kept.bytes, Some(kept_text)) {
        Span::At(k) => &kept_text[k],
        _ => return Err(bad_range(&r.kept)),
    };
    let limit = if r.reason == Reason::Document {
        m.options.threshold
    } else {
        m.options.block_threshold
    };
    let (mut removed, mut kept) = (normalize(&removed, norm).chars, normalize(kept, norm).chars);
    if r.numbers_as_fields {
        (removed, kept) = (align::fold_digits(&removed), align::fold_digits(&kept));
    }
    let c = align::containment(&removed, &kept);
    if c + 1e-9 < limit {
        return Err(fail(
            log_path,
            format!(
                "line {}: {} is only {c:.3} contained in its kept copy {} (threshold {limit})",
                e.line,
                place(&r.removed),
                place(&r.kept)
            ),
        ));
    }
    Ok(())
}
