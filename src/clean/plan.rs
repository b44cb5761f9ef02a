//! What `clean` removes: the plan (documents to drop, byte ranges to cut,
//! the removal log) built from a report and further detection rounds on the
//! text the cuts leave, and the no-loss check it must pass before anything
//! is written.

use std::ops::Range;

use rayon::prelude::*;

use super::{ByteUnits, CleanOptions, Place, Reason, Removal, Run, MAX_UNMATCHED, MIN_PIECE};
use crate::align;
use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::normalize::{normalize, NormText};
use crate::pipeline::{self, Level, NoProgress};
use crate::report::{Cluster, ClusterKind, Member, Report};
use crate::util::round4;

/// What to do with every document.
#[derive(Debug, Default)]
pub struct Plan {
    /// Per document: removed whole.
    pub drop_doc: Vec<bool>,
    /// Per document: byte ranges of its text to cut, sorted and disjoint.
    pub cuts: Vec<Vec<Range<usize>>>,
    /// The log.
    pub removals: Vec<Removal>,
}

/// `[start, end)` of a range of a document's text in log coordinates: of
/// the file for text files, of the text field for JSONL records.
pub(super) fn byte_span(corpus: &Corpus, doc: usize, range: &Range<usize>) -> [u64; 2] {
    let d = &corpus.docs[doc];
    let input = corpus.input_of(d);
    // bytes only: `span` also counts lines from the text's start
    [
        input.file_offset(&d.text, range.start),
        input.file_offset(&d.text, range.end),
    ]
}

/// Rounds of block detection on the cleaned text: the first uses the
/// report; each later one finds what the cuts left repeated (a paragraph
/// that copies B, C and D have but the kept copy A lacks stays in all
/// three after the first round, and goes from C and D in the second).
pub const MAX_ROUNDS: usize = 3;

/// Bytes of document text normalised at once while planning block cuts.
const PLAN_TEXT_BUDGET: usize = 64 << 20;

/// A removal decided in one round, in that round's coordinates.
pub(super) struct Piece {
    reason: Reason,
    cluster: usize,
    doc: usize,
    range: Range<usize>,
    kept_doc: usize,
    kept_range: Range<usize>,
    similarity: f64,
    containment: f64,
}

/// Decides what to remove: the report's clusters, then further rounds of
/// block detection on the text the cuts leave ([`MAX_ROUNDS`]).
///
/// # Errors
///
/// Invalid scan options (they were valid for the report, so in practice none).
pub fn plan(corpus: &Corpus, report: &Report, opts: &CleanOptions) -> Result<Plan> {
    plan_run(corpus, report, opts, &Run::default())
}

pub(super) fn plan_run(
    corpus: &Corpus,
    report: &Report,
    opts: &CleanOptions,
    run: &Run,
) -> Result<Plan> {
    let n = corpus.docs.len();
    let mut plan = Plan {
        drop_doc: vec![false; n],
        cuts: vec![Vec::new(); n],
        removals: Vec::new(),
    };
    let mut protected: Vec<Vec<Range<usize>>> = vec![Vec::new(); n];
    let pieces = round_pieces(corpus, report, opts, &mut plan.drop_doc, &mut protected);
    let mut in_blocks = vec![false; n];
    for c in report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block)
    {
        for m in &c.members {
            in_blocks[m.doc_index] = true;
        }
    }
    add_pieces(
        corpus,
        &mut plan,
        &protected,
        pieces,
        |_, r| vec![r],
        1,
        opts,
    );
    let mut last_id = report.clusters.iter().map(|c| c.id).max().unwrap_or(0);
    for round in 2..=MAX_ROUNDS {
        run.check()?;
        // Only documents with block copies can hold a leftover repeat.
        let view = view_of(corpus, &plan, &in_blocks);
        let mut so = opts.scan.clone();
        so.level = Level::Block;
        let mut rep = pipeline::scan_within(&view, &so, run.budget, &NoProgress)?;
        if rep.clusters.is_empty() {
            break;
        }
        // Numbered after every earlier round's clusters, so that an id in
        // the log names one cluster (round 1's are the report's).
        for c in &mut rep.clusters {
            c.id += last_id;
        }
        last_id = rep.clusters.iter().map(|c| c.id).max().unwrap_or(last_id);
        let mut no_drop = vec![false; n];
        let mut prot_view: Vec<Vec<Range<usize>>> = vec![Vec::new(); n];
        let pieces = round_pieces(&view, &rep, opts, &mut no_drop, &mut prot_view);
        let cuts_before = plan.cuts.clone();
        let map = |d: usize, r: Range<usize>| view_to_orig(&cuts_before[d], r);
        for (d, ranges) in prot_view.into_iter().enumerate() {
            for r in ranges {
                protected[d].extend(map(d, r));
            }
        }
        let before = plan.removals.len();
        add_pieces(corpus, &mut plan, &protected, pieces, map, round, opts);
        if plan.removals.len() == before {
            break;
        }
    }
    Ok(plan)
}

