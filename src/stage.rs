//! STAGE: what a finished stage leaves in the work folder, so that a run
//! killed later resumes from it (`--work DIR --resume`).
//!
//! Takes a stage's name, the parameters that define its output (a map from
//! the command line's flag names to their values), the inputs it read (the
//! input files' stamps, or the marker of the stage before it) and its
//! payload; gives, in `DIR/stages/`, a stage file and a marker, and on a
//! resumed run the payload back, or an error naming what changed.
//!
//! Stages and their files (`N` documents, `P` MinHash permutations):
//!
//! | stage       | file            | payload                                                 |
//! |-------------|-----------------|---------------------------------------------------------|
//! | `read`      | `read.bin`      | the inputs, per document its place, text length, id and sort key (no text), skipped inputs; text bytes; the sketches (length, exact hash, SimHash), then the `P` MinHash values of every document (left unread when the `documents` stage is reused). About `4·P + 60` bytes a document |
//! | `documents` | `documents.bin` | the document clusters (after the reference rule); the removed documents are those of their members at or above `--threshold` but the kept one, derived again |
//! | `blocks`    | `blocks.bin`    | the block clusters                                      |
//! | `plan`      | `plan.bin`      | clean's checked plan: the documents dropped, the cuts, the removal log's lines |
//! | `clean`     | (none)          | one marker per output file complete in the staging folder (`clean-NNNNNN.json`, by input) and one for the staged removal log (`clean-log.json`) |
//!
//! Layout of a stage file, little-endian: the magic `NDSTAGE\0`, the
//! format version ([`FORMAT`], u32), the stage's name (u32 length and
//! UTF-8), the parameters' hash (u64), the payload's length (u64), the
//! payload. Strings and byte strings are a u32 length then the bytes,
//! `Option`s a 0/1 byte then the value, floats their IEEE bits (so they
//! come back to the bit). The file is written under a temporary name,
//! flushed to disk and renamed; its marker (`NAME.json`) is written the
//! same way after it: a stage with a marker is complete.
//!
//! A marker holds the format version, the stage, its parameters as a
//! name→value map and their hash, the stamps of the input files (path,
//! size, modification time: the `read` stage's) and the id of the marker of
//! the stage it read, and the hash of those: its id. On `--resume`, a stage
//! whose marker matches in all of these is loaded instead of run; a marker
//! that differs is an error naming the option or input file that changed;
//! a stage without a marker is run. Options that cannot change the output
//! (threads, `--memory`, `--quiet`) are not parameters.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::xxh3_64;

use crate::corpus::IngestOptions;
use crate::error::{Error, Result};
use crate::pipeline::ScanOptions;

/// Version of the stage files' and markers' layout, and of what they
/// hold (3: diacritics fold in normalisation, so fingerprints of accented
/// text changed; 5: boilerplate keeps its fullest copy, so clusters and
/// plans changed); a work folder written with another one is not resumed.
pub const FORMAT: u32 = 5;

/// Name of the folder of stage files and markers inside the work folder.
pub const STAGES: &str = "stages";

const MAGIC: &[u8; 8] = b"NDSTAGE\0";

/// The stages, in order: a later one's parameters include an earlier one's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Read and sketch.
    Read,
    /// Document clusters.
    Documents,
    /// Block clusters.
    Blocks,
    /// Clean's plan (what it removes, every detection round).
    Plan,
    /// Clean's output files.
    Clean,
}

impl Stage {
    /// The stage's name, as files and messages give it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Documents => "documents",
            Stage::Blocks => "blocks",
            Stage::Plan => "plan",
            Stage::Clean => "clean",
        }
    }
}

impl Stage {
    /// The progress stage of writing its stage file (`save read`): what
    /// `NEARDUP_TIMINGS` times.
    pub fn saving(self) -> &'static str {
        match self {
            Stage::Read => "save read",
            Stage::Documents => "save documents",
            Stage::Blocks => "save blocks",
            Stage::Plan => "save plan",
            Stage::Clean => "save clean",
        }
    }
}

/// Parameters that define a stage's output: the command line's flag name
/// (`--min-block`; `INPUT` for the inputs) → its value.
pub type Params = BTreeMap<String, String>;

