//! CLEAN: corpus + report → a cleaned copy of the corpus and a removal log.
//!
//! Keeps the kept member of every cluster and everything unique:
//! - a duplicate **document** is left out (its file is not written, or its
//!   JSONL line is dropped) when its similarity to the kept document is at
//!   least the threshold;
//! - a duplicate **block** copy is cut out of its document's text. Only the
//!   parts of the copy that align with the kept copy are cut: runs the
//!   kept copy lacks (50 or more characters the alignment cannot match,
//!   such as a paragraph only this copy has) stay, and so does every kept
//!   copy. A cut that covers whole lines takes their line break with it, so
//!   no empty lines pile up where a block was.
//!
//! Output keeps the input's format: a folder stays a folder with the same
//! relative paths, JSONL stays JSONL with every other field as it was (lines
//! without changes are copied byte for byte), the encoding and compression
//! of each file are kept. Inputs are never written.
//!
//! Before anything gets its final name, the plan is checked: for every
//! document, bytes written + bytes removed = bytes read, and every removed
//! span has its kept counterpart at or above the threshold. Files are
//! written into a staging folder inside the output folder and renamed into
//! place at the end, so an interrupted run never leaves a partial file under
//! a final name. A manifest written last ([`manifest`]) records the inputs
//! and options, so that [`verify`] can check the output again later; its
//! absence marks an output that was never finished.
//!
//! A run can be stopped ([`Run::cancel`]): it is polled between detection
//! rounds, between files and before the first rename, and a stopped run
//! removes its staging folder and returns [`Error::Interrupted`].

pub mod manifest;
pub mod verify;

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;
use serde::Serialize;

use crate::align;
use crate::corpus::line_of;
use crate::corpus::{Compression, Corpus, Format, IngestOptions};
use crate::error::{Error, Result};
use crate::normalize::normalize;
use crate::pipeline::{self, Level, NoProgress, ScanOptions};
use crate::report::{Cluster, ClusterKind, Member, Report};

/// Unmatched runs of at least this many characters in a copy are text the
/// kept copy lacks, and are not cut.
pub const MAX_UNMATCHED: usize = 50;

/// Pieces of a copy shorter than this are not cut (no shredding of text).
const MIN_PIECE: usize = 30;

/// Name of the staging folder inside the output folder.
pub const STAGING: &str = ".neardup-staging";

/// Options of `clean`.
#[derive(Debug, Clone)]
pub struct CleanOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Removal log; `OUT/removed.jsonl` when `None`.
    pub log: Option<PathBuf>,
    /// Write into an existing non-empty folder.
    pub force: bool,
    /// The options of the scan whose report is cleaned (used to align
    /// copies again and to rescan the cleaned text).
    pub scan: ScanOptions,
    /// JSONL field holding the text (`--text-field`).
    pub text_field: String,
}

/// Where a corpus came from: the paths as given and how they were read.
/// [`clean_with`] records it in the manifest so that [`verify::verify`] can
/// read the inputs again.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The paths as given: files, folders, `-`.
    pub inputs: Vec<PathBuf>,
    /// How they were read.
    pub ingest: IngestOptions,
}

/// How a running clean is recorded, watched and stopped.
#[derive(Clone, Copy, Default)]
pub struct Run<'a> {
    /// Where the corpus came from, for the manifest. Without it the
    /// manifest lists no inputs, and `verify` cannot check the output.
    pub source: Option<&'a Source>,
    /// Polled between detection rounds, between files and before the first
    /// rename: once it is set (by a signal handler, say), clean removes its
    /// staging folder and returns [`Error::Interrupted`].
    pub cancel: Option<&'a AtomicBool>,
    /// Called after each output file is complete in the staging folder,
    /// with the number of files staged so far.
    pub on_staged: Option<&'a (dyn Fn(usize) + Sync)>,
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("source", &self.source)
            .field("cancel", &self.cancel)
            .field("on_staged", &self.on_staged.map(|_| "Fn"))
            .finish()
    }
}

