//! Reads JSONL files in bounded batches of lines, decompressing on the fly,
//! so that a corpus far larger than memory can be sketched: only one batch
//! of text is held at a time.
//!
//! Only UTF-8 (BOM optional) is streamed. A UTF-16 file, a forced GB18030
//! one, or a file whose first non-ASCII line is not UTF-8 (legacy encoding
//! to detect) is read whole instead, by the caller.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

use super::decompress::Compression;
use crate::error::{Error, Location, Result};

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
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

impl LineReader {
    /// Opens `path`, recognising gzip/zstd by magic bytes. Lines longer than
    /// `cap` bytes come back as [`Error::TooLarge`] without being held.
    pub fn open(
        path: &Path,
        cap: u64,
    ) -> std::result::Result<(Compression, LineReader), NotStreamable> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut raw = BufReader::with_capacity(1 << 20, file);
        let head = raw.fill_buf().map_err(|e| Error::io(path, e))?.to_vec();
        let (compression, reader): (Compression, Box<dyn BufRead + Send>) = if head
            .starts_with(GZIP_MAGIC)
        {
            (
                Compression::Gzip,
                Box::new(BufReader::with_capacity(
                    1 << 20,
                    flate2::read::MultiGzDecoder::new(raw),
                )),
            )
        } else if head.starts_with(ZSTD_MAGIC) {
            let dec =
                ruzstd::decoding::StreamingDecoder::new(raw).map_err(|e| Error::Decompress {
                    loc: Location::at(path, None, 0),
                    format: "zstd",
                    reason: e.to_string(),
                })?;
            (
                Compression::Zstd,
                Box::new(BufReader::with_capacity(1 << 20, dec)),
            )
        } else if head.len() < 4 && super::decompress::is_compressed_name(path) {
            // a truncated archive: let the whole-file reader name the problem
            return Err(NotStreamable::WholeFile);
        } else {
            (Compression::None, Box::new(raw))
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
        };
        let head = lr.fill()?;
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(NotStreamable::WholeFile);
        }
        if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            lr.reader.consume(3);
            lr.offset = 3;
        }
        Ok((compression, lr))
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
            Compression::Gzip | Compression::Zstd => Error::Decompress {
                loc: Location::at(&self.path, None, offset),
                format: if self.compression == Compression::Gzip {
                    "gzip"
                } else {
                    "zstd"
                },
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
