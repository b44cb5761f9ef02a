//! Reads a UTF-8 file again line by line, as [`super::decode_as`] decodes it
//! whole: decompressed by magic number, byte-order mark skipped, and the
//! error whole-file decoding gives (a corrupt stream, else the first NUL
//! byte, else the first invalid byte) kept until [`Relines::finish`]. So a
//! file far larger than memory can be compared with another a line at a
//! time, and fail with the message it would have failed with whole. A
//! compressed file is decompressed ahead, on a thread of its own
//! ([`super::stream::Ahead`]).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::decompress::{self, Compression};
use crate::error::{Error, Location, Result};

/// The lines of one file, each with its line break.
pub struct Relines {
    reader: Box<dyn BufRead + Send>,
    path: PathBuf,
    compression: Compression,
    /// Decompressed bytes consumed.
    offset: u64,
    lineno: u64,
    /// A read or decompression error: the end of the lines.
    broken: Option<Error>,
    nul: Option<Error>,
    invalid: Option<Error>,
}

impl Relines {
    /// Opens `path`; `Ok(None)` when only whole-file decoding reads it as
    /// `decode_as` does (a UTF-16 byte-order mark, or a `.gz`/`.zst` name
    /// on bytes that are not compressed).
    ///
    /// # Errors
    ///
    /// The file cannot be opened or its first bytes read.
    pub fn open(path: &Path) -> std::io::Result<Option<Relines>> {
        let mut raw = BufReader::with_capacity(1 << 20, File::open(path)?);
        let compression = decompress::sniff(raw.fill_buf()?);
        if compression == Compression::None && decompress::is_compressed_name(path) {
            return Ok(None);
        }
        let mut lines = Relines {
            reader: Box::new(std::io::empty()),
            path: path.to_path_buf(),
            compression,
            offset: 0,
            lineno: 0,
            broken: None,
            nul: None,
            invalid: None,
        };
        match decompress::decoder(path, compression, raw) {
            Ok(r) if compression == Compression::None => lines.reader = Box::new(BufReader::new(r)),
            // decompressed on a thread of its own, ahead of the comparison
            Ok(r) => lines.reader = Box::new(super::stream::Ahead::spawn(r, None)?),
            Err(e) => lines.broken = Some(e),
        }
        if lines.broken.is_none() {
            match lines.reader.fill_buf() {
                Ok(head) if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) => {
                    return Ok(None)
                }
                Ok([0xEF, 0xBB, 0xBF, ..]) => {
                    lines.reader.consume(3);
                    lines.offset = 3;
                }
                Ok(_) => {}
                Err(e) => lines.broken = Some(lines.read_error(e)),
            }
        }
        Ok(Some(lines))
    }

    /// The next line with its line break (invalid bytes replaced: the
    /// error waits for [`Relines::finish`]); `None` at the end or at a read
    /// error.
    pub fn next_line(&mut self) -> Option<String> {
        if self.broken.is_some() {
            return None;
        }
        let mut buf = Vec::new();
        match self.reader.read_until(b'\n', &mut buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => {
                self.offset += buf.len() as u64;
                self.broken = Some(self.read_error(e));
                return None;
            }
        }
        self.lineno += 1;
        let at = self.offset;
        self.offset += buf.len() as u64;
        if self.nul.is_none() {
            if let Some(pos) = memchr::memchr(0, &buf) {
                self.nul = Some(Error::Binary {
                    loc: Location::at(&self.path, Some(self.lineno), at + pos as u64),
                });
            }
        }
        match String::from_utf8(buf) {
            Ok(s) => Some(s),
            Err(e) => {
                if self.invalid.is_none() {
                    let pos = e.utf8_error().valid_up_to() as u64;
                    self.invalid = Some(Error::Decode {
                        loc: Location::at(&self.path, Some(self.lineno), at + pos),
                        encoding: "utf-8",
                    });
                }
                Some(String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
        }
    }

    /// Reads the rest and gives the error decoding the file whole gives.
    ///
    /// # Errors
    ///
    /// A corrupt or truncated stream ([`Error::Decompress`]), else the
    /// first NUL byte ([`Error::Binary`]), else the first byte that is not
    /// UTF-8 ([`Error::Decode`]).
    pub fn finish(mut self) -> Result<()> {
        while self.next_line().is_some() {}
        match self.broken.or(self.nul).or(self.invalid) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn read_error(&self, e: std::io::Error) -> Error {
        match self.compression {
            Compression::None => Error::io(&self.path, e),
            c => Error::Decompress {
                loc: Location::at(&self.path, None, self.offset),
                format: decompress::format_name(c),
                reason: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of(path: &Path) -> (Vec<String>, Result<()>) {
        let mut r = Relines::open(path).unwrap().unwrap();
        let mut out = Vec::new();
        while let Some(l) = r.next_line() {
            out.push(l);
        }
        (out, r.finish())
    }

    /// Lines, errors and their places are those of decoding the file whole.
    #[test]
    fn lines_and_errors_are_those_of_whole_file_decoding() {
        let dir = std::env::temp_dir().join(format!("neardup-reread-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.jsonl");
        std::fs::write(&p, "\u{feff}一\r\n\n二三").unwrap();
        let (lines, end) = lines_of(&p);
        assert_eq!(lines, ["一\r\n", "\n", "二三"]);
        assert!(end.is_ok());

        // an invalid byte on line 2, a NUL on line 3: the NUL is reported,
        // as whole-file decoding does
        let bad = b"ok\n\xe4\xb8x\nn\0\n".to_vec();
        std::fs::write(&p, &bad).unwrap();
        let whole = super::super::decode_as(&p, &bad, super::super::TextEncoding::UTF8)
            .unwrap_err()
            .to_string();
        let (lines, end) = lines_of(&p);
        assert_eq!(lines.len(), 3);
        assert_eq!(end.unwrap_err().to_string(), whole);
        let bad = b"ok\n\xe4\xb8x\n".to_vec();
        std::fs::write(&p, &bad).unwrap();
        let whole = super::super::decode_as(&p, &bad, super::super::TextEncoding::UTF8)
            .unwrap_err()
            .to_string();
        assert_eq!(lines_of(&p).1.unwrap_err().to_string(), whole);

        // UTF-16 is left to whole-file decoding
        std::fs::write(&p, b"\xff\xfea\0").unwrap();
        assert!(Relines::open(&p).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A compressed file, decompressed ahead on its own thread, gives the
    /// lines whole-file decoding gives, and a truncated stream fails with
    /// the same message and offset, after the lines decoded before it.
    #[test]
    fn compressed_lines_and_truncation_are_those_of_whole_file_decoding() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.jsonl.zst");
        let text: String = (0..20_000)
            .map(|i| format!("{{\"text\":\"行{i}\"}}\n"))
            .collect();
        let packed = zstd::encode_all(text.as_bytes(), 3).unwrap();
        std::fs::write(&p, &packed).unwrap();
        let (lines, end) = lines_of(&p);
        assert!(end.is_ok());
        assert_eq!(lines.concat(), text);

        let cut = packed[..packed.len() * 2 / 3].to_vec();
        std::fs::write(&p, &cut).unwrap();
        let whole = super::super::decompress_bytes(&p, cut)
            .unwrap_err()
            .to_string();
        let (lines, end) = lines_of(&p);
        assert!(!lines.is_empty() && text.starts_with(&lines.concat()));
        assert_eq!(end.unwrap_err().to_string(), whole);
    }
}
