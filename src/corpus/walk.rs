//! Expands the paths a user gives into a sorted list of input files.
//!
//! Takes the paths as given; gives the files to read in input order (the
//! order of the arguments, then sorted paths within each folder), each file
//! once even when two arguments overlap, with binary files of folder walks
//! left out and counted.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use rayon::prelude::*;

use super::IngestOptions;
use crate::error::{Error, Result};

/// One file to read and where it goes below a `clean` output folder.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The path to open.
    pub path: PathBuf,
    /// Its path relative to the folder it was found in (its file name if
    /// given directly).
    pub rel: PathBuf,
    /// The folder it was found in; `None` when given directly.
    pub root: Option<PathBuf>,
}

/// The files behind the paths a user gave.
#[derive(Debug, Default)]
pub struct Listing {
    /// The files to read, in input order.
    pub files: Vec<Listed>,
    /// Files of folder walks left out as binary (a NUL byte in their first
    /// 8 KiB, as ripgrep decides), in walk order.
    pub binary: Vec<PathBuf>,
    /// Files reached a second time through overlapping arguments
    /// (`corpus corpus/zh`), left out: each file is read once, under the
    /// first argument that reached it.
    pub repeated: Vec<PathBuf>,
}

/// How much of a walked file is looked at to tell binary from text.
const BINARY_PEEK: usize = 8 << 10;

/// Lists the files behind `paths`: files as given, folders walked
/// recursively in byte order of names (not directory order, so runs are
/// reproducible), symlinks followed with loop detection. A file reached
/// twice (same canonical path) is listed once; a walked file that looks
/// binary is left out (a file named directly is not: reading it reports the
/// error). When walked files of different folders would have the same
/// relative path, every walked file's relative path starts with its
/// folder's name, so that `clean` can write them all into one output.
///
/// # Errors
///
/// A path that does not exist, a symlink loop, or an unreadable folder.
pub fn list_inputs(paths: &[PathBuf], opts: &IngestOptions) -> Result<Listing> {
    let mut listing = list_all(paths, opts)?;
    // The syscalls per file (canonical path, first 8 KiB) run in parallel:
    // on a folder of many small files they cost as much as reading them.
    let probes: Vec<(PathBuf, bool)> = listing
        .files
        .par_iter()
        .map(|entry| {
            // A file that cannot be canonicalised keeps its path: reading
            // it reports why.
            let key = std::fs::canonicalize(&entry.path).unwrap_or_else(|_| entry.path.clone());
            (key, entry.root.is_some() && looks_binary(&entry.path))
        })
        .collect();
    let mut seen = HashSet::with_capacity(listing.files.len());
    let mut kept = Vec::with_capacity(listing.files.len());
    for (entry, (key, binary)) in std::mem::take(&mut listing.files).into_iter().zip(probes) {
        if entry.path != Path::new("-") && !seen.insert(key) {
            listing.repeated.push(entry.path);
            continue;
        }
        if binary {
            listing.binary.push(entry.path);
            continue;
        }
        kept.push(entry);
    }
    mirror_roots_on_collision(&mut kept);
    listing.files = kept;
    Ok(listing)
}

/// When two walked files of different folders share a relative path
/// (`dumpA/shard-0.jsonl`, `dumpB/shard-0.jsonl`), every walked file goes
/// below its folder's name instead (`dumpA/shard-0.jsonl`), as long as
/// those names differ; otherwise `clean` refuses the collision.
fn mirror_roots_on_collision(files: &mut [Listed]) {
    let mut rels = HashSet::with_capacity(files.len());
    let collide = files
        .iter()
        .filter(|f| f.root.is_some())
        .any(|f| !rels.insert(f.rel.clone()));
    if !collide {
        return;
    }
    let name = |root: &Path| {
        std::fs::canonicalize(root)
            .ok()
            .and_then(|c| c.file_name().map(PathBuf::from))
    };
    let mut roots: Vec<&PathBuf> = files.iter().filter_map(|f| f.root.as_ref()).collect();
    roots.dedup();
    let mut names = HashSet::with_capacity(roots.len());
    if !roots
        .iter()
        .all(|r| name(r).is_some_and(|n| names.insert(n)))
    {
        return;
    }
    for f in files.iter_mut() {
        if let Some(n) = f.root.as_deref().and_then(name) {
            f.rel = n.join(&f.rel);
        }
    }
}

