//! INGEST: turns the paths a user gives into [`Document`]s.
//!
//! Takes files, folders (walked recursively in sorted order, filtered by
//! include/exclude globs), JSONL files (one document per line, text and id
//! fields chosen by option), gzip/zstd files (detected by magic bytes) and
//! `-` for standard input. Text is decoded from UTF-8 (with or without BOM),
//! UTF-16 with BOM, or a legacy encoding (GB18030/GBK, Big5, Shift-JIS,
//! EUC-KR, cp1252; detected, or forced).
//!
//! Gives a [`Corpus`]: the list of input files, the documents read from them
//! in input order (each with its `--keep-by` value), the inputs that were
//! skipped under [`OnError::Skip`], and the walked files left out as binary
//! or as reached twice. Each document keeps its text as decoded; every later
//! span is reported in this text's byte coordinates and mapped back to the
//! file with [`InputFile::file_offset`].

mod compress;
mod decompress;
mod encoding;
mod jsonl;
pub(crate) use jsonl::{field, field_mut};
#[cfg(feature = "parquet")]
pub mod parquet;
mod reread;
mod stream;
mod walk;

pub use compress::{compress, Compressor, GZIP_LEVEL, ZSTD_LEVEL};
pub use decompress::Compression;
pub use encoding::{Decoded, EncodingChoice, TextEncoding};
pub use jsonl::parse_line;
pub use jsonl::SortKey;
pub use reread::Relines;
pub use walk::{list_inputs, Listed, Listing};

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Location, Result};
use crate::work::WorkDir;

/// How a file holds its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The whole file is one document.
    Text,
    /// One JSON object per line, the document text in one field.
    Jsonl,
    /// A Parquet file, one row per document, the text in one column
    /// (read only in builds with the `parquet` feature).
    Parquet,
}

/// Which format to read inputs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FormatChoice {
    /// By file name (`.jsonl`, `.ndjson`, `.json`, also under `.gz`/`.zst`);
    /// standard input is JSONL when it starts with `{`.
    #[default]
    Auto,
    /// Every input is plain text.
    Text,
    /// Every input is JSONL.
    Jsonl,
}

/// What to do with an input that cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop at the first bad input, before any output is written.
    #[default]
    Stop,
    /// Skip the bad file or record, warn, and count it in the report.
    Skip,
}

/// Options of the ingest stage.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// JSONL field holding the text.
    pub text_field: String,
    /// JSONL field holding the document id (falls back to `path:line`).
    pub id_field: String,
    /// How to decode bytes into text.
    pub encoding: EncodingChoice,
    /// How to split files into documents.
    pub format: FormatChoice,
    /// Globs a walked file must match (any), relative to its folder.
    pub include: Vec<String>,
    /// Globs that exclude a walked file.
    pub exclude: Vec<String>,
    /// Stop or skip on bad input.
    pub on_error: OnError,
    /// Documents larger than this are refused (skipped with `--on-error skip`).
    pub max_doc_bytes: u64,
    /// JSONL field whose value each document keeps as its
    /// [`Document::sort_key`] (`--keep-by`; dotted for nested fields).
    pub keep_by: Option<String>,
    /// Reference inputs (`--reference`): read first, like the inputs and
    /// with the same options, and flagged [`InputFile::reference`], so that
    /// their text is what copies in the inputs are judged against and never
    /// what is removed. A file reached both as a reference and as an input
    /// is a reference.
    pub reference: Vec<PathBuf>,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            text_field: "text".into(),
            id_field: "id".into(),
            encoding: EncodingChoice::Auto,
            format: FormatChoice::Auto,
            include: Vec::new(),
            exclude: Vec::new(),
            on_error: OnError::Stop,
            max_doc_bytes: 256 << 20,
            keep_by: None,
            reference: Vec::new(),
        }
    }
}

/// One input file (or standard input).
#[derive(Debug, Clone)]
pub struct InputFile {
    /// The path as given or walked (`-` for standard input).
    pub path: PathBuf,
    /// Where the file goes below a `clean` output folder.
    pub rel: PathBuf,
    /// The folder it was found in; `None` when given directly.
    pub root: Option<PathBuf>,
    /// Text or JSONL.
    pub format: Format,
    /// How the bytes were decoded.
    pub encoding: TextEncoding,
    /// Bytes of byte-order mark skipped at the start.
    pub bom: usize,
    /// Compression the file was stored with.
    pub compression: Compression,
    /// The decompressed copy of a compressed input in the work folder,
    /// when one was made while it was read: re-reads seek in it instead of
    /// decompressing the input again. For a Parquet input, a copy of its
    /// texts ([`Document::offset`] says where each one is).
    pub decompressed: Option<PathBuf>,
    /// A reference input ([`IngestOptions::reference`]): never modified,
    /// never written by `clean`, and its copy is the one kept.
    pub reference: bool,
}

impl InputFile {
    /// Maps a byte offset in a document's decoded text to a byte offset in
    /// the (decompressed) file. JSONL documents are reported in their text
    /// field's own coordinates, so only plain-text files are mapped.
    pub fn file_offset(&self, doc_text: &str, offset: usize) -> u64 {
        match self.format {
            Format::Jsonl | Format::Parquet => offset as u64,
            Format::Text => {
                let prefix = &doc_text[..floor_char_boundary(doc_text, offset)];
                (self.bom + self.encoding.encoded_len(prefix)) as u64
            }
        }
    }

    /// Where a byte range of one of this file's documents is, in the
    /// user's coordinates: 1-based inclusive lines `[first, last]` and the
    /// byte range `[start, end)` of the (decompressed) file; for a JSONL
    /// record, its line and the range within its text field. `text` is the
    /// document's text (passed in, as a streamed corpus does not keep it).
    pub fn span(
        &self,
        record: Option<u64>,
        text: &str,
        range: &std::ops::Range<usize>,
    ) -> ([u64; 2], [u64; 2]) {
        self.span_indexed(record, text, range, None)
    }

