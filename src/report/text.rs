//! Text for a terminal: the scan report (one block per cluster, then the
//! summary) and the diff views (a unified diff with context, or the
//! template). Every string from a document or a path goes through
//! [`escape_controls`], so nothing a corpus holds reaches the terminal raw.

use std::io::{self, Write};

use console::{measure_text_width, truncate_str};

use super::{
    contained, escape_controls, kind_name, location, similarity_note, similarity_range,
    summary_line, Cluster, RenderOptions, Report, BELOW_THRESHOLD,
};
use crate::hunks::{Line, Split};
use crate::variants::{Part, Variants};

struct Style {
    on: bool,
}

impl Style {
    fn paint(&self, code: &str, s: &str) -> String {
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
        cluster(report, c, &st, opts.width, out)?;
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} {}",
        st.paint("1", "summary:"),
        summary_line(&report.summary)
    )?;
    for sk in &report.skipped {
        writeln!(out, "skipped: {}", escape_controls(&sk.error))?;
    }
    Ok(())
}

fn cluster(
    report: &Report,
    c: &Cluster,
    st: &Style,
    width: Option<usize>,
    out: &mut dyn Write,
) -> io::Result<()> {
    let kind = if c.boilerplate {
        "boilerplate"
    } else {
        kind_name(c.kind)
    };
    let in_docs = if c.boilerplate {
        format!(" in {} documents", c.documents)
    } else {
        String::new()
    };
    writeln!(
        out,
        "{} {} copies{in_docs}, {} chars, similarity {}{}",
        st.paint("1;36", &format!("{kind} cluster {}:", c.id)),
        c.members.len(),
        c.chars,
        similarity_range(c),
        if c.all_above_threshold {
            String::new()
        } else {
            format!(" ({BELOW_THRESHOLD})")
        }
    )?;
    // Boilerplate is shown by its kept copy and a few others; every copy
    // is in the JSON and HTML reports.
    let shown = if c.boilerplate {
        BOILERPLATE_SHOWN
    } else {
        c.members.len()
    };
    for (i, m) in c.members.iter().enumerate() {
        if i >= shown && i != c.keep {
            continue;
        }
        let mark = if i == c.keep { "keep" } else { " dup" };
        let mut loc = location(m, c.kind);
        if m.record.is_some() {
            loc.push_str(&format!(" [{}]", m.doc));
        }
        // (similarity_note's wording, its brackets folded into these)
        let sim = match i == c.keep {
            true if c.keep_reason != "first" => format!(" (kept: {})", c.keep_reason),
            true => String::new(),
            false if contained(m, &report.params) => format!(" ({:.3}, contained)", m.similarity),
            false => format!(" ({})", similarity_note(m, &report.params)),
        };
        // what follows the mark, up to the preview
        let rest = format!(" {}{sim}  ", escape_controls(&loc));
        let preview = escape_controls(&m.preview);
        // the preview takes what the line leaves, at least a few characters
        let preview = match width {
            Some(w) => truncate_str(
                &preview,
                w.saturating_sub(2 + mark.len() + measure_text_width(&rest))
                    .max(12),
                "…",
            )
            .into_owned(),
            None => preview.into_owned(),
        };
        let mark = st.paint(if i == c.keep { "32" } else { "31" }, mark);
        writeln!(out, "  {mark}{rest}{}", st.paint("2", &preview))?;
    }
    let hidden = c.members.len() - shown.min(c.members.len());
    let hidden = hidden - usize::from(c.keep >= shown && hidden > 0);
    if hidden > 0 {
        writeln!(
            out,
            "  … and {hidden} more copies (every copy: --format json or html)"
        )?;
    }
    Ok(())
}

/// Copies a text report lists of a boilerplate cluster.
const BOILERPLATE_SHOWN: usize = 5;