/// The parameters that define the output of `stage` of a scan: those of
/// the stages before it and its own ([`add_params`]).
pub fn scan_params(
    stage: Stage,
    paths: &[PathBuf],
    ingest: &IngestOptions,
    opts: &ScanOptions,
) -> Params {
    let list = |v: &[PathBuf]| -> String {
        v.iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut p = Params::new();
    let mut put = |k: &str, v: String| {
        p.insert(k.to_string(), v);
    };
    put("neardup", env!("CARGO_PKG_VERSION").to_string());
    put("INPUT", list(paths));
    put("--reference", list(&ingest.reference));
    put("--text-field", ingest.text_field.clone());
    put("--id-field", ingest.id_field.clone());
    put(
        "--encoding",
        format!("{:?}", ingest.encoding).to_lowercase(),
    );
    put(
        "--input-format",
        format!("{:?}", ingest.format).to_lowercase(),
    );
    put("--include", ingest.include.join(" "));
    put("--exclude", ingest.exclude.join(" "));
    put(
        "--on-error",
        format!("{:?}", ingest.on_error).to_lowercase(),
    );
    put("--max-doc-bytes", ingest.max_doc_bytes.to_string());
    put("--level", json(&opts.level));
    put("--method", json(&opts.method));
    put("--perms", opts.perms.to_string());
    put("--seed", opts.seed.to_string());
    put("--ngram", opt(opts.shingle.ngram));
    put("--mask-fold", opts.normalize.mask_fold.to_string());
    put(
        "--keep-by",
        opts.keep_by
            .as_ref()
            .map_or_else(String::new, |k| format!("{}:{}", k.field, json(&k.order))),
    );
    add_params(stage, &mut p, opts);
    p
}

/// Adds to `p` the parameters of the stages after reading, up to `stage`.
pub fn add_params(stage: Stage, p: &mut Params, opts: &ScanOptions) {
    let mut put = |k: &str, v: String| {
        p.insert(k.to_string(), v);
    };
    if stage >= Stage::Documents {
        put("--threshold", opts.threshold.to_string());
        put("--bands", opt(opts.lsh.map(|l| l.bands)));
        put("--rows", opt(opts.lsh.map(|l| l.rows)));
        put("--max-hamming", opts.max_hamming.to_string());
        put("--keep", json(&opts.keep));
    }
    if stage >= Stage::Blocks {
        let b = &opts.blocks;
        put("--min-block", b.min_block.to_string());
        put("--block-threshold", b.threshold.to_string());
        put("--boilerplate-docs", b.boilerplate_docs.to_string());
        put("--max-occurrences", b.max_occurrences.to_string());
        // the options no flag sets, should a library caller set them
        put("block options", format!("{b:?}"));
    }
}

/// The hash of `params` that markers record (16 hex digits): two command
/// lines whose parameters hash alike make the same stage files.
pub fn params_hash(params: &Params) -> String {
    hex(xxh3_64(&serde_json::to_vec(params).unwrap_or_default()))
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v)
        .unwrap_or_default()
        .trim_matches('"')
        .to_string()
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "default".to_string(), |v| v.to_string())
}

/// An input file as a marker records it: a change of size or
/// modification time means the file changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    /// The path as listed.
    pub path: String,
    /// Size in bytes.
    pub bytes: u64,
    /// Modification time: seconds and nanoseconds since the epoch.
    pub modified: [u64; 2],
}

/// The stamps of every file the inputs `paths` (and the references of
/// `ingest`) list, in reading order.
///
/// # Errors
///
/// A path that cannot be listed or a file whose metadata cannot be read.
pub fn stamps(paths: &[PathBuf], ingest: &IngestOptions) -> Result<Vec<Stamp>> {
    let all: Vec<PathBuf> = ingest.reference.iter().chain(paths).cloned().collect();
    let listing = crate::corpus::list_inputs(&all, ingest)?;
    listing
        .files
        .iter()
        .map(|f| stamp(&f.path))
        .collect::<Result<Vec<_>>>()
}

fn stamp(path: &Path) -> Result<Stamp> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or([0, 0], |d| [d.as_secs(), u64::from(d.subsec_nanos())]);
    Ok(Stamp {
        path: path.display().to_string(),
        bytes: meta.len(),
        modified,
    })
}

/// What a finished unit records (`NAME.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Marker {
    format: u32,
    stage: String,
    params: Params,
    params_hash: String,
    inputs: Vec<Stamp>,
    /// The id of the marker of the stage this one read.
    after: Option<String>,
    /// The hash of `inputs` and `after`.
    inputs_hash: String,
    /// Bytes of the stage file's payload, or of the output file.
    bytes: u64,
}

impl Marker {
    fn new(
        stage: &str,
        params: &Params,
        inputs: &[Stamp],
        after: Option<&str>,
        bytes: u64,
    ) -> Marker {
        let params_hash = params_hash(params);
        let mut h = serde_json::to_vec(inputs).unwrap_or_default();
        h.extend_from_slice(after.unwrap_or("").as_bytes());
        Marker {
            format: FORMAT,
            stage: stage.to_string(),
            params: params.clone(),
            params_hash,
            inputs: inputs.to_vec(),
            after: after.map(str::to_string),
            inputs_hash: hex(xxh3_64(&h)),
            bytes,
        }
    }

    /// The id later stages record as `after`.
    fn id(&self) -> String {
        hex(xxh3_64(
            format!("{}/{}/{}", self.stage, self.params_hash, self.inputs_hash).as_bytes(),
        ))
    }
}

fn hex(h: u64) -> String {
    format!("{h:016x}")
}

/// The stage files of a run in a work folder the user named: written as
/// stages finish, read back on `--resume`.
#[derive(Debug)]
pub struct Stages {
    dir: PathBuf,
    resume: bool,
    /// The id of the last stage loaded or saved: what the next one read.
    chain: Mutex<Option<String>>,
    reused: Mutex<Vec<String>>,
}

impl Stages {
    /// The stages of work folder `work`. Without `resume`, stage files of
    /// an earlier run are removed.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the folder cannot be made or cleared.
    pub fn open(work: &Path, resume: bool) -> Result<Stages> {
        let dir = work.join(STAGES);
        if !resume && dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(Stages {
            dir,
            resume,
            chain: Mutex::new(None),
            reused: Mutex::new(Vec::new()),
        })
    }

    /// The folder of stage files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether finished stages are reused.
    pub fn resuming(&self) -> bool {
        self.resume
    }

    /// The units reused so far, in order.
    pub fn reused(&self) -> Vec<String> {
        self.reused.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn chain(&self) -> Option<String> {
        self.chain.lock().ok().and_then(|c| c.clone())
    }

    fn set_chain(&self, id: String) {
        if let Ok(mut c) = self.chain.lock() {
            *c = Some(id);
        }
    }

    fn note_reused(&self, what: String) {
        if let Ok(mut r) = self.reused.lock() {
            r.push(what);
        }
    }

    /// Bytes on disk of stage `name`'s file (0 when it has none).
    pub fn file_bytes(&self, name: &str) -> u64 {
        std::fs::metadata(self.file_path(name)).map_or(0, |m| m.len())
    }

    fn marker_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn file_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.bin"))
    }

