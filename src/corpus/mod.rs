//! INGEST: turns the paths a user gives into [`Document`]s.
//!
//! Takes files, folders (walked recursively in sorted order, filtered by
//! include/exclude globs), JSONL files (one document per line, text and id
//! fields chosen by option), gzip/zstd files (detected by magic bytes) and
//! `-` for standard input. Text is decoded from UTF-8 (with or without BOM),
//! UTF-16 with BOM, or GB18030/GBK (detected, or forced).
//!
//! Gives a [`Corpus`]: the list of input files, the documents read from them
//! in input order, and the inputs that were skipped under
//! [`OnError::Skip`]. Each document keeps its text as decoded; every later
//! span is reported in this text's byte coordinates and mapped back to the
//! file with [`InputFile::file_offset`].

mod decompress;
mod encoding;
mod jsonl;
mod walk;

pub use decompress::Compression;
pub use encoding::{Decoded, EncodingChoice, TextEncoding};
pub use walk::list_inputs;

use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Location, Result};

/// How a file holds its documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// The whole file is one document.
    Text,
    /// One JSON object per line, the document text in one field.
    Jsonl,
}

/// Which format to read inputs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
}

impl InputFile {
    /// Maps a byte offset in a document's decoded text to a byte offset in
    /// the (decompressed) file. JSONL documents are reported in their text
    /// field's own coordinates, so only plain-text files are mapped.
    pub fn file_offset(&self, doc_text: &str, offset: usize) -> u64 {
        match self.format {
            Format::Jsonl => offset as u64,
            Format::Text => {
                let prefix = &doc_text[..floor_char_boundary(doc_text, offset)];
                (self.bom + self.encoding.encoded_len(prefix)) as u64
            }
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
    /// The decoded text.
    pub text: String,
}

/// An input skipped under `--on-error skip`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    /// The path of the bad input.
    pub path: String,
    /// The error message.
    pub error: String,
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
}

impl Corpus {
    /// The file a document came from.
    pub fn input_of(&self, doc: &Document) -> &InputFile {
        &self.inputs[doc.input]
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
    let listed = list_inputs(paths, opts)?;
    let mut corpus = Corpus::default();
    let results: Vec<Result<FileRead>> = listed
        .par_iter()
        .map(|entry| read_one(entry, opts))
        .collect();
    for res in results {
        match res {
            Ok(read) => {
                let idx = corpus.inputs.len();
                for skipped in read.skipped {
                    corpus.skipped.push(skipped);
                }
                if read.docs.is_empty() {
                    continue;
                }
                corpus.inputs.push(read.input);
                for mut doc in read.docs {
                    doc.input = idx;
                    corpus.docs.push(doc);
                }
            }
            Err(err) if opts.on_error == OnError::Skip && err.is_recoverable_input() => {
                corpus.skipped.push(Skipped {
                    path: error_path(&err),
                    error: err.to_string(),
                });
            }
            Err(err) => return Err(err),
        }
    }
    make_ids_unique(&mut corpus.docs);
    Ok(corpus)
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
        | Error::TooLarge { loc, .. } => loc.path.display().to_string(),
        other => other.to_string(),
    }
}

/// Two JSONL records may carry the same id; the second gets its location appended.
fn make_ids_unique(docs: &mut [Document]) {
    let mut seen = std::collections::HashSet::with_capacity(docs.len());
    for doc in docs.iter_mut() {
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

struct FileRead {
    input: InputFile,
    docs: Vec<Document>,
    skipped: Vec<Skipped>,
}

fn read_one(entry: &walk::Listed, opts: &IngestOptions) -> Result<FileRead> {
    let path = entry.path.as_path();
    let raw = read_bytes(path, opts.max_doc_bytes)?;
    let (compression, bytes) = decompress::decompress(path, raw, opts.max_doc_bytes)?;
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
    };
    let display = path.display().to_string();
    match format {
        Format::Text => {
            if decoded.text.trim().is_empty() {
                return Err(Error::Empty {
                    loc: Location::file(path),
                });
            }
            Ok(FileRead {
                input,
                docs: vec![Document {
                    id: display,
                    input: 0,
                    record: None,
                    text: decoded.text,
                }],
                skipped: Vec::new(),
            })
        }
        Format::Jsonl => {
            let (docs, skipped) = jsonl::parse(path, &decoded.text, opts)?;
            if docs.is_empty() && skipped.is_empty() {
                return Err(Error::Empty {
                    loc: Location::file(path),
                });
            }
            Ok(FileRead {
                input,
                docs,
                skipped,
            })
        }
    }
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

/// 1-based line number of byte `offset` in `text`.
pub fn line_of(text: &str, offset: usize) -> u64 {
    let end = floor_char_boundary(text, offset);
    1 + text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
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
            });
            corpus.docs.push(Document {
                id: format!("doc{i}"),
                input: i,
                record: None,
                text: t.as_ref().to_string(),
            });
        }
        corpus
    }
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
    let choice = match enc.name() {
        "UTF-8" => EncodingChoice::Utf8,
        "gb18030" => EncodingChoice::Gb18030,
        _ => EncodingChoice::Auto,
    };
    encoding::decode(path, bytes, choice).map(|d| d.text)
}
