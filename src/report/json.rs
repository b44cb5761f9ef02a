//! JSON: the models themselves, through serde (`neardup.report/1`,
//! `neardup.variants/1`), so no field is mirrored by hand.

use std::io::{self, Write};

use super::Report;
use crate::variants::Variants;

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, report).map_err(io::Error::other)?;
    writeln!(out)
}

pub(super) fn render_variants(v: &Variants, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, v).map_err(io::Error::other)?;
    writeln!(out)
}