pub(super) fn render_variants(
    v: &Variants,
    opts: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let st = Style { on: opts.color };
    for (i, s) in v.sources.iter().enumerate() {
        writeln!(
            out,
            "{} {} ({} chars, similarity {:.3})",
            st.paint("1", &format!("[{}]", i + 1)),
            escape_controls(&s.label),
            s.chars,
            s.similarity
        )?;
    }
    writeln!(out)?;
    if let Some(split) = &v.split {
        return unified(split, opts.context, &st, out);
    }
    for part in &v.template {
        match part {
            Part::Skeleton { text } => writeln!(out, "{}", escape_controls(text.trim_end()))?,
            Part::Slot { texts } => {
                for (i, t) in texts.iter().enumerate() {
                    let line = format!("  [{}] {}", i + 1, one_line(t));
                    writeln!(out, "{}", st.paint("33", &escape_controls(&line)))?;
                }
            }
        }
    }
    Ok(())
}

/// The rows as a unified diff with `context` unchanged lines around each
/// change (`diff -U`); changed characters inside a line marked `[-…-]` and
/// `{+…+}` (wdiff's markers, so the diff reads the same without colour).
fn unified(split: &Split, context: usize, st: &Style, out: &mut dyn Write) -> io::Result<()> {
    if split.identical() {
        return writeln!(out, "identical after normalisation");
    }
    writeln!(
        out,
        "{} {}",
        split.changes,
        if split.changes == 1 {
            "change"
        } else {
            "changes"
        }
    )?;
    let mut shown = 0;
    for h in split.hunks(context) {
        if h.start > shown {
            writeln!(out, "{}", st.paint("2", &unchanged(h.start - shown)))?;
        }
        let rows = &split.rows[h.clone()];
        let span = |left: bool| {
            let lines: Vec<u64> = rows
                .iter()
                .filter_map(|r| if left { &r.left } else { &r.right }.as_ref())
                .map(|l| l.number)
                .collect();
            match (lines.first(), lines.len()) {
                (Some(f), n) => format!("{f},{n}"),
                (None, _) => "0,0".into(),
            }
        };
        writeln!(
            out,
            "{}",
            st.paint("36", &format!("@@ -{} +{} @@", span(true), span(false)))
        )?;
        let mut i = 0;
        while i < rows.len() {
            if !rows[i].changed() {
                if let Some(l) = &rows[i].left {
                    writeln!(out, " {}", escape_controls(&l.text()))?;
                }
                i += 1;
                continue;
            }
            // a change: its old lines, then its new lines
            let end = (i..rows.len())
                .find(|&k| !rows[k].changed())
                .unwrap_or(rows.len());
            for r in &rows[i..end] {
                if let Some(l) = &r.left {
                    writeln!(out, "{}", marked(l, '-', st))?;
                }
            }
            for r in &rows[i..end] {
                if let Some(l) = &r.right {
                    writeln!(out, "{}", marked(l, '+', st))?;
                }
            }
            i = end;
        }
        shown = h.end;
    }
    if shown < split.rows.len() {
        writeln!(
            out,
            "{}",
            st.paint("2", &unchanged(split.rows.len() - shown))
        )?;
    }
    Ok(())
}

/// The line standing for `n` folded rows.
fn unchanged(n: usize) -> String {
    format!("⋯ {n} unchanged {}", if n == 1 { "line" } else { "lines" })
}

/// A line of a change, its changed pieces marked.
fn marked(l: &Line, sign: char, st: &Style) -> String {
    let (colour, open, close, strong) = if sign == '-' {
        ("31", "[-", "-]", "1;37;41")
    } else {
        ("32", "{+", "+}", "1;37;42")
    };
    let mut s = String::new();
    for seg in &l.segs {
        let t = escape_controls(&seg.text);
        if !seg.changed {
            s.push_str(&st.paint(colour, &t));
        } else if st.on {
            s.push_str(&st.paint(strong, &t));
        } else {
            s.push_str(&format!("{open}{t}{close}"));
        }
    }
    format!("{}{s}", st.paint(colour, &sign.to_string()))
}

/// A slot's text on one line: line breaks shown as ⏎.
fn one_line(t: &str) -> String {
    let t = t.trim();
    if t.is_empty() {
        return "∅".into();
    }
    t.replace("\r\n", "⏎").replace('\n', "⏎")
}