    /// The marker of unit `name` when resuming and it is there; an error
    /// when it does not match `want`.
    fn matching(&self, name: &str, want: &Marker) -> Result<Option<Marker>> {
        if !self.resume {
            return Ok(None);
        }
        let path = self.marker_path(name);
        let raw = match std::fs::read(&path) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&path, e)),
        };
        let old: Marker = serde_json::from_slice(&raw)
            .map_err(|e| self.refuse(format!("{}: unreadable marker: {e}", path.display())))?;
        if old.format != FORMAT {
            return Err(self.refuse(format!(
                "its {name} stage was written in format {}, this neardup writes {FORMAT}",
                old.format
            )));
        }
        if let Some(reason) = params_change(&old.params, &want.params) {
            return Err(self.refuse(reason));
        }
        if let Some(reason) = inputs_change(&old.inputs, &want.inputs) {
            return Err(self.refuse(reason));
        }
        if old.after != want.after || old.inputs_hash != want.inputs_hash {
            return Err(self.refuse(format!(
                "its {name} stage was made from other results of the stage before it"
            )));
        }
        Ok(Some(old))
    }

    /// A [`Error::Resume`] about this work folder.
    pub fn refuse(&self, reason: String) -> Error {
        Error::Resume {
            work: self.dir.parent().unwrap_or(&self.dir).display().to_string(),
            reason,
        }
    }

    /// Stage `name`'s payload, decoded by `decode`, when resuming and an
    /// earlier run finished it with the same `params` and `inputs` after
    /// the same stages; `None` when it has to run.
    ///
    /// # Errors
    ///
    /// [`Error::Resume`] naming the option or input that changed; a stage
    /// file that cannot be read or does not decode.
    pub fn load<T>(
        &self,
        name: &str,
        params: &Params,
        inputs: &[Stamp],
        decode: impl FnOnce(&mut Decoder) -> Result<T>,
    ) -> Result<Option<T>> {
        let want = Marker::new(name, params, inputs, self.chain().as_deref(), 0);
        let Some(old) = self.matching(name, &want)? else {
            return Ok(None);
        };
        let path = self.file_path(name);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let mut dec = Decoder {
            r: BufReader::with_capacity(1 << 20, file),
            path: path.clone(),
            left: u64::MAX,
        };
        let head = (|| -> Result<(Vec<u8>, u32, String, u64, u64)> {
            let magic = dec.bytes_n(MAGIC.len())?;
            let format = dec.u32()?;
            let stage = dec.str()?;
            let hash = dec.u64()?;
            let len = dec.u64()?;
            Ok((magic, format, stage, hash, len))
        })()?;
        let params_hash = u64::from_str_radix(&want.params_hash, 16).unwrap_or(0);
        if head.0 != MAGIC || head.1 != FORMAT || head.2 != name || head.3 != params_hash {
            return Err(dec.corrupt("header does not match its marker"));
        }
        if head.4 != old.bytes {
            return Err(dec.corrupt("payload length does not match its marker"));
        }
        dec.left = head.4;
        let value = decode(&mut dec)?;
        if dec.left != 0 {
            return Err(dec.corrupt("payload longer than what was read"));
        }
        self.set_chain(old.id());
        self.note_reused(name.to_string());
        Ok(Some(value))
    }

    /// Whether `stages` (name, parameters, inputs), each made from the one
    /// before it, the first from the last stage loaded or saved, would all
    /// be loaded: resuming, their markers are there and match. Lets a stage
    /// leave out of what it loads what only a reused stage needs.
    pub fn finished(&self, stages: &[(&str, &Params, &[Stamp])]) -> bool {
        let mut after = self.chain();
        for (name, params, inputs) in stages {
            let want = Marker::new(name, params, inputs, after.as_deref(), 0);
            match self.matching(name, &want) {
                Ok(Some(old)) if self.file_path(name).is_file() => after = Some(old.id()),
                _ => return false,
            }
        }
        true
    }

    /// Writes stage `name`'s payload (`encode`) and then its marker.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be written.
    pub fn save(
        &self,
        name: &str,
        params: &Params,
        inputs: &[Stamp],
        encode: impl FnOnce(&mut Encoder) -> std::io::Result<()>,
    ) -> Result<()> {
        let path = self.file_path(name);
        let params_hash = Marker::new(name, params, inputs, None, 0).params_hash;
        let written = |tmp: &Path| -> std::io::Result<u64> {
            let mut enc = Encoder {
                w: BufWriter::with_capacity(1 << 20, File::create(tmp)?),
                n: 0,
            };
            enc.raw(MAGIC)?;
            enc.u32(FORMAT)?;
            enc.str(name)?;
            enc.u64(u64::from_str_radix(&params_hash, 16).unwrap_or(0))?;
            // the payload's length, filled in once known
            enc.u64(0)?;
            let start = enc.n;
            encode(&mut enc)?;
            let len = enc.n - start;
            let mut file = enc.w.into_inner().map_err(|e| e.into_error())?;
            use std::io::{Seek, SeekFrom};
            file.seek(SeekFrom::Start(start - 8))?;
            file.write_all(&len.to_le_bytes())?;
            file.sync_all()?;
            Ok(len)
        };
        let bytes = crate::util::replace_via_temp(&path, written, |e| e)
            .map_err(|e| Error::io(&path, e))?;
        self.write_marker(name, params, inputs, bytes)
    }

    fn write_marker(
        &self,
        name: &str,
        params: &Params,
        inputs: &[Stamp],
        bytes: u64,
    ) -> Result<()> {
        let marker = Marker::new(name, params, inputs, self.chain().as_deref(), bytes);
        let path = self.marker_path(name);
        let mut body = serde_json::to_vec_pretty(&marker)
            .map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
        body.push(b'\n');
        crate::util::write_atomic(&path, &body).map_err(|e| Error::io(&path, e))?;
        if name.starts_with(Stage::Clean.name()) {
            return Ok(());
        }
        self.set_chain(marker.id());
        Ok(())
    }

    /// Whether unit `name` (an output file of `bytes` bytes, of the stage
    /// after the last one loaded or saved) was finished by an earlier run
    /// with the same `params`.
    ///
    /// # Errors
    ///
    /// [`Error::Resume`] naming the option that changed.
    pub fn done(&self, name: &str, params: &Params, bytes: Option<u64>) -> Result<bool> {
        let want = Marker::new(name, params, &[], self.chain().as_deref(), 0);
        let done = self
            .matching(name, &want)?
            .is_some_and(|old| Some(old.bytes) == bytes);
        if done {
            self.note_reused(name.to_string());
        }
        Ok(done)
    }

    /// The bytes unit `name` recorded when resuming and an earlier run
    /// marked it with the same `params`, whatever stages it followed (the
    /// caller checks those later with [`Stages::done`]).
    pub fn recorded(&self, name: &str, params: &Params) -> Option<u64> {
        let want = Marker::new(name, params, &[], None, 0);
        let raw = std::fs::read(self.marker_path(name)).ok()?;
        let old: Marker = serde_json::from_slice(&raw).ok()?;
        let same = self.resume && old.format == FORMAT && old.params_hash == want.params_hash;
        same.then_some(old.bytes)
    }

    /// Records unit `name` (an output file of `bytes` bytes) as finished.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the marker cannot be written.
    pub fn mark(&self, name: &str, params: &Params, bytes: u64) -> Result<()> {
        self.write_marker(name, params, &[], bytes)
    }
}

