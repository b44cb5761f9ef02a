//! REPORT: one model per command, one renderer per format.
//!
//! The pipeline builds the scan [`Report`] once, and `neardup diff` builds a
//! [`Variants`] model; each format renders both, in its own file (after
//! hyperfine's `src/export/`): [`text`](self) for people at a terminal,
//! JSON (the stable `neardup.report/1` and `neardup.variants/1` schemas,
//! straight from the models with serde so no field is mirrored by hand),
//! and HTML (one self-contained page). The wording the formats share (the
//! summary line, kind names, locations, similarities) is written once here,
//! so the formats cannot drift. Renderers stream into any `io::Write`.

mod html;
mod json;
mod model;
mod text;

pub use model::{Cluster, ClusterKind, Member, Params, ReferenceSummary, Report, Summary, SCHEMA};

use std::io::Write;

use crate::variants::Variants;

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, schema `neardup.report/1` (or `neardup.variants/1`).
    Json,
    /// A self-contained HTML page.
    Html,
}

/// Options that change how a report looks, not what it says.
#[derive(Debug, Clone, Copy)]
pub struct RenderOptions {
    /// ANSI colours in the text report.
    pub color: bool,
    /// Terminal width in columns: previews are cut to fit (none: not cut).
    pub width: Option<usize>,
    /// Unchanged lines shown around each change in a text diff (`diff -U`).
    pub context: usize,
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            color: false,
            width: None,
            context: 3,
        }
    }
}

/// Writes the scan `report` in `format`.
///
/// # Errors
///
/// Whatever the writer returns.
pub fn render<W: Write>(
    report: &Report,
    format: Format,
    opts: &RenderOptions,
    mut out: W,
) -> std::io::Result<()> {
    match format {
        Format::Text => text::render(report, opts, &mut out),
        Format::Json => json::render(report, &mut out),
        Format::Html => html::render(report, &mut out),
    }
}

/// Writes the comparison `v` (`neardup diff`) in `format`.
///
/// # Errors
///
/// Whatever the writer returns.
pub fn render_variants<W: Write>(
    v: &Variants,
    format: Format,
    opts: &RenderOptions,
    mut out: W,
) -> std::io::Result<()> {
    match format {
        Format::Text => text::render_variants(v, opts, &mut out),
        Format::Json => json::render_variants(v, &mut out),
        Format::Html => html::render_variants(v, &mut out),
    }
}

/// Control characters (C0 but tab and line feed, DEL, C1) as visible
/// escapes (`\x1b`, `\u{9b}`), as ripgrep and git show them: a scraped
/// document must not retitle or recolour the reader's terminal. `\r` is
/// escaped too, as it would overwrite the line.
pub fn escape_controls(s: &str) -> std::borrow::Cow<'_, str> {
    let bad = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !s.chars().any(bad) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => o.push_str("\\r"),
            c if bad(c) && (c as u32) < 0x80 => o.push_str(&format!("\\x{:02x}", c as u32)),
            c if bad(c) => o.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => o.push(c),
        }
    }
    std::borrow::Cow::Owned(o)
}

/// Name of a cluster kind, as every format writes it.
pub(crate) fn kind_name(k: ClusterKind) -> &'static str {
    match k {
        ClusterKind::Document => "document",
        ClusterKind::Block => "block",
    }
}

/// The summary sentence every format shows.
pub(crate) fn summary_line(s: &Summary) -> String {
    format!(
        "{} documents in {} inputs; {} document clusters ({} duplicate documents); \
         {} block clusters ({} duplicate copies); {} bytes removable{}{}",
        s.documents,
        s.inputs,
        s.document_clusters,
        s.duplicate_documents,
        s.block_clusters,
        s.duplicate_blocks,
        s.bytes_removable,
        if s.skipped > 0 {
            format!("; {} inputs skipped", s.skipped)
        } else {
            String::new()
        },
        if s.binary_skipped > 0 {
            format!("; {} binary files skipped", s.binary_skipped)
        } else {
            String::new()
        }
    ) + &s.reference.as_ref().map_or(String::new(), |r| {
        format!(
            "; reference: {} documents in {} inputs, duplicated by {} documents and {} block copies",
            r.documents, r.inputs, r.duplicate_documents, r.duplicate_blocks
        )
    })
}

/// The warning on a cluster with a member below the threshold to the kept copy.
pub(crate) const BELOW_THRESHOLD: &str = "some members below threshold to the kept copy";

/// A cluster's similarity range: `0.953`, or `0.901-0.987`.
pub(crate) fn similarity_range(c: &Cluster) -> String {
    let [lo, hi] = c.similarity;
    if (hi - lo).abs() < 5e-4 {
        format!("{lo:.3}")
    } else {
        format!("{lo:.3}-{hi:.3}")
    }
}

/// Where a copy is, in the syntax `neardup diff` reads: `FILE:FIRST-LAST`
/// (lines of a text file), `FILE:LINE` (a whole JSONL record) or
/// `FILE:LINE@START-END` (bytes of a JSONL record's text: a block inside it).
pub(crate) fn location(m: &Member, kind: ClusterKind) -> String {
    match (m.record, kind) {
        (Some(r), ClusterKind::Document) => format!("{}:{r}", m.path),
        (Some(r), ClusterKind::Block) => format!("{}:{r}@{}-{}", m.path, m.bytes[0], m.bytes[1]),
        (None, _) => format!("{}:{}-{}", m.path, m.lines[0], m.lines[1]),
    }
}

/// True for a block copy that joined its cluster because the kept copy
/// holds most of it (its containment is above the block threshold), though
/// they are not similar as wholes: a low similarity that is not a mistake.
pub(crate) fn contained(m: &Member, params: &Params) -> bool {
    m.containment
        .is_some_and(|c| m.similarity < params.block_threshold && c >= params.block_threshold)
}

/// A copy's similarity to the kept one: `0.953`, or `0.556 (contained)`
/// (see [`contained`]).
pub(crate) fn similarity_note(m: &Member, params: &Params) -> String {
    if contained(m, params) {
        format!("{:.3} (contained)", m.similarity)
    } else {
        format!("{:.3}", m.similarity)
    }
}

/// The command that shows a copy's diff from the kept copy.
pub(crate) fn diff_command(c: &Cluster, i: usize) -> String {
    format!(
        "neardup diff {} {}",
        shell_quote(&location(&c.members[c.keep], c.kind)),
        shell_quote(&location(&c.members[i], c.kind))
    )
}

fn shell_quote(s: &str) -> String {
    if s.chars()
        .all(|c| c.is_alphanumeric() || "/._-:@,+".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests;
