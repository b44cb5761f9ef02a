//! What `clean` removes: the plan (documents to drop, byte ranges to cut,
//! the removal log) built from a report and further detection rounds on the
//! text the cuts leave, and the no-loss check it must pass before anything
//! is written.

use std::ops::Range;

use rayon::prelude::*;

use super::{ByteUnits, CleanOptions, Place, Reason, Removal, Run, MAX_UNMATCHED, MIN_PIECE};
use crate::align;
use crate::corpus::Corpus;
use crate::documents::Texts;
use crate::error::{Error, Result};
use crate::normalize::{normalize, NormText};
use crate::pipeline::{self, Level};
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

/// `[start, end)` of a range of document `doc`'s text `text` in log
/// coordinates: of the file for text files, of the text field for JSONL
/// records.
fn byte_span(corpus: &Corpus, doc: usize, text: &str, range: &Range<usize>) -> [u64; 2] {
    let d = &corpus.docs[doc];
    let input = corpus.input_of(d);
    // bytes only: `span` also counts lines from the text's start
    [
        input.file_offset(text, range.start),
        input.file_offset(text, range.end),
    ]
}

/// Rounds of block detection on the cleaned text: the first uses the
/// report; each later one finds what the cuts left repeated (a paragraph
/// that copies B, C and D have but the kept copy A lacks stays in all
/// three after the first round, and goes from C and D in the second).
pub const MAX_ROUNDS: usize = 3;

/// Bytes of document text held (and normalised) at once while planning.
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
    /// Measured with numbers as fields (a copy of boilerplate).
    fields: bool,
    /// Where a whole document removed in round 1 and its kept copy are:
    /// the report's places, so that no text is read again for them.
    places: Option<Box<(Place, Place)>>,
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
    // Texts are held by the corpus, or read back a slice at a time.
    let base = match run.reload {
        Some(ingest) => Texts::Reload(ingest),
        None => Texts::Memory,
    };
    let sizes: Vec<u32> = corpus.docs.iter().map(|d| d.len as u32).collect();
    let texts: TextsOf<'_> = (&base, &sizes);
    let mut protected: Vec<Vec<Range<usize>>> = vec![Vec::new(); n];
    let pieces = round_pieces(
        corpus,
        texts,
        report,
        opts,
        &mut plan.drop_doc,
        &mut protected,
    )?;
    let in_blocks = in_block_clusters(report, n);
    let identity = |_, r| vec![r];
    add_pieces(
        corpus, texts, &mut plan, &protected, pieces, identity, 1, opts,
    )?;
    let mut last_id = report.clusters.iter().map(|c| c.id).max().unwrap_or(0);
    for round in 2..=MAX_ROUNDS {
        run.check()?;
        // The text the cuts so far leave, made from the inputs when a batch
        // needs it. Only documents with block copies can hold a leftover
        // repeat; the others, and dropped ones, are empty.
        let cuts_before = plan.cuts.clone();
        let view_sizes = sizes_after_cuts(&in_blocks, &plan.drop_doc, &cuts_before, &sizes);
        let make = |corpus: &Corpus, docs: &[u32]| -> Result<Vec<String>> {
            texts_after_cuts(&base, corpus, docs, &view_sizes, &cuts_before)
        };
        let view = Texts::Made(&make);
        let mut so = opts.scan.clone();
        so.level = Level::Block;
        let mut rep = pipeline::scan_blocks_of(corpus, &view, &view_sizes, &so, run.budget)?;
        if rep.clusters.is_empty() {
            break;
        }
        last_id = number_after(&mut rep, last_id);
        let mut no_drop = vec![false; n];
        let mut prot_view: Vec<Vec<Range<usize>>> = vec![Vec::new(); n];
        let pieces = round_pieces(
            corpus,
            (&view, &view_sizes),
            &rep,
            opts,
            &mut no_drop,
            &mut prot_view,
        )?;
        let cut_maps: Vec<CutMap<'_>> = cuts_before.iter().map(|c| CutMap::new(c)).collect();
        let map = |d: usize, r: Range<usize>| view_to_orig(&cut_maps[d], r);
        protect_mapped(&mut protected, prot_view, map);
        let before = plan.removals.len();
        add_pieces(
            corpus, texts, &mut plan, &protected, pieces, map, round, opts,
        )?;
        if plan.removals.len() == before {
            break;
        }
    }
    Ok(plan)
}

/// Which of `n` documents hold a copy of a block cluster of `report`.
fn in_block_clusters(report: &Report, n: usize) -> Vec<bool> {
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
    in_blocks
}