/// A NUL byte in the first 8 KiB, unless the file starts like a compressed
/// stream or UTF-16 text (both hold NUL bytes and are read as text), or
/// like a Parquet file in a build that reads them.
fn looks_binary(path: &Path) -> bool {
    // Only regular files are opened: a FIFO would block, and reading any
    // other special file reports the error.
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = Vec::with_capacity(BINARY_PEEK);
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    if file
        .take(BINARY_PEEK as u64)
        .read_to_end(&mut head)
        .is_err()
    {
        return false;
    }
    if super::decompress::sniff(&head) != super::Compression::None
        || matches!(head.get(..2), Some([0xFF, 0xFE] | [0xFE, 0xFF]))
        || (cfg!(feature = "parquet") && head.starts_with(PARQUET_MAGIC))
    {
        return false;
    }
    memchr::memchr(0, &head).is_some()
}

fn list_all(paths: &[PathBuf], opts: &IngestOptions) -> Result<Listing> {
    let include = build_globs("include", &opts.include)?;
    let exclude = build_globs("exclude", &opts.exclude)?;
    let mut out = Vec::new();
    for path in paths {
        if path == Path::new("-") {
            out.push(Listed {
                path: path.clone(),
                rel: PathBuf::from("stdin"),
                root: None,
            });
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() {
            let rel = path
                .file_name()
                .map(PathBuf::from)
                .unwrap_or_else(|| path.clone());
            out.push(Listed {
                path: path.clone(),
                rel,
                root: None,
            });
            continue;
        }
        // Hidden folders (`.git`) are not entered at all.
        let walker = walkdir::WalkDir::new(path)
            .follow_links(true)
            .sort_by(|a, b| a.file_name().cmp(b.file_name()))
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_hidden(Path::new(e.file_name())));
        let wanted = |rel: &Path| {
            !is_hidden(rel)
                && include.as_ref().is_none_or(|inc| inc.is_match(rel))
                && !exclude.as_ref().is_some_and(|exc| exc.is_match(rel))
        };
        for entry in walker {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    // A broken entry that would not be read anyway is no
                    // reason to stop: a hidden one (an editor's lock file is
                    // a dangling `.#name` symlink), or a dangling symlink the
                    // globs leave out. Folders (loops, unreadable ones) may
                    // hold wanted files, so they always count.
                    if let Some(p) = e.path().filter(|_| e.depth() > 0) {
                        let rel = p.strip_prefix(path).unwrap_or(p);
                        let is_folder = e.loop_ancestor().is_some() || p.is_dir();
                        if is_hidden(rel) || (!is_folder && !wanted(rel)) {
                            continue;
                        }
                    }
                    let p = e.path().unwrap_or(path).to_path_buf();
                    let msg = if e.loop_ancestor().is_some() {
                        std::io::Error::other("symlink loop")
                    } else {
                        e.into_io_error()
                            .unwrap_or_else(|| std::io::Error::other("cannot walk"))
                    };
                    return Err(Error::io(&p, msg));
                }
            };
            if entry.file_type().is_dir() {
                continue;
            }
            let rel = entry
                .path()
                .strip_prefix(path)
                .unwrap_or(entry.path())
                .to_path_buf();
            if !wanted(&rel) {
                continue;
            }
            out.push(Listed {
                path: entry.path().to_path_buf(),
                rel,
                root: Some(path.clone()),
            });
        }
    }
    Ok(Listing {
        files: out,
        ..Listing::default()
    })
}

/// Dot files and dot folders (`.git`, editor swap files) are not corpus text.
fn is_hidden(rel: &Path) -> bool {
    rel.components().any(|c| {
        c.as_os_str()
            .to_str()
            .is_some_and(|s| s.starts_with('.') && s != "." && s != "..")
    })
}

fn build_globs(name: &'static str, globs: &[String]) -> Result<Option<GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut builder = GlobSetBuilder::new();
    for g in globs {
        let glob = Glob::new(g).map_err(|e| Error::InvalidOption {
            name,
            reason: e.to_string(),
        })?;
        builder.add(glob);
    }
    builder.build().map(Some).map_err(|e| Error::InvalidOption {
        name,
        reason: e.to_string(),
    })
}

/// The bytes a Parquet file starts (and ends) with.
const PARQUET_MAGIC: &[u8] = b"PAR1";

/// Whether `path` is a Parquet file: named `.parquet`, or a regular file
/// not named like JSONL that starts with the Parquet magic bytes.
pub fn looks_like_parquet(path: &Path) -> bool {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet"))
    {
        return true;
    }
    // only regular files are opened: a FIFO would block
    if looks_like_jsonl(path) || !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let mut head = [0u8; 4];
    std::fs::File::open(path)
        .is_ok_and(|mut f| f.read_exact(&mut head).is_ok() && head == PARQUET_MAGIC)
}

/// Whether a file name says JSONL (also under a `.gz`/`.zst` suffix).
pub fn looks_like_jsonl(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".zst"))
        .unwrap_or(&name);
    name.ends_with(".jsonl") || name.ends_with(".ndjson") || name.ends_with(".json")
}
