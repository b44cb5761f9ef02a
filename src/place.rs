//! Where a span of a document is, in the user's coordinates.
//!
//! One type for the report's members ([`crate::report::Member`] flattens
//! it), the removal log's removed and kept spans ([`crate::clean::Removal`])
//! and what [`crate::clean::verify`] reads back.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::corpus::Corpus;

/// A span's document, file and position. `lines` are 1-based inclusive
/// lines of the file (for a JSONL record, its line), `bytes` a half-open
/// byte range of the (decompressed) file, or of the record's text field
/// for JSONL.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Place {
    /// Document id.
    pub doc: String,
    /// Input file.
    pub path: String,
    /// JSONL line, for JSONL inputs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<u64>,
    /// First and last line, 1-based, inclusive.
    pub lines: [u64; 2],
    /// Byte range `[start, end)`: of the (decompressed) file in its own
    /// encoding, or of the JSONL record's decoded text field as UTF-8.
    pub bytes: [u64; 2],
}

impl Place {
    /// The place of `range`, bytes of `text`: the decoded text of document
    /// `doc` of `corpus` (held by the corpus or read again).
    pub fn in_text(corpus: &Corpus, doc: usize, text: &str, range: &Range<usize>) -> Place {
        Place::in_indexed_text(corpus, doc, text, range, None)
    }

    /// [`Place::in_text`], with the index of `text`'s lines when given.
    pub fn in_indexed_text(
        corpus: &Corpus,
        doc: usize,
        text: &str,
        range: &Range<usize>,
        lines: Option<&crate::corpus::LineIndex>,
    ) -> Place {
        let d = &corpus.docs[doc];
        let input = corpus.input_of(d);
        let (lines, bytes) = input.span_indexed(d.record, text, range, lines);
        Place {
            doc: d.id.clone(),
            path: input.path.display().to_string(),
            record: d.record,
            lines,
            bytes,
        }
    }
}
