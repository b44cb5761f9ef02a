//! Renderers of [`Variants`] (`neardup diff`): the terminal diff or
//! template view, and a self-contained HTML page; JSON is the model itself.

use std::io::{self, Write};

use super::html::{esc, side_by_side};
use super::text::Style;
use super::RenderOptions;
use crate::variants::{Part, Run, Variants};

/// Writes `v` in `format` (text, JSON or HTML).
///
/// # Errors
///
/// Whatever the writer returns.
pub fn render_variants<W: Write>(
    v: &Variants,
    format: super::Format,
    opts: &RenderOptions,
    mut out: W,
) -> io::Result<()> {
    match format {
        super::Format::Text => text(v, opts, &mut out),
        super::Format::Json => {
            serde_json::to_writer_pretty(&mut out, v).map_err(io::Error::other)?;
            writeln!(out)
        }
        super::Format::Html => html(v, &mut out),
    }
}

fn text(v: &Variants, opts: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let st = Style { on: opts.color };
    for (i, s) in v.sources.iter().enumerate() {
        writeln!(
            out,
            "{} {} ({} chars, similarity {:.3})",
            st.paint("1", &format!("[{}]", i + 1)),
            s.label,
            s.chars,
            s.similarity
        )?;
    }
    writeln!(out)?;
    if let Some(diff) = &v.diff {
        // wdiff markers, so the diff reads the same without colour
        for run in diff {
            match run {
                Run::Equal(t) => write!(out, "{t}")?,
                Run::Delete(t) => write!(out, "{}", st.paint("31", &format!("[-{t}-]")))?,
                Run::Insert(t) => write!(out, "{}", st.paint("32", &format!("{{+{t}+}}")))?,
            }
        }
        return writeln!(out);
    }
    for part in &v.template {
        match part {
            Part::Skeleton { text } => writeln!(out, "{}", text.trim_end())?,
            Part::Slot { texts } => {
                for (i, t) in texts.iter().enumerate() {
                    let label = format!("  [{}] ", i + 1);
                    writeln!(
                        out,
                        "{}{}",
                        st.paint("33", &label),
                        st.paint("33", one_line(t).as_str())
                    )?;
                }
            }
        }
    }
    Ok(())
}

/// A slot's text on one line: line breaks shown as ⏎.
fn one_line(t: &str) -> String {
    let t = t.trim();
    if t.is_empty() {
        return "∅".into();
    }
    t.replace("\r\n", "⏎").replace('\n', "⏎")
}

fn html(v: &Variants, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>neardup diff</title><style>\
         body{{font-family:sans-serif;margin:2em}}\
         table{{border-collapse:collapse;width:100%;table-layout:fixed}}td,th{{border:1px solid #ccc;padding:.4em;vertical-align:top;white-space:pre-wrap}}\
         del{{background:#ffcdd2;text-decoration:none}}ins{{background:#c8e6c9;text-decoration:none}}\
         .skel{{background:#eceff1;white-space:pre-wrap;padding:.4em;margin:.3em 0}}</style></head><body>\
         <h1>neardup diff</h1><ol>"
    )?;
    for s in &v.sources {
        writeln!(
            out,
            "<li>{} — {} chars, similarity {:.3}</li>",
            esc(&s.label),
            s.chars,
            s.similarity
        )?;
    }
    writeln!(out, "</ol>")?;
    if let Some(diff) = &v.diff {
        let (left, right) = side_by_side(diff);
        writeln!(
            out,
            "<table><tr><th>[1] {}</th><th>[2] {}</th></tr><tr><td>{left}</td><td>{right}</td></tr></table>",
            esc(&v.sources[0].label),
            esc(&v.sources[1].label)
        )?;
    } else {
        writeln!(out, "<h2>Template: shared skeleton and slots</h2>")?;
        for part in &v.template {
            match part {
                Part::Skeleton { text } => {
                    writeln!(out, "<div class=\"skel\">{}</div>", esc(text))?
                }
                Part::Slot { texts } => {
                    write!(out, "<table>")?;
                    for (i, t) in texts.iter().enumerate() {
                        write!(
                            out,
                            "<tr><th style=\"width:3em\">[{}]</th><td>{}</td></tr>",
                            i + 1,
                            esc(t)
                        )?;
                    }
                    writeln!(out, "</table>")?;
                }
            }
        }
    }
    writeln!(out, "</body></html>")
}