    /// [`InputFile::span`], looking lines up in `lines` (the index of
    /// `text`) when given.
    pub fn span_indexed(
        &self,
        record: Option<u64>,
        text: &str,
        range: &std::ops::Range<usize>,
        lines: Option<&LineIndex>,
    ) -> ([u64; 2], [u64; 2]) {
        let line_of = |o: usize| match lines {
            Some(ix) => ix.line_of(text, o),
            None => line_of(text, o),
        };
        match self.format {
            Format::Jsonl | Format::Parquet => {
                let r = record.unwrap_or(0);
                ([r, r], [range.start as u64, range.end as u64])
            }
            Format::Text => (
                [
                    line_of(range.start),
                    line_of(range.end.saturating_sub(1).max(range.start)),
                ],
                [
                    self.file_offset(text, range.start),
                    self.file_offset(text, range.end),
                ],
            ),
        }
    }
}

/// One document: a whole text file, or one JSONL record.
#[derive(Debug, Clone)]
pub struct Document {
    /// Unique, stable id: the file path, or the record's id field, or `path:line`.
    pub id: String,
    /// Index of the file in [`Corpus::inputs`].
    pub input: usize,
    /// 1-based line of the JSONL record, `None` for a text file.
    pub record: Option<u64>,
    /// Byte offset of the record's line in the (decompressed) file; 0 for a
    /// text file. Lets [`reload_texts`] seek instead of reading the file again.
    /// For a Parquet row, the offset of its text in the copy of the texts
    /// ([`InputFile::decompressed`]), or its row group when there is none.
    pub offset: u64,
    /// The record's value of the [`IngestOptions::keep_by`] field, if any
    /// (a number, or a string cut to 64 bytes): what `--keep-by` compares.
    pub sort_key: Option<SortKey>,
    /// Bytes of the decoded text as UTF-8: known when the text is not held
    /// ([`TextKept::No`]), so that texts read back can be batched by size.
    pub len: usize,
    /// The decoded text (empty when not held).
    pub text: String,
}

/// An input skipped under `--on-error skip`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The path of the bad input.
    pub path: String,
    /// The error message.
    pub error: String,
    /// What kind of error it is, so that warnings of one kind can be
    /// counted together ("malformed JSONL record").
    #[serde(skip)]
    pub kind: &'static str,
}

impl Skipped {
    /// A bad record or file of `path`.
    pub(crate) fn of(path: &Path, err: &Error) -> Skipped {
        Skipped::of_file(path.display().to_string(), err)
    }

    fn of_file(path: String, err: &Error) -> Skipped {
        let kind = match err {
            Error::Io { .. } => "unreadable input",
            Error::Decode { .. } => "invalid text",
            Error::Binary { .. } => "binary data",
            Error::Empty { .. } => "empty input",
            Error::Jsonl { .. } => "malformed JSONL record",
            Error::MissingField { .. } => "record without the text field",
            Error::Decompress { .. } => "cannot decompress",
            Error::Parquet { .. } => "unreadable Parquet file",
            Error::TooLarge { .. } => "document too large",
            _ => "other error",
        };
        Skipped {
            path,
            error: err.to_string(),
            kind,
        }
    }
}

/// Everything ingest read.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Input files in order.
    pub inputs: Vec<InputFile>,
    /// Documents in input order.
    pub docs: Vec<Document>,
    /// Inputs and records skipped under `--on-error skip`.
    pub skipped: Vec<Skipped>,
    /// Files of folder walks left out as binary.
    pub binary: Vec<PathBuf>,
    /// Files reached again through overlapping inputs, read only once.
    pub repeated: Vec<PathBuf>,
}

impl Corpus {
    /// The file a document came from.
    pub fn input_of(&self, doc: &Document) -> &InputFile {
        &self.inputs[doc.input]
    }

    /// Whether document `d` comes from a reference input
    /// ([`IngestOptions::reference`]).
    pub fn is_reference(&self, d: usize) -> bool {
        self.inputs[self.docs[d].input].reference
    }
}

/// Reads every path into a corpus.
///
/// Files are read in parallel and returned in input order (folders sorted
/// by name), so the result does not depend on the thread count.
///
/// # Errors
///
/// The first unreadable input, undecodable text, malformed JSONL record or
/// oversized document, unless `opts.on_error` is [`OnError::Skip`], in which
/// case those are listed in [`Corpus::skipped`] instead. A missing path or an
/// unwalkable folder is an error in both modes.
pub fn read_corpus(paths: &[PathBuf], opts: &IngestOptions) -> Result<Corpus> {
    read_corpus_with(paths, opts, TextKept::Yes, |_| ()).map(|(c, _)| c)
}

/// Whether documents keep their text after ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKept {
    /// Every document holds its text.
    Yes,
    /// Texts are dropped once `map` has seen them: memory stays bounded by
    /// one batch of text, whatever the corpus size ([`reload_texts`] brings
    /// back the ones needed later). Standard input, which cannot be read
    /// twice, keeps its texts.
    No,
}

/// Reads every path, calling `map` on each document (in parallel) as it is
/// read; gives the corpus and the mapped values, in document order.
///
/// JSONL files in UTF-8 are streamed in batches of about 4 MB of lines,
/// so with [`TextKept::No`] a corpus much larger than memory can be read.
///
/// # Errors
///
/// As [`read_corpus`].
pub fn read_corpus_with<T, F>(
    paths: &[PathBuf],
    opts: &IngestOptions,
    kept: TextKept,
    map: F,
) -> Result<(Corpus, Vec<T>)>
where
    T: Send,
    F: Fn(&Document) -> T + Sync,
{
    read_corpus_in(paths, opts, kept, None, map)
}

