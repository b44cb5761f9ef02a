//! Small helpers more than one stage needs: the rounding of the figures a
//! report or log shows, the two ways a path is made absolute, writing a
//! file so that it never appears half-written under its final name, and
//! cutting work into batches whose texts fit a memory budget, and loops
//! compiled for AVX2 where the CPU has it (`avx2_fn!`).
//!
//! Each lived in two or three places before and had begun to drift; one copy
//! keeps the report, the removal log and the manifest agreeing.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::fxhash::FxBuild;

/// Defines a function whose body runs compiled with AVX2 enabled where the
/// CPU has it (so the compiler vectorises its loops eight 32-bit lanes a
/// step) and as plain x86-64 or other code elsewhere: the one place of the
/// runtime check and its `unsafe` call. For loops written plainly for
/// the compiler to vectorise, returning nothing.
macro_rules! avx2_fn {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use avx2_fn;

/// `x` rounded to 4 decimals, as similarities and containments are shown
/// in reports and removal logs (stable digits, no float noise).
pub fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// `p` made absolute without touching the file system's links, as the
/// manifest records paths (what the user named, from the current folder).
/// `p` itself when there is no current folder.
pub fn absolute_path(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `p` with every link resolved, even when it does not exist yet (its
/// nearest existing ancestor is resolved and the rest appended): two paths
/// that name the same place compare equal, which is what "is the output
/// inside an input" needs.
pub fn canonical_path(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(n) => rest.push(n.to_os_string()),
            None => break,
        }
        if !existing.pop() {
            break;
        }
    }
    let mut base = if existing.as_os_str().is_empty() {
        std::env::current_dir().unwrap_or_default()
    } else {
        existing.canonicalize().unwrap_or(existing)
    };
    for n in rest.into_iter().rev() {
        base.push(n);
    }
    base
}

/// Whether `path` is a device or pipe (`/dev/stdout`, a FIFO): such a file
/// is written in place, as renaming over it would replace the node itself.
pub fn is_special(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// The hidden name a file is written under beside `path` before it is
/// renamed to `path` (beside it, since a rename cannot cross file systems).
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.neardup-tmp"))
}

/// Makes `path` whole or not at all: `write` fills the temporary file
/// [`temp_beside`] `path` (given its path), which is then renamed to `path`;
/// when `write` or the rename fails, the temporary file is removed and
/// `path` keeps what it held. The one temp/rename/cleanup of every output
/// and stage file; `io_err` turns a failed rename into the caller's error.
///
/// # Errors
///
/// `write`'s error, or the failed rename through `io_err`.
pub fn replace_via_temp<T, E>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<T, E>,
    io_err: impl FnOnce(io::Error) -> E,
) -> Result<T, E> {
    let tmp = temp_beside(path);
    let res = write(&tmp).and_then(|v| std::fs::rename(&tmp, path).map(|()| v).map_err(io_err));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Creates (or truncates) `path` and writes `body`, flushed to disk.
///
/// # Errors
///
/// The first failing create, write or sync.
pub fn write_synced(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(body)?;
    f.sync_all()
}

/// Writes `body` into an existing device or pipe ([`is_special`]).
///
/// # Errors
///
/// The failing open, write or flush.
pub fn write_in_place(path: &Path, body: &[u8]) -> io::Result<()> {
    let mut f = OpenOptions::new().write(true).truncate(true).open(path)?;
    f.write_all(body)?;
    f.flush()
}

/// Writes `path` through [`temp_beside`] and a rename, so that `path` holds
/// either its old content or all of `body`; a device or pipe is written in
/// place. The temporary file is removed on failure ([`write_atomic_with`]).
///
/// # Errors
///
/// The failing write, sync or rename.
pub fn write_atomic(path: &Path, body: &[u8]) -> io::Result<()> {
    write_atomic_with(path, |w| w.write_all(body))
}

/// [`write_atomic`] with the body written by `write` as it is made (a
/// report of tens of megabytes is never held whole): through a buffer into
/// the temporary file, synced, then renamed; a device or pipe is written
/// in place.
///
/// # Errors
///
/// The first failing write (`write`'s own included), sync or rename.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    if is_special(path) {
        let f = OpenOptions::new().write(true).truncate(true).open(path)?;
        let mut w = io::BufWriter::with_capacity(1 << 20, f);
        write(&mut w)?;
        return w.flush();
    }
    replace_via_temp(
        path,
        |tmp| {
            let mut w = io::BufWriter::with_capacity(1 << 20, File::create(tmp)?);
            write(&mut w)?;
            w.into_inner()
                .map_err(io::IntoInnerError::into_error)?
                .sync_all()
        },
        |e| e,
    )
}

