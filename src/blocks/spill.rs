//! SPILL: the block fingerprints of the whole corpus, in memory while they
//! fit the budget, else in hash partitions on disk.
//!
//! Takes `(hash, doc, pos)` fingerprints a batch of documents at a time;
//! gives them back one partition at a time, each holding every occurrence
//! of the hashes it covers (partitions split the hash range into
//! consecutive intervals, so visiting them in order visits the hashes in
//! sorted order, as one sorted vector would). The intervals are not equal:
//! a fingerprint is the smallest of a window of hashes, so low hashes are
//! far more common than high ones ([`bounds`]). A partition file is 16
//! bytes a fingerprint (hash, document, position; little-endian), written to the run's work
//! folder and removed once read. About `2 / (w + 1)` fingerprints a
//! character (0.22 at the defaults): 3.5 bytes of fingerprint a character.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::work::WorkDir;

/// One fingerprint: hash, document, position.
pub(super) type Fp = (u64, u32, u32);

const RECORD: usize = 16;

/// Bytes of a partition file read and decoded at a time.
const READ_SLICE: usize = 8 << 20;

/// A partition file: its path, writer and bytes written.
type Part = (PathBuf, BufWriter<File>, u64);

/// Fingerprints encoded at a time when spilling (16 bytes each).
const ROUND: usize = 1 << 22;

/// Where fingerprints go.
pub(super) enum Sink<'w> {
    /// All in memory.
    Memory(Vec<Fp>),
    /// In partition files, one more than `bounds` (partition `i` holds the
    /// hashes from `bounds[i - 1]` up to, not including, `bounds[i]`).
    Disk {
        work: &'w WorkDir,
        bounds: Vec<u64>,
        files: Vec<Part>,
    },
}

impl<'w> Sink<'w> {
    /// A sink for about `expected` fingerprints, each the smallest hash of
    /// a window of `window` (see [`bounds`]): in memory when their bytes
    /// fit `budget` (or there is no work folder), else on disk in enough
    /// partitions that each fits it.
    pub(super) fn new(
        expected: usize,
        window: usize,
        budget: usize,
        work: Option<&'w WorkDir>,
    ) -> Result<Sink<'w>> {
        let bytes = expected.saturating_mul(RECORD);
        let work = match work {
            Some(w) if bytes > budget.max(1) => w,
            _ => return Ok(Sink::Memory(Vec::with_capacity(expected))),
        };
        let parts = bytes
            .div_ceil(budget.max(1))
            .next_power_of_two()
            .clamp(2, 1 << 12);
        let bounds = bounds(parts, window);
        let files = (0..=bounds.len())
            .map(|i| {
                let path = work.file(&format!("fingerprints-{i:04}.bin"))?;
                let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
                Ok((path, BufWriter::with_capacity(1 << 16, f), 0))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sink::Disk {
            work,
            bounds,
            files,
        })
    }

    /// Adds the fingerprints of a batch of documents, `per_doc` in document
    /// order. On disk they go in rounds of at most [`ROUND`] fingerprints
    /// (a large document's in several): each round's records are encoded
    /// by several tasks and each partition file is written by a task of its
    /// own. Written one record at a time on the calling thread, this was most
    /// of the block stage's serial time. The order of records inside a
    /// partition does not matter: each is sorted when drained.
    pub(super) fn push_batch(&mut self, per_doc: &[Vec<Fp>]) -> Result<()> {
        match self {
            Sink::Memory(v) => {
                for fps in per_doc {
                    v.extend_from_slice(fps);
                }
            }
            Sink::Disk {
                work,
                bounds,
                files,
            } => {
                let mut round: Vec<&[Fp]> = Vec::new();
                let mut held = 0;
                for piece in per_doc.iter().flat_map(|fps| fps.chunks(ROUND)) {
                    if held + piece.len() > ROUND {
                        write_round(&round, bounds, files)?;
                        round.clear();
                        held = 0;
                    }
                    round.push(piece);
                    held += piece.len();
                }
                write_round(&round, bounds, files)?;
                let total: usize = per_doc.iter().map(Vec::len).sum();
                work.record((total * RECORD) as u64);
            }
        }
        Ok(())
    }

    /// Calls `f` on each partition, in hash order.
    pub(super) fn drain<F>(self, mut f: F) -> Result<()>
    where
        F: FnMut(Vec<Fp>) -> Result<()>,
    {
        match self {
            Sink::Memory(v) => f(v),
            Sink::Disk { work, files, .. } => {
                let mut done = Vec::new();
                for (path, w, n) in files {
                    let file = w
                        .into_inner()
                        .map_err(|e| Error::io(&path, e.into_error()))?;
                    drop(file);
                    done.push((path, n));
                }
                for (path, n) in done {
                    let part = read_part(&path, n)?;
                    let _ = std::fs::remove_file(&path);
                    work.release(n);
                    f(part)?;
                }
                Ok(())
            }
        }
    }
}

