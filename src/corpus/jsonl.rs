//! Splits a JSONL file into documents, one per line.

use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

use super::{Document, IngestOptions, OnError, Skipped};
use crate::error::{Error, Location, Result};

/// Parses every non-blank line of `text` into a document.
///
/// # Errors
///
/// The first bad line ([`Error::Jsonl`], [`Error::MissingField`],
/// [`Error::TooLarge`]) unless `opts.on_error` is [`OnError::Skip`], in which
/// case bad lines come back as [`Skipped`] entries.
/// Only lines `want` accepts become documents; the count of non-blank lines
/// comes back too (zero means an empty file).
pub fn parse(
    path: &Path,
    text: &str,
    opts: &IngestOptions,
    want: &(dyn Fn(u64) -> bool + Sync),
) -> Result<(Vec<Document>, Vec<Skipped>, usize)> {
    // Lines are parsed in parallel and collected in order; the first error
    // in line order is the one reported, as in a sequential read.
    let mut offset = 0u64;
    let lines: Vec<(u64, u64, &str)> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| {
            let at = offset;
            offset += line.len() as u64 + 1;
            (i as u64 + 1, at, line.strip_suffix('\r').unwrap_or(line))
        })
        .filter(|(_, _, line)| !line.trim().is_empty())
        .collect();
    let nonblank = lines.len();
    let lines: Vec<(u64, u64, &str)> = lines.into_iter().filter(|&(l, _, _)| want(l)).collect();
    let parsed: Vec<Result<Document>> = lines
        .par_iter()
        .with_min_len(64)
        .map(|&(lineno, at, line)| {
            parse_line(path, lineno, line, opts).map(|mut d| {
                d.offset = at;
                d
            })
        })
        .collect();
    let mut docs = Vec::with_capacity(parsed.len());
    let mut skipped = Vec::new();
    for res in parsed {
        match res {
            Ok(doc) => docs.push(doc),
            Err(err) if opts.on_error == OnError::Skip => skipped.push(Skipped {
                path: path.display().to_string(),
                error: err.to_string(),
            }),
            Err(err) => return Err(err),
        }
    }
    Ok((docs, skipped, nonblank))
}

/// Parses one JSONL record.
///
/// # Errors
///
/// A line that is not a JSON object, lacks the text field or holds a
/// non-string text, or is larger than `opts.max_doc_bytes`.
pub fn parse_line(path: &Path, lineno: u64, line: &str, opts: &IngestOptions) -> Result<Document> {
    let loc = || Location::line(path, lineno);
    if line.len() as u64 > opts.max_doc_bytes {
        return Err(Error::TooLarge {
            loc: loc(),
            size: line.len() as u64,
            limit: opts.max_doc_bytes,
        });
    }
    let value: Value = serde_json::from_str(line).map_err(|e| Error::Jsonl {
        loc: loc(),
        reason: e.to_string(),
    })?;
    let Value::Object(map) = value else {
        return Err(Error::Jsonl {
            loc: loc(),
            reason: "not a JSON object".into(),
        });
    };
    let Some(Value::String(text)) = map.get(&opts.text_field) else {
        return Err(Error::MissingField {
            loc: loc(),
            field: opts.text_field.clone(),
        });
    };
    let id = match map.get(&opts.id_field) {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("{}:{lineno}", path.display()),
    };
    Ok(Document {
        id,
        input: 0,
        record: Some(lineno),
        offset: 0,
        text: text.clone(),
    })
}
