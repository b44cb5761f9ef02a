//! VARIANTS: two or more copies of a text → what they share and where they
//! differ, as one [`Variants`] model that the report module renders as
//! text, JSON or HTML.
//!
//! - With two texts, a character-level diff: runs of equal, deleted and
//!   inserted text ([`Run`]).
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
//! differences; the runs show the source characters, with the whitespace
//! that follows them. Diffs are `similar`'s Patience algorithm on the
//! normalised characters: Myers, its default, gives far from minimal
//! character diffs on CJK text (DESIGN.md, measured facts). Past a size
//! budget the diff compares sentences instead of characters, so long texts
//! with little in common take bounded time and the output never depends on
//! the machine's speed (a deadline would).

use serde::Serialize;
use similar::{capture_diff_slices, Algorithm, DiffOp};

use std::path::PathBuf;

use crate::align;
use crate::corpus::{read_corpus, Format, IngestOptions};
use crate::error::{Error, Result};
use crate::normalize::{normalize, NormText, NormalizeOptions, GAP_LINE};

/// Shortest run of characters shared by every text that counts as
/// skeleton in the template view.
pub const MIN_SKELETON: usize = 4;

/// Schema name of the JSON form.
pub const SCHEMA: &str = "neardup.variants/1";

/// Above this product of lengths a diff compares sentences, not characters
/// (about 30,000 × 30,000 characters): the character diff of two long,
/// different texts can take minutes, and a time limit instead would make
/// the output depend on the machine.
const CHAR_DIFF_BUDGET: usize = 1 << 30;

/// One text to compare: a label for people (`path:first-last`) and the text.
#[derive(Debug, Clone)]
pub struct Source {
    /// Where the text came from.
    pub label: String,
    /// The text itself.
    pub text: String,
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
/// `FILE:FIRST-LAST` (1-based inclusive lines of a text file) or
/// `FILE:LINE` (that line of a text file, or the JSONL record on it): the
/// locations the scan report prints.
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
    let (path, lines) = split_span(spec);
    let corpus = read_corpus(&[PathBuf::from(path)], ingest)?;
    let input = corpus.inputs.first().ok_or_else(|| bad("no such input"))?;
    let text = match (input.format, lines) {
        (Format::Jsonl, Some((first, last))) if first == last => corpus
            .docs
            .iter()
            .find(|d| d.record == Some(first))
            .map(|d| d.text.clone())
            .ok_or_else(|| bad("no JSONL record on that line"))?,
        (Format::Jsonl, _) => return Err(bad("a JSONL file needs the record's line: FILE:LINE")),
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
            whole[from..to].to_string()
        }
    };
    Ok(Source {
        label: spec.to_string(),
        text,
    })
}

/// `FILE:FIRST-LAST` or `FILE:LINE` → the file and the lines; anything
/// else is a file name (which may itself hold a colon).
fn split_span(spec: &str) -> (&str, Option<(u64, u64)>) {
    if std::path::Path::new(spec).exists() {
        return (spec, None);
    }
    let Some((path, range)) = spec.rsplit_once(':') else {
        return (spec, None);
    };
    let num = |s: &str| s.parse::<u64>().ok();
    let lines = match range.split_once('-') {
        Some((a, b)) => num(a).zip(num(b)),
        None => num(range).map(|l| (l, l)),
    };
    match lines {
        Some(l) => (path, Some(l)),
        None => (spec, None),
    }
}

/// The character diff from `a` to `b` alone (what a report attaches to
/// each copy: the kept copy is `a`).
pub fn diff(a: &str, b: &str, opts: &NormalizeOptions) -> Vec<Run> {
    let (na, nb) = (normalize(a, opts), normalize(b, opts));
    let ops = diff_ops(&na.chars, &nb.chars);
    let texts = [(a, &na), (b, &nb)];
    runs(&ops, |i, r| source_text(texts[i].0, texts[i].1, r))
}

/// Compares `sources` (at least one); the first is the base.
pub fn compare(sources: &[Source], opts: &NormalizeOptions) -> Variants {
    let norms: Vec<NormText> = sources.iter().map(|s| normalize(&s.text, opts)).collect();
    let base = &norms[0];
    let ops: Vec<Vec<DiffOp>> = norms[1..]
        .iter()
        .map(|n| diff_ops(&base.chars, &n.chars))
        .collect();
    let infos = sources
        .iter()
        .zip(&norms)
        .map(|(s, n)| SourceInfo {
            label: s.label.clone(),
            chars: n.len(),
            similarity: (align::similarity(&base.chars, &n.chars) * 10_000.0).round() / 10_000.0,
        })
        .collect();
    let diff = (sources.len() == 2).then(|| {
        let text =
            |i: usize, r: std::ops::Range<usize>| source_text(&sources[i].text, &norms[i], r);
        runs(&ops[0], text)
    });
    let maps: Vec<Vec<u32>> = ops.iter().map(|o| base_to_other(o, base.len())).collect();
    Variants {
        schema: SCHEMA,
        sources: infos,
        diff,
        template: template(sources, &norms, &maps),
    }
}

