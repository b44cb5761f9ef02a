//! Expands the paths a user gives into a sorted list of input files.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

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

/// Lists the files behind `paths`: files as given, folders walked
/// recursively in byte order of names (not directory order, so runs are
/// reproducible), symlinks followed with loop detection.
///
/// # Errors
///
/// A path that does not exist, a symlink loop, or an unreadable folder.
pub fn list_inputs(paths: &[PathBuf], opts: &IngestOptions) -> Result<Vec<Listed>> {
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
    Ok(out)
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
