//! JSON: the models themselves, through serde (`neardup.report/1`,
//! `neardup.variants/1`), so no field is mirrored by hand.

use std::io::{self, Write};

use super::Report;
use crate::variants::Variants;

/// Clusters rendered at a time, in parallel, by [`render`]: a bounded
/// piece of the report held rendered at once.
const CLUSTERS_AT_ONCE: usize = 4096;

/// Below this many clusters the report is rendered in one piece.
const PARALLEL_FROM: usize = 256;

/// The report as [`pretty`] writes it, its clusters rendered in parallel
/// (the printer is otherwise the last single-threaded step of a scan:
/// ~0.1 s of a 100k-document run). Each cluster is rendered on its own and
/// indented to its depth (JSON strings hold no raw line break, so every
/// line break is one the printer made) and spliced into the rest, rendered
/// with no clusters: the bytes are those of rendering the whole.
pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    use rayon::prelude::*;
    if report.clusters.len() < PARALLEL_FROM {
        return pretty(report, out);
    }
    let head = Report {
        schema: report.schema,
        params: report.params.clone(),
        summary: report.summary.clone(),
        clusters: Vec::new(),
        skipped: report.skipped.clone(),
    };
    let mut rest = Vec::new();
    pretty(&head, &mut rest)?;
    // the field at depth 1, at the start of its line
    const EMPTY: &[u8] = b"\n  \"clusters\": []";
    let at = memchr::memmem::find(&rest, EMPTY)
        .ok_or_else(|| io::Error::other("clusters missing from the rendered report"))?;
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    out.write_all(&rest[..at + EMPTY.len() - 1])?;
    for (i, chunk) in report.clusters.chunks(CLUSTERS_AT_ONCE).enumerate() {
        let parts: Vec<Vec<u8>> = chunk
            .par_iter()
            .map(|c| {
                let mut one = Vec::new();
                serde_json::to_writer_pretty(&mut one, c).map_err(io::Error::other)?;
                Ok(indented(&one))
            })
            .collect::<io::Result<_>>()?;
        for (j, part) in parts.iter().enumerate() {
            out.write_all(if i + j == 0 { b"\n" } else { b",\n" })?;
            out.write_all(part)?;
        }
    }
    out.write_all(b"\n  ]")?;
    out.write_all(&rest[at + EMPTY.len()..])?;
    out.flush()
}

/// `json` (a value the pretty printer wrote at depth 0) as it writes it
/// as an element of the report's clusters, at depth 2: four spaces more at
/// the start of each line.
fn indented(json: &[u8]) -> Vec<u8> {
    const PAD: &[u8] = b"    ";
    let lines = memchr::memchr_iter(b'\n', json).count();
    let mut out = Vec::with_capacity(json.len() + PAD.len() * (lines + 1));
    out.extend_from_slice(PAD);
    let mut from = 0;
    for nl in memchr::memchr_iter(b'\n', json) {
        out.extend_from_slice(&json[from..=nl]);
        out.extend_from_slice(PAD);
        from = nl + 1;
    }
    out.extend_from_slice(&json[from..]);
    out
}

pub(super) fn render_variants(v: &Variants, out: &mut dyn Write) -> io::Result<()> {
    pretty(v, out)
}

/// `value` as indented JSON and a line break. serde writes a token at a
/// time (a quote, a comma, an indent); through a buffer each is a copy,
/// not a call through `dyn Write`: twice as fast on a 77 MB report.
fn pretty<T: serde::Serialize>(value: &T, out: &mut dyn Write) -> io::Result<()> {
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    serde_json::to_writer_pretty(&mut out, value).map_err(io::Error::other)?;
    writeln!(out)?;
    out.flush()
}