impl Run<'_> {
    fn check(&self) -> Result<()> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::SeqCst) => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }
}

/// Where a removed or kept span is, in the user's coordinates.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Place {
    /// Document id.
    pub doc: String,
    /// Input file.
    pub path: String,
    /// JSONL line, for JSONL inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// First and last line, 1-based, inclusive.
    pub lines: [u64; 2],
    /// Byte range `[start, end)` (of the file, or of the JSONL text field).
    pub bytes: [u64; 2],
}

/// One line of the removal log.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Removal {
    /// `document` or `block`.
    pub reason: &'static str,
    /// The cluster it belongs to: in the report for round 1, in that
    /// round's rescan of the cleaned text for later rounds.
    pub cluster: usize,
    /// The detection round that found it (see [`MAX_ROUNDS`]).
    pub round: usize,
    /// What was removed: its `bytes` span the removal, which is exactly
    /// those bytes unless `spans` is given.
    pub removed: Place,
    /// The byte ranges removed (as `removed.bytes`), when they are more than
    /// one: kept or earlier-cut text inside the span stays out of them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<[u64; 2]>,
    /// The kept copy it duplicates.
    pub kept: Place,
    /// Similarity of the removed text to the kept copy (`LCS / longer`).
    pub similarity: f64,
    /// Share of the removed text found in the kept copy (`LCS / removed`),
    /// measured on exactly the text removed (the `spans`).
    pub containment: f64,
    /// Bytes removed (of the decoded text).
    pub bytes_removed: u64,
}

/// What a clean did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanSummary {
    /// Files written to the output folder.
    pub files_written: usize,
    /// Documents left out.
    pub documents_removed: usize,
    /// Block copies cut.
    pub blocks_removed: usize,
    /// Bytes of text removed.
    pub bytes_removed: u64,
    /// The removal log's path.
    pub log: PathBuf,
}

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
fn byte_span(corpus: &Corpus, doc: usize, range: &Range<usize>) -> [u64; 2] {
    let d = &corpus.docs[doc];
    let input = corpus.input_of(d);
    [
        input.file_offset(&d.text, range.start),
        input.file_offset(&d.text, range.end),
    ]
}

fn place(corpus: &Corpus, doc: usize, range: &Range<usize>) -> Place {
    let d = &corpus.docs[doc];
    let input = corpus.input_of(d);
    let text = &d.text;
    let (lines, bytes) = match input.format {
        Format::Jsonl => {
            let r = d.record.unwrap_or(0);
            ([r, r], [range.start as u64, range.end as u64])
        }
        Format::Text => (
            [
                line_of(text, range.start),
                line_of(text, range.end.saturating_sub(1).max(range.start)),
            ],
            [
                input.file_offset(text, range.start),
                input.file_offset(text, range.end),
            ],
        ),
    };
    Place {
        doc: d.id.clone(),
        path: input.path.display().to_string(),
        record: d.record,
        lines,
        bytes,
    }
}

/// Rounds of block detection on the cleaned text: the first uses the
/// report; each later one finds what the cuts left repeated (a paragraph
/// that copies B, C and D have but the kept copy A lacks stays in all
/// three after the first round, and goes from C and D in the second).
pub const MAX_ROUNDS: usize = 3;

/// A removal decided in one round, in that round's coordinates.
struct Piece {
    reason: &'static str,
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

fn plan_run(corpus: &Corpus, report: &Report, opts: &CleanOptions, run: &Run) -> Result<Plan> {
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
    for round in 2..=MAX_ROUNDS {
        run.check()?;
        // Only documents with block copies can hold a leftover repeat.
        let view = view_of(corpus, &plan, &in_blocks);
        let mut so = opts.scan.clone();
        so.level = Level::Block;
        let rep = pipeline::scan(&view, &so, &NoProgress)?;
        if rep.clusters.is_empty() {
            break;
        }
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
fn view_of(corpus: &Corpus, plan: &Plan, included: &[bool]) -> Corpus {
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
                    text,
                }
            })
            .collect(),
        skipped: Vec::new(),
    }
}

