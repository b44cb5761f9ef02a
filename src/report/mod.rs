//! REPORT: one model ([`Report`]), several renderers.
//!
//! The pipeline builds the [`Report`] once; [`render`] writes it as text
//! (for people), JSON (the stable `neardup.report/1` schema, straight from
//! the model with serde so no field is mirrored by hand) or HTML (one
//! self-contained file). Renderers stream into any `io::Write`.

mod html;
mod model;
mod text;
mod variants;

pub use model::{Cluster, ClusterKind, Member, Params, Report, Summary, SCHEMA};
pub use variants::render_variants;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Corpus;
    use crate::pipeline::{scan, NoProgress, ScanOptions};

    fn report() -> Report {
        let body = "今天我们召开的这次会议<是>一次十分重要的会议&要求各地抓好落实。".repeat(12);
        let corpus = Corpus::from_texts(&[body.clone(), body]);
        scan(&corpus, &ScanOptions::default(), &NoProgress).unwrap()
    }

    fn rendered(r: &Report, f: Format) -> String {
        let mut out = Vec::new();
        render(r, f, &RenderOptions::default(), &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_renderer_shows_the_same_clusters() {
        let r = report();
        assert_eq!(r.summary.duplicate_documents, 1);
        let json: serde_json::Value = serde_json::from_str(&rendered(&r, Format::Json)).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["clusters"][0]["kind"], "document");
        assert_eq!(json["clusters"][0]["members"][1]["doc"], "doc1");
        assert!(json["clusters"][0]["members"][0].get("doc_index").is_none());
        let text = rendered(&r, Format::Text);
        assert!(text.contains("document cluster 1: 2 copies"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colour unless asked");
        let html = rendered(&r, Format::Html);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("document cluster 1: 2 copies"));
        assert!(
            html.contains("&lt;是&gt;") && !html.contains("<是>"),
            "text is escaped"
        );
    }
}