/// The first option whose value differs, as a sentence.
fn params_change(old: &Params, new: &Params) -> Option<String> {
    let (k, a, b) = param_change(old, new)?;
    Some(format!(
        "{k} was {a} in the work folder's run, is {b} now; run without --resume or with another --work"
    ))
}

/// The first parameter whose value differs between `old` and `new`: its
/// name and both values as a sentence shows them.
pub(crate) fn param_change(old: &Params, new: &Params) -> Option<(String, String, String)> {
    let keys: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter().find_map(|k| {
        let (a, b) = (old.get(k), new.get(k));
        (a != b).then(|| {
            let show = |v: Option<&String>| match v {
                None => "not set".to_string(),
                Some(v) if v.is_empty() => "not given".to_string(),
                Some(v) => v.clone(),
            };
            (k.clone(), show(a), show(b))
        })
    })
}

/// The first input file that is new, gone or changed, as a sentence.
fn inputs_change(old: &[Stamp], new: &[Stamp]) -> Option<String> {
    let tail = "; run without --resume or with another --work";
    for o in old {
        match new.iter().find(|n| n.path == o.path) {
            None => {
                return Some(format!(
                    "input {} was read by the work folder's run and is not an input now{tail}",
                    o.path
                ))
            }
            Some(n) if n != o => {
                return Some(format!(
                "input {} changed since the work folder's run (size or modification time){tail}",
                o.path
            ))
            }
            Some(_) => {}
        }
    }
    new.iter()
        .find(|n| !old.iter().any(|o| o.path == n.path))
        .map(|n| format!("input {} is new since the work folder's run{tail}", n.path))
}

/// Writes a stage file's payload: little-endian numbers, length-prefixed
/// strings.
pub struct Encoder {
    w: BufWriter<File>,
    n: u64,
}

#[allow(missing_docs)]
impl Encoder {
    pub fn raw(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.n += b.len() as u64;
        self.w.write_all(b)
    }
    pub fn u8(&mut self, v: u8) -> std::io::Result<()> {
        self.raw(&[v])
    }
    pub fn u32(&mut self, v: u32) -> std::io::Result<()> {
        self.raw(&v.to_le_bytes())
    }
    pub fn u64(&mut self, v: u64) -> std::io::Result<()> {
        self.raw(&v.to_le_bytes())
    }
    pub fn u128(&mut self, v: u128) -> std::io::Result<()> {
        self.raw(&v.to_le_bytes())
    }
    pub fn f64(&mut self, v: f64) -> std::io::Result<()> {
        self.u64(v.to_bits())
    }
    pub fn bool(&mut self, v: bool) -> std::io::Result<()> {
        self.u8(u8::from(v))
    }
    pub fn bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        let n = u32::try_from(b.len()).map_err(std::io::Error::other)?;
        self.u32(n)?;
        self.raw(b)
    }
    pub fn str(&mut self, s: &str) -> std::io::Result<()> {
        self.bytes(s.as_bytes())
    }
    pub fn path(&mut self, p: &Path) -> std::io::Result<()> {
        self.bytes(&path_bytes(p))
    }
    pub fn opt_u64(&mut self, v: Option<u64>) -> std::io::Result<()> {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1)?;
                self.u64(v)
            }
        }
    }
    pub fn opt_path(&mut self, p: Option<&Path>) -> std::io::Result<()> {
        match p {
            None => self.u8(0),
            Some(p) => {
                self.u8(1)?;
                self.path(p)
            }
        }
    }
    /// A count of items, as u64.
    pub fn len(&mut self, n: usize) -> std::io::Result<()> {
        self.u64(n as u64)
    }
}

/// Reads a stage file's payload back; every read is checked against the
/// payload's length, and a short or bad file is an error naming it.
pub struct Decoder {
    r: BufReader<File>,
    path: PathBuf,
    left: u64,
}

