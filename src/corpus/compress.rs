//! Compresses an output in the format of its input, on all cores, so
//! that writing a cleaned `.gz`/`.zst` costs little more than writing it
//! plain: [`Compressor`] takes the output as it is written (a cleaned file
//! is streamed, never built whole), [`compress`] a body held in memory.
//!
//! - gzip: the body is cut into fixed chunks compressed in parallel by
//!   libdeflate, each a whole gzip member; the members in order make the
//!   file (RFC 1952 allows several: gzip, zcat, pigz, Python's `gzip`,
//!   flate2's `MultiGzDecoder` and neardup read it whole; a reader that
//!   stops after the first member, like flate2's `GzDecoder`, does not).
//! - zstd: libzstd's own multithreaded compression, one frame.
//!
//! Chunk sizes and levels are fixed, so the bytes are the same at any
//! thread count and however the output is written in pieces (a streamed
//! zstd frame does not record its size, which is not known in advance).

use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

use super::Compression;
use crate::error::{Error, Result};

/// gzip level: libdeflate's 1. On a 73 MB cleaned output of the bench
/// corpus (1 MB chunks, one core) it writes 42.7 MB in about 0.9 s, the
/// size zlib-rs writes at level 2 in 2.1 s; libdeflate's level 6 saves 3%
/// more for twice the time, and zlib-rs's level 1 (static Huffman codes
/// only) writes 58 MB in 1.2 s.
pub const GZIP_LEVEL: i32 = 1;

/// zstd level: 1, the fastest standard level (215 MB in 1.4 s on the bench
/// corpus, against 178 MB in 2.7 s at the default level 3; the pure-Rust
/// encoder used before wrote at about this level too).
pub const ZSTD_LEVEL: i32 = 1;

/// Bytes deflated as one piece; large enough that the dictionary lost at
/// each cut costs little.
const GZIP_CHUNK: usize = 1 << 20;

/// Chunks deflated together (in parallel) by a streaming [`Compressor`]
/// (fewer in unit tests, which then cover several batches in little time:
/// the bytes do not depend on it).
const GZIP_BATCH: usize = if cfg!(test) { 3 } else { 32 };

/// Compresses `body` as `c`; `path` names the input in errors.
///
/// # Errors
///
/// [`Error::Io`] when the compressor fails.
pub fn compress(path: &Path, body: Vec<u8>, c: Compression) -> Result<Vec<u8>> {
    if c == Compression::None {
        return Ok(body);
    }
    let run = || {
        let out = Vec::with_capacity(body.len() / 3);
        let mut w = Compressor::new(out, c, Some(body.len() as u64))?;
        w.write_all(&body)?;
        w.finish()
    };
    run().map_err(|e| Error::io(path, e))
}

/// A writer that compresses what it is given as `c` into `W`, on all
/// cores; [`Compressor::finish`] ends the stream. Holds about
/// 64 MiB for gzip (a batch being filled, one being deflated), libzstd's
/// buffers for zstd.
pub struct Compressor<W: Write>(Inner<W>);

enum Inner<W: Write> {
    Plain(W),
    Gzip {
        out: W,
        /// Not yet compressed: always at least one byte once anything
        /// came, so that an empty stream is told from one that ended on a
        /// whole chunk (only the first is given an empty member).
        buf: Vec<u8>,
        /// The batch being deflated on the pool while the caller fills
        /// the next one.
        pending: Option<Pending>,
    },
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Compressor<W> {
    /// Starts a stream into `out`; `size`, when known, is recorded in a
    /// zstd frame.
    ///
    /// # Errors
    ///
    /// A write to `out` or the compressor's setup failed.
    pub fn new(out: W, c: Compression, size: Option<u64>) -> std::io::Result<Self> {
        Ok(Compressor(match c {
            Compression::None => Inner::Plain(out),
            Compression::Gzip => Inner::Gzip {
                out,
                buf: Vec::new(),
                pending: None,
            },
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                // Any worker count gives the same bytes; at least one, so
                // that the single-thread case takes the same code path.
                enc.multithread(rayon::current_num_threads().max(1) as u32)?;
                if size.is_some() {
                    enc.set_pledged_src_size(size)?;
                    enc.include_contentsize(true)?;
                }
                Inner::Zstd(enc)
            }
        }))
    }