/// The corpus as the cuts so far leave it; documents not `included`, and
/// dropped ones, are empty.
pub(super) fn view_of(corpus: &Corpus, plan: &Plan, included: &[bool]) -> Corpus {
    Corpus {
        inputs: corpus.inputs.clone(),
        docs: corpus
            .docs
            .iter()
            .enumerate()
            .map(|(d, doc)| {
                let text = if included[d] && !plan.drop_doc[d] {
                    apply_cuts(&doc.text, &plan.cuts[d])
                } else {
                    String::new()
                };
                crate::corpus::Document {
                    id: doc.id.clone(),
                    input: doc.input,
                    record: doc.record,
                    offset: doc.offset,
                    sort_key: doc.sort_key.clone(),
                    text,
                }
            })
            .collect(),
        ..Corpus::default()
    }
}

/// Maps a range of the text left after `cuts` back to the original text
/// (one range per uncut stretch it spans).
pub(super) fn view_to_orig(cuts: &[Range<usize>], r: Range<usize>) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let (mut orig, mut view) = (0usize, 0usize);
    let mut segs: Vec<Range<usize>> = Vec::new();
    for c in cuts {
        segs.push(orig..c.start);
        orig = c.end;
    }
    segs.push(orig..usize::MAX);
    for seg in segs {
        let len = seg.end.saturating_sub(seg.start);
        let (vs, ve) = (view, view.saturating_add(len));
        let (s, e) = (r.start.max(vs), r.end.min(ve));
        if s < e {
            out.push(seg.start + (s - vs)..seg.start + (e - vs));
        }
        view = ve;
        if view >= r.end {
            break;
        }
    }
    out
}

