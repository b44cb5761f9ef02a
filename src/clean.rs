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
//! With stage files ([`Run::stages`], `--work DIR`), a run killed during
//! the renames is resumed by taking back the files it had renamed
//! ([`reclaim_renamed`]).
//!
//! A run can be stopped ([`Run::cancel`]): it is polled between detection
//! rounds, between files and before the first rename, and a stopped run
//! removes its staging folder and returns [`Error::Interrupted`].

pub mod manifest;
mod output;
mod plan;
pub mod verify;

pub use output::check_output;
use output::{docs_by_input, summary, write_all, writes_output};
pub(crate) use output::{log_lines, LogTarget};
// what the sharded path ([`crate::shard`]) writes with, a shard at a time
pub(crate) use output::{manifest_of, stage_files, written_twice};
use plan::plan_run;
// the sharded path's plan, kept a shard at a time
pub use plan::{apply_cuts, check_plan, plan, snap_to_lines, Plan, MAX_ROUNDS};
pub(crate) use plan::{decode_plan, encode_plan};

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};

use crate::corpus::{Compression, Corpus, Format, IngestOptions, InputFile};
use crate::error::{Error, Result};
use crate::pipeline::{NoProgress, Progress, ScanOptions};
/// Where a removed or kept span is: what the removal log writes and
/// [`verify`] reads back (the report's members flatten the same type).
pub use crate::place::Place;
use crate::report::Report;
use crate::stage::{self, Stage, Stages};

/// Unmatched runs weighing at least this many CJK characters in a copy are
/// text the kept copy lacks, and are not cut (a word weighs ten).
pub const MAX_UNMATCHED: usize = 50;

/// Pieces of a copy lighter than this many CJK characters are not cut (no
/// shredding of text; a word weighs ten, as in `--min-block`).
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
    /// Remove every copy of boilerplate blocks ([`crate::report::Cluster::boilerplate`]),
    /// the kept one too: a footer is never content.
    pub drop_boilerplate: bool,
    /// How the cleaned files are compressed (`--output-compression`).
    pub output_compression: OutputCompression,
}

/// How `clean` compresses the files it writes (`--output-compression`).
/// Parquet outputs stay Parquet whatever the choice (their columns are
/// compressed inside the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputCompression {
    /// Each output as its input was: a `.gz` input gives a `.gz` output.
    #[default]
    Same,
    /// Plain: a compressed input's `.gz`/`.zst` suffix is dropped.
    None,
    /// gzip ([`crate::corpus::GZIP_LEVEL`]): the name ends in `.gz`.
    Gzip,
    /// zstd ([`crate::corpus::ZSTD_LEVEL`]): the name ends in `.zst`.
    Zstd,
}

