//! The command line: clap types, turned into the library's options. Clap
//! never leaves this file; the library never sees a flag.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use neardup::blocks::BlockOptions;
use neardup::clean::{self, CleanOptions, OutputCompression};
use neardup::cluster::{Keep, KeepBy, KeepOrder};
use neardup::corpus::{self, EncodingChoice, FormatChoice, IngestOptions, OnError};
use neardup::lsh::LshParams;
use neardup::normalize::NormalizeOptions;
use neardup::pipeline::{self, Level, Method, Progress, ScanOptions};
use neardup::report::{self, RenderOptions};
use neardup::shingle::ShingleOptions;
use neardup::variants;
use neardup::work::{self, Placement, WorkDir, WorkOptions};

/// Exit codes (documented in README): 0 ok, 1 duplicates found with
/// `--exit-code`, 2 usage, configuration or input error, 130 interrupted.
pub mod exit {
    /// The run finished (and found nothing, or `--exit-code` was not given).
    pub const SUCCESS: u8 = 0;
    /// Duplicates were found and `--exit-code` was given.
    pub const FOUND: u8 = 1;
    /// Usage, configuration or input error.
    pub const ERROR: u8 = 2;
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: u8 = 130;
}

/// Find and remove near-duplicate documents and repeated blocks in text corpora.
#[derive(Debug, Parser)]
#[command(name = "neardup", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Report near-duplicate documents and repeated blocks.
    Scan(ScanArgs),
    /// Write the corpus without duplicates, plus a removal log.
    Clean(CleanArgs),
    /// Check a finished clean output against its inputs and removal log.
    Verify(VerifyArgs),
    /// Show how copies differ: a character diff of two texts, or the shared
    /// template (skeleton and slots) of several.
    Diff(DiffArgs),
    /// Print the effective parameters of a scan or clean command line (every
    /// option that defines its output, by flag name, defaults filled in) and
    /// their hash, as the stage markers of --work DIR record them:
    /// `neardup params [--json] clean INPUT… -o OUT [options]`.
    Params(ParamsArgs),
    /// Stage of the sharded clean (Spark, contrib/spark): list the inputs
    /// and cut them into shards, written to a manifest (-o MANIFEST.json); takes
    /// clean's options, which every later stage must be given too.
    Shards(ShardsArgs),
    /// Stage of the sharded clean: sketch one shard (`sign --shard N
    /// MANIFEST.json -o DIR [clean's options]`) into DIR/shard-NNNNN/ (documents,
    /// band keys, signatures; block fingerprints unless --level doc).
    Sign(SignArgs),
    /// Stage of the sharded document level: verify candidate pairs (`verify-pairs
    /// PAIRS.parquet --manifest MANIFEST.json --sign DIR -o EDGES.parquet`).
    VerifyPairs(VerifyPairsArgs),
    /// Stage of the sharded block level: chain and verify the seeds of rare block
    /// fingerprints (`block-pairs SEEDS.parquet --manifest MANIFEST.json --sign DIR -o
    /// REGIONS.parquet`).
    BlockPairs(TableArgs),
    /// Stage of the sharded block level's star path: cut the frequent occurrences of
    /// whole documents into runs (`star-runs OCCURRENCES --manifest MANIFEST.json --sign
    /// DIR -o RUNS.parquet`).
    StarRuns(TableArgs),
    /// Stage of the sharded block level's star path: align child runs to their parents
    /// (`star-pairs LINKS --manifest MANIFEST.json --sign DIR -o ALIGNED.parquet`).
    StarPairs(TableArgs),
    /// Stage of the sharded block level's star path: cut the aligned pairs of whole
    /// parent documents where passages meet (`star-split ALIGNED --manifest MANIFEST.json
    /// --sign DIR -o REGIONS.parquet`).
    StarSplit(TableArgs),
    /// Stage of the sharded block level, one process: clean's plan from the engine's
    /// document clusters and region pairs (`plan MANIFEST.json --sign DIR
    /// --doc-clusters DIR --regions DIR --star DIR -o PLAN_DIR`).
    Plan(PlanArgs),
    /// Stage of the sharded clean: write one shard's cleaned files from
    /// its removed documents (`apply --shard N --clusters DIR MANIFEST.json -o
    /// OUT`, --level doc) or its part of the plan (`--plan PLAN_DIR`), then, once
    /// every shard is applied, the removal log and the manifest (`apply --finish
    /// [--plan PLAN_DIR] MANIFEST.json -o OUT`).
    Apply(ApplyArgs),
}

#[derive(Debug, Args)]
struct ShardsArgs {
    #[command(flatten)]
    common: Common,
    /// A shard closes when the next input file would take it past this size
    /// (files are never split; e.g. 256M, 1G).
    #[arg(long, value_name = "SIZE", default_value = "256M", value_parser = parse_memory)]
    shard_bytes: u64,
    /// The manifest to write.
    #[arg(short = 'o', long, value_name = "MANIFEST.json")]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct SignArgs {
    /// The shard to sign (from 0).
    #[arg(long, value_name = "N")]
    shard: usize,
    /// The manifest (INPUT) and clean's options, as given to `neardup shards`.
    #[command(flatten)]
    common: Common,
    /// Folder of the shards' folders.
    #[arg(short = 'o', long, value_name = "DIR")]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct VerifyPairsArgs {
    /// The pairs (INPUT: a Parquet file or a folder of them) and clean's options.
    #[command(flatten)]
    common: Common,
    /// The manifest of `neardup shards`.
    #[arg(long, value_name = "MANIFEST.json")]
    manifest: PathBuf,
    /// The folder `neardup sign` wrote the shards' folders into.
    #[arg(long, value_name = "DIR")]
    sign: PathBuf,
    /// The similarity of every pair however low (a cluster's members against
    /// its kept copy), instead of the edges at or above --threshold.
    #[arg(long)]
    similarity: bool,
    /// The edges (Parquet) to write.
    #[arg(short = 'o', long, value_name = "EDGES.parquet")]
    output: PathBuf,
}

