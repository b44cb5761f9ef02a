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

use std::collections::{BTreeSet, HashMap};
use std::ops::Range;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use super::manifest::{Manifest, MANIFEST, SCHEMA};
use super::{apply_cuts, docs_by_input, Place, Reason, Removal, STAGING};
use crate::align;
use crate::corpus::{self, Corpus, Format, InputFile};
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

/// Checks a finished `clean` output folder against its inputs and log.
///
/// # Errors
///
/// [`Error::Verify`] naming the first file (or log line) that does not add
/// up; the input errors of [`corpus::read_corpus`] when an input can no
/// longer be read.
pub fn verify(out: &Path) -> Result<VerifySummary> {
    let m = read_manifest(&out.join(MANIFEST))?;
    check_sizes(&m)?; // 1.
    let corpus = corpus::read_corpus(&inputs_of(&m), &m.options.ingest())?;
    let docs_of = docs_by_input(&corpus);
    check_same_inputs(&m, &corpus, &docs_of)?; // 2.
    let log_path = if m.log.0.is_absolute() {
        m.log.0.clone()
    } else {
        out.join(&m.log.0)
    };
    let entries = read_log(&log_path, &corpus, &m)?; // 3.
    let tally = Tally::of(&entries, &corpus, &log_path)?;
    let outputs = check_outputs(out, &m, &corpus, &docs_of, &tally)?; // 4.
    check_nothing_else(out, &log_path, &outputs)?; // 5.
    check_removals(&corpus, &entries, &tally.dropped, &m, &log_path)?; // 6.
    Ok(VerifySummary {
        files: corpus.inputs.len(),
        documents: corpus.docs.len(),
        outputs: outputs.len(),
        removals: entries.len(),
        bytes_removed: entries.iter().map(|e| e.removal.bytes_removed).sum(),
    })
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
    /// The ranges cut out, in the document's text.
    cuts: Vec<Vec<Range<usize>>>,
}

impl Tally {
    /// Step 3: adds up the log's lines per document: a document is removed at
    /// most once, and never both removed and cut; each line's
    /// `bytes_removed` is what it removes.
    fn of(entries: &[Entry], corpus: &Corpus, log_path: &Path) -> Result<Tally> {
        let n = corpus.docs.len();
        let mut t = Tally {
            dropped: vec![false; n],
            cut: vec![0; n],
            cuts: vec![Vec::new(); n],
        };
        for e in entries {
            let text_len = corpus.docs[e.removed].text.len() as u64;
            let at = || format!("line {}: {}", e.line, e.removal.removed.path);
            if corpus.is_reference(e.removed) {
                return Err(fail(
                    log_path,
                    format!("{}: removes text from a reference input", at()),
                ));
            }
            if e.removal.reference != corpus.is_reference(e.kept) {
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
                    if std::mem::replace(&mut t.dropped[e.removed], true) {
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
                    t.cut[e.removed] += e.removal.bytes_removed;
                    t.cuts[e.removed].extend(e.ranges.iter().cloned());
                }
            }
        }
        if let Some(e) = entries
            .iter()
            .find(|e| t.dropped[e.removed] && t.cut[e.removed] > 0)
        {
            return Err(fail(
                log_path,
                format!(
                    "line {}: {} is both removed whole and cut",
                    e.line, e.removal.removed.path
                ),
            ));
        }
        Ok(t)
    }

    /// Document `d`'s text as `kept` in an output (shown as `shown`) is its
    /// input text less exactly what the log cuts from it.
    fn check_document(&self, corpus: &Corpus, d: usize, kept: &str, shown: &str) -> Result<()> {
        let doc = &corpus.docs[d];
        let read = doc.text.len() as u64;
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
        let mut ranges = self.cuts[d].clone();
        ranges.sort_by_key(|r| (r.start, r.end));
        if ranges.windows(2).any(|w| w[0].end > w[1].start) {
            return Err(wrong(format!(
                "the log removes some bytes of {} twice",
                doc.id
            )));
        }
        let expected = apply_cuts(&doc.text, &ranges);
        if let Some(at) = first_difference(kept, &expected) {
            return Err(wrong(format!(
                "differs at byte {at} from {} less what the log removes",
                doc.id
            )));
        }
        Ok(())
    }
}