impl OutputCompression {
    /// The option's value on the command line.
    pub fn name(self) -> &'static str {
        match self {
            OutputCompression::Same => "same",
            OutputCompression::None => "none",
            OutputCompression::Gzip => "gzip",
            OutputCompression::Zstd => "zstd",
        }
    }

    /// How the output of `input` is compressed, and its path below the
    /// output folder: the input's own (`rel`) when its compression is
    /// kept, else with the input's `.gz`/`.zst` suffix taken off and the
    /// new one put on (`a.jsonl.gz` → `a.jsonl`, `a.jsonl.zst`, …).
    pub fn of(self, input: &InputFile) -> (Compression, PathBuf) {
        let parquet = input.format == Format::Parquet;
        self.of_file(&input.rel, input.compression, parquet)
    }

    /// [`OutputCompression::of`] an input below the output folder at
    /// `rel`, compressed as `compression`, Parquet or not.
    pub fn of_file(
        self,
        rel: &Path,
        compression: Compression,
        parquet: bool,
    ) -> (Compression, PathBuf) {
        let to = match self {
            _ if parquet => return (compression, rel.to_path_buf()),
            OutputCompression::Same => compression,
            OutputCompression::None => Compression::None,
            OutputCompression::Gzip => Compression::Gzip,
            OutputCompression::Zstd => Compression::Zstd,
        };
        if to == compression {
            return (to, rel.to_path_buf());
        }
        let suffix = |c| match c {
            Compression::None => "",
            Compression::Gzip => "gz",
            Compression::Zstd => "zst",
        };
        let mut rel = rel.to_path_buf();
        if compression != Compression::None
            && rel
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case(suffix(compression)))
        {
            rel.set_extension("");
        }
        if to != Compression::None {
            let mut name = rel.into_os_string();
            name.push(".");
            name.push(suffix(to));
            rel = PathBuf::from(name);
        }
        (to, rel)
    }
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
    /// Memory and work folder of the later detection rounds' block stage
    /// (unlimited by default).
    pub budget: crate::blocks::Budget<'a>,
    /// The run's stage files (`--work DIR`): each output file complete in
    /// the staging folder gets a marker, and a resumed run keeps the files
    /// that have one instead of writing them again.
    pub stages: Option<&'a Stages>,
    /// The corpus holds no texts (read with [`crate::corpus::TextKept::No`],
    /// as `neardup clean` does): they are read back with these options, a
    /// bounded slice at a time, when a step needs them. `None`: the corpus
    /// holds every text.
    pub reload: Option<&'a IngestOptions>,
    /// Told of clean's stages (`plan`, `save plan`, `write` a unit an
    /// input, `rename` a unit a file), as the scan's are.
    pub progress: Option<&'a dyn Progress>,
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("source", &self.source)
            .field("cancel", &self.cancel)
            .field("on_staged", &self.on_staged.map(|_| "Fn"))
            .field("budget", &self.budget.memory)
            .field("stages", &self.stages.map(Stages::dir))
            .field("reload", &self.reload.is_some())
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl Run<'_> {
    /// Counts a stage file of `bytes` on the work folder's disk use.
    fn record(&self, bytes: u64) {
        if let Some(w) = self.budget.work {
            w.record(bytes);
        }
    }

    fn check(&self) -> Result<()> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::SeqCst) => Err(Error::Interrupted),
            _ => Ok(()),
        }
    }

    fn progress(&self) -> &dyn Progress {
        self.progress.unwrap_or(&NoProgress)
    }

    /// The stage files and the parameters that define the plan: the
    /// scan's and `--drop-boilerplate` (`--text-field` is a scan's).
    fn plan_params(&self, opts: &CleanOptions) -> Option<(&Stages, stage::Params)> {
        Some((self.stages?, plan_params(self.source?, opts)))
    }

    /// The stage files and the parameters that define the output files.
    fn file_params(&self, opts: &CleanOptions) -> Option<(&Stages, stage::Params)> {
        Some((self.stages?, params(self.source?, opts)))
    }

    /// Whether the output file of input `idx`, staged at `tmp`, is complete
    /// from a run that was killed and is resumed with the same options.
    fn reuse_staged(&self, opts: &CleanOptions, idx: usize, tmp: &Path) -> Result<bool> {
        let Some((st, params)) = self.file_params(opts) else {
            return Ok(false);
        };
        let bytes = std::fs::metadata(tmp).ok().map(|m| m.len());
        st.done(&staged_unit(idx), &params, bytes)
    }

    /// Marks the file of stage unit `unit` (an output file, the log),
    /// staged at `tmp`, complete.
    fn staged_file(&self, opts: &CleanOptions, unit: &str, tmp: &Path) -> Result<()> {
        let Some((st, params)) = self.file_params(opts) else {
            return Ok(());
        };
        let bytes = std::fs::metadata(tmp).map_err(|e| Error::io(tmp, e))?.len();
        st.mark(unit, &params, bytes)
    }
}

/// The parameters that define clean's plan: the scan's and
/// `--drop-boilerplate` (`--text-field` is a scan's).
fn plan_params(src: &Source, opts: &CleanOptions) -> stage::Params {
    let mut p = stage::scan_params(Stage::Blocks, &src.inputs, &src.ingest, &opts.scan);
    p.insert(
        "--drop-boilerplate".into(),
        opts.drop_boilerplate.to_string(),
    );
    p
}

