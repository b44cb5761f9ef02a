//! The terminal report.

use std::io::{self, Write};

use super::{Cluster, ClusterKind, RenderOptions, Report};

pub(super) struct Style {
    pub(super) on: bool,
}

impl Style {
    pub(super) fn paint(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

pub(super) fn render(report: &Report, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let st = Style { on: opts.color };
    for c in &report.clusters {
        cluster(c, &st, out)?;
        writeln!(out)?;
    }
    let s = &report.summary;
    writeln!(
        out,
        "{} {} documents in {} inputs; {} document clusters ({} duplicate documents); \
         {} block clusters ({} duplicate copies); {} bytes removable{}",
        st.paint("1", "summary:"),
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
        }
    )?;
    for sk in &report.skipped {
        writeln!(out, "skipped: {}", sk.error)?;
    }
    Ok(())
}

fn cluster(c: &Cluster, st: &Style, out: &mut dyn Write) -> io::Result<()> {
    let kind = match c.kind {
        ClusterKind::Document => "document",
        ClusterKind::Block => "block",
    };
    let [lo, hi] = c.similarity;
    let sim = if (hi - lo).abs() < 5e-4 {
        format!("{lo:.3}")
    } else {
        format!("{lo:.3}-{hi:.3}")
    };
    writeln!(
        out,
        "{} {} copies, {} chars, similarity {}{}",
        st.paint("1;36", &format!("{kind} cluster {}:", c.id)),
        c.members.len(),
        c.chars,
        sim,
        if c.all_above_threshold {
            ""
        } else {
            " (some members below threshold to the kept copy)"
        }
    )?;
    for (i, m) in c.members.iter().enumerate() {
        let mark = if i == c.keep {
            st.paint("32", "keep")
        } else {
            st.paint("31", " dup")
        };
        let loc = match m.record {
            Some(r) => format!("{}:{r} [{}]", m.path, m.doc),
            None => format!("{}:{}-{}", m.path, m.lines[0], m.lines[1]),
        };
        let sim = if i == c.keep {
            String::new()
        } else {
            format!(" ({:.3})", m.similarity)
        };
        writeln!(out, "  {mark} {loc}{sim}  {}", st.paint("2", &m.preview))?;
    }
    Ok(())
}
