//! WORK: the folder where a run keeps what it writes to disk between
//! stages, and the memory budget of the structures that can spill there.
//!
//! Takes [`WorkOptions`] (`--work DIR`, `--memory SIZE`) and a default
//! place ([`Placement`]); gives a [`WorkDir`]: unique paths for named
//! files, the bytes they hold on disk and the peak of that sum, and
//! cleanup.
//!
//! Ingest keeps there a decompressed copy of each gzip/zstd input, written
//! as it is read, so that later re-reads (verification, cluster members,
//! report diffs, clean) seek in plain bytes instead of decompressing the
//! input again; stages that spill to disk put their files there too.
//!
//! Lifetime: a folder of the run's own is made when the first file is
//! asked for, so a run that needs no disk (plain inputs) leaves no trace; a
//! folder the user named is made at once, for the stage files. A folder the run
//! made for itself (the default) is removed when the [`WorkDir`] is
//! dropped, whether the run succeeded or not, and holds no stage files: it
//! cannot be resumed. A folder the user named (`--work DIR`) also receives
//! the stage files of the run ([`crate::stage`], in `DIR/stages/`); it is
//! emptied of the run's files by [`WorkDir::finish`] on success and left as
//! it is on error or when the process is killed, so that the run can be
//! resumed (`--resume`) or what was written looked at. A run into a named
//! folder that holds an earlier run's stage files, without `--resume`,
//! starts afresh: it removes them, and the files the earlier run made there
//! (named `NNNN-…`), first.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Default memory budget: 1 GiB. With it, cleaning 300,000 generated
/// documents (1.06 GB) peaks at 1.8 GB, at about the speed of a budget that
/// holds every text; a 16 GB laptop keeps room for the structures that are
/// not spilled (about 700 bytes a document) and the page cache.
pub const DEFAULT_MEMORY: u64 = 1 << 30;

/// [`DEFAULT_MEMORY`] as `--memory` is written, for the command line's help.
pub const DEFAULT_MEMORY_ARG: &str = "1G";

/// Name of the default work folder inside a `clean` output folder.
pub const WORK_NAME: &str = ".neardup-work";

/// Where the work folder goes and how much memory spillable structures
/// may hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOptions {
    /// The folder (`--work`); `None` for a fresh one in the default place.
    pub dir: Option<PathBuf>,
    /// Memory budget in bytes of the structures that can spill to the
    /// work folder (`--memory`).
    pub memory: u64,
    /// Reuse the stages an earlier run finished in `dir` (`--resume`).
    pub resume: bool,
}

impl Default for WorkOptions {
    fn default() -> Self {
        WorkOptions {
            dir: None,
            memory: DEFAULT_MEMORY,
            resume: false,
        }
    }
}

/// Where the work folder goes when the user named none.
#[derive(Debug, Clone, Copy)]
pub enum Placement<'a> {
    /// A fresh folder under the system's temporary folder.
    Temp,
    /// [`WORK_NAME`] inside this folder (created if missing): `clean` puts
    /// it in its output folder, on the disk that receives the output.
    Inside(&'a Path),
}

/// A work folder in use. See the module docs for its lifetime.
#[derive(Debug)]
pub struct WorkDir {
    path: PathBuf,
    /// Chosen by the run, removed whole at the end.
    owned: bool,
    memory: u64,
    next: AtomicU64,
    used: AtomicU64,
    peak: AtomicU64,
    made: Mutex<Made>,
    finished: bool,
    /// Stage files, in a folder the user named.
    stages: Option<crate::stage::Stages>,
}

/// What the run has put on disk.
#[derive(Debug, Default)]
struct Made {
    /// The folder exists.
    folder: bool,
    /// The outermost folder this run created on the way to `path`; removed
    /// at the end when empty.
    created: Option<PathBuf>,
    /// Files handed out.
    files: Vec<PathBuf>,
}

