//! NORMALIZE: text → [`NormText`], the character stream every comparison
//! works on, with a map back to the original bytes.
//!
//! Per character: NFKC (compatibility forms, full-width ASCII → ASCII),
//! lower case, CJK punctuation mapped to its ASCII counterpart (`。`→`.`,
//! `、`→`,`, `“”`→`"`, `《》`→`<>`), and all whitespace removed, so that
//! copies that differ only in wrapping, spacing or punctuation width become
//! the same stream. With [`NormalizeOptions::mask_fold`], anonymisation masks
//! (`*`, `**`, `X`, `XX`, `xx`, runs of `×`) become one `*`.
//!
//! NFKC is applied one source character at a time so that every output
//! character knows the source character it came from; sequences that NFKC
//! would compose across characters (a letter followed by a combining mark)
//! stay decomposed, which changes nothing for comparison.
//!
//! Gives [`NormText`]: `chars[i]` came from the source character starting at
//! byte `orig[i]`; `orig` is non-decreasing, and `gap_before[i]` says
//! what whitespace was dropped just before `chars[i]`: [`GAP_NONE`],
//! [`GAP_SPACE`] or [`GAP_LINE`] (word boundaries for word shingles, line
//! boundaries for block edges).

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
        let to = last + source[last..].chars().next().map_or(0, char::len_utf8);
        from..to
    }
}

/// Normalises `text`.
pub fn normalize(text: &str, opts: &NormalizeOptions) -> NormText {
    let mut out = NormText::default();
    normalize_into(text, opts, &mut out);
    out
}

/// [`normalize`] into `out`, reusing its buffers (for hot loops over many
/// documents).
pub fn normalize_into(text: &str, opts: &NormalizeOptions, out: &mut NormText) {
    out.chars.clear();
    out.orig.clear();
    out.gap_before.clear();
    // at most one character per byte; CJK text needs a third of that
    let guess = text.len() / 2;
    out.chars.reserve(guess);
    out.orig.reserve(guess);
    out.gap_before.reserve(guess);
    each_char(text, |c, off, gap| {
        out.chars.push(c);
        out.orig.push(off);
        out.gap_before.push(gap);
    });
    if opts.mask_fold {
        fold_masks(&mut out.chars, &mut out.gap_before, Some(&mut out.orig));
    }
}

/// The characters and `gap_before` of [`normalize`] without the map back
/// to the source: what sketching needs, a third less to write.
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

/// The characters of [`normalize`] alone, in a vector of about their size
/// (texts held while verifying).
pub fn normalize_chars(text: &str, opts: &NormalizeOptions) -> Vec<char> {
    if opts.mask_fold {
        return normalize(text, opts).chars;
    }
    // about one character per three bytes of CJK text; grows if not
    let mut chars = Vec::with_capacity(text.len() / 3 + 16);
    each_char(text, |c, _, _| chars.push(c));
    chars
}

/// Calls `emit(char, source byte offset, gap before)` for every normalised
/// character of `text`: the one definition of normalisation (before
/// masks are folded) that every output shape above is filled from.
#[inline(always)]
fn each_char(text: &str, mut emit: impl FnMut(char, u32, u8)) {
    let mut space = GAP_NONE;
    for (off, ch) in text.char_indices() {
        // The common cases first: ASCII, then CJK ideographs and full-width
        // forms, which need no table lookup at all.
        let c = if ch.is_ascii() {
            if ch == '\n' {
                space = GAP_LINE;
                continue;
            }
            if ch.is_whitespace() {
                space = space.max(GAP_SPACE);
                continue;
            }
            ch.to_ascii_lowercase()
        } else if is_cjk_ideograph(ch) {
            ch
        } else if let Some(c) = fullwidth_ascii(ch) {
            c
        } else if ch.is_whitespace() || is_invisible(ch) {
            space = space.max(GAP_SPACE);
            continue;
        } else if let Some(p) = cjk_punct(ch) {
            p
        } else {
            for c in std::iter::once(ch).nfkc() {
                if c.is_whitespace() {
                    continue;
                }
                let c = cjk_punct(c).unwrap_or(c);
                for l in c.to_lowercase() {
                    emit(l, off as u32, space);
                    space = GAP_NONE;
                }
            }
            continue;
        };
        emit(c, off as u32, space);
        space = GAP_NONE;
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        normalize(s, &NormalizeOptions::default())
            .chars
            .iter()
            .collect()
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
        let n = normalize(src, &NormalizeOptions::default());
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

    #[test]
    fn masks_fold_only_when_asked() {
        let on = NormalizeOptions { mask_fold: true };
        let a: String = normalize("XX县和**省长", &on).chars.iter().collect();
        let b: String = normalize("xx县和*省长", &on).chars.iter().collect();
        assert_eq!(a, b);
        assert_eq!(a, "*县和*省长");
        let word: String = normalize("Xerox box", &on).chars.iter().collect();
        assert_eq!(word, "xeroxbox");
        assert_eq!(norm("XX县"), "xx县");
    }
}