    /// Ends the stream (the last gzip member, the zstd frame's end) and
    /// gives the writer back.
    ///
    /// # Errors
    ///
    /// A write failed.
    pub fn finish(self) -> std::io::Result<W> {
        match self.0 {
            Inner::Plain(out) => Ok(out),
            Inner::Gzip {
                mut out,
                buf,
                pending,
            } => {
                if let Some(p) = pending {
                    p.write(&mut out)?;
                }
                write_parts(&mut out, gzip_chunks(&buf, true))?;
                Ok(out)
            }
            Inner::Zstd(enc) => enc.finish(),
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Inner::Plain(out) => out.write(data),
            Inner::Gzip { out, buf, pending } => {
                buf.extend_from_slice(data);
                if buf.len() > GZIP_BATCH * GZIP_CHUNK {
                    // whole chunks, keeping at least one byte back
                    let n = (buf.len() - 1) / GZIP_CHUNK * GZIP_CHUNK;
                    let rest = buf[n..].to_vec();
                    buf.truncate(n);
                    let batch = std::mem::replace(buf, rest);
                    if let Some(p) = pending.take() {
                        p.write(out)?;
                    }
                    *pending = Some(Pending::start(batch));
                }
                Ok(data.len())
            }
            Inner::Zstd(enc) => enc.write(data),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.0 {
            Inner::Plain(out) | Inner::Gzip { out, .. } => out.flush(),
            Inner::Zstd(enc) => enc.flush(),
        }
    }
}

/// Compressed chunks (gzip members), in order.
type Parts = Vec<std::io::Result<Vec<u8>>>;

/// A batch of whole chunks compressed on the pool, in the background: the
/// writer fills the next batch meanwhile (on 2 cores, the time it spends
/// cutting lines is no longer time the pool waits).
struct Pending(std::sync::mpsc::Receiver<Parts>);

impl Pending {
    fn start(batch: Vec<u8>) -> Pending {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rayon::spawn(move || {
            let _ = tx.send(gzip_chunks(&batch, false));
        });
        Pending(rx)
    }