/// The bytes each document keeps after its `cuts` (of its `sizes`): 0 for
/// one not `in_blocks` or dropped, whose text a later round skips.
fn sizes_after_cuts(
    in_blocks: &[bool],
    drop_doc: &[bool],
    cuts: &[Vec<Range<usize>>],
    sizes: &[u32],
) -> Vec<u32> {
    (0..sizes.len())
        .map(|d| {
            if !in_blocks[d] || drop_doc[d] {
                return 0;
            }
            let cut: usize = cuts[d].iter().map(|r| r.len()).sum();
            sizes[d] - cut as u32
        })
        .collect()
}

/// The texts of `docs` as their `cuts` leave them, read from `base`; empty
/// for a document of view size 0 ([`sizes_after_cuts`]), which is not read.
fn texts_after_cuts(
    base: &Texts<'_>,
    corpus: &Corpus,
    docs: &[u32],
    view_sizes: &[u32],
    cuts: &[Vec<Range<usize>>],
) -> Result<Vec<String>> {
    let wanted: Vec<u32> = docs
        .iter()
        .copied()
        .filter(|&d| view_sizes[d as usize] > 0)
        .collect();
    let mut made = base.load(corpus, &wanted)?.into_iter();
    Ok(docs
        .iter()
        .map(|&d| match view_sizes[d as usize] {
            0 => String::new(),
            _ => {
                let text = made.next().unwrap_or_default();
                apply_cuts(&text, &cuts[d as usize])
            }
        })
        .collect())
}

/// Numbers the clusters of a later round's `rep` after every earlier
/// round's (the last id `last_id`), so that an id in the log names one
/// cluster (round 1's are the report's); gives the new last id.
fn number_after(rep: &mut Report, last_id: usize) -> usize {
    for c in &mut rep.clusters {
        c.id += last_id;
    }
    rep.clusters.iter().map(|c| c.id).max().unwrap_or(last_id)
}

/// Adds to `protected` (by document, in source bytes) the ranges of
/// `prot_view` (in the text the cuts leave), mapped back by `map`.
fn protect_mapped(
    protected: &mut [Vec<Range<usize>>],
    prot_view: Vec<Vec<Range<usize>>>,
    map: impl Fn(usize, Range<usize>) -> Vec<Range<usize>>,
) {
    for (d, ranges) in prot_view.into_iter().enumerate() {
        if ranges.is_empty() {
            continue;
        }
        let mut p = std::mem::take(&mut protected[d]);
        p.extend(ranges.into_iter().flat_map(|r| map(d, r)));
        protected[d] = merge_ranges(p);
    }
}

/// Where a step of planning gets its texts: held or made a slice at a
/// time, and each document's bytes (to size the slices).
type TextsOf<'a> = (&'a Texts<'a>, &'a [u32]);

/// Calls `f` on consecutive slices of `items`, each with the texts of the
/// documents its items need (`docs_of`), about [`PLAN_TEXT_BUDGET`] bytes
/// of them at a time (at least one item a slice).
fn in_slices<T, F>(
    corpus: &Corpus,
    (texts, sizes): TextsOf<'_>,
    items: &[T],
    docs_of: impl Fn(&T) -> [Option<usize>; 2],
    mut f: F,
) -> Result<()>
where
    F: FnMut(&[T], &SliceTexts<'_>) -> Result<()>,
{
    let mut start = 0;
    while start < items.len() {
        let (mut end, mut bytes) = (start, 0usize);
        // each document counted once, and items whose documents are all
        // in the slice already join it: one large document holding many
        // copies is read and normalised once, not once per copy
        let mut held = std::collections::HashSet::new();
        while end < items.len() {
            let docs = docs_of(&items[end]);
            let adds = docs.iter().flatten().any(|d| !held.contains(d));
            if end > start && adds && bytes >= PLAN_TEXT_BUDGET {
                break;
            }
            for &d in docs.iter().flatten() {
                if held.insert(d) {
                    bytes += sizes[d] as usize;
                }
            }
            end += 1;
        }
        let slice = &items[start..end];
        let mut docs: Vec<u32> = slice
            .iter()
            .flat_map(|x| docs_of(x).into_iter().flatten().map(|d| d as u32))
            .collect();
        docs.sort_unstable();
        docs.dedup();
        let loaded = texts.load(corpus, &docs)?;
        f(slice, &SliceTexts { docs, loaded })?;
        start = end;
    }
    Ok(())
}

/// The texts of one slice of [`in_slices`].
struct SliceTexts<'c> {
    docs: Vec<u32>,
    loaded: Vec<std::borrow::Cow<'c, str>>,
}

impl SliceTexts<'_> {
    fn get(&self, d: usize) -> &str {
        let i = self.docs.binary_search(&(d as u32)).unwrap_or(0);
        &self.loaded[i]
    }
}

/// The cuts of a document (sorted, disjoint) with, for each, the bytes
/// the cuts before it removed: [`view_to_orig`] finds where a range of the
/// text they leave starts without walking every cut (a large document
/// holds thousands).
pub(super) struct CutMap<'c> {
    cuts: &'c [Range<usize>],
    before: Vec<usize>,
}

