//! VARIANTS: two or more copies of a text → what they share and where they
//! differ, as one [`Variants`] model that the report module renders as
//! text, JSON or HTML.
//!
//! - With two texts, a diff: runs of equal, deleted and inserted text
//!   ([`Run`]), by words in space-separated scripts (no word is cut in
//!   half) and by characters in CJK ([`align::word_units`]).
//! - With any number, the template view ([`Part`]): the skeleton every text
//!   shares, in order, and between its pieces the slots, with each text's
//!   filling. A skeleton piece is a run the diff matches in every text, at
//!   least [`MIN_SKELETON`] characters long (single characters that
//!   unrelated bodies happen to share, `的` or `，`, belong to the slots), or
//!   a line opening every text shares in the same order (`一是`, `二是`:
//!   numbered paragraphs are what a template repeats). Where the two kinds
//!   disagree on the order, the heaviest consistent chain wins, with line
//!   openings weighted up.
//!
//! Texts are compared after normalisation (the text similarity is defined
//! on), so re-wrapping, spacing, character width and case are not
//! differences; the runs show the source text, with its own spacing
//! between words (whitespace after a change goes with the equal run that
//! follows). Diffs are `similar`'s Patience algorithm on the normalised
//! units (words, CJK characters): Myers, its default, gives far from minimal
//! character diffs on CJK text (DESIGN.md, measured facts). Past a size
//! budget the diff compares sentences instead of characters, so long texts
//! with little in common take bounded time and the output never depends on
//! the machine's speed (a deadline would).

use serde::Serialize;
use similar::{capture_diff_slices, Algorithm, DiffOp};

use std::path::PathBuf;

use crate::align::{self, diff_word_ops};
use crate::corpus::{read_corpus, Format, IngestOptions};
use crate::error::{Error, Result};
use crate::hunks::{Split, Stretch};
use crate::normalize::{normalize_per_char as normalize, NormText, NormalizeOptions, GAP_LINE};
use crate::util::round4;

/// Shortest run of characters shared by every text that counts as
/// skeleton in the template view.
pub const MIN_SKELETON: usize = 4;

/// Schema name of the JSON form.
pub const SCHEMA: &str = "neardup.variants/1";

/// One text to compare: a label for people (`path:first-last`) and the text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where the text came from.
    pub label: String,
    /// The text itself.
    pub text: String,
    /// The line of its file the text starts on (1 for a whole file or a
    /// JSONL record's text).
    pub first_line: u64,
}

/// The comparison of two or more texts.
#[derive(Debug, Clone, Serialize)]
pub struct Variants {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The texts compared, the first being the base of the others.
    pub sources: Vec<SourceInfo>,
    /// With two texts: the diff from the first to the second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<Vec<Run>>,
    /// With two texts: the same diff in aligned rows (what the views show;
    /// not serialised, the runs say the same).
    #[serde(skip)]
    pub split: Option<Split>,
    /// The template view: skeleton pieces and slots, in order.
    pub template: Vec<Part>,
}

/// A compared text, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    /// Where it came from.
    pub label: String,
    /// Normalised characters.
    pub chars: usize,
    /// `LCS / longer` to the first text (1 for the first itself).
    pub similarity: f64,
}

/// A run of a two-text diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", content = "text", rename_all = "lowercase")]
pub enum Run {
    /// In both texts (shown as in the first).
    Equal(String),
    /// Only in the first text.
    Delete(String),
    /// Only in the second text.
    Insert(String),
}

/// A piece of the template view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Part {
    /// Text every source has here (shown as in the first).
    Skeleton {
        /// The shared text.
        text: String,
    },
    /// Where the sources differ: each one's text, in source order.
    Slot {
        /// One text per source (empty when a source has nothing here).
        texts: Vec<String>,
    },
}