/// As [`read_corpus_with`], and with a `work` folder, each gzip/zstd input
/// is decompressed once: the bytes are copied as they are read, and every
/// later re-read ([`reload_texts`], [`read_decompressed`]) reads that
/// copy, a file of the work folder ([`InputFile::decompressed`]).
///
/// # Errors
///
/// As [`read_corpus`], and a copy that cannot be written (disk full).
pub fn read_corpus_in<T, F>(
    paths: &[PathBuf],
    opts: &IngestOptions,
    kept: TextKept,
    work: Option<&WorkDir>,
    map: F,
) -> Result<(Corpus, Vec<T>)>
where
    T: Send,
    F: Fn(&Document) -> T + Sync,
{
    // References go first: a file reached twice is read under the first
    // argument that reached it, and a reference is never cleaned.
    let all: Vec<PathBuf> = opts.reference.iter().chain(paths).cloned().collect();
    let listing = list_inputs(&all, opts)?;
    read_listing_in(listing, opts, kept, work, map)
}

/// As [`read_corpus_in`], for files already listed ([`list_inputs`]): a
/// shard of a corpus ([`crate::shard`]) reads its part of the listing.
///
/// # Errors
///
/// As [`read_corpus_in`].
pub fn read_listing_in<T, F>(
    listing: Listing,
    opts: &IngestOptions,
    kept: TextKept,
    work: Option<&WorkDir>,
    map: F,
) -> Result<(Corpus, Vec<T>)>
where
    T: Send,
    F: Fn(&Document) -> T + Sync,
{
    let listed = listing.files;
    let is_reference = |path: &Path| opts.reference.iter().any(|r| path.starts_with(r));
    let mut corpus = Corpus {
        binary: listing.binary,
        repeated: listing.repeated,
        ..Corpus::default()
    };
    let results: Vec<Result<FileRead<T>>> = listed
        .par_iter()
        .map(|entry| read_one_filtered(entry, opts, kept, &map, &|_| true, work))
        .collect();
    // Documents are moved once, into room made once (growing by doubling
    // copied them over and over, into new pages: serial time); one file's
    // are taken as they are.
    let total: usize = results.iter().flatten().map(|r| r.docs.len()).sum();
    let mut mapped = Vec::new();
    for res in results {
        match res {
            Ok(mut read) => {
                let idx = corpus.inputs.len();
                corpus.skipped.extend(read.skipped);
                if read.docs.is_empty() {
                    continue;
                }
                read.input.reference = is_reference(&read.input.path);
                corpus.inputs.push(read.input);
                for doc in &mut read.docs {
                    doc.input = idx;
                }
                if read.docs.len() == total {
                    debug_assert!(corpus.docs.is_empty());
                    corpus.docs = read.docs;
                    mapped = read.mapped;
                } else {
                    corpus.docs.reserve_exact(total - corpus.docs.len());
                    mapped.reserve_exact(total - mapped.len());
                    corpus.docs.append(&mut read.docs);
                    mapped.append(&mut read.mapped);
                }
            }
            Err(err) if opts.on_error == OnError::Skip && err.is_recoverable_input() => {
                corpus
                    .skipped
                    .push(Skipped::of_file(error_path(&err), &err));
            }
            Err(err) => return Err(err),
        }
    }
    make_ids_unique(&mut corpus.docs, &corpus.inputs);
    Ok((corpus, mapped))
}

/// Reads again the texts of documents `wanted` (sorted indices into
/// `corpus.docs`), for a corpus read with [`TextKept::No`].
///
/// # Errors
///
/// An input that can no longer be read, or that changed since (a record
/// that is gone or no longer parses).
pub fn reload_texts(corpus: &Corpus, wanted: &[u32], opts: &IngestOptions) -> Result<Vec<String>> {
    let mut by_input: Vec<(usize, Vec<u32>)> = Vec::new();
    for &d in wanted {
        let input = corpus.docs[d as usize].input;
        match by_input.last_mut() {
            Some((i, v)) if *i == input => v.push(d),
            _ => by_input.push((input, vec![d])),
        }
    }
    let parts: Vec<Result<Vec<(u32, String)>>> = by_input
        .par_iter()
        .map(|(input, docs)| reload_input(corpus, *input, docs, opts))
        .collect();
    let mut all: Vec<(u32, String)> = Vec::with_capacity(wanted.len());
    for p in parts {
        all.extend(p?);
    }
    all.sort_unstable_by_key(|(d, _)| *d);
    Ok(all.into_iter().map(|(_, t)| t).collect())
}

fn reload_input(
    corpus: &Corpus,
    input: usize,
    docs: &[u32],
    opts: &IngestOptions,
) -> Result<Vec<(u32, String)>> {
    let file = &corpus.inputs[input];
    if file.path == Path::new("-") {
        return Ok(docs
            .iter()
            .map(|&d| (d, corpus.docs[d as usize].text.clone()))
            .collect());
    }
    // A compressed input is read again from its decompressed copy.
    let entry = walk::Listed {
        path: file
            .decompressed
            .clone()
            .unwrap_or_else(|| file.path.clone()),
        rel: file.rel.clone(),
        root: file.root.clone(),
    };
    let changed = |line: Option<u64>| Error::Jsonl {
        loc: Location {
            path: file.path.clone(),
            line,
            byte: None,
        },
        reason: "input changed since it was read".into(),
    };
    #[cfg(feature = "parquet")]
    if file.format == Format::Parquet {
        return parquet::reload(file, &corpus.docs, docs, opts);
    }
    if file.format == Format::Jsonl
        && (file.compression == Compression::None || file.decompressed.is_some())
        && file.encoding == TextEncoding::UTF8
        && file.path != Path::new("-")
    {
        return reload_by_offset(corpus, file, docs, opts);
    }
    let lines: Vec<u64> = docs
        .iter()
        .map(|&d| corpus.docs[d as usize].record.unwrap_or(0))
        .collect();
    let wanted_line = |l: u64| lines.binary_search(&l).is_ok();
    // Read the file again keeping only the wanted records' texts.
    let keep_opts = IngestOptions {
        on_error: OnError::Skip,
        ..opts.clone()
    };
    let read = read_one_filtered(
        &entry,
        &keep_opts,
        TextKept::Yes,
        &|_: &Document| (),
        &wanted_line,
        None,
    )?;
    let mut out = Vec::with_capacity(docs.len());
    let mut got = read.docs.into_iter().peekable();
    for (&d, &line) in docs.iter().zip(&lines) {
        let doc = loop {
            match got.next() {
                Some(doc) if doc.record.unwrap_or(0) == line => break doc,
                Some(doc) if doc.record.unwrap_or(0) < line => continue,
                _ => return Err(changed(corpus.docs[d as usize].record)),
            }
        };
        out.push((d, doc.text));
    }
    Ok(out)
}