/// Removals one report implies, in the report's coordinates; marks dropped
/// documents and records the kept copies, which no cut may touch.
pub(super) fn round_pieces(
    corpus: &Corpus,
    report: &Report,
    opts: &CleanOptions,
    drop_doc: &mut [bool],
    protected: &mut [Vec<Range<usize>>],
) -> Vec<Piece> {
    let mut pieces = Vec::new();
    for c in report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Document)
    {
        let k = &c.members[c.keep];
        for (i, m) in c.members.iter().enumerate() {
            if i == c.keep
                || m.similarity < opts.scan.threshold
                || drop_doc[m.doc_index]
                || corpus.is_reference(m.doc_index)
            {
                continue;
            }
            drop_doc[m.doc_index] = true;
            pieces.push(Piece {
                reason: Reason::Document,
                cluster: c.id,
                doc: m.doc_index,
                range: m.text_range.clone(),
                kept_doc: k.doc_index,
                kept_range: k.text_range.clone(),
                similarity: m.similarity,
                containment: m.similarity,
            });
        }
    }
    let dropped = |c: &Cluster| c.boilerplate && opts.drop_boilerplate;
    // Text of boilerplate to drop is protected nowhere, not even inside the
    // kept copy of another block (a section that runs into a footer).
    let mut to_drop: Vec<Vec<Range<usize>>> = vec![Vec::new(); protected.len()];
    for c in report.clusters.iter().filter(|c| dropped(c)) {
        for m in &c.members {
            to_drop[m.doc_index].push(m.text_range.clone());
        }
    }
    for c in report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block && !dropped(c))
    {
        let k = &c.members[c.keep];
        let holes = merge_ranges(std::mem::take(&mut to_drop[k.doc_index]));
        protected[k.doc_index].extend(subtract(k.text_range.clone(), &holes));
        to_drop[k.doc_index] = holes;
    }
    let jobs: Vec<(&Cluster, &Member)> = report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block)
        .flat_map(|c| {
            c.members
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i != c.keep || dropped(c))
                .map(move |(_, m)| (c, m))
        })
        // reference text is never removed, not even as boilerplate
        .filter(|(_, m)| !drop_doc[m.doc_index] && !corpus.is_reference(m.doc_index))
        .collect();
    // Documents holding a copy are normalised (with their byte maps, about
    // 10 bytes a character) for a slice of the jobs at a time, each once a
    // slice, not once per copy.
    let mut blocks: Vec<Vec<Piece>> = Vec::with_capacity(jobs.len());
    let mut start = 0;
    while start < jobs.len() {
        let (mut end, mut bytes) = (start, 0);
        // each document counted once: one large document holding many
        // copies is normalised once, not once per copy
        let mut held = std::collections::HashSet::new();
        while end < jobs.len() {
            let (c, m) = jobs[end];
            let docs = [c.members[c.keep].doc_index, m.doc_index];
            let adds = docs.iter().any(|d| !held.contains(d));
            if end > start && adds && bytes >= PLAN_TEXT_BUDGET {
                break;
            }
            for d in docs {
                if held.insert(d) {
                    bytes += corpus.docs[d].text.len();
                }
            }
            end += 1;
        }
        let slice = &jobs[start..end];
        let mut docs: Vec<usize> = slice
            .iter()
            .flat_map(|(c, m)| [c.members[c.keep].doc_index, m.doc_index])
            .collect();
        docs.sort_unstable();
        docs.dedup();
        let norms: Vec<NormText> = docs
            .par_iter()
            .map(|&d| normalize(&corpus.docs[d].text, &opts.scan.normalize))
            .collect();
        let norm_of = |d: usize| &norms[docs.binary_search(&d).unwrap_or(0)];
        blocks.par_extend(slice.par_iter().map(|&(c, m)| {
            let k = &c.members[c.keep];
            block_pieces(
                corpus,
                c,
                m,
                norm_of(k.doc_index),
                norm_of(m.doc_index),
                opts,
            )
        }));
        start = end;
    }
    pieces.extend(blocks.into_iter().flatten());
    pieces
}

