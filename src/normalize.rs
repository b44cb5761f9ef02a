//! NORMALIZE: text → [`NormText`], the stream of *units* every comparison
//! works on, with a map back to the original bytes.
//!
//! Per character: NFKC (compatibility forms, full-width ASCII → ASCII),
//! lower case, diacritics folded (below), CJK punctuation mapped to its ASCII counterpart (`。`→`.`,
//! `、`→`,`, `“”`→`"`, `《》`→`<>`), and all whitespace removed, so that
//! copies that differ only in wrapping, spacing or punctuation width become
//! the same stream. With [`NormalizeOptions::mask_fold`], anonymisation masks
//! (`*`, `**`, `X`, `XX`, `xx`, runs of `×`) become one `*`.
//!
//! # Diacritics
//!
//! Accents and other diacritics on Latin and Greek letters are folded away
//! after lower-casing, as dedup normalisers do (CCNet strips accents: NFD,
//! then drop the combining marks): `naïve` = `naive`, `café` = `cafe`,
//! `Müller` = `muller`, `ά` = `α`, Vietnamese `tiếng` = `tieng`. Copies of
//! a text lose or change their accents (ASCII-only keyboards, transcoding,
//! `naïve`/`naive` house styles) far more often than two different words
//! of one passage differ only by an accent, and a block is many words.
//! Cyrillic folds only `ё` to `е` (Russian writes `ё` as `е` by
//! convention); `й`, `ї`, `ў` stay letters of their own, which no one
//! writes without the mark. Not folded: letters that do not decompose
//! (`ø`, `ł`, `đ`, `æ`, `ß`), German `ä` spelled `ae` (`Müller` ≠
//! `Mueller`), and the marks of other scripts (Arabic, Hebrew, Indic
//! vowel signs). A combining mark of U+0300–U+036F written on its own
//! (decomposed text) is dropped, so `e` + U+0301 = `é` = `e`.
//!
//! # Units: characters of CJK, words of other scripts
//!
//! [`normalize`] then turns that character stream into units, so that
//! similarity (`LCS / longer`), block fingerprints and chains count what a
//! reader counts:
//!
//! - a character of a script written without spaces (CJK ideographs, kana,
//!   Thai, Lao, Khmer, Myanmar) is one unit, as before: Japanese and Thai
//!   words cannot be told apart without a dictionary, so they are compared
//!   by character like Chinese;
//! - a word of a space-separated script (Latin, Cyrillic, Greek, Arabic,
//!   Hangul, …: a run of letters, marks and digits after a letter) is one unit, a symbol
//!   of the Supplementary Private Use planes that stands for the hash of the
//!   lower-cased word ([`is_word_unit`]). Apostrophes inside a word
//!   (`don't`) and hyphens inside it or at a line break (`well-known`,
//!   `exam-⏎ple`) join it, so hyphenation does not matter. Numbers stay
//!   one unit per digit in every script (`2024年`, `in 2024`, `010-8888`),
//!   as they always were in CJK text: a date, a phone number or a counter
//!   that varies between copies of boilerplate then differs by a few
//!   characters, not by a whole word (measured on a generated footer whose
//!   copies vary in five numbers: 98.6% of its copies in one cluster this
//!   way, 81% with numbers as words; the Clough English corpus loses 0.009
//!   of block pair precision);
//! - punctuation is dropped between words (`, . ; ( )` carry no information
//!   at word scale, and re-punctuated copies stay equal) and kept, one unit
//!   per mark, next to CJK characters, where it did before; a number is
//!   transparent here (the unit before it decides), so the `.` of a list
//!   marker (`2. Define…`) or of `3.5` among English words goes as a comma
//!   would, while `第3.5条` keeps it (on the Clough corpus, two list
//!   markers kept as four units made two unrelated answers 0.82 similar);
//! - comment and list prefixes at a line start (`*`, `#`, `//`, `>`, `-`
//!   followed by a space) and lines holding only `.` (the ` .` blank-line
//!   marker) are dropped: re-indented or re-commented copies stay equal.
//!
//! Text that is all CJK gives the same stream as a per-character
//! normalisation. A mixed page is one stream of both kinds of unit, and
//! `0.8 similar` means 80% of its units (characters of the Chinese, words
//! of the English) are matched in order. Lengths ([`NormText::weight`],
//! what `--min-block` and the chain gaps are measured in) count a word as
//! [`WORD_WEIGHT`] = 10 characters: `--min-block 200` is 200 CJK
//! characters or 20 words, two sentences of English — a copied sentence
//! (~10 words) is not a block, a copied pair of sentences or a short
//! paragraph is. Measured on the Clough & Stevenson text-reuse corpus,
//! lightly revised copies keep pieces of about that size. Block seeds
//! ([`grams`]) are 8 CJK characters or 3 words.
//!
//! [`normalize_per_char`] is the character stream alone, for diffs, which
//! show words and characters but align them by their own rules.
//!
//! NFKC is applied one source character at a time so that every output
//! character knows the source character it came from; sequences that NFKC
//! would compose across characters (a letter followed by a combining mark)
//! stay decomposed, which changes nothing for comparison (and a combining
//! diacritic goes, above).
//!
//! Gives [`NormText`]: `chars[i]` came from the source character (the
//! first of the word, for a word unit) starting at byte `orig[i]`; `orig`
//! is non-decreasing, and `gap_before[i]` says what whitespace was dropped
//! just before `chars[i]`: [`GAP_NONE`], [`GAP_SPACE`] or [`GAP_LINE`] (word
//! boundaries for word shingles, line boundaries for block edges).

use rayon::prelude::*;
use unicode_normalization::UnicodeNormalization;

/// Options of the normalize stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NormalizeOptions {
    /// Fold anonymisation masks (`*`, `X`, `XX`, `xx`, …) into one `*`.
    pub mask_fold: bool,
}

/// Normalised text with its map back to the source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NormText {
    /// The normalised characters.
    pub chars: Vec<char>,
    /// For each character, the byte offset of the source character it came from.
    pub orig: Vec<u32>,
    /// For each character, the whitespace removed just before it.
    pub gap_before: Vec<u8>,
}

/// No whitespace before the character.
pub const GAP_NONE: u8 = 0;
/// Spaces or tabs before the character.
pub const GAP_SPACE: u8 = 1;
/// A line break before the character.
pub const GAP_LINE: u8 = 2;

impl NormText {
    /// Empties the vectors and reserves room for the units of `text`: at
    /// most one character per byte; CJK text needs a third of that.
    fn clear_for(&mut self, text: &str) {
        self.chars.clear();
        self.orig.clear();
        self.gap_before.clear();
        let guess = text.len() / 2;
        self.chars.reserve(guess);
        self.orig.reserve(guess);
        self.gap_before.reserve(guess);
    }

    /// Number of normalised characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// Whether nothing but whitespace was there.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// Byte range in the source text covered by normalised chars `start..end`.
    ///
    /// `source` must be the text this was normalised from.
    pub fn source_range(&self, source: &str, start: usize, end: usize) -> std::ops::Range<usize> {
        if start >= end || end > self.chars.len() {
            return 0..0;
        }
        let from = self.orig[start] as usize;
        let last = self.orig[end - 1] as usize;
        let first_len = source[last..].chars().next().map_or(0, char::len_utf8);
        if !is_word_unit(self.chars[end - 1]) {
            return from..last + first_len;
        }
        // A word ends at its last letter before the next unit: only
        // dropped text (spaces, punctuation, prefixes) lies in between,
        // and a hyphen at a line break lies inside the word.
        let limit = self.orig.get(end).map_or(source.len(), |&o| o as usize);
        let to = source[last..limit]
            .char_indices()
            .rfind(|&(_, c)| is_word_char(c) || c.is_alphanumeric())
            .map_or(last + first_len, |(i, c)| last + i + c.len_utf8());
        from..to
    }

    /// Length of units `range` in CJK characters: a word unit counts
    /// [`WORD_WEIGHT`], any other unit 1. `--min-block` is compared with it.
    pub fn weight(&self, range: std::ops::Range<usize>) -> usize {
        weight(&self.chars[range])
    }
}

/// How many CJK characters a word of a space-separated script counts as
/// in lengths ([`weight`]): `--min-block 200` is 200 Chinese characters or
/// 20 words (two sentences; one 10-word sentence is not a block).
pub const WORD_WEIGHT: usize = 10;

/// Length of `units` in CJK characters ([`NormText::weight`]).
pub fn weight(units: &[char]) -> usize {
    units.len() + (WORD_WEIGHT - 1) * units.iter().filter(|&&c| is_word_unit(c)).count()
}

/// How many units of a k-gram a word stands for in block fingerprints
/// ([`grams`]): a seed of `k = 8` is 8 CJK characters or 3 words, about
/// equally rare in text (2 words, `of the`, are everywhere; 8 words
/// would need long exact runs, which lightly revised copies lack).
pub const GRAM_WORD_WEIGHT: usize = 3;

/// The k-grams of `units` for fingerprints, as ranges: from every start,
/// the fewest units that make `k`, a word counting [`GRAM_WORD_WEIGHT`];
/// exactly the `k`-unit windows of text without words. Ends with the last
/// start whose gram fits.
pub fn grams(units: &[char], k: usize) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let w = |c: char| {
        if is_word_unit(c) {
            GRAM_WORD_WEIGHT
        } else {
            1
        }
    };
    // `end` and the weight of `start..end` slide forward together
    let (mut end, mut sum) = (0usize, 0usize);
    (0..units.len()).map_while(move |start| {
        if start > 0 {
            sum -= w(units[start - 1]);
        }
        while sum < k && end < units.len() {
            sum += w(units[end]);
            end += 1;
        }
        (sum >= k).then_some(start..end)
    })
}

/// The winnowing window, in grams, for `units`: `window` grams of CJK
/// text, fewer where words make each gram longer (by the mean
/// [`GRAM_WORD_WEIGHT`] of a unit), so that a shared stretch of
/// about as much text is sure to give a fingerprint in any script. Two
/// texts winnowed with different windows still share the fingerprints of
/// a long enough shared stretch: the minimum of the wider window is the
/// minimum of every narrower one inside it.
pub fn gram_window(units: &[char], window: usize) -> usize {
    let words = units.iter().filter(|&&c| is_word_unit(c)).count();
    let weight = units.len() + (GRAM_WORD_WEIGHT - 1) * words;
    (window * units.len()).div_ceil(weight.max(1)).max(1)
}

/// End of the k-gram of `units` that starts at `start` ([`grams`]).
pub fn gram_end(units: &[char], start: usize, k: usize) -> usize {
    let mut sum = 0;
    let mut end = start;
    while sum < k && end < units.len() {
        sum += if is_word_unit(units[end]) {
            GRAM_WORD_WEIGHT
        } else {
            1
        };
        end += 1;
    }
    end
}

/// Whether a unit of [`normalize`] is a word of a space-separated script.
#[inline(always)]
pub fn is_word_unit(c: char) -> bool {
    c as u32 >= WORD_PLANE_A
}