/// The text of JSONL record `line` (line `lineno` of `path`, its line
/// break removed) as ingest reads it with `opts`.
///
/// # Errors
///
/// As ingest: a line that is not a record with a string text field, or is
/// too large.
pub fn record_text(path: &Path, lineno: u64, line: &str, opts: &IngestOptions) -> Result<String> {
    jsonl::parse_line(path, lineno, line, opts).map(|d| d.text)
}

/// The error of a build without the `parquet` feature given a Parquet file.
pub fn no_parquet(path: &Path) -> Error {
    Error::Parquet {
        loc: Location::file(path),
        reason: "this neardup was built without Parquet support (cargo build --features parquet)"
            .into(),
    }
}

fn error_path(err: &Error) -> String {
    match err {
        Error::Io { path, .. } => path.clone(),
        Error::Decode { loc, .. }
        | Error::Binary { loc }
        | Error::Empty { loc }
        | Error::Jsonl { loc, .. }
        | Error::MissingField { loc, .. }
        | Error::Decompress { loc, .. }
        | Error::Parquet { loc, .. }
        | Error::TooLarge { loc, .. } => loc.path.display().to_string(),
        other => other.to_string(),
    }
}

/// Two JSONL records may carry the same id; the second gets its location
/// appended. Inputs' ids are taken before reference ids (a test set may
/// number its records as the corpus does): reading a reference never
/// renames a document being cleaned.
fn make_ids_unique(docs: &mut [Document], inputs: &[InputFile]) {
    // Ids are nearly always unique already: checked first without a copy
    // of each (a serial step of ~0.03 s at 100k documents otherwise).
    let mut ids = std::collections::HashSet::with_capacity(docs.len());
    if docs.iter().all(|d| ids.insert(d.id.as_str())) {
        return;
    }
    drop(ids);
    let mut seen = std::collections::HashSet::with_capacity(docs.len());
    let (refs, own): (Vec<&mut Document>, Vec<&mut Document>) =
        docs.iter_mut().partition(|d| inputs[d.input].reference);
    for doc in own.into_iter().chain(refs) {
        if !seen.insert(doc.id.clone()) {
            let line = doc.record.unwrap_or(0);
            let mut candidate = format!("{}@{}", doc.id, line);
            let mut n = 1;
            while !seen.insert(candidate.clone()) {
                n += 1;
                candidate = format!("{}@{}.{n}", doc.id, line);
            }
            doc.id = candidate;
        }
    }
}

struct FileRead<T> {
    input: InputFile,
    docs: Vec<Document>,
    mapped: Vec<T>,
    skipped: Vec<Skipped>,
}

/// Lines of about this many bytes are parsed and mapped at a time. Small
/// enough that the three batch buffers alive at once, filled again and
/// again, are about all the new memory reading touches (c10000, 35 MB:
/// 15.9k page faults in the whole scan, against 22.4k with batches of
/// 32 MB; a fault costs this VM ~3 µs), and a batch of 4 MB (about a
/// thousand documents) still keeps both cores of the pool busy.
const BATCH_BYTES: usize = 4 << 20;

/// The first streamed batch's size; each next one doubles up to
/// [`BATCH_BYTES`]. The pool waits while the first batch is read (a
/// single thread copying): with a whole 32 MB batch first, a 35 MB corpus
/// kept both cores of the pool idle for a third of its read and sketch
/// stage.
const FIRST_BATCH_BYTES: usize = 1 << 20;

/// Reads one file; for JSONL only the lines `want` accepts become documents.
/// A compressed file is decompressed into `work` as well, when given.
fn read_one_filtered<T: Send, F: Fn(&Document) -> T + Sync>(
    entry: &walk::Listed,
    opts: &IngestOptions,
    kept: TextKept,
    map: &F,
    want: &(dyn Fn(u64) -> bool + Sync),
    work: Option<&WorkDir>,
) -> Result<FileRead<T>> {
    let path = entry.path.as_path();
    if path != Path::new("-") && opts.format == FormatChoice::Auto && walk::looks_like_parquet(path)
    {
        #[cfg(feature = "parquet")]
        return parquet::read(entry, opts, kept, map, want, work);
        #[cfg(not(feature = "parquet"))]
        return Err(no_parquet(path));
    }
    let streamable = path != Path::new("-")
        && opts.encoding.is_utf8_or_auto()
        && match opts.format {
            FormatChoice::Jsonl => true,
            FormatChoice::Text => false,
            FormatChoice::Auto => walk::looks_like_jsonl(path),
        };
    let regular = || {
        std::fs::metadata(path)
            .map(|m| m.is_file())
            .unwrap_or(false)
    };
    if streamable && regular() {
        match stream_jsonl(entry, opts, kept, map, want, work) {
            Ok(read) => return Ok(read),
            Err(stream::NotStreamable::Error(e)) => return Err(e),
            Err(stream::NotStreamable::WholeFile) => {}
        }
    }
    let read = read_whole(entry, opts, want, work)?;
    // Standard input cannot be read twice: its texts stay.
    let kept = if path == Path::new("-") {
        TextKept::Yes
    } else {
        kept
    };
    finish_docs(read, kept, map)
}