impl<'c> CutMap<'c> {
    pub(super) fn new(cuts: &'c [Range<usize>]) -> Self {
        let before = cuts
            .iter()
            .scan(0, |sum, c| {
                let b = *sum;
                *sum += c.len();
                Some(b)
            })
            .collect();
        CutMap { cuts, before }
    }
}

/// Maps a range of the text left after `cuts` back to the original text
/// (one range per uncut stretch it spans).
pub(super) fn view_to_orig(cuts: &CutMap<'_>, r: Range<usize>) -> Vec<Range<usize>> {
    let CutMap { cuts, before } = cuts;
    let mut out = Vec::new();
    // the stretches that end before `r` starts (in the text left) are
    // skipped; stretch `i` ends where cut `i` starts
    let first = {
        let (mut lo, mut hi) = (0, cuts.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cuts[mid].start - before[mid] <= r.start {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let orig = if first == 0 { 0 } else { cuts[first - 1].end };
    let removed = before
        .get(first)
        .copied()
        .unwrap_or_else(|| cuts.last().map_or(0, |c| before[cuts.len() - 1] + c.len()));
    let mut view = orig - removed;
    let ends = cuts[first..].iter().map(|c| c.start).chain([usize::MAX]);
    let starts = std::iter::once(orig).chain(cuts[first..].iter().map(|c| c.end));
    for seg in starts.zip(ends).map(|(s, e)| s..e) {
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
fn round_pieces(
    corpus: &Corpus,
    texts: TextsOf<'_>,
    report: &Report,
    opts: &CleanOptions,
    drop_doc: &mut [bool],
    protected: &mut [Vec<Range<usize>>],
) -> Result<Vec<Piece>> {
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
                fields: false,
                places: Some(Box::new((m.place.clone(), k.place.clone()))),
            });
        }
    }
    let dropped = |c: &Cluster| c.boilerplate && opts.drop_boilerplate;
    // Copies of boilerplate that go are protected nowhere, not even inside
    // the kept copy of another block (a section that runs into a footer, a
    // body two pages share that runs through their navigation bar): every
    // copy with `--drop-boilerplate`, else all but the kept one, which
    // stays whole. Their text stays in that kept copy.
    let mut holes: Vec<Vec<Range<usize>>> = vec![Vec::new(); protected.len()];
    let boilerplate = report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block && c.boilerplate);
    for c in boilerplate {
        for (i, m) in c.members.iter().enumerate() {
            if i != c.keep || dropped(c) {
                holes[m.doc_index].push(m.text_range.clone());
            }
        }
    }
    // merged, as `subtract` wants them
    for h in holes.iter_mut().filter(|h| h.len() > 1) {
        *h = merge_ranges(std::mem::take(h));
    }
    for c in report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block && !dropped(c))
    {
        let k = &c.members[c.keep];
        if c.boilerplate {
            protected[k.doc_index].push(k.text_range.clone());
            continue;
        }
        protected[k.doc_index].extend(subtract(k.text_range.clone(), &holes[k.doc_index]));
    }
    // merged, as `subtract` wants its holes
    for p in protected.iter_mut().filter(|p| p.len() > 1) {
        *p = merge_ranges(std::mem::take(p));
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
    // Documents holding a copy are read and normalised (with their byte
    // maps, about 10 bytes a character) for a slice of the jobs at a time,
    // each once a slice, not once per copy.
    let mut blocks: Vec<Vec<Piece>> = Vec::with_capacity(jobs.len());
    let keep_doc = |c: &Cluster| c.members[c.keep].doc_index;
    let docs_of = |&(c, m): &(&Cluster, &Member)| [Some(keep_doc(c)), Some(m.doc_index)];
    in_slices(corpus, texts, &jobs, docs_of, |slice, held| {
        let docs: Vec<usize> = held.docs.iter().map(|&d| d as usize).collect();
        let norms: Vec<NormText> = docs
            .par_iter()
            .map(|&d| normalize(held.get(d), &opts.scan.normalize))
            .collect();
        let norm_of = |d: usize| &norms[docs.binary_search(&d).unwrap_or(0)];
        blocks.par_extend(slice.par_iter().map(|&(c, m)| {
            let kept = (held.get(keep_doc(c)), norm_of(keep_doc(c)));
            let copy = (held.get(m.doc_index), norm_of(m.doc_index));
            block_pieces(c, m, kept, copy, opts)
        }));
        Ok(())
    })?;
    pieces.extend(blocks.into_iter().flatten());
    Ok(pieces)
}

