//! Decodes bytes into text: UTF-8 (BOM optional), UTF-16 with BOM,
//! GB18030/GBK (the legacy encoding of most older Chinese web text), and the
//! other legacy encodings a crawl holds: Big5, Shift-JIS, EUC-KR and
//! windows-1252 (latin-1), detected by `chardetng` or forced.

use std::path::Path;

use encoding_rs::{
    Encoding, BIG5, EUC_KR, GB18030, GBK, SHIFT_JIS, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252,
};

use crate::error::{Error, Location, Result};

/// How to choose an encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingChoice {
    /// UTF-8 unless a BOM says UTF-16, or the bytes are not mostly valid
    /// UTF-8: then the legacy encoding `chardetng` guesses (Big5,
    /// Shift-JIS, EUC-KR, windows-1252, …) when the bytes are valid in it,
    /// else GB18030.
    #[default]
    Auto,
    /// UTF-8 only.
    Utf8,
    /// GB18030 (a superset of GBK and GB2312).
    Gb18030,
    /// Big5 (traditional Chinese).
    Big5,
    /// Shift-JIS (Japanese).
    #[serde(rename = "shift-jis")]
    ShiftJis,
    /// EUC-KR (Korean).
    #[serde(rename = "euc-kr")]
    EucKr,
    /// windows-1252, the superset of latin-1 (ISO-8859-1) that web text in
    /// Western languages labelled latin-1 really is.
    Cp1252,
}

impl EncodingChoice {
    /// The legacy encoding this choice forces, if it forces one.
    fn forced(self) -> Option<&'static Encoding> {
        match self {
            EncodingChoice::Auto | EncodingChoice::Utf8 => None,
            EncodingChoice::Gb18030 => Some(GB18030),
            EncodingChoice::Big5 => Some(BIG5),
            EncodingChoice::ShiftJis => Some(SHIFT_JIS),
            EncodingChoice::EucKr => Some(EUC_KR),
            EncodingChoice::Cp1252 => Some(WINDOWS_1252),
        }
    }

    /// The choice that reads text back in `enc`, an encoding a file was
    /// found in (UTF-16 and UTF-8 are told by BOM or validity).
    pub fn of(enc: TextEncoding) -> EncodingChoice {
        [
            EncodingChoice::Gb18030,
            EncodingChoice::Big5,
            EncodingChoice::ShiftJis,
            EncodingChoice::EucKr,
            EncodingChoice::Cp1252,
        ]
        .into_iter()
        .find(|c| c.forced() == Some(enc.0))
        .unwrap_or(if enc == TextEncoding::UTF8 {
            EncodingChoice::Utf8
        } else {
            EncodingChoice::Auto
        })
    }

    /// Whether the text can only be UTF-8 (or UTF-16 with a BOM), so that
    /// JSONL can be streamed line by line.
    pub fn is_utf8_or_auto(self) -> bool {
        matches!(self, EncodingChoice::Auto | EncodingChoice::Utf8)
    }
}

/// The encoding a file was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextEncoding(&'static Encoding);

impl TextEncoding {
    /// UTF-8.
    pub const UTF8: TextEncoding = TextEncoding(UTF_8);

    /// The encoding's WHATWG name (`UTF-8`, `gb18030`, `UTF-16LE`).
    pub fn name(self) -> &'static str {
        self.0.name()
    }

    /// The encoding of WHATWG name (or label) `name`: [`TextEncoding::name`]
    /// read back (stage files record encodings by name).
    pub fn for_name(name: &str) -> Option<TextEncoding> {
        Encoding::for_label(name.as_bytes()).map(TextEncoding)
    }

    /// The byte-order mark written back for a file read with one: UTF-16's
    /// own, else UTF-8's (a UTF-8 mark stays one on a file read as GB18030).
    pub fn bom(self) -> &'static [u8] {
        if self.0 == UTF_16LE {
            &[0xFF, 0xFE]
        } else if self.0 == UTF_16BE {
            &[0xFE, 0xFF]
        } else {
            &[0xEF, 0xBB, 0xBF]
        }
    }

    /// Length in bytes of `text` once encoded back.
    pub fn encoded_len(self, text: &str) -> usize {
        if self.0 == UTF_8 {
            text.len()
        } else if self.0 == UTF_16LE || self.0 == UTF_16BE {
            text.encode_utf16().count() * 2
        } else {
            self.0.encode(text).0.len()
        }
    }

    /// Whether the byte `\n` is a line break wherever it appears (ASCII
    /// bytes stand for themselves: UTF-8, GB18030, Big5, Shift-JIS…, not
    /// UTF-16), so that a file can be cut into lines before decoding.
    pub fn splits_at_newlines(self) -> bool {
        self.0.is_ascii_compatible()
    }

    /// `text` encoded back into this encoding (what `clean` writes).
    pub fn encode(self, text: &str) -> Vec<u8> {
        if self.0 == UTF_16LE {
            text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect()
        } else if self.0 == UTF_16BE {
            text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
        } else {
            self.0.encode(text).0.into_owned()
        }
    }
}