impl WorkDir {
    /// Chooses the work folder; one of the run's own is made when the
    /// first file is asked for ([`WorkDir::file`]), one left in the default
    /// place of `clean` by a run that was killed being removed now. A
    /// folder the user named is made now, with its stage files
    /// ([`WorkDir::stages`]): an earlier run's are kept for `resume`, else
    /// removed with the files that run made there.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when such a leftover cannot be removed, or a fresh
    /// temporary folder cannot be made; [`Error::InvalidOption`] for
    /// `resume` without a folder.
    pub fn create(opts: &WorkOptions, default: Placement) -> Result<WorkDir> {
        if opts.resume && opts.dir.is_none() {
            return Err(Error::InvalidOption {
                name: "resume",
                reason: "needs --work DIR: the default work folder is removed after every run"
                    .into(),
            });
        }
        let (path, owned) = match (&opts.dir, default) {
            (Some(dir), _) => (dir.clone(), false),
            (None, Placement::Inside(parent)) => {
                let path = parent.join(WORK_NAME);
                // left behind by a run that was killed: ours to reuse
                if path.is_dir() {
                    std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
                }
                (path, true)
            }
            (None, Placement::Temp) => (fresh_temp_name(), true),
        };
        let mut made = Made::default();
        let stages = match owned {
            true => None,
            false => {
                let earlier = path.join(crate::stage::STAGES).is_dir();
                made.created = outermost_missing(&path);
                let stages = crate::stage::Stages::open(&path, opts.resume)?;
                made.folder = true;
                if earlier && !opts.resume {
                    sweep(&path, &[])?;
                }
                Some(stages)
            }
        };
        Ok(WorkDir {
            path,
            owned,
            memory: opts.memory,
            next: AtomicU64::new(0),
            used: AtomicU64::new(0),
            peak: AtomicU64::new(0),
            made: Mutex::new(made),
            finished: false,
            stages,
        })
    }

    /// The stage files of the run: in a folder the user named, not in one
    /// the run made for itself.
    pub fn stages(&self) -> Option<&crate::stage::Stages> {
        self.stages.as_ref()
    }

    /// Removes the files an earlier run made in the folder (named as
    /// [`WorkDir::file`] names them) but those in `keep`: what a resumed
    /// run does not reuse.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed.
    pub fn sweep(&self, keep: &[PathBuf]) -> Result<()> {
        let mine = self
            .made
            .lock()
            .map(|m| m.files.clone())
            .unwrap_or_default();
        let keep: Vec<PathBuf> = keep.iter().chain(&mine).cloned().collect();
        sweep(&self.path, &keep)
    }

