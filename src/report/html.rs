//! HTML: one self-contained page per report, no network. Every string from
//! a document or a path is escaped; a Content-Security-Policy that allows
//! only the page's own script (by its hash) is the second line of defence.
//!
//! The scan report is a summary dashboard (totals, charts, per-file counts,
//! warnings) drawn here, and a table of contents and cluster view that a
//! few KB of script (`report.js`) draw from one embedded JSON blob when
//! asked: a report of 100,000 clusters stays one page that opens in
//! seconds. Diffs go in the blob as aligned rows ([`split_json`]), drawn
//! side by side when a reader opens them, by the same script that draws the
//! `neardup diff` page.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{
    diff_command, kind_name, location, similarity_note, similarity_range, summary_line, Report,
    BELOW_THRESHOLD,
};
use crate::hunks::{Line, Split};
use crate::variants::{Part, Variants};

const CSS: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("report.js");

/// Unchanged lines shown around each change before the rest is folded.
const CONTEXT: usize = 3;

/// Text escaped for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            // control characters would be invisible or break the page
            c if c.is_control() && c != '\n' && c != '\t' => {
                let _ = write!(o, "\u{fffd}");
            }
            _ => o.push(c),
        }
    }
    o
}

/// `zh` when the texts shown are Chinese (so the browser picks CJK glyphs
/// the way a Chinese reader expects), else `en`.
fn lang<'a>(mut texts: impl Iterator<Item = &'a str>) -> &'static str {
    if texts.any(|t| t.chars().any(crate::normalize::is_cjk)) {
        "zh"
    } else {
        "en"
    }
}

