//! MEMBERS: a cluster's copies → report members, the kept copy and the
//! cluster's summary.
//!
//! Takes a cluster's documents or block copies with their source spans and
//! similarities; gives [`Member`]s (where each copy is: file, record, lines,
//! bytes; a preview) and the [`Cluster`] around them, with the copy kept by
//! the [`crate::cluster::Keep`] rule and the similarity range of the others.

use std::ops::Range;

use crate::corpus::Corpus;
use crate::place::Place;
use crate::report::{Cluster, ClusterKind, Member};
use crate::util::round4;

/// The copy to keep among those of documents `docs` (in input order, with
/// lengths `lens`), and why ([`crate::cluster::choose_keep`]).
pub(crate) fn choose_keep(
    corpus: &Corpus,
    docs: impl Iterator<Item = usize>,
    lens: &[usize],
    opts: &crate::pipeline::ScanOptions,
) -> (usize, String) {
    let keys: Vec<Option<&crate::corpus::SortKey>> = if opts.keep_by.is_some() {
        docs.map(|d| corpus.docs[d].sort_key.as_ref()).collect()
    } else {
        Vec::new()
    };
    crate::cluster::choose_keep(lens, &keys, opts.keep, opts.keep_by.as_ref())
}

/// The cluster of `members`, `keep` the kept one; `all_above_threshold`
/// judges the others by containment (blocks) or similarity (documents).
pub(crate) fn finish_cluster(
    kind: ClusterKind,
    members: Vec<Member>,
    keep: usize,
    threshold: f64,
    by_containment: bool,
) -> Cluster {
    let others = members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != keep)
        .map(|(_, m)| m);
    let (mut lo, mut hi) = (1.0f64, 0.0f64);
    let mut all_above = true;
    for m in others {
        lo = lo.min(m.similarity);
        hi = hi.max(m.similarity);
        let score = if by_containment {
            m.containment.unwrap_or(m.similarity)
        } else {
            m.similarity
        };
        all_above &= score >= threshold;
    }
    let mut docs: Vec<usize> = members.iter().map(|m| m.doc_index).collect();
    docs.sort_unstable();
    docs.dedup();
    Cluster {
        id: 0,
        kind,
        keep,
        chars: members[keep].chars,
        documents: docs.len(),
        boilerplate: false,
        keep_reason: String::new(),
        similarity: [round4(lo.min(hi)), round4(hi)],
        all_above_threshold: all_above,
        members,
    }
}

/// A member spanning a whole document (`chars` normalised characters).
pub(crate) fn whole_doc_member(corpus: &Corpus, d: usize, text: &str, chars: usize) -> Member {
    let place = Place::in_text(corpus, d, text, &(0..text.len()));
    member(place, d, text, 0..text.len(), 0..chars, 1.0, None)
}

/// A report member for `text_range` (bytes of document `d`'s `text`),
/// `norm_range` its normalised characters.
pub(crate) fn member(
    place: Place,
    d: usize,
    text: &str,
    text_range: Range<usize>,
    norm_range: Range<usize>,
    similarity: f64,
    containment: Option<f64>,
) -> Member {
    Member {
        place,
        chars: norm_range.len(),
        similarity: round4(similarity),
        containment: containment.map(round4),
        preview: preview(&text[text_range.clone()]),
        diff: None,
        doc_index: d,
        text_range,
        norm_range,
    }
}

/// The first 30 non-space characters, runs of whitespace as one space.
fn preview(s: &str) -> String {
    let mut out = String::new();
    let mut n = 0;
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
        n += 1;
        if n >= 30 {
            out.push('…');
            break;
        }
    }
    out
}