/// Where `parts` partitions of winnowed fingerprints cut the hash range,
/// sorted: `parts - 1` hashes, each partition holding about as many
/// fingerprints as the next.
///
/// A fingerprint is the smallest hash of some window of `window` grams, so
/// low hashes are picked far more often than high ones: partitions cut at
/// equal hashes held 27% of the fingerprints in the first of 16 and almost
/// none in the last four (1M documents: 47 million fingerprints, 750 MB,
/// in the first partition against a budget of 256 MB). For uniform gram
/// hashes, a gram whose hash is `x * 2^64` is picked when the grams with larger hashes on
/// either side of it number `w - 1` together, with probability
/// `g(y) = y^n (1 + n (1 - y))`, `y = 1 - x`, `n = w - 1` (two geometric
/// runs); the cuts are where the share of picked hashes above them,
/// `∫0^y g / ∫0^1 g`, falls to `1 - i / parts`. Any increasing cuts keep
/// hashes in order; these only balance the partitions.
fn bounds(parts: usize, window: usize) -> Vec<u64> {
    let n = window.max(1) as f64 - 1.0;
    // ∫0^y g, increasing on [0, 1] from 0 to 2 / (n + 2)
    let above = |y: f64| y.powf(n + 1.0) - n * y.powf(n + 2.0) / (n + 2.0);
    let all = above(1.0);
    let mut cuts: Vec<u64> = (1..parts)
        .map(|i| {
            let want = (1.0 - i as f64 / parts as f64) * all;
            let (mut lo, mut hi) = (0.0f64, 1.0f64);
            for _ in 0..64 {
                let mid = 0.5 * (lo + hi);
                if above(mid) < want {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            // `as` saturates: a cut past the range holds no hash
            ((1.0 - hi) * 2f64.powi(64)) as u64
        })
        .collect();
    // increasing in exact arithmetic; kept so whatever the rounding
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// Encodes `round` (pieces of fingerprints) by partition, a share of the
/// pieces per task, and appends each partition's records to its file.
fn write_round(round: &[&[Fp]], bounds: &[u64], files: &mut [Part]) -> Result<()> {
    if round.is_empty() {
        return Ok(());
    }
    let parts = files.len();
    let tasks = (rayon::current_num_threads() * 4).min(round.len());
    // encoded[task][partition]
    let encoded: Vec<Vec<Vec<u8>>> = round
        .par_chunks(round.len().div_ceil(tasks))
        .map(|pieces| {
            let mut out = vec![Vec::new(); parts];
            for &(h, d, p) in pieces.iter().copied().flatten() {
                let rec = &mut out[bounds.partition_point(|&b| b <= h)];
                rec.extend_from_slice(&h.to_le_bytes());
                rec.extend_from_slice(&d.to_le_bytes());
                rec.extend_from_slice(&p.to_le_bytes());
            }
            out
        })
        .collect();
    files
        .par_iter_mut()
        .enumerate()
        .try_for_each(|(i, (path, w, n))| {
            for task in &encoded {
                w.write_all(&task[i]).map_err(|e| Error::io(path, e))?;
                *n += task[i].len() as u64;
            }
            Ok(())
        })
}

/// A partition file back as fingerprints: read in slices of
/// [`READ_SLICE`] bytes, each decoded in parallel straight into the result.
fn read_part(path: &PathBuf, bytes: u64) -> Result<Vec<Fp>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let n = (bytes as usize) / RECORD;
    let mut out: Vec<Fp> = Vec::with_capacity(n);
    let mut buf = vec![0u8; READ_SLICE.min(n * RECORD)];
    while out.len() < n {
        let len = buf.len().min((n - out.len()) * RECORD);
        file.read_exact(&mut buf[..len])
            .map_err(|e| Error::io(path, e))?;
        out.par_extend(buf[..len].par_chunks_exact(RECORD).map(|r| {
            let word = |at: usize| u32::from_le_bytes([r[at], r[at + 1], r[at + 2], r[at + 3]]);
            let h = u64::from(word(0)) | u64::from(word(4)) << 32;
            (h, word(8), word(12))
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_of_winnowed_fingerprints_hold_about_as_many_each() {
        // fingerprints as winnowing picks them: the rightmost minimum of
        // every window of 8 pseudo-random gram hashes
        let hashes: Vec<u64> = (0..400_000u32)
            .map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))
            .collect();
        let mut picked = Vec::new();
        for w in hashes.windows(8) {
            let m = *w.iter().min().unwrap_or(&0);
            if picked.last() != Some(&m) {
                picked.push(m);
            }
        }
        let count = |cuts: &[u64]| {
            let mut count = vec![0usize; cuts.len() + 1];
            for &h in &picked {
                count[cuts.partition_point(|&b| b <= h)] += 1;
            }
            count
        };
        for parts in [2, 16, 256] {
            let cuts = bounds(parts, 8);
            assert_eq!(cuts.len(), parts - 1);
            assert!(cuts.windows(2).all(|c| c[0] < c[1]), "cuts increase");
            let count = count(&cuts);
            let mean = picked.len() / parts;
            let (lo, hi) = (count.iter().min(), count.iter().max());
            assert!(
                lo.is_some_and(|&n| n * 10 > mean * 7) && hi.is_some_and(|&n| n * 10 < mean * 13),
                "{parts} partitions: {count:?}"
            );
        }
        // what equal cuts of the hash range did: a quarter in the first of 16
        let equal: Vec<u64> = (1..16u64).map(|i| i << 60).collect();
        assert!(count(&equal)[0] * 16 > picked.len() * 4);
    }
}
