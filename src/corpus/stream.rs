//! Reads JSONL files in bounded batches of lines, decompressing on the fly,
//! so that a corpus far larger than memory can be sketched: only one batch
//! of text is held at a time; the decompressed copy of a compressed file
//! goes to the work folder as it is read ([`Copy`]).
//!
//! Only UTF-8 (BOM optional) is streamed. A UTF-16 file, a forced GB18030
//! one, or a file whose first non-ASCII line is not UTF-8 (legacy encoding
//! to detect) is read whole instead, by the caller.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::decompress::{self, Compression};
use crate::error::{Error, Location, Result};
use crate::work::WorkDir;

/// One line of a JSONL file.
pub struct Line {
    /// 1-based line number.
    pub lineno: u64,
    /// Byte offset of the line in the (decompressed) file.
    pub offset: u64,
    /// The text, or why it cannot be read.
    pub text: Result<String>,
}

/// Why a file cannot be streamed.
pub enum NotStreamable {
    /// It needs whole-file decoding (UTF-16, GB18030 detection).
    WholeFile,
    /// It cannot be read at all.
    Error(Error),
}

impl From<Error> for NotStreamable {
    fn from(e: Error) -> Self {
        NotStreamable::Error(e)
    }
}

/// Batches of lines of one file.
pub struct LineReader {
    reader: Box<dyn BufRead + Send>,
    path: std::path::PathBuf,
    lineno: u64,
    offset: u64,
    cap: u64,
    all_ascii: bool,
    done: bool,
    compression: Compression,
    copy: Option<Arc<Mutex<Copy>>>,
}

/// The decompressed copy of one compressed input, made as it is read: a
/// file of the work folder. (Holding it in memory instead saved nothing
/// measurable, and cost its size in RSS: BENCHMARKS.md, session 9.)
pub(super) struct Copy {
    /// The file.
    to: PathBuf,
    out: BufWriter<File>,
    written: u64,
}

impl Copy {
    /// A copy written to `to`.
    fn new(to: PathBuf) -> std::io::Result<Copy> {
        let out = BufWriter::with_capacity(1 << 20, File::create(&to)?);
        Ok(Copy {
            to,
            out,
            written: 0,
        })
    }