/// Reads the text a span names: `FILE` (a whole text file),
/// `FILE:FIRST-LAST` (1-based inclusive lines of a text file), `FILE:LINE`
/// (that line of a text file, or the JSONL record on it) or
/// `FILE:LINE@START-END` (bytes `START..END` of the text of the JSONL record
/// on `LINE`, where a block inside a record is): the locations the scan
/// report prints.
///
/// # Errors
///
/// An unreadable file ([`crate::error::Error`] from ingest), or a span that
/// names no text ([`Error::Span`]).
pub fn read_span(spec: &str, ingest: &IngestOptions) -> Result<Source> {
    let bad = |reason: &str| Error::Span {
        spec: spec.to_string(),
        reason: reason.to_string(),
    };
    let (path, lines, bytes) = split_span(spec);
    let corpus = read_corpus(&[PathBuf::from(path)], ingest)?;
    let input = corpus.inputs.first().ok_or_else(|| bad("no such input"))?;
    let mut first_line = 1;
    let text = match (input.format, lines) {
        (Format::Jsonl | Format::Parquet, Some((first, last))) if first == last => {
            let whole = corpus
                .docs
                .iter()
                .find(|d| d.record == Some(first))
                .map(|d| d.text.as_str())
                .ok_or_else(|| bad("no JSONL record on that line"))?;
            match bytes {
                None => whole.to_string(),
                Some((from, to)) => {
                    let inside = whole.get(from..to).ok_or_else(|| {
                        bad(&format!(
                            "bytes must be within 0-{} and on character boundaries",
                            whole.len()
                        ))
                    })?;
                    first_line += whole[..from].matches('\n').count() as u64;
                    inside.to_string()
                }
            }
        }
        (Format::Jsonl | Format::Parquet, _) => {
            return Err(bad(
                "a JSONL file needs the record's line: FILE:LINE or FILE:LINE@START-END",
            ))
        }
        (Format::Text, _) if bytes.is_some() => {
            return Err(bad("@START-END names bytes of a JSONL record's text"))
        }
        (Format::Text, None) => corpus
            .docs
            .first()
            .map(|d| d.text.clone())
            .unwrap_or_default(),
        (Format::Text, Some((first, last))) => {
            let whole = corpus.docs.first().map_or("", |d| d.text.as_str());
            let starts: Vec<usize> = std::iter::once(0)
                .chain(whole.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            let count = starts.len() - usize::from(whole.ends_with('\n'));
            if first == 0 || first > last || last as usize > count {
                return Err(bad(&format!("lines must be within 1-{count}")));
            }
            let from = starts[first as usize - 1];
            let to = starts.get(last as usize).copied().unwrap_or(whole.len());
            first_line = first;
            whole[from..to].to_string()
        }
    };
    Ok(Source {
        label: spec.to_string(),
        text,
        first_line,
    })
}

/// Lines `FIRST-LAST` and, for a block inside a JSONL record, bytes of its text.
type SpanParts<'a> = (&'a str, Option<(u64, u64)>, Option<(usize, usize)>);

/// `FILE:FIRST-LAST`, `FILE:LINE` or `FILE:LINE@START-END` → the file, the
/// lines and the bytes; anything else is a file name (which may itself hold
/// a colon).
fn split_span(spec: &str) -> SpanParts<'_> {
    if std::path::Path::new(spec).exists() {
        return (spec, None, None);
    }
    let Some((path, range)) = spec.rsplit_once(':') else {
        return (spec, None, None);
    };
    let pair = |s: &str| -> Option<(u64, u64)> {
        let num = |s: &str| s.parse::<u64>().ok();
        match s.split_once('-') {
            Some((a, b)) => num(a).zip(num(b)),
            None => num(s).map(|l| (l, l)),
        }
    };
    let (lines, bytes) = match range.split_once('@') {
        Some((line, bytes)) => {
            let b = bytes
                .split_once('-')
                .and_then(|(a, b)| a.parse::<usize>().ok().zip(b.parse::<usize>().ok()));
            match (pair(line), b) {
                (Some(l), Some(b)) if l.0 == l.1 => (Some(l), Some(b)),
                _ => return (spec, None, None),
            }
        }
        None => (pair(range), None),
    };
    match lines {
        Some(l) => (path, Some(l), bytes),
        None => (spec, None, None),
    }
}

/// The diff from `a` to `b` alone (what a report attaches to
/// each copy: the kept copy is `a`).
pub fn diff(a: &str, b: &str, opts: &NormalizeOptions) -> Vec<Run> {
    let (na, nb) = (normalize(a, opts), normalize(b, opts));
    let s = to_bytes(stretches(&diff_word_ops(&na, &nb)), (a, &na), (b, &nb));
    runs(&s, a, b)
}

/// A copy's diff from the kept copy, as a report carries it: the runs (what
/// the JSON report shows, serialised as the runs alone) and the aligned rows
/// (what the views show), both from one diff.
#[derive(Debug, Clone, PartialEq)]
pub struct CopyDiff {
    /// The runs from the kept copy to this one.
    pub runs: Vec<Run>,
    /// The same diff in aligned rows.
    pub split: Split,
}

impl Serialize for CopyDiff {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.runs.serialize(s)
    }
}

/// The diff from `a` (starting on line `first[0]` of its file) to `b`
/// (on `first[1]`), as runs and as aligned rows.
pub fn diff_copy(a: &str, b: &str, first: [u64; 2], opts: &NormalizeOptions) -> CopyDiff {
    let (na, nb) = (normalize(a, opts), normalize(b, opts));
    let s = to_bytes(stretches(&diff_word_ops(&na, &nb)), (a, &na), (b, &nb));
    CopyDiff {
        runs: runs(&s, a, b),
        split: Split::build(a, b, first, &s),
    }
}