/// The effective parameters of a clean of `src` with `opts`: every option
/// that defines its output, by flag name (the plan's, `--output` and
/// `--log`), as its stage markers record them (`neardup params clean`).
pub fn params(src: &Source, opts: &CleanOptions) -> stage::Params {
    let mut p = plan_params(src, opts);
    let log = opts.log.as_ref().map(|l| l.display().to_string());
    p.insert("--output".into(), opts.out.display().to_string());
    p.insert("--log".into(), log.unwrap_or_default());
    // recorded when not the default, so that the markers of earlier runs
    // stay valid
    if opts.output_compression != OutputCompression::Same {
        p.insert(
            "--output-compression".into(),
            opts.output_compression.name().into(),
        );
    }
    p
}

/// The stage unit of the output file of input `idx`.
fn staged_unit(idx: usize) -> String {
    format!("{}-{idx:06}", Stage::Clean.name())
}

/// The stage unit of the removal log, marked so that a resumed run knows
/// it as its own should it be renamed already ([`reclaim_renamed`]).
fn log_unit() -> String {
    format!("{}-log", Stage::Clean.name())
}

/// Moves back into the staging folder the files an earlier run with the
/// same options renamed into the output folder before it was killed
/// (during the renames, so without its manifest), when `run` resumes it:
/// each is known by its stage marker (same options, same size) and by its
/// staged copy being gone. The output folder is then as that run found it,
/// and the resumed run renames them again with the rest. Gives how many
/// files it moved; none without stage files or a staging folder.
///
/// [`clean_with`] calls it first; call it before [`check_output`] when
/// checking the output on its own, which would refuse them.
///
/// # Errors
///
/// [`Error::Io`] when a file cannot be moved.
pub fn reclaim_renamed(corpus: &Corpus, opts: &CleanOptions, run: &Run) -> Result<usize> {
    output::reclaim_renamed(corpus, opts, run)
}

/// Why text was removed; serialised as `document` or `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// A whole document, a near-duplicate of the kept one.
    Document,
    /// A copy of a block, or the parts of it that align with the kept copy.
    Block,
    /// Every copy of a boilerplate block, the kept one too
    /// (`--drop-boilerplate`).
    Boilerplate,
}

/// One line of the removal log, as `clean` writes it and [`verify`] reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Removal {
    /// Whole document or block copy.
    pub reason: Reason,
    /// The cluster it belongs to, unique across the whole log: in round 1
    /// the report's cluster id (join it to the scan report's `id`); a later
    /// round's rescan of the cleaned text numbers its clusters after the
    /// largest id used before it (the report's, then earlier rounds'), so
    /// no id names two clusters.
    pub cluster: usize,
    /// The detection round that found it, 1 to [`MAX_ROUNDS`]: 1 is the
    /// report, later rounds find what the cuts left repeated.
    pub round: usize,
    /// What was removed: its `bytes` span the removal, which is exactly
    /// those bytes unless `spans` is given (in the unit `units.removed`
    /// names).
    pub removed: Place,
    /// The byte ranges removed (as `removed.bytes`), when they are more than
    /// one: kept or earlier-cut text inside the span stays out of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spans: Vec<[u64; 2]>,
    /// The kept copy it duplicates.
    pub kept: Place,
    /// Similarity of the removed text to the kept copy (`LCS / longer`).
    pub similarity: f64,
    /// Share of the removed text found in the kept copy (`LCS / removed`),
    /// measured on exactly the text removed (the `spans`).
    pub containment: f64,
    /// Bytes removed, counted in the decoded text as UTF-8 (whatever the
    /// file's encoding), so that they add up to the text's length.
    pub bytes_removed: u64,
    /// What each byte field counts (logs written before it read back as
    /// empty strings).
    #[serde(default)]
    pub units: ByteUnits,
    /// The kept copy is reference text (`--reference`): what was removed
    /// duplicates the reference (written only when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reference: bool,
    /// Measured with numbers as fields (any digit matching any digit):
    /// a copy of boilerplate, whose dates, counters and phone numbers vary
    /// from page to page as they did when it was found (written only when
    /// true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub numbers_as_fields: bool,
}

/// The units of a [`Removal`]'s byte fields, each `file:ENCODING` (bytes
/// of the decompressed file in its own encoding, a byte-order mark
/// counted: what `dd` or a hex editor shows) or `text:UTF-8` (bytes of the
/// decoded text, for a JSONL record of its text field).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ByteUnits {
    /// Of `removed.bytes` and `spans`.
    pub removed: String,
    /// Of `kept.bytes`.
    pub kept: String,
    /// Of `bytes_removed`: always `text:UTF-8`.
    pub bytes_removed: String,
}

