//! Splits a JSONL file into documents, one per line.

use std::path::Path;

use rayon::prelude::*;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
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
    // Only the text and id fields are kept; every other field is skipped
    // without being built (a record's other fields can be large).
    let mut de = serde_json::Deserializer::from_str(line);
    let rec = Fields {
        text: &opts.text_field,
        id: &opts.id_field,
    }
    .deserialize(&mut de)
    .and_then(|rec| de.end().map(|()| rec))
    .map_err(|e| Error::Jsonl {
        loc: loc(),
        reason: match e.classify() {
            serde_json::error::Category::Data => "not a JSON object".into(),
            _ => e.to_string(),
        },
    })?;
    let Some(Value::String(text)) = rec.text else {
        return Err(Error::MissingField {
            loc: loc(),
            field: opts.text_field.clone(),
        });
    };
    let id = match rec.id {
        Some(Value::String(s)) if !s.is_empty() => s,
        Some(Value::Number(n)) => n.to_string(),
        _ => format!("{}:{lineno}", path.display()),
    };
    Ok(Document {
        id,
        input: 0,
        record: Some(lineno),
        offset: 0,
        text,
    })
}

/// The two fields of a record that ingest needs.
struct Fields<'f> {
    text: &'f str,
    id: &'f str,
}

/// Their values, if present (the last one wins, as in a JSON map).
struct Record {
    text: Option<Value>,
    id: Option<Value>,
}

impl<'de> DeserializeSeed<'de> for Fields<'_> {
    type Value = Record;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Record, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Fields<'_> {
    type Value = Record;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Record, A::Error> {
        let mut rec = Record {
            text: None,
            id: None,
        };
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.text {
                rec.text = Some(map.next_value()?);
            } else if key == self.id {
                rec.id = Some(map.next_value()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(rec)
    }
}