fn finish_docs<T: Send, F: Fn(&Document) -> T + Sync>(
    read: FileRead<()>,
    kept: TextKept,
    map: &F,
) -> Result<FileRead<T>> {
    let mut docs = read.docs;
    let mapped: Vec<T> = docs.par_iter().map(map).collect();
    if kept == TextKept::No {
        for d in &mut docs {
            d.text = String::new();
        }
    }
    Ok(FileRead {
        input: read.input,
        docs,
        mapped,
        skipped: read.skipped,
    })
}

/// Bytes read at a time when records are read again from a file: a few
/// documents of a typical corpus (~3.5 KB), so that reading one costs
/// little more than its line, and reading many in a row few reads.
const REREAD_BUFFER: usize = 16 << 10;

/// The bytes from document `d`'s line to the next document's of the same
/// file, which hold its line (and any blank or skipped lines between):
/// what a read at its offset takes, if the next document is in the file
/// and not far ([`REREAD_BUFFER`] times 64), and reads at an offset are
/// how this platform reads.
fn line_span(corpus: &Corpus, d: u32) -> Option<usize> {
    if !cfg!(unix) {
        return None;
    }
    let doc = &corpus.docs[d as usize];
    let next = corpus.docs.get(d as usize + 1)?;
    let span = next.offset.checked_sub(doc.offset)?;
    (next.input == doc.input && span > 0 && span <= 64 * REREAD_BUFFER as u64)
        .then_some(span as usize)
}

/// Fills `buf` from `file` at byte `offset` (an early end of the file is
/// an error).
fn read_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }
    #[cfg(not(unix))]
    {
        let _ = (file, buf, offset);
        Err(std::io::Error::other("reads at an offset are for unix"))
    }
}

/// Reads wanted records of an uncompressed UTF-8 JSONL file by seeking to
/// their lines.
fn reload_by_offset(
    corpus: &Corpus,
    file: &InputFile,
    docs: &[u32],
    opts: &IngestOptions,
) -> Result<Vec<(u32, String)>> {
    // Chunks of records are read by parallel handles on the same file.
    let parts: Vec<Result<Vec<(u32, String)>>> = docs
        .par_chunks(512)
        .map(|chunk| reload_chunk(corpus, file, chunk, opts))
        .collect();
    let mut out = Vec::with_capacity(docs.len());
    for p in parts {
        out.extend(p?);
    }
    Ok(out)
}

fn reload_chunk(
    corpus: &Corpus,
    file: &InputFile,
    docs: &[u32],
    opts: &IngestOptions,
) -> Result<Vec<(u32, String)>> {
    use std::io::{BufRead, Seek, SeekFrom};
    let path = file.path.as_path();
    let from = file.decompressed.as_deref().unwrap_or(path);
    let mut f = std::io::BufReader::with_capacity(
        REREAD_BUFFER,
        std::fs::File::open(from).map_err(|e| Error::io(from, e))?,
    );
    // where the reader is: the documents come in file order, so the next
    // one is often in what the buffer holds already
    let mut at = u64::MAX;
    let mut out = Vec::with_capacity(docs.len());
    let mut line = Vec::new();
    for &d in docs {
        let doc = &corpus.docs[d as usize];
        let lineno = doc.record.unwrap_or(0);
        let changed = || Error::Jsonl {
            loc: Location::line(path, lineno),
            reason: "input changed since it was read".into(),
        };
        line.clear();
        if let Some(len) = line_span(corpus, d) {
            // the bytes up to the next document's line, read where they
            // are: one copy, none of the lines between the wanted ones
            line.resize(len, 0);
            read_at(f.get_ref(), &mut line, doc.offset).map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => changed(),
                _ => Error::io(from, e),
            })?;
            let end = memchr::memchr(b'\n', &line).ok_or_else(changed)?;
            line.truncate(end + 1);
        } else {
            match doc.offset.checked_sub(at) {
                // forward: kept in the buffer when it holds the line
                Some(ahead) => f.seek_relative(ahead as i64),
                None => f.seek(SeekFrom::Start(doc.offset)).map(drop),
            }
            .map_err(|e| Error::io(from, e))?;
            let n = f
                .read_until(b'\n', &mut line)
                .map_err(|e| Error::io(from, e))?;
            at = doc.offset + n as u64;
        }
        let text = encoding::str_of(&line).map_err(|_| changed())?;
        let text = text.trim_end_matches(['\n', '\r']);
        let parsed = jsonl::parse_line(path, lineno, text, opts).map_err(|_| changed())?;
        out.push((d, parsed.text));
    }
    Ok(out)
}

/// What became of one line.
enum Parsed<T> {
    Blank,
    Unwanted,
    Doc(Result<(Document, T)>),
}

fn stream_jsonl<T: Send, F: Fn(&Document) -> T + Sync>(
    entry: &walk::Listed,
    opts: &IngestOptions,
    kept: TextKept,
    map: &F,
    want: &(dyn Fn(u64) -> bool + Sync),
    work: Option<&WorkDir>,
) -> std::result::Result<FileRead<T>, stream::NotStreamable> {
    let path = entry.path.as_path();
    let (compression, lines) = stream::LineReader::open(path, opts.max_doc_bytes, work)?;
    let copy = lines.copy();
    // what the file holds, to make room for its documents once
    let file_len = lines.file_len();
    let result = stream_lines(path, lines, file_len, opts, kept, map, want);
    // the reader thread is gone: the copy is this function's alone
    let copy = copy.and_then(|c| std::sync::Arc::into_inner(c)?.into_inner().ok());
    let (docs, mapped, skipped, bom, nonblank) = match result {
        Ok(read) => read,
        Err(e) => {
            // A file read whole instead starts its copy again.
            if let Some(c) = copy {
                c.discard();
            }
            return Err(e);
        }
    };
    if nonblank == 0 {
        return Err(Error::Empty {
            loc: Location::file(path),
        }
        .into());
    }
    let mut decompressed = None;
    if let (Some((to, written)), Some(work)) = (copy.map(stream::Copy::finish).transpose()?, work) {
        work.record(written);
        decompressed = Some(to);
    }
    Ok(FileRead {
        input: InputFile {
            path: path.to_path_buf(),
            rel: entry.rel.clone(),
            root: entry.root.clone(),
            format: Format::Jsonl,
            encoding: TextEncoding::UTF8,
            bom,
            compression,
            decompressed,
            reference: false,
        },
        docs,
        mapped,
        skipped,
    })
}