fn head(out: &mut dyn Write, title: &str, lang: &str, script: Option<&str>) -> io::Result<()> {
    let script_src = match script {
        Some(s) => format!("'sha256-{}'", base64(&sha256(s.as_bytes()))),
        None => "'none'".into(),
    };
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"{lang}\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; script-src {script_src}; img-src data:; \
         base-uri 'none'; form-action 'none'\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"generator\" content=\"neardup {}\">\
         <title>{}</title><style>{CSS}</style></head>\n<body>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

/// A diff for the page's script to draw side by side (`diff` in
/// `report.js`): the rows of the [`Split`], compactly (a row whose sides
/// read the same holds the text once), the row ranges shown around the
/// changes (the rest is folded), and the headers naming each side.
fn split_json(split: &Split, headers: [&str; 2]) -> serde_json::Value {
    use serde_json::{json, Value};
    if split.identical() {
        return json!({"n": 0, "lines": split.rows.len()});
    }
    let number = |l: Option<&Line>| l.map_or(0, |l| l.number);
    // pieces alternating unchanged and changed, starting unchanged
    let pieces = |l: Option<&Line>| -> Value {
        let mut out: Vec<String> = vec![String::new()];
        for seg in l.map_or(&[][..], |l| &l.segs[..]) {
            if out.len().is_multiple_of(2) != seg.changed {
                out.push(String::new());
            }
            if let Some(last) = out.last_mut() {
                last.push_str(&seg.text);
            }
        }
        json!(out)
    };
    let rows: Vec<Value> = split
        .rows
        .iter()
        .map(|r| {
            let (l, rt) = (r.left.as_ref(), r.right.as_ref());
            let n = [number(l), number(rt)];
            if r.changed() {
                return json!([n[0], n[1], pieces(l), pieces(rt), 1]);
            }
            match (l, rt) {
                (Some(a), Some(b)) if a.text() == b.text() => json!([n[0], n[1], a.text()]),
                _ => json!([n[0], n[1], pieces(l), pieces(rt)]),
            }
        })
        .collect();
    let shown: Vec<[usize; 2]> = split
        .hunks(CONTEXT)
        .into_iter()
        .map(|h| [h.start, h.end])
        .collect();
    json!({"n": split.changes, "h": headers, "r": rows, "s": shown})
}

/// The blob the script reads, in a script element it cannot close.
fn blob(out: &mut dyn Write, value: &serde_json::Value) -> io::Result<()> {
    writeln!(
        out,
        "<script type=\"application/json\" id=\"data\">{}</script>",
        json_text(value)
    )
}

pub(super) fn render(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let previews = report
        .clusters
        .iter()
        .flat_map(|c| c.members.iter().map(|m| m.preview.as_str()));
    head(out, "neardup report", lang(previews), Some(SCRIPT))?;
    let s = &report.summary;
    let params = serde_json::to_value(&report.params).unwrap_or_default();
    let params: Vec<String> = params
        .as_object()
        .map(|o| o.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default();
    writeln!(
        out,
        "<h1>neardup report</h1><p class=\"meta\">neardup {} · schema {} · options: <code>{}</code></p>\
         <p>{}.</p>",
        env!("CARGO_PKG_VERSION"),
        report.schema,
        esc(&params.join(" ")),
        esc(&summary_line(s))
    )?;
    dashboard(report, out)?;
    warnings(report, out)?;
    let mut kinds: Vec<&str> = report.clusters.iter().map(|c| kind_name(c.kind)).collect();
    kinds.sort_unstable();
    kinds.dedup();
    let kinds: String = kinds
        .iter()
        .map(|k| format!("<option>{k}</option>"))
        .collect();
    writeln!(
        out,
        "<h2>Clusters</h2><noscript><p class=\"warn\">The table of contents and the \
         clusters are drawn by the page's script; with scripts off, \
         <code>neardup scan --format text</code> gives the same report.</p></noscript>\
         <div class=\"filters\"><label>kind<select id=\"f-kind\"><option value=\"\">all</option>{kinds}</select></label>\
         <label>similarity ≥<input id=\"f-sim\" type=\"number\" min=\"0\" max=\"1\" step=\"0.01\" value=\"0\"></label>\
         <label>copies ≥<input id=\"f-copies\" type=\"number\" min=\"2\" step=\"1\" value=\"2\"></label>\
         <label>path contains<input id=\"f-path\" type=\"search\"></label>\
         <label><span><input id=\"f-below\" type=\"checkbox\"> only clusters with members below threshold</span></label></div>\
         <p class=\"meta\" id=\"toc-count\"></p><div id=\"view\"></div>\
         <table class=\"list\" id=\"toc\"><thead><tr><th class=\"num\">#</th><th>kind</th>\
         <th class=\"num\">copies</th><th class=\"num\">chars</th><th class=\"num\">similarity</th>\
         <th>kept copy</th><th>text</th></tr></thead><tbody></tbody></table>\
         <p><button id=\"more\" hidden>show all</button></p>"
    )?;
    data(report, out)?;
    writeln!(out, "<script>{SCRIPT}</script>\n</body></html>")
}

/// Totals, charts and per-file counts.
fn dashboard(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let s = &report.summary;
    let cards = [
        (s.documents.to_string(), "documents"),
        (s.inputs.to_string(), "inputs"),
        (s.document_clusters.to_string(), "document clusters"),
        (s.duplicate_documents.to_string(), "duplicate documents"),
        (s.block_clusters.to_string(), "block clusters"),
        (s.duplicate_blocks.to_string(), "duplicate block copies"),
        (human_bytes(s.bytes_removable), "removable"),
    ];
    write!(out, "<div class=\"cards\">")?;
    for (n, what) in cards {
        write!(
            out,
            "<div class=\"card\"><b>{n}</b><span>{what}</span></div>"
        )?;
    }
    writeln!(out, "</div>")?;
    if report.clusters.is_empty() {
        return Ok(());
    }
    let sims = [
        "< 0.80",
        "0.80–0.85",
        "0.85–0.90",
        "0.90–0.95",
        "0.95–0.99",
        "≥ 0.99",
    ];
    let mut by_sim = [0usize; 6];
    let copies = ["2", "3", "4–5", "6–10", "11–100", "> 100"];
    let mut by_copies = [0usize; 6];
    // every kind the report has, by name (a new kind needs no change here)
    let mut by_kind: std::collections::BTreeMap<&str, usize> = Default::default();
    for c in &report.clusters {
        let lo = c.similarity[0];
        let b = [0.8, 0.85, 0.9, 0.95, 0.99]
            .iter()
            .take_while(|&&t| lo >= t)
            .count();
        by_sim[b] += 1;
        let n = c.members.len();
        by_copies[[3, 4, 6, 11, 101].iter().take_while(|&&t| n >= t).count()] += 1;
        *by_kind.entry(kind_name(c.kind)).or_default() += 1;
    }
    write!(out, "<div class=\"charts\">")?;
    chart(out, "clusters by lowest similarity", &sims, &by_sim)?;
    chart(out, "clusters by copies", &copies, &by_copies)?;
    let (kinds, counts): (Vec<&str>, Vec<usize>) = by_kind.into_iter().unzip();
    chart(out, "clusters by kind", &kinds, &counts)?;
    writeln!(out, "</div>")?;
    // per file: copies in clusters, and those clean would remove
    let mut files: std::collections::BTreeMap<&str, [usize; 3]> = Default::default();
    for c in &report.clusters {
        for (i, m) in c.members.iter().enumerate() {
            let f = files.entry(m.path.as_str()).or_default();
            f[0] += 1;
            if i != c.keep {
                f[1] += 1;
                f[2] += m.bytes[1].saturating_sub(m.bytes[0]) as usize;
            }
        }
    }
    let mut files: Vec<(&str, [usize; 3])> = files.into_iter().collect();
    files.sort_by(|a, b| {
        b.1[1]
            .cmp(&a.1[1])
            .then(b.1[0].cmp(&a.1[0]))
            .then(a.0.cmp(b.0))
    });
    const FILES: usize = 20;
    writeln!(
        out,
        "<h3>Files with the most removable copies</h3><table class=\"list\"><tr><th>file</th>\
         <th class=\"num\">copies in clusters</th><th class=\"num\">removable copies</th>\
         <th class=\"num\">removable bytes</th></tr>"
    )?;
    for (path, [n, dup, bytes]) in files.iter().take(FILES) {
        writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td class=\"num\">{n}</td><td class=\"num\">{dup}</td><td class=\"num\">{bytes}</td></tr>",
            esc(path)
        )?;
    }
    writeln!(out, "</table>")?;
    if files.len() > FILES {
        writeln!(
            out,
            "<p class=\"meta\">{} more files have copies in clusters; filter the clusters by path below, \
             or see every member in <code>neardup scan --format json</code>.</p>",
            files.len() - FILES
        )?;
    }
    Ok(())
}

fn chart(out: &mut dyn Write, title: &str, labels: &[&str], counts: &[usize]) -> io::Result<()> {
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    write!(out, "<div class=\"chart\"><h3>{title}</h3><table>")?;
    for (l, &n) in labels.iter().zip(counts) {
        let w = (n as f64 / max as f64 * 12.0 * 10.0).round() / 10.0;
        write!(
            out,
            "<tr><td>{l}</td><td><span class=\"bar\" style=\"width:{w}em\"></span>{n}</td></tr>"
        )?;
    }
    write!(out, "</table></div>")
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

/// Everything the text report warns about, and what the page leaves out.
fn warnings(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    let mut items: Vec<String> = Vec::new();
    if !report.skipped.is_empty() {
        let list: String = report
            .skipped
            .iter()
            .map(|s| format!("<li>{}</li>", esc(&s.error)))
            .collect();
        items.push(format!(
            "{} inputs were skipped (<code>--on-error skip</code>):<ul>{list}</ul>",
            report.skipped.len()
        ));
    }
    let below = report
        .clusters
        .iter()
        .filter(|c| !c.all_above_threshold)
        .count();
    if below > 0 {
        items.push(format!(
            "{below} clusters have {BELOW_THRESHOLD} (they joined through another member): \
             worth a look before cleaning. Tick “only clusters with members below threshold” to list them."
        ));
    }
    let with_diffs = report
        .clusters
        .iter()
        .filter(|c| c.members.iter().any(|m| m.diff.is_some()))
        .count();
    let multi = report
        .clusters
        .iter()
        .filter(|c| c.members.len() > 1)
        .count();
    if with_diffs < multi {
        items.push(format!(
            "Diffs are embedded for {with_diffs} of {multi} clusters (<code>--diff-clusters</code> \
             sets how many); every other copy shows the <code>neardup diff</code> command that prints its diff."
        ));
    }
    for i in items {
        writeln!(out, "<div class=\"warn\">{i}</div>")?;
    }
    Ok(())
}

/// The clusters as one JSON blob, which the script reads: compact arrays
/// (the field order is documented in `report.js`), and the diffs. Written a
/// cluster at a time, so a large report is never held twice as JSON values.
fn data(report: &Report, out: &mut dyn Write) -> io::Result<()> {
    use serde_json::{json, Value};
    write!(
        out,
        "<script type=\"application/json\" id=\"data\">{{\"clusters\":["
    )?;
    // each diff, as escaped JSON, for the list after the clusters
    let mut diffs: Vec<String> = Vec::new();
    for (k, c) in report.clusters.iter().enumerate() {
        let members: Vec<Value> = c
            .members
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let loc = location(m, c.kind);
                let diff = match &m.diff {
                    _ if i == c.keep => Value::Null,
                    Some(d) => {
                        let kept = &c.members[c.keep];
                        let headers = [
                            format!("kept: {}", location(kept, c.kind)),
                            match m.record {
                                Some(_) => format!("{loc} [{}]", m.doc),
                                None => loc.clone(),
                            },
                        ];
                        diffs.push(json_text(&split_json(&d.split, [&headers[0], &headers[1]])));
                        json!(diffs.len() - 1)
                    }
                    None => json!(diff_command(c, i)),
                };
                // the kept copy's column names a reference copy (`--reference`)
                let sim = if i == c.keep {
                    if m.reference { "reference" } else { "" }.to_string()
                } else {
                    similarity_note(m, &report.params)
                };
                let record = if m.record.is_some() {
                    m.doc.as_str()
                } else {
                    ""
                };
                json!([loc, record, sim, m.preview, diff])
            })
            .collect();
        let cluster = json!([
            c.id,
            kind_name(c.kind),
            c.keep,
            c.chars,
            c.similarity[0],
            similarity_range(c),
            !c.all_above_threshold,
            members
        ]);
        let sep = if k == 0 { "" } else { "," };
        write!(out, "{sep}{}", json_text(&cluster))?;
    }
    write!(out, "],\"diffs\":[{}],", diffs.join(","))?;
    let texts = json!({
        "below": format!("This cluster has {BELOW_THRESHOLD}: worth a look before cleaning."),
        "absent": "This diff is not embedded in the page; this command prints it:",
    });
    // the texts' object without its opening brace closes the blob
    let texts = json_text(&texts);
    writeln!(out, "{}</script>", &texts[1..])
}

