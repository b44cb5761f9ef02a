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

/// A new file in `work` for the decompressed copy of `input`: its name
/// without the `.gz`/`.zst` suffix, so that the copy reads as the same
/// format (`looks_like_jsonl`).
///
/// # Errors
///
/// A work folder that cannot be made.
pub(crate) fn copy_path(work: &crate::work::WorkDir, input: &Path) -> Result<std::path::PathBuf> {
    let name = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem = if lower.ends_with(".gz") {
        &name[..name.len() - 3]
    } else if lower.ends_with(".zst") {
        &name[..name.len() - 4]
    } else {
        &name
    };
    work.file(stem)
}

/// The compression `head` (the first bytes of a file) announces.
pub(crate) fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if head.starts_with(ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The name of a compression format in messages.
pub(crate) fn format_name(c: Compression) -> &'static str {
    match c {
        Compression::None => "plain",
        Compression::Gzip => "gzip",
        Compression::Zstd => "zstd",
    }
}

/// A reader of the decompressed bytes of `raw`, compressed as `c`. The one
/// place that picks the decoders: on a 315 MB JSONL corpus, gzip decodes at
/// about 170 MB/s with flate2's zlib-rs backend (150 MB/s with its default
/// miniz_oxide), zstd at 400-590 MB/s with libzstd (the `zstd` crate; 100
/// MB/s with the pure-Rust ruzstd). See `scripts/bench_compressed.sh`.
///
/// # Errors
///
/// A zstd stream whose frame header cannot be read.
pub(crate) fn decoder<'a, R: std::io::BufRead + Send + 'a>(
    path: &Path,
    c: Compression,
    raw: R,
) -> Result<Box<dyn Read + Send + 'a>> {
    Ok(match c {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        Compression::Zstd => {
            Box::new(zstd::stream::read::Decoder::with_buffer(raw).map_err(|e| {
                Error::Decompress {
                    loc: Location::at(path, None, 0),
                    format: "zstd",
                    reason: e.to_string(),
                }
            })?)
        }
    })
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
    match sniff(&raw) {
        Compression::None => match truncated_magic(path, &raw) {
            Some(format) => Err(Error::Decompress {
                loc: Location::at(path, None, 0),
                format,
                reason: format!("truncated after {} bytes", raw.len()),
            }),
            None => Ok((Compression::None, raw)),
        },
        c => {
            let dec = decoder(path, c, &raw[..])?;
            let out = read_all(path, dec, format_name(c), limit)?;
            Ok((c, out))
        }
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