/// Documents, mapped values, skipped records, byte-order mark length and
/// count of non-blank lines of one streamed file.
type Streamed<T> = (Vec<Document>, Vec<T>, Vec<Skipped>, usize, usize);

fn stream_lines<T: Send, F: Fn(&Document) -> T + Sync>(
    path: &Path,
    mut lines: stream::LineReader,
    file_len: Option<u64>,
    opts: &IngestOptions,
    kept: TextKept,
    map: &F,
    want: &(dyn Fn(u64) -> bool + Sync),
) -> std::result::Result<Streamed<T>, stream::NotStreamable> {
    let mut docs = Vec::new();
    let mut mapped = Vec::new();
    let mut skipped = Vec::new();
    let mut bom = 0;
    let mut nonblank = 0usize;
    // One thread reads (and decompresses) the next batch while the pool
    // parses and sketches this one; the channel holds one batch, so at most
    // three batches of text are alive at once. Their bytes come back to
    // the reader: a buffer to be filled again, a mapped window to be
    // unmapped there (0.3 ms for 4 MB, while the pool would wait).
    let (tx, rx) = std::sync::mpsc::sync_channel::<
        std::result::Result<stream::Lines, stream::NotStreamable>,
    >(1);
    let (back, used) = std::sync::mpsc::channel::<stream::Bytes>();
    std::thread::scope(|scope| -> std::result::Result<(), stream::NotStreamable> {
        scope.spawn(move || {
            let mut size = FIRST_BATCH_BYTES;
            loop {
                // windows dropped (unmapped) until a buffer comes
                let buffer = used
                    .try_iter()
                    .find_map(stream::Bytes::into_buffer)
                    .unwrap_or_default();
                let next = lines.next_batch(size, buffer);
                size = (size * 2).min(BATCH_BYTES);
                let stop = !matches!(next, Ok(Some(_)));
                let msg = match next {
                    Ok(Some(batch)) => Ok(batch),
                    Ok(None) => break,
                    Err(e) => Err(e),
                };
                if tx.send(msg).is_err() || stop {
                    break;
                }
            }
        });
        // What the pool made of a batch goes into the vectors while it
        // parses the next one: on the main thread between batches, the
        // copies (and the first touch of the room made for them) left a
        // core idle.
        let mut pending: Option<(Vec<Parsed<T>>, Option<u64>)> = None;
        let mut keep = |(parsed, read_to): (Vec<Parsed<T>>, Option<u64>)| -> Result<()> {
            nonblank += parsed
                .iter()
                .filter(|p| !matches!(p, Parsed::Blank))
                .count();
            for p in parsed {
                match p {
                    Parsed::Doc(Ok((doc, t))) => {
                        docs.push(doc);
                        mapped.push(t);
                    }
                    Parsed::Doc(Err(err)) if opts.on_error == OnError::Skip => {
                        skipped.push(Skipped::of(path, &err));
                    }
                    Parsed::Doc(Err(err)) => return Err(err),
                    Parsed::Blank | Parsed::Unwanted => {}
                }
            }
            // Room for as many documents as the first batch says the file
            // holds: growing by doubling, the vectors were copied again and
            // again into new pages while the pool waited. Room never
            // written is address space, not memory, where the system
            // overcommits (Linux does by default); where it cannot be had,
            // the vectors grow as before.
            if let (Some(file_len), Some(read_to)) = (file_len, read_to) {
                let expected = (docs.len() as u64).saturating_mul(file_len) / read_to.max(1);
                let more = (expected + expected / 16).saturating_sub(docs.len() as u64);
                let more = usize::try_from(more).unwrap_or(0);
                let _ = docs.try_reserve(more);
                let _ = mapped.try_reserve(more);
            }
            Ok(())
        };
        let mut first = true;
        for batch in rx {
            let stream::Lines { bytes, lines } = batch?;
            // how far into the file the first batch reached
            let read_to = lines
                .last()
                .filter(|_| first)
                .map(|l| l.offset + l.text.as_ref().map_or(0, |r| r.len()) as u64);
            first = false;
            if lines
                .first()
                .is_some_and(|l| l.lineno == 1 && l.offset == 3)
            {
                bom = 3;
            }
            let parse = || -> Vec<Parsed<T>> {
                lines
                    .into_par_iter()
                    .with_min_len(64)
                    .map(|line| {
                        let (lineno, offset) = (line.lineno, line.offset);
                        let text = match line.text_in(path, &bytes) {
                            Ok(t) => t,
                            Err(e) => return Parsed::Doc(Err(e)),
                        };
                        if text.trim().is_empty() {
                            return Parsed::Blank;
                        }
                        if !want(lineno) {
                            return Parsed::Unwanted;
                        }
                        Parsed::Doc(jsonl::parse_line(path, lineno, text, opts).map(|mut doc| {
                            doc.offset = offset;
                            let t = map(&doc);
                            if kept == TextKept::No {
                                doc.text = String::new();
                            }
                            (doc, t)
                        }))
                    })
                    .collect()
            };
            let (parsed, kept_before) =
                rayon::join(parse, || pending.take().map_or(Ok(()), &mut keep));
            // the reader may be gone (it stops after the last batch)
            let _ = back.send(bytes);
            kept_before?;
            pending = Some((parsed, read_to));
        }
        if let Some(last) = pending {
            keep(last)?;
        }
        Ok(())
    })?;
    Ok((docs, mapped, skipped, bom, nonblank))
}