/// Cuts `items` into consecutive batches by the documents they need:
/// `docs_of` pushes an item's documents, `cost(d)` is what holding the text
/// of document `d` costs, and a batch ends before the cost of its distinct
/// documents would pass `budget`. An item whose documents the batch already
/// holds always joins it, and an item alone may pass the budget (a large
/// document is still read, by itself). Calls `each(items, docs)` for every
/// batch in order, `docs` sorted and distinct.
///
/// The one batching rule of every stage that reads texts back (block
/// steps, document verification, clean's checks): results never depend on
/// where batches end, so a smaller budget only means more, smaller batches.
///
/// # Errors
///
/// The first error of `each`.
pub(crate) fn batches_by_cost<T, E>(
    items: &[T],
    budget: usize,
    mut docs_of: impl FnMut(&T, &mut Vec<u32>),
    cost: impl Fn(u32) -> usize,
    mut each: impl FnMut(&[T], &[u32]) -> Result<(), E>,
) -> Result<(), E> {
    // documents of the batch so far (Fx: this runs on the calling thread,
    // once for every item)
    let mut held: HashSet<u32, FxBuild> = HashSet::default();
    let mut docs: Vec<u32> = Vec::new();
    let mut mine: Vec<u32> = Vec::new();
    let (mut start, mut spent) = (0, 0usize);
    let mut flush = |batch: &[T], docs: &mut Vec<u32>, held: &mut HashSet<u32, FxBuild>| {
        docs.sort_unstable();
        let res = each(batch, docs);
        docs.clear();
        held.clear();
        res
    };
    for (i, item) in items.iter().enumerate() {
        mine.clear();
        docs_of(item, &mut mine);
        mine.sort_unstable();
        mine.dedup();
        let extra: usize = mine
            .iter()
            .filter(|d| !held.contains(*d))
            .map(|&d| cost(d))
            .sum();
        if i > start && extra > 0 && spent + extra > budget {
            flush(&items[start..i], &mut docs, &mut held)?;
            start = i;
            spent = 0;
        }
        for &d in &mine {
            if held.insert(d) {
                docs.push(d);
                spent += cost(d);
            }
        }
    }
    if start < items.len() {
        flush(&items[start..], &mut docs, &mut held)?;
    }
    Ok(())
}

/// The bytes of a path as the OS holds them (lossy only where paths are
/// not bytes), to store it exactly: in the manifest and stage files.
#[cfg(unix)]
pub(crate) fn path_bytes(p: &Path) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes().to_vec()
}

/// The bytes of a path as the OS holds them (lossy only where paths are
/// not bytes), to store it exactly: in the manifest and stage files.
#[cfg(not(unix))]
pub(crate) fn path_bytes(p: &Path) -> Vec<u8> {
    p.to_string_lossy().into_owned().into_bytes()
}

/// The path [`path_bytes`] gave `bytes` for.
#[cfg(unix)]
pub(crate) fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(std::ffi::OsString::from_vec(bytes))
}

/// The path [`path_bytes`] gave `bytes` for.
#[cfg(not(unix))]
pub(crate) fn path_from_bytes(bytes: Vec<u8>) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round4_keeps_four_decimals() {
        assert_eq!(round4(0.123_456), 0.1235);
        assert_eq!(round4(2.0 / 3.0), 0.6667);
        assert_eq!(round4(1.0), 1.0);
    }

    #[test]
    fn canonical_path_resolves_what_exists_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let real = canonical_path(dir.path());
        let later = dir.path().join("a/../b/c.txt");
        // `a` does not exist: nothing after it can be resolved, only kept
        assert_eq!(canonical_path(&later), real.join("a/../b/c.txt"));
        std::fs::create_dir(dir.path().join("b")).unwrap();
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("b"), dir.path().join("link")).unwrap();
            assert_eq!(
                canonical_path(&dir.path().join("link/new.txt")),
                real.join("b/new.txt")
            );
        }
    }

    #[test]
    fn a_report_written_as_made_appears_whole_or_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old").unwrap();
        // a writer that fails half-way leaves the old file and no temporary
        let failed = write_atomic_with(&path, |w| {
            w.write_all(b"half of a new")?;
            Err(io::Error::other("render failed"))
        });
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert!(!temp_beside(&path).exists());
        write_atomic_with(&path, |w| {
            w.write_all(b"new ")?;
            w.write_all(b"report")
        })
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new report");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn write_atomic_replaces_whole_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("report.json");
        std::fs::write(&path, "old and longer").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        assert!(!temp_beside(&path).exists());
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
        // a folder in the way: the write fails and nothing is left behind
        let blocked = dir.path().join("sub");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), "").unwrap();
        assert!(write_atomic(&blocked, b"body").is_err());
        assert!(!temp_beside(&blocked).exists());
    }

    #[test]
    fn batches_hold_each_item_once_in_order_within_the_budget() {
        // items name documents; document d costs d + 1
        let items: Vec<Vec<u32>> = vec![
            vec![1, 2],   // 5
            vec![2, 1],   // held already: joins for free
            vec![3],      // 5 + 4 = 9 <= 10
            vec![4],      // 9 + 5 > 10: a new batch
            vec![9],      // 10 alone: passes nothing, but 5 + 10 > 10
            vec![20, 20], // 21 alone passes the budget: a batch of its own
            vec![20],     // held: joins it though the batch is over budget
            vec![0],      // 1 more on an over-budget batch: a new batch
        ];
        let mut got: Vec<(usize, Vec<u32>)> = Vec::new();
        let mut seen = 0;
        batches_by_cost(
            &items,
            10,
            |it, v| v.extend(it),
            |d| d as usize + 1,
            |batch, docs| {
                assert!(std::ptr::eq(&batch[0], &items[seen]), "batches in order");
                seen += batch.len();
                got.push((batch.len(), docs.to_vec()));
                Ok::<(), ()>(())
            },
        )
        .unwrap();
        assert_eq!(seen, items.len());
        assert_eq!(
            got,
            vec![
                (3, vec![1, 2, 3]),
                (1, vec![4]),
                (1, vec![9]),
                (2, vec![20]),
                (1, vec![0]),
            ]
        );
        // the first error stops the walk
        let mut calls = 0;
        let res = batches_by_cost(
            &items,
            10,
            |it, v| v.extend(it),
            |d| d as usize + 1,
            |_, _| {
                calls += 1;
                Err("unreadable")
            },
        );
        assert_eq!((res, calls), (Err("unreadable"), 1));
    }
}
