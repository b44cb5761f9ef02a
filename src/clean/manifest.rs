//! The manifest `clean` leaves in its output folder, next to the removal
//! log: which inputs were read and how, and which output file each input
//! became. [`super::verify`] reads it to check the output again later.
//!
//! Paths are stored losslessly: as a string when they are UTF-8, as their
//! bytes otherwise (a scraped corpus may hold file names that are not), so
//! that `verify` finds the very files `clean` read and wrote.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::{EncodingChoice, FormatChoice, IngestOptions, OnError};

/// File name of the manifest inside the output folder.
pub const MANIFEST: &str = "neardup-manifest.json";

/// Schema name and version of the manifest.
pub const SCHEMA: &str = "neardup.manifest/1";

/// A path that survives a round trip through JSON even when it is not UTF-8.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RawPath(pub PathBuf);

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Repr {
    Text(String),
    Bytes(Vec<u8>),
}

impl Serialize for RawPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.to_str() {
            Some(text) => Repr::Text(text.to_string()),
            None => Repr::Bytes(path_bytes(&self.0)),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawPath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawPath(match Repr::deserialize(d)? {
            Repr::Text(text) => PathBuf::from(text),
            Repr::Bytes(bytes) => path_from_bytes(bytes),
        }))
    }
}

#[cfg(unix)]
fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

#[cfg(not(unix))]
fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

#[cfg(unix)]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

#[cfg(not(unix))]
fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

/// The manifest (`neardup.manifest/1`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The inputs as given on the command line, made absolute (`-` for
    /// standard input).
    pub inputs: Vec<RawPath>,
    /// How they were read and judged.
    pub options: ManifestOptions,
    /// The removal log: relative to the output folder when inside it,
    /// absolute otherwise.
    pub log: RawPath,
    /// Every input file read, in corpus order.
    pub files: Vec<ManifestFile>,
}

/// The options `verify` needs to read the inputs again and judge the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestOptions {
    /// `--text-field`.
    pub text_field: String,
    /// `--id-field`.
    pub id_field: String,
    /// `--encoding`: `auto`, `utf8` or `gb18030`.
    pub encoding: String,
    /// `--input-format`: `auto`, `text` or `jsonl`.
    pub input_format: String,
    /// `--include` globs.
    pub include: Vec<String>,
    /// `--exclude` globs.
    pub exclude: Vec<String>,
    /// `--on-error`: `stop` or `skip`.
    pub on_error: String,
    /// `--max-doc-bytes`.
    pub max_doc_bytes: u64,
    /// `--threshold`: the least containment of a removed document.
    pub threshold: f64,
    /// `--block-threshold`: the least containment of a removed block copy.
    pub block_threshold: f64,
    /// `--mask-fold`, part of the normalisation containment is measured on.
    pub mask_fold: bool,
}

/// One input file and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The file, absolute.
    pub input: RawPath,
    /// The file as the removal log names it (`removed.path`, `kept.path`).
    pub name: String,
    /// Its path below the output folder; `None` when every document in it
    /// was removed and nothing was written.
    pub output: Option<RawPath>,
    /// `text` or `jsonl`.
    pub format: String,
    /// Documents read from it.
    pub documents: usize,
    /// Its size on disk when it was cleaned; `None` for standard input.
    pub size: Option<u64>,
}

impl ManifestOptions {
    /// Records the options of a run.
    pub fn new(ingest: &IngestOptions, scan: &crate::pipeline::ScanOptions) -> ManifestOptions {
        ManifestOptions {
            text_field: ingest.text_field.clone(),
            id_field: ingest.id_field.clone(),
            encoding: match ingest.encoding {
                EncodingChoice::Auto => "auto",
                EncodingChoice::Utf8 => "utf8",
                EncodingChoice::Gb18030 => "gb18030",
            }
            .into(),
            input_format: match ingest.format {
                FormatChoice::Auto => "auto",
                FormatChoice::Text => "text",
                FormatChoice::Jsonl => "jsonl",
            }
            .into(),
            include: ingest.include.clone(),
            exclude: ingest.exclude.clone(),
            on_error: match ingest.on_error {
                OnError::Stop => "stop",
                OnError::Skip => "skip",
            }
            .into(),
            max_doc_bytes: ingest.max_doc_bytes,
            threshold: scan.threshold,
            block_threshold: scan.blocks.threshold,
            mask_fold: scan.normalize.mask_fold,
        }
    }

    /// The ingest options these record.
    ///
    /// # Errors
    ///
    /// The first value no version of neardup writes, described.
    pub fn ingest(&self) -> Result<IngestOptions, String> {
        Ok(IngestOptions {
            text_field: self.text_field.clone(),
            id_field: self.id_field.clone(),
            encoding: match self.encoding.as_str() {
                "auto" => EncodingChoice::Auto,
                "utf8" => EncodingChoice::Utf8,
                "gb18030" => EncodingChoice::Gb18030,
                other => return Err(format!("unknown encoding {other:?}")),
            },
            format: match self.input_format.as_str() {
                "auto" => FormatChoice::Auto,
                "text" => FormatChoice::Text,
                "jsonl" => FormatChoice::Jsonl,
                other => return Err(format!("unknown input format {other:?}")),
            },
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            on_error: match self.on_error.as_str() {
                "stop" => OnError::Stop,
                "skip" => OnError::Skip,
                other => return Err(format!("unknown on-error mode {other:?}")),
            },
            max_doc_bytes: self.max_doc_bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_round_trip_as_text_or_bytes() {
        let p = RawPath(PathBuf::from("a/文件.txt"));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, "\"a/文件.txt\"");
        assert_eq!(serde_json::from_str::<RawPath>(&json).unwrap(), p);
        #[cfg(unix)]
        {
            let bad = RawPath(path_from_bytes(b"bad\xff.txt".to_vec()));
            let json = serde_json::to_string(&bad).unwrap();
            assert!(json.starts_with('['), "{json}");
            assert_eq!(serde_json::from_str::<RawPath>(&json).unwrap(), bad);
        }
    }
}