/// `value` as JSON that can sit in a script element: `<` only occurs
/// inside JSON strings, where `\u003c` means the same, so no text can close
/// the element.
fn json_text(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

pub(super) fn render_variants(v: &Variants, out: &mut dyn Write) -> io::Result<()> {
    let texts = v.template.iter().flat_map(|p| match p {
        Part::Skeleton { text } => vec![text.as_str()],
        Part::Slot { texts } => texts.iter().map(String::as_str).collect(),
    });
    let script = v.split.is_some().then_some(SCRIPT);
    head(out, "neardup diff", lang(texts), script)?;
    writeln!(
        out,
        "<h1>neardup diff</h1><p class=\"meta\">neardup {} · schema {}</p><table class=\"list\">\
         <tr><th>#</th><th>text</th><th class=\"num\">chars</th><th class=\"num\">similarity to [1]</th></tr>",
        env!("CARGO_PKG_VERSION"),
        v.schema
    )?;
    for (i, s) in v.sources.iter().enumerate() {
        writeln!(
            out,
            "<tr><td>[{}]</td><td class=\"mono\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td></tr>",
            i + 1,
            esc(&s.label),
            s.chars,
            s.similarity
        )?;
    }
    writeln!(out, "</table>")?;
    let label = |i: usize| format!("[{}] {}", i + 1, v.sources[i].label);
    if let Some(split) = &v.split {
        writeln!(
            out,
            "<h2>Side by side</h2><div id=\"diff\"><noscript><p class=\"warn\">The diff is drawn by \
             the page's script; with scripts off, <code>neardup diff --format text</code> prints it.</p>\
             </noscript></div>"
        )?;
        blob(
            out,
            &serde_json::json!({"diff": split_json(split, [&label(0), &label(1)])}),
        )?;
        writeln!(out, "<script>{SCRIPT}</script>")?;
    } else {
        template(v, out)?;
    }
    writeln!(out, "\n</body></html>")
}

/// The template view: each skeleton piece as a row, and between them each
/// text's slot, named by its file; slot texts that only some texts share
/// are marked.
fn template(v: &Variants, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "<h2>Template: shared skeleton and slots</h2><p class=\"meta\">Grey rows are text every copy \
         has; below each, what each copy has in its place. A slot text marked “same as” is shared by \
         some copies only.</p>"
    )?;
    for part in &v.template {
        match part {
            Part::Skeleton { text } => writeln!(out, "<div class=\"skel\">{}</div>", esc(text))?,
            Part::Slot { texts } => {
                write!(out, "<table class=\"slot\">")?;
                for (i, t) in texts.iter().enumerate() {
                    let key = t.trim();
                    let same: Vec<String> = texts
                        .iter()
                        .enumerate()
                        .filter(|&(j, u)| j != i && !key.is_empty() && u.trim() == key)
                        .map(|(j, _)| format!("[{}]", j + 1))
                        .collect();
                    let shared = !same.is_empty() && same.len() + 1 < texts.len();
                    let note = if shared {
                        format!("<br>same as {}", same.join(", "))
                    } else {
                        String::new()
                    };
                    let (class, body) = if key.is_empty() {
                        (" class=\"empty\"", "nothing here".to_string())
                    } else {
                        ("", esc(t))
                    };
                    // the file's name and lines; the whole path is in the list above
                    let label = &v.sources[i].label;
                    let short = label.rsplit('/').next().unwrap_or(label);
                    write!(
                        out,
                        "<tr{}><th title=\"{}\">[{}] {}{note}</th><td{class}>{body}</td></tr>",
                        if shared { " class=\"some\"" } else { "" },
                        esc(label),
                        i + 1,
                        esc(short),
                    )?;
                }
                writeln!(out, "</table>")?;
            }
        }
    }
    Ok(())
}

/// SHA-256 (FIPS 180-4), for the script's hash in the page's
/// Content-Security-Policy; small enough not to take a crate for.
fn sha256(data: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for (x, y) in h.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 32];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut o = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for k in 0..4 {
            if k <= c.len() {
                o.push(char::from(A[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                o.push('=');
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csp_hash_is_sha256_in_base64() {
        // FIPS 180-4 test vectors
        assert_eq!(
            base64(&sha256(b"abc")),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
        assert_eq!(
            base64(&sha256(b"")),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let long = vec![b'a'; 1000];
        assert_eq!(
            base64(&sha256(&long)),
            "Qe3s5C1j6Nm/UVqbppMuHCDLyfWl0TRkWttdsblzfqM="
        );
    }
}
