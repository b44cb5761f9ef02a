//! SHINGLE: [`NormText`] → 64-bit shingle hashes.
//!
//! Text written without spaces (Chinese, Japanese, Korean) is cut into
//! character n-grams (default 5); space-separated scripts into word n-grams
//! (default 3), words being runs of letters and digits. The choice is made
//! per document by script ([`Script::detect`]). Each shingle is hashed with
//! xxh3 straight from the characters: no string is built per shingle.
//!
//! A text shorter than one shingle yields one shingle of the whole text, so
//! short texts match only texts equal to them (an empty signature would
//! match everything).

use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed};

use crate::normalize::{is_cjk, is_cjk_ideograph, is_word_unit, NormText};

/// Default character n-gram size for CJK text.
pub const DEFAULT_CHAR_NGRAM: usize = 5;
/// Default word n-gram size for space-separated text.
pub const DEFAULT_WORD_NGRAM: usize = 3;

/// How many characters at the start of a text decide its [`Script`].
pub const SCRIPT_PREFIX: usize = 4096;

/// How a document is cut into shingles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Character n-grams.
    Chars,
    /// Word n-grams.
    Words,
}

impl Script {
    /// Character shingles when at least 30% of the letters are CJK (of
    /// the first [`SCRIPT_PREFIX`] characters).
    pub fn detect(text: &NormText) -> Script {
        Script::of(&text.chars)
    }

    /// [`Script::detect`] on bare characters.
    pub fn of(chars: &[char]) -> Script {
        let prefix = &chars[..chars.len().min(SCRIPT_PREFIX)];
        // One pass without branches (a vector loop) counts the ideographs
        // and ASCII letters and digits, nearly all of CJK text once
        // normalised; the other characters are looked at one by one after.
        // (32-bit counts: four or more to a vector register)
        let (mut cjk, mut letters, mut other) = (0u32, 0u32, 0u32);
        for &c in prefix {
            let u = c as u32;
            let ideograph = u32::from(u.wrapping_sub(0x4e00) < 0x5200)
                | u32::from(u.wrapping_sub(0x3400) < 0x19c0);
            let alnum = u32::from(u.wrapping_sub(0x30) < 10)
                | u32::from((u | 0x20).wrapping_sub(0x61) < 26);
            cjk += ideograph;
            letters += ideograph + alnum;
            other += u32::from(u >= 0x80) - ideograph;
        }
        if other > 0 {
            for &c in prefix {
                if c.is_ascii() || is_cjk_ideograph(c) {
                    continue;
                }
                if is_cjk(c) {
                    cjk += 1;
                    letters += 1;
                } else if c.is_alphanumeric() || is_word_unit(c) {
                    letters += 1;
                }
            }
        }
        if letters == 0 || cjk * 10 >= letters * 3 {
            Script::Chars
        } else {
            Script::Words
        }
    }
}

/// Options of the shingle stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShingleOptions {
    /// n-gram size for both kinds; `None` uses 5 characters or 3 words.
    pub ngram: Option<usize>,
}

impl ShingleOptions {
    /// The n-gram size used for a script.
    pub fn n_for(&self, script: Script) -> usize {
        self.ngram.unwrap_or(match script {
            Script::Chars => DEFAULT_CHAR_NGRAM,
            Script::Words => DEFAULT_WORD_NGRAM,
        })
    }
}

/// Appends the shingle hashes of `text` to `out` (cleared first), in text
/// order with repeats; MinHash and SimHash do not need a set.
pub fn shingle_into(text: &NormText, opts: &ShingleOptions, out: &mut Vec<u64>) {
    shingle_chars_into(&text.chars, &text.gap_before, opts, out);
}

/// [`shingle_into`] on the characters and `gap_before` of a [`NormText`]
/// (as [`crate::normalize::normalize_unmapped`] gives them).
pub fn shingle_chars_into(
    chars: &[char],
    gap_before: &[u8],
    opts: &ShingleOptions,
    out: &mut Vec<u64>,
) {
    out.clear();
    let script = Script::of(chars);
    let n = opts.n_for(script).max(1);
    match script {
        Script::Chars => char_shingles(chars, n, out),
        Script::Words => word_shingles(chars, gap_before, n, out),
    }
}

/// Shingle hashes of `text`, sorted and without repeats (a set).
pub fn shingle_set(text: &NormText, opts: &ShingleOptions) -> Vec<u64> {
    let mut v = Vec::new();
    shingle_into(text, opts, &mut v);
    v.sort_unstable();
    v.dedup();
    v
}

/// The bytes of a character slice (4 per character, native order), for
/// hashing characters in place.
pub(crate) fn char_bytes(chars: &[char]) -> &[u8] {
    // SAFETY: `char` is a 4-byte plain value with no padding; viewing a
    // slice of them as bytes is sound and lets xxh3 hash n-grams in place.
    unsafe { std::slice::from_raw_parts(chars.as_ptr().cast::<u8>(), std::mem::size_of_val(chars)) }
}

/// Hashes of every character n-gram.
pub fn char_shingles(chars: &[char], n: usize, out: &mut Vec<u64>) {
    if chars.is_empty() {
        return;
    }
    if chars.len() < n {
        out.push(xxh3_64(char_bytes(chars)));
        return;
    }
    out.reserve(chars.len() - n + 1);
    if n == DEFAULT_CHAR_NGRAM {
        // the default, as `xxh3_64` would hash it without its dispatch
        let bytes = char_bytes(chars);
        out.extend((0..=chars.len() - n).map(|i| xxh3_20(&bytes[4 * i..4 * i + 20])));
        return;
    }
    for w in chars.windows(n) {
        out.push(xxh3_64(char_bytes(w)));
    }
}