/// Step 4: every input's output adds up; gives the outputs' paths below `out`.
fn check_outputs(
    out: &Path,
    m: &Manifest,
    corpus: &Corpus,
    docs_of: &[Vec<usize>],
    tally: &Tally,
) -> Result<BTreeSet<PathBuf>> {
    let mut expected: BTreeSet<PathBuf> = BTreeSet::new();
    for (i, f) in m.files.iter().enumerate() {
        let input = &corpus.inputs[i];
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
        if input.format == Format::Parquet {
            check_parquet(corpus, m, tally, i, docs, &out_path)?;
            continue;
        }
        let out_text = read_text(&out_path, input)?;
        match input.format {
            Format::Text => {
                let Some(&d) = docs.first() else { continue };
                if tally.dropped[d] {
                    return Err(fail(&out_path, "written, but the log removes it whole"));
                }
                tally.check_document(corpus, d, &out_text, &out_path.display().to_string())?;
            }
            Format::Jsonl => {
                check_jsonl(corpus, m, tally, i, docs, &out_text, &out_path)?;
            }
            Format::Parquet => {}
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

/// Step 6: every removal is in its kept copy (in parallel: each aligns texts).
fn check_removals(
    corpus: &Corpus,
    entries: &[Entry],
    dropped: &[bool],
    m: &Manifest,
    log_path: &Path,
) -> Result<()> {
    let norm = NormalizeOptions {
        mask_fold: m.options.mask_fold,
    };
    let checks: Vec<Result<()>> = entries
        .par_iter()
        .map(|e| check_removal(corpus, e, dropped, m, &norm, log_path))
        .collect();
    checks.into_iter().collect()
}

/// The log's lines, each with the documents it names and the ranges of
/// text it removes.
fn read_log(path: &Path, corpus: &Corpus, m: &Manifest) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(path, format!("cannot read the removal log: {e}")))?;
    let docs = DocsByPlace::new(corpus, m);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let at = |reason: String| fail(path, format!("line {}: {reason}", i + 1));
        let removal: Removal =
            serde_json::from_str(line).map_err(|e| at(format!("not a removal: {e}")))?;
        let removed = docs.find(&removal.removed).map_err(&at)?;
        let kept = docs.find(&removal.kept).map_err(&at)?;
        let ranges = removal
            .removed_spans()
            .into_iter()
            .map(|sp| {
                text_range(corpus, removed, sp).ok_or_else(|| {
                    at(format!(
                        "bytes {}-{} are not a span of {}",
                        sp[0], sp[1], removal.removed.path
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(Entry {
            line: i + 1,
            removal,
            removed,
            ranges,
            kept,
        });
    }
    Ok(out)
}

/// The documents read, by the place a log line gives them: (file name as
/// logged, JSONL line); `None` when two inputs print the same name (file
/// names that are not UTF-8 can).
struct DocsByPlace<'a>(HashMap<(&'a str, Option<u64>), Option<usize>>);

impl<'a> DocsByPlace<'a> {
    fn new(corpus: &Corpus, m: &'a Manifest) -> DocsByPlace<'a> {
        let mut by_place = HashMap::new();
        for (d, doc) in corpus.docs.iter().enumerate() {
            let key = (m.files[doc.input].name.as_str(), doc.record);
            by_place
                .entry(key)
                .and_modify(|v| *v = None)
                .or_insert(Some(d));
        }
        DocsByPlace(by_place)
    }

    /// The document at `p`, or why there is none.
    fn find(&self, p: &Place) -> std::result::Result<usize, String> {
        let shown = match p.record {
            Some(r) => format!("{}:{r}", p.path),
            None => p.path.clone(),
        };
        match self.0.get(&(p.path.as_str(), p.record)) {
            Some(Some(d)) => Ok(*d),
            Some(None) => Err(format!("{shown} names two inputs")),
            None => Err(format!("{shown} is not a document that was read")),
        }
    }
}

/// An output file's text, decoded as its input was.
fn read_text(path: &Path, input: &InputFile) -> Result<String> {
    let raw =
        std::fs::read(path).map_err(|e| fail(path, format!("cannot read the output: {e}")))?;
    let (_, bytes) = corpus::decompress_bytes(path, raw)?;
    corpus::decode_as(path, &bytes, input.encoding)
}

/// Byte offset of the first difference between `a` and `b`.
fn first_difference(a: &str, b: &str) -> Option<usize> {
    let same = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (a.len() != b.len() || same < a.len()).then_some(same)
}

/// The JSONL output `out_text` of input `idx` (documents `docs`) is its
/// input line for line, less removed records, with cut records holding
/// exactly their cut text.
fn check_jsonl(
    corpus: &Corpus,
    m: &Manifest,
    tally: &Tally,
    idx: usize,
    docs: &[usize],
    out_text: &str,
    out_path: &Path,
) -> Result<()> {
    let input = &corpus.inputs[idx];
    let name = &m.files[idx].name;
    let in_text = read_text(&input.path, input)?;
    let by_line: HashMap<u64, usize> = docs
        .iter()
        .map(|&d| (corpus.docs[d].record.unwrap_or(0), d))
        .collect();
    let at = |j: usize| format!("{}:{}", out_path.display(), j + 1);
    let mut out_lines = out_text.split_inclusive('\n').enumerate();
    for (i, line) in in_text.split_inclusive('\n').enumerate() {
        let lineno = i as u64 + 1;
        let doc = by_line.get(&lineno).copied();
        if doc.is_some_and(|d| tally.dropped[d]) {
            continue;
        }
        let Some((j, out_line)) = out_lines.next() else {
            return Err(fail(
                out_path,
                format!("ends before the record of {name}:{lineno}"),
            ));
        };
        match doc {
            Some(d) if tally.cut[d] > 0 => {
                let body = out_line.trim_end_matches(['\n', '\r']);
                let value: serde_json::Value =
                    serde_json::from_str(body).map_err(|e| Error::Verify {
                        path: at(j),
                        reason: format!("not a JSON record: {e}"),
                    })?;
                let Some(kept) =
                    corpus::field(&value, &m.options.text_field).and_then(|v| v.as_str())
                else {
                    return Err(Error::Verify {
                        path: at(j),
                        reason: format!("record has no string field `{}`", m.options.text_field),
                    });
                };
                tally.check_document(corpus, d, kept, &at(j))?;
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

/// The Parquet output at `out_path` of input `idx` (documents `docs`) is
/// its input row for row, less removed rows, with cut rows holding exactly
/// their cut text and every other value as it was.
fn check_parquet(
    corpus: &Corpus,
    m: &Manifest,
    tally: &Tally,
    idx: usize,
    docs: &[usize],
    out_path: &Path,
) -> Result<()> {
    let input = &corpus.inputs[idx];
    #[cfg(feature = "parquet")]
    {
        use crate::corpus::parquet::Table;
        let name = &m.files[idx].name;
        let field = &m.options.text_field;
        let before = Table::read(&input.path, field)?;
        let after = Table::read(out_path, field)
            .map_err(|e| fail(out_path, format!("cannot read the output: {e}")))?;
        if !before.same_columns(&after) {
            return Err(fail(
                out_path,
                format!("its columns are not those of {name}"),
            ));
        }
        let records = super::output::Records::of(corpus, docs);
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
                tally.check_document(corpus, d, kept, &at(j))?;
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
        let _ = (m, tally, docs, out_path);
        Err(corpus::no_parquet(&input.path))
    }
}

/// The range of document `d`'s decoded text that logged bytes cover.
fn text_range(corpus: &Corpus, d: usize, bytes: [u64; 2]) -> Option<Range<usize>> {
    let doc = &corpus.docs[d];
    let input = corpus.input_of(doc);
    let (s, e) = match input.format {
        Format::Jsonl | Format::Parquet => (
            usize::try_from(bytes[0]).ok()?,
            usize::try_from(bytes[1]).ok()?,
        ),
        Format::Text => (
            text_offset(input, &doc.text, bytes[0])?,
            text_offset(input, &doc.text, bytes[1])?,
        ),
    };
    doc.text.get(s..e).map(|_| s..e)
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
    corpus: &Corpus,
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
    let text = &corpus.docs[e.removed].text;
    let removed: String = e.ranges.iter().map(|r| &text[r.clone()]).collect();
    let kept = text_range(corpus, e.kept, r.kept.bytes)
        .map(|k| &corpus.docs[e.kept].text[k])
        .ok_or_else(|| bad_range(&r.kept))?;
    let limit = if r.reason == Reason::Document {
        m.options.threshold
    } else {
        m.options.block_threshold
    };
    let c = align::containment(
        &normalize(&removed, norm).chars,
        &normalize(kept, norm).chars,
    );
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