/// Turns pieces into cuts and log lines, in original coordinates: mapped
/// with `map`, minus protected (kept) text and what is already cut.
///
/// What a block piece finally removes can be less than the piece (kept or
/// already cut text taken out of it), so its containment is measured again
/// on exactly that text against the kept copy's text, both from the input,
/// as `verify` will measure it; a remainder below the threshold stays.
#[allow(clippy::too_many_arguments)]
fn add_pieces<F>(
    corpus: &Corpus,
    texts: TextsOf<'_>,
    plan: &mut Plan,
    protected: &[Vec<Range<usize>>],
    pieces: Vec<Piece>,
    map: F,
    round: usize,
    opts: &CleanOptions,
) -> Result<()>
where
    F: Fn(usize, Range<usize>) -> Vec<Range<usize>>,
{
    // Whole documents of round 1 carry their places: they need no text.
    let docs_of = |p: &Piece| match p.places {
        Some(_) => [None, None],
        None => [Some(p.doc), Some(p.kept_doc)],
    };
    in_slices(corpus, texts, &pieces, docs_of, |slice, held| {
        // the kept copies of a slice, normalised once
        let mut cache = SliceCache::default();
        for p in slice {
            add_piece(
                corpus, plan, protected, p, &map, round, opts, held, &mut cache,
            );
        }
        Ok(())
    })
}

/// One piece of [`add_pieces`]: mapped, less protected and cut text,
/// measured again, then a cut and a log line.
#[allow(clippy::too_many_arguments)]
fn add_piece<F>(
    corpus: &Corpus,
    plan: &mut Plan,
    protected: &[Vec<Range<usize>>],
    p: &Piece,
    map: &F,
    round: usize,
    opts: &CleanOptions,
    held: &SliceTexts<'_>,
    cache: &mut SliceCache,
) where
    F: Fn(usize, Range<usize>) -> Vec<Range<usize>>,
{
    let hull =
        |v: &[Range<usize>]| -> Option<Range<usize>> { Some(v.first()?.start..v.last()?.end) };
    let Some(kept) = hull(&map(p.kept_doc, p.kept_range.clone())) else {
        return;
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
        return;
    };
    let (mut similarity, mut containment) = (p.similarity, p.containment);
    if p.reason != Reason::Document {
        let text = held.get(p.doc);
        let kept_text = (p.kept_doc, held.get(p.kept_doc), &kept);
        let (c, s) = cache.measure(text, &ranges, kept_text, p.fields, opts);
        if c + 1e-9 < opts.scan.blocks.threshold {
            return;
        }
        containment = round4(c);
        similarity = round4(s);
    }
    let bytes_removed = ranges.iter().map(|r| r.len() as u64).sum();
    let spans = if ranges.len() > 1 {
        let text = held.get(p.doc);
        ranges
            .iter()
            .map(|r| byte_span(corpus, p.doc, text, r))
            .collect()
    } else {
        Vec::new()
    };
    if p.reason != Reason::Document {
        add_cuts(&mut plan.cuts[p.doc], ranges);
    }
    let (removed, kept) = match &p.places {
        Some(places) => places.as_ref().clone(),
        None => (
            cache.place(corpus, p.doc, held.get(p.doc), &removed),
            cache.place(corpus, p.kept_doc, held.get(p.kept_doc), &kept),
        ),
    };
    plan.removals.push(Removal {
        reason: p.reason,
        cluster: p.cluster,
        round,
        removed,
        spans,
        kept,
        similarity,
        containment,
        bytes_removed,
        units: ByteUnits::of(corpus, p.doc, p.kept_doc),
        reference: corpus.is_reference(p.kept_doc),
        numbers_as_fields: p.fields,
    });
}

/// What a slice of [`add_pieces`] computes once: kept copies normalised
/// (numbers folded for boilerplate), by (document, range, folded), as one
/// kept copy serves every removal of its
/// cluster; and the line index of a large document, whose places would
/// else count lines from its start for each of its (many) copies.
#[derive(Default)]
struct SliceCache {
    norms: std::collections::HashMap<(usize, usize, usize, bool), Vec<char>>,
    lines: std::collections::HashMap<usize, crate::corpus::LineIndex>,
}

impl SliceCache {
    /// The place of `range` of document `doc`, whose text is `text`.
    fn place(&mut self, corpus: &Corpus, doc: usize, text: &str, range: &Range<usize>) -> Place {
        if text.len() < 1 << 20 {
            return Place::in_text(corpus, doc, text, range);
        }
        let ix = self
            .lines
            .entry(doc)
            .or_insert_with(|| crate::corpus::LineIndex::new(text));
        Place::in_indexed_text(corpus, doc, text, range, Some(ix))
    }