/// Turns pieces into cuts and log lines, in original coordinates: mapped
/// with `map`, minus protected (kept) text and what is already cut.
///
/// What a block piece finally removes can be less than the piece (kept or
/// already cut text taken out of it), so its containment is measured again
/// on exactly that text against the kept copy's text, both from the input,
/// as `verify` will measure it; a remainder below the threshold stays.
pub(super) fn add_pieces<F>(
    corpus: &Corpus,
    plan: &mut Plan,
    protected: &[Vec<Range<usize>>],
    pieces: Vec<Piece>,
    map: F,
    round: usize,
    opts: &CleanOptions,
) where
    F: Fn(usize, Range<usize>) -> Vec<Range<usize>>,
{
    let mut kept_norm = KeptNorm::default();
    // Lines of a large document's places from an index built once, not
    // counted from its start for each of its (many) copies.
    let mut line_ix: std::collections::HashMap<usize, crate::corpus::LineIndex> =
        std::collections::HashMap::new();
    let mut place_of = |d: usize, r: &Range<usize>| {
        let text = &corpus.docs[d].text;
        if text.len() < 1 << 20 {
            return Place::of(corpus, d, r);
        }
        let ix = line_ix
            .entry(d)
            .or_insert_with(|| crate::corpus::LineIndex::new(text));
        Place::in_indexed_text(corpus, d, text, r, Some(ix))
    };
    for p in pieces {
        let hull =
            |v: &[Range<usize>]| -> Option<Range<usize>> { Some(v.first()?.start..v.last()?.end) };
        let Some(kept) = hull(&map(p.kept_doc, p.kept_range.clone())) else {
            continue;
        };
        let ranges: Vec<Range<usize>> = if p.reason == Reason::Document {
            vec![p.range.clone()]
        } else {
            map(p.doc, p.range.clone())
                .into_iter()
                .flat_map(|r| subtract(r, &protected[p.doc]))
                .flat_map(|r| subtract(r, &plan.cuts[p.doc]))
                .filter(|r| !r.is_empty())
                .collect()
        };
        let Some(removed) = hull(&ranges) else {
            continue;
        };
        let (mut similarity, mut containment) = (p.similarity, p.containment);
        if p.reason != Reason::Document {
            let (c, s) = kept_norm.measure(corpus, (p.doc, &ranges), (p.kept_doc, &kept), opts);
            if c + 1e-9 < opts.scan.blocks.threshold {
                continue;
            }
            containment = round4(c);
            similarity = round4(s);
        }
        let bytes_removed = ranges.iter().map(|r| r.len() as u64).sum();
        let spans = if ranges.len() > 1 {
            ranges.iter().map(|r| byte_span(corpus, p.doc, r)).collect()
        } else {
            Vec::new()
        };
        if p.reason != Reason::Document {
            let mut cuts = std::mem::take(&mut plan.cuts[p.doc]);
            cuts.extend(ranges);
            plan.cuts[p.doc] = merge_ranges(cuts);
        }
        plan.removals.push(Removal {
            reason: p.reason,
            cluster: p.cluster,
            round,
            removed: place_of(p.doc, &removed),
            spans,
            kept: place_of(p.kept_doc, &kept),
            similarity,
            containment,
            bytes_removed,
            units: ByteUnits::of(corpus, p.doc, p.kept_doc),
            reference: corpus.is_reference(p.kept_doc),
        });
    }
}

/// Kept copies normalised once, by (document, range): one kept copy serves
/// every removal of its cluster.
#[derive(Default)]
struct KeptNorm(std::collections::HashMap<(usize, usize, usize), Vec<char>>);

impl KeptNorm {
    /// Containment (`LCS / removed`, as [`align::containment`], which
    /// `verify` uses) and similarity (`LCS / longer`) of the `removed`
    /// ranges of a document's text against the `kept` range of another's.
    fn measure(
        &mut self,
        corpus: &Corpus,
        removed: (usize, &[Range<usize>]),
        kept: (usize, &Range<usize>),
        opts: &CleanOptions,
    ) -> (f64, f64) {
        let ((doc, ranges), (kept_doc, kept)) = (removed, kept);
        let text = &corpus.docs[doc].text;
        let cut_text: String = ranges.iter().map(|r| &text[r.clone()]).collect();
        let a = normalize(&cut_text, &opts.scan.normalize).chars;
        let b = self
            .0
            .entry((kept_doc, kept.start, kept.end))
            .or_insert_with(|| {
                let kt = &corpus.docs[kept_doc].text[kept.clone()];
                normalize(kt, &opts.scan.normalize).chars
            });
        let lcs = align::lcs_len(&a, b);
        let containment = if a.is_empty() {
            1.0
        } else {
            lcs as f64 / a.len() as f64
        };
        (containment, lcs as f64 / a.len().max(b.len()).max(1) as f64)
    }
}