#[allow(missing_docs)]
impl Decoder {
    /// An error about this file.
    pub fn corrupt(&self, what: &str) -> Error {
        Error::io(
            &self.path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("damaged stage file ({what}); run without --resume"),
            ),
        )
    }
    fn take(&mut self, n: u64) -> Result<()> {
        if n > self.left {
            return Err(self.corrupt("shorter than its length"));
        }
        self.left -= n;
        Ok(())
    }
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<()> {
        self.take(buf.len() as u64)?;
        self.r.read_exact(buf).map_err(|e| Error::io(&self.path, e))
    }
    /// Passes over `n` bytes of the payload without reading them.
    pub fn skip(&mut self, n: u64) -> Result<()> {
        self.take(n)?;
        let n = i64::try_from(n).map_err(|_| self.corrupt("length past the end"))?;
        self.r
            .seek_relative(n)
            .map_err(|e| Error::io(&self.path, e))
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }
    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.array::<1>()?[0])
    }
    pub fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    pub fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    pub fn u128(&mut self) -> Result<u128> {
        Ok(u128::from_le_bytes(self.array()?))
    }
    pub fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    pub fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(self.corrupt("bad flag")),
        }
    }
    fn bytes_n(&mut self, n: usize) -> Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.fill(&mut b)?;
        Ok(b)
    }
    pub fn bytes(&mut self) -> Result<Vec<u8>> {
        let n = self.u32()? as usize;
        if n as u64 > self.left {
            return Err(self.corrupt("length past the end"));
        }
        self.bytes_n(n)
    }
    pub fn str(&mut self) -> Result<String> {
        let b = self.bytes()?;
        String::from_utf8(b).map_err(|_| self.corrupt("invalid UTF-8"))
    }
    pub fn path(&mut self) -> Result<PathBuf> {
        Ok(path_from_bytes(self.bytes()?))
    }
    pub fn opt_u64(&mut self) -> Result<Option<u64>> {
        Ok(if self.bool()? {
            Some(self.u64()?)
        } else {
            None
        })
    }
    pub fn opt_path(&mut self) -> Result<Option<PathBuf>> {
        Ok(if self.bool()? {
            Some(self.path()?)
        } else {
            None
        })
    }
    /// A count of items, checked against the bytes left (each item takes
    /// at least `min` bytes), so a damaged count cannot allocate wildly.
    pub fn len(&mut self, min: u64) -> Result<usize> {
        let n = self.u64()?;
        if n.saturating_mul(min.max(1)) > self.left {
            return Err(self.corrupt("count past the end"));
        }
        Ok(n as usize)
    }
}

// ---- payloads ------------------------------------------------------------

use crate::corpus::{
    Compression, Corpus, Document, Format, InputFile, Skipped, SortKey, TextEncoding,
};
use crate::report::{Cluster, ClusterKind, Member};
use crate::sketch::{Sketch, SketchKind, Sketches};
use crate::util::{path_bytes, path_from_bytes};

/// The kinds of [`Skipped`] inputs, to give their `&'static str` back.
const SKIP_KINDS: &[&str] = &[
    "unreadable input",
    "invalid text",
    "binary data",
    "empty input",
    "malformed JSONL record",
    "record without the text field",
    "cannot decompress",
    "unreadable Parquet file",
    "document too large",
];

/// Writes the document table of a corpus read without its texts.
pub(crate) fn encode_corpus(e: &mut Encoder, c: &Corpus) -> std::io::Result<()> {
    e.len(c.inputs.len())?;
    for i in &c.inputs {
        e.path(&i.path)?;
        e.path(&i.rel)?;
        e.opt_path(i.root.as_deref())?;
        e.u8(match i.format {
            Format::Text => 0,
            Format::Jsonl => 1,
            Format::Parquet => 2,
        })?;
        e.str(i.encoding.name())?;
        e.u64(i.bom as u64)?;
        e.u8(match i.compression {
            Compression::None => 0,
            Compression::Gzip => 1,
            Compression::Zstd => 2,
        })?;
        e.opt_path(i.decompressed.as_deref())?;
        e.bool(i.reference)?;
    }
    e.len(c.docs.len())?;
    for d in &c.docs {
        e.str(&d.id)?;
        e.u32(d.input as u32)?;
        e.opt_u64(d.record)?;
        e.u64(d.offset)?;
        e.u64(d.len as u64)?;
        match &d.sort_key {
            None => e.u8(0)?,
            Some(SortKey::Num(x)) => {
                e.u8(1)?;
                e.f64(*x)?;
            }
            Some(SortKey::Str(s)) => {
                e.u8(2)?;
                e.str(s)?;
            }
        }
    }
    e.len(c.skipped.len())?;
    for s in &c.skipped {
        e.str(&s.path)?;
        e.str(&s.error)?;
        e.str(s.kind)?;
    }
    for list in [&c.binary, &c.repeated] {
        e.len(list.len())?;
        for p in list {
            e.path(p)?;
        }
    }
    Ok(())
}