/// Maps a range of the text left after `cuts` back to the original text
/// (one range per uncut stretch it spans).
fn view_to_orig(cuts: &[Range<usize>], r: Range<usize>) -> Vec<Range<usize>> {
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
fn round_pieces(
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
            if i == c.keep || m.similarity < opts.scan.threshold || drop_doc[m.doc_index] {
                continue;
            }
            drop_doc[m.doc_index] = true;
            pieces.push(Piece {
                reason: "document",
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
    for c in report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block)
    {
        let k = &c.members[c.keep];
        protected[k.doc_index].push(k.text_range.clone());
    }
    let jobs: Vec<(&Cluster, &Member)> = report
        .clusters
        .iter()
        .filter(|c| c.kind == ClusterKind::Block)
        .flat_map(|c| {
            c.members
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i != c.keep)
                .map(move |(_, m)| (c, m))
        })
        .filter(|(_, m)| !drop_doc[m.doc_index])
        .collect();
    let blocks: Vec<Vec<Piece>> = jobs
        .par_iter()
        .map(|&(c, m)| block_pieces(corpus, c, m, opts))
        .collect();
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
fn add_pieces<F>(
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
    let mut kept_norm: std::collections::HashMap<(usize, usize, usize), Vec<char>> =
        std::collections::HashMap::new();
    for p in pieces {
        let hull =
            |v: &[Range<usize>]| -> Option<Range<usize>> { Some(v.first()?.start..v.last()?.end) };
        let Some(kept) = hull(&map(p.kept_doc, p.kept_range.clone())) else {
            continue;
        };
        let ranges: Vec<Range<usize>> = if p.reason == "document" {
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
        if p.reason == "block" {
            let text = &corpus.docs[p.doc].text;
            let cut_text: String = ranges.iter().map(|r| &text[r.clone()]).collect();
            let a = normalize(&cut_text, &opts.scan.normalize).chars;
            let b = kept_norm
                .entry((p.kept_doc, kept.start, kept.end))
                .or_insert_with(|| {
                    let kt = &corpus.docs[p.kept_doc].text[kept.clone()];
                    normalize(kt, &opts.scan.normalize).chars
                });
            let lcs = align::lcs_len(&a, b);
            // as `align::containment`, which `verify` uses
            let c = if a.is_empty() {
                1.0
            } else {
                lcs as f64 / a.len() as f64
            };
            if c + 1e-9 < opts.scan.blocks.threshold {
                continue;
            }
            containment = round4(c);
            similarity = round4(lcs as f64 / a.len().max(b.len()).max(1) as f64);
        }
        let bytes_removed = ranges.iter().map(|r| r.len() as u64).sum();
        let spans = if ranges.len() > 1 {
            ranges.iter().map(|r| byte_span(corpus, p.doc, r)).collect()
        } else {
            Vec::new()
        };
        if p.reason == "block" {
            let mut cuts = std::mem::take(&mut plan.cuts[p.doc]);
            cuts.extend(ranges);
            plan.cuts[p.doc] = merge_ranges(cuts);
        }
        plan.removals.push(Removal {
            reason: p.reason,
            cluster: p.cluster,
            round,
            removed: place(corpus, p.doc, &removed),
            spans,
            kept: place(corpus, p.kept_doc, &kept),
            similarity,
            containment,
            bytes_removed,
        });
    }
}

/// The parts of one non-kept block copy that may be cut, snapped to lines.
fn block_pieces(corpus: &Corpus, c: &Cluster, m: &Member, opts: &CleanOptions) -> Vec<Piece> {
    let k = &c.members[c.keep];
    let kdoc = &corpus.docs[k.doc_index].text;
    let mdoc = &corpus.docs[m.doc_index].text;
    let knorm = normalize(kdoc, &opts.scan.normalize);
    let mnorm = normalize(mdoc, &opts.scan.normalize);
    let kchars = &knorm.chars[k.norm_range.clone()];
    let mchars = &mnorm.chars[m.norm_range.clone()];
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
        out.push(Piece {
            reason: "block",
            cluster: c.id,
            doc: m.doc_index,
            range: snap_to_lines(mdoc, raw),
            kept_doc: k.doc_index,
            kept_range: k.text_range.clone(),
            similarity: round4(lcs as f64 / piece.len().max(kchars.len()) as f64),
            containment: round4(containment),
        });
    }
    out
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Widens a cut to whole lines when only whitespace lies between it and the
/// line's ends, taking the line break along when whole lines go.
pub fn snap_to_lines(text: &str, r: Range<usize>) -> Range<usize> {
    let bytes = text.as_bytes();
    let line_start = bytes[..r.start]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let line_end = bytes[r.end..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |p| r.end + p);
    let start_ok = text[line_start..r.start].trim().is_empty();
    let end_ok = text[r.end..line_end].trim().is_empty();
    match (start_ok, end_ok) {
        // whole lines: take the indentation and the line break too
        (true, true) => line_start..(line_end + 1).min(text.len()),
        // the rest of a line: take its trailing spaces
        (false, true) => r.start..line_end,
        _ => r,
    }
}

/// `r` minus the `holes`.
fn subtract(r: Range<usize>, holes: &[Range<usize>]) -> Vec<Range<usize>> {
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

fn merge_ranges(mut v: Vec<Range<usize>>) -> Vec<Range<usize>> {
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
        let limit = if r.reason == "document" {
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

/// Refuses an output folder that is an input, lies inside one, or holds
/// files (unless forced).
///
/// # Errors
///
/// [`Error::Output`].
pub fn check_output(corpus: &Corpus, opts: &CleanOptions) -> Result<()> {
    let out = &opts.out;
    let out_abs = absolute(out);
    for input in &corpus.inputs {
        if input.path == Path::new("-") {
            continue;
        }
        let inside_folder = input
            .root
            .as_ref()
            .is_some_and(|root| out_abs.starts_with(absolute(root)));
        if inside_folder || out_abs == absolute(&input.path) {
            return Err(Error::Output {
                path: out.display().to_string(),
                reason: format!(
                    "output would be inside the input {}",
                    input.root.as_ref().unwrap_or(&input.path).display()
                ),
            });
        }
    }
    let mut rels: Vec<(&Path, &Path)> = corpus
        .inputs
        .iter()
        .map(|i| (i.rel.as_path(), i.path.as_path()))
        .collect();
    rels.sort();
    for w in rels.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Error::Output {
                path: out.join(w[0].0).display().to_string(),
                reason: format!(
                    "inputs {} and {} would both be written here; clean them separately",
                    w[0].1.display(),
                    w[1].1.display()
                ),
            });
        }
    }
    if let Some(i) = corpus
        .inputs
        .iter()
        .find(|i| i.path == Path::new("-") && i.format == Format::Jsonl)
    {
        return Err(Error::Output {
            path: i.path.display().to_string(),
            reason: "clean cannot rewrite JSONL read from standard input; give it as a file".into(),
        });
    }
    if let Ok(entries) = std::fs::read_dir(out) {
        let busy = entries
            .filter_map(|e| e.ok())
            .any(|e| e.file_name() != STAGING);
        if busy && !opts.force {
            return Err(Error::Output {
                path: out.display().to_string(),
                reason: "output folder exists and is not empty (use --force to write into it)"
                    .into(),
            });
        }
    } else if out.exists() {
        return Err(Error::Output {
            path: out.display().to_string(),
            reason: "output exists and is not a folder".into(),
        });
    } else if let Some(blocker) = non_folder_ancestor(out) {
        return Err(Error::Output {
            path: out.display().to_string(),
            reason: format!("cannot create it: {} is not a folder", blocker.display()),
        });
    }
    check_log_and_overwrites(corpus, opts, &out_abs)
}

/// The removal log must be creatable and outside every input, and no file
/// clean writes (outputs, log, manifest) may be an input or another one.
fn check_log_and_overwrites(corpus: &Corpus, opts: &CleanOptions, out_abs: &Path) -> Result<()> {
    let log = log_path(opts);
    let log_abs = absolute(&log);
    let refuse = |path: &Path, reason: String| Error::Output {
        path: path.display().to_string(),
        reason,
    };
    match std::fs::metadata(&log) {
        Ok(meta) if meta.is_dir() => {
            return Err(refuse(
                &log,
                "the removal log would replace a folder".into(),
            ))
        }
        Ok(_) => {}
        Err(_) => {
            if let Some(blocker) = non_folder_ancestor(&log) {
                return Err(refuse(
                    &log,
                    format!(
                        "cannot create the removal log: {} is not a folder",
                        blocker.display()
                    ),
                ));
            }
        }
    }
    // Every file clean gives a final name, and what it is.
    let mut finals: std::collections::HashMap<PathBuf, String> = corpus
        .inputs
        .iter()
        .map(|i| {
            (
                out_abs.join(&i.rel),
                format!("the output of {}", i.path.display()),
            )
        })
        .collect();
    for (path, what) in [
        (out_abs.join(manifest::MANIFEST), "the manifest".to_string()),
        (log_abs.clone(), "the removal log".to_string()),
    ] {
        if let Some(other) = finals.insert(path.clone(), what.clone()) {
            return Err(refuse(
                &path,
                format!("{what} and {other} would both be written here"),
            ));
        }
    }
    for input in &corpus.inputs {
        if input.path == Path::new("-") {
            continue;
        }
        let in_abs = absolute(&input.path);
        if let Some(what) = finals.get(&in_abs) {
            return Err(refuse(
                &input.path,
                format!("{what} would overwrite this input"),
            ));
        }
        if let Some(root) = input
            .root
            .as_ref()
            .filter(|r| log_abs.starts_with(absolute(r)))
        {
            return Err(refuse(
                &log,
                format!(
                    "the removal log would be inside the input {}",
                    root.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The nearest existing ancestor of `p`, when it is not a folder (so `p`
/// cannot be created).
fn non_folder_ancestor(p: &Path) -> Option<PathBuf> {
    let mut cur = p.parent();
    while let Some(dir) = cur.filter(|d| !d.as_os_str().is_empty()) {
        match std::fs::metadata(dir) {
            Ok(meta) if meta.is_dir() => return None,
            Ok(_) => return Some(dir.to_path_buf()),
            Err(_) => cur = dir.parent(),
        }
    }
    None
}

fn absolute(p: &Path) -> PathBuf {
    if let Ok(c) = p.canonicalize() {
        return c;
    }
    // not there yet: canonicalise the nearest existing parent
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(n) => rest.push(n.to_os_string()),
            None => break,
        }
        if !existing.pop() {
            break;
        }
    }
    let mut base = if existing.as_os_str().is_empty() {
        std::env::current_dir().unwrap_or_default()
    } else {
        existing.canonicalize().unwrap_or(existing)
    };
    for n in rest.into_iter().rev() {
        base.push(n);
    }
    base
}

/// Plans, checks and writes the cleaned corpus, its log and its manifest,
/// with no source recorded and no way to stop it (see [`clean_with`]).
///
/// # Errors
///
/// As [`clean_with`].
pub fn clean(corpus: &Corpus, report: &Report, opts: &CleanOptions) -> Result<CleanSummary> {
    clean_with(corpus, report, opts, &Run::default())
}

/// Plans, checks and writes the cleaned corpus, its log and its manifest.
///
/// # Errors
///
/// An unsafe output ([`Error::Output`]), a failed no-loss check
/// ([`Error::Verify`]), an input that changed since it was read, a write
/// that failed (disk full), or [`Error::Interrupted`] once `run.cancel` is
/// set; in each case no file has been given its final name and the staging
/// folder is gone.
pub fn clean_with(
    corpus: &Corpus,
    report: &Report,
    opts: &CleanOptions,
    run: &Run,
) -> Result<CleanSummary> {
    check_output(corpus, opts)?;
    run.check()?;
    let plan = plan_run(corpus, report, opts, run)?;
    check_plan(corpus, &plan, opts)?;
    run.check()?;
    let out_existed = opts.out.exists();
    let staging = opts.out.join(STAGING);
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
    }
    std::fs::create_dir_all(&staging).map_err(|e| Error::io(&opts.out, e))?;
    let log = LogTarget::new(opts, &staging);
    let result = write_all(corpus, &plan, opts, run, &staging, &log);
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
        if let LogTarget::Staged { tmp, .. } = &log {
            let _ = std::fs::remove_file(tmp);
        }
        if !out_existed {
            // only if still empty: nothing of ours is left in it
            let _ = std::fs::remove_dir(&opts.out);
        }
    }
    result
}

/// The removal log's path.
fn log_path(opts: &CleanOptions) -> PathBuf {
    opts.log
        .clone()
        .unwrap_or_else(|| opts.out.join("removed.jsonl"))
}

/// How the removal log is written.
enum LogTarget {
    /// Written to `tmp` (on the log's file system) and renamed to `fin`.
    Staged { tmp: PathBuf, fin: PathBuf },
    /// A device or pipe (`/dev/stdout`): written to directly, before any
    /// rename, as it cannot be replaced.
    Direct(PathBuf),
}

impl LogTarget {
    fn new(opts: &CleanOptions, staging: &Path) -> LogTarget {
        let fin = log_path(opts);
        if std::fs::metadata(&fin).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
            return LogTarget::Direct(fin);
        }
        let tmp = if absolute(&fin).starts_with(absolute(&opts.out)) {
            staging.join("removed.jsonl")
        } else {
            // A rename cannot cross file systems: stage it beside its place.
            let name = fin
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            fin.with_file_name(format!(".{name}.neardup-tmp"))
        };
        LogTarget::Staged { tmp, fin }
    }

    fn path(&self) -> &Path {
        match self {
            LogTarget::Staged { fin, .. } | LogTarget::Direct(fin) => fin,
        }
    }
}

fn write_all(
    corpus: &Corpus,
    plan: &Plan,
    opts: &CleanOptions,
    run: &Run,
    staging: &Path,
    log: &LogTarget,
) -> Result<CleanSummary> {
    let files_dir = staging.join("files");
    let mut staged: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut files = Vec::with_capacity(corpus.inputs.len());
    for (idx, (input, docs)) in corpus.inputs.iter().zip(docs_by_input(corpus)).enumerate() {
        run.check()?;
        let body: Option<Vec<u8>> = match input.format {
            Format::Text => match docs.first() {
                Some(&d) if !plan.drop_doc[d] => {
                    let text = apply_cuts(&corpus.docs[d].text, &plan.cuts[d]);
                    let mut bytes = Vec::with_capacity(text.len() + input.bom);
                    if input.bom > 0 {
                        bytes.extend_from_slice(bom_bytes(input.encoding.name()));
                    }
                    bytes.extend(input.encoding.encode(&text));
                    Some(bytes)
                }
                _ => None,
            },
            Format::Jsonl => Some(rewrite_jsonl(corpus, plan, idx, &docs, &opts.text_field)?),
        };
        let mut output = None;
        if let Some(body) = body {
            let body = compress(&input.path, body, input.compression)?;
            let (tmp, fin) = (files_dir.join(&input.rel), opts.out.join(&input.rel));
            write_file(&tmp, &body, &fin)?;
            staged.push((tmp, fin));
            output = Some(manifest::RawPath(input.rel.clone()));
            if let Some(on_staged) = run.on_staged {
                on_staged(staged.len());
            }
        }
        let stdin = input.path == Path::new("-");
        files.push(manifest::ManifestFile {
            input: manifest::RawPath(if stdin {
                input.path.clone()
            } else {
                std_absolute(&input.path)
            }),
            name: input.path.display().to_string(),
            output,
            format: match input.format {
                Format::Text => "text",
                Format::Jsonl => "jsonl",
            }
            .into(),
            documents: docs.len(),
            size: if stdin {
                None
            } else {
                Some(
                    std::fs::metadata(&input.path)
                        .map_err(|e| Error::io(&input.path, e))?
                        .len(),
                )
            },
        });
    }

    let files_written = staged.len();
    let mut log_body = Vec::new();
    for r in &plan.removals {
        serde_json::to_writer(&mut log_body, r)
            .map_err(|e| Error::io(log.path(), std::io::Error::other(e)))?;
        log_body.push(b'\n');
    }
    if let LogTarget::Staged { tmp, fin } = log {
        write_file(tmp, &log_body, fin)?;
    }

    let manifest_final = opts.out.join(manifest::MANIFEST);
    let manifest_tmp = staging.join(manifest::MANIFEST);
    let default_ingest = IngestOptions {
        text_field: opts.text_field.clone(),
        ..IngestOptions::default()
    };
    let (inputs, ingest) = match run.source {
        Some(src) => (
            src.inputs
                .iter()
                .map(|p| {
                    manifest::RawPath(if p == Path::new("-") {
                        p.clone()
                    } else {
                        std_absolute(p)
                    })
                })
                .collect(),
            &src.ingest,
        ),
        None => (Vec::new(), &default_ingest),
    };
    let log_abs = std_absolute(log.path());
    let manifest = manifest::Manifest {
        schema: manifest::SCHEMA.into(),
        inputs,
        options: manifest::ManifestOptions::new(ingest, &opts.scan),
        log: manifest::RawPath(
            log_abs
                .strip_prefix(std_absolute(&opts.out))
                .map_or(log_abs.clone(), Path::to_path_buf),
        ),
        files,
    };
    let mut body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| Error::io(&manifest_final, std::io::Error::other(e)))?;
    body.push(b'\n');
    write_file(&manifest_tmp, &body, &manifest_final)?;

    // Last chance to stop with nothing changed.
    run.check()?;
    if let LogTarget::Direct(fin) = log {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(fin)
            .map_err(|e| Error::io(fin, e))?;
        f.write_all(&log_body)
            .and_then(|()| f.flush())
            .map_err(|e| Error::io(fin, e))?;
    }
    // Every file is complete on disk: now give them their final names. An
    // older manifest goes first, so that a run that dies halfway through
    // leaves no manifest and `verify` does not vouch for a mix.
    match std::fs::remove_file(&manifest_final) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(&manifest_final, e))
        }
        _ => {}
    }
    if let LogTarget::Staged { tmp, fin } = log {
        staged.push((tmp.clone(), fin.clone()));
    }
    staged.push((manifest_tmp, manifest_final));
    for (tmp, fin) in &staged {
        if let Some(parent) = fin.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        std::fs::rename(tmp, fin).map_err(|e| Error::io(fin, e))?;
    }
    let _ = std::fs::remove_dir_all(staging);
    let bytes_removed = corpus
        .docs
        .iter()
        .enumerate()
        .map(|(d, doc)| {
            if plan.drop_doc[d] {
                doc.text.len() as u64
            } else {
                plan.cuts[d].iter().map(|r| r.len() as u64).sum()
            }
        })
        .sum();
    Ok(CleanSummary {
        files_written,
        documents_removed: plan.drop_doc.iter().filter(|&&x| x).count(),
        blocks_removed: plan.removals.iter().filter(|r| r.reason == "block").count(),
        bytes_removed,
        log: log.path().to_path_buf(),
    })
}

/// The documents of each input, in order.
pub(crate) fn docs_by_input(corpus: &Corpus) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); corpus.inputs.len()];
    for (d, doc) in corpus.docs.iter().enumerate() {
        out[doc.input].push(d);
    }
    out
}