    /// Containment (`LCS / removed`, as [`align::containment`], which
    /// `verify` uses) and similarity (`LCS / longer`) of the `removed`
    /// ranges of a document's text against the `kept` range of another's.
    /// `ranges` are of `text`; `kept` is document, its text and the range;
    /// with `fields`, numbers are fields ([`align::fold_digits`]).
    fn measure(
        &mut self,
        text: &str,
        ranges: &[Range<usize>],
        kept: (usize, &str, &Range<usize>),
        fields: bool,
        opts: &CleanOptions,
    ) -> (f64, f64) {
        let (kept_doc, kept_text, kept) = kept;
        let cut_text: String = ranges.iter().map(|r| &text[r.clone()]).collect();
        let a = normalize(&cut_text, &opts.scan.normalize).chars;
        // the kept copy normalised (and folded) once a slice
        let b = self
            .norms
            .entry((kept_doc, kept.start, kept.end, fields))
            .or_insert_with(|| {
                let units = normalize(&kept_text[kept.clone()], &opts.scan.normalize).chars;
                as_compared(&units, fields).into_owned()
            });
        let lcs = align::lcs_len(&as_compared(&a, fields), b);
        let containment = if a.is_empty() {
            1.0
        } else {
            lcs as f64 / a.len() as f64
        };
        (containment, lcs as f64 / a.len().max(b.len()).max(1) as f64)
    }
}

/// `units` as a block copy is compared with its kept copy: with numbers as
/// fields (any digit matching any digit, [`align::fold_digits`]) when
/// `fields`, as in boilerplate, else as they are.
fn as_compared(units: &[char], fields: bool) -> std::borrow::Cow<'_, [char]> {
    if fields {
        std::borrow::Cow::Owned(align::fold_digits(units))
    } else {
        std::borrow::Cow::Borrowed(units)
    }
}

/// The longest unmatched stretch inside a part of a boilerplate copy cut
/// apart from the rest, when the copy as a whole is too little contained
/// in the kept copy to go ([`block_pieces`]).
const FINE_UNMATCHED: usize = 8;