impl ByteUnits {
    /// The units of a removal from document `removed` of `corpus` whose
    /// kept copy is in document `kept`.
    pub fn of(corpus: &Corpus, removed: usize, kept: usize) -> ByteUnits {
        ByteUnits::between(
            ByteUnits::unit(corpus, removed),
            ByteUnits::unit(corpus, kept),
        )
    }

    /// The units of a removal whose removed and kept documents' units
    /// ([`ByteUnits::unit`]) are `removed` and `kept`.
    pub(crate) fn between(removed: String, kept: String) -> ByteUnits {
        ByteUnits {
            removed,
            kept,
            bytes_removed: TEXT_UTF8.to_string(),
        }
    }

    /// The unit of byte ranges of document `d`: `file:ENCODING` for a text
    /// file, `text:UTF-8` for a record.
    pub(crate) fn unit(corpus: &Corpus, d: usize) -> String {
        let input = corpus.input_of(&corpus.docs[d]);
        match input.format {
            crate::corpus::Format::Text => format!("file:{}", input.encoding.name()),
            crate::corpus::Format::Jsonl | crate::corpus::Format::Parquet => TEXT_UTF8.to_string(),
        }
    }
}

/// The unit of bytes counted in decoded text.
const TEXT_UTF8: &str = "text:UTF-8";