/// Patience diff of two character sequences; past [`CHAR_DIFF_BUDGET`]
/// the units are sentences (runs ending at `.`, `!`, `?`, `;` or 64
/// characters), the ops still in characters.
fn diff_ops(a: &[char], b: &[char]) -> Vec<DiffOp> {
    if a.len().saturating_mul(b.len()) <= CHAR_DIFF_BUDGET {
        return capture_diff_slices(Algorithm::Patience, a, b);
    }
    let (sa, sb) = (sentences(a), sentences(b));
    let (ta, tb): (Vec<&[char]>, Vec<&[char]>) = (
        sa.iter().map(|r| &a[r.clone()]).collect(),
        sb.iter().map(|r| &b[r.clone()]).collect(),
    );
    // character offset of sentence `i` (the end for one past the last)
    let at = |s: &[std::ops::Range<usize>], i: usize, len: usize| s.get(i).map_or(len, |r| r.start);
    let span = |s: &[std::ops::Range<usize>], i: usize, n: usize| -> usize {
        s[i..i + n].iter().map(std::ops::Range::len).sum()
    };
    capture_diff_slices(Algorithm::Patience, &ta, &tb)
        .into_iter()
        .map(|op| match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => DiffOp::Equal {
                old_index: at(&sa, old_index, a.len()),
                new_index: at(&sb, new_index, b.len()),
                len: span(&sa, old_index, len),
            },
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => DiffOp::Delete {
                old_index: at(&sa, old_index, a.len()),
                old_len: span(&sa, old_index, old_len),
                new_index: at(&sb, new_index, b.len()),
            },
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => DiffOp::Insert {
                old_index: at(&sa, old_index, a.len()),
                new_index: at(&sb, new_index, b.len()),
                new_len: span(&sb, new_index, new_len),
            },
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => DiffOp::Replace {
                old_index: at(&sa, old_index, a.len()),
                old_len: span(&sa, old_index, old_len),
                new_index: at(&sb, new_index, b.len()),
                new_len: span(&sb, new_index, new_len),
            },
        })
        .collect()
}

/// Sentence ranges of normalised characters (see [`diff_ops`]).
fn sentences(t: &[char]) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in t.iter().enumerate() {
        if matches!(c, '.' | '!' | '?' | ';') || i + 1 - start >= 64 {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < t.len() {
        out.push(start..t.len());
    }
    out
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

/// The runs of a two-text diff, adjacent runs of one kind merged.
fn runs(ops: &[DiffOp], text: impl Fn(usize, std::ops::Range<usize>) -> String) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    let mut push = |run: Run| match (out.last_mut(), &run) {
        (Some(Run::Equal(a)), Run::Equal(b))
        | (Some(Run::Delete(a)), Run::Delete(b))
        | (Some(Run::Insert(a)), Run::Insert(b)) => a.push_str(b),
        _ => out.push(run),
    };
    for op in ops {
        match *op {
            DiffOp::Equal { old_index, len, .. } => {
                push(Run::Equal(text(0, old_index..old_index + len)))
            }
            DiffOp::Delete {
                old_index, old_len, ..
            } => {
                push(Run::Delete(text(0, old_index..old_index + old_len)));
            }
            DiffOp::Insert {
                new_index, new_len, ..
            } => {
                push(Run::Insert(text(1, new_index..new_index + new_len)));
            }
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                push(Run::Delete(text(0, old_index..old_index + old_len)));
                push(Run::Insert(text(1, new_index..new_index + new_len)));
            }
        }
    }
    out.retain(|r| !matches!(r, Run::Equal(t) | Run::Delete(t) | Run::Insert(t) if t.is_empty()));
    cleanup(out)
}

/// Semantic cleanup (as in diff-match-patch): an equal run no longer than
/// the change on either side of it is chance (`的`, `市政府` matched inside
/// two different sentences) and becomes part of the change, so a reader
/// sees one replaced passage instead of a confetti of fragments.
fn cleanup(mut runs: Vec<Run>) -> Vec<Run> {
    let size = |t: &str| t.chars().filter(|c| !c.is_whitespace()).count();
    loop {
        // change groups: (deleted, inserted) between equal runs
        let mut groups: Vec<(String, String)> = vec![(String::new(), String::new())];
        let mut equals: Vec<String> = Vec::new();
        for r in &runs {
            match r {
                Run::Delete(t) => groups.last_mut().map(|g| g.0.push_str(t)).unwrap_or(()),
                Run::Insert(t) => groups.last_mut().map(|g| g.1.push_str(t)).unwrap_or(()),
                Run::Equal(t) => {
                    equals.push(t.clone());
                    groups.push((String::new(), String::new()));
                }
            }
        }
        // equal i sits between groups i and i + 1
        let weight = |g: &(String, String)| size(&g.0).max(size(&g.1));
        let absorb = (0..equals.len()).find(|&i| {
            let e = size(&equals[i]);
            let (before, after) = (weight(&groups[i]), weight(&groups[i + 1]));
            before > 0 && after > 0 && e <= before && e <= after
        });
        let Some(i) = absorb else { break };
        let mut merged = std::mem::take(&mut groups[i]);
        merged.0.push_str(&equals[i]);
        merged.1.push_str(&equals[i]);
        let next = std::mem::take(&mut groups[i + 1]);
        merged.0.push_str(&next.0);
        merged.1.push_str(&next.1);
        groups[i + 1] = merged;
        equals.remove(i);
        groups.remove(i);
        runs = Vec::new();
        for (k, g) in groups.into_iter().enumerate() {
            if !g.0.is_empty() {
                runs.push(Run::Delete(g.0));
            }
            if !g.1.is_empty() {
                runs.push(Run::Insert(g.1));
            }
            if let Some(e) = equals.get(k) {
                runs.push(Run::Equal(e.clone()));
            }
        }
    }
    runs
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
        // two characters open a CJK line (一是); in spaced scripts they are
        // chance (`Th`, `In`): a whole short word and more is asked there
        let opening = &norms[0].chars[starts[0]..starts[0] + len];
        if len < MIN_SKELETON && !opening.iter().any(|&c| crate::normalize::is_cjk(c)) {
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
        assert!(long_a.chars().count() * long_b.chars().count() > CHAR_DIFF_BUDGET);
        assert_lossless(&long_a, &long_b);
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
