//! `neardup shards`: the inputs → a manifest of shards.
//!
//! Takes the input paths and the options of the clean to run; lists the
//! files exactly as `clean` does (same order, same names below the output
//! folder) and groups consecutive files into shards: a file is never split,
//! and a shard closes when the next file would take it past the size.
//! Gives the [`Manifest`] every later stage reads: the files of each shard
//! with their place below the output folder, the folder the paths are
//! relative to, and the parameters (with their hash) every stage checks
//! its own against. Holds the listing.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::clean::manifest::RawPath;
use crate::corpus::{list_inputs, IngestOptions, Listed, Listing};
use crate::error::{Error, Result};
use crate::pipeline::{Level, Method, ScanOptions};
use crate::stage::{self, Params, Stage};
use crate::util::absolute_path;

/// Version of the manifest's layout.
pub const VERSION: u32 = 1;

/// Default size of a shard: 256 MiB of input files.
pub const DEFAULT_SHARD_BYTES: u64 = 256 << 20;

/// The shards of a corpus and the parameters of the run (`MANIFEST.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// [`VERSION`].
    pub version: u32,
    /// Every option that defines the output, by flag name, as
    /// `neardup params scan` prints them (the inputs as given).
    pub params: Params,
    /// Their hash: what each stage's `_SUCCESS` holds.
    pub params_hash: String,
    /// The folder the inputs were given from: relative paths are read
    /// from there, and written as given (as `clean` writes them).
    pub cwd: RawPath,
    /// The inputs as given.
    pub inputs: Vec<RawPath>,
    /// The size a shard closes at.
    pub shard_bytes: u64,
    /// The shards, in reading order.
    pub shards: Vec<Shard>,
}

/// One shard: consecutive input files.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Shard {
    /// Its number, from 0.
    pub shard: usize,
    /// Its files, in reading order.
    pub files: Vec<File>,
    /// Their bytes on disk.
    pub bytes: u64,
}

/// An input file of a shard, as the listing gave it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct File {
    /// The path as given or walked.
    pub path: RawPath,
    /// Its path below the output folder.
    pub rel: RawPath,
    /// The folder it was found in, when walked.
    pub root: Option<RawPath>,
}

/// Refuses what the sharded path does not do (yet) the way one machine does.
///
/// # Errors
///
/// [`Error::InvalidOption`] naming the option.
pub fn supported(inputs: &[PathBuf], ingest: &IngestOptions, opts: &ScanOptions) -> Result<()> {
    let refuse = |name: &'static str, reason: &str| {
        Err(Error::InvalidOption {
            name,
            reason: format!("{reason} (not on the sharded path, for now)"),
        })
    };
    if cfg!(not(feature = "parquet")) {
        // every stage file an engine reads is Parquet
        return Err(crate::corpus::no_parquet(Path::new("the sharded path")));
    }
    if opts.level == Level::Block {
        // blocks among every document, duplicates too: not needed yet
        return refuse("level", "give --level all or doc");
    }
    if !ingest.reference.is_empty() {
        return refuse("reference", "reference inputs are not supported");
    }
    if opts.method == Method::SimHash {
        return refuse("method", "SimHash has no bands to group");
    }
    if inputs.iter().any(|p| p.as_os_str() == "-") {
        return refuse("INPUT", "standard input cannot be read by shard");
    }
    Ok(())
}

/// The parameters a run with these inputs and options records.
fn params_of(inputs: &[PathBuf], ingest: &IngestOptions, opts: &ScanOptions) -> Params {
    stage::scan_params(Stage::Blocks, inputs, ingest, opts)
}

/// Lists `inputs` as `clean` would and cuts them into shards of about
/// `shard_bytes`.
///
/// # Errors
///
/// An unsupported option ([`supported`]), a path that cannot be listed.
pub fn plan(
    inputs: &[PathBuf],
    ingest: &IngestOptions,
    opts: &ScanOptions,
    shard_bytes: u64,
) -> Result<Manifest> {
    supported(inputs, ingest, opts)?;
    opts.validate()?;
    let listing = list_inputs(inputs, ingest)?;
    let mut shards: Vec<Shard> = Vec::new();
    for f in listing.files {
        let bytes = std::fs::metadata(&f.path)
            .map_err(|e| Error::io(&f.path, e))?
            .len();
        let file = File {
            path: RawPath(f.path),
            rel: RawPath(f.rel),
            root: f.root.map(RawPath),
        };
        match shards.last_mut() {
            Some(s) if s.bytes + bytes <= shard_bytes => {
                s.bytes += bytes;
                s.files.push(file);
            }
            _ => shards.push(Shard {
                shard: shards.len(),
                files: vec![file],
                bytes,
            }),
        }
    }
    let params = params_of(inputs, ingest, opts);
    Ok(Manifest {
        version: VERSION,
        params_hash: stage::params_hash(&params),
        params,
        cwd: RawPath(absolute_path(Path::new("."))),
        inputs: inputs.iter().cloned().map(RawPath).collect(),
        shard_bytes,
        shards,
    })
}

impl Manifest {
    /// Reads a manifest.
    ///
    /// # Errors
    ///
    /// A file that cannot be read or is no manifest of this version.
    pub fn read(path: &Path) -> Result<Manifest> {
        let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let bad = |reason: String| Error::Stage {
            path: path.display().to_string(),
            reason,
        };
        let m: Manifest =
            serde_json::from_slice(&raw).map_err(|e| bad(format!("not a shard manifest: {e}")))?;
        if m.version != VERSION {
            return Err(bad(format!(
                "manifest version {}, this neardup reads {VERSION}",
                m.version
            )));
        }
        Ok(m)
    }

    /// Writes the manifest (atomically).
    ///
    /// # Errors
    ///
    /// A write that fails.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut body = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        body.push(b'\n');
        crate::util::write_atomic(path, &body).map_err(|e| Error::io(path, e))
    }

    /// The inputs as given.
    pub fn input_paths(&self) -> Vec<PathBuf> {
        self.inputs.iter().map(|p| p.0.clone()).collect()
    }

    /// Refuses a stage run with other options than the manifest's, naming
    /// the first that differs (`path` is the manifest's, for the message).
    ///
    /// # Errors
    ///
    /// [`Error::Stage`], or an unsupported option.
    pub fn check(&self, path: &Path, ingest: &IngestOptions, opts: &ScanOptions) -> Result<()> {
        let inputs = self.input_paths();
        supported(&inputs, ingest, opts)?;
        let now = params_of(&inputs, ingest, opts);
        match stage::param_change(&self.params, &now) {
            None => Ok(()),
            Some((k, was, is)) => Err(Error::Stage {
                path: path.display().to_string(),
                reason: format!(
                    "written with {k} {was}, this command has {is}; give every stage the options of `neardup shards`"
                ),
            }),
        }
    }

    /// Shard `n`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] when there is no such shard.
    pub fn shard(&self, n: usize) -> Result<&Shard> {
        self.shards.get(n).ok_or_else(|| Error::InvalidOption {
            name: "shard",
            reason: format!("{n} is not a shard: the manifest has {}", self.shards.len()),
        })
    }

    /// The listing of shard `n`'s files, for reading them.
    ///
    /// # Errors
    ///
    /// As [`Manifest::shard`].
    pub fn listing(&self, n: usize) -> Result<Listing> {
        Ok(Listing {
            files: self
                .shard(n)?
                .files
                .iter()
                .map(|f| Listed {
                    path: f.path.0.clone(),
                    rel: f.rel.0.clone(),
                    root: f.root.as_ref().map(|r| r.0.clone()),
                })
                .collect(),
            ..Listing::default()
        })
    }
}