impl serde::Serialize for TextEncoding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Decoded text.
#[derive(Debug)]
pub struct Decoded {
    /// The text.
    pub text: String,
    /// The encoding it came from.
    pub encoding: TextEncoding,
    /// Length of the byte-order mark that was skipped.
    pub bom: usize,
}

/// Decodes a file's bytes.
///
/// # Errors
///
/// [`Error::Binary`] at the first NUL byte (UTF-16 aside), and
/// [`Error::Decode`] at the first byte that is invalid in the chosen or
/// detected encoding.
pub fn decode(path: &Path, bytes: &[u8], choice: EncodingChoice) -> Result<Decoded> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        if enc == UTF_16LE || enc == UTF_16BE {
            let body = &bytes[bom..];
            return match enc.decode_without_bom_handling_and_without_replacement(body) {
                Some(text) => Ok(Decoded {
                    text: text.into_owned(),
                    encoding: TextEncoding(enc),
                    bom,
                }),
                None => {
                    let (pos, line) = first_error(enc, body);
                    Err(Error::Decode {
                        loc: Location::at(path, Some(line), (pos + bom) as u64),
                        encoding: enc.name(),
                    })
                }
            };
        }
    }
    if let Some(pos) = memchr_nul(bytes) {
        return Err(Error::Binary {
            loc: Location::at(path, Some(line_at(bytes, pos)), pos as u64),
        });
    }
    let (bom, body) = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        (3, &bytes[3..])
    } else {
        (0, bytes)
    };
    match choice {
        EncodingChoice::Utf8 => utf8(path, body, bom),
        EncodingChoice::Gb18030
        | EncodingChoice::Big5
        | EncodingChoice::ShiftJis
        | EncodingChoice::EucKr
        | EncodingChoice::Cp1252 => {
            decode_legacy(path, body, bom, choice.forced().unwrap_or(GB18030))
        }
        EncodingChoice::Auto => match str_of(body) {
            Ok(s) => Ok(Decoded {
                text: s.to_owned(),
                encoding: TextEncoding::UTF8,
                bom,
            }),
            Err(_) => {
                // Real UTF-8 text with one corrupt byte must be reported,
                // not silently decoded as GB18030 mojibake: only text that
                // is not mostly valid UTF-8 may be legacy-encoded. (Any even
                // run of UTF-8 CJK bytes is also valid GBK, and GBK text now
                // and then holds a valid UTF-8 sequence by chance, such as
                // `E0 B2 84`, so neither the first bad byte nor the prefix
                // before it decides.)
                if bom == 0 && !mostly_utf8(body) {
                    if let Some(d) = guessed(path, body) {
                        return Ok(d);
                    }
                    if let Ok(d) = decode_legacy(path, body, 0, GB18030) {
                        return Ok(d);
                    }
                }
                utf8(path, body, bom)
            }
        },
    }
}

fn utf8(path: &Path, body: &[u8], bom: usize) -> Result<Decoded> {
    match str_of(body) {
        Ok(s) => Ok(Decoded {
            text: s.to_owned(),
            encoding: TextEncoding::UTF8,
            bom,
        }),
        Err(e) => {
            let pos = e.valid_up_to();
            Err(Error::Decode {
                loc: Location::at(path, Some(line_at(body, pos)), (pos + bom) as u64),
                encoding: "utf-8",
            })
        }
    }
}