/// Word units are symbols of the Supplementary Private Use Areas A and B
/// (planes 15 and 16, 65,534 symbols each): text never carries them in
/// practice, and two different words share one with odds of 1 in 131,068,
/// too rare to make an alignment of real text match where it should not.
const WORD_PLANE_A: u32 = 0xF_0000;
const WORD_PLANE_B: u32 = 0x10_0000;
const PLANE_SYMBOLS: u64 = 0xFFFE;

/// The unit of a word, from its characters (lower-cased already).
fn word_symbol(hash: u64) -> char {
    let h = hash % (2 * PLANE_SYMBOLS);
    let u = if h < PLANE_SYMBOLS {
        WORD_PLANE_A + h as u32
    } else {
        WORD_PLANE_B + (h - PLANE_SYMBOLS) as u32
    };
    char::from_u32(u).unwrap_or(char::REPLACEMENT_CHARACTER)
}

/// Scripts written without spaces between words: CJK, Thai, Lao, Khmer,
/// Myanmar (their words cannot be told apart without a dictionary, so
/// they are compared and diffed by character).
pub fn is_unspaced(c: char) -> bool {
    (is_cjk(c) && !matches!(c, '\u{ac00}'..='\u{d7af}'))
        || matches!(c,
            '\u{0e00}'..='\u{0eff}'   // Thai, Lao
            | '\u{1000}'..='\u{109f}' // Myanmar
            | '\u{1780}'..='\u{17ff}') // Khmer
}

/// A character of a word of a space-separated script: a letter, digit or
/// combining mark (not ASCII or general punctuation, not of a script
/// written without spaces).
#[inline]
pub fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    // the common case in CJK text, before any table
    if is_cjk_ideograph(c) {
        return false;
    }
    if is_unspaced(c) || c as u32 >= WORD_PLANE_A {
        return false;
    }
    c.is_alphanumeric()
        || !matches!(c, '\u{00a0}'..='\u{00bf}' | '\u{00d7}' | '\u{00f7}' | '\u{2000}'..='\u{2bff}' | '\u{3000}'..='\u{303f}' | '\u{fe30}'..='\u{fe6f}' | '\u{ff00}'..='\u{ff0f}')
}

/// Normalises `text` into units (module docs).
pub fn normalize(text: &str, opts: &NormalizeOptions) -> NormText {
    let mut out = NormText::default();
    normalize_into(text, opts, &mut out);
    out
}

/// [`normalize`] into `out`, reusing its buffers (for hot loops over many
/// documents). A text of 8 MiB or more is normalised in pieces of about
/// 4 MiB on all cores, cut where normalisation is local (between two CJK
/// ideographs): the same output, sooner.
pub fn normalize_into(text: &str, opts: &NormalizeOptions, out: &mut NormText) {
    if text.len() >= 2 * PIECE {
        normalize_in_pieces(text, opts, out, PIECE);
    } else {
        normalize_whole(text, opts, out);
    }
}

fn normalize_whole(text: &str, opts: &NormalizeOptions, out: &mut NormText) {
    normalize_per_char_into(text, opts, out);
    fold_words(&mut out.chars, &mut out.gap_before, Some(&mut out.orig));
}

/// Bytes of text a piece of a long text normalised on its own holds,
/// about: large enough that a piece's work dwarfs its scheduling, small
/// enough that the pieces of one round (one per core, twice over) hold
/// little beside the output.
const PIECE: usize = 4 << 20;

/// How far past its nominal end a piece looks for a place to end.
const PIECE_SEARCH: usize = 1 << 16;

/// Normalises `text` in pieces of about `piece` bytes, in parallel, into
/// `out`: the same units, offsets and gaps as [`normalize_whole`].
///
/// A piece ends between two CJK ideographs. Normalisation is local there:
/// an ideograph is its own unit whatever surrounds it, leaves no whitespace
/// pending for the next character, and stops every look-around of the
/// passes (a word, a run of masks or prefix marks ends at it, the last
/// unit before a punctuation mark is it or comes after it). Where no such
/// place lies within [`PIECE_SEARCH`] bytes (text of other scripts), the
/// piece runs on to the next one.
fn normalize_in_pieces(text: &str, opts: &NormalizeOptions, out: &mut NormText, piece: usize) {
    let cuts = piece_ends(text, piece);
    out.clear_for(text);
    // a round of pieces at a time: what is held beside the output is a
    // few pieces' units, not a second copy of the whole
    let round = 2 * rayon::current_num_threads().max(1);
    let mut start = 0;
    for ends in cuts.chunks(round) {
        let spans: Vec<(usize, usize)> = ends
            .iter()
            .scan(start, |s, &e| {
                let span = (*s, e);
                *s = e;
                Some(span)
            })
            .collect();
        start = ends[ends.len() - 1];
        let parts: Vec<NormText> = spans
            .par_iter()
            .map(|&(s, e)| {
                let mut part = NormText::default();
                normalize_whole(&text[s..e], opts, &mut part);
                part
            })
            .collect();
        for (part, &(s, _)) in parts.into_iter().zip(&spans) {
            out.chars.extend_from_slice(&part.chars);
            out.orig.extend(part.orig.iter().map(|&o| o + s as u32));
            out.gap_before.extend_from_slice(&part.gap_before);
        }
    }
}

/// Where the pieces of [`normalize_in_pieces`] end: byte offsets between
/// two CJK ideographs about `piece` bytes apart, the last `text.len()`.
fn piece_ends(text: &str, piece: usize) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut from = 0;
    while text.len() - from > piece {
        let boundary = |mut i: usize| {
            while !text.is_char_boundary(i) {
                i += 1;
            }
            i
        };
        let at = boundary(from + piece);
        let limit = boundary((at + PIECE_SEARCH).min(text.len()));
        let mut prev_ideograph = false;
        let found = text[at..limit].char_indices().find_map(|(i, c)| {
            let here = is_cjk_ideograph(c);
            let cut = prev_ideograph && here;
            prev_ideograph = here;
            cut.then_some(at + i)
        });
        match found {
            Some(end) => {
                ends.push(end);
                from = end;
            }
            None => from = limit,
        }
    }
    ends.push(text.len());
    ends
}

/// The per-character stream [`normalize`] builds its units from: every
/// word spelled out, punctuation and prefixes kept (diffs show them).
pub fn normalize_per_char(text: &str, opts: &NormalizeOptions) -> NormText {
    let mut out = NormText::default();
    normalize_per_char_into(text, opts, &mut out);
    out
}

fn normalize_per_char_into(text: &str, opts: &NormalizeOptions, out: &mut NormText) {
    out.clear_for(text);
    mapped_units(text, out);
    if opts.mask_fold {
        fold_masks(&mut out.chars, &mut out.gap_before, Some(&mut out.orig));
    }
}

/// The characters and `gap_before` of [`normalize_per_char`] without the
/// map back to the source: what sketching needs (its shingles are word
/// n-grams for space-separated text already), a third less to write.
pub fn normalize_unmapped(
    text: &str,
    opts: &NormalizeOptions,
    chars: &mut Vec<char>,
    gap_before: &mut Vec<u8>,
) {
    chars.clear();
    gap_before.clear();
    let guess = text.len() / 2;
    chars.reserve(guess);
    gap_before.reserve(guess);
    each_char(text, |c, _, gap| {
        chars.push(c);
        gap_before.push(gap);
    });
    if opts.mask_fold {
        fold_masks(chars, gap_before, None);
    }
}

/// The units of [`normalize`] alone, in a vector of about their size
/// (texts held while verifying).
///
/// The cost of a mixed page is about that of its non-CJK stretches: the
/// text is read by the fast path (ideographs and common punctuation
/// decoded in bulk, as the sketch reads them) up to the first character
/// whose unit the word pass may change (a letter, a mask, a prefix mark at
/// a line start); only the stretch around it, from the last place before
/// it to the first place after it where normalisation is local (between
/// two CJK ideographs, where [`normalize_into`] cuts a long text), goes
/// through the slow path ([`normalize_unmapped`], then words folded), and
/// the fast path goes on from there. A footer with a site name no longer
/// sends its whole page down the slow path.
pub fn normalize_chars(text: &str, opts: &NormalizeOptions) -> Vec<char> {
    chars_by(text, opts, clean_until)
}

/// What reads the clean stretches for [`normalize_chars`]: [`clean_until`]
/// (vector steps where the CPU has them), or its scalar steps alone.
type Scan = fn(&str, &mut usize, &mut Vec<char>, &mut bool, bool) -> Option<(usize, usize)>;

/// [`normalize_chars`], its clean stretches read by `scan`.
#[inline(always)]
fn chars_by(text: &str, opts: &NormalizeOptions, scan: Scan) -> Vec<char> {
    // about one character per three bytes of CJK text; grows if not
    let mut chars = Vec::with_capacity(text.len() / 3 + 16);
    let (mut piece, mut gaps) = (Vec::new(), Vec::new());
    // text[..done] is final in chars[..kept], `done` a local place
    let (mut done, mut kept) = (0, 0);
    let mut at = 0;
    let mut line_start = true;
    while let Some((stop, units)) = scan(text, &mut at, &mut chars, &mut line_start, opts.mask_fold)
    {
        let (from, from_units) = local_before(text, stop, units, (done, kept));
        let to = local_after(text, stop);
        normalize_unmapped(&text[from..to], opts, &mut piece, &mut gaps);
        fold_words(&mut piece, &mut gaps, None);
        chars.truncate(from_units);
        chars.extend_from_slice(&piece);
        (done, kept, at) = (to, chars.len(), to);
        // the next unit, if any, is an ideograph
        line_start = false;
    }
    chars
}

/// Whether the fast path of [`normalize_chars`] stops at the unit `c`:
/// a letter or word unit ([`fold_words`] makes words of them and drops
/// punctuation next to them) or, with `mask_fold`, a `*` ([`fold_masks`];
/// an `x` is a letter). ASCII digits do not stop it: without a letter in
/// the text they stay characters, and so does the punctuation around them.
#[inline(always)]
fn stops_fast(c: char, mask_fold: bool) -> bool {
    if c.is_ascii() {
        // the punctuation of CJK text, as units: of ASCII, `is_word_char`
        // takes letters and digits
        return c.is_ascii_alphabetic() || mask_fold && c == '*';
    }
    !is_cjk_ideograph(c) && (is_word_unit(c) || is_word_char(c))
}

