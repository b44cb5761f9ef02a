//! Detects gzip and zstd by their magic bytes and decompresses them.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Location, Result};

/// How an input file was compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Stored as is.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// Zstandard (`28 b5 2f fd`).
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// Whether the name ends in `.gz` or `.zst`.
pub fn is_compressed_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz") || e.eq_ignore_ascii_case("zst"))
}

/// Decompresses `raw` if it starts with a known magic number; otherwise
/// returns it unchanged. Names are not trusted: a `.gz` that is plain text
/// is read as plain text, and a compressed file without the suffix is
/// still decompressed. A `.gz` or `.zst` cut short inside its magic number
/// is a truncated stream, not text.
///
/// # Errors
///
/// A truncated or corrupt stream, with the decompressed offset reached.
pub fn decompress(path: &Path, raw: Vec<u8>, limit: u64) -> Result<(Compression, Vec<u8>)> {
    if raw.starts_with(GZIP_MAGIC) {
        let dec = flate2::read::MultiGzDecoder::new(&raw[..]);
        let out = read_all(path, dec, "gzip", limit)?;
        Ok((Compression::Gzip, out))
    } else if raw.starts_with(ZSTD_MAGIC) {
        let dec =
            ruzstd::decoding::StreamingDecoder::new(&raw[..]).map_err(|e| Error::Decompress {
                loc: Location::at(path, None, 0),
                format: "zstd",
                reason: e.to_string(),
            })?;
        let out = read_all(path, dec, "zstd", limit)?;
        Ok((Compression::Zstd, out))
    } else if let Some(format) = truncated_magic(path, &raw) {
        Err(Error::Decompress {
            loc: Location::at(path, None, 0),
            format,
            reason: format!("truncated after {} bytes", raw.len()),
        })
    } else {
        Ok((Compression::None, raw))
    }
}

/// A `.gz` or `.zst` file cut short inside its magic number: not text to
/// read as is, but a truncated stream.
fn truncated_magic(path: &Path, raw: &[u8]) -> Option<&'static str> {
    if raw.is_empty() || !is_compressed_name(path) {
        return None;
    }
    let is_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    let (magic, format) = if is_gz {
        (GZIP_MAGIC, "gzip")
    } else {
        (ZSTD_MAGIC, "zstd")
    };
    magic.starts_with(raw).then_some(format)
}

fn read_all<R: Read>(path: &Path, reader: R, format: &'static str, limit: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    // A JSONL archive may hold many documents: allow far more than one
    // document's limit, but never an unbounded decompression bomb.
    let cap = limit.saturating_mul(64);
    let mut limited = reader.take(cap.saturating_add(1));
    limited
        .read_to_end(&mut out)
        .map_err(|e| Error::Decompress {
            loc: Location::at(path, None, out.len() as u64),
            format,
            reason: e.to_string(),
        })?;
    if out.len() as u64 > cap {
        return Err(Error::TooLarge {
            loc: Location::file(path),
            size: out.len() as u64,
            limit: cap,
        });
    }
    Ok(out)
}
