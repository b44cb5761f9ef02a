//! JSON: the models themselves, through serde (`neardup.report/1`,
//! `neardup.variants/1`), so no field is mirrored by hand.

use std::io::{self, Write};

use super::Report;
use crate::variants::Variants;

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    pretty(report, out)
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