/// A stage over one table of a signed corpus (`block-pairs`, the star
/// path's).
#[derive(Debug, Args)]
struct TableArgs {
    /// The stage's table (INPUT: a Parquet file or a folder of them: the
    /// seeds, the frequent occurrences, the links, the aligned pairs) and
    /// clean's options.
    #[command(flatten)]
    common: Common,
    /// The manifest of `neardup shards`.
    #[arg(long, value_name = "MANIFEST.json")]
    manifest: PathBuf,
    /// The folder `neardup sign` wrote the shards' folders into.
    #[arg(long, value_name = "DIR")]
    sign: PathBuf,
    /// The table (Parquet) to write.
    #[arg(short = 'o', long, value_name = "OUT.parquet")]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// The manifest (INPUT) and clean's options, as given to `neardup shards`.
    #[command(flatten)]
    common: Common,
    /// The folder `neardup sign` wrote the shards' folders into.
    #[arg(long, value_name = "DIR")]
    sign: PathBuf,
    /// Every member of every document cluster: shard, ord, cluster, similarity.
    #[arg(long, value_name = "DIR")]
    doc_clusters: PathBuf,
    /// The region pairs of `neardup block-pairs`.
    #[arg(long, value_name = "DIR")]
    regions: PathBuf,
    /// The region pairs of `neardup star-split` (the star path's).
    #[arg(long, value_name = "DIR")]
    star: PathBuf,
    /// The plan's folder to write.
    #[arg(short = 'o', long, value_name = "PLAN_DIR")]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct ApplyArgs {
    /// The shard to write (from 0); not with --finish.
    #[arg(
        long,
        value_name = "N",
        required_unless_present = "finish",
        conflicts_with = "finish"
    )]
    shard: Option<usize>,
    /// The folder of the removed documents of the shard (Parquet part files;
    /// --level doc).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present_any = ["finish", "plan"],
        conflicts_with = "plan"
    )]
    clusters: Option<PathBuf>,
    /// The folder `neardup plan` wrote (--level all): with --shard, the
    /// shard's drops and cuts; with --finish, the removal log.
    #[arg(long, value_name = "PLAN_DIR")]
    plan: Option<PathBuf>,
    /// Write the removal log and the manifest once every shard is applied.
    #[arg(long)]
    finish: bool,
    /// How the shard's cleaned files are compressed, as `neardup clean
    /// --output-compression` (a shard's option, not the manifest's: the
    /// other stages and --finish do not take it).
    #[arg(
        long,
        value_enum,
        value_name = "HOW",
        default_value = "same",
        conflicts_with = "finish"
    )]
    output_compression: OutputCompressionArg,
    /// The manifest (INPUT) and clean's options, as given to `neardup shards`.
    #[command(flatten)]
    common: Common,
    /// The output folder (as `neardup clean -o OUT`).
    #[arg(short = 'o', long, value_name = "OUT")]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct ParamsArgs {
    /// Print one JSON object: {"command", "params", "hash"}.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    of: ParamsOf,
}

#[derive(Debug, Subcommand)]
enum ParamsOf {
    /// The parameters of `neardup scan …`.
    Scan(ScanArgs),
    /// The parameters of `neardup clean …`.
    Clean(CleanArgs),
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// Texts to compare, as the scan report prints them: FILE, FILE:FIRST-LAST
    /// (lines of a text file), FILE:LINE (a JSONL record) or
    /// FILE:LINE@START-END (bytes of a JSONL record's text: a block inside it).
    #[arg(required = true, num_args = 2.., value_name = "SPAN")]
    spans: Vec<String>,
    /// Show the template view (shared skeleton, slots) for two texts too.
    #[arg(long)]
    template: bool,
    /// Unchanged lines shown around each change in the text diff (as `diff -U`).
    #[arg(short = 'U', long, value_name = "N", default_value_t = 3)]
    context: usize,
    /// Report format (default: from the extension of -o FILE, .json, .html/.htm
    /// or .txt; else text).
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
    /// Write to FILE instead of standard output (`-`: standard output).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Fold anonymisation masks (*, **, X, XX, xx) into one symbol before comparing.
    #[arg(long)]
    mask_fold: bool,
    /// JSONL field holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// Input encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    encoding: EncodingArg,
    /// Colour in the terminal.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    /// The output folder of a finished `neardup clean`.
    #[arg(value_name = "OUT")]
    out: PathBuf,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Memory budget of the texts read back from the inputs, a batch at
    /// a time (e.g. 2G, 512M; suffixes are powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = work::DEFAULT_MEMORY_ARG, value_parser = parse_memory)]
    memory: u64,
}

#[derive(Debug, Args)]
struct ScanArgs {
    #[command(flatten)]
    common: Common,
    /// Report format (default: from the extension of -o FILE, .json, .html/.htm
    /// or .txt; else text).
    #[arg(long, value_enum)]
    format: Option<ReportFormat>,
    /// Write the report to FILE instead of standard output (`-`: standard
    /// output).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit with 1 when duplicates were found (for CI pipelines).
    #[arg(long)]
    exit_code: bool,
    /// Attach to every copy its character diff from the kept copy (in the
    /// first --diff-clusters clusters; always on in HTML reports).
    #[arg(long)]
    diffs: bool,
    /// How many clusters get diffs with --diffs or in HTML reports (the
    /// report says which were left out, and how to see them).
    #[arg(long, value_name = "N", default_value_t = pipeline::DIFF_CLUSTERS)]
    diff_clusters: usize,
}