/// The legacy encoding `chardetng` finds most likely, when the bytes are
/// valid in it. GBK guesses are read as GB18030 (its superset); guesses
/// outside the encodings neardup offers are left to the GB18030 fallback.
fn guessed(path: &Path, body: &[u8]) -> Option<Decoded> {
    let mut detector = chardetng::EncodingDetector::new();
    detector.feed(body, true);
    let enc = match detector.guess(None, false) {
        e if e == GBK => GB18030,
        e if [BIG5, SHIFT_JIS, EUC_KR, WINDOWS_1252].contains(&e) => e,
        _ => return None,
    };
    decode_legacy(path, body, 0, enc).ok()
}

fn decode_legacy(path: &Path, body: &[u8], bom: usize, enc: &'static Encoding) -> Result<Decoded> {
    match enc.decode_without_bom_handling_and_without_replacement(body) {
        Some(text) => Ok(Decoded {
            text: text.into_owned(),
            encoding: TextEncoding(enc),
            bom,
        }),
        None => {
            let (pos, line) = first_error(enc, body);
            Err(Error::Decode {
                loc: Location::at(path, Some(line), (pos + bom) as u64),
                encoding: enc.name(),
            })
        }
    }
}

/// Offset in `body` and 1-based line of the first malformed sequence.
fn first_error(enc: &'static Encoding, body: &[u8]) -> (usize, u64) {
    let mut decoder = enc.new_decoder_without_bom_handling();
    let mut out = String::with_capacity(body.len() * 3 + 16);
    let (result, read) = decoder.decode_to_string_without_replacement(body, &mut out, true);
    let pos = match result {
        // `bad` bytes are malformed, and `after` bytes past them were
        // consumed too before the decoder could tell.
        encoding_rs::DecoderResult::Malformed(bad, after) => {
            read.saturating_sub(bad as usize + after as usize)
        }
        _ => read,
    };
    (pos, 1 + out.matches('\n').count() as u64)
}

/// Whether `bytes` hold clearly more valid UTF-8 multi-byte characters
/// than invalid sequences. GB18030 text forms a valid UTF-8 sequence only
/// now and then, and far more invalid ones; UTF-8 text with a few corrupt
/// bytes is the other way round.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut multibyte, mut invalid) = (0usize, 0usize);
    for chunk in bytes.utf8_chunks() {
        multibyte += chunk.valid().chars().filter(|c| !c.is_ascii()).count();
        if !chunk.invalid().is_empty() {
            invalid += 1;
        }
    }
    multibyte > 4 * invalid
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(0, bytes)
}

/// `bytes` as UTF-8: SIMD validation (several times std's speed on CJK
/// text), std only to describe an error.
pub(crate) fn str_of(bytes: &[u8]) -> std::result::Result<&str, std::str::Utf8Error> {
    match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(_) => std::str::from_utf8(bytes),
    }
}

fn line_at(bytes: &[u8], pos: usize) -> u64 {
    1 + bytes[..pos.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clean writes a marked file back as `bom()` + `encode(text)`: that
    /// must give the bytes it read, whatever the encoding and its mark.
    #[test]
    fn bom_and_encoding_give_back_the_bytes_read() {
        let text = "第一篇 商丘保税物流中心\n";
        let gb = encoding_rs::GB18030.encode(text).0.into_owned();
        let marked = |mark: &[u8], body: &[u8]| [mark, body].concat();
        let cases = [
            (
                marked(&[0xFF, 0xFE], &TextEncoding(UTF_16LE).encode(text)),
                EncodingChoice::Auto,
            ),
            (
                marked(&[0xFE, 0xFF], &TextEncoding(UTF_16BE).encode(text)),
                EncodingChoice::Auto,
            ),
            (
                marked(&[0xEF, 0xBB, 0xBF], text.as_bytes()),
                EncodingChoice::Auto,
            ),
            (marked(&[0xEF, 0xBB, 0xBF], &gb), EncodingChoice::Gb18030),
        ];
        for (bytes, choice) in cases {
            let d = decode(Path::new("t"), &bytes, choice).expect("decodes");
            assert_eq!(d.text, text);
            assert_eq!(d.encoding.bom().len(), d.bom, "{}", d.encoding.name());
            let back = [d.encoding.bom(), &d.encoding.encode(&d.text)].concat();
            assert_eq!(back, bytes, "{}", d.encoding.name());
        }
    }
}
