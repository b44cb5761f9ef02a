//! REPORT: one model ([`Report`]), several renderers.
//!
//! The pipeline builds the [`Report`] once; [`render`] writes it as text
//! (for people), JSON (the stable `neardup.report/1` schema, straight from
//! the model with serde so no field is mirrored by hand) or HTML (one
//! self-contained file). Renderers stream into any `io::Write`.

mod html;
mod model;
mod text;

pub use model::{Cluster, ClusterKind, Member, Params, Report, Summary, SCHEMA};

use std::io::Write;

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Human-readable text.
    #[default]
    Text,
    /// JSON, schema `neardup.report/1`.
    Json,
    /// A self-contained HTML page.
    Html,
}

/// Options that change how a report looks, not what it says.
#[derive(Debug, Clone, Copy, Default)]
pub struct RenderOptions {
    /// ANSI colours in the text report.
    pub color: bool,
}

/// Writes `report` in `format`.
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
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::other)?;
            writeln!(out)
        }
        Format::Html => html::render(report, &mut out),
    }
}