    /// Takes over `path`, a file an earlier run made in the folder and this
    /// one reuses: counted on disk, and removed with the run's own files.
    pub fn adopt(&self, path: &Path) {
        let bytes = std::fs::metadata(path).map_or(0, |m| m.len());
        if let Ok(mut made) = self.made.lock() {
            made.files.push(path.to_path_buf());
        }
        self.record(bytes);
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the run made the folder for itself (and so removes it even
    /// after an error); `false` for a folder the user named.
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// The memory budget of spillable structures, in bytes.
    pub fn memory(&self) -> u64 {
        self.memory
    }

    /// A new path in the folder for a file called about `name` (a number
    /// is put in front, so two callers asking for the same name get two
    /// files), making the folder if needed. The file itself is the
    /// caller's to create; it is removed with the folder.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the folder cannot be made.
    pub fn file(&self, name: &str) -> Result<PathBuf> {
        let mut made = self.made.lock().map_err(|_| {
            Error::io(
                &self.path,
                std::io::Error::other("work folder lock poisoned"),
            )
        })?;
        if !made.folder {
            made.created = outermost_missing(&self.path);
            std::fs::create_dir_all(&self.path).map_err(|e| Error::io(&self.path, e))?;
            made.folder = true;
        }
        // A folder the user named may hold files of an earlier run.
        let path = loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let path = self.path.join(format!("{n:04}-{name}"));
            if !path.exists() {
                break path;
            }
        };
        made.files.push(path.clone());
        Ok(path)
    }

    /// Counts `bytes` more on disk.
    pub fn record(&self, bytes: u64) {
        let now = self.used.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak.fetch_max(now, Ordering::Relaxed);
    }

    /// Counts `bytes` less on disk (a file was removed or truncated).
    pub fn release(&self, bytes: u64) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(bytes))
            });
    }

    /// Bytes on disk now, as recorded.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// The most bytes on disk at any time, as recorded.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    /// Removes what the run wrote (the whole folder when the run made it)
    /// and gives the peak disk use.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when a file cannot be removed.
    pub fn finish(mut self) -> Result<u64> {
        self.finished = true;
        if let Some(st) = &self.stages {
            match std::fs::remove_dir_all(st.dir()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(st.dir(), e))
                }
                _ => {}
            }
        }
        self.remove(true)?;
        Ok(self.peak())
    }

    fn remove(&self, ours_too: bool) -> Result<()> {
        let (files, created) = match self.made.lock() {
            Ok(made) if made.folder => (made.files.clone(), made.created.clone()),
            _ => return Ok(()),
        };
        if self.owned {
            match std::fs::remove_dir_all(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(&self.path, e))
                }
                _ => {}
            }
        } else if ours_too {
            for f in files {
                match std::fs::remove_file(&f) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        return Err(Error::io(&f, e))
                    }
                    _ => {}
                }
            }
        }
        if self.owned || ours_too {
            if let Some(top) = &created {
                remove_empty_up_to(&self.path, top);
            }
        }
        Ok(())
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if !self.finished {
            // after an error: a folder the user named is kept for inspection
            let _ = self.remove(false);
        }
    }
}