    /// Waits for the batch and writes it. A caller that is itself a
    /// worker of the pool runs pending work meanwhile (with one thread, the
    /// batch itself) rather than block it.
    fn write<W: Write>(self, out: &mut W) -> std::io::Result<()> {
        use std::sync::mpsc::TryRecvError;
        let stopped = || std::io::Error::other("the gzip compressor stopped");
        let parts = loop {
            match self.0.try_recv() {
                Ok(parts) => break parts,
                Err(TryRecvError::Disconnected) => return Err(stopped()),
                Err(TryRecvError::Empty) => {
                    if rayon::yield_now() != Some(rayon::Yield::Executed) {
                        // the batch is being deflated elsewhere
                        break self.0.recv().map_err(|_| stopped())?;
                    }
                }
            }
        };
        write_parts(out, parts)
    }
}

/// Compresses `body` in [`GZIP_CHUNK`] pieces in parallel, one gzip
/// member each; an empty body gives none, or one empty member if it is
/// the whole stream (`last`), so that the file is still gzip.
fn gzip_chunks(body: &[u8], last: bool) -> Parts {
    let chunks: Vec<&[u8]> = if body.is_empty() {
        if !last {
            return Vec::new();
        }
        vec![body]
    } else {
        body.chunks(GZIP_CHUNK).collect()
    };
    chunks.par_iter().map(|chunk| gzip(chunk)).collect()
}

/// Writes compressed chunks in order.
fn write_parts<W: Write>(out: &mut W, parts: Parts) -> std::io::Result<()> {
    for part in parts {
        out.write_all(&part?)?;
    }
    Ok(())
}

/// One chunk as a whole gzip member (libdeflate writes no name, no time
/// and an unknown OS: the bytes depend on the chunk and the level only).
fn gzip(chunk: &[u8]) -> std::io::Result<Vec<u8>> {
    use libdeflater::{CompressionLvl, Compressor};
    let level = CompressionLvl::new(GZIP_LEVEL)
        .map_err(|e| std::io::Error::other(format!("gzip level: {e:?}")))?;
    let mut c = Compressor::new(level);
    let mut out = vec![0; c.gzip_compress_bound(chunk.len())];
    let n = c
        .gzip_compress(chunk, &mut out)
        .map_err(|e| std::io::Error::other(format!("gzip: {e}")))?;
    out.truncate(n);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn body(n: usize) -> Vec<u8> {
        let mut next = crate::testutil::lcg(7);
        (0..n)
            .map(|i| {
                if i % 61 == 60 {
                    b'\n'
                } else {
                    b'a' + next(20) as u8
                }
            })
            .collect()
    }

    /// One member per chunk, read whole by gzip itself, flate2's
    /// multi-member decoder and neardup's own reader.
    #[test]
    fn gzip_of_several_chunks_is_read_whole_by_gzip_readers() {
        let p = Path::new("x.gz");
        for n in [0, 1, GZIP_CHUNK, 2 * GZIP_CHUNK + 12345] {
            let b = body(n);
            let gz = compress(p, b.clone(), Compression::Gzip).unwrap();
            let mut back = Vec::new();
            flate2::read::MultiGzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, b, "{n} bytes");
            let (c, ours) = crate::corpus::decompress::decompress(p, gz.clone(), u64::MAX).unwrap();
            assert_eq!((c, ours), (Compression::Gzip, b.clone()), "{n} bytes");
            // the single-member decoder reads the first chunk only
            let mut first = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut first)
                .unwrap();
            assert_eq!(first, b[..n.min(GZIP_CHUNK)], "{n} bytes");
            let mut gzip = std::process::Command::new("gzip")
                .arg("-dc")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("gzip runs");
            let mut stdin = gzip.stdin.take().unwrap();
            let feed = std::thread::spawn(move || stdin.write_all(&gz).unwrap());
            let out = gzip.wait_with_output().unwrap();
            feed.join().unwrap();
            assert!(out.status.success(), "{n} bytes: gzip -dc failed");
            assert_eq!(out.stdout, b, "{n} bytes: gzip -dc");
        }
    }

    #[test]
    fn streamed_output_is_the_whole_bodys_in_any_pieces() {
        let b = body(GZIP_BATCH * GZIP_CHUNK * 2 + 777);
        for c in [Compression::Gzip, Compression::Zstd] {
            let whole = compress(Path::new("x"), b.clone(), c).unwrap();
            let mut w = Compressor::new(Vec::new(), c, None).unwrap();
            for piece in b.chunks(100_003) {
                w.write_all(piece).unwrap();
            }
            let streamed = w.finish().unwrap();
            let back = |z: &[u8]| -> Vec<u8> {
                let mut v = Vec::new();
                match c {
                    Compression::Gzip => flate2::read::MultiGzDecoder::new(z).read_to_end(&mut v),
                    _ => zstd::stream::read::Decoder::new(z)
                        .unwrap()
                        .read_to_end(&mut v),
                }
                .unwrap();
                v
            };
            assert_eq!(back(&streamed), b, "{c:?}");
            if c == Compression::Gzip {
                // the same chunks, whatever the pieces written
                assert_eq!(streamed, whole);
            }
        }
    }

    /// A worker of a one-thread pool streaming a large body does not wait
    /// on itself.
    #[test]
    fn streams_from_inside_a_one_thread_pool() {
        let b = body(GZIP_BATCH * GZIP_CHUNK * 3);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let streamed = pool.install(|| {
            let mut w = Compressor::new(Vec::new(), Compression::Gzip, None).unwrap();
            for piece in b.chunks(1 << 20) {
                w.write_all(piece).unwrap();
            }
            w.finish().unwrap()
        });
        assert_eq!(
            streamed,
            compress(Path::new("x"), b, Compression::Gzip).unwrap()
        );
    }

    #[test]
    fn zstd_round_trips() {
        let b = body(3 * GZIP_CHUNK + 5);
        let z = compress(Path::new("x.zst"), b.clone(), Compression::Zstd).unwrap();
        assert!(z.len() < b.len());
        assert_eq!(zstd::decode_all(&z[..]).unwrap(), b);
    }
}