#[derive(Debug, Args)]
struct CleanArgs {
    #[command(flatten)]
    common: Common,
    /// Output folder (must not be inside an input).
    #[arg(short = 'o', long, value_name = "DIR")]
    output: PathBuf,
    /// Removal log (default: OUT/removed.jsonl).
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Write into an existing, non-empty output folder.
    #[arg(long)]
    force: bool,
    /// Remove every copy of boilerplate (blocks held by --boilerplate-docs documents or
    /// more: footers, disclaimers, navigation bars), the kept copy too.
    #[arg(long)]
    drop_boilerplate: bool,
    /// How the cleaned files are compressed: as each input was (`same`:
    /// .jsonl.gz gives .jsonl.gz), or all plain, gzip or zstd, the
    /// .gz/.zst suffix of each name changed to match. Parquet stays Parquet.
    #[arg(long, value_enum, value_name = "HOW", default_value = "same")]
    output_compression: OutputCompressionArg,
    /// Plan as clean does (every round) and print what it would remove, writing
    /// nothing to the output folder; --log FILE writes the would-be removal log.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct Common {
    /// Files, folders (walked recursively), JSONL, Parquet, .gz/.zst, or - for stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Reference file or folder (repeatable): read like the inputs but never cleaned;
    /// input documents and blocks that duplicate its text are reported and removed, and
    /// a reference copy is always the one kept (decontamination, incremental cleaning).
    #[arg(long, value_name = "PATH")]
    reference: Vec<PathBuf>,
    /// What to look for: whole documents, repeated blocks, or both.
    #[arg(long, value_enum, default_value_t = LevelArg::All)]
    level: LevelArg,
    /// Minimum similarity (matched characters / longer text) of near-duplicate documents.
    #[arg(long, default_value_t = 0.8)]
    threshold: f64,
    /// Shingle size: characters for CJK text (default 5), words otherwise (default 3).
    #[arg(long)]
    ngram: Option<usize>,
    /// Signature length: bins of one-permutation MinHash, permutations of
    /// --method minhash.
    #[arg(long, default_value_t = 128)]
    perms: usize,
    /// LSH bands (default: derived from --threshold; give with --rows).
    #[arg(long, requires = "rows")]
    bands: Option<usize>,
    /// LSH rows per band (give with --bands).
    #[arg(long, requires = "bands")]
    rows: Option<usize>,
    /// Candidate search for documents: one-permutation MinHash (one hash a
    /// shingle), MinHash of --perms permutations (as many products a
    /// shingle; the same estimate), or SimHash (near-exact copies only).
    #[arg(long, value_enum, default_value_t = MethodArg::Oph)]
    method: MethodArg,
    /// With --method simhash: largest Hamming distance (inclusive).
    #[arg(long, default_value_t = 4)]
    max_hamming: u32,
    /// Seed of the hash permutations.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Fold anonymisation masks (*, **, X, XX, xx) into one symbol before comparing.
    #[arg(long)]
    mask_fold: bool,
    /// Minimum length of a repeated block, in CJK characters, a word of other scripts counting 10 (200 = 200 characters or 20 words).
    #[arg(long, default_value_t = 200)]
    min_block: usize,
    /// Minimum similarity between two copies of a block.
    #[arg(long, default_value_t = 0.8)]
    block_threshold: f64,
    /// A passage held by at least this many documents is boilerplate: reported even when
    /// shorter than --min-block (down to 50 characters), and `clean --drop-boilerplate`
    /// removes every copy of it.
    #[arg(long, default_value_t = 100)]
    boilerplate_docs: usize,
    /// Block fingerprints seen in more places than this are aligned to one representative
    /// copy instead of pairwise (a tuning knob; the default suits any corpus size).
    #[arg(long, default_value_t = 64, hide_short_help = true)]
    max_occurrences: usize,
    /// Which copy of a cluster is kept (and, with --keep-by, which of those tied on the
    /// field): the first in input order (argument order, then sorted paths, then record
    /// order), or the longest.
    #[arg(long, value_enum, default_value_t = KeepArg::First)]
    keep: KeepArg,
    /// Keep the copy with the largest (or smallest, see --keep-order) value of this JSONL
    /// field (or Parquet column), such as a date string or a quality score (dotted for nested fields; FIELD:min
    /// or FIELD:max also sets the order). Copies without it lose; ties go to --keep.
    #[arg(long, value_name = "FIELD")]
    keep_by: Option<String>,
    /// With --keep-by: whether the largest or the smallest value wins [default: max].
    #[arg(long, value_enum, requires = "keep_by")]
    keep_order: Option<KeepOrderArg>,
    /// JSONL field (or Parquet column) holding the text.
    #[arg(long, default_value = "text")]
    text_field: String,
    /// JSONL field (or Parquet column) holding the document id (default: path:line,
    /// path:row).
    #[arg(long, default_value = "id")]
    id_field: String,
    /// Input encoding.
    #[arg(long, value_enum, default_value_t = EncodingArg::Auto)]
    encoding: EncodingArg,
    /// How files hold documents (auto: .jsonl/.ndjson/.json are JSONL, .parquet
    /// or PAR1-headed files Parquet).
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    input_format: InputFormatArg,
    /// Only read walked files matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    include: Vec<String>,
    /// Skip walked files matching this glob (repeatable).
    #[arg(long, value_name = "GLOB")]
    exclude: Vec<String>,
    /// On a bad input: stop before writing anything, or skip it with a warning.
    #[arg(long, value_enum, default_value_t = OnErrorArg::Stop)]
    on_error: OnErrorArg,
    /// Refuse documents larger than this many bytes.
    #[arg(long, default_value_t = 256 << 20)]
    max_doc_bytes: u64,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Folder for the run's files on disk, such as the decompressed copy of
    /// each .gz/.zst input (default: a fresh folder in the system's temporary
    /// folder for scan, OUT/.neardup-work for clean). Emptied at the end; kept
    /// after an error when given, with the stages the run finished (see --resume).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// Reuse the stages that an earlier run with the same options and inputs
    /// finished in --work DIR before it was stopped or killed; an option or
    /// input file that changed is an error naming it. Without it, a run starts
    /// afresh and clears DIR of an earlier run's files.
    #[arg(long, requires = "work")]
    resume: bool,
    /// Memory budget of block detection's texts and fingerprints, which
    /// are read back in batches and spill to the work folder beyond it
    /// (e.g. 2G, 512M; suffixes are powers of 1024).
    #[arg(long, value_name = "SIZE", default_value = work::DEFAULT_MEMORY_ARG, value_parser = parse_memory)]
    memory: u64,
    /// No progress bars or warnings.
    #[arg(short, long)]
    quiet: bool,
    /// Colour in the text report.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto)]
    color: ColorArg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ReportFormat {
    Text,
    Json,
    Html,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LevelArg {
    Doc,
    Block,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum MethodArg {
    Minhash,
    Oph,
    Simhash,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum KeepArg {
    First,
    Longest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KeepOrderArg {
    Max,
    Min,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum EncodingArg {
    Auto,
    Utf8,
    Gb18030,
    Big5,
    #[value(name = "shift-jis", alias = "shift_jis", alias = "sjis")]
    ShiftJis,
    #[value(name = "euc-kr", alias = "euc_kr")]
    EucKr,
    #[value(
        name = "cp1252",
        alias = "windows-1252",
        alias = "latin1",
        alias = "latin-1"
    )]
    Cp1252,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InputFormatArg {
    Auto,
    Text,
    Jsonl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OnErrorArg {
    Stop,
    Skip,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OutputCompressionArg {
    Same,
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ColorArg {
    Auto,
    Always,
    Never,
}

impl Common {
    fn ingest(&self) -> IngestOptions {
        IngestOptions {
            text_field: self.text_field.clone(),
            id_field: self.id_field.clone(),
            encoding: self.encoding.into(),
            format: match self.input_format {
                InputFormatArg::Auto => FormatChoice::Auto,
                InputFormatArg::Text => FormatChoice::Text,
                InputFormatArg::Jsonl => FormatChoice::Jsonl,
            },
            include: self.include.clone(),
            exclude: self.exclude.clone(),
            on_error: match self.on_error {
                OnErrorArg::Stop => OnError::Stop,
                OnErrorArg::Skip => OnError::Skip,
            },
            max_doc_bytes: self.max_doc_bytes,
            keep_by: self.keep_by().ok().flatten().map(|k| k.field),
            reference: self.reference.clone(),
        }
    }

    /// `--keep-by FIELD[:max|:min]` with `--keep-order`, and whether the
    /// other options go together.
    fn keep_by(&self) -> anyhow::Result<Option<KeepBy>> {
        let stdin = |p: &PathBuf| p.as_os_str() == "-";
        if self.reference.iter().any(stdin) && self.inputs.iter().any(stdin) {
            anyhow::bail!(
                "invalid option --reference: standard input (-) cannot be both a reference and an input"
            );
        }
        let Some(given) = &self.keep_by else {
            return Ok(None);
        };
        let (field, suffix) = match given.rsplit_once(':') {
            Some((f, "max")) => (f, Some(KeepOrderArg::Max)),
            Some((f, "min")) => (f, Some(KeepOrderArg::Min)),
            _ => (given.as_str(), None),
        };
        if field.is_empty() {
            anyhow::bail!("invalid option --keep-by: no field name in {given:?}");
        }
        let order = match (suffix, self.keep_order) {
            (Some(a), Some(b)) if a != b => anyhow::bail!(
                "invalid option --keep-by: {given:?} contradicts --keep-order {}",
                if b == KeepOrderArg::Max { "max" } else { "min" }
            ),
            (Some(o), _) | (None, Some(o)) => o,
            (None, None) => KeepOrderArg::Max,
        };
        Ok(Some(KeepBy {
            field: field.to_string(),
            order: match order {
                KeepOrderArg::Max => KeepOrder::Max,
                KeepOrderArg::Min => KeepOrder::Min,
            },
        }))
    }

    fn scan(&self) -> ScanOptions {
        ScanOptions {
            level: match self.level {
                LevelArg::Doc => Level::Doc,
                LevelArg::Block => Level::Block,
                LevelArg::All => Level::All,
            },
            method: match self.method {
                MethodArg::Minhash => Method::MinHash,
                MethodArg::Oph => Method::Oph,
                MethodArg::Simhash => Method::SimHash,
            },
            normalize: NormalizeOptions {
                mask_fold: self.mask_fold,
            },
            shingle: ShingleOptions { ngram: self.ngram },
            threshold: self.threshold,
            perms: self.perms,
            seed: self.seed,
            lsh: match (self.bands, self.rows) {
                (Some(bands), Some(rows)) => Some(LshParams { bands, rows }),
                _ => None,
            },
            max_hamming: self.max_hamming,
            blocks: BlockOptions {
                min_block: self.min_block,
                threshold: self.block_threshold,
                max_occurrences: self.max_occurrences,
                boilerplate_docs: self.boilerplate_docs,
                ..BlockOptions::default()
            },
            keep: match self.keep {
                KeepArg::First => Keep::First,
                KeepArg::Longest => Keep::Longest,
            },
            keep_by: self.keep_by().ok().flatten(),
        }
    }

    /// Creates the work folder, removed by the Ctrl-C handler too when it
    /// is the run's own.
    fn work(&self, default: Placement) -> anyhow::Result<WorkDir> {
        let opts = WorkOptions {
            dir: self.work.clone(),
            memory: self.memory,
            resume: self.resume,
        };
        let work = WorkDir::create(&opts, default).context("cannot create the work folder")?;
        interrupt::install()?;
        interrupt::remove_on_exit(&work);
        Ok(work)
    }

    fn progress(&self) -> Bars {
        Bars::new(!self.quiet && std::io::stderr().is_terminal())
    }

    /// With `--resume`, says which finished stages the run reused (unless
    /// `--quiet`; always with `NEARDUP_TIMINGS`).
    fn say_reused(&self, work: &WorkDir) {
        let Some(st) = work.stages().filter(|st| st.resuming()) else {
            return;
        };
        if self.quiet && std::env::var_os("NEARDUP_TIMINGS").is_none() {
            return;
        }
        let reused = st.reused();
        let files = reused.iter().filter(|r| r.starts_with("clean-")).count();
        let mut what: Vec<String> = reused
            .into_iter()
            .filter(|r| !r.starts_with("clean-"))
            .collect();
        if files > 0 {
            what.push(format!("{files} staged output files"));
        }
        say!(
            "neardup: resumed from {}: reused {}",
            work.path().display(),
            if what.is_empty() {
                "nothing (no stage was finished)".to_string()
            } else {
                what.join(", ")
            }
        );
    }

    fn setup_threads(&self) -> anyhow::Result<()> {
        if let Some(n) = self.threads {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n.max(1))
                .build_global()
                .context("cannot start worker threads")?;
        }
        Ok(())
    }

    /// Warns about skipped inputs; an empty corpus is an error.
    fn warn_skipped(&self, corpus: &corpus::Corpus) -> anyhow::Result<()> {
        if !self.quiet {
            if let Some(first) = corpus.repeated.first() {
                say!(
                    "neardup: note: {} files reached again through overlapping inputs were read once (e.g. {})",
                    corpus.repeated.len(),
                    report::escape_controls(&first.display().to_string())
                );
            }
            // One line per skip up to a few; beyond that a count per kind
            // and its first examples (a crawl may hold millions).
            const EXAMPLES: usize = 3;
            let mut kinds: Vec<(&str, Vec<&corpus::Skipped>)> = Vec::new();
            for s in &corpus.skipped {
                match kinds.iter_mut().find(|(k, _)| *k == s.kind) {
                    Some((_, v)) => v.push(s),
                    None => kinds.push((s.kind, vec![s])),
                }
            }
            for (kind, all) in &kinds {
                if all.len() > EXAMPLES {
                    say!(
                        "neardup: warning: skipped {} inputs or records ({kind}); the first {EXAMPLES}:",
                        all.len()
                    );
                }
                for s in all.iter().take(EXAMPLES) {
                    say!(
                        "neardup: warning: skipped {}",
                        report::escape_controls(&s.error)
                    );
                }
            }
        }
        if corpus.docs.is_empty() {
            anyhow::bail!("no documents to read in the inputs");
        }
        Ok(())
    }
}

/// Runs the parsed command line.
///
/// # Errors
///
/// Any error of the library, with context.
pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Scan(args) => scan(args),
        Command::Clean(args) => clean_cmd(args),
        Command::Verify(args) => verify_cmd(args),
        Command::Diff(args) => diff_cmd(args),
        Command::Params(args) => params_cmd(args),
        Command::Shards(args) => shards_cmd(args),
        Command::Sign(args) => sign_cmd(args),
        Command::VerifyPairs(args) => verify_pairs_cmd(args),
        Command::BlockPairs(args) => block_pairs_cmd(args),
        Command::StarRuns(args) => star_cmd(args, Star::Runs),
        Command::StarPairs(args) => star_cmd(args, Star::Pairs),
        Command::StarSplit(args) => star_cmd(args, Star::Split),
        Command::Plan(args) => plan_cmd(args),
        Command::Apply(args) => apply_cmd(args),
    }
}

/// `neardup params`: the parameters the command line's run would record,
/// checked as the command checks them; no input is read.
fn params_cmd(args: ParamsArgs) -> anyhow::Result<u8> {
    let (command, params) = match &args.of {
        ParamsOf::Scan(a) => {
            let opts = checked_scan(&a.common)?;
            let c = &a.common;
            let p = neardup::stage::scan_params(
                neardup::stage::Stage::Blocks,
                &c.inputs,
                &c.ingest(),
                &opts,
            );
            ("scan", p)
        }
        ParamsOf::Clean(a) => {
            let opts = checked_scan(&a.common)?;
            let source = clean::Source {
                inputs: a.common.inputs.clone(),
                ingest: a.common.ingest(),
            };
            ("clean", clean::params(&source, &clean_options(a, opts)))
        }
    };
    let hash = neardup::stage::params_hash(&params);
    let mut out = String::new();
    if args.json {
        let v = serde_json::json!({ "command": command, "params": params, "hash": hash });
        out = format!("{v:#}\n");
    } else {
        for (k, v) in &params {
            out.push_str(&format!("{k} {v}\n"));
        }
        out.push_str(&format!("hash {hash}\n"));
    }
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(out.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(exit::SUCCESS),
    }
}

/// The scan options of `c`, checked as `scan` and `clean` check them.
fn checked_scan(c: &Common) -> anyhow::Result<ScanOptions> {
    c.keep_by()?;
    let opts = c.scan();
    opts.validate()?;
    Ok(opts)
}

/// Clean's options from its command line.
fn clean_options(args: &CleanArgs, scan: ScanOptions) -> CleanOptions {
    CleanOptions {
        out: args.output.clone(),
        log: args.log.clone(),
        force: args.force,
        scan,
        text_field: args.common.text_field.clone(),
        drop_boilerplate: args.drop_boilerplate,
        output_compression: args.output_compression.into(),
    }
}

impl From<OutputCompressionArg> for OutputCompression {
    fn from(a: OutputCompressionArg) -> OutputCompression {
        match a {
            OutputCompressionArg::Same => OutputCompression::Same,
            OutputCompressionArg::None => OutputCompression::None,
            OutputCompressionArg::Gzip => OutputCompression::Gzip,
            OutputCompressionArg::Zstd => OutputCompression::Zstd,
        }
    }
}

fn scan(args: ScanArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    c.setup_threads()?;
    let opts = checked_scan(c)?;
    let progress = c.progress();
    let format = report_format(args.format, args.output.as_deref())?;
    let diffs = args.diffs || format == ReportFormat::Html;
    let ingest = c.ingest();
    let work = c.work(Placement::Temp)?;
    // Stream the corpus, keeping signatures, not texts: later stages read
    // back what they need, a batch at a time.
    let (corpus, mut report) =
        pipeline::scan_streaming(&c.inputs, &ingest, &opts, Some(&work), &progress)?;
    c.warn_skipped(&corpus)?;
    c.say_reused(&work);
    if diffs {
        pipeline::attach_diffs(
            &mut report,
            &corpus,
            Some(&ingest),
            &opts.normalize,
            args.diff_clusters,
        )?;
    }
    let peak = work.finish()?;
    progress.work_peak(peak);
    // no bar while the report is written: it would interleave with it
    progress.clear();
    let format = format.into();
    let done = emit(
        args.output.as_deref(),
        c.color,
        RenderOptions::default(),
        |o, out| report::render(&report, format, o, out),
    )?;
    let found = report.summary.duplicate_documents + report.summary.duplicate_blocks > 0;
    // The process ends next: freeing the report and the document table (a
    // string or more per document) one allocation at a time would be the
    // last single-threaded step of the run, for nothing.
    std::mem::forget(report);
    std::mem::forget(corpus);
    if !done {
        return Ok(exit::SUCCESS);
    }
    Ok(if args.exit_code && found {
        exit::FOUND
    } else {
        exit::SUCCESS
    })
}

fn parse_memory(s: &str) -> Result<u64, String> {
    work::parse_size("memory", s).map_err(|e| e.to_string())
}

impl From<EncodingArg> for EncodingChoice {
    fn from(e: EncodingArg) -> Self {
        match e {
            EncodingArg::Auto => EncodingChoice::Auto,
            EncodingArg::Utf8 => EncodingChoice::Utf8,
            EncodingArg::Gb18030 => EncodingChoice::Gb18030,
            EncodingArg::Big5 => EncodingChoice::Big5,
            EncodingArg::ShiftJis => EncodingChoice::ShiftJis,
            EncodingArg::EucKr => EncodingChoice::EucKr,
            EncodingArg::Cp1252 => EncodingChoice::Cp1252,
        }
    }
}

/// The report format: `--format` if given, else the one `-o FILE`'s
/// extension names, else text. A `--format` that contradicts the extension
/// is refused rather than writing, say, text into `rep.json`.
fn report_format(
    given: Option<ReportFormat>,
    output: Option<&std::path::Path>,
) -> anyhow::Result<ReportFormat> {
    let ext = output
        .and_then(|p| p.extension())
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    let implied = match ext.as_deref() {
        Some("json") => Some(ReportFormat::Json),
        Some("html" | "htm") => Some(ReportFormat::Html),
        Some("txt") => Some(ReportFormat::Text),
        _ => None,
    };
    match (given, implied) {
        (Some(g), Some(i)) if g != i => anyhow::bail!(
            "--format {} contradicts the output file name {} (which says {}); drop --format or rename the file",
            format_name(g),
            output.map(|p| p.display().to_string()).unwrap_or_default(),
            format_name(i)
        ),
        (Some(g), _) => Ok(g),
        (None, Some(i)) => Ok(i),
        (None, None) => Ok(ReportFormat::Text),
    }
}

fn format_name(f: ReportFormat) -> &'static str {
    match f {
        ReportFormat::Text => "text",
        ReportFormat::Json => "json",
        ReportFormat::Html => "html",
    }
}

impl From<ReportFormat> for report::Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Text => report::Format::Text,
            ReportFormat::Json => report::Format::Json,
            ReportFormat::Html => report::Format::Html,
        }
    }
}

/// Renders to `path` (atomically, no colour) or to standard output (no
/// path, or `-` as for every Unix tool); `false` when standard output was
/// closed early (`… | head`), which is not an error.
fn emit(
    path: Option<&std::path::Path>,
    color: ColorArg,
    base: RenderOptions,
    render: impl Fn(&RenderOptions, &mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<bool> {
    match path.filter(|p| p.as_os_str() != "-") {
        Some(path) => {
            let opts = RenderOptions {
                color: false,
                ..base
            };
            neardup::util::write_atomic_with(path, |w| render(&opts, w))
                .with_context(|| format!("{}: cannot write report", path.display()))?;
        }
        None => {
            let tty = std::io::stdout().is_terminal();
            let color = match color {
                ColorArg::Always => true,
                ColorArg::Never => false,
                ColorArg::Auto => tty,
            };
            // previews fit the terminal (`COLUMNS` first, as for `ls`)
            let width = tty
                .then(|| {
                    std::env::var("COLUMNS")
                        .ok()
                        .and_then(|c| c.parse::<usize>().ok())
                        .or_else(|| {
                            console::Term::stdout()
                                .size_checked()
                                .map(|(_, w)| usize::from(w))
                        })
                })
                .flatten();
            let opts = RenderOptions {
                color,
                width,
                ..base
            };
            let stdout = std::io::stdout().lock();
            let mut out = std::io::BufWriter::new(stdout);
            let res = render(&opts, &mut out).and_then(|()| out.flush());
            match res {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(false),
                other => other?,
            }
        }
    }
    Ok(true)
}

fn diff_cmd(args: DiffArgs) -> anyhow::Result<u8> {
    let ingest = IngestOptions {
        text_field: args.text_field.clone(),
        encoding: args.encoding.into(),
        ..IngestOptions::default()
    };
    let sources = args
        .spans
        .iter()
        .map(|s| variants::read_span(s, &ingest))
        .collect::<Result<Vec<_>, _>>()?;
    let mut v = variants::compare(
        &sources,
        &NormalizeOptions {
            mask_fold: args.mask_fold,
        },
    );
    if args.template {
        v.diff = None;
        v.split = None;
    }
    let format = report_format(args.format, args.output.as_deref())?.into();
    let base = RenderOptions {
        context: args.context,
        ..RenderOptions::default()
    };
    emit(args.output.as_deref(), args.color, base, |o, out| {
        report::render_variants(&v, format, o, out)
    })?;
    Ok(exit::SUCCESS)
}

fn clean_cmd(args: CleanArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    c.setup_threads()?;
    let opts = checked_scan(c)?;
    // A preview leaves no trace in the output folder, not even a work folder.
    let work = if args.dry_run {
        c.work(Placement::Temp)?
    } else {
        c.work(Placement::Inside(&args.output))?
    };
    let ingest = c.ingest();
    let progress = c.progress();
    // The corpus is streamed like scan's; clean reads texts back a slice at
    // a time when it plans cuts and writes outputs.
    let read = pipeline::read_streaming(&c.inputs, &ingest, &opts, Some(&work), &progress)?;
    c.warn_skipped(&read.corpus)?;
    let copts = clean_options(&args, opts.clone());
    let source = clean::Source {
        inputs: c.inputs.clone(),
        ingest: c.ingest(),
    };
    if !args.dry_run {
        // a resumed run killed while renaming: its renamed files are its own
        let resumed = clean::Run {
            source: Some(&source),
            stages: work.stages(),
            ..clean::Run::default()
        };
        clean::reclaim_renamed(&read.corpus, &copts, &resumed)?;
    }
    // Refuse a bad output before the (long) scan.
    clean::check_output(&read.corpus, &copts)?;
    let (corpus, report) = pipeline::scan_read(read, &ingest, &opts, Some(&work), &progress)?;
    let budget = neardup::blocks::Budget {
        memory: work.memory() as usize,
        work: Some(&work),
    };
    if args.dry_run {
        let preview = clean::dry_run(
            &corpus,
            &report,
            &copts,
            &clean::Run {
                source: Some(&source),
                cancel: Some(interrupt::flag()),
                on_staged: None,
                budget,
                stages: None,
                reload: Some(&ingest),
                progress: Some(&progress),
            },
        )?;
        work.finish()?;
        let s = &preview.summary;
        let log = if s.log.as_os_str().is_empty() {
            "not written (give --log FILE)".to_string()
        } else {
            s.log.display().to_string()
        };
        let _ = writeln!(
            std::io::stdout(),
            "neardup: dry run: would write {} files to {}; would {}; log: {log}",
            s.files_written,
            args.output.display(),
            removed_phrase(s),
        );
        return Ok(exit::SUCCESS);
    }
    let on_staged = interrupt::test_hook();
    let run = clean::Run {
        source: Some(&source),
        cancel: Some(interrupt::flag()),
        on_staged: Some(&on_staged),
        budget,
        stages: work.stages(),
        reload: Some(&ingest),
        progress: Some(&progress),
    };
    interrupt::start_writing();
    let summary = clean::clean_with(&corpus, &report, &copts, &run)?;
    c.say_reused(&work);
    let peak = work.finish()?;
    if !c.quiet && summary.stale_removed > 0 {
        say!(
            "neardup: removed {} files an earlier run wrote to {} (named by its manifest)",
            summary.stale_removed,
            args.output.display()
        );
    }
    if !c.quiet {
        say!(
            "neardup: wrote {} files to {}; {}; log: {}; work folder peak {} bytes",
            summary.files_written,
            args.output.display(),
            removed_phrase(&summary).replacen("remove", "removed", 1),
            summary.log.display(),
            peak
        );
    }
    Ok(exit::SUCCESS)
}

/// What a clean removes, in the words `clean` and `clean --dry-run` share:
/// "remove N documents and M block copies (B bytes)".
fn removed_phrase(s: &clean::CleanSummary) -> String {
    let reference = match s.reference_removed {
        0 => String::new(),
        n => format!(", {n} of them copies of the reference"),
    };
    format!(
        "remove {} documents and {} block copies ({} bytes){reference}",
        s.documents_removed, s.blocks_removed, s.bytes_removed
    )
}

fn verify_cmd(args: VerifyArgs) -> anyhow::Result<u8> {
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .context("cannot start worker threads")?;
    }
    let s = clean::verify::verify_within(&args.out, args.memory)?;
    let _ = writeln!(
        std::io::stdout(),
        "verified {}: {} input files, {} documents, {} output files; {} removals ({} bytes) add up",
        args.out.display(),
        s.files,
        s.documents,
        s.outputs,
        s.removals,
        s.bytes_removed
    );
    Ok(exit::SUCCESS)
}

/// Ctrl-C and SIGTERM during `scan` and `clean`.
///
/// While the corpus is read and scanned only the work folder is on disk:
/// the handler removes it (unless the user named it) and exits at once.
/// Once clean starts writing, it only sets a flag that the
/// library polls between files and before the renames: the run removes its
/// staging folder and returns `Interrupted` (exit 130). A second signal
/// exits at once even then: the staging folder may stay behind, but no
/// partial file ever has a final name, and the next run removes it.
mod interrupt {
    use std::sync::atomic::{AtomicBool, Ordering};

    static STOP: AtomicBool = AtomicBool::new(false);
    static WRITING: AtomicBool = AtomicBool::new(false);
    /// The run's own work folder, removed before exiting on a signal.
    static WORK: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

    pub fn install() -> anyhow::Result<()> {
        ctrlc::set_handler(|| {
            let again = STOP.swap(true, Ordering::SeqCst);
            if again || !WRITING.load(Ordering::SeqCst) {
                if let Ok(work) = WORK.lock() {
                    if let Some(path) = work.as_ref() {
                        let _ = std::fs::remove_dir_all(path);
                    }
                }
                say!("neardup: error: interrupted");
                // Nothing of ours is on disk, or the user insists.
                #[allow(clippy::disallowed_methods)]
                std::process::exit(i32::from(super::exit::INTERRUPTED));
            }
        })
        .map_err(|e| anyhow::anyhow!("cannot handle Ctrl-C: {e}"))
    }

    /// Has the handler remove `work` before it exits, when the run made
    /// it (a folder the user named is kept).
    pub fn remove_on_exit(work: &neardup::work::WorkDir) {
        if let Ok(mut slot) = WORK.lock() {
            *slot = work.is_owned().then(|| work.path().to_path_buf());
        }
    }

    pub fn start_writing() {
        WRITING.store(true, Ordering::SeqCst);
    }

    pub fn flag() -> &'static AtomicBool {
        &STOP
    }

    /// Test-only hook, never for users: `NEARDUP_TEST_KILL=STAGE[:N]` has
    /// the process kill itself with SIGKILL when progress stage `STAGE`
    /// (`read+sketch`, `verify`, `blocks`, …) starts, or once it has done
    /// `N` units; `staged:N` once `clean` has staged N output files. The
    /// resume tests use it to stop a run in the middle of a stage.
    pub fn kill_point() -> Option<(String, Option<u64>)> {
        let spec = std::env::var("NEARDUP_TEST_KILL").ok()?;
        Some(match spec.rsplit_once(':') {
            Some((stage, n)) => (stage.to_string(), n.parse().ok()),
            None => (spec, None),
        })
    }

    /// SIGKILL to this process: no handler, no destructor runs.
    pub fn kill_self() -> ! {
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::process::abort()
    }

    /// Hidden hooks for the interruption tests: `NEARDUP_TEST_ABORT_AFTER=N`
    /// aborts (as `kill -9` would) once N files are staged, as does
    /// `NEARDUP_TEST_KILL=staged:N` (see [`kill_point`]);
    /// `NEARDUP_TEST_STAGE_DELAY_MS=T` waits T ms after each staged file,
    /// or until a signal comes.
    pub fn test_hook() -> impl Fn(usize) + Sync {
        let number = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let abort_after = number("NEARDUP_TEST_ABORT_AFTER");
        let delay = number("NEARDUP_TEST_STAGE_DELAY_MS");
        let kill = kill_point().filter(|k| k.0 == "staged");
        move |staged: usize| {
            if abort_after == Some(staged as u64) {
                std::process::abort();
            }
            if kill.as_ref().is_some_and(|k| k.1 == Some(staged as u64)) {
                kill_self();
            }
            if let Some(ms) = delay {
                let end = std::time::Instant::now() + std::time::Duration::from_millis(ms);
                while std::time::Instant::now() < end && !STOP.load(Ordering::SeqCst) {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
    }
}

/// indicatif bars on stderr, or nothing; with `NEARDUP_TIMINGS` set, the
/// wall time of each stage on stderr (for profiling whole runs).
///
/// Each stage gets a fresh bar that is cleared when the stage finishes, or
/// when the next one starts without finishing it, so no stale line (`sketch
/// 0/5`, a frozen spinner) stays above the report. Bars are drawn only when
/// stderr is a terminal.
struct Bars {
    on: bool,
    bar: std::sync::RwLock<Option<ProgressBar>>,
    /// With `NEARDUP_TIMINGS`: the current stage.
    timings: Option<std::sync::Mutex<StageClock>>,
    /// The test-only kill point ([`interrupt::kill_point`]): armed while
    /// its stage runs, with the units done so far.
    kill: Option<(String, Option<u64>)>,
    armed: std::sync::atomic::AtomicBool,
    done: std::sync::atomic::AtomicU64,
}

/// A stage as `NEARDUP_TIMINGS` times it: its name, when it started, its
/// units and the process's CPU seconds then.
type StageClock = (&'static str, std::time::Instant, u64, Option<f64>);

impl Bars {
    fn new(on: bool) -> Bars {
        Bars {
            on,
            bar: std::sync::RwLock::new(None),
            timings: std::env::var_os("NEARDUP_TIMINGS")
                .map(|_| std::sync::Mutex::new(("", std::time::Instant::now(), 0, None))),
            kill: interrupt::kill_point(),
            armed: std::sync::atomic::AtomicBool::new(false),
            done: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Removes the current bar from the terminal.
    fn clear(&self) {
        if let Ok(mut bar) = self.bar.write() {
            if let Some(b) = bar.take() {
                b.disable_steady_tick();
                b.finish_and_clear();
            }
        }
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Bars {
    /// The work folder's peak disk use, when anything spilled there (on a
    /// terminal, or with `NEARDUP_TIMINGS`).
    fn work_peak(&self, bytes: u64) {
        if self.timings.is_some() {
            say!("neardup: timing: work folder peak {bytes} bytes");
        } else if self.on && bytes > 0 {
            say!(
                "neardup: work folder peak {:.1} MB on disk",
                bytes as f64 / 1e6
            );
        }
    }
}

impl Progress for Bars {
    fn stage(&self, name: &'static str, total: u64) {
        if let Some((stage, at)) = &self.kill {
            let here = stage == name;
            if here && at.is_none() {
                interrupt::kill_self();
            }
            self.done.store(0, std::sync::atomic::Ordering::SeqCst);
            self.armed.store(here, std::sync::atomic::Ordering::SeqCst);
        }
        if let Some(t) = &self.timings {
            if let Ok(mut t) = t.lock() {
                *t = (name, std::time::Instant::now(), total, cpu_seconds());
            }
        }
        self.clear();
        if !self.on {
            return;
        }
        // A stage with no known total (reading a stream) counts what it
        // has done next to a spinner instead of filling a bar.
        let template = if total == 0 {
            "{prefix:>12} {spinner} {human_pos} documents ({per_sec}) {elapsed}"
        } else {
            "{prefix:>12} [{bar:40}] {human_pos}/{human_len} ({per_sec}, ETA {eta}) {elapsed}"
        };
        let b = ProgressBar::with_draw_target(Some(total), indicatif::ProgressDrawTarget::stderr())
            .with_style(
                ProgressStyle::with_template(template)
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            )
            .with_prefix(name);
        if total == 0 {
            b.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        if let Ok(mut bar) = self.bar.write() {
            *bar = Some(b);
        }
    }

    fn advance(&self, n: u64) {
        if let Some((_, Some(at))) = &self.kill {
            use std::sync::atomic::Ordering;
            let done = self.done.fetch_add(n, Ordering::SeqCst) + n;
            if self.armed.load(Ordering::SeqCst) && done >= *at {
                interrupt::kill_self();
            }
        }
        if !self.on {
            return;
        }
        if let Ok(bar) = self.bar.read() {
            if let Some(b) = bar.as_ref() {
                b.inc(n);
            }
        }
    }

    fn finish(&self) {
        self.clear();
        if let Some(t) = &self.timings {
            if let Ok(t) = t.lock() {
                let wall = t.1.elapsed().as_secs_f64();
                // CPU over wall: how many cores the stage kept busy
                let cpu = match (t.3, cpu_seconds()) {
                    (Some(a), Some(b)) if wall > 0.0 => {
                        format!(", cpu {:.2}s, {:.2} cores", b - a, (b - a) / wall)
                    }
                    _ => String::new(),
                };
                say!("neardup: timing: {} {:.3}s ({} units{cpu})", t.0, wall, t.2);
            }
        }
    }
}

/// User and system CPU seconds of the whole process so far, from
/// `/proc/self/stat` (Linux; `None` elsewhere), in 10 ms ticks: what
/// `NEARDUP_TIMINGS` shows beside each stage's wall time.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // fields after the command name, which is in parentheses and may hold
    // spaces: utime and stime are the 12th and 13th
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut f = rest.split_whitespace().skip(11);
    let user: f64 = f.next()?.parse().ok()?;
    let system: f64 = f.next()?.parse().ok()?;
    Some((user + system) / 100.0)
}

/// `neardup shards`: the manifest of shards.
fn shards_cmd(args: ShardsArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    let opts = checked_scan(c)?;
    let m = neardup::shard::plan(&c.inputs, &c.ingest(), &opts, args.shard_bytes)?;
    m.write(&args.output)?;
    if !c.quiet {
        say!(
            "neardup: {} shards of {} files to {}",
            m.shards.len(),
            m.shards.iter().map(|s| s.files.len()).sum::<usize>(),
            args.output.display()
        );
    }
    Ok(exit::SUCCESS)
}

/// The manifest named by `path`, checked against the stage's options; the
/// process then works from the folder the inputs were given from (their
/// paths are read, and written, as given), so `paths` are made absolute
/// first.
fn enter_manifest(
    c: &Common,
    path: &std::path::Path,
    paths: &mut [&mut PathBuf],
) -> anyhow::Result<(neardup::shard::Manifest, ScanOptions)> {
    c.setup_threads()?;
    let opts = checked_scan(c)?;
    let m = neardup::shard::Manifest::read(path)?;
    m.check(path, &c.ingest(), &opts)?;
    for p in paths.iter_mut() {
        **p = neardup::util::absolute_path(p);
    }
    std::env::set_current_dir(&m.cwd.0).with_context(|| {
        format!(
            "cannot enter {}, where the inputs were given",
            m.cwd.0.display()
        )
    })?;
    Ok((m, opts))
}

/// The one INPUT a stage takes (the manifest, or the pairs).
fn single_input(c: &Common, what: &str) -> anyhow::Result<PathBuf> {
    match c.inputs.as_slice() {
        [one] => Ok(one.clone()),
        _ => anyhow::bail!("give one {what}, not {} paths", c.inputs.len()),
    }
}

/// A stage over one table (INPUT) of a signed corpus: the table's path,
/// the manifest and clean's options ([`enter_manifest`]; `sign` and
/// `output` made absolute as the table).
fn enter_table(
    c: &Common,
    what: &str,
    manifest: &std::path::Path,
    sign: &mut PathBuf,
    output: &mut PathBuf,
) -> anyhow::Result<(PathBuf, neardup::shard::Manifest, ScanOptions)> {
    let mut table = single_input(c, what)?;
    let (m, opts) = enter_manifest(c, manifest, &mut [&mut table, sign, output])?;
    Ok((table, m, opts))
}

/// `neardup sign`: one shard's documents, band keys and signatures.
fn sign_cmd(mut args: SignArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    let manifest = single_input(c, "manifest")?;
    let (m, opts) = enter_manifest(c, &manifest, &mut [&mut args.output])?;
    let c = &args.common;
    let signed = neardup::shard::sign::sign(&m, args.shard, &c.ingest(), &opts, &args.output)?;
    if !c.quiet {
        say!(
            "neardup: shard {}: {}",
            args.shard,
            if signed.reused {
                "signed already with these options".to_string()
            } else {
                format!("{} documents, {} band keys", signed.docs, signed.band_rows)
            }
        );
    }
    Ok(exit::SUCCESS)
}

/// `neardup verify-pairs`: edges (or similarities) of candidate pairs.
fn verify_pairs_cmd(mut args: VerifyPairsArgs) -> anyhow::Result<u8> {
    let manifest = args.manifest.clone();
    let (pairs, m, opts) = enter_table(
        &args.common,
        "table of pairs",
        &manifest,
        &mut args.sign,
        &mut args.output,
    )?;
    let c = &args.common;
    let n = neardup::shard::pairs::verify_pairs(
        &m,
        &pairs,
        &args.sign,
        &c.ingest(),
        &opts,
        args.similarity,
        &args.output,
    )?;
    if !c.quiet {
        say!("neardup: {n} edges to {}", args.output.display());
    }
    Ok(exit::SUCCESS)
}

/// `neardup block-pairs`: region pairs of seeds.
fn block_pairs_cmd(mut args: TableArgs) -> anyhow::Result<u8> {
    let manifest = args.manifest.clone();
    let (seeds, m, opts) = enter_table(
        &args.common,
        "table of seeds",
        &manifest,
        &mut args.sign,
        &mut args.output,
    )?;
    let c = &args.common;
    let n = neardup::shard::blocks::block_pairs(
        &m,
        &seeds,
        &args.sign,
        &c.ingest(),
        &opts,
        c.memory as usize,
        &args.output,
    )?;
    if !c.quiet {
        say!("neardup: {n} region pairs to {}", args.output.display());
    }
    Ok(exit::SUCCESS)
}

/// The stages of the star path.
#[derive(Debug, Clone, Copy)]
enum Star {
    Runs,
    Pairs,
    Split,
}

/// `neardup star-runs`, `star-pairs`, `star-split`.
fn star_cmd(mut args: TableArgs, step: Star) -> anyhow::Result<u8> {
    let manifest = args.manifest.clone();
    let (table, m, opts) = enter_table(
        &args.common,
        "table",
        &manifest,
        &mut args.sign,
        &mut args.output,
    )?;
    let c = &args.common;
    let ingest = c.ingest();
    let stage = neardup::shard::star::Stage {
        manifest: &m,
        signed: &args.sign,
        ingest: &ingest,
        opts: &opts,
        memory: c.memory as usize,
    };
    let (n, what) = match step {
        Star::Runs => (
            neardup::shard::star::star_runs(stage, &table, &args.output)?,
            "occurrences in runs",
        ),
        Star::Pairs => (
            neardup::shard::star::star_pairs(stage, &table, &args.output)?,
            "aligned pairs",
        ),
        Star::Split => (
            neardup::shard::star::star_split(stage, &table, &args.output)?,
            "region pairs",
        ),
    };
    if !c.quiet {
        say!("neardup: {n} {what} to {}", args.output.display());
    }
    Ok(exit::SUCCESS)
}

/// `neardup plan`: clean's plan of the whole corpus, a file a shard.
fn plan_cmd(mut args: PlanArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    let manifest = single_input(c, "manifest")?;
    let (m, opts) = enter_manifest(
        c,
        &manifest,
        &mut [
            &mut args.sign,
            &mut args.doc_clusters,
            &mut args.regions,
            &mut args.star,
            &mut args.output,
        ],
    )?;
    let c = &args.common;
    let found = neardup::shard::cuts::Found {
        doc_clusters: &args.doc_clusters,
        regions: &args.regions,
        star: &args.star,
    };
    let p = neardup::shard::cuts::plan(
        &m,
        &args.sign,
        found,
        &c.ingest(),
        &opts,
        c.memory as usize,
        &args.output,
    )?;
    if !c.quiet {
        say!(
            "neardup: {} documents dropped, {} removals planned in {}",
            p.dropped,
            p.removals,
            args.output.display()
        );
    }
    Ok(exit::SUCCESS)
}

/// `neardup apply`: a shard's cleaned files, or (`--finish`) the log and
/// the manifest of the whole output.
fn apply_cmd(mut args: ApplyArgs) -> anyhow::Result<u8> {
    let c = &args.common;
    let manifest = single_input(c, "manifest")?;
    let mut clusters = args.clusters.clone().unwrap_or_default();
    let mut plan = args.plan.clone().unwrap_or_default();
    let (m, opts) = enter_manifest(
        c,
        &manifest,
        &mut [&mut args.output, &mut clusters, &mut plan],
    )?;
    let c = &args.common;
    let ingest = c.ingest();
    let plan = args.plan.is_some().then_some(plan.as_path());
    match args.shard {
        Some(n) if !args.finish => {
            let from = match plan {
                Some(dir) => neardup::shard::apply::From::Plan(dir),
                None => neardup::shard::apply::From::Clusters(&clusters),
            };
            let how = args.output_compression.into();
            let applied =
                neardup::shard::apply::apply(&m, n, from, &ingest, &opts, how, &args.output)?;
            if !c.quiet {
                say!(
                    "neardup: shard {n}: {} files written, {} documents removed",
                    applied.files_written,
                    applied.documents_removed
                );
            }
        }
        _ => {
            let s = neardup::shard::apply::finish(&m, plan, &ingest, &opts, &args.output)?;
            if !c.quiet {
                say!(
                    "neardup: {} removals in {}",
                    s.documents_removed,
                    s.log.display()
                );
            }
        }
    }
    Ok(exit::SUCCESS)
}