/// Appends the characters [`each_char`] emits for `text` from byte `*at`
/// on to `out` while [`fold_words`] and [`fold_masks`] would leave them
/// as they are (no unit that [`stops_fast`], no prefix mark as the first
/// unit of a line; `*line_start`: no unit since the start or the last line
/// break). Gives `None` at the end of the text, else the byte offset of
/// the source character that stops it and the number of units before it
/// (`out` may hold some of its units); `*at` is moved past what was read.
fn clean_until(
    text: &str,
    at: &mut usize,
    out: &mut Vec<char>,
    line_start: &mut bool,
    mask_fold: bool,
) -> Option<(usize, usize)> {
    #[cfg(target_arch = "x86_64")]
    if has_vbmi() {
        // SAFETY: the CPU supports AVX-512 F, BW and VBMI and POPCNT.
        return unsafe { clean_until_vbmi(text, at, out, line_start, mask_fold) };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and POPCNT.
        return unsafe { clean_until_avx2(text, at, out, line_start, mask_fold) };
    }
    clean_with::<0>(text, at, out, line_start, mask_fold)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
unsafe fn clean_until_vbmi(
    text: &str,
    at: &mut usize,
    out: &mut Vec<char>,
    line_start: &mut bool,
    mask_fold: bool,
) -> Option<(usize, usize)> {
    clean_with::<16>(text, at, out, line_start, mask_fold)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn clean_until_avx2(
    text: &str,
    at: &mut usize,
    out: &mut Vec<char>,
    line_start: &mut bool,
    mask_fold: bool,
) -> Option<(usize, usize)> {
    clean_with::<8>(text, at, out, line_start, mask_fold)
}

/// [`clean_until`], with runs of 3-byte characters `LANES` at a time
/// ([`units_vector`]; 0: one by one).
#[inline(always)]
fn clean_with<const LANES: usize>(
    text: &str,
    at: &mut usize,
    out: &mut Vec<char>,
    line_start: &mut bool,
    mask_fold: bool,
) -> Option<(usize, usize)> {
    let bytes = text.as_bytes();
    let mut i = *at;
    while i < bytes.len() {
        if out.capacity() - out.len() < 16 {
            out.reserve(UNITS_BLOCK);
        }
        #[cfg(target_arch = "x86_64")]
        if LANES > 0 {
            let from = out.len();
            // SAFETY: only instantiated with `LANES` > 0 in functions
            // compiled for what `units_vector` needs.
            let (k, ideographs) =
                unsafe { units_vector::<LANES>(bytes, i, out, usize::MAX, punct_table()) };
            if k > 0 {
                if *line_start && is_prefix_mark(out[from]) {
                    *at = i;
                    return Some((i, from));
                }
                *line_start = false;
                // the punctuation among them: lane `j` came from byte `i + 3j`
                let mut rest = !ideographs & ((1u32 << k) - 1) as u16;
                while rest != 0 {
                    let j = rest.trailing_zeros() as usize;
                    if stops_fast(out[from + j], mask_fold) {
                        *at = i + 3 * j;
                        return Some((i + 3 * j, from + j));
                    }
                    rest &= rest - 1;
                }
                i += 3 * k;
                // a full vector: the next may be one too; else the
                // character that stopped it goes the scalar way now, not
                // after a vector that would take nothing
                if k == LANES {
                    continue;
                }
                if i >= bytes.len() {
                    break;
                }
            }
        }
        if let Some(c) = ideograph_at(bytes, i) {
            out.push(c);
            *line_start = false;
            i += 3;
            continue;
        }
        // gaps, which make no unit: what `char_units` gives them
        match bytes[i] {
            b'\n' => {
                *line_start = true;
                i += 1;
                continue;
            }
            b' ' => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(ch) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let from = out.len();
        let gap = char_units(ch, |c| out.push(c));
        if let Some(&first) = out.get(from) {
            let stop = *line_start && is_prefix_mark(first)
                || out[from..].iter().any(|&c| stops_fast(c, mask_fold));
            if stop {
                *at = i;
                return Some((i, from));
            }
            *line_start = false;
        }
        *line_start |= gap == GAP_LINE;
        i += ch.len_utf8();
    }
    *at = i;
    None
}

/// The last place at or before byte `at` of `text` (whose characters
/// before it make `units` units) where normalisation is local: right
/// after a CJK ideograph whose next unit is an ideograph too (only
/// whitespace or nothing-making characters between, which go with the
/// second). Gives the byte offset and the units before it; `floor`
/// (such a place, or the start) if none lies after it.
fn local_before(
    text: &str,
    mut at: usize,
    mut units: usize,
    floor: (usize, usize),
) -> (usize, usize) {
    // an ideograph was the next unit (walking back)
    let mut ideograph_next = false;
    while at > floor.0 {
        let Some(ch) = text[..at].chars().next_back() else {
            break;
        };
        if is_cjk_ideograph(ch) {
            if ideograph_next {
                return (at, units);
            }
            ideograph_next = true;
            units -= 1;
        } else {
            let mut n = 0;
            char_units(ch, |_| n += 1);
            if n > 0 {
                ideograph_next = false;
                units -= n;
            }
        }
        at -= ch.len_utf8();
    }
    floor
}

/// The first place after the character at byte `at` of `text` where
/// normalisation is local (as [`local_before`]), or the end of the text.
fn local_after(text: &str, at: usize) -> usize {
    // the end of the last unit, if it was an ideograph
    let mut ideograph_end = None;
    for (off, ch) in text[at..].char_indices() {
        if is_cjk_ideograph(ch) {
            if let Some(end) = ideograph_end {
                return end;
            }
            ideograph_end = Some(at + off + ch.len_utf8());
        } else {
            let mut n = 0;
            char_units(ch, |_| n += 1);
            if n > 0 {
                ideograph_end = None;
            }
        }
    }
    text.len()
}

/// Characters [`clean_until`] reserves room for at a time.
const UNITS_BLOCK: usize = 4096;

/// Calls `emit(char, source byte offset, gap before)` for every normalised
/// character of `text`: the one definition of normalisation (before
/// masks are folded) that every output shape above is filled from.
#[inline(always)]
pub(crate) fn each_char(text: &str, mut emit: impl FnMut(char, u32, u8)) {
    let mut space = GAP_NONE;
    for (off, ch) in text.char_indices() {
        let gap = char_units(ch, |c| {
            emit(c, off as u32, space);
            space = GAP_NONE;
        });
        space = space.max(gap);
    }
}

/// What one source character of [`each_char`] becomes: its characters go
/// to `emit`; gives the whitespace it stands for ([`GAP_LINE`],
/// [`GAP_SPACE`], or [`GAP_NONE`] for a character, or for nothing).
#[inline(always)]
fn char_units(ch: char, mut emit: impl FnMut(char)) -> u8 {
    // The common cases first: ASCII and CJK ideographs, which need no
    // table; then one table lookup for the rest of the BMP.
    let c = if ch.is_ascii() {
        if ch == '\n' {
            return GAP_LINE;
        }
        if ch.is_whitespace() {
            return GAP_SPACE;
        }
        ch.to_ascii_lowercase()
    } else if is_cjk_ideograph(ch) {
        ch
    } else {
        match bmp_entry(ch) {
            Some(ONE_GAP) => return GAP_SPACE,
            Some(ONE_NOTHING) => return GAP_NONE,
            Some(u) if u < 0x11_0000 => char::from_u32(u).unwrap_or(ch),
            _ => {
                return match one_char(ch, emit) {
                    One::Gap => GAP_SPACE,
                    One::Chars => GAP_NONE,
                }
            }
        }
    };
    emit(c);
    GAP_NONE
}

/// Appends the characters [`each_char`] emits for `text` from byte `*at`
/// on (offsets and gaps left out) to `out`, until `out` holds `until`
/// characters or more or the text ends, and moves `*at` past what it read.
/// Gives how many of the appended characters the fast path took: all CJK
/// ideographs, a lower bound of the ideographs appended.
///
/// The sketch's fast path: a CJK ideograph (U+3400–U+4DBF, U+4E00–U+9FFF:
/// NFKC-stable, caseless, no punctuation, so its own unit) is decoded from
/// its 3 UTF-8 bytes and appended without the per-character branches and
/// table of [`each_char`]. Where the CPU has AVX-512 VBMI, 16 3-byte
/// characters are decoded at a time, with AVX2 8 ([`units_vector`]),
/// ideographs and the common CJK punctuation (looked up in
/// [`punct_table`], made from [`char_units`]).
/// Every other character goes through [`char_units`], the step of
/// [`each_char`]. `*at` must be a character boundary.
pub(crate) fn units_until(text: &str, at: &mut usize, out: &mut Vec<char>, until: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    if has_vbmi() {
        // SAFETY: the CPU supports AVX-512 F, BW and VBMI and POPCNT.
        return unsafe { units_until_vbmi(text, at, out, until) };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and POPCNT.
        return unsafe { units_until_avx2(text, at, out, until) };
    }
    units_with::<0>(text, at, out, until)
}

/// Whether the CPU has what [`units_vbmi`] needs: AVX-512 F, BW and VBMI
/// (BW implies F) and POPCNT.
#[cfg(target_arch = "x86_64")]
fn has_vbmi() -> bool {
    std::is_x86_feature_detected!("avx512vbmi")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("popcnt")
}

/// Whether the CPU has what [`units_avx2`] needs: AVX2 and POPCNT.
#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("popcnt")
}

/// Appends what [`each_char`] emits for `text` to `out`'s three vectors:
/// the same characters, offsets and gaps, by runs where it can. A run of
/// printable ASCII (U+0021–U+007E: each byte one character, lower-cased,
/// the boilerplate and English of mixed pages) is copied a run at a
/// time; ideographs and the common CJK punctuation go 16 at a time where
/// the CPU has AVX-512 VBMI, 8 with AVX2 ([`units_vector`], the sketch's
/// fast path), else one by one from their 3 bytes ([`ideograph_at`]); a
/// space only widens the gap. Every other character goes through
/// [`char_units`], the step of [`each_char`]. The block stage and the
/// copies of the report normalise every text they read back this way.
fn mapped_units(text: &str, out: &mut NormText) {
    #[cfg(target_arch = "x86_64")]
    if has_vbmi() {
        // SAFETY: the CPU supports AVX-512 F, BW and VBMI and POPCNT.
        return unsafe { mapped_units_vbmi(text, out) };
    }
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        // SAFETY: the CPU supports AVX2 and POPCNT.
        return unsafe { mapped_units_avx2(text, out) };
    }
    mapped_with::<0>(text, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
unsafe fn mapped_units_vbmi(text: &str, out: &mut NormText) {
    mapped_with::<16>(text, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn mapped_units_avx2(text: &str, out: &mut NormText) {
    mapped_with::<8>(text, out);
}

/// [`mapped_units`], with runs of 3-byte characters `LANES` at a time
/// ([`units_vector`]; 0: one by one).
#[inline(always)]
fn mapped_with<const LANES: usize>(text: &str, out: &mut NormText) {
    let bytes = text.as_bytes();
    let printable = |b: u8| (0x21..0x7f).contains(&b);
    // `n` characters from bytes `i`, `i + step`, …: the first after the
    // whitespace `space`, the others right after the one before
    let offsets = |out: &mut NormText, i: usize, n: usize, step: usize, space: u8| {
        out.orig.extend((0..n).map(|j| (i + step * j) as u32));
        out.gap_before.push(space);
        out.gap_before
            .resize(out.gap_before.len() + n - 1, GAP_NONE);
    };
    let mut i = 0;
    let mut space = GAP_NONE;
    while i < bytes.len() {
        let b = bytes[i];
        if printable(b) {
            let run = &bytes[i..];
            let n = run.iter().position(|&b| !printable(b)).unwrap_or(run.len());
            out.chars
                .extend(run[..n].iter().map(|&b| char::from(b.to_ascii_lowercase())));
            offsets(out, i, n, 1, space);
            space = GAP_NONE;
            i += n;
            continue;
        }
        if b == b' ' {
            space = space.max(GAP_SPACE);
            i += 1;
            continue;
        }
        #[cfg(target_arch = "x86_64")]
        if LANES > 0 && b >= 0xE0 {
            out.chars.reserve(LANES);
            // SAFETY: only instantiated with `LANES` > 0 in functions
            // compiled for what `units_vector` needs.
            let (k, _) = unsafe {
                units_vector::<LANES>(bytes, i, &mut out.chars, usize::MAX, punct_table())
            };
            if k > 0 {
                offsets(out, i, k, 3, space);
                space = GAP_NONE;
                i += 3 * k;
                continue;
            }
        }
        let mut push = |c: char| {
            out.chars.push(c);
            out.orig.push(i as u32);
            out.gap_before.push(space);
            space = GAP_NONE;
        };
        if let Some(c) = ideograph_at(bytes, i) {
            push(c);
            i += 3;
            continue;
        }
        let Some(ch) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let gap = char_units(ch, push);
        space = space.max(gap);
        i += ch.len_utf8();
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
unsafe fn units_until_vbmi(text: &str, at: &mut usize, out: &mut Vec<char>, until: usize) -> usize {
    units_with::<16>(text, at, out, until)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
unsafe fn units_until_avx2(text: &str, at: &mut usize, out: &mut Vec<char>, until: usize) -> usize {
    units_with::<8>(text, at, out, until)
}

/// [`units_until`], with runs of 3-byte characters `LANES` at a time
/// ([`units_vector`]; 0: one by one).
#[inline(always)]
fn units_with<const LANES: usize>(
    text: &str,
    at: &mut usize,
    out: &mut Vec<char>,
    until: usize,
) -> usize {
    let bytes = text.as_bytes();
    let mut i = *at;
    let mut fast = 0;
    // room for a vector of 16 beyond `until`
    out.reserve(until.saturating_sub(out.len()) + 16);
    while i < bytes.len() && out.len() < until {
        #[cfg(target_arch = "x86_64")]
        if LANES > 0 {
            // SAFETY: only instantiated with `LANES` > 0 in functions
            // compiled for what `units_vector` needs.
            let (k, ideographs) =
                unsafe { units_vector::<LANES>(bytes, i, out, until - out.len(), punct_table()) };
            fast += ideographs.count_ones() as usize;
            if k == LANES {
                // a branch, not `3 * k`: the next load's address waits
                // for no result of this vector (predicted in runs of
                // ideographs, the next vectors decode while this one does)
                i += 3 * LANES;
                continue;
            }
            i += 3 * k;
            if out.len() >= until || i >= bytes.len() {
                break;
            }
        }
        if let Some(c) = ideograph_at(bytes, i) {
            out.push(c);
            fast += 1;
            i += 3;
            continue;
        }
        let Some(ch) = text.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        char_units(ch, |c| out.push(c));
        i += ch.len_utf8();
    }
    *at = i;
    fast
}

/// Where the tables of [`punct_table`] start: 32 characters from each,
/// the 3-byte marks CJK text is full of besides its ideographs
/// (–—‘’“”…, 、。《》「」【】, ！（），：；？ and full-width digits).
#[cfg(target_arch = "x86_64")]
const PUNCT_BASES: [u32; 3] = [0x2010, 0x3000, 0xFF00];

/// What [`char_units`] makes of the characters from each of
/// [`PUNCT_BASES`], built from the definition the first time it is asked
/// for.
#[cfg(target_arch = "x86_64")]
struct Punct {
    /// For [`units_vbmi`]: `units[32 * t + j]` is the one character
    /// `PUNCT_BASES[t] + j` becomes, or [`ONE_MANY`] (gaps, nothing,
    /// several: the scalar step's business).
    units: [u32; 96],
    /// For [`units_avx2`], as bytes it looks up 16 at a time:
    /// `bytes[32 * t + j]` is the ASCII character `PUNCT_BASES[t] + j`
    /// becomes, or 0 when it stays itself; bit `j` of `byte_single[t]`
    /// says which are one of these (the rest, a mark made another
    /// non-ASCII character such as U+2011 → U+2010, go the scalar way).
    bytes: [u8; 96],
    byte_single: [u32; 3],
}

#[cfg(target_arch = "x86_64")]
fn punct_table() -> &'static Punct {
    static TABLE: std::sync::OnceLock<Punct> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Punct {
            units: [ONE_MANY; 96],
            bytes: [0; 96],
            byte_single: [0; 3],
        };
        for i in 0..96 {
            let u = PUNCT_BASES[i / 32] + (i % 32) as u32;
            let Some(ch) = char::from_u32(u) else {
                continue;
            };
            let mut got = Vec::new();
            if char_units(ch, |c| got.push(c)) == GAP_NONE && got.len() == 1 {
                let unit = got[0];
                t.units[i] = unit as u32;
                if unit == ch || unit.is_ascii() {
                    t.bytes[i] = if unit == ch { 0 } else { unit as u8 };
                    t.byte_single[i / 32] |= 1 << (i % 32);
                }
            }
        }
        t
    })
}

/// Appends the units of the 3-byte characters at the start of
/// `bytes[i..]` that are CJK ideographs (as [`ideograph_at`]) or in
/// `punct` ([`punct_table`]), at most 16 and at most `room`, decoded in
/// one vector; gives how many characters it took and which of them were
/// ideographs (bit `j` for the `j`-th). `src` holds 64 bytes and `out`
/// room for 16 more characters ([`units_vector`] checks both).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,popcnt")]
#[inline]
unsafe fn units_vbmi(src: &[u8], out: &mut Vec<char>, room: usize, punct: &Punct) -> (usize, u16) {
    use std::arch::x86_64::*;
    // lane j holds bytes 3j, 3j + 1, 3j + 2 (and a zero byte): the 3-byte
    // sequence that starts there when the lanes before it were taken
    const PICK: [u8; 64] = {
        let mut pick = [0u8; 64];
        let mut b = 0;
        while b < 64 {
            pick[b] = ((b / 4) * 3 + (b % 4) % 3) as u8;
            b += 1;
        }
        pick
    };
    // SAFETY: `src`, `PICK` and each half of a table are 64 bytes;
    // unaligned loads.
    let (v, pick, tables) = unsafe {
        let t = |at: usize| _mm512_loadu_si512(punct.units[at..at + 16].as_ptr().cast());
        (
            _mm512_loadu_si512(src.as_ptr().cast()),
            _mm512_loadu_si512(PICK.as_ptr().cast()),
            [(t(0), t(16)), (t(32), t(48)), (t(64), t(80))],
        )
    };
    let x = _mm512_maskz_permutexvar_epi8(0x7777_7777_7777_7777, pick, v);
    let k = |c: u32| _mm512_set1_epi32(c as i32);
    // (b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | b2 & 0x3F
    let u = _mm512_or_si512(
        _mm512_or_si512(
            _mm512_slli_epi32::<12>(_mm512_and_si512(x, k(0x0F))),
            _mm512_and_si512(_mm512_srli_epi32::<2>(x), k(0xFC0)),
        ),
        _mm512_and_si512(_mm512_srli_epi32::<16>(x), k(0x3F)),
    );
    // `base <= a < base + n`
    let within = |a, base: u32, n: u32| _mm512_cmplt_epu32_mask(_mm512_sub_epi32(a, k(base)), k(n));
    // a 3-byte lead (E0–EF): with the lanes before it taken, a character
    let lead = within(_mm512_and_si512(x, k(0xFF)), 0xE0, 16);
    let ideographs = within(u, 0x4E00, 0x5200) | within(u, 0x3400, 0x19C0);
    let mut units = _mm512_mask_mov_epi32(k(ONE_MANY), ideographs, u);
    for (&base, &(lo, hi)) in PUNCT_BASES.iter().zip(&tables) {
        let looked = _mm512_permutex2var_epi32(lo, _mm512_sub_epi32(u, k(base)), hi);
        units = _mm512_mask_mov_epi32(units, within(u, base, 32), looked);
    }
    let ok = lead & _mm512_cmplt_epu32_mask(units, k(0x11_0000));
    let n = (ok.trailing_ones() as usize).min(room);
    let taken = ((1u32 << n) - 1) as u16;
    // SAFETY: 16 lanes fit in the spare capacity (`units_vector`); the first `n`
    // hold chars (ideographs, or table entries below 0x110000 made from
    // chars) and become the vector's new elements.
    unsafe {
        _mm512_storeu_si512(out.as_mut_ptr().add(out.len()).cast(), units);
        out.set_len(out.len() + n);
    }
    (n, ideographs & taken)
}

/// [`units_vbmi`] (`LANES` 16) or [`units_avx2`] (8) at byte `i`; `(0, 0)`
/// for any other `LANES`, or when too few bytes are left for a vector's
/// load or `out` has no room for `LANES` more (the caller goes one by
/// one).
///
/// # Safety
/// The CPU must support what the chosen function is compiled for.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn units_vector<const LANES: usize>(
    bytes: &[u8],
    i: usize,
    out: &mut Vec<char>,
    room: usize,
    punct: &Punct,
) -> (usize, u16) {
    // the bytes each vector loads
    let load = match LANES {
        16 => 64,
        8 => 28,
        _ => return (0, 0),
    };
    let Some(src) = bytes.get(i..i + load) else {
        return (0, 0);
    };
    if out.capacity() - out.len() < LANES {
        return (0, 0);
    }
    if LANES == 16 {
        // SAFETY: the caller's CPU supports it; `src` and `out` checked.
        unsafe { units_vbmi(src, out, room, punct) }
    } else {
        // SAFETY: the caller's CPU supports it; `src` and `out` checked.
        unsafe { units_avx2(src, out, room, punct) }
    }
}

/// [`units_vbmi`] with AVX2: at most 8 characters from 24 bytes, each
/// 128-bit half decoding 4 (the upper half loaded from byte 12), the
/// punctuation's units looked up in `punct.bytes` 16 at a time by byte
/// shuffles. `src`
/// holds 28 bytes and `out` room for 8 more characters ([`units_vector`]
/// checks both).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
#[inline]
unsafe fn units_avx2(src: &[u8], out: &mut Vec<char>, room: usize, punct: &Punct) -> (usize, u16) {
    use std::arch::x86_64::*;
    // in each half, lane j holds bytes 3j, 3j + 1, 3j + 2 and a zero (an
    // index with its top bit set)
    const PICK: [i8; 16] = [0, 1, 2, -1, 3, 4, 5, -1, 6, 7, 8, -1, 9, 10, 11, -1];
    // SAFETY: `src` holds 12 + 16 bytes and `PICK` 16; unaligned loads.
    let (lo, hi, pick) = unsafe {
        (
            _mm_loadu_si128(src.as_ptr().cast()),
            _mm_loadu_si128(src.as_ptr().add(12).cast()),
            _mm_loadu_si128(PICK.as_ptr().cast()),
        )
    };
    let x = _mm256_shuffle_epi8(
        _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(lo), hi),
        _mm256_broadcastsi128_si256(pick),
    );
    let k = |c: u32| _mm256_set1_epi32(c as i32);
    // (b0 & 0x0F) << 12 | (b1 & 0x3F) << 6 | b2 & 0x3F
    let u = _mm256_or_si256(
        _mm256_or_si256(
            _mm256_slli_epi32::<12>(_mm256_and_si256(x, k(0x0F))),
            _mm256_and_si256(_mm256_srli_epi32::<2>(x), k(0xFC0)),
        ),
        _mm256_and_si256(_mm256_srli_epi32::<16>(x), k(0x3F)),
    );
    // `base <= a < base + n`, unsigned: no unsigned compare in AVX2
    let within = |a, base: u32, n: u32| {
        let d = _mm256_sub_epi32(a, k(base));
        _mm256_cmpeq_epi32(_mm256_min_epu32(d, k(n - 1)), d)
    };
    // a 3-byte lead (E0–EF): with the lanes before it taken, a character
    let lead = within(_mm256_and_si256(x, k(0xFF)), 0xE0, 16);
    let ideographs = _mm256_or_si256(within(u, 0x4E00, 0x5200), within(u, 0x3400, 0x19C0));
    // the punctuation that is one character, and the ASCII it becomes (0:
    // itself), looked up in `punct.bytes` 16 at a time: byte 0 of each
    // lane takes the entry its low 4 bits index, the others zero
    let (mut single, mut ascii) = (_mm256_setzero_si256(), _mm256_setzero_si256());
    for (t, &base) in PUNCT_BASES.iter().enumerate() {
        let j = _mm256_sub_epi32(u, k(base));
        let inside = within(u, base, 32);
        let one = _mm256_and_si256(_mm256_srlv_epi32(k(punct.byte_single[t]), j), k(1));
        single = _mm256_or_si256(
            single,
            _mm256_and_si256(inside, _mm256_cmpeq_epi32(one, k(1))),
        );
        // SAFETY: 16 bytes each, within the 96 of `punct.bytes`;
        // unaligned loads.
        let (lo, hi) = unsafe {
            (
                _mm256_broadcastsi128_si256(_mm_loadu_si128(punct.bytes[32 * t..].as_ptr().cast())),
                _mm256_broadcastsi128_si256(_mm_loadu_si128(
                    punct.bytes[32 * t + 16..].as_ptr().cast(),
                )),
            )
        };
        let index = _mm256_or_si256(_mm256_and_si256(j, k(0x0F)), k(0x8080_8000));
        let upper = _mm256_cmpeq_epi32(_mm256_and_si256(j, k(0x10)), k(0x10));
        let byte = _mm256_blendv_epi8(
            _mm256_shuffle_epi8(lo, index),
            _mm256_shuffle_epi8(hi, index),
            upper,
        );
        ascii = _mm256_blendv_epi8(ascii, byte, inside);
    }
    let ok = _mm256_and_si256(lead, _mm256_or_si256(ideographs, single));
    let lanes = |m: __m256i| _mm256_movemask_ps(_mm256_castsi256_ps(m)) as u32;
    let n = (lanes(ok).trailing_ones() as usize).min(room);
    let taken = (1u32 << n) - 1;
    // ideographs and marks that stay themselves keep their code point
    let swap = _mm256_andnot_si256(_mm256_cmpeq_epi32(ascii, _mm256_setzero_si256()), single);
    let units = _mm256_blendv_epi8(u, ascii, swap);
    // SAFETY: 8 lanes fit in the spare capacity (`units_vector`); an
    // unaligned store.
    unsafe { _mm256_storeu_si256(out.as_mut_ptr().add(out.len()).cast(), units) };
    // SAFETY: the first `n` lanes hold chars (ideographs, marks that stay
    // themselves, or ASCII bytes from `punct.bytes`) and become the
    // vector's new elements.
    unsafe { out.set_len(out.len() + n) };
    (n, (lanes(ideographs) & taken) as u16)
}

/// The CJK ideograph (U+3400–U+4DBF or U+4E00–U+9FFF, as
/// [`is_cjk_ideograph`]) whose UTF-8 sequence starts at `bytes[i]`, if one
/// does; `bytes` is valid UTF-8 and `i` a character boundary.
#[inline(always)]
fn ideograph_at(bytes: &[u8], i: usize) -> Option<char> {
    let b0 = *bytes.get(i)?;
    // lead bytes of U+3000–U+9FFF
    if !(0xE3..=0xE9).contains(&b0) {
        return None;
    }
    let (b1, b2) = (*bytes.get(i + 1)?, *bytes.get(i + 2)?);
    let u = u32::from(b0 & 0x0F) << 12 | u32::from(b1 & 0x3F) << 6 | u32::from(b2 & 0x3F);
    let ideograph = u.wrapping_sub(0x4E00) < 0x5200 || u.wrapping_sub(0x3400) < 0x19C0;
    ideograph.then(|| char::from_u32(u)).flatten()
}

/// What normalising one non-ASCII character gave ([`one_char`]).
enum One {
    /// Whitespace (or an invisible character): a gap before the next one.
    Gap,
    /// Its characters, emitted (maybe none).
    Chars,
}

/// Normalises one non-ASCII character: NFKC, CJK punctuation, lower case,
/// calling `emit` for each character it becomes. The slow path of
/// [`each_char`], and what its table ([`bmp_entry`]) is built from.
fn one_char(ch: char, mut emit: impl FnMut(char)) -> One {
    if is_cjk_ideograph(ch) {
        emit(ch);
    } else if let Some(c) = fullwidth_ascii(ch) {
        emit(c);
    } else if ch.is_whitespace() || is_invisible(ch) {
        return One::Gap;
    } else if let Some(p) = cjk_punct(ch) {
        emit(p);
    } else {
        for c in std::iter::once(ch).nfkc() {
            if c.is_whitespace() {
                continue;
            }
            let c = cjk_punct(c).unwrap_or(c);
            for l in c.to_lowercase().filter_map(fold_diacritic) {
                emit(l);
            }
        }
    }
    One::Chars
}

/// Folds a diacritic away (module docs, *Diacritics*): a lower-case Latin
/// or Greek letter, or `ё`, whose canonical decomposition is a letter and
/// combining diacritics (U+0300–U+036F) becomes that letter (`é`→`e`,
/// `ä`→`a`, `ά`→`α`, `ё`→`е`); a lone combining diacritic (text written
/// decomposed) goes (`None`). Other letters keep their marks: `й`, `ї`,
/// `ў` are letters of their own that no one writes without the mark.
/// Called once per BMP character to fill the table ([`bmp_entry`]), so
/// it costs nothing per character of text.
fn fold_diacritic(c: char) -> Option<char> {
    if is_combining_diacritic(c) {
        return None;
    }
    let folds = matches!(c,
        '\u{00c0}'..='\u{024f}'   // Latin-1 letters, Latin Extended-A/B
        | '\u{1e00}'..='\u{1eff}' // Latin Extended Additional (Vietnamese)
        | '\u{0370}'..='\u{03ff}' // Greek
        | '\u{1f00}'..='\u{1fff}' // Greek Extended (polytonic)
        | 'ё');
    if !folds {
        return Some(c);
    }
    let mut parts = std::iter::once(c).nfd();
    match parts.next() {
        Some(base) if base != c && base.is_alphabetic() && parts.all(is_combining_diacritic) => {
            Some(base)
        }
        _ => Some(c),
    }
}

/// The Combining Diacritical Marks block (accents, diaeresis, cedilla,
/// ogonek…), the marks of Latin, Greek and Cyrillic letters.
fn is_combining_diacritic(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036f}')
}

/// Table entry: the character is whitespace (a gap).
const ONE_GAP: u32 = u32::MAX;
/// Table entry: the character becomes nothing (and leaves no gap).
const ONE_NOTHING: u32 = u32::MAX - 1;
/// Table entry: the character becomes several, or is no BMP character
/// (a surrogate code point): the slow path.
const ONE_MANY: u32 = u32::MAX - 2;

/// The BMP characters of [`one_char`] in blocks of 256, each built the
/// first time a character of it is seen: most text touches a few blocks
/// (punctuation, its letters), and NFKC-stable characters map to
/// themselves.
static BMP: [std::sync::OnceLock<Box<[u32; 256]>>; 256] =
    [const { std::sync::OnceLock::new() }; 256];

/// [`one_char`] of a BMP character as one table entry (the character it
/// becomes, [`ONE_GAP`], [`ONE_NOTHING`] or [`ONE_MANY`]); `None` above the
/// BMP.
#[inline]
fn bmp_entry(ch: char) -> Option<u32> {
    let u = ch as u32;
    let block = BMP.get((u >> 8) as usize)?;
    let table = block.get_or_init(|| {
        let mut t = Box::new([ONE_MANY; 256]);
        for (i, e) in t.iter_mut().enumerate() {
            let Some(c) = char::from_u32((u & !0xff) | i as u32) else {
                continue;
            };
            let mut out = [None; 2];
            let mut n = 0;
            let kind = one_char(c, |l| {
                if n < 2 {
                    out[n] = Some(l);
                }
                n += 1;
            });
            *e = match (kind, n, out[0]) {
                (One::Gap, _, _) => ONE_GAP,
                (One::Chars, 0, _) => ONE_NOTHING,
                (One::Chars, 1, Some(l)) => l as u32,
                _ => ONE_MANY,
            };
        }
        t
    });
    Some(table[(u & 0xff) as usize])
}

/// Full-width ASCII (`，：（ＡＢ１`…, U+FF01–U+FF5E), as common in CJK text
/// as the ideographs: NFKC maps each to its ASCII counterpart, lower-cased
/// here without the general NFKC machinery.
fn fullwidth_ascii(ch: char) -> Option<char> {
    let u = ch as u32;
    if (0xFF01..=0xFF5E).contains(&u) {
        let a = (u - 0xFEE0) as u8;
        Some(char::from(a.to_ascii_lowercase()))
    } else {
        None
    }
}

/// Zero-width characters that scraped text is full of and that carry no text.
fn is_invisible(ch: char) -> bool {
    matches!(
        ch,
        '\u{200b}' | '\u{200c}' | '\u{200d}' | '\u{2060}' | '\u{feff}' | '\u{00ad}'
    )
}

/// CJK Unified Ideographs (the common block and extension A).
#[inline]
pub fn is_cjk_ideograph(ch: char) -> bool {
    matches!(ch, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// Characters of scripts written without spaces between words.
pub fn is_cjk(ch: char) -> bool {
    is_cjk_ideograph(ch)
        || matches!(ch,
            '\u{3040}'..='\u{30ff}'   // kana
            | '\u{ac00}'..='\u{d7af}' // hangul
            | '\u{f900}'..='\u{faff}' // compatibility ideographs
            | '\u{20000}'..='\u{2ffff}')
}

/// CJK punctuation that NFKC leaves alone, mapped to the ASCII mark it
/// stands for, so `。` and `.` (or `“` and `"`) compare equal.
fn cjk_punct(ch: char) -> Option<char> {
    Some(match ch {
        '。' | '｡' => '.',
        '、' | '､' => ',',
        '“' | '”' | '„' | '「' | '」' | '『' | '』' | '〝' | '〞' => '"',
        '‘' | '’' | '‚' => '\'',
        '《' | '〈' | '‹' | '«' => '<',
        '》' | '〉' | '›' | '»' => '>',
        '【' | '〔' | '〖' | '［' => '[',
        '】' | '〕' | '〗' | '］' => ']',
        '—' | '–' | '―' | '－' | '─' => '-',
        '～' | '〜' => '~',
        '·' | '・' | '•' => '.',
        '×' => 'x',
        _ => return None,
    })
}

/// Folds anonymisation masks into one `*`: runs of `*`, and runs of one to
/// three `x` (after lower-casing) that stand between non-Latin characters,
/// as in `XX县` or `xx省`; `x` inside an English word is left alone. Works
/// in place on the parallel vectors (`orig` when there is one).
fn fold_masks(chars: &mut Vec<char>, gaps: &mut Vec<u8>, mut orig: Option<&mut Vec<u32>>) {
    let n = chars.len();
    let is_latin = |c: char| c.is_ascii_alphanumeric();
    let mut w = 0;
    let mut i = 0;
    while i < n {
        let c = chars[i];
        let run_end = |chars: &[char], x: char| {
            let mut j = i;
            while j < n && chars[j] == x {
                j += 1;
            }
            j
        };
        let mask_end = if c == '*' {
            Some(run_end(chars, '*'))
        } else if c == 'x' {
            let j = run_end(chars, 'x');
            let before_ok = i == 0 || !is_latin(chars[i - 1]);
            let after_ok = j == n || !is_latin(chars[j]);
            (j - i <= 3 && before_ok && after_ok).then_some(j)
        } else {
            None
        };
        let next = mask_end.unwrap_or(i + 1);
        // writes land at `w <= i`, behind what is still to be read; the
        // one in-place rewrite (a lone `x` mask start → `*`) is never the
        // character before a later `x` run
        chars[w] = if mask_end.is_some() { '*' } else { c };
        gaps[w] = gaps[i];
        if let Some(o) = orig.as_deref_mut() {
            o[w] = o[i];
        }
        w += 1;
        i = next;
    }
    chars.truncate(w);
    gaps.truncate(w);
    if let Some(o) = orig {
        o.truncate(w);
    }
}

/// Turns the character stream into units (module docs), in place on the
/// parallel vectors (`orig` when there is one): each word becomes one
/// [`is_word_unit`] symbol at its first character's offset, punctuation
/// between words and comment prefixes at line starts go, and the
/// whitespace of what goes is carried to the next unit.
fn fold_words(chars: &mut Vec<char>, gaps: &mut Vec<u8>, mut orig: Option<&mut Vec<u32>>) {
    let n = chars.len();
    // Most CJK documents hold no word and no prefix at all: nothing to do
    // (punctuation goes only next to a word), checked at a fraction of
    // the cost of the pass below.
    let changes = |i: usize| {
        let c = chars[i];
        !is_cjk_ideograph(c)
            && (is_word_char(c)
                || is_word_unit(c)
                || (i == 0 || gaps[i] == GAP_LINE) && is_prefix_mark(c))
    };
    let Some(first) = (0..n).find(|&i| changes(i)) else {
        return;
    };
    // Units before the punctuation that leads up to the first change are
    // the characters themselves (punctuation stays beside CJK).
    let punct = |c: char| !is_word_char(c) && !is_unspaced(c) && !c.is_control();
    let start = (0..first)
        .rev()
        .find(|&i| !punct(chars[i]))
        .map_or(0, |i| i + 1);
    let (mut w, mut i) = (start, start);
    // whitespace of dropped characters, for the next unit's gap
    let mut carry = GAP_NONE;
    let mut line_start = start == 0;
    while i < n {
        let c = chars[i];
        let gap = gaps[i].max(carry);
        line_start |= gaps[i] == GAP_LINE;
        if is_cjk_ideograph(c) {
            // The common case in CJK text first: a run of ideographs, each
            // its own unit with its own gap (the carry goes to the first),
            // moved in one copy once something before it went (a number
            // folded into one unit shifts all the text after it).
            let end = chars[i + 1..]
                .iter()
                .position(|&c| !is_cjk_ideograph(c))
                .map_or(n, |p| i + 1 + p);
            if w != i {
                chars.copy_within(i..end, w);
                gaps.copy_within(i..end, w);
                if let Some(o) = orig.as_deref_mut() {
                    o.copy_within(i..end, w);
                }
            }
            gaps[w] = gap;
            w += end - i;
            carry = GAP_NONE;
            line_start = false;
            i = end;
            continue;
        }
        let (unit, next) = if line_start && is_prefix_mark(c) {
            let mut j = i + 1;
            while j < n && gaps[j] == GAP_NONE && is_prefix_mark(chars[j]) {
                j += 1;
            }
            if j == n || gaps[j] != GAP_NONE {
                carry = gap;
                i = j;
                continue;
            }
            (punct_unit(chars, w, i), i + 1)
        } else if is_word_char(c) {
            word_unit(chars, gaps, i)
        } else if is_unspaced(c) || c.is_control() {
            // control characters are no text of any script: binary junk
            // stays one unit a character, as it was
            (Some(c), i + 1)
        } else {
            (punct_unit(chars, w, i), i + 1)
        };
        match unit {
            Some(u) => {
                chars[w] = u;
                gaps[w] = gap;
                if let Some(o) = orig.as_deref_mut() {
                    o[w] = o[i];
                }
                w += 1;
                carry = GAP_NONE;
                line_start = false;
            }
            None => carry = gap,
        }
        i = next;
    }
    chars.truncate(w);
    gaps.truncate(w);
    if let Some(o) = orig {
        o.truncate(w);
    }
}

/// Marks that open a comment or list line (`* `, `# `, `// `, `> `, `- `)
/// or stand alone on a blank-line marker line (` .`).
fn is_prefix_mark(c: char) -> bool {
    matches!(c, '*' | '#' | '/' | '>' | '-' | '.')
}

/// The unit of the word starting at `chars[i]` and where the next unit
/// starts: its letters and digits up to the next whitespace or
/// punctuation, with apostrophes between letters and hyphens inside it or
/// before a line break joined. A digit stays a character (numbers are
/// characters in every script).
fn word_unit(chars: &[char], gaps: &[u8], i: usize) -> (Option<char>, usize) {
    let n = chars.len();
    let glued = |j: usize| gaps[j] == GAP_NONE;
    let mut j = i + 1;
    while j < n {
        if is_word_char(chars[j]) && glued(j) {
            j += 1;
        } else if j + 1 < n
            && glued(j)
            && is_word_char(chars[j + 1])
            && (chars[j] == '\'' && glued(j + 1) || chars[j] == '-' && gaps[j + 1] != GAP_SPACE)
        {
            j += 2;
        } else {
            break;
        }
    }
    // Numbers stay characters, in every script: a date, a phone number or
    // a counter that varies from copy to copy (boilerplate) then differs by
    // a few characters, not by a whole unit of word weight.
    if chars[i].is_ascii_digit() {
        return (Some(chars[i]), i + 1);
    }
    let mut h: u64 = 0x9e37_79b9_7f4a_7c15;
    for &c in chars[i..j].iter().filter(|&&c| is_word_char(c)) {
        h = (h.rotate_left(5) ^ c as u64).wrapping_mul(0x5851_f42d_4c95_7f2d);
    }
    (Some(word_symbol(h ^ (h >> 29))), j)
}

/// A punctuation mark at `chars[i]` is a unit next to a character of a
/// script without spaces (`w`: units written so far end there), else
/// dropped: the unit before it decides, or at the start the first
/// non-punctuation character after it; digits are passed over either way
/// (numbers belong to the text around them).
fn punct_unit(chars: &[char], w: usize, i: usize) -> Option<char> {
    let digit = |c: &char| c.is_ascii_digit();
    let keep = match chars[..w].iter().rev().find(|c| !digit(c)) {
        Some(&c) => !is_word_unit(c),
        None => chars[i + 1..]
            .iter()
            .find(|&c| is_word_char(*c) && !digit(c) || is_unspaced(*c))
            .is_none_or(|&c| is_unspaced(c)),
    };
    // a real private-use symbol must not pass for a word
    keep.then_some(if is_word_unit(chars[i]) {
        char::REPLACEMENT_CHARACTER
    } else {
        chars[i]
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize_per_char(s, &NormalizeOptions::default())
            .chars
            .iter()
            .collect()
    }

    fn units(s: &str) -> Vec<char> {
        normalize(s, &NormalizeOptions::default()).chars
    }

    #[test]
    fn whitespace_width_and_case_are_folded() {
        assert_eq!(norm("切 实\n做好 24 小时"), "切实做好24小时");
        assert_eq!(norm("ＡＢＣ，ｄｅｆ。"), "abc,def.");
        assert_eq!(norm("“好”、《书》"), "\"好\",<书>");
    }

    #[test]
    fn offsets_point_at_source_characters() {
        let src = "a 中\n文，b";
        let n = normalize_per_char(src, &NormalizeOptions::default());
        for (c, &o) in n.chars.iter().zip(&n.orig) {
            let srcc = src[o as usize..].chars().next().unwrap();
            assert!(
                srcc == *c || srcc.to_lowercase().next() == Some(*c) || srcc == '，',
                "{c} from {srcc}"
            );
        }
        assert_eq!(n.source_range(src, 1, 3), 2..9);
    }

    #[test]
    fn fullwidth_fast_path_is_nfkc() {
        for u in 0xFF01..=0xFF5E_u32 {
            let ch = char::from_u32(u).unwrap();
            let slow: String = std::iter::once(ch)
                .nfkc()
                .flat_map(char::to_lowercase)
                .collect();
            assert_eq!(
                fullwidth_ascii(ch).map(String::from),
                Some(slow),
                "U+{u:04X}"
            );
        }
    }

    /// [`each_char`] as it was before its table: the definition.
    fn each_char_reference(text: &str) -> Vec<(char, u32, u8)> {
        let mut out = Vec::new();
        let mut space = GAP_NONE;
        for (off, ch) in text.char_indices() {
            if ch == '\n' {
                space = GAP_LINE;
                continue;
            }
            if ch.is_whitespace() || is_invisible(ch) {
                space = space.max(GAP_SPACE);
                continue;
            }
            let mapped = if ch.is_ascii() {
                Some(ch.to_ascii_lowercase())
            } else if is_cjk_ideograph(ch) {
                Some(ch)
            } else {
                fullwidth_ascii(ch).or_else(|| cjk_punct(ch))
            };
            let chars: Vec<char> = match mapped {
                Some(c) => vec![c],
                None => std::iter::once(ch)
                    .nfkc()
                    .filter(|c| !c.is_whitespace())
                    .map(|c| cjk_punct(c).unwrap_or(c))
                    .flat_map(char::to_lowercase)
                    .filter_map(fold_diacritic)
                    .collect(),
            };
            for c in chars {
                out.push((c, off as u32, space));
                space = GAP_NONE;
            }
        }
        out
    }

    #[test]
    fn the_table_normalises_every_bmp_character_as_nfkc_does() {
        let probe = |ch: char| {
            let text = format!("中{ch} {ch}{ch}\n文{ch}");
            let mut got = Vec::new();
            each_char(&text, |c, off, gap| got.push((c, off, gap)));
            assert_eq!(got, each_char_reference(&text), "U+{:04X}", ch as u32);
        };
        (0..=0xFFFF).filter_map(char::from_u32).for_each(probe);
        "😀\u{1D400}\u{20000}\u{F0041}\u{1F100}"
            .chars()
            .for_each(probe);
    }

    /// A way to fill units: [`units_until`] (the widest vector steps the
    /// CPU has), its AVX2 steps (tested on a CPU that also has AVX-512),
    /// or its scalar steps alone.
    type Fill = fn(&str, &mut usize, &mut Vec<char>, usize) -> usize;
    const FILLS: [Fill; 3] = [units_until, units_avx2_or_scalar, units_with::<0>];

    fn units_avx2_or_scalar(
        text: &str,
        at: &mut usize,
        out: &mut Vec<char>,
        until: usize,
    ) -> usize {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports AVX2 and POPCNT.
            return unsafe { units_until_avx2(text, at, out, until) };
        }
        units_with::<0>(text, at, out, until)
    }

    /// The characters of `text` by `fill`, asked for in steps of `step`
    /// characters, and how many the fast path took.
    fn units_in_steps(text: &str, step: usize, fill: Fill) -> (Vec<char>, usize) {
        let (mut out, mut at, mut fast) = (Vec::new(), 0, 0);
        while at < text.len() {
            let want = out.len() + step;
            fast += fill(text, &mut at, &mut out, want);
            assert!(out.len() >= want || at == text.len(), "stopped short");
        }
        (out, fast)
    }

    fn each_char_units(text: &str) -> Vec<char> {
        let mut out = Vec::new();
        each_char(text, |c, _, _| out.push(c));
        out
    }

    #[test]
    fn the_ideograph_fast_path_normalises_every_bmp_character_as_each_char() {
        // runs longer than a vector, with the ideograph blocks' ends
        let run = "一鿿㐀䶿中文字句段落篇章节目录标题正文结尾一二三四";
        for ch in (0..=0xFFFF).filter_map(char::from_u32) {
            let text = format!("{run}{ch}{run} {ch}{ch}\n文{ch}{run}{ch}㐀");
            let want = each_char_units(&text);
            let sources = text.chars().filter(|&c| is_cjk_ideograph(c)).count();
            for fill in FILLS {
                for step in [1, 7, 100] {
                    let (got, fast) = units_in_steps(&text, step, fill);
                    assert_eq!(got, want, "U+{:04X}, step {step}", ch as u32);
                    assert_eq!(fast, sources, "U+{:04X}", ch as u32);
                }
            }
        }
    }

    #[test]
    fn the_ideograph_fast_path_normalises_mixed_text_as_each_char() {
        let mut next = crate::testutil::lcg(23);
        for round in 0..600 {
            // mostly ideographs (the first pieces), in runs of any length
            let text: String = (0..next(400))
                .map(|_| match next(10) {
                    0..=6 => HOSTILE[next(4) as usize],
                    _ => HOSTILE[next(HOSTILE.len() as u64) as usize],
                })
                .collect();
            let step = 1 + next(if round % 2 == 0 { 20 } else { 5000 }) as usize;
            let want = each_char_units(&text);
            let ideographs = want.iter().filter(|&&c| is_cjk_ideograph(c)).count();
            for fill in FILLS {
                let (got, fast) = units_in_steps(&text, step, fill);
                assert_eq!(got, want, "step {step}: {text:?}");
                assert!(fast <= ideographs);
            }
        }
    }

    /// A way to fill the mapped stream: [`mapped_units`] (vector steps
    /// where the CPU has them), or its scalar steps alone.
    const MAPPED: [fn(&str, &mut NormText); 3] =
        [mapped_units, mapped_avx2_or_scalar, mapped_with::<0>];

    fn mapped_avx2_or_scalar(text: &str, out: &mut NormText) {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports AVX2 and POPCNT.
            return unsafe { mapped_units_avx2(text, out) };
        }
        mapped_with::<0>(text, out);
    }

    fn clean_avx2_or_scalar(
        text: &str,
        at: &mut usize,
        out: &mut Vec<char>,
        line_start: &mut bool,
        mask_fold: bool,
    ) -> Option<(usize, usize)> {
        #[cfg(target_arch = "x86_64")]
        if has_avx2() {
            // SAFETY: the CPU supports AVX2 and POPCNT.
            return unsafe { clean_until_avx2(text, at, out, line_start, mask_fold) };
        }
        clean_with::<0>(text, at, out, line_start, mask_fold)
    }

    /// Every fill of [`MAPPED`] gives what [`each_char`] emits for `text`:
    /// characters, offsets and gaps.
    fn assert_mapped_as_each_char(text: &str) {
        let mut want = NormText::default();
        each_char(text, |c, off, gap| {
            want.chars.push(c);
            want.orig.push(off);
            want.gap_before.push(gap);
        });
        for fill in MAPPED {
            let mut got = NormText::default();
            fill(text, &mut got);
            assert_eq!(got, want, "{text:?}");
        }
    }

    #[test]
    fn the_run_fast_path_maps_every_bmp_character_as_each_char() {
        // runs longer than a vector, of ideographs and of ASCII, with
        // spaces, line breaks and capitals between them
        let run = "一鿿㐀䶿中文字句段落篇章节目录标题正文结尾一二三四";
        let ascii = "Copyright (C) 2024 Example.com, All Rights Reserved";
        for ch in (0..=0xFFFF).filter_map(char::from_u32) {
            assert_mapped_as_each_char(&format!(
                "{run}{ch}{run} {ch}{ch}\n文{ch}{ascii}{ch}{ascii} \t{ch} {run}{ch}㐀{ch}"
            ));
        }
    }

    #[test]
    fn the_run_fast_path_maps_mixed_text_as_each_char() {
        let mut next = crate::testutil::lcg(29);
        for _ in 0..600 {
            // ideographs, ASCII words and anything else, in runs of any length
            let text: String = (0..next(400))
                .map(|_| match next(10) {
                    0..=4 => HOSTILE[next(4) as usize],
                    5..=6 => ["the", "Word", "2024", " ", ".", "(", "\n"][next(7) as usize],
                    _ => HOSTILE[next(HOSTILE.len() as u64) as usize],
                })
                .collect();
            assert_mapped_as_each_char(&text);
        }
    }

    #[test]
    fn verification_units_are_the_units_of_normalize() {
        // texts without words most of the time (the fast way out of
        // `normalize_chars`), with prefix marks at line starts or not
        let wordless: Vec<&str> = HOSTILE
            .iter()
            .copied()
            .filter(|p| !p.chars().any(is_word_char))
            .collect();
        let mut next = crate::testutil::lcg(29);
        let (mut fast, mut marked) = (0, 0);
        for round in 0..3000 {
            let pieces: &[&str] = if round % 4 == 0 { HOSTILE } else { &wordless };
            let text: String = (0..next(60))
                .map(|_| match next(2) {
                    0 => pieces[next(4) as usize],
                    _ => pieces[next(pieces.len() as u64) as usize],
                })
                .collect();
            for mask_fold in [false, true] {
                let opts = NormalizeOptions { mask_fold };
                let want = normalize(&text, &opts).chars;
                assert_eq!(normalize_chars(&text, &opts), want, "{text:?}");
            }
            let words = each_char_units(&text)
                .iter()
                .any(|&c| is_word_char(c) || is_word_unit(c));
            fast += usize::from(!words && !prefix_at_line_start(&text));
            marked += usize::from(!words && prefix_at_line_start(&text));
        }
        assert!(fast > 300 && marked > 100, "{fast} fast, {marked} marked");
    }

    /// Whether the first character [`each_char`] emits for `text`, or the
    /// first after one of its line breaks, is a prefix mark: the one case
    /// in which [`fold_words`] changes text without words (it drops the
    /// mark).
    fn prefix_at_line_start(text: &str) -> bool {
        let mut starts =
            std::iter::once(0).chain(memchr::memchr_iter(b'\n', text.as_bytes()).map(|i| i + 1));
        starts.any(|start| {
            for ch in text[start..].chars() {
                if ch == '\n' {
                    // the next start looks from there
                    return false;
                }
                let mut first = None;
                char_units(ch, |c| {
                    first.get_or_insert(c);
                });
                if let Some(c) = first {
                    return is_prefix_mark(c);
                }
            }
            false
        })
    }

    /// Pieces of mixed pages for [`verification_units_of_mixed_text_are_the_slow_paths`]:
    /// what lies next to the CJK runs (words, numbers, punctuation of both
    /// widths, hyphens at line ends, masks, prefix marks after line breaks).
    const MIXED: &[&str] = &[
        "Example",
        "com",
        "www.example.com",
        "Tel",
        ": ",
        "010-8888-1234",
        "2024",
        "年",
        "3.5",
        "第3.5条",
        " ",
        "\n",
        "\n\n",
        "-\n",
        "exam-\nple",
        "well-known",
        "don't",
        "’",
        ",",
        ".",
        "。",
        "，",
        "、",
        "：",
        "（",
        "）",
        "(",
        ")",
        "\"",
        "“",
        "”",
        "《",
        "》",
        "!",
        "！",
        "？",
        "\n* ",
        "\n# ",
        "\n// ",
        "\n> ",
        "\n- ",
        "\n .\n",
        "\n*",
        "\n-",
        "\n。",
        "\n—",
        "\n１２",
        "\n12. ",
        "*",
        "**",
        "x",
        "XX",
        "xx县",
        "×",
        "＊",
        "ｘ",
        "－",
        "—",
        "·",
        "〇",
        "\u{200b}",
        "\u{3000}",
        "\t",
        "\r\n",
        "ÉCOLE",
        "naïve",
        "Привет",
        "Ω",
        "ﬁ",
        "\u{F0041}",
        "\u{7}",
        "①",
        "カナ",
        "안녕",
        "ไทย",
    ];

    #[test]
    fn verification_units_of_mixed_text_are_the_slow_paths() {
        // CJK runs of every length (vectors of 16 start at 22 characters)
        // with mixed pieces between them, and now and then a piece at the
        // start or the end of the text
        let han: Vec<char> = "切实做好小时值班工作中文字句段落篇章节目录标题正文结尾一二三四鿿㐀"
            .chars()
            .collect();
        let mut next = crate::testutil::lcg(31);
        let (mut mixed, mut cut) = (0, 0);
        for _ in 0..4000 {
            let mut text = String::new();
            for _ in 0..1 + next(8) {
                let run = [0, 1, 2, 3, 5, 30, 80][next(7) as usize];
                text.extend((0..run).map(|_| han[next(han.len() as u64) as usize]));
                for _ in 0..next(5) {
                    text.push_str(match next(4) {
                        0 => HOSTILE[next(HOSTILE.len() as u64) as usize],
                        _ => MIXED[next(MIXED.len() as u64) as usize],
                    });
                }
            }
            for mask_fold in [false, true] {
                let opts = NormalizeOptions { mask_fold };
                let (mut want, mut gaps) = (Vec::new(), Vec::new());
                normalize_unmapped(&text, &opts, &mut want, &mut gaps);
                fold_words(&mut want, &mut gaps, None);
                let scans: [Scan; 3] = [clean_until, clean_avx2_or_scalar, clean_with::<0>];
                for scan in scans {
                    assert_eq!(chars_by(&text, &opts, scan), want, "{mask_fold} {text:?}");
                }
            }
            let words = want_words(&text);
            mixed += usize::from(words);
            // a slow stretch that ends before the text does
            let (mut at, mut out, mut line) = (0, Vec::new(), true);
            if let Some((stop, _)) = clean_until(&text, &mut at, &mut out, &mut line, false) {
                cut += usize::from(local_after(&text, stop) < text.len());
            }
        }
        assert!(mixed > 2000 && cut > 1000, "{mixed} mixed, {cut} cut");
    }

    /// Whether `text` holds a word (its units are no longer its characters).
    fn want_words(text: &str) -> bool {
        each_char_units(text)
            .iter()
            .any(|&c| !c.is_ascii_digit() && is_word_char(c))
    }

    #[test]
    fn masks_fold_only_when_asked() {
        let on = NormalizeOptions { mask_fold: true };
        let a: String = normalize("XX县和**省长", &on).chars.iter().collect();
        let b: String = normalize("xx县和*省长", &on).chars.iter().collect();
        assert_eq!(a, b);
        assert_eq!(a, "*县和*省长");
        let word: String = normalize_per_char("Xerox box", &on).chars.iter().collect();
        assert_eq!(word, "xeroxbox");
        assert_eq!(norm("XX县"), "xx县");
    }

    #[test]
    fn words_are_one_unit_each_whatever_the_wrapping_case_and_punctuation() {
        let a = units("The quick, brown fox (jumps).");
        assert_eq!(a.len(), 5);
        assert!(a.iter().all(|&c| is_word_unit(c)));
        assert_eq!(a, units("the  quick brown\n   FOX jumps"));
        assert_ne!(a, units("the quick brown fox jumped"));
        // Cyrillic and Greek the same way
        assert_eq!(units("Привет, мир!"), units("привет\nмир"));
        assert_eq!(units("Привет, мир!").len(), 2);
    }

    #[test]
    fn diacritics_of_latin_and_greek_letters_and_russian_yo_fold_away() {
        assert_eq!(units("naïve Café, Müller"), units("naive cafe muller"));
        assert_eq!(units("Tiếng Việt"), units("tieng viet"));
        assert_eq!(units("άλφα"), units("αλφα"));
        assert_eq!(units("ещё всё"), units("еще все"));
        // written decomposed: the same as precomposed
        assert_eq!(units("nai\u{308}ve cafe\u{301}"), units("naive cafe"));
        assert_eq!(units("nai\u{308}ve").len(), 1);
        // letters of their own, and letters that do not decompose, stay
        assert_ne!(units("мой"), units("мои"));
        assert_ne!(units("її"), units("іі"));
        assert_ne!(units("søn"), units("son"));
        assert_ne!(units("straße"), units("strase"));
        // the per-character stream (sketches, diffs) folds them too, and
        // still maps every character back to its source
        let n = normalize_per_char("Ça été", &NormalizeOptions::default());
        assert_eq!(n.chars.iter().collect::<String>(), "caete");
        assert_eq!(n.orig, vec![0, 2, 4, 6, 7]);
    }

    #[test]
    fn hyphenation_apostrophes_and_comment_prefixes_do_not_count() {
        assert_eq!(units("an exam-\nple"), units("an example"));
        assert_eq!(units("well-known"), units("well-\n  known"));
        assert_eq!(units("don't stop"), units("don’t stop"));
        assert_eq!(units("don't").len(), 1);
        let plain = units("first line\nsecond line\n\nthird");
        assert_eq!(units("# first line\n# second line\n .\n# third"), plain);
        assert_eq!(units(" * first line\n * second line\n *\n * third"), plain);
        assert_eq!(units("// first line\n// second line\n//\n// third"), plain);
        assert_eq!(units("> first line\n> second line\n>\n> third"), plain);
    }

    #[test]
    fn cjk_text_keeps_its_characters_and_numbers_next_to_them() {
        let opts = NormalizeOptions::default();
        for s in ["切实做好24小时值班，“好”、《书》。", "2024年3月，共 24 人"]
        {
            assert_eq!(
                normalize(s, &opts).chars,
                normalize_per_char(s, &opts).chars
            );
        }
        // a mixed page: characters of the Chinese, words of the English, and
        // punctuation only beside Chinese characters
        let u = units("他说：Hello world. 好！");
        let kinds: String = u
            .iter()
            .map(|&c| if is_word_unit(c) { 'W' } else { c })
            .collect();
        assert_eq!(kinds, "他说:WW好!");
        // numbers take the punctuation rule of the text around them
        let kinds = |s: &str| -> String {
            units(s)
                .iter()
                .map(|&c| if is_word_unit(c) { 'W' } else { c })
                .collect()
        };
        assert_eq!(kinds("step 2. Define it, version 3.5."), "W2WWW35");
        assert_eq!(kinds("第3.5条，12.5%"), "第3.5条,12.5%");
        assert_eq!(kinds("12.5%的人"), "12.5%的人");
    }

    #[test]
    fn word_units_map_back_to_whole_words() {
        let src = "Hello, wor-\nld! 中文";
        let n = normalize(src, &NormalizeOptions::default());
        assert_eq!(n.len(), 4);
        assert_eq!(&src[n.source_range(src, 0, 2)], "Hello, wor-\nld");
        assert_eq!(&src[n.source_range(src, 1, 2)], "wor-\nld");
        assert_eq!(&src[n.source_range(src, 1, 3)], "wor-\nld! 中");
        assert_eq!(n.weight(0..4), 2 * WORD_WEIGHT + 2);
    }

    /// Pieces of text that exercise every rule of [`normalize`] and
    /// every look-around across a piece's end: ideographs (where pieces
    /// end), words, hyphens and apostrophes, digits, masks, prefix marks
    /// at line starts, punctuation of both widths, whitespace of every
    /// kind, invisible and control characters, private-use symbols,
    /// combining marks and other scripts.
    pub(crate) const HOSTILE: &[&str] = &[
        "中",
        "文",
        "字",
        "中文",
        "。",
        "，",
        "、",
        "“",
        "”",
        "《",
        "》",
        "！",
        "？",
        "(",
        ")",
        ".",
        ",",
        ";",
        "'",
        "-",
        "*",
        "**",
        "x",
        "X",
        "xx",
        "XXX",
        "××",
        "#",
        "//",
        ">",
        "- ",
        "* ",
        "# ",
        " .",
        "\n",
        "\n\n",
        " ",
        "  ",
        "\t",
        "\r\n",
        "\u{3000}",
        "\u{a0}",
        "\u{200b}",
        "\u{feff}",
        "\u{ad}",
        "\u{0}",
        "\u{7}",
        "the",
        "Word",
        "don't",
        "well-",
        "known",
        "exam-\nple",
        "2024",
        "3.5",
        "第3.5条",
        "１２",
        "ＡＢ",
        "ｘ",
        "\u{F0041}",
        "\u{10FFFD}",
        "e\u{301}",
        "Ω",
        "Привет",
        "안녕",
        "カナ",
        "ไทย",
        "ﬁ",
        "①",
        "😀",
        "ǅ",
        "…",
        "\u{20000}",
    ];

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn normalised_in_pieces_is_normalised_whole(
            picks in proptest::collection::vec(0..HOSTILE.len(), 0..120),
            piece in 1usize..24,
            mask_fold in proptest::bool::ANY,
        ) {
            let text: String = picks.iter().map(|&i| HOSTILE[i]).collect();
            let opts = NormalizeOptions { mask_fold };
            let mut whole = NormText::default();
            normalize_whole(&text, &opts, &mut whole);
            let mut pieces = NormText::default();
            normalize_in_pieces(&text, &opts, &mut pieces, piece);
            proptest::prop_assert_eq!(pieces, whole);
        }
    }

    #[test]
    fn a_long_text_is_cut_between_ideographs_only() {
        let text = "中文字".repeat(50) + &"word ".repeat(40) + &"中文".repeat(30);
        let ends = piece_ends(&text, 16);
        assert!(ends.len() > 10);
        assert_eq!(ends.last(), Some(&text.len()));
        for &e in &ends[..ends.len() - 1] {
            let before = text[..e].chars().next_back();
            let after = text[e..].chars().next();
            assert!(before.is_some_and(is_cjk_ideograph) && after.is_some_and(is_cjk_ideograph));
        }
        // the English in the middle is no place to cut
        let english = text.find('w').unwrap_or(0)..text.rfind(' ').unwrap_or(0);
        assert!(ends.iter().all(|e| !english.contains(e)));
        // nor is a text without two ideographs in a row, however long (the
        // end of the search falls inside a character here)
        let mixed = "中abc".repeat(PIECE_SEARCH / 4);
        assert_eq!(piece_ends(&mixed, 16), vec![mixed.len()]);
    }

    #[test]
    fn grams_are_k_characters_or_three_words() {
        let cjk: Vec<char> = "一二三四五六七八九十".chars().collect();
        let g: Vec<_> = grams(&cjk, 8).collect();
        assert_eq!(g, vec![0..8, 1..9, 2..10]);
        let words = units("one two three four five six seven");
        let g: Vec<_> = grams(&words, 8).collect();
        assert_eq!(g.len(), 5);
        assert!(g.iter().all(|r| r.len() == 3));
        assert!(g.iter().all(|r| gram_end(&words, r.start, 8) == r.end));
        assert_eq!(gram_window(&cjk, 8), 8);
        assert_eq!(gram_window(&words, 8), 3);
    }
}