/// `p` made absolute without resolving links, as the manifest records it.
fn std_absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn bom_bytes(encoding: &str) -> &'static [u8] {
    match encoding {
        "UTF-16LE" => &[0xFF, 0xFE],
        "UTF-16BE" => &[0xFE, 0xFF],
        _ => &[0xEF, 0xBB, 0xBF],
    }
}

/// Re-reads a JSONL input and writes it back without removed records, with
/// cut text fields; untouched lines are copied verbatim.
fn rewrite_jsonl(
    corpus: &Corpus,
    plan: &Plan,
    idx: usize,
    docs: &[usize],
    field: &str,
) -> Result<Vec<u8>> {
    let input = &corpus.inputs[idx];
    let raw = std::fs::read(&input.path).map_err(|e| Error::io(&input.path, e))?;
    let (_, bytes) = crate::corpus::decompress_bytes(&input.path, raw)?;
    let text = crate::corpus::decode_as(&input.path, &bytes, input.encoding)?;
    let mut by_line: Vec<(u64, usize)> = docs
        .iter()
        .map(|&d| (corpus.docs[d].record.unwrap_or(0), d))
        .collect();
    by_line.sort_unstable();
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let lineno = i as u64 + 1;
        let doc = by_line
            .binary_search_by_key(&lineno, |&(l, _)| l)
            .ok()
            .map(|p| by_line[p].1);
        match doc {
            Some(d) if plan.drop_doc[d] => {}
            Some(d) if !plan.cuts[d].is_empty() => {
                let body = line.trim_end_matches(['\n', '\r']);
                let mut value: serde_json::Value =
                    serde_json::from_str(body).map_err(|e| Error::Jsonl {
                        loc: crate::Location::line(&input.path, lineno),
                        reason: format!("changed since it was read: {e}"),
                    })?;
                let new_text = apply_cuts(&corpus.docs[d].text, &plan.cuts[d]);
                if let Some(obj) = value.as_object_mut() {
                    obj.insert(field.to_string(), serde_json::Value::String(new_text));
                }
                out.push_str(&value.to_string());
                out.push('\n');
            }
            _ => out.push_str(line),
        }
    }
    let mut body = Vec::with_capacity(out.len() + input.bom);
    if input.bom > 0 {
        body.extend_from_slice(bom_bytes(input.encoding.name()));
    }
    body.extend(input.encoding.encode(&out));
    Ok(body)
}

