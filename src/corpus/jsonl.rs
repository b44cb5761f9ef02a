//! Splits a JSONL file into documents, one per line.
//!
//! A record of the usual shape (an object of strings, numbers and
//! literals, the text and id fields named plainly, no `--keep-by`) is
//! read by a byte scanner ([`scan`]) that copies the text field out,
//! unescaped, and builds nothing else; anything else, and every record in
//! error, goes through serde_json, so errors read the same.

use std::cmp::Ordering;
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
            Err(err) if opts.on_error == OnError::Skip => skipped.push(Skipped::of(path, &err)),
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
    if let Some((text, id)) = scan::record(line, opts) {
        return Ok(Document {
            id: id.unwrap_or_else(|| format!("{}:{lineno}", path.display())),
            input: 0,
            record: Some(lineno),
            offset: 0,
            sort_key: None,
            len: text.len(),
            text,
        });
    }
    parse_serde(path, lineno, line, opts)
}

/// [`parse_line`] by serde_json: every record, with its errors.
fn parse_serde(path: &Path, lineno: u64, line: &str, opts: &IngestOptions) -> Result<Document> {
    let loc = || Location::line(path, lineno);
    // Only the text and id fields are kept; every other field is skipped
    // without being built (a record's other fields can be large).
    let mut de = serde_json::Deserializer::from_str(line);
    let rec = Fields {
        text: &opts.text_field,
        id: &opts.id_field,
        key: opts.keep_by.as_deref(),
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
            hint: field_hint(line, opts),
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
        sort_key: rec.key.as_ref().and_then(SortKey::of),
        len: text.len(),
        text,
    })
}

/// What a record without the text field has instead: its fields, and the
/// flags to try (the field with the longest string for `--text-field`, a
/// field named like an id for `--id-field` when the asked one is missing
/// too). Only built for the error, so it may parse the line again.
fn field_hint(line: &str, opts: &IngestOptions) -> String {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<Value>(line) else {
        return String::new();
    };
    if map.is_empty() {
        return "; the record has no fields".into();
    }
    const SHOWN: usize = 12;
    let mut names: Vec<&str> = map.keys().map(String::as_str).take(SHOWN).collect();
    if map.len() > SHOWN {
        names.push("…");
    }
    let mut hint = format!("; fields: {}", names.join(", "));
    let text = map
        .iter()
        .filter(|(k, _)| **k != opts.id_field)
        .filter_map(|(k, v)| v.as_str().map(|s| (s.len(), k)))
        .max_by_key(|&(len, _)| len);
    let mut tries = Vec::new();
    if let Some((_, k)) = text {
        tries.push(format!("--text-field {k}"));
    }
    if lookup(&map, &opts.id_field).is_none() {
        if let Some(k) = map.keys().find(|k| {
            let k = k.to_ascii_lowercase();
            k == "id" || k.ends_with("_id") || k.ends_with("id") && k.len() <= 6
        }) {
            tries.push(format!("--id-field {k}"));
        }
    }
    if !tries.is_empty() {
        hint.push_str(&format!(" (try {})", tries.join(" ")));
    }
    hint
}

/// The value at a field path: the field of that exact name, else a dotted
/// path through nested objects (`data.text`) and arrays (`items.0`).
fn lookup<'v>(map: &'v serde_json::Map<String, Value>, path: &str) -> Option<&'v Value> {
    if let Some(v) = map.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    descend(map.get(head)?, rest)
}

fn descend<'v>(mut v: &'v Value, rest: &str) -> Option<&'v Value> {
    for seg in rest.split('.') {
        v = match v {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// The text field `field` of a parsed record, as [`parse_line`] finds it:
/// the field named so, else the dotted path (`data.text`).
pub(crate) fn field<'v>(record: &'v Value, field: &str) -> Option<&'v Value> {
    let obj = record.as_object()?;
    if let Some(v) = obj.get(field) {
        return Some(v);
    }
    let (head, rest) = split_path(field)?;
    descend(obj.get(head)?, rest)
}