/// Compares `sources` (at least one); the first is the base.
pub fn compare(sources: &[Source], opts: &NormalizeOptions) -> Variants {
    let norms: Vec<NormText> = sources.iter().map(|s| normalize(&s.text, opts)).collect();
    let base = &norms[0];
    let ops: Vec<Vec<DiffOp>> = norms[1..].iter().map(|n| diff_word_ops(base, n)).collect();
    let infos = sources
        .iter()
        .zip(&norms)
        .map(|(s, n)| SourceInfo {
            label: s.label.clone(),
            chars: n.len(),
            similarity: round4(align::similarity(&base.chars, &n.chars)),
        })
        .collect();
    let pair = (sources.len() == 2).then(|| {
        let (a, b) = (sources[0].text.as_str(), sources[1].text.as_str());
        let s = to_bytes(stretches(&ops[0]), (a, &norms[0]), (b, &norms[1]));
        let first = [sources[0].first_line, sources[1].first_line];
        (runs(&s, a, b), Split::build(a, b, first, &s))
    });
    let (diff, split) = match pair {
        Some((d, s)) => (Some(d), Some(s)),
        None => (None, None),
    };
    let maps: Vec<Vec<u32>> = ops.iter().map(|o| base_to_other(o, base.len())).collect();
    Variants {
        schema: SCHEMA,
        sources: infos,
        diff,
        split,
        template: template(sources, &norms, &maps),
    }
}

/// Source text of normalised characters `r`, with the whitespace that
/// follows the last one (so that runs keep the source's line breaks).
fn source_text(src: &str, norm: &NormText, r: std::ops::Range<usize>) -> String {
    if r.is_empty() {
        return String::new();
    }
    let from = norm.orig[r.start] as usize;
    let to = norm.orig.get(r.end).map_or(src.len(), |&o| o as usize);
    src[from..to].to_string()
}

/// The aligned stretches of a two-text diff in normalised characters:
/// adjacent changes merged, then [`cleanup`].
fn stretches(ops: &[DiffOp]) -> Vec<Stretch> {
    let mut out: Vec<Stretch> = Vec::new();
    for op in ops {
        let (changed, a, b) = match *op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => (
                false,
                old_index..old_index + len,
                new_index..new_index + len,
            ),
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => (true, old_index..old_index + old_len, new_index..new_index),
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => (true, old_index..old_index, new_index..new_index + new_len),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => (
                true,
                old_index..old_index + old_len,
                new_index..new_index + new_len,
            ),
        };
        if a.is_empty() && b.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.changed == changed => {
                last.a.end = a.end;
                last.b.end = b.end;
            }
            _ => out.push(Stretch { changed, a, b }),
        }
    }
    cleanup(out)
}

/// Semantic cleanup (as in diff-match-patch): an equal stretch no longer
/// than the change on either side of it is chance (`的`, `市政府` matched
/// inside two different sentences) and becomes part of the change, so a
/// reader sees one replaced passage instead of a confetti of fragments.
fn cleanup(mut s: Vec<Stretch>) -> Vec<Stretch> {
    let weight = |x: &Stretch| x.a.len().max(x.b.len());
    let mut i = 1;
    while i + 1 < s.len() {
        let e = s[i].a.len();
        if !s[i].changed
            && s[i - 1].changed
            && s[i + 1].changed
            && e <= weight(&s[i - 1])
            && e <= weight(&s[i + 1])
        {
            // (changes and equal stretches alternate, so the ranges are contiguous)
            let next = s.remove(i + 1);
            s.remove(i);
            s[i - 1].a.end = next.a.end;
            s[i - 1].b.end = next.b.end;
            // the merged change may now outweigh the equal stretch before it
            i = i.saturating_sub(2).max(1);
        } else {
            i += 1;
        }
    }
    s
}

/// Source byte offset of normalised character boundary `k`: the start of
/// the text for 0, else where character `k` came from (the end past the
/// last), so the ranges of consecutive stretches tile the source.
fn byte_at(src: &str, norm: &NormText, k: usize) -> usize {
    if k == 0 {
        0
    } else {
        norm.orig.get(k).map_or(src.len(), |&o| o as usize)
    }
}

/// Stretches in normalised characters → stretches in source bytes. The
/// whitespace after a change belongs to the unchanged text that follows
/// it, so a changed word is shown without the space that separates it
/// from the next (`already [-read-]{+reads+} it`).
fn to_bytes(s: Vec<Stretch>, a: (&str, &NormText), b: (&str, &NormText)) -> Vec<Stretch> {
    let mut from = [0, 0];
    let n = s.len();
    s.into_iter()
        .enumerate()
        .map(|(i, x)| {
            let mut end = |side: usize, (src, norm): (&str, &NormText), k: usize| {
                let mut e = byte_at(src, norm, k);
                if x.changed && i + 1 < n {
                    e = from[side] + src[from[side]..e].trim_end().len();
                }
                std::mem::replace(&mut from[side], e)..e
            };
            Stretch {
                changed: x.changed,
                a: end(0, a, x.a.end),
                b: end(1, b, x.b.end),
            }
        })
        .collect()
}