/// The parts of one non-kept block copy that may be cut; `knorm` and
/// `mnorm` are the normalised texts of the kept copy's and this copy's
/// documents. Cuts never leave broken text ([`clean_cut`]).
pub(super) fn block_pieces(
    corpus: &Corpus,
    c: &Cluster,
    m: &Member,
    knorm: &NormText,
    mnorm: &NormText,
    opts: &CleanOptions,
) -> Vec<Piece> {
    let k = &c.members[c.keep];
    let mdoc = &corpus.docs[m.doc_index].text;
    let kchars = &knorm.chars[k.norm_range.clone()];
    let mchars = &mnorm.chars[m.norm_range.clone()];
    // A removal widened to whole sentences is measured against the kept
    // copy's whole sentences too: the copies' edges are where they differ
    // (a year, a name), and the alignment stops short of them on both sides.
    let kdoc = &corpus.docs[k.doc_index].text;
    let kept_range = widen_to_sentences(kdoc, k.text_range.clone());
    let kept_units = normalize(&kdoc[kept_range.clone()], &opts.scan.normalize).chars;
    let mut out = Vec::new();
    for r in align::covered_ranges(mchars, kchars, MAX_UNMATCHED) {
        if r.len() < MIN_PIECE {
            continue;
        }
        let piece = &mchars[r.clone()];
        let lcs = align::lcs_len(piece, kchars);
        let containment = lcs as f64 / piece.len() as f64;
        if containment < opts.scan.blocks.threshold {
            continue;
        }
        let (s, e) = (m.norm_range.start + r.start, m.norm_range.start + r.end);
        let raw = mnorm.source_range(mdoc, s, e);
        let Some(range) = clean_cut(mdoc, raw, |r| {
            let cut = normalize(&mdoc[r], &opts.scan.normalize).chars;
            let lcs = align::lcs_len(&cut, &kept_units);
            lcs as f64 >= opts.scan.blocks.threshold * cut.len() as f64
        }) else {
            continue;
        };
        out.push(Piece {
            reason: if c.boilerplate && opts.drop_boilerplate {
                Reason::Boilerplate
            } else {
                Reason::Block
            },
            cluster: c.id,
            doc: m.doc_index,
            range,
            kept_doc: k.doc_index,
            kept_range: kept_range.clone(),
            similarity: round4(lcs as f64 / piece.len().max(kchars.len()) as f64),
            containment: round4(containment),
        });
    }
    out
}

/// Where a cut of the copy at bytes `copy` of `text` goes so that it
/// leaves no broken text: it starts and ends at a sentence boundary
/// (after `.`, `!`, `?`, `;` and a space, or after `。！？；`) or a line edge,
/// so no word is cut and no fragment of a sentence is left. First widened:
/// the fragment of a sentence between the copy and the nearest boundary
/// goes with it (and is part of the removal the log shows), when the cut
/// is then still `contained` enough in the kept copy; else narrowed to the
/// whole sentences inside the copy; `None` when none is left. Whole lines
/// are then taken with their line break ([`snap_to_lines`]).
pub fn clean_cut(
    text: &str,
    copy: Range<usize>,
    contained: impl Fn(Range<usize>) -> bool,
) -> Option<Range<usize>> {
    let wide = widen_to_sentences(text, copy.clone());
    if wide == copy || contained(wide.clone()) {
        return Some(snap_to_lines(text, wide));
    }
    let narrow = narrow_to_sentences(text, copy);
    (!narrow.is_empty() && contained(narrow.clone())).then(|| snap_to_lines(text, narrow))
}

/// Marks that end a sentence: ASCII ones when a space or the line's end
/// follows, CJK ones anywhere.
fn ends_sentence(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | ';' | '…')
}

fn ends_cjk_sentence(c: char) -> bool {
    matches!(c, '。' | '！' | '？' | '；' | '｡' | '!' | '?')
}

/// What may follow the mark of a sentence's end: whitespace, or control
/// characters, which are no text.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c.is_control()
}

/// Space inside a line.
fn is_blank(c: char) -> bool {
    is_space(c) && c != '\n' && c != '\r'
}

/// Quotes and brackets that may close a sentence after its mark.
fn is_closer(c: char) -> bool {
    matches!(
        c,
        '"' | '\'' | ')' | ']' | '”' | '’' | '」' | '』' | '）' | '》' | '】'
    )
}