/// [`field`], to change it.
pub(crate) fn field_mut<'v>(record: &'v mut Value, field: &str) -> Option<&'v mut Value> {
    let obj = record.as_object_mut()?;
    if obj.contains_key(field) {
        return obj.get_mut(field);
    }
    let (head, rest) = split_path(field)?;
    let mut v = obj.get_mut(head)?;
    for seg in rest.split('.') {
        v = match v {
            Value::Object(m) => m.get_mut(seg)?,
            Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

/// A document's value of the `--keep-by` field, kept small: a number, or
/// a string (a date, a label) cut to [`SortKey::MAX_BYTES`].
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// A JSON number.
    Num(f64),
    /// A JSON string, cut at a character boundary.
    Str(Box<str>),
}

impl SortKey {
    /// Longest string kept: enough for any date or label, small per document.
    pub const MAX_BYTES: usize = 64;

    /// The key of a field's value; other JSON types (null, bools, objects)
    /// have none and count as a missing field.
    fn of(v: &Value) -> Option<SortKey> {
        match v {
            Value::Number(n) => n.as_f64().map(SortKey::Num),
            Value::String(s) => {
                let end = super::floor_char_boundary(s, Self::MAX_BYTES);
                Some(SortKey::Str(s[..end].into()))
            }
            _ => None,
        }
    }

    /// Numbers compare as numbers, strings as strings (ISO dates sort
    /// right); a number against a string compares its decimal text.
    pub fn cmp_key(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Str(a), SortKey::Str(b)) => a.cmp(b),
            (SortKey::Num(a), SortKey::Str(b)) => a.to_string().as_str().cmp(b),
            (SortKey::Str(a), SortKey::Num(b)) => (**a).cmp(b.to_string().as_str()),
        }
    }
}

/// The fields of a record that ingest needs.
struct Fields<'f> {
    text: &'f str,
    id: &'f str,
    key: Option<&'f str>,
}

/// Their values, if present (the last one wins, as in a JSON map).
struct Record {
    text: Option<Value>,
    id: Option<Value>,
    key: Option<Value>,
}

/// The first segment of a dotted field path and the rest.
fn split_path(path: &str) -> Option<(&str, &str)> {
    path.split_once('.')
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
        // Text, id, sort key: each wanted by an exact field name, or by a
        // dotted path (`data.text`) whose first segment's value is built
        // and walked; a field named with the dot itself wins.
        let names = [Some(self.text), Some(self.id), self.key];
        let paths = names.map(|n| n.and_then(split_path));
        let mut got: [Option<Value>; 3] = [None, None, None];
        let mut exact = [false; 3];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let key: &str = &key;
            if let Some(last) = names.iter().rposition(|n| *n == Some(key)) {
                let v: Value = map.next_value()?;
                // the same field may be wanted twice (`--keep-by id`): the
                // value (maybe the long text) moves to the last, others copy
                for j in 0..last {
                    if names[j] == Some(key) {
                        got[j] = Some(v.clone());
                        exact[j] = true;
                    }
                }
                got[last] = Some(v);
                exact[last] = true;
                continue;
            }
            let heads: Vec<usize> = (0..3)
                .filter(|&i| !exact[i] && paths[i].is_some_and(|(h, _)| key == h))
                .collect();
            if heads.is_empty() {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let v: Value = map.next_value()?;
            for i in heads {
                got[i] = paths[i].and_then(|(_, rest)| descend(&v, rest).cloned());
            }
        }
        let [text, id, key] = got;
        Ok(Record { text, id, key })
    }
}

/// The fast path of [`parse_line`]: a record of the usual shape scanned
/// byte by byte, validated as serde_json would, nothing built but the text
/// and id strings. `None` (then serde_json reads the record, and says
/// what is wrong with it) for anything else: nested values, a `\u`
/// escape of a surrogate, a number id other than a plain non-negative
/// integer, a missing or non-string text, invalid JSON.
mod scan {
    use super::IngestOptions;

    /// The text and, if the record has one that names it, the id.
    pub(super) fn record(line: &str, opts: &IngestOptions) -> Option<(String, Option<String>)> {
        let (text_key, id_key) = (opts.text_field.as_bytes(), opts.id_field.as_bytes());
        if opts.keep_by.is_some()
            || text_key == id_key
            || text_key.contains(&b'.')
            || id_key.contains(&b'.')
        {
            return None;
        }
        let mut s = Scanner { line, at: 0 };
        let (mut text, mut id) = (None, None);
        s.ws();
        s.eat(b'{')?;
        s.ws();
        if s.peek()? != b'}' {
            loop {
                s.eat(b'"')?;
                let key = s.key()?;
                s.ws();
                s.eat(b':')?;
                s.ws();
                if key == text_key {
                    s.eat(b'"')?;
                    text = Some(s.string(true)?);
                } else if key == id_key {
                    id = Some(s.id()?);
                } else {
                    s.skip_value()?;
                }
                s.ws();
                match s.peek()? {
                    b',' => {
                        s.at += 1;
                        s.ws();
                    }
                    _ => break,
                }
            }
        }
        s.eat(b'}')?;
        s.ws();
        if s.at != line.len() {
            return None;
        }
        Some((text?, id.flatten()))
    }