/// The runs of a two-text diff from its stretches (in source bytes). An
/// equal run is shown as in `a`; where `a` has no space next to an
/// insertion and `b` has (`a` ends, `b` goes on), the insertion carries
/// `b`'s space, so no two words of `b` run together.
fn runs(s: &[Stretch], a: &str, b: &str) -> Vec<Run> {
    let mut out = Vec::new();
    for (i, x) in s.iter().enumerate() {
        let (ta, tb) = (&a[x.a.clone()], &b[x.b.clone()]);
        if !x.changed {
            out.push(Run::Equal(ta.to_string()));
            continue;
        }
        if !ta.is_empty() {
            out.push(Run::Delete(ta.to_string()));
        }
        if !tb.is_empty() {
            // b's whitespace around the insertion that a's equal runs lack
            let side = |e: Option<&Stretch>, end: bool| -> &str {
                let Some(e) = e else { return "" };
                let (ea, eb) = (&a[e.a.clone()], &b[e.b.clone()]);
                let (wa, wb) = if end {
                    (ea.len() - ea.trim_end().len(), &eb[eb.trim_end().len()..])
                } else {
                    (
                        ea.len() - ea.trim_start().len(),
                        &eb[..eb.len() - eb.trim_start().len()],
                    )
                };
                if wa == 0 {
                    wb
                } else {
                    ""
                }
            };
            let before = side(i.checked_sub(1).map(|k| &s[k]), true);
            let after = side(s.get(i + 1), false);
            out.push(Run::Insert(format!("{before}{tb}{after}")));
        }
    }
    out
}

/// Unmatched marker in [`base_to_other`].
const NONE: u32 = u32::MAX;

/// For each base character, the character of the other text it is matched
/// to by the diff, or [`NONE`].
fn base_to_other(ops: &[DiffOp], base_len: usize) -> Vec<u32> {
    let mut map = vec![NONE; base_len];
    for op in ops {
        if let DiffOp::Equal {
            old_index,
            new_index,
            len,
        } = *op
        {
            for k in 0..len {
                map[old_index + k] = (new_index + k) as u32;
            }
        }
    }
    map
}

/// A skeleton piece: where it starts in each source, and its length.
struct Piece {
    starts: Vec<usize>,
    len: usize,
    /// A shared line opening rather than a run the diff matched.
    opening: bool,
    /// Cut from a diff run of at least [`STRONG_RUN`] characters.
    strong: bool,
}

/// A diff run this long is shared text, not chance: no number of line
/// openings outweighs it in [`heaviest_chain`].
const STRONG_RUN: usize = 16;

/// Line pairs (and piece pairs) the template view compares at most: past it
/// (texts of thousands of lines) the skeleton is the diff's runs alone.
const TEMPLATE_BUDGET: usize = 1 << 22;

/// What a shared line opening weighs beyond its length in
/// [`heaviest_chain`]: it outweighs a run of up to this many characters
/// that the diff matched mid-line.
const OPENING_BONUS: usize = 12;

/// The pieces to keep: a chain in order in every source, without overlaps,
/// of the greatest weight. A piece weighs its length, a line opening
/// [`OPENING_BONUS`] more: paragraphs that open alike in every text are the
/// template's structure, while a short run the diff matched mid-sentence
/// (`。上半年全市`) may be chance, and must not push one out. A long run
/// ([`STRONG_RUN`]) weighs a hundred times its length: openings fill the
/// order around it, never evict it.
fn heaviest_chain(mut pieces: Vec<Piece>) -> Vec<Piece> {
    pieces.sort_by_key(|p| (p.starts[0], p.len));
    let weight = |p: &Piece| match (p.opening, p.strong) {
        (true, _) => p.len + OPENING_BONUS,
        (false, true) => p.len * 100,
        (false, false) => p.len,
    };
    let before = |a: &Piece, b: &Piece| {
        a.starts
            .iter()
            .zip(&b.starts)
            .all(|(&x, &y)| x + a.len <= y)
    };
    // best[j]: weight of the heaviest chain ending with piece j, and its predecessor
    let mut best: Vec<(usize, Option<usize>)> = Vec::with_capacity(pieces.len());
    for j in 0..pieces.len() {
        let prev = (0..j)
            .filter(|&i| before(&pieces[i], &pieces[j]))
            .max_by_key(|&i| (best[i].0, std::cmp::Reverse(i)));
        best.push((weight(&pieces[j]) + prev.map_or(0, |i| best[i].0), prev));
    }
    let mut at = (0..pieces.len()).max_by_key(|&j| (best[j].0, std::cmp::Reverse(j)));
    let mut keep = vec![false; pieces.len()];
    while let Some(j) = at {
        keep[j] = true;
        at = best[j].1;
    }
    pieces
        .into_iter()
        .zip(keep)
        .filter_map(|(p, k)| k.then_some(p))
        .collect()
}

