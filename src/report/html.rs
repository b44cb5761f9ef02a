//! A self-contained HTML report: inline CSS, every string escaped.

use std::io::{self, Write};

use super::{ClusterKind, Report};
use crate::variants::Run;

pub(super) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            _ => o.push(c),
        }
    }
    o
}

/// A diff side by side: the kept (first) text with its deletions marked,
/// and the other with its insertions, as two HTML fragments.
pub(super) fn side_by_side(runs: &[Run]) -> (String, String) {
    let (mut left, mut right) = (String::new(), String::new());
    for run in runs {
        match run {
            Run::Equal(t) => {
                left.push_str(&esc(t));
                right.push_str(&esc(t));
            }
            Run::Delete(t) => left.push_str(&format!("<del>{}</del>", esc(t))),
            Run::Insert(t) => right.push_str(&format!("<ins>{}</ins>", esc(t))),
        }
    }
    (left, right)
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>neardup report</title><style>\
         body{{font-family:sans-serif;margin:2em;max-width:70em}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}}\
         .keep{{background:#e8f5e9}}.low{{color:#b71c1c}}h2{{font-size:1.1em;margin-top:2em}}\
         del{{background:#ffcdd2;text-decoration:none}}ins{{background:#c8e6c9;text-decoration:none}}\
         .diff td{{white-space:pre-wrap;width:50%}}</style></head><body>"
    )?;
    let s = &report.summary;
    writeln!(
        out,
        "<h1>neardup report</h1><p>{} documents in {} inputs; {} document clusters ({} duplicate documents); \
         {} block clusters ({} duplicate copies); {} bytes removable.</p>",
        s.documents, s.inputs, s.document_clusters, s.duplicate_documents, s.block_clusters, s.duplicate_blocks, s.bytes_removable
    )?;
    for c in &report.clusters {
        let kind = match c.kind {
            ClusterKind::Document => "document",
            ClusterKind::Block => "block",
        };
        writeln!(
            out,
            "<h2 id=\"c{id}\">{kind} cluster {id}: {n} copies, {chars} chars, similarity {lo:.3}–{hi:.3}</h2>\
             <table><tr><th></th><th>location</th><th>similarity</th><th>text</th></tr>",
            id = c.id,
            n = c.members.len(),
            chars = c.chars,
            lo = c.similarity[0],
            hi = c.similarity[1]
        )?;
        for (i, m) in c.members.iter().enumerate() {
            let class = if i == c.keep { " class=\"keep\"" } else { "" };
            writeln!(
                out,
                "<tr{class}><td>{}</td><td>{}:{}-{} (bytes {}–{})</td><td>{:.3}</td><td>{}</td></tr>",
                if i == c.keep { "keep" } else { "dup" },
                esc(&m.path),
                m.lines[0],
                m.lines[1],
                m.bytes[0],
                m.bytes[1],
                m.similarity,
                esc(&m.preview)
            )?;
            if let Some(runs) = &m.diff {
                let (left, right) = side_by_side(runs);
                writeln!(
                    out,
                    "<tr><td></td><td colspan=\"3\"><details><summary>diff from the kept copy</summary>\
                     <table class=\"diff\"><tr><td>{left}</td><td>{right}</td></tr></table></details></td></tr>"
                )?;
            }
        }
        writeln!(out, "</table>")?;
    }
    writeln!(out, "</body></html>")
}