/// A name under the system's temporary folder that no other run uses: the
/// process id is unique among running processes, and the time tells apart
/// two folders of one process.
fn fresh_temp_name() -> PathBuf {
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    std::env::temp_dir().join(format!(
        "neardup-work-{}-{:08x}-{}",
        std::process::id(),
        stamp,
        SERIAL.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Removes the files in `dir` named as [`WorkDir::file`] names them
/// (`NNNN-…`) but those in `keep`.
fn sweep(dir: &Path, keep: &[PathBuf]) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let ours = name.is_some_and(|n| {
            n.len() > 5 && n.as_bytes()[..4].iter().all(u8::is_ascii_digit) && &n[4..5] == "-"
        });
        if ours && path.is_file() && !keep.contains(&path) {
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

/// The outermost ancestor of `path` (or `path` itself) that does not exist.
fn outermost_missing(path: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut p = Some(path);
    while let Some(q) = p {
        if q.as_os_str().is_empty() || q.exists() {
            break;
        }
        missing = Some(q.to_path_buf());
        p = q.parent();
    }
    missing
}

/// Removes `path` and its parents up to `top` while they are empty.
fn remove_empty_up_to(path: &Path, top: &Path) {
    let mut p = Some(path);
    while let Some(q) = p {
        if !q.starts_with(top) || std::fs::remove_dir(q).is_err() && q.exists() {
            break;
        }
        if q == top {
            break;
        }
        p = q.parent();
    }
}

/// Parses a size such as `2G`, `512M`, `1.5GiB` or `1000000` (bytes).
/// Suffixes are binary: K = 1024 bytes, M, G and T likewise.
///
/// # Errors
///
/// [`Error::InvalidOption`] (named `name`) for anything else, or zero.
pub fn parse_size(name: &'static str, s: &str) -> Result<u64> {
    let bad = |reason: &str| Error::InvalidOption {
        name,
        reason: format!("{s:?}: {reason}"),
    };
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let number = upper
        .trim_end_matches("IB")
        .trim_end_matches('B')
        .trim_end();
    let (digits, shift) = match number.chars().last() {
        Some('K') => (&number[..number.len() - 1], 10),
        Some('M') => (&number[..number.len() - 1], 20),
        Some('G') => (&number[..number.len() - 1], 30),
        Some('T') => (&number[..number.len() - 1], 40),
        _ => (number, 0),
    };
    let value: f64 = digits
        .trim()
        .parse()
        .map_err(|_| bad("expected a size such as 2G, 512M or 1000000"))?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(bad("must be at least one byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_suffixes() {
        assert_eq!(parse_size("memory", "2G").unwrap(), 2 << 30);
        assert_eq!(parse_size("memory", "512M").unwrap(), 512 << 20);
        assert_eq!(parse_size("memory", "512mb").unwrap(), 512 << 20);
        assert_eq!(parse_size("memory", "1.5GiB").unwrap(), 3 << 29);
        assert_eq!(parse_size("memory", "64k").unwrap(), 64 << 10);
        assert_eq!(parse_size("memory", "1000").unwrap(), 1000);
        assert_eq!(
            parse_size("memory", DEFAULT_MEMORY_ARG).unwrap(),
            DEFAULT_MEMORY
        );
        for bad in ["", "G", "two", "0", "-1G", "1X"] {
            let err = parse_size("memory", bad).unwrap_err().to_string();
            assert!(err.starts_with("invalid option --memory"), "{bad}: {err}");
        }
    }

    #[test]
    fn peak_follows_records_and_releases() {
        let dir = tempfile::tempdir().unwrap();
        let opts = WorkOptions {
            dir: Some(dir.path().join("w")),
            ..WorkOptions::default()
        };
        let work = WorkDir::create(&opts, Placement::Temp).unwrap();
        work.record(100);
        work.record(50);
        work.release(120);
        work.record(10);
        assert_eq!((work.used(), work.peak()), (40, 150));
    }

    #[test]
    fn a_named_folder_is_kept_on_error_and_emptied_on_success() {
        let dir = tempfile::tempdir().unwrap();
        let named = dir.path().join("a/b");
        let opts = WorkOptions {
            dir: Some(named.clone()),
            ..WorkOptions::default()
        };
        let work = WorkDir::create(&opts, Placement::Temp).unwrap();
        let f = work.file("x.jsonl").unwrap();
        std::fs::write(&f, "x").unwrap();
        drop(work);
        assert!(f.exists(), "kept after an error");

        std::fs::write(named.join("mine.txt"), "user's").unwrap();
        // resumed, it keeps the earlier run's files
        let resumed = WorkOptions {
            resume: true,
            ..opts.clone()
        };
        let work = WorkDir::create(&resumed, Placement::Temp).unwrap();
        assert!(f.exists(), "kept for the resumed run");
        drop(work);

        // a fresh run removes what the earlier one made, not the user's files
        let work = WorkDir::create(&opts, Placement::Temp).unwrap();
        assert!(!f.exists(), "an earlier run's file is cleared");
        let g = work.file("x.jsonl").unwrap();
        std::fs::write(&g, "x").unwrap();
        work.finish().unwrap();
        assert!(!g.exists() && !named.join(crate::stage::STAGES).exists());
        // a file no run wrote stays, and with it the folder
        assert!(named.join("mine.txt").exists() && named.is_dir());
    }

    #[test]
    fn resume_needs_a_named_folder() {
        let opts = WorkOptions {
            resume: true,
            ..WorkOptions::default()
        };
        let err = WorkDir::create(&opts, Placement::Temp).unwrap_err();
        assert!(err.to_string().contains("--resume"), "{err}");
    }

    #[test]
    fn a_folder_of_our_own_goes_in_every_case() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let work = WorkDir::create(&WorkOptions::default(), Placement::Inside(&out)).unwrap();
        assert_eq!(work.path(), out.join(WORK_NAME));
        std::fs::write(work.file("y").unwrap(), "y").unwrap();
        drop(work);
        assert!(!out.exists(), "the output folder it made is gone too");

        let work = WorkDir::create(&WorkOptions::default(), Placement::Temp).unwrap();
        let path = work.path().to_path_buf();
        assert!(!path.exists(), "made only when a file is asked for");
        std::fs::write(work.file("z").unwrap(), "z").unwrap();
        assert_eq!(work.finish().unwrap(), 0);
        assert!(!path.exists());
    }
}