/// Skeleton pieces and the slots between them. Pieces are runs of base
/// characters the diff matches, contiguously, in every other text, at least
/// [`MIN_SKELETON`] long (cut at line starts), and the openings of lines
/// that every text shares in the same order ([`line_openings`]: `一是`,
/// `二是`, which a template repeats while the bodies after them differ, and
/// which are too short to anchor a diff); [`heaviest_chain`] keeps the ones
/// that are in order in every text.
fn template(sources: &[Source], norms: &[NormText], maps: &[Vec<u32>]) -> Vec<Part> {
    let n = norms[0].len();
    let shared = |i: usize| maps.iter().all(|m| m[i] != NONE);
    let continues = |i: usize| maps.iter().all(|m| m[i] == m[i - 1] + 1);
    // where each source is at a base position
    let at = |s: usize, base_pos: usize| -> usize {
        if s == 0 {
            base_pos
        } else {
            maps[s - 1][base_pos] as usize
        }
    };
    let mut pieces: Vec<Piece> = Vec::new();
    let mut i = 0;
    while i < n {
        if !shared(i) {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < n && shared(i) && continues(i) {
            i += 1;
        }
        if i - start >= MIN_SKELETON {
            // cut at line starts, so a line opening can win its line without
            // taking the shared end of the line before with it
            let strong = i - start >= STRONG_RUN;
            let mut from = start;
            for cut in (start + 1..i)
                .filter(|&p| norms[0].gap_before[p] == GAP_LINE)
                .chain([i])
            {
                pieces.push(Piece {
                    starts: (0..sources.len()).map(|s| at(s, from)).collect(),
                    len: cut - from,
                    opening: false,
                    strong,
                });
                from = cut;
            }
        }
    }
    // (the diff's runs alone are already in order in every text)
    let openings = line_openings(norms);
    let all = if !openings.is_empty() && (pieces.len() + openings.len()).pow(2) <= TEMPLATE_BUDGET {
        pieces.extend(openings);
        heaviest_chain(pieces)
    } else {
        pieces
    };
    // pieces that follow each other in every text are one piece again
    let mut kept: Vec<Piece> = Vec::with_capacity(all.len());
    for p in all {
        match kept.last_mut() {
            Some(last)
                if last
                    .starts
                    .iter()
                    .zip(&p.starts)
                    .all(|(&a, &b)| a + last.len == b) =>
            {
                last.len += p.len;
            }
            _ => kept.push(p),
        }
    }
    let mut parts = Vec::new();
    let mut ends: Vec<usize> = vec![0; sources.len()];
    for p in &kept {
        let slot: Vec<String> = (0..sources.len())
            .map(|s| source_text(&sources[s].text, &norms[s], ends[s]..p.starts[s]))
            .collect();
        if slot.iter().any(|t| !t.trim().is_empty()) {
            parts.push(Part::Slot { texts: slot });
        }
        parts.push(Part::Skeleton {
            text: source_text(
                &sources[0].text,
                &norms[0],
                p.starts[0]..p.starts[0] + p.len,
            ),
        });
        ends = p.starts.iter().map(|&st| st + p.len).collect();
    }
    let tail: Vec<String> = (0..sources.len())
        .map(|s| source_text(&sources[s].text, &norms[s], ends[s]..norms[s].len()))
        .collect();
    if tail.iter().any(|t| !t.trim().is_empty()) {
        parts.push(Part::Slot { texts: tail });
    }
    parts
}

/// Line openings every source has, in the same order: the first two
/// characters of lines, matched base to each other source by a longest
/// common subsequence, kept where all match, and lengthened by the
/// characters all then share.
fn line_openings(norms: &[NormText]) -> Vec<Piece> {
    const HEAD: usize = 2;
    let heads = |s: usize| -> Vec<usize> {
        let t = &norms[s];
        (0..t.len().saturating_sub(HEAD - 1))
            .filter(|&p| p == 0 || t.gap_before[p] == GAP_LINE)
            .collect()
    };
    let keys = |s: usize, at: &[usize]| -> Vec<[char; HEAD]> {
        at.iter()
            .map(|&p| [norms[s].chars[p], norms[s].chars[p + 1]])
            .collect()
    };
    let base = heads(0);
    if base.is_empty() {
        return Vec::new();
    }
    let others: Vec<Vec<usize>> = (1..norms.len()).map(heads).collect();
    if others
        .iter()
        .any(|o| base.len().saturating_mul(o.len()) > TEMPLATE_BUDGET)
    {
        return Vec::new();
    }
    // for each base opening, its match in every other source
    let mut matched: Vec<Vec<usize>> = base.iter().map(|&p| vec![p]).collect();
    let base_keys = keys(0, &base);
    for (s, other) in (1..norms.len()).zip(others) {
        let mut m = vec![None; base.len()];
        for op in capture_diff_slices(Algorithm::Lcs, &base_keys, &keys(s, &other)) {
            if let DiffOp::Equal {
                old_index,
                new_index,
                len,
            } = op
            {
                for k in 0..len {
                    m[old_index + k] = Some(other[new_index + k]);
                }
            }
        }
        for (row, found) in matched.iter_mut().zip(m) {
            match found {
                Some(p) if row.len() == s => row.push(p),
                _ => row.clear(),
            }
        }
    }
    let mut out: Vec<Piece> = Vec::new();
    for starts in matched.into_iter().filter(|r| r.len() == norms.len()) {
        // not inside the previous opening
        if out
            .last()
            .is_some_and(|prev| starts[0] < prev.starts[0] + prev.len)
        {
            continue;
        }
        let mut len = HEAD;
        while starts.iter().enumerate().all(|(s, &st)| {
            st + len < norms[s].len() && norms[s].chars[st + len] == norms[0].chars[starts[0] + len]
        }) {
            len += 1;
        }
        // a shared opening ends at a word's end (`There is` / `Therefore`
        // share `There`, not a word)
        while len > 0
            && starts
                .iter()
                .enumerate()
                .any(|(s, &st)| align::cuts_word(&norms[s], st + len))
        {
            len -= 1;
        }
        // two characters open a CJK line (一是); in spaced scripts they are
        // chance (`Th`, `In`): a whole short word and more is asked there
        let opening = &norms[0].chars[starts[0]..starts[0] + len];
        if len == 0 || len < MIN_SKELETON && !opening.iter().any(|&c| crate::normalize::is_cjk(c)) {
            continue;
        }
        out.push(Piece {
            starts,
            len,
            opening: true,
            strong: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(label: &str, text: &str) -> Source {
        Source {
            label: label.into(),
            text: text.into(),
            first_line: 1,
        }
    }

    #[test]
    fn two_texts_diff_by_character_ignoring_layout() {
        let v = compare(
            &[
                src("a", "今天我们召开\n会议，研究工作。"),
                src("b", "今天 我们召开会议,研究XX工作."),
            ],
            &NormalizeOptions::default(),
        );
        let diff = v.diff.expect("two texts give a diff");
        let changed: Vec<&Run> = diff
            .iter()
            .filter(|r| !matches!(r, Run::Equal(_)))
            .collect();
        assert_eq!(changed, vec![&Run::Insert("XX".into())]);
        // the equal runs give back the first text, layout and all
        let first: String = diff
            .iter()
            .filter_map(|r| match r {
                Run::Equal(t) | Run::Delete(t) => Some(t.as_str()),
                Run::Insert(_) => None,
            })
            .collect();
        assert_eq!(first, "今天我们召开\n会议，研究工作。");
    }

    /// Equal and deleted runs give back `a`, equal and inserted runs `b`
    /// (after normalisation): a diff loses nothing and invents nothing.
    fn assert_lossless(a: &str, b: &str) {
        let opts = NormalizeOptions::default();
        let runs = diff(a, b, &opts);
        let side = |keep_insert: bool| -> Vec<char> {
            let t: String = runs
                .iter()
                .filter_map(|r| match r {
                    Run::Equal(t) => Some(t.as_str()),
                    Run::Delete(t) => (!keep_insert).then_some(t.as_str()),
                    Run::Insert(t) => keep_insert.then_some(t.as_str()),
                })
                .collect();
            normalize(&t, &opts).chars
        };
        assert_eq!(side(false), normalize(a, &opts).chars);
        assert_eq!(side(true), normalize(b, &opts).chars);
    }

    #[test]
    fn diffs_are_lossless_by_characters_and_by_sentences() {
        let mut rnd = crate::testutil::lcg(7);
        let mut text = |n: usize| -> String {
            (0..n)
                .map(|i| match rnd(2000) {
                    _ if i % 23 == 22 => '。',
                    r => char::from_u32(0x4e00 + r as u32).unwrap_or('一'),
                })
                .collect()
        };
        let a = text(3000);
        let b = format!("{}插入的句子。{}", &a[..3000], &a[4500..]);
        assert_lossless(&a, &b);
        // past the character budget: sentence units
        let long_a = text(40_000);
        let long_b = format!("{}另一段文字。{}", &long_a[..30_000], &long_a[45_000..]);
        assert!(long_a.chars().count() * long_b.chars().count() > align::CHAR_DIFF_BUDGET);
        assert_lossless(&long_a, &long_b);
    }

    /// The runs as `equal{-deleted-}{+inserted+}` (equal runs as in `a`).
    fn marked(runs: &[Run]) -> String {
        runs.iter()
            .map(|r| match r {
                Run::Equal(t) => t.clone(),
                Run::Delete(t) => format!("{{-{t}-}}"),
                Run::Insert(t) => format!("{{+{t}+}}"),
            })
            .collect()
    }

    #[test]
    fn space_separated_text_diffs_by_whole_words_with_its_spacing() {
        let opts = NormalizeOptions::default();
        let a = "Engineers, designers and managers\nalready read it each week.\n";
        let b = "Engineers, designers and\nmanagers already reads it each\nweek.\n";
        let runs = diff(a, b, &opts);
        assert_eq!(
            marked(&runs),
            "Engineers, designers and managers\nalready {-read-}{+reads+} it each week.\n"
        );
        assert_lossless(a, b);
        // several edits: each change holds whole words, spaced as in its source
        let a = "It costs nothing and we never send spam to the people on the list.";
        let b = "It is free and we never sell data to the people in the list.";
        let runs = diff(a, b, &opts);
        let words = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        for r in &runs {
            let (t, src) = match r {
                Run::Delete(t) => (t, a),
                Run::Insert(t) => (t, b),
                Run::Equal(_) => continue,
            };
            assert_eq!(t.trim(), t.as_str(), "change carries its spaces: {t:?}");
            let w = words(src);
            for word in words(t) {
                assert!(w.contains(&word), "{word:?} is not a word of {src:?}");
            }
        }
        assert_eq!(
            marked(&runs),
            "It {-costs nothing-}{+is free+} and we never {-send spam-}{+sell data+} \
             to the people {-on-}{+in+} the list."
        );
        assert_lossless(a, b);
    }

    #[test]
    fn edited_rewrapped_copies_never_cut_a_word() {
        let mut rnd = crate::testutil::lcg(11);
        let vocab = [
            "the", "then", "there", "them", "report", "reports", "city", "cities",
        ];
        for _ in 0..40 {
            let mut words: Vec<&str> = (0..60).map(|_| vocab[rnd(8) as usize]).collect();
            let a = words.join(" ");
            for _ in 0..rnd(6) + 1 {
                let i = rnd(words.len() as u64) as usize;
                match rnd(3) {
                    0 => words[i] = vocab[rnd(8) as usize],
                    1 => drop(words.remove(i)),
                    _ => words.insert(i, vocab[rnd(8) as usize]),
                }
            }
            // re-wrapped: a line break every 7 words
            let b: String = words
                .chunks(7)
                .map(|c| c.join(" "))
                .collect::<Vec<_>>()
                .join("\n");
            for (x, y) in [(&a, &b), (&b, &a)] {
                assert_lossless(x, y);
                // every run boundary in the first text is between words
                let mut at = 0;
                for r in diff(x, y, &NormalizeOptions::default()) {
                    if let Run::Equal(t) | Run::Delete(t) = r {
                        at += t.len();
                        let (before, after) = x.split_at(at);
                        let glued = before.ends_with(char::is_alphanumeric)
                            && after.starts_with(char::is_alphanumeric);
                        assert!(!glued, "cut inside a word at {at}: {before:?}|{after:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_insertion_where_the_first_text_ends_keeps_the_space_before_it() {
        let opts = NormalizeOptions::default();
        let runs = diff("frequencies of", "frequencies of occurrence", &opts);
        assert_eq!(marked(&runs), "frequencies of{+ occurrence+}");
        let runs = diff("depends on it", "a term depends on it", &opts);
        assert_eq!(marked(&runs), "{+a term +}depends on it");
    }

    #[test]
    fn words_split_by_spacing_alone_are_not_a_change() {
        let runs = diff(
            "编号XX XX的文件",
            "编号XXXX的文件",
            &NormalizeOptions::default(),
        );
        assert!(runs.iter().all(|r| matches!(r, Run::Equal(_))), "{runs:?}");
    }

    #[test]
    fn mixed_text_diffs_cjk_by_character_and_english_by_word() {
        let runs = diff(
            "我们的周报 collects the best posts，每周一期。",
            "我们的月报 collects the beat posts,每周一期.",
            &NormalizeOptions::default(),
        );
        assert_eq!(
            marked(&runs),
            "我们的{-周-}{+月+}报 collects the {-best-}{+beat+} posts，每周一期。"
        );
        // a number inside CJK text keeps its character diff
        let runs = diff(
            "2023年工作总结",
            "2024年工作总结",
            &NormalizeOptions::default(),
        );
        assert_eq!(marked(&runs), "202{-3-}{+4+}年工作总结");
    }

    #[test]
    fn template_keeps_long_shared_runs_and_slots_the_rest() {
        let v = compare(
            &[
                src("1", "各位领导：一是抓好春耕生产。二是修路。汇报完毕。"),
                src("2", "各位领导：一是发展旅游产业。二是建桥。汇报完毕。"),
                src("3", "各位领导：一是改善营商环境。二是引资。汇报完毕。"),
            ],
            &NormalizeOptions::default(),
        );
        assert!(v.diff.is_none());
        let skeleton: Vec<&str> = v
            .template
            .iter()
            .filter_map(|p| match p {
                Part::Skeleton { text } => Some(text.as_str()),
                Part::Slot { .. } => None,
            })
            .collect();
        let joined = skeleton.concat();
        assert!(skeleton[0].starts_with("各位领导：一是"), "{skeleton:?}");
        assert!(joined.contains("汇报完毕"), "{skeleton:?}");
        let slots: Vec<&Vec<String>> = v
            .template
            .iter()
            .filter_map(|p| match p {
                Part::Slot { texts } => Some(texts),
                Part::Skeleton { .. } => None,
            })
            .collect();
        // one slot between greeting and closing, each source's own body in it
        assert_eq!(slots.len(), 1, "{:?}", v.template);
        assert!(slots[0][0].contains("抓好春耕生产") && slots[0][0].contains("修路"));
        assert!(slots[0][1].contains("发展旅游产业") && slots[0][1].contains("建桥"));
        assert!(slots[0][2].contains("改善营商环境") && slots[0][2].contains("引资"));
    }

    fn skeleton(texts: &[&str]) -> Vec<String> {
        let sources: Vec<Source> = texts.iter().map(|t| src("s", t)).collect();
        compare(&sources, &NormalizeOptions::default())
            .template
            .into_iter()
            .filter_map(|p| match p {
                Part::Skeleton { text } => Some(text.trim().to_string()),
                Part::Slot { .. } => None,
            })
            .collect()
    }

    #[test]
    fn english_templates_keep_words_whole() {
        // `There`/`Therefore` and `roads`/`bridges`/`parks` share letters,
        // not words
        let texts = [
            "Report of the year\nThere is a plan for the city.\nThe roads were built.\n",
            "Report of the year\nTherefore the city grew.\nThe bridges were built.\n",
            "Report of the year\nThere are many plans.\nThe parks were built.\n",
        ];
        assert_eq!(
            skeleton(&texts),
            ["Report of the year", ".\nThe", "were built."]
        );
        let sources: Vec<Source> = texts.iter().map(|t| src("s", t)).collect();
        let slots: Vec<Vec<String>> = compare(&sources, &NormalizeOptions::default())
            .template
            .into_iter()
            .filter_map(|p| match p {
                Part::Slot { texts } => Some(texts.iter().map(|t| t.trim().to_string()).collect()),
                Part::Skeleton { .. } => None,
            })
            .collect();
        assert_eq!(
            slots,
            [
                [
                    "There is a plan for the city",
                    "Therefore the city grew",
                    "There are many plans"
                ],
                ["roads", "bridges", "parks"]
            ]
        );
    }

    #[test]
    fn line_openings_join_the_skeleton_without_evicting_shared_text() {
        // numbered paragraphs too short for the diff to anchor on
        let s = skeleton(&[
            "今年以来，我市做了三件事：\n一是抓好春耕生产\n二是修路架桥\n三是招商引资\n",
            "今年以来，本县做了三件事：\n一是发展旅游产业\n二是改善环境\n三是稳定就业\n",
        ]);
        let joined = s.join("|");
        let at = |piece: &str| {
            joined
                .find(piece)
                .unwrap_or_else(|| panic!("{piece}: {s:?}"))
        };
        assert!(at("一是") < at("二是") && at("二是") < at("三是"), "{s:?}");
        // the bodies after them are not skeleton
        assert!(
            !joined.contains("春耕") && !joined.contains("旅游"),
            "{s:?}"
        );
        // the shared end of the line before an opening stays skeleton
        let s = skeleton(&[
            "甲乙丙丁各位领导同志们\n一是加强管理工作\n",
            "戊己庚辛各位领导同志们\n一是加强服务意识\n",
        ]);
        let joined = s.join("|");
        assert!(joined.contains("各位领导同志们"), "{s:?}");
        assert!(joined.contains("一是加强"), "{s:?}");
        // openings in another order do not push out a long shared sentence
        let sentence = "全市上下要坚定信心，攻坚克难，奋力完成全年目标任务。";
        let s = skeleton(&[
            &format!("我们要抓好春耕。\n同时要修好道路。\n{sentence}\n"),
            &format!("{sentence}\n我们发展旅游。\n同时建好桥梁。\n"),
        ]);
        assert_eq!(s, [sentence], "{s:?}");
        // two letters opening lines of unrelated English text are chance
        let s = skeleton(&[
            "The cat sat on the mat.\nIn the morning it rained.\n",
            "The dog ran far away.\nIn winter we ski.\n",
        ]);
        assert!(s.is_empty(), "{s:?}");
    }
}