    struct Scanner<'l> {
        line: &'l str,
        at: usize,
    }

    impl<'l> Scanner<'l> {
        fn bytes(&self) -> &'l [u8] {
            self.line.as_bytes()
        }

        fn peek(&self) -> Option<u8> {
            self.bytes().get(self.at).copied()
        }

        fn eat(&mut self, b: u8) -> Option<()> {
            (self.peek()? == b).then(|| self.at += 1)
        }

        /// JSON whitespace.
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\n' | b'\t' | b'\r')) {
                self.at += 1;
            }
        }

        /// A key after its opening quote, without escapes.
        fn key(&mut self) -> Option<&'l [u8]> {
            let start = self.at;
            let end = special(self.bytes(), start)?;
            let key = &self.bytes()[start..end];
            if self.bytes()[end] != b'"' {
                return None;
            }
            self.at = end + 1;
            Some(key)
        }

        /// A string after its opening quote, unescaped when `keep` (else
        /// only checked, and empty).
        fn string(&mut self, keep: bool) -> Option<String> {
            let mut out = String::new();
            loop {
                let start = self.at;
                let end = special(self.bytes(), start)?;
                let closed = match self.bytes()[end] {
                    b'"' => true,
                    b'\\' => false,
                    // a control byte: JSON strings must escape them
                    _ => return None,
                };
                if keep {
                    // both ends are ASCII bytes: character boundaries
                    let piece = self.line.get(start..end)?;
                    if out.capacity() == 0 && !closed {
                        // escapes ahead: room for the rest of the line
                        out.reserve(self.line.len() - start);
                    }
                    out.push_str(piece);
                }
                self.at = end + 1;
                if closed {
                    return Some(out);
                }
                let c = match self.peek()? {
                    b'"' => '"',
                    b'\\' => '\\',
                    b'/' => '/',
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    b'u' => {
                        let hex = self.line.get(self.at + 1..self.at + 5)?;
                        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                            return None;
                        }
                        self.at += 4;
                        // a surrogate (half of a pair, or alone) is not a char
                        char::from_u32(u32::from_str_radix(hex, 16).ok()?)?
                    }
                    _ => return None,
                };
                self.at += 1;
                if keep {
                    out.push(c);
                }
            }
        }

        /// The id: a string (`None` if empty), a plain non-negative
        /// integer that serde_json writes back the same, or `null`, `true`
        /// or `false` (no id).
        fn id(&mut self) -> Option<Option<String>> {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    let mut id = self.string(true)?;
                    // kept for the whole run: no room left over
                    id.shrink_to_fit();
                    Some((!id.is_empty()).then_some(id))
                }
                b'0'..=b'9' => {
                    let start = self.at;
                    self.number()?;
                    let digits = self.line.get(start..self.at)?;
                    let plain = digits.bytes().all(|b| b.is_ascii_digit()) && digits.len() <= 19;
                    plain.then(|| Some(digits.to_string()))
                }
                b'-' => None,
                _ => {
                    self.skip_value()?;
                    Some(None)
                }
            }
        }

        /// A string, number or literal; nested values are left to serde_json.
        fn skip_value(&mut self) -> Option<()> {
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    self.string(false).map(drop)
                }
                b'-' | b'0'..=b'9' => self.number(),
                b't' => self.literal("true"),
                b'f' => self.literal("false"),
                b'n' => self.literal("null"),
                _ => None,
            }
        }

        fn literal(&mut self, word: &str) -> Option<()> {
            self.bytes()[self.at..]
                .starts_with(word.as_bytes())
                .then(|| self.at += word.len())
        }

        /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
        fn number(&mut self) -> Option<()> {
            let digits = |s: &mut Self| {
                let start = s.at;
                while s.peek().is_some_and(|b| b.is_ascii_digit()) {
                    s.at += 1;
                }
                (s.at > start).then_some(())
            };
            if self.peek() == Some(b'-') {
                self.at += 1;
            }
            if self.peek()? == b'0' {
                self.at += 1;
            } else {
                digits(self)?;
            }
            if self.peek() == Some(b'.') {
                self.at += 1;
                digits(self)?;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.at += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.at += 1;
                }
                digits(self)?;
            }
            Some(())
        }
    }

    /// Where the plain bytes of a string that start at `from` end: the
    /// first `"`, `\\` or control byte (below 0x20, which JSON strings must
    /// escape) at or after it. One pass for the three, 16 bytes a step.
    fn special(bytes: &[u8], from: usize) -> Option<usize> {
        let mut i = from;
        #[cfg(target_arch = "x86_64")]
        while let Some(chunk) = bytes.get(i..i + 16) {
            use std::arch::x86_64::*;
            // SAFETY: SSE2 is part of x86-64; `chunk` is 16 bytes (an
            // unaligned load).
            let found = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().cast());
                let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                // v <= 0x1F, unsigned
                let low = _mm_set1_epi8(0x1F);
                let control = _mm_cmpeq_epi8(_mm_max_epu8(v, low), low);
                _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
            };
            if found != 0 {
                return Some(i + found.trailing_zeros() as usize);
            }
            i += 16;
        }
        let rest = bytes.get(i..)?;
        let at = rest
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        Some(i + at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of every shape the scanner meets, valid and not.
    const LINES: &[&str] = &[
        r#"{"id": "d1", "text": "今天\n我们\t召开\"会议\"\\ \/ \b\f\r"}"#,
        r#"{"text":"a\u4e2d\u00e9b","id":7}"#,
        r#" { "id" : 123456789012345678 , "text" : "x" } "#,
        r#"{"id": 12345678901234567890, "text": "x"}"#,
        r#"{"id": -3, "text": "x"}"#,
        r#"{"id": 1.5, "text": "x"}"#,
        r#"{"id": 1e3, "text": "x"}"#,
        r#"{"id": "", "text": "x"}"#,
        r#"{"id": null, "text": "x"}"#,
        r#"{"id": true, "text": "x"}"#,
        r#"{"text": "x"}"#,
        r#"{"text": "first", "text": "second", "id": "a", "id": "b"}"#,
        r#"{"meta": {"a": [1, 2]}, "text": "x"}"#,
        r#"{"n": -0.5e-3, "ok": false, "no": null, "s": "\u00e9", "text": "x"}"#,
        r#"{"text": "\ud83d\ude00 pair"}"#,
        r#"{"text": "\ud83d alone"}"#,
        r#"{"text": "bad \x escape"}"#,
        "{\"text\": \"raw\ttab\"}",
        r#"{"text": 5}"#,
        r#"{"text": null}"#,
        r#"{"id": "a"}"#,
        r#"{}"#,
        r#"[1, 2]"#,
        r#"{"text": "x",}"#,
        r#"{"text": "x" "id": "y"}"#,
        r#"{"text": "x"} trailing"#,
        r#"{"text": "unterminated}"#,
        r#"{"n": 01, "text": "x"}"#,
        r#"{"n": 1., "text": "x"}"#,
        r#"{"n": tru, "text": "x"}"#,
        r#"{"t\u0065xt": "escaped key"}"#,
        r#"{"text": "x", "id": "y"}{"#,
    ];

    /// Long strings, whose plain runs the scanner finds 16 bytes a step:
    /// escapes, multi-byte characters and the closing quote at every
    /// offset of a step, and a control byte past the first steps.
    #[test]
    fn long_strings_unescape_as_serde_json_does() {
        let path = Path::new("in.jsonl");
        let opts = IngestOptions::default();
        let pieces = ["\\n", "今", "a", "\\u00e9", "\\\"", "é", "\\\\", "  "];
        for seed in 0..200usize {
            let mut text = String::new();
            let mut x = seed.wrapping_mul(2654435761) + 1;
            for _ in 0..(seed % 97) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                text.push_str(pieces[x % pieces.len()]);
            }
            for line in [
                format!(r#"{{"id": "{seed}", "text": "{text}"}}"#),
                format!(r#"{{"text": "{text}", "id": "{seed}", "other": "{text}"}}"#),
                format!("{{\"text\": \"{text}\u{1}\"}}"),
            ] {
                let fast = parse_line(path, 1, &line, &opts).map(|d| (d.id, d.text, d.len));
                let serde = parse_serde(path, 1, &line, &opts).map(|d| (d.id, d.text, d.len));
                assert_eq!(format!("{fast:?}"), format!("{serde:?}"), "{line}");
            }
        }
    }

    #[test]
    fn the_scanner_reads_what_serde_json_reads_and_leaves_it_the_rest() {
        let path = Path::new("in.jsonl");
        let opts = IngestOptions::default();
        let show = |r: Result<Document>| match r {
            Ok(d) => format!("{:?} {:?} {}", d.id, d.text, d.len),
            Err(e) => format!("error: {e}"),
        };
        let mut scanned = 0;
        for line in LINES {
            scanned += usize::from(scan::record(line, &opts).is_some());
            let fast = show(parse_line(path, 4, line, &opts));
            let serde = show(parse_serde(path, 4, line, &opts));
            assert_eq!(fast, serde, "{line}");
        }
        // the usual shapes go the fast way
        assert!(scanned >= 9, "{scanned} scanned");
        assert!(scan::record(LINES[0], &opts).is_some());
        // other field names, and names the scanner leaves to serde_json
        for (text, id) in [("body", "key"), ("text", "text"), ("data.text", "id")] {
            let opts = IngestOptions {
                text_field: text.into(),
                id_field: id.into(),
                ..IngestOptions::default()
            };
            let line = r#"{"key": "k", "body": "b", "text": "t", "data": {"text": "d"}}"#;
            let fast = show(parse_line(path, 1, line, &opts));
            assert_eq!(fast, show(parse_serde(path, 1, line, &opts)));
        }
    }
}