/// The parts of one non-kept block copy that may be cut; `kept` and
/// `copy` are the texts and normalised texts of the kept copy's and this
/// copy's documents. Cuts never leave broken text ([`clean_cut`]).
fn block_pieces(
    c: &Cluster,
    m: &Member,
    (kdoc, knorm): (&str, &NormText),
    (mdoc, mnorm): (&str, &NormText),
    opts: &CleanOptions,
) -> Vec<Piece> {
    let k = &c.members[c.keep];
    // Copies of boilerplate are compared as they were found: numbers are
    // fields (a footer's phone and licence numbers vary from page to page;
    // exactly, its copies share too little to be cut, line by line).
    let fields = c.boilerplate;
    let kchars = &*as_compared(&knorm.chars[k.norm_range.clone()], fields);
    let mchars = &*as_compared(&mnorm.chars[m.norm_range.clone()], fields);
    // A removal widened to whole sentences is measured against the kept
    // copy's whole sentences too: the copies' edges are where they differ
    // (a year, a name), and the alignment stops short of them on both sides.
    let kept_range = widen_to_sentences(kdoc, k.text_range.clone());
    let kept_units = normalize(&kdoc[kept_range.clone()], &opts.scan.normalize).chars;
    let kept_units = as_compared(&kept_units, fields);
    let piece_at = |r: Range<usize>| -> Option<Piece> {
        if crate::normalize::weight(&mchars[r.clone()]) < MIN_PIECE {
            return None;
        }
        let piece = &mchars[r.clone()];
        let lcs = align::lcs_len(piece, kchars);
        let containment = lcs as f64 / piece.len() as f64;
        if containment < opts.scan.blocks.threshold {
            return None;
        }
        let (s, e) = (m.norm_range.start + r.start, m.norm_range.start + r.end);
        let raw = mnorm.source_range(mdoc, s, e);
        let cut = clean_cut(mdoc, raw.clone(), |r| {
            let cut = normalize(&mdoc[r], &opts.scan.normalize).chars;
            let cut = as_compared(&cut, fields);
            let lcs = align::lcs_len(&cut, &kept_units);
            lcs as f64 >= opts.scan.blocks.threshold * cut.len() as f64
        });
        // Boilerplate that is whole lines goes as those lines, though the
        // line above ends as wrapped prose does (`…能，⏎首页 | 新闻中心…`):
        // a navigation bar is no part of the sentence before it.
        let range = match cut {
            None if fields && whole_lines(mdoc, &raw) => snap_to_lines(mdoc, raw),
            cut => cut?,
        };
        Some(Piece {
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
            fields,
            places: None,
        })
    };
    let mut out = Vec::new();
    for r in align::covered_ranges(mchars, kchars, MAX_UNMATCHED) {
        if let Some(p) = piece_at(r.clone()) {
            out.push(p);
        } else if fields {
            // A copy of boilerplate run into a line of its page's own (a
            // `上一篇…下一篇…` line above a share line) is too little
            // contained to go whole: its parts apart from short unmatched
            // stretches may still go, each held to the same bar.
            let fine = align::covered_ranges(&mchars[r.clone()], kchars, FINE_UNMATCHED);
            out.extend(
                fine.into_iter()
                    .filter(|f| f.len() < r.len())
                    .filter_map(|f| piece_at(r.start + f.start..r.start + f.end)),
            );
        }
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
    // Read backwards from `p` only as far as the item goes, not to the
    // line's start: a one-line document has many sentence ends to test.
    let rest = text[..p].trim_end_matches('.');
    let head = rest.trim_end_matches(|c: char| c.is_ascii_digit());
    let digits = rest.len() - head.len();
    let lead = head.trim_end_matches(|c: char| c.is_whitespace() && c != '\n');
    (1..=3).contains(&digits) && (lead.is_empty() || lead.ends_with('\n'))
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

/// Whether only blanks lie between `r` and the edges of the lines it starts
/// and ends in.
fn whole_lines(text: &str, r: &Range<usize>) -> bool {
    let (_, start_ok, end_ok) = line_edges(text, r);
    start_ok && end_ok
}

/// The blanks around `r` taken in (`line_start..line_end`), and whether a
/// line starts and ends there.
fn line_edges(text: &str, r: &Range<usize>) -> (Range<usize>, bool, bool) {
    // Only the blanks next to the cut are read, not its whole line: a
    // document of one long line is cut many times.
    let blank = |c: char| c != '\n' && c.is_whitespace();
    let line_start = text[..r.start].trim_end_matches(blank).len();
    let line_end = text.len() - text[r.end..].trim_start_matches(blank).len();
    let start_ok = line_start == 0 || text.as_bytes()[line_start - 1] == b'\n';
    let end_ok = line_end == text.len() || text.as_bytes()[line_end] == b'\n';
    (line_start..line_end, start_ok, end_ok)
}

/// Widens a cut to whole lines when only whitespace lies between it and the
/// line's ends, taking the line break along when whole lines go.
pub fn snap_to_lines(text: &str, r: Range<usize>) -> Range<usize> {
    match line_edges(text, &r) {
        // whole lines: take the indentation and the line break too
        (lines, true, true) => lines.start..(lines.end + 1).min(text.len()),
        // the rest of a line: take its trailing spaces
        (lines, false, true) => r.start..lines.end,
        _ => r,
    }
}

/// `r` minus the `holes` (sorted and disjoint, as [`merge_ranges`] leaves
/// them): only the holes that meet `r` are looked at.
pub(super) fn subtract(r: Range<usize>, holes: &[Range<usize>]) -> Vec<Range<usize>> {
    debug_assert!(holes.windows(2).all(|w| w[0].end <= w[1].start));
    let first = holes.partition_point(|h| h.end <= r.start);
    let mut meeting = holes[first..].iter().take_while(|h| h.start < r.end);
    if r.is_empty() {
        // an empty range goes only inside a hole
        let inside = meeting.any(|h| h.start < r.start);
        return if inside { Vec::new() } else { vec![r] };
    }
    let mut parts = Vec::new();
    let mut from = r.start;
    for h in meeting {
        if from < h.start {
            parts.push(from..h.start);
        }
        from = from.max(h.end);
    }
    if from < r.end {
        parts.push(from..r.end);
    }
    parts
}

/// Adds `new` (sorted, disjoint, and outside `cuts`) to `cuts` (sorted,
/// merged): as [`merge_ranges`] of both, merging only around `new`.
fn add_cuts(cuts: &mut Vec<Range<usize>>, new: Vec<Range<usize>>) {
    let (Some(first), Some(last)) = (new.first(), new.last()) else {
        return;
    };
    // the cuts that meet or touch the new ones' hull
    let lo = cuts.partition_point(|c| c.end < first.start);
    let hi = cuts.partition_point(|c| c.start <= last.end);
    let mut around: Vec<Range<usize>> = cuts[lo..hi.max(lo)].to_vec();
    around.extend(new);
    cuts.splice(lo..hi.max(lo), merge_ranges(around));
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
    // Cuts sorted, apart and inside the text: every byte read is then
    // either kept or removed, once (texts need not be held for this).
    for (d, doc) in corpus.docs.iter().enumerate() {
        let cuts = &plan.cuts[d];
        let apart = cuts.windows(2).all(|w| w[0].end <= w[1].start);
        let inside = cuts.iter().all(|r| r.start < r.end && r.end <= doc.len);
        if !(apart && inside) {
            return Err(Error::Verify {
                path: doc.id.clone(),
                reason: format!(
                    "cuts {cuts:?} are not apart and inside the {} bytes read",
                    doc.len
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

// ---- the plan as a stage file (`plan.bin`, see [`crate::stage`]) --------

use crate::stage::{decode_place, encode_place, Decoder, Encoder};

const REASONS: [Reason; 3] = [Reason::Document, Reason::Block, Reason::Boilerplate];

/// Writes a checked plan: per document whether it is dropped and its cuts,
/// then the removal log's lines, every field (floats to the bit, so a
/// resumed run writes the same log).
pub(crate) fn encode_plan(e: &mut Encoder, plan: &Plan) -> std::io::Result<()> {
    e.len(plan.drop_doc.len())?;
    for (drop, cuts) in plan.drop_doc.iter().zip(&plan.cuts) {
        e.bool(*drop)?;
        e.len(cuts.len())?;
        for r in cuts {
            e.len(r.start)?;
            e.len(r.end)?;
        }
    }
    e.len(plan.removals.len())?;
    for r in &plan.removals {
        e.u8(REASONS.iter().position(|x| *x == r.reason).unwrap_or(0) as u8)?;
        e.len(r.cluster)?;
        e.len(r.round)?;
        encode_place(e, &r.removed)?;
        e.len(r.spans.len())?;
        for s in &r.spans {
            e.u64(s[0])?;
            e.u64(s[1])?;
        }
        encode_place(e, &r.kept)?;
        e.f64(r.similarity)?;
        e.f64(r.containment)?;
        e.u64(r.bytes_removed)?;
        for u in [&r.units.removed, &r.units.kept, &r.units.bytes_removed] {
            e.str(u)?;
        }
        e.bool(r.reference)?;
        e.bool(r.numbers_as_fields)?;
    }
    Ok(())
}

/// Reads back what [`encode_plan`] wrote, for a corpus of `docs` documents.
pub(crate) fn decode_plan(d: &mut Decoder, docs: usize) -> Result<Plan> {
    if d.len(9)? != docs {
        return Err(d.corrupt("plan of other documents"));
    }
    let mut plan = Plan {
        drop_doc: Vec::with_capacity(docs),
        cuts: Vec::with_capacity(docs),
        removals: Vec::new(),
    };
    for _ in 0..docs {
        plan.drop_doc.push(d.bool()?);
        let n = d.len(16)?;
        let cuts = (0..n)
            .map(|_| Ok(d.u64()? as usize..d.u64()? as usize))
            .collect::<Result<Vec<_>>>()?;
        plan.cuts.push(cuts);
    }
    let n = d.len(100)?;
    plan.removals.reserve_exact(n);
    for _ in 0..n {
        let reason = *REASONS
            .get(d.u8()? as usize)
            .ok_or_else(|| d.corrupt("bad reason"))?;
        let cluster = d.u64()? as usize;
        let round = d.u64()? as usize;
        let removed = decode_place(d)?;
        let k = d.len(16)?;
        let spans = (0..k)
            .map(|_| Ok([d.u64()?, d.u64()?]))
            .collect::<Result<Vec<_>>>()?;
        let kept = decode_place(d)?;
        let similarity = d.f64()?;
        let containment = d.f64()?;
        let bytes_removed = d.u64()?;
        let units = ByteUnits {
            removed: d.str()?,
            kept: d.str()?,
            bytes_removed: d.str()?,
        };
        let reference = d.bool()?;
        let numbers_as_fields = d.bool()?;
        plan.removals.push(Removal {
            reason,
            cluster,
            round,
            removed,
            spans,
            kept,
            similarity,
            containment,
            bytes_removed,
            units,
            reference,
            numbers_as_fields,
        });
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stage::{Params, Stages};

    /// Sorted, merged ranges in `0..64` from the bits of `seed`.
    fn ranges_of(seed: u64) -> Vec<Range<usize>> {
        let bytes: Vec<usize> = (0..64).filter(|&i| seed >> i & 1 == 1).collect();
        merge_ranges(bytes.into_iter().map(|i| i..i + 1).collect())
    }

    /// Maximal runs of consecutive numbers.
    fn runs(v: impl IntoIterator<Item = usize>) -> Vec<Range<usize>> {
        let mut out: Vec<Range<usize>> = Vec::new();
        for i in v {
            match out.last_mut() {
                Some(last) if last.end == i => last.end += 1,
                _ => out.push(i..i + 1),
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn cut_ranges_are_found_without_walking_every_cut(
            seed in proptest::num::u64::ANY,
            other in proptest::num::u64::ANY,
            a in 0usize..70,
            b in 0usize..70,
        ) {
            let cuts = ranges_of(seed);
            let cut = |i: &usize| cuts.iter().any(|c| c.contains(i));
            let r = a.min(b)..a.max(b) + 1;
            // subtract: the bytes of `r` in no hole
            let want = runs(r.clone().filter(|i| !cut(i)));
            proptest::prop_assert_eq!(subtract(r.clone(), &cuts), want);
            // view_to_orig: the bytes the cuts leave, numbered again
            let left: Vec<usize> = (0..200).filter(|i| !cut(i)).collect();
            let want = runs(r.clone().map(|v| left[v]));
            proptest::prop_assert_eq!(view_to_orig(&CutMap::new(&cuts), r), want);
            // add_cuts: the bytes of either, merged
            let new = subtract(0..64, &cuts)
                .into_iter()
                .flat_map(|g| subtract(g, &ranges_of(other)))
                .collect::<Vec<_>>();
            let mut added = cuts.clone();
            add_cuts(&mut added, new.clone());
            let mut both = cuts.clone();
            both.extend(new);
            proptest::prop_assert_eq!(added, merge_ranges(both));
        }
    }

    #[test]
    fn list_numbers_are_found_without_reading_to_the_line_start() {
        // the definition: only digits (1 to 3) and spaces before the dots
        let by_line = |text: &str, p: usize| {
            let line = &text[text[..p].rfind('\n').map_or(0, |i| i + 1)..p];
            let item = line.trim_start().trim_end_matches('.');
            !item.is_empty() && item.len() <= 3 && item.bytes().all(|b| b.is_ascii_digit())
        };
        let text = "1. a\n  12. b\n1234. c\nx 2. d\n\u{3000}3.. e 4. f\n1.2. g\n.";
        for p in (0..=text.len()).filter(|&p| text.is_char_boundary(p)) {
            assert_eq!(list_number_before(text, p), by_line(text, p), "at {p}");
        }
    }

    #[test]
    fn a_plan_comes_back_whole_from_its_stage_file() {
        let texts = crate::testutil::passage_texts();
        let corpus = Corpus::from_texts(&texts);
        let mut opts = options();
        opts.scan.blocks.min_block = 50;
        let report = pipeline::scan(&corpus, &opts.scan, &pipeline::NoProgress).unwrap();
        let plan = plan(&corpus, &report, &opts).unwrap();
        assert!(plan.drop_doc.contains(&true) && plan.cuts.iter().any(|c| !c.is_empty()));

        let dir = tempfile::tempdir().unwrap();
        let params = Params::new();
        Stages::open(dir.path(), false)
            .unwrap()
            .save("plan", &params, &[], |e| encode_plan(e, &plan))
            .unwrap();
        let st = Stages::open(dir.path(), true).unwrap();
        let back = st
            .load("plan", &params, &[], |d| decode_plan(d, corpus.docs.len()))
            .unwrap()
            .unwrap();
        assert_eq!(format!("{back:?}"), format!("{plan:?}"));
        // a plan of another corpus is refused
        let st = Stages::open(dir.path(), true).unwrap();
        let err = st
            .load("plan", &params, &[], |d| decode_plan(d, 2))
            .unwrap_err();
        assert!(err.to_string().contains("plan.bin"), "{err}");
    }

    /// `clean`'s options at their defaults.
    fn options() -> CleanOptions {
        CleanOptions {
            out: "out".into(),
            log: None,
            force: false,
            scan: pipeline::ScanOptions::default(),
            text_field: "text".into(),
            drop_boilerplate: false,
            output_compression: Default::default(),
        }
    }

    /// A member covering all of `text` (document `doc`).
    fn whole(doc: usize, text: &str, opts: &CleanOptions) -> Member {
        Member {
            place: Place {
                doc: format!("d{doc}"),
                path: String::new(),
                record: None,
                lines: [1, 1],
                bytes: [0, text.len() as u64],
            },
            chars: text.chars().count(),
            similarity: 1.0,
            containment: None,
            preview: String::new(),
            diff: None,
            reference: false,
            doc_index: doc,
            text_range: 0..text.len(),
            norm_range: 0..normalize(text, &opts.scan.normalize).chars.len(),
        }
    }

    #[test]
    fn a_boilerplate_line_goes_though_its_copy_ran_into_a_line_the_kept_lacks() {
        let opts = options();
        let share = "分享到：微信 朋友圈 新浪微博 QQ空间 豆瓣 | 扫一扫在手机上打开当前页面，随时随地阅读 | 阅读：";
        let kept = format!("扫描二维码关注本站官方微信，获取更多资讯。\n{share}123次");
        let links = "上一篇：关于开展年度专项检查的通知 下一篇：无\n";
        let copy = format!("{links}{share}4567次");
        let mut c = crate::members::finish_cluster(
            ClusterKind::Block,
            vec![whole(0, &kept, &opts), whole(1, &copy, &opts)],
            0,
            0.8,
            true,
        );
        let norm = |t: &str| normalize(t, &opts.scan.normalize);
        let (kn, cn) = (norm(&kept), norm(&copy));
        let pieces = |c: &Cluster| {
            block_pieces(c, &c.members[1], (&kept, &kn), (&copy, &cn), &opts)
                .into_iter()
                .map(|p| p.range)
                .collect::<Vec<_>>()
        };
        // as a whole, the copy is too little contained in the kept one
        assert!(pieces(&c).is_empty());
        // as boilerplate, its share line goes, and the links stay
        c.boilerplate = true;
        assert_eq!(pieces(&c), vec![links.len()..copy.len()]);
    }
}