/// Whether a sentence ends just before byte `p` of `text`.
fn sentence_ends_at(text: &str, p: usize) -> bool {
    let mut back = text[..p].chars().rev().skip_while(|&c| is_closer(c));
    match back.next() {
        Some(c) if ends_cjk_sentence(c) && !c.is_ascii() => true,
        // `1.` opening a list item ends nothing
        Some('.') if list_number_before(text, p) => false,
        Some(c) if ends_sentence(c) || ends_cjk_sentence(c) => {
            text[p..].chars().next().is_none_or(is_space)
        }
        _ => false,
    }
}

/// Whether the `.` just before byte `p` numbers a list item: only digits
/// and spaces before it on its line.
fn list_number_before(text: &str, p: usize) -> bool {
    let line = &text[text[..p].rfind('\n').map_or(0, |i| i + 1)..p];
    let item = line.trim_start().trim_end_matches('.');
    !item.is_empty() && item.len() <= 3 && item.bytes().all(|b| b.is_ascii_digit())
}

/// Whether the sentence before the line break at byte `nl` of `text` goes
/// on after it: prose wrapped inside a sentence (`…ein altes Fabrik-⏎
/// gebäude…`, `…the⏎incidents…`, `…计划，⏎欢迎…`), where a line edge is no
/// place to cut. A line that ends a sentence, a blank line, and a line
/// followed by one that starts with a capital or a mark (a heading, a list,
/// code) end where they are.
fn line_continues(text: &str, nl: usize) -> bool {
    let before = text[..nl].trim_end_matches(is_blank);
    let Some(last) = before.chars().next_back().filter(|&c| c != '\n') else {
        return false;
    };
    let after = text[nl + 1..].trim_start_matches(|c: char| is_blank(c) || "#*/>".contains(c));
    let Some(first) = after.chars().next().filter(|&c| c != '\n' && c != '\r') else {
        return false;
    };
    match last {
        '，' | '、' => true,
        ',' | '-' => first.is_lowercase() || first.is_ascii_digit(),
        c if crate::normalize::is_word_char(c) => first.is_lowercase() || first.is_ascii_digit(),
        _ => false,
    }
}

/// Whether a sentence (or a paragraph) starts at byte `p`, the spaces
/// before it skipped.
fn sentence_starts_at(text: &str, p: usize) -> bool {
    let q = text[..p].trim_end_matches(is_blank).len();
    if q == 0 {
        return true;
    }
    if text.as_bytes()[q - 1] == b'\n' {
        return !line_continues(text, q - 1);
    }
    let cjk_mark = text[..q]
        .chars()
        .rev()
        .find(|&c| !is_closer(c))
        .is_some_and(|c| ends_cjk_sentence(c) && !c.is_ascii());
    // after an ASCII mark a space must follow (`3.5`, `e.g.x` go on)
    (q < p || cjk_mark) && sentence_ends_at(text, q)
}

/// Whether a sentence (or a paragraph) ends at byte `p`.
fn is_sentence_end(text: &str, p: usize) -> bool {
    if sentence_ends_at(text, p) {
        return true;
    }
    let b = text.as_bytes();
    if p > 0 && b[p - 1] == b'\n' {
        return !line_continues(text, p - 1);
    }
    let r = p + text[p..].len() - text[p..].trim_start_matches(is_blank).len();
    match b.get(r) {
        None => true,
        Some(b'\n') => !line_continues(text, r),
        Some(b'\r') => b.get(r + 1) != Some(&b'\n') || !line_continues(text, r + 1),
        _ => false,
    }
}

/// Char boundaries of `text` in `from..=to`, upwards.
fn boundaries(text: &str, from: usize, to: usize) -> impl DoubleEndedIterator<Item = usize> + '_ {
    (from..=to).filter(move |&p| text.is_char_boundary(p))
}

/// `r` widened to the sentence boundaries or line edges around it.
fn widen_to_sentences(text: &str, r: Range<usize>) -> Range<usize> {
    let start = boundaries(text, 0, r.start)
        .rev()
        .find(|&p| sentence_starts_at(text, p))
        .unwrap_or(0);
    let end = boundaries(text, r.end, text.len())
        .find(|&p| is_sentence_end(text, p))
        .unwrap_or(text.len());
    // the spaces before the next sentence go too: `A. B. C.` less `B.`
    // is `A. C.`
    let end = end + text[end..].len() - text[end..].trim_start_matches(is_blank).len();
    start.min(r.start)..end.max(r.end)
}

