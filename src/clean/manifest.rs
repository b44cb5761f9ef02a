//! The manifest `clean` leaves in its output folder, next to the removal
//! log: which inputs were read and how, and which output file each input
//! became. [`super::verify`] reads it to check the output again later.
//!
//! Paths are stored losslessly: as a string when they are UTF-8, as their
//! bytes otherwise (a scraped corpus may hold file names that are not), so
//! that `verify` finds the very files `clean` read and wrote.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::corpus::{EncodingChoice, Format, FormatChoice, IngestOptions, OnError};
use crate::util::{path_bytes, path_from_bytes};

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
    pub encoding: EncodingChoice,
    /// `--input-format`: `auto`, `text` or `jsonl`.
    pub input_format: FormatChoice,
    /// `--include` globs.
    pub include: Vec<String>,
    /// `--exclude` globs.
    pub exclude: Vec<String>,
    /// `--on-error`: `stop` or `skip`.
    pub on_error: OnError,
    /// `--max-doc-bytes`.
    pub max_doc_bytes: u64,
    /// `--threshold`: the least containment of a removed document.
    pub threshold: f64,
    /// `--block-threshold`: the least containment of a removed block copy.
    pub block_threshold: f64,
    /// `--mask-fold`, part of the normalisation containment is measured on.
    pub mask_fold: bool,
    /// `--reference` paths, made absolute: read again (before the inputs)
    /// so that removals whose kept copy is reference text can be checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reference: Vec<RawPath>,
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
    pub format: Format,
    /// Documents read from it.
    pub documents: usize,
    /// Its size on disk when it was cleaned; `None` for standard input.
    pub size: Option<u64>,
    /// A reference input (`--reference`): read, never written, nothing
    /// removed from it (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
}

impl ManifestOptions {
    /// Records the options of a run.
    pub fn new(ingest: &IngestOptions, scan: &crate::pipeline::ScanOptions) -> ManifestOptions {
        ManifestOptions {
            text_field: ingest.text_field.clone(),
            id_field: ingest.id_field.clone(),
            encoding: ingest.encoding,
            input_format: ingest.format,
            include: ingest.include.clone(),
            exclude: ingest.exclude.clone(),
            on_error: ingest.on_error,
            max_doc_bytes: ingest.max_doc_bytes,
            threshold: scan.threshold,
            block_threshold: scan.blocks.threshold,
            mask_fold: scan.normalize.mask_fold,
            reference: ingest
                .reference
                .iter()
                .map(|p| RawPath(absolute_reference(p)))
                .collect(),
        }
    }

    /// The ingest options these record.
    pub fn ingest(&self) -> IngestOptions {
        IngestOptions {
            text_field: self.text_field.clone(),
            id_field: self.id_field.clone(),
            encoding: self.encoding,
            format: self.input_format,
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            on_error: self.on_error,
            max_doc_bytes: self.max_doc_bytes,
            reference: self.reference.iter().map(|p| p.0.clone()).collect(),
            ..IngestOptions::default()
        }
    }
}

/// A reference path as the manifest records it: absolute, so that
/// `verify` run from elsewhere finds it (`-`, standard input, as it is).
fn absolute_reference(p: &Path) -> PathBuf {
    if p == Path::new("-") {
        p.to_path_buf()
    } else {
        crate::util::absolute_path(p)
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

    /// Manifests already written spell the options this way; they must read
    /// back as the same options, and a value no version writes must not.
    #[test]
    fn options_read_back_as_written() {
        let json = r#"{"text_field":"body","id_field":"id","encoding":"gb18030",
            "input_format":"jsonl","include":["*.jsonl"],"exclude":[],"on_error":"skip",
            "max_doc_bytes":1000,"threshold":0.8,"block_threshold":0.85,"mask_fold":true}"#;
        let o: ManifestOptions = serde_json::from_str(json).unwrap();
        let ingest = o.ingest();
        assert_eq!(ingest.encoding, EncodingChoice::Gb18030);
        assert_eq!(ingest.format, FormatChoice::Jsonl);
        assert_eq!(ingest.on_error, OnError::Skip);
        assert_eq!(ingest.text_field, "body");
        let again: serde_json::Value = serde_json::to_value(&o).unwrap();
        assert_eq!(
            again,
            serde_json::from_str::<serde_json::Value>(json).unwrap()
        );
        let bad = json.replace("\"skip\"", "\"retry\"");
        let err = serde_json::from_str::<ManifestOptions>(&bad).unwrap_err();
        assert!(err.to_string().contains("retry"), "{err}");
    }
}
