//! SPILL: the block fingerprints of the whole corpus, in memory while they
//! fit the budget, else in hash partitions on disk.
//!
//! Takes `(hash, doc, pos)` fingerprints a batch of documents at a time;
//! gives them back one partition at a time, each holding every occurrence
//! of the hashes it covers (partitions split the hash range by its top
//! bits, so visiting them in order visits the hashes in sorted order, as
//! one sorted vector would). A partition file is 16 bytes a fingerprint
//! (hash, document, position; little-endian), written to the run's work
//! folder and removed once read. About `2 / (w + 1)` fingerprints a
//! character (0.22 at the defaults): 3.5 bytes of fingerprint a character.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use crate::error::{Error, Result};
use crate::work::WorkDir;

/// One fingerprint: hash, document, position.
pub(super) type Fp = (u64, u32, u32);

const RECORD: usize = 16;

/// Where fingerprints go.
pub(super) enum Sink<'w> {
    /// All in memory.
    Memory(Vec<Fp>),
    /// In `2^bits` partition files.
    Disk {
        work: &'w WorkDir,
        bits: u32,
        files: Vec<(PathBuf, BufWriter<File>, u64)>,
    },
}

impl<'w> Sink<'w> {
    /// A sink for about `expected` fingerprints: in memory when their bytes
    /// fit `budget` (or there is no work folder), else on disk in enough
    /// partitions that each fits it.
    pub(super) fn new(
        expected: usize,
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
        let bits = parts.trailing_zeros();
        let files = (0..parts)
            .map(|i| {
                let path = work.file(&format!("fingerprints-{i:04}.bin"))?;
                let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
                Ok((path, BufWriter::with_capacity(1 << 16, f), 0))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Sink::Disk { work, bits, files })
    }

    /// Adds fingerprints.
    pub(super) fn push(&mut self, fps: &[Fp]) -> Result<()> {
        match self {
            Sink::Memory(v) => v.extend_from_slice(fps),
            Sink::Disk { work, bits, files } => {
                for &(h, d, p) in fps {
                    let (path, w, n) = &mut files[(h >> (64 - *bits)) as usize];
                    let mut rec = [0u8; RECORD];
                    rec[..8].copy_from_slice(&h.to_le_bytes());
                    rec[8..12].copy_from_slice(&d.to_le_bytes());
                    rec[12..].copy_from_slice(&p.to_le_bytes());
                    w.write_all(&rec).map_err(|e| Error::io(path, e))?;
                    *n += RECORD as u64;
                }
                work.record((fps.len() * RECORD) as u64);
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

fn read_part(path: &PathBuf, bytes: u64) -> Result<Vec<Fp>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let n = (bytes as usize) / RECORD;
    let mut out = Vec::with_capacity(n);
    let mut rec = [0u8; RECORD];
    for _ in 0..n {
        r.read_exact(&mut rec).map_err(|e| Error::io(path, e))?;
        let h = u64::from_le_bytes(rec[..8].try_into().unwrap_or_default());
        let d = u32::from_le_bytes(rec[8..12].try_into().unwrap_or_default());
        let p = u32::from_le_bytes(rec[12..].try_into().unwrap_or_default());
        out.push((h, d, p));
    }
    Ok(out)
}