    fn write(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    /// The finished copy: its file and size.
    ///
    /// # Errors
    ///
    /// The file cannot be written.
    pub(super) fn finish(self) -> Result<(PathBuf, u64)> {
        self.out
            .into_inner()
            .map_err(|e| Error::io(&self.to, e.into_error()))?;
        Ok((self.to, self.written))
    }

    /// Removes what was written: the file is read whole instead.
    pub(super) fn discard(self) {
        drop(self.out);
        let _ = std::fs::remove_file(&self.to);
    }
}

impl LineReader {
    /// Opens `path`, recognising gzip/zstd by magic bytes. Lines longer than
    /// `cap` bytes come back as [`Error::TooLarge`] without being held. A
    /// compressed file is also copied, decompressed, as it is read, to a
    /// new file of `work` when given ([`Copy`]).
    pub(super) fn open(
        path: &Path,
        cap: u64,
        work: Option<&WorkDir>,
    ) -> std::result::Result<(Compression, LineReader), NotStreamable> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut raw = BufReader::with_capacity(1 << 20, file);
        let head = raw.fill_buf().map_err(|e| Error::io(path, e))?;
        let compression = decompress::sniff(head);
        if compression == Compression::None
            && head.len() < 4
            && decompress::is_compressed_name(path)
        {
            // a truncated archive: let the whole-file reader name the problem
            return Err(NotStreamable::WholeFile);
        }
        let mut copy = None;
        let reader: Box<dyn BufRead + Send> = match (compression, work) {
            (Compression::None, _) => Box::new(raw),
            (c, None) => Box::new(BufReader::with_capacity(
                1 << 20,
                decompress::decoder(path, c, raw)?,
            )),
            (c, Some(work)) => {
                let inner = decompress::decoder(path, c, raw)?;
                let to = decompress::copy_path(work, path)?;
                let made = Copy::new(to.clone()).map_err(|e| Error::io(&to, e))?;
                let shared = Arc::new(Mutex::new(made));
                copy = Some(Arc::clone(&shared));
                Box::new(BufReader::with_capacity(
                    1 << 20,
                    Tee {
                        inner,
                        copy: shared,
                    },
                ))
            }
        };
        let mut lr = LineReader {
            reader,
            path: path.to_path_buf(),
            lineno: 0,
            offset: 0,
            cap,
            all_ascii: true,
            done: false,
            compression,
            copy,
        };
        let head = lr.fill()?;
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            lr.drop_copy();
            return Err(NotStreamable::WholeFile);
        }
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            lr.reader.consume(3);
            lr.offset = 3;
        }
        Ok((compression, lr))
    }

    /// The decompressed copy, if one is made: complete once the last
    /// batch is read.
    pub(super) fn copy(&self) -> Option<Arc<Mutex<Copy>>> {
        self.copy.clone()
    }

    /// Removes the copy made so far: the file is read whole instead.
    fn drop_copy(&mut self) {
        if let Some(copy) = self.copy.take() {
            if let Ok(c) = copy.lock() {
                let _ = std::fs::remove_file(&c.to);
            }
        }
    }

    fn fill(&mut self) -> Result<Vec<u8>> {
        match self.reader.fill_buf() {
            Ok(buf) => Ok(buf[..buf.len().min(4)].to_vec()),
            Err(e) => Err(self.read_error(0, e)),
        }
    }

    /// Reads about `bytes` bytes worth of lines; `None` at the end.
    ///
    /// # Errors
    ///
    /// A read or decompression error ([`NotStreamable::Error`]), or
    /// [`NotStreamable::WholeFile`] when a non-UTF-8 line follows only ASCII
    /// text (a legacy encoding to detect on the whole file).
    pub fn next_batch(
        &mut self,
        bytes: usize,
    ) -> std::result::Result<Option<Vec<Line>>, NotStreamable> {
        if self.done {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut taken = 0usize;
        while taken < bytes {
            let Some(raw) = self.read_line()? else {
                self.done = true;
                break;
            };
            self.lineno += 1;
            let offset = self.offset;
            self.offset += raw.len as u64;
            taken += raw.bytes.len().max(1);
            let mut buf = raw.bytes;
            if buf.last() == Some(&b'\n') {
                buf.pop();
            }
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            let text = if raw.too_long {
                Err(Error::TooLarge {
                    loc: Location::line(&self.path, self.lineno),
                    size: raw.len as u64,
                    limit: self.cap,
                })
            } else {
                match super::encoding::str_of(&buf) {
                    Ok(_) => {
                        if self.all_ascii {
                            self.all_ascii = buf.is_ascii();
                        }
                        // SAFETY: `str_of` has just validated these bytes.
                        Ok(unsafe { String::from_utf8_unchecked(buf) })
                    }
                    Err(_) if self.all_ascii => return Err(NotStreamable::WholeFile),
                    Err(e) => Err(Error::Decode {
                        loc: Location::at(
                            &self.path,
                            Some(self.lineno),
                            offset + e.valid_up_to() as u64,
                        ),
                        encoding: "utf-8",
                    }),
                }
            };
            out.push(Line {
                lineno: self.lineno,
                offset,
                text,
            });
        }
        if out.is_empty() {
            return Ok(None);
        }
        Ok(Some(out))
    }

    /// One line with its terminator; past `cap` bytes the rest of the line
    /// is skipped, only its length counted.
    fn read_line(&mut self) -> Result<Option<RawLine>> {
        let mut line = RawLine {
            bytes: Vec::new(),
            len: 0,
            too_long: false,
        };
        loop {
            let offset = self.offset + line.len as u64;
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) => return Err(self.read_error(offset, e)),
            };
            if buf.is_empty() {
                break;
            }
            let (n, end) = match memchr_nl(buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            if !line.too_long && (line.bytes.len() + n) as u64 <= self.cap.saturating_add(2) {
                line.bytes.extend_from_slice(&buf[..n]);
            } else if !line.too_long {
                line.too_long = true;
                line.bytes = Vec::new();
            }
            line.len += n;
            self.reader.consume(n);
            if end {
                break;
            }
        }
        Ok((line.len > 0).then_some(line))
    }

    fn read_error(&self, offset: u64, e: std::io::Error) -> Error {
        match self.compression {
            Compression::None => Error::io(&self.path, e),
            c => Error::Decompress {
                loc: Location::at(&self.path, None, offset),
                format: decompress::format_name(c),
                reason: e.to_string(),
            },
        }
    }
}

struct RawLine {
    bytes: Vec<u8>,
    len: usize,
    too_long: bool,
}

fn memchr_nl(buf: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', buf)
}

/// Passes decompressed bytes on and copies them ([`Copy`]): the reader
/// thread that decompresses also copies, so the copy costs no second pass
/// over the input.
struct Tee<R> {
    inner: R,
    copy: Arc<Mutex<Copy>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let mut copy = self
            .copy
            .lock()
            .map_err(|_| std::io::Error::other("copy lock poisoned"))?;
        copy.write(&buf[..n]).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot write the decompressed copy {}: {e}",
                    copy.to.display()
                ),
            )
        })?;
        Ok(n)
    }
}