/// Reads back what [`encode_corpus`] wrote; the documents' texts are empty.
pub(crate) fn decode_corpus(d: &mut Decoder) -> Result<Corpus> {
    let mut c = Corpus::default();
    let n = d.len(30)?;
    for _ in 0..n {
        let path = d.path()?;
        let rel = d.path()?;
        let root = d.opt_path()?;
        let format = match d.u8()? {
            0 => Format::Text,
            1 => Format::Jsonl,
            2 => Format::Parquet,
            _ => return Err(d.corrupt("bad format")),
        };
        let name = d.str()?;
        let encoding = TextEncoding::for_name(&name).ok_or_else(|| d.corrupt("bad encoding"))?;
        let bom = d.u64()? as usize;
        let compression = match d.u8()? {
            0 => Compression::None,
            1 => Compression::Gzip,
            2 => Compression::Zstd,
            _ => return Err(d.corrupt("bad compression")),
        };
        let decompressed = d.opt_path()?;
        let reference = d.bool()?;
        c.inputs.push(InputFile {
            path,
            rel,
            root,
            format,
            encoding,
            bom,
            compression,
            decompressed,
            reference,
        });
    }
    let n = d.len(18)?;
    c.docs.reserve_exact(n);
    for _ in 0..n {
        let id = d.str()?;
        let input = d.u32()? as usize;
        if input >= c.inputs.len() {
            return Err(d.corrupt("document of no input"));
        }
        let record = d.opt_u64()?;
        let offset = d.u64()?;
        let len = d.u64()? as usize;
        let sort_key = match d.u8()? {
            0 => None,
            1 => Some(SortKey::Num(d.f64()?)),
            2 => Some(SortKey::Str(d.str()?.into_boxed_str())),
            _ => return Err(d.corrupt("bad sort key")),
        };
        c.docs.push(Document {
            id,
            input,
            record,
            offset,
            sort_key,
            len,
            text: String::new(),
        });
    }
    let n = d.len(12)?;
    for _ in 0..n {
        let path = d.str()?;
        let error = d.str()?;
        let kind = d.str()?;
        let kind = SKIP_KINDS
            .iter()
            .find(|k| **k == kind)
            .copied()
            .unwrap_or("other error");
        c.skipped.push(Skipped { path, error, kind });
    }
    for list in [&mut c.binary, &mut c.repeated] {
        let n = d.len(4)?;
        for _ in 0..n {
            list.push(d.path()?);
        }
    }
    Ok(c)
}