impl Removal {
    /// The byte ranges removed: `spans`, or `removed.bytes` when it is one.
    pub fn removed_spans(&self) -> Vec<[u64; 2]> {
        if self.spans.is_empty() {
            vec![self.removed.bytes]
        } else {
            self.spans.clone()
        }
    }
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
    /// Removals (documents and block copies) whose kept copy is reference
    /// text: how much of the inputs duplicated the reference.
    pub reference_removed: usize,
    /// The removal log's path.
    pub log: PathBuf,
    /// Files an earlier run wrote into the output folder (named by its
    /// manifest) that this run removed, as it writes them no more
    /// (`--force` into an old output).
    pub stale_removed: usize,
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
    reclaim_renamed(corpus, opts, run)?;
    let plan = checked_plan(corpus, report, opts, run)?;
    let out_existed = opts.out.exists();
    let staging = opts.out.join(STAGING);
    // a resumed run keeps what a killed one staged (files with a marker)
    let resuming = run.stages.is_some_and(Stages::resuming);
    if staging.exists() && !resuming {
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

/// The checked plan of a corpus whose texts are read back with `ingest`
/// (the sharded path's `plan`, which writes no output itself).
///
/// # Errors
///
/// An input that cannot be read again, a failed no-loss check.
pub(crate) fn checked_plan_of(
    corpus: &Corpus,
    report: &Report,
    opts: &CleanOptions,
    ingest: &IngestOptions,
    budget: crate::blocks::Budget<'_>,
) -> Result<Plan> {
    let run = Run {
        reload: Some(ingest),
        budget,
        ..Run::default()
    };
    let plan = plan_run(corpus, report, opts, &run)?;
    check_plan(corpus, &plan, opts)?;
    Ok(plan)
}

/// The plan of a clean or of its preview, once the output is known to be
/// safe and the plan to lose nothing (polling `run` between the steps).
///
/// With stage files (`run.stages`) the checked plan is written to
/// `plan.bin`, and a resumed run whose plan is done reads it back (and
/// checks it again, which needs no text) instead of planning: at a million
/// documents planning reads and rescans a good part of the corpus.
fn checked_plan(corpus: &Corpus, report: &Report, opts: &CleanOptions, run: &Run) -> Result<Plan> {
    check_output(corpus, opts)?;
    run.check()?;
    let staging = run.plan_params(opts);
    let name = Stage::Plan.name();
    let docs = corpus.docs.len();
    if let Some((st, params)) = &staging {
        if let Some(plan) = st.load(name, params, &[], |d| plan::decode_plan(d, docs))? {
            check_plan(corpus, &plan, opts)?;
            run.record(st.file_bytes(name));
            return Ok(plan);
        }
    }
    let progress = run.progress();
    progress.stage("plan", 0);
    let plan = plan_run(corpus, report, opts, run)?;
    check_plan(corpus, &plan, opts)?;
    progress.finish();
    run.check()?;
    if let Some((st, params)) = &staging {
        progress.stage(Stage::Plan.saving(), 0);
        st.save(name, params, &[], |e| plan::encode_plan(e, &plan))?;
        progress.finish();
        run.record(st.file_bytes(name));
    }
    Ok(plan)
}

/// What `clean` would do: its summary and its removal log, line for line.
#[derive(Debug, Clone, Default)]
pub struct Preview {
    /// The numbers `clean` would report; `files_written` counts the files
    /// it would write, `log` is where the log was written (empty when
    /// [`CleanOptions::log`] is `None`: a preview writes no default log).
    pub summary: CleanSummary,
    /// The removal log's lines, as `clean` would write them.
    pub removals: Vec<Removal>,
}

/// Plans and checks exactly as [`clean_with`] does (every round), without
/// writing the output folder: a preview (`clean --dry-run`). The removal
/// log is written only when [`CleanOptions::log`] names it, and then holds
/// the very lines `clean` would write.
///
/// # Errors
///
/// As [`clean_with`], before anything is written: an unsafe output is
/// refused as `clean` would refuse it.
pub fn dry_run(
    corpus: &Corpus,
    report: &Report,
    opts: &CleanOptions,
    run: &Run,
) -> Result<Preview> {
    let plan = checked_plan(corpus, report, opts, run)?;
    let files = corpus
        .inputs
        .iter()
        .zip(docs_by_input(corpus))
        .filter(|(input, docs)| writes_output(input, &plan, docs))
        .count();
    let log = opts.log.clone().unwrap_or_default();
    if !log.as_os_str().is_empty() {
        let body = log_lines(&plan.removals, &log)?;
        crate::util::write_atomic(&log, &body).map_err(|e| Error::io(&log, e))?;
    }
    Ok(Preview {
        summary: summary(corpus, &plan, files, &log),
        removals: plan.removals,
    })
}

#[cfg(test)]
mod tests {
    use super::plan::{merge_ranges, subtract};
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

    /// Output names follow the compression written, not the input's
    /// suffix alone: a compressed input without one gains the new one.
    #[test]
    fn output_names_follow_the_compression_written() {
        let base = crate::corpus::Corpus::from_texts(&["x"]).inputs.remove(0);
        let name = |rel: &str, c: Compression, how: OutputCompression| {
            let input = InputFile {
                rel: PathBuf::from(rel),
                compression: c,
                format: Format::Jsonl,
                ..base.clone()
            };
            let (c, rel) = how.of(&input);
            (c, rel.display().to_string())
        };
        use Compression as C;
        use OutputCompression as O;
        let same = |rel: &str, c| (c, rel.to_string());
        assert_eq!(
            name("d/a.jsonl.GZ", C::Gzip, O::Same),
            same("d/a.jsonl.GZ", C::Gzip)
        );
        assert_eq!(
            name("d/a.jsonl.GZ", C::Gzip, O::None),
            same("d/a.jsonl", C::None)
        );
        assert_eq!(
            name("a.jsonl.gz", C::Gzip, O::Zstd),
            same("a.jsonl.zst", C::Zstd)
        );
        assert_eq!(
            name("a.jsonl", C::None, O::Gzip),
            same("a.jsonl.gz", C::Gzip)
        );
        assert_eq!(
            name("a.jsonl.zst", C::Zstd, O::Zstd),
            same("a.jsonl.zst", C::Zstd)
        );
        // gzip bytes under a name without the suffix
        assert_eq!(name("a.jsonl", C::Gzip, O::None), same("a.jsonl", C::None));
        assert_eq!(
            name("a.jsonl", C::Gzip, O::Zstd),
            same("a.jsonl.zst", C::Zstd)
        );
        // plain bytes under a .gz name stay plain under it
        assert_eq!(name("a.gz", C::None, O::Same), same("a.gz", C::None));
        let parquet = InputFile {
            rel: PathBuf::from("p.parquet"),
            format: Format::Parquet,
            ..base.clone()
        };
        assert_eq!(O::Gzip.of(&parquet), (C::None, PathBuf::from("p.parquet")));
    }
}
