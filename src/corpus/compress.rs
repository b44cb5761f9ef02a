//! Compresses an output in the format of its input, on all cores, so
//! that writing a cleaned `.gz`/`.zst` costs little more than writing it
//! plain: [`Compressor`] takes the output as it is written (a cleaned file
//! is streamed, never built whole), [`compress`] a body held in memory.
//!
//! - gzip: the body is cut into fixed chunks deflated in parallel, each
//!   ended with a sync flush (byte-aligned, not final) except the last. One
//!   header, the chunks in order and one trailer (CRC-32 combined from the
//!   chunks') make a single gzip member, as pigz writes: any gzip reader
//!   takes it, not only those that read several members.
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

/// gzip level: 2. On the 315 MB bench corpus (zlib-rs, one core) level 6
/// writes 174 MB in 7.4 s, level 2 179 MB in 4.8 s, and level 1 247 MB in
/// 2.6 s: level 1 is zlib-rs's "quick" strategy (static Huffman codes
/// only), whose 40% larger output is not worth the time it saves.
pub const GZIP_LEVEL: u32 = 2;

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
        /// Not yet deflated: always at least one byte once anything came,
        /// so that the last chunk is only deflated by `finish`.
        buf: Vec<u8>,
        crc: crc32fast::Hasher,
        len: u64,
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
    pub fn new(mut out: W, c: Compression, size: Option<u64>) -> std::io::Result<Self> {
        Ok(Compressor(match c {
            Compression::None => Inner::Plain(out),
            Compression::Gzip => {
                // header: deflate, no flags, no time, unknown OS (as flate2 writes)
                out.write_all(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])?;
                Inner::Gzip {
                    out,
                    buf: Vec::new(),
                    crc: crc32fast::Hasher::new(),
                    len: 0,
                    pending: None,
                }
            }
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

    /// Ends the stream (the last gzip chunk and trailer, the zstd frame's
    /// end) and gives the writer back.
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
                mut crc,
                len,
                pending,
            } => {
                if let Some(p) = pending {
                    p.write(&mut out, &mut crc)?;
                }
                write_parts(&mut out, &mut crc, deflate_chunks(&buf, true))?;
                out.write_all(&crc.finalize().to_le_bytes())?;
                // ISIZE is the length modulo 2^32
                out.write_all(&(len as u32).to_le_bytes())?;
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
            Inner::Gzip {
                out,
                buf,
                crc,
                len,
                pending,
            } => {
                buf.extend_from_slice(data);
                *len += data.len() as u64;
                if buf.len() > GZIP_BATCH * GZIP_CHUNK {
                    // whole chunks, keeping at least one byte back
                    let n = (buf.len() - 1) / GZIP_CHUNK * GZIP_CHUNK;
                    let rest = buf[n..].to_vec();
                    buf.truncate(n);
                    let batch = std::mem::replace(buf, rest);
                    if let Some(p) = pending.take() {
                        p.write(out, crc)?;
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

/// Deflated chunks and the CRC-32 of each, in order.
type Parts = Vec<std::io::Result<(Vec<u8>, crc32fast::Hasher)>>;

/// A batch of whole chunks deflated on the pool, in the background: the
/// writer fills the next batch meanwhile (on 2 cores, the time it spends
/// cutting lines is no longer time the pool waits).
struct Pending(std::sync::mpsc::Receiver<Parts>);

impl Pending {
    fn start(batch: Vec<u8>) -> Pending {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        rayon::spawn(move || {
            let _ = tx.send(deflate_chunks(&batch, false));
        });
        Pending(rx)
    }

    /// Waits for the batch and writes it. A caller that is itself a
    /// worker of the pool runs pending work meanwhile (with one thread, the
    /// batch itself) rather than block it.
    fn write<W: Write>(self, out: &mut W, crc: &mut crc32fast::Hasher) -> std::io::Result<()> {
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
        write_parts(out, crc, parts)
    }
}

/// Deflates `body` in [`GZIP_CHUNK`] pieces in parallel, the last one
/// finished if `last` (an empty body is then one empty chunk).
fn deflate_chunks(body: &[u8], last: bool) -> Parts {
    let chunks: Vec<&[u8]> = if body.is_empty() {
        if !last {
            return Vec::new();
        }
        vec![body]
    } else {
        body.chunks(GZIP_CHUNK).collect()
    };
    let end = chunks.len() - 1;
    chunks
        .par_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut crc = crc32fast::Hasher::new();
            crc.update(chunk);
            Ok((deflate(chunk, last && i == end)?, crc))
        })
        .collect()
}

/// Writes deflated chunks in order, combining their CRC-32s into `crc`.
fn write_parts<W: Write>(
    out: &mut W,
    crc: &mut crc32fast::Hasher,
    parts: Parts,
) -> std::io::Result<()> {
    for part in parts {
        let (bytes, part_crc) = part?;
        out.write_all(&bytes)?;
        crc.combine(&part_crc);
    }
    Ok(())
}

/// Raw deflate of one chunk: ended by a sync flush, or finished if `last`.
fn deflate(chunk: &[u8], last: bool) -> std::io::Result<Vec<u8>> {
    use flate2::{Compress, FlushCompress, Status};
    let mut c = Compress::new(flate2::Compression::new(GZIP_LEVEL), false);
    let mut out = Vec::with_capacity(chunk.len() / 2 + 1024);
    let flush = if last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity());
        }
        let done = c.total_in() as usize;
        let status = c
            .compress_vec(&chunk[done..], &mut out, flush)
            .map_err(std::io::Error::other)?;
        let all_in = c.total_in() as usize == chunk.len();
        // a flush is complete once the compressor leaves room unused
        if status == Status::StreamEnd || (!last && all_in && out.len() < out.capacity()) {
            return Ok(out);
        }
    }
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

    #[test]
    fn gzip_of_several_chunks_is_one_member_any_reader_takes() {
        let p = Path::new("x.gz");
        for n in [0, 1, GZIP_CHUNK, 2 * GZIP_CHUNK + 12345] {
            let b = body(n);
            let gz = compress(p, b.clone(), Compression::Gzip).unwrap();
            // the single-member decoder stops after one member
            let mut back = Vec::new();
            flate2::read::GzDecoder::new(&gz[..])
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, b, "{n} bytes");
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
                    Compression::Gzip => flate2::read::GzDecoder::new(z).read_to_end(&mut v),
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