fn compress(path: &Path, body: Vec<u8>, c: Compression) -> Result<Vec<u8>> {
    match c {
        Compression::None => Ok(body),
        Compression::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&body).map_err(|e| Error::io(path, e))?;
            enc.finish().map_err(|e| Error::io(path, e))
        }
        Compression::Zstd => Ok(ruzstd::encoding::compress_to_vec(
            &body[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        )),
    }
}

/// Writes a staged file; errors name `shown`, the file's final name (where
/// it was going is what the user knows).
fn write_file(path: &Path, body: &[u8], shown: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(shown, e))?;
    }
    let mut f = std::fs::File::create(path).map_err(|e| Error::io(shown, e))?;
    f.write_all(body).map_err(|e| Error::io(shown, e))?;
    f.sync_all().map_err(|e| Error::io(shown, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_takes_whole_lines_only() {
        let t = "one\n  two three\nfour\n";
        // "two three" (bytes 6..15) is the whole of line 2 but its indent
        assert_eq!(snap_to_lines(t, 6..15), 4..16);
        // a part of a line stays a part
        assert_eq!(snap_to_lines(t, 6..9), 6..9);
        assert_eq!(apply_cuts(t, &[snap_to_lines(t, 6..15)]), "one\nfour\n");
    }

    #[test]
    fn subtract_and_merge() {
        assert_eq!(subtract(0..10, &[3..5, 20..30]), vec![0..3, 5..10]);
        assert_eq!(merge_ranges(vec![5..8, 0..3, 2..6]), vec![0..8]);
    }
}