/// `xxh3_64` of exactly 20 bytes (a character 5-gram), written out: the
/// library's branch for 17 to 128 bytes with the default secret and seed
/// 0, its length tests and loops gone. The same value (tested).
#[inline(always)]
pub(crate) fn xxh3_20(w: &[u8]) -> u64 {
    // the first 32 bytes of xxh3's default secret, as little-endian words
    const S: [u64; 4] = [
        0xbe4b_a423_396c_feb8,
        0x1cad_21f7_2c81_017c,
        0xdb97_9083_e96d_d4de,
        0x1f67_b3b7_a4a4_4072,
    ];
    const PRIME64_1: u64 = 0x9e37_79b1_85eb_ca87;
    let r = |i: usize| u64::from_le_bytes(w[i..i + 8].try_into().unwrap_or([0; 8]));
    let mix = |lo: u64, hi: u64| {
        let p = u128::from(lo) * u128::from(hi);
        (p as u64) ^ ((p >> 64) as u64)
    };
    let acc = 20u64
        .wrapping_mul(PRIME64_1)
        .wrapping_add(mix(r(0) ^ S[0], r(8) ^ S[1]))
        .wrapping_add(mix(r(4) ^ S[2], r(12) ^ S[3]));
    let acc = (acc ^ (acc >> 37)).wrapping_mul(0x1656_6791_9e37_79f9);
    acc ^ (acc >> 32)
}

/// Word n-grams; words are runs of letters and digits in the
/// per-character stream, or the word units of [`crate::normalize::normalize`]
/// one each.
fn word_shingles(chars: &[char], gap_before: &[u8], n: usize, out: &mut Vec<u64>) {
    let mut words: Vec<u64> = Vec::new();
    let mut start: Option<usize> = None;
    let letter = |c: char| c.is_alphanumeric() && !is_word_unit(c);
    for i in 0..=chars.len() {
        let boundary =
            i == chars.len() || gap_before[i] != crate::normalize::GAP_NONE || !letter(chars[i]);
        if boundary {
            if let Some(s) = start.take() {
                words.push(xxh3_64(char_bytes(&chars[s..i])));
            }
        }
        if i < chars.len() && is_word_unit(chars[i]) {
            words.push(xxh3_64(char_bytes(&chars[i..=i])));
        } else if i < chars.len() && letter(chars[i]) && start.is_none() {
            start = Some(i);
        }
    }
    if words.is_empty() {
        char_shingles(chars, DEFAULT_CHAR_NGRAM, out);
        return;
    }
    if words.len() < n {
        out.push(hash_words(&words));
        return;
    }
    for w in words.windows(n) {
        out.push(hash_words(w));
    }
}

fn hash_words(words: &[u64]) -> u64 {
    let mut buf = [0u8; 8 * 16];
    let mut h = 0u64;
    for chunk in words.chunks(16) {
        for (i, w) in chunk.iter().enumerate() {
            buf[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        h = xxh3_64_with_seed(&buf[..chunk.len() * 8], h);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::normalize::{normalize, NormalizeOptions};

    fn set(s: &str) -> Vec<u64> {
        shingle_set(
            &normalize(s, &NormalizeOptions::default()),
            &ShingleOptions::default(),
        )
    }

    #[test]
    fn cjk_uses_char_ngrams_and_ignores_wrapping() {
        let t = normalize("今天我们召开会议", &NormalizeOptions::default());
        assert_eq!(Script::detect(&t), Script::Chars);
        assert_eq!(set("今天我们召开会议").len(), 4);
        assert_eq!(set("今天我们\n召开 会议"), set("今天我们召开会议"));
    }

    #[test]
    fn english_uses_word_ngrams() {
        let t = normalize("the quick brown fox jumps", &NormalizeOptions::default());
        assert_eq!(Script::detect(&t), Script::Words);
        assert_eq!(set("the quick brown fox jumps").len(), 3);
        assert_ne!(set("the quick brown fox"), set("thequick brown fox"));
    }

    #[test]
    fn five_grams_hash_as_xxh3() {
        let mut next = crate::testutil::lcg(9);
        for _ in 0..2000 {
            let w: Vec<u8> = (0..20).map(|_| next(256) as u8).collect();
            assert_eq!(xxh3_20(&w), xxh3_64(&w));
        }
        let chars: Vec<char> = "今天我们召开会议，a b".chars().collect();
        let mut fast = Vec::new();
        char_shingles(&chars, 5, &mut fast);
        let slow: Vec<u64> = chars.windows(5).map(|w| xxh3_64(char_bytes(w))).collect();
        assert_eq!(fast, slow);
    }

    #[test]
    fn script_counts_every_kind_of_letter() {
        let of = |s: &str| Script::of(&s.chars().collect::<Vec<_>>());
        assert_eq!(of("abc 中文"), Script::Chars);
        assert_eq!(of("abcdefg 中文"), Script::Words);
        // kana, hangul, ideographs outside the common blocks count as CJK
        assert_eq!(of("abcdefg カナ㐀"), Script::Chars);
        assert_eq!(of("abcdefg 안녕"), Script::Words);
        assert_eq!(of("abcd 안녕"), Script::Chars);
        // other letters and digits count as letters only
        assert_eq!(of("Привет 中"), Script::Words);
        assert_eq!(of("12345678 中文"), Script::Words);
        assert_eq!(of(".,;!? 中"), Script::Chars);
        assert_eq!(of(""), Script::Chars);
    }

    #[test]
    fn short_text_is_one_shingle() {
        assert_eq!(set("会议").len(), 1);
        assert_ne!(set("会议"), set("开会"));
        assert!(set("").is_empty());
    }
}