fn read_whole(
    entry: &walk::Listed,
    opts: &IngestOptions,
    want: &(dyn Fn(u64) -> bool + Sync),
    work: Option<&WorkDir>,
) -> Result<FileRead<()>> {
    let path = entry.path.as_path();
    let raw = read_bytes(path, opts.max_doc_bytes)?;
    let (compression, bytes) = decompress::decompress(path, raw, opts.max_doc_bytes)?;
    let decompressed = match work {
        Some(work) if compression != Compression::None && path != Path::new("-") => {
            let to = decompress::copy_path(work, path)?;
            std::fs::write(&to, &bytes).map_err(|e| Error::io(&to, e))?;
            work.record(bytes.len() as u64);
            Some(to)
        }
        _ => None,
    };
    let format = match opts.format {
        FormatChoice::Text => Format::Text,
        FormatChoice::Jsonl => Format::Jsonl,
        FormatChoice::Auto => guess_format(path, &bytes),
    };
    // The size of a plain file on disk was checked before it was read;
    // decompressed or piped text is only known now. (JSONL records are
    // checked one by one.)
    if format == Format::Text && bytes.len() as u64 > opts.max_doc_bytes {
        return Err(Error::TooLarge {
            loc: Location::file(path),
            size: bytes.len() as u64,
            limit: opts.max_doc_bytes,
        });
    }
    let decoded = encoding::decode(path, &bytes, opts.encoding)?;
    drop(bytes);
    let input = InputFile {
        path: path.to_path_buf(),
        rel: entry.rel.clone(),
        root: entry.root.clone(),
        format,
        encoding: decoded.encoding,
        bom: decoded.bom,
        compression,
        decompressed,
        reference: false,
    };
    let (docs, skipped) = match format {
        Format::Text => {
            if decoded.text.trim().is_empty() {
                return Err(Error::Empty {
                    loc: Location::file(path),
                });
            }
            let doc = Document {
                id: path.display().to_string(),
                input: 0,
                record: None,
                offset: 0,
                sort_key: None,
                len: decoded.text.len(),
                text: decoded.text,
            };
            (vec![doc], Vec::new())
        }
        Format::Jsonl => {
            let (docs, skipped, nonblank) = jsonl::parse(path, &decoded.text, opts, want)?;
            if nonblank == 0 {
                return Err(Error::Empty {
                    loc: Location::file(path),
                });
            }
            (docs, skipped)
        }
        Format::Parquet => unreachable!("a Parquet file is read by corpus::parquet"),
    };
    Ok(FileRead {
        input,
        docs,
        mapped: Vec::new(),
        skipped,
    })
}

/// Reads a file (or stdin) whole, refusing anything that is not a regular
/// file or pipe we can read, and anything far beyond the size limit.
fn read_bytes(path: &Path, max_doc_bytes: u64) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Error::io(path, e))?;
        return Ok(buf);
    }
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if !meta.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::other("not a regular file (folder, FIFO or device)"),
        ));
    }
    // A JSONL file may be much larger than one document; the per-document
    // limit is applied to records. A plain file over the limit is one
    // oversized document, refused before it is loaded.
    let is_jsonl_name = walk::looks_like_jsonl(path);
    if !is_jsonl_name && meta.len() > max_doc_bytes && !decompress::is_compressed_name(path) {
        return Err(Error::TooLarge {
            loc: Location::file(path),
            size: meta.len(),
            limit: max_doc_bytes,
        });
    }
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

fn guess_format(path: &Path, bytes: &[u8]) -> Format {
    if path == Path::new("-") {
        // Past a byte-order mark; the NUL bytes of UTF-16 ASCII are skipped.
        let bom = encoding_rs::Encoding::for_bom(bytes).map_or(0, |(_, len)| len);
        let first = bytes[bom..]
            .iter()
            .find(|&&b| b != 0 && !b.is_ascii_whitespace());
        return if first == Some(&b'{') {
            Format::Jsonl
        } else {
            Format::Text
        };
    }
    if walk::looks_like_jsonl(path) {
        Format::Jsonl
    } else {
        Format::Text
    }
}

/// The largest char boundary at or below `i`.
pub(crate) fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The line breaks of one text, for many line look-ups in it (a large
/// document holding many copies): each look-up is a binary search instead
/// of a count from the start.
#[derive(Debug, Clone)]
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    /// The index of `text`'s line breaks.
    pub fn new(text: &str) -> LineIndex {
        LineIndex(memchr::memchr_iter(b'\n', text.as_bytes()).collect())
    }

    /// [`line_of`] through the index: `text` must be the indexed text.
    pub fn line_of(&self, text: &str, offset: usize) -> u64 {
        let end = floor_char_boundary(text, offset);
        1 + self.0.partition_point(|&p| p < end) as u64
    }
}

/// 1-based line number of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> u64 {
    let end = floor_char_boundary(text, offset);
    // memchr's vectorised search: a large document holding many copies
    // asks this once per copy
    1 + memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count() as u64
}

impl Corpus {
    /// A corpus of in-memory texts, one document each (`doc0`, `doc1`, …),
    /// for tests, benchmarks and library users who already hold their text.
    pub fn from_texts<S: AsRef<str>>(texts: &[S]) -> Corpus {
        let mut corpus = Corpus::default();
        for (i, t) in texts.iter().enumerate() {
            corpus.inputs.push(InputFile {
                path: PathBuf::from(format!("doc{i}")),
                rel: PathBuf::from(format!("doc{i}.txt")),
                root: None,
                format: Format::Text,
                encoding: TextEncoding::UTF8,
                bom: 0,
                compression: Compression::None,
                decompressed: None,
                reference: false,
            });
            corpus.docs.push(Document {
                id: format!("doc{i}"),
                input: i,
                record: None,
                offset: 0,
                sort_key: None,
                len: t.as_ref().len(),
                text: t.as_ref().to_string(),
            });
        }
        corpus
    }
}

/// The decompressed bytes of an input, read again: from its copy in the
/// work folder when it has one, else from the input itself.
///
/// # Errors
///
/// A file that cannot be read, or a corrupt or truncated stream.
pub fn read_decompressed(input: &InputFile) -> Result<Vec<u8>> {
    if let Some(copy) = &input.decompressed {
        return std::fs::read(copy).map_err(|e| Error::io(copy, e));
    }
    let raw = std::fs::read(&input.path).map_err(|e| Error::io(&input.path, e))?;
    decompress_bytes(&input.path, raw).map(|(_, bytes)| bytes)
}