/// Writes the sketches (when the scan made any) and the text sizes.
pub(crate) fn encode_sketches(
    e: &mut Encoder,
    sketches: Option<&Sketches>,
    sizes: &[u32],
) -> std::io::Result<()> {
    e.len(sizes.len())?;
    let mut buf = Vec::with_capacity(sizes.len() * 4);
    for s in sizes {
        buf.extend_from_slice(&s.to_le_bytes());
    }
    e.raw(&buf)?;
    let Some(sk) = sketches else {
        return e.u8(0);
    };
    e.u8(1)?;
    let perms = match sk.kind {
        SketchKind::MinHash { perms } => perms,
        SketchKind::SimHash => 0,
    };
    e.bool(matches!(sk.kind, SketchKind::MinHash { .. }))?;
    e.u64(perms as u64)?;
    e.len(sk.sketch.len())?;
    // Lengths and hashes of every document, then the signatures: a run
    // that reuses the documents stage skips those in one seek. A batch of
    // documents at a time: one write of many bytes.
    let mut buf = Vec::with_capacity(1 << 20);
    for s in &sk.sketch {
        buf.extend_from_slice(&s.len.to_le_bytes());
        buf.extend_from_slice(&s.exact.to_le_bytes());
        buf.extend_from_slice(&s.simhash.to_le_bytes());
        if buf.len() >= 1 << 20 {
            e.raw(&buf)?;
            buf.clear();
        }
    }
    for sig in &sk.sigs {
        for v in sig.iter() {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        if buf.len() >= 1 << 20 {
            e.raw(&buf)?;
            buf.clear();
        }
    }
    e.raw(&buf)
}

/// Reads back what [`encode_sketches`] wrote, for `docs` documents; the
/// MinHash signatures only when `sigs` (without them, the sketches hold
/// lengths and hashes only: ~32 bytes a document instead of ~`4·P + 50`).
pub(crate) fn decode_sketches(
    d: &mut Decoder,
    docs: usize,
    sigs: bool,
) -> Result<(Option<Sketches>, Vec<u32>)> {
    let n = d.len(4)?;
    if n != docs {
        return Err(d.corrupt("sizes of other documents"));
    }
    let mut raw = vec![0u8; n * 4];
    d.fill(&mut raw)?;
    let sizes: Vec<u32> = raw
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    if !d.bool()? {
        return Ok((None, sizes));
    }
    let minhash = d.bool()?;
    let perms = d.u64()? as usize;
    let kind = if minhash {
        SketchKind::MinHash { perms }
    } else {
        SketchKind::SimHash
    };
    let sig_len = if minhash { perms } else { 0 };
    let n = d.len(28 + 4 * sig_len as u64)?;
    if n != docs {
        return Err(d.corrupt("sketches of other documents"));
    }
    let mut sketch = Vec::with_capacity(n);
    let mut rec = [0u8; 28];
    for _ in 0..n {
        d.fill(&mut rec)?;
        let mut exact = [0u8; 16];
        exact.copy_from_slice(&rec[4..20]);
        let mut simhash = [0u8; 8];
        simhash.copy_from_slice(&rec[20..28]);
        sketch.push(Sketch {
            len: u32::from_le_bytes([rec[0], rec[1], rec[2], rec[3]]),
            exact: u128::from_le_bytes(exact),
            simhash: u64::from_le_bytes(simhash),
        });
    }
    let sig_bytes = 4 * sig_len;
    if !sigs {
        d.skip((n * sig_bytes) as u64)?;
        let sketches = Sketches {
            sketch,
            sigs: Vec::new(),
            profiles: Vec::new(),
            kind,
        };
        return Ok((Some(sketches), sizes));
    }
    let mut sigs = Vec::with_capacity(n);
    let mut rec = vec![0u8; sig_bytes];
    for _ in 0..n {
        d.fill(&mut rec)?;
        sigs.push(
            rec.chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        );
    }
    // the ideograph profiles are not kept: the documents stage does without
    let profiles = Vec::new();
    Ok((
        Some(Sketches {
            sketch,
            sigs,
            profiles,
            kind,
        }),
        sizes,
    ))
}

/// Writes clusters as the stages after reading give them: every field,
/// the members' document index and ranges too (diffs are attached later,
/// to the report, and are not written).
pub(crate) fn encode_clusters(e: &mut Encoder, clusters: &[Cluster]) -> std::io::Result<()> {
    e.len(clusters.len())?;
    for c in clusters {
        e.len(c.id)?;
        e.bool(c.kind == ClusterKind::Block)?;
        e.len(c.keep)?;
        e.len(c.chars)?;
        e.len(c.documents)?;
        e.bool(c.boilerplate)?;
        e.str(&c.keep_reason)?;
        e.f64(c.similarity[0])?;
        e.f64(c.similarity[1])?;
        e.bool(c.all_above_threshold)?;
        e.len(c.members.len())?;
        for m in &c.members {
            encode_place(e, &m.place)?;
            e.len(m.chars)?;
            e.f64(m.similarity)?;
            e.bool(m.containment.is_some())?;
            e.f64(m.containment.unwrap_or(0.0))?;
            e.str(&m.preview)?;
            e.bool(m.reference)?;
            e.len(m.doc_index)?;
            for r in [&m.text_range, &m.norm_range] {
                e.len(r.start)?;
                e.len(r.end)?;
            }
        }
    }
    Ok(())
}

/// Writes where a span is (a cluster member's, a removal's).
pub(crate) fn encode_place(e: &mut Encoder, p: &crate::place::Place) -> std::io::Result<()> {
    e.str(&p.doc)?;
    e.str(&p.path)?;
    e.opt_u64(p.record)?;
    for v in p.lines.iter().chain(&p.bytes) {
        e.u64(*v)?;
    }
    Ok(())
}

/// Reads back what [`encode_place`] wrote.
pub(crate) fn decode_place(d: &mut Decoder) -> Result<crate::place::Place> {
    Ok(crate::place::Place {
        doc: d.str()?,
        path: d.str()?,
        record: d.opt_u64()?,
        lines: [d.u64()?, d.u64()?],
        bytes: [d.u64()?, d.u64()?],
    })
}

/// Reads back what [`encode_clusters`] wrote, for a corpus of `docs`
/// documents.
pub(crate) fn decode_clusters(d: &mut Decoder, docs: usize) -> Result<Vec<Cluster>> {
    let n = d.len(60)?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let id = d.u64()? as usize;
        let kind = if d.bool()? {
            ClusterKind::Block
        } else {
            ClusterKind::Document
        };
        let keep = d.u64()? as usize;
        let chars = d.u64()? as usize;
        let documents = d.u64()? as usize;
        let boilerplate = d.bool()?;
        let keep_reason = d.str()?;
        let similarity = [d.f64()?, d.f64()?];
        let all_above_threshold = d.bool()?;
        let m = d.len(100)?;
        let mut members = Vec::with_capacity(m);
        for _ in 0..m {
            let place = decode_place(d)?;
            let chars = d.u64()? as usize;
            let similarity = d.f64()?;
            let has = d.bool()?;
            let c = d.f64()?;
            let preview = d.str()?;
            let reference = d.bool()?;
            let doc_index = d.u64()? as usize;
            if doc_index >= docs {
                return Err(d.corrupt("member of no document"));
            }
            let text_range = d.u64()? as usize..d.u64()? as usize;
            let norm_range = d.u64()? as usize..d.u64()? as usize;
            members.push(Member {
                place,
                chars,
                similarity,
                containment: has.then_some(c),
                preview,
                diff: None,
                reference,
                doc_index,
                text_range,
                norm_range,
            });
        }
        if keep >= members.len() {
            return Err(d.corrupt("kept member out of range"));
        }
        out.push(Cluster {
            id,
            kind,
            keep,
            chars,
            documents,
            boilerplate,
            keep_reason,
            similarity,
            all_above_threshold,
            members,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> (Vec<PathBuf>, IngestOptions, ScanOptions) {
        (
            vec![PathBuf::from("corpus.jsonl")],
            IngestOptions::default(),
            ScanOptions::default(),
        )
    }

    #[test]
    fn a_changed_option_is_named_with_both_values() {
        let (paths, ingest, mut scan) = opts();
        let old = scan_params(Stage::Blocks, &paths, &ingest, &scan);
        scan.blocks.min_block = 100;
        let new = scan_params(Stage::Blocks, &paths, &ingest, &scan);
        let msg = params_change(&old, &new).unwrap();
        assert!(
            msg.starts_with("--min-block was 200 in the work folder's run, is 100 now"),
            "{msg}"
        );
        // the read stage does not depend on it
        assert_eq!(
            scan_params(Stage::Read, &paths, &ingest, &scan),
            scan_params(Stage::Read, &paths, &ingest, &ScanOptions::default())
        );
    }

    #[test]
    fn stages_are_reused_only_when_resuming_with_the_same_parameters() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, ingest, scan) = opts();
        let params = scan_params(Stage::Read, &paths, &ingest, &scan);
        let stamps = vec![Stamp {
            path: "a".into(),
            bytes: 3,
            modified: [1, 2],
        }];
        let st = Stages::open(dir.path(), false).unwrap();
        st.save("read", &params, &stamps, |e| e.str("payload"))
            .unwrap();

        let st = Stages::open(dir.path(), true).unwrap();
        let got = st.load("read", &params, &stamps, |d| d.str()).unwrap();
        assert_eq!(got.as_deref(), Some("payload"));
        assert_eq!(st.reused(), vec!["read".to_string()]);

        let st = Stages::open(dir.path(), true).unwrap();
        let mut touched = stamps.clone();
        touched[0].modified[1] = 3;
        let err = st.load("read", &params, &touched, |d| d.str()).unwrap_err();
        assert!(err.to_string().contains("input a changed"), "{err}");

        // a fresh run clears the folder: nothing to resume
        Stages::open(dir.path(), false).unwrap();
        let st = Stages::open(dir.path(), true).unwrap();
        assert!(st
            .load("read", &params, &stamps, |d| d.str())
            .unwrap()
            .is_none());
    }

    /// Writes `encode`'s payload as stage `read` and reads it back.
    fn round_trip<T>(
        encode: impl FnOnce(&mut Encoder) -> std::io::Result<()>,
        decode: impl FnOnce(&mut Decoder) -> Result<T>,
    ) -> T {
        let dir = tempfile::tempdir().unwrap();
        let params = Params::new();
        Stages::open(dir.path(), false)
            .unwrap()
            .save("read", &params, &[], encode)
            .unwrap();
        let st = Stages::open(dir.path(), true).unwrap();
        st.load("read", &params, &[], decode).unwrap().unwrap()
    }

    #[test]
    fn the_document_table_and_sketches_come_back_whole() {
        let mut corpus = Corpus::from_texts(&["一二三四五六七八九十", "abc def ghi", ""]);
        let i = &mut corpus.inputs[1];
        i.format = Format::Jsonl;
        i.encoding = TextEncoding::for_name("gb18030").unwrap();
        i.compression = Compression::Zstd;
        i.decompressed = Some(PathBuf::from("work/0001-b.jsonl"));
        i.root = Some(PathBuf::from("in"));
        i.bom = 3;
        i.reference = true;
        corpus.docs[0].sort_key = Some(SortKey::Num(0.1 + 0.2));
        corpus.docs[1].sort_key = Some(SortKey::Str("2024-05-01".into()));
        corpus.docs[1].record = Some(7);
        corpus.docs[1].offset = 1234;
        corpus.skipped.push(Skipped {
            path: "bad.jsonl".into(),
            error: "bad.jsonl:3: malformed JSONL record: eof".into(),
            kind: "malformed JSONL record",
        });
        corpus.repeated.push(PathBuf::from("in/again.txt"));
        let opts = ScanOptions::default();
        let sk = crate::sketch::sketch_corpus(&corpus.docs, &opts, &crate::pipeline::NoProgress);
        let sizes = vec![30, 11, 0];
        let (back, (sketches, sizes_back)) = round_trip(
            |e| {
                encode_corpus(e, &corpus)?;
                encode_sketches(e, Some(&sk), &sizes)
            },
            |d| {
                let c = decode_corpus(d)?;
                let s = decode_sketches(d, c.docs.len(), true)?;
                Ok((c, s))
            },
        );
        for d in &mut corpus.docs {
            d.text.clear();
        }
        assert_eq!(format!("{back:?}"), format!("{corpus:?}"));
        let sketches = sketches.unwrap();
        assert_eq!(sizes_back, sizes);
        assert_eq!(sketches.kind, sk.kind);
        assert_eq!(sketches.sigs, sk.sigs);
        for (a, b) in sketches.sketch.iter().zip(&sk.sketch) {
            assert_eq!((a.len, a.exact, a.simhash), (b.len, b.exact, b.simhash));
        }

        // without the signatures: the same lengths and hashes, and what
        // follows them in the file is read where it is
        let (lean, after) = round_trip(
            |e| {
                encode_sketches(e, Some(&sk), &sizes)?;
                e.str("after")
            },
            |d| Ok((decode_sketches(d, 3, false)?, d.str()?)),
        );
        let lean = lean.0.unwrap();
        assert!(lean.sigs.is_empty() && after == "after");
        let hashes = |s: &Sketches| -> Vec<(u32, u128, u64)> {
            s.sketch
                .iter()
                .map(|a| (a.len, a.exact, a.simhash))
                .collect()
        };
        assert_eq!(hashes(&lean), hashes(&sketches));
    }

    #[test]
    fn clusters_come_back_whole() {
        let texts = crate::testutil::passage_texts();
        let corpus = Corpus::from_texts(&texts);
        let opts = ScanOptions {
            blocks: crate::blocks::BlockOptions {
                min_block: 50,
                ..Default::default()
            },
            ..Default::default()
        };
        let report = crate::pipeline::scan(&corpus, &opts, &crate::pipeline::NoProgress).unwrap();
        let kinds = |k| report.clusters.iter().filter(|c| c.kind == k).count();
        assert!(kinds(ClusterKind::Document) > 0 && kinds(ClusterKind::Block) > 0);
        let back = round_trip(
            |e| encode_clusters(e, &report.clusters),
            |d| decode_clusters(d, corpus.docs.len()),
        );
        assert_eq!(back, report.clusters);
    }

    #[test]
    fn a_damaged_stage_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let (paths, ingest, scan) = opts();
        let params = scan_params(Stage::Read, &paths, &ingest, &scan);
        let st = Stages::open(dir.path(), false).unwrap();
        st.save("read", &params, &[], |e| e.str("payload")).unwrap();
        let file = dir.path().join(STAGES).join("read.bin");
        let mut raw = std::fs::read(&file).unwrap();
        raw.truncate(raw.len() - 2);
        std::fs::write(&file, raw).unwrap();
        let st = Stages::open(dir.path(), true).unwrap();
        let err = st.load("read", &params, &[], |d| d.str()).unwrap_err();
        assert!(err.to_string().contains("read.bin"), "{err}");
    }
}