/// `r` narrowed to the whole sentences (or lines) inside it.
fn narrow_to_sentences(text: &str, r: Range<usize>) -> Range<usize> {
    let start = boundaries(text, r.start, r.end)
        .find(|&p| sentence_starts_at(text, p))
        .unwrap_or(r.end);
    let start = start + text[start..r.end].len() - text[start..r.end].trim_start().len();
    let end = boundaries(text, start, r.end)
        .rev()
        .find(|&p| is_sentence_end(text, p))
        .unwrap_or(start);
    if end <= start {
        return start..start;
    }
    let end = end + text[end..].len() - text[end..].trim_start_matches(is_blank).len();
    start..end
}

/// Widens a cut to whole lines when only whitespace lies between it and the
/// line's ends, taking the line break along when whole lines go.
pub fn snap_to_lines(text: &str, r: Range<usize>) -> Range<usize> {
    // Only the blanks next to the cut are read, not its whole line: a
    // document of one long line is cut many times.
    let blank = |c: char| c != '\n' && c.is_whitespace();
    let line_start = text[..r.start].trim_end_matches(blank).len();
    let line_end = text.len() - text[r.end..].trim_start_matches(blank).len();
    let start_ok = line_start == 0 || text.as_bytes()[line_start - 1] == b'\n';
    let end_ok = line_end == text.len() || text.as_bytes()[line_end] == b'\n';
    match (start_ok, end_ok) {
        // whole lines: take the indentation and the line break too
        (true, true) => line_start..(line_end + 1).min(text.len()),
        // the rest of a line: take its trailing spaces
        (false, true) => r.start..line_end,
        _ => r,
    }
}

/// `r` minus the `holes`.
pub(super) fn subtract(r: Range<usize>, holes: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut parts = vec![r];
    for h in holes {
        let mut next = Vec::new();
        for p in parts {
            if h.end <= p.start || h.start >= p.end {
                next.push(p);
                continue;
            }
            if p.start < h.start {
                next.push(p.start..h.start);
            }
            if h.end < p.end {
                next.push(h.end..p.end);
            }
        }
        parts = next;
    }
    parts
}

pub(super) fn merge_ranges(mut v: Vec<Range<usize>>) -> Vec<Range<usize>> {
    v.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Range<usize>> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

/// `text` without the `cuts`.
pub fn apply_cuts(text: &str, cuts: &[Range<usize>]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pos = 0;
    for c in cuts {
        out.push_str(&text[pos..c.start]);
        pos = c.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// Checks the plan before anything is written: no byte lost, every removal justified.
///
/// # Errors
///
/// [`Error::Verify`] naming the first document or removal that does not add up.
pub fn check_plan(corpus: &Corpus, plan: &Plan, opts: &CleanOptions) -> Result<()> {
    for (d, doc) in corpus.docs.iter().enumerate() {
        let removed: usize = if plan.drop_doc[d] {
            doc.text.len()
        } else {
            plan.cuts[d].iter().map(|r| r.len()).sum()
        };
        let kept = if plan.drop_doc[d] {
            0
        } else {
            apply_cuts(&doc.text, &plan.cuts[d]).len()
        };
        if kept + removed != doc.text.len() {
            return Err(Error::Verify {
                path: doc.id.clone(),
                reason: format!(
                    "{kept} bytes kept + {removed} removed != {} read",
                    doc.text.len()
                ),
            });
        }
    }
    for r in &plan.removals {
        let limit = if r.reason == Reason::Document {
            opts.scan.threshold
        } else {
            opts.scan.blocks.threshold
        };
        if r.containment + 1e-9 < limit {
            return Err(Error::Verify {
                path: r.removed.path.clone(),
                reason: format!(
                    "removal at lines {}-{} is only {:.3} contained in its kept copy",
                    r.removed.lines[0], r.removed.lines[1], r.containment
                ),
            });
        }
    }
    Ok(())
}