/// How the file at `path` is stored, from its first bytes and name, as
/// reading it finds: its compression (by magic number), and whether it is
/// Parquet.
///
/// # Errors
///
/// A file that cannot be opened or read.
pub fn stored_as(path: &Path) -> Result<(Compression, bool)> {
    use std::io::Read;
    let mut head = Vec::with_capacity(4);
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .map_err(|e| Error::io(path, e))?;
    Ok((decompress::sniff(&head), walk::looks_like_parquet(path)))
}

/// Decompresses bytes read again from an input (by magic number).
///
/// # Errors
///
/// A corrupt or truncated stream.
pub fn decompress_bytes(path: &Path, raw: Vec<u8>) -> Result<(Compression, Vec<u8>)> {
    decompress::decompress(path, raw, u64::MAX / 128)
}

/// Decodes bytes read again from an input with the encoding found when it
/// was first read (byte-order mark skipped).
///
/// # Errors
///
/// Bytes that are no longer valid in that encoding.
pub fn decode_as(path: &Path, bytes: &[u8], enc: TextEncoding) -> Result<String> {
    encoding::decode(path, bytes, EncodingChoice::of(enc)).map(|d| d.text)
}

#[cfg(test)]
mod reload_tests {
    use super::*;

    #[test]
    fn line_index_agrees_with_counting() {
        let text = "一\n二二\n\n三三三\nfour\n五".repeat(7);
        let ix = LineIndex::new(&text);
        for o in 0..=text.len() {
            assert_eq!(ix.line_of(&text, o), line_of(&text, o), "offset {o}");
        }
    }

    #[test]
    fn reload_by_offset_gives_back_the_same_texts() {
        let dir = std::env::temp_dir().join(format!("neardup-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.jsonl");
        std::fs::write(&p, "{\"id\":\"a\",\"text\":\"甲乙丙\"}\n\n{\"id\":\"b\",\"text\":\"丁戊\"}\r\n{\"id\":\"c\",\"text\":\"己\"}\n").unwrap();
        let opts = IngestOptions::default();
        let (corpus, _) =
            read_corpus_with(std::slice::from_ref(&p), &opts, TextKept::No, |_| ()).unwrap();
        assert!(corpus.docs.iter().all(|d| d.text.is_empty()));
        let texts = reload_texts(&corpus, &[0, 1, 2], &opts).unwrap();
        assert_eq!(texts, vec!["甲乙丙", "丁戊", "己"]);
        let texts = reload_texts(&corpus, &[2], &opts).unwrap();
        assert_eq!(texts, vec!["己"]);
        // cut short since: an error naming the change, for a record read up
        // to the next one's line and for the last one alike
        let whole = std::fs::read(&p).unwrap();
        std::fs::write(&p, &whole[..10]).unwrap();
        for d in [0, 2] {
            let err = reload_texts(&corpus, &[d], &opts).unwrap_err().to_string();
            assert!(
                err.contains("input changed since it was read"),
                "{d}: {err}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod id_tests {
    use super::*;

    /// Records past the first batches (one of 1 MB, then 2 and 4 MB) keep
    /// their order, and the first bad one is the one reported: what the pool
    /// made of one batch is kept while it parses the next.
    #[test]
    fn records_across_batches_keep_their_order_and_the_first_bad_one_is_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.jsonl");
        let text = "正文".repeat(600);
        let n = 2_000;
        // bad records in the second and the third batch (~3.6 KB a line)
        let bad = [700usize, 1_500];
        let body: String = (1..=n)
            .map(|i| {
                if bad.contains(&i) {
                    "{not json\n".to_string()
                } else {
                    format!(
                        "{}\n",
                        serde_json::json!({"id": format!("d{i}"), "text": text})
                    )
                }
            })
            .collect();
        assert!(body.len() > 6 << 20, "reaches a third batch");
        std::fs::write(&path, body).expect("write");
        let err = read_corpus(std::slice::from_ref(&path), &IngestOptions::default())
            .expect_err("a bad record stops the read")
            .to_string();
        assert!(err.contains(&format!(":{}", bad[0])), "{err}");
        assert!(!err.contains(&format!(":{}", bad[1])), "{err}");
        let opts = IngestOptions {
            on_error: OnError::Skip,
            ..IngestOptions::default()
        };
        let corpus = read_corpus(&[path], &opts).expect("reads");
        let want: Vec<String> = (1..=n)
            .filter(|i| !bad.contains(i))
            .map(|i| format!("d{i}"))
            .collect();
        let got: Vec<&str> = corpus.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(got, want);
        assert_eq!(corpus.skipped.len(), 2);
        assert!(corpus.skipped[0].error.contains(&format!(":{}", bad[0])));
    }

    #[test]
    fn a_repeated_id_gets_its_line_and_never_takes_an_id_in_use() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.jsonl");
        let ids = ["a", "a", "a@2", "b", "a"];
        let body: String = ids
            .iter()
            .map(|id| format!("{}\n", serde_json::json!({"id": id, "text": "正文"})))
            .collect();
        std::fs::write(&path, body).expect("write");
        let corpus = read_corpus(&[path], &IngestOptions::default()).expect("reads");
        let got: Vec<&str> = corpus.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(got, ["a", "a@2", "a@2@3", "b", "a@5"]);
        // distinct ids stay as they are
        let path = dir.path().join("d.jsonl");
        std::fs::write(
            &path,
            "{\"id\": \"x\", \"text\": \"一\"}\n{\"id\": \"y\", \"text\": \"二\"}\n",
        )
        .expect("write");
        let corpus = read_corpus(&[path], &IngestOptions::default()).expect("reads");
        let got: Vec<&str> = corpus.docs.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(got, ["x", "y"]);
    }
}
