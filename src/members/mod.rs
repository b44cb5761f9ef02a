//! MEMBERS: a cluster's copies → report members, the kept copy and the
//! cluster's summary.
//!
//! Takes a cluster's documents or block copies with their source spans and
//! similarities; gives [`Member`]s (where each copy is: file, record, lines,
//! bytes; a preview) and the [`Cluster`] around them, with the copy kept by
//! the [`crate::cluster::Keep`] rule and the similarity range of the others.
//!
//! With reference inputs (`--reference`), [`against_reference`] gives the
//! clusters as they are reported: a reference copy kept, the other
//! reference copies left out (the reference is not being cleaned), and
//! clusters of reference text only dropped.
//!
//! [`blocks`] runs the block stage over the corpus and makes the members
//! of its clusters (each copy mapped back to its source bytes).

pub(crate) mod blocks;

use std::ops::Range;

use crate::cluster::{Keep, KeepBy};
use crate::corpus::Corpus;
use crate::place::Place;
use crate::report::{Cluster, ClusterKind, Member, ReferenceSummary};
use crate::util::round4;

/// The copy to keep among those of documents `docs` (in input order, with
/// lengths `lens`) by rule `keep` (and `by`, when given), and why
/// ([`crate::cluster::choose_keep`]).
pub(crate) fn choose_keep(
    corpus: &Corpus,
    docs: impl Iterator<Item = usize>,
    lens: &[usize],
    keep: Keep,
    by: Option<&KeepBy>,
) -> (usize, String) {
    let docs: Vec<usize> = docs.collect();
    let keys: Vec<Option<&crate::corpus::SortKey>> = if by.is_some() {
        docs.iter()
            .map(|&d| corpus.docs[d].sort_key.as_ref())
            .collect()
    } else {
        Vec::new()
    };
    let reference: Vec<bool> = docs.iter().map(|&d| corpus.is_reference(d)).collect();
    crate::cluster::choose_keep(lens, &keys, &reference, keep, by)
}

/// The clusters as reported against reference inputs: every member marked
/// [`Member::reference`] or not, the non-kept reference copies left out
/// (reference text is never removed, so it is not reported as removable),
/// and clusters left with fewer than two copies dropped (they duplicated
/// nothing but reference text). The kept copy is already a reference copy
/// whenever there is one ([`choose_keep`]). Without reference inputs the
/// clusters are returned as they are.
pub(crate) fn against_reference(
    corpus: &Corpus,
    clusters: Vec<Cluster>,
    opts: &crate::pipeline::ScanOptions,
) -> Vec<Cluster> {
    if !corpus.inputs.iter().any(|i| i.reference) {
        return clusters;
    }
    clusters
        .into_iter()
        .filter_map(|mut c| {
            for m in &mut c.members {
                m.reference = corpus.is_reference(m.doc_index);
            }
            let keep = c.keep;
            let extra = |(i, m): (usize, &Member)| i != keep && m.reference;
            if !c.members.iter().enumerate().any(extra) {
                return Some(c);
            }
            let members: Vec<Member> = std::mem::take(&mut c.members)
                .into_iter()
                .enumerate()
                .filter(|&(i, ref m)| !extra((i, m)))
                .map(|(_, m)| m)
                .collect();
            if members.len() < 2 {
                return None;
            }
            // the kept copy is the only reference copy left
            let keep = members.iter().position(|m| m.reference).unwrap_or(0);
            let (threshold, by_containment) = match c.kind {
                ClusterKind::Document => (opts.threshold, false),
                ClusterKind::Block => (opts.blocks.threshold, true),
            };
            Some(Cluster {
                boilerplate: c.boilerplate,
                keep_reason: c.keep_reason,
                ..finish_cluster(c.kind, members, keep, threshold, by_containment)
            })
        })
        .collect()
}

/// What the report says of the reference inputs, `None` without any:
/// their files and documents, and the input copies of reference text among
/// `clusters` (as [`against_reference`] left them).
pub(crate) fn reference_summary(corpus: &Corpus, clusters: &[Cluster]) -> Option<ReferenceSummary> {
    let inputs = corpus.inputs.iter().filter(|i| i.reference).count();
    if inputs == 0 {
        return None;
    }
    let mut s = ReferenceSummary {
        inputs,
        documents: (0..corpus.docs.len())
            .filter(|&d| corpus.is_reference(d))
            .count(),
        ..ReferenceSummary::default()
    };
    for c in clusters.iter().filter(|c| c.members[c.keep].reference) {
        let copies = c.members.len() - 1;
        match c.kind {
            ClusterKind::Document => s.duplicate_documents += copies,
            ClusterKind::Block => s.duplicate_blocks += copies,
        }
    }
    Some(s)
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
        reference: false,
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

#[cfg(test)]
mod tests {
    use crate::cluster::Keep;
    use crate::corpus::Corpus;
    use crate::pipeline::{scan, Level, NoProgress, ScanOptions};

    fn text(seed: u32) -> String {
        (0..400)
            .map(|i| char::from_u32(0x4e00 + (i * 7919 + seed * 104_729) % 3000).unwrap_or('一'))
            .collect()
    }

    /// Two reference copies of one text and a longer input copy, plus a
    /// text only the reference holds twice: the input copy goes, whatever
    /// the keep rule, and the reference alone is not reported.
    #[test]
    fn reference_copies_are_kept_and_never_reported_alone() {
        let (a, b) = (text(1), text(2));
        let longer = format!("{a}。");
        let mut corpus = Corpus::from_texts(&[a.clone(), longer, a, b.clone(), b]);
        for i in [0, 2, 3, 4] {
            corpus.inputs[i].reference = true;
        }
        let opts = ScanOptions {
            level: Level::Doc,
            keep: Keep::Longest,
            ..ScanOptions::default()
        };
        let report = scan(&corpus, &opts, &NoProgress).unwrap();
        assert_eq!(report.clusters.len(), 1, "{:?}", report.clusters);
        let c = &report.clusters[0];
        let docs: Vec<usize> = c.members.iter().map(|m| m.doc_index).collect();
        assert_eq!(docs, [0, 1]);
        assert_eq!(
            (c.keep, c.keep_reason.as_str()),
            (0, "reference, then longest")
        );
        assert!(c.members[0].reference && !c.members[1].reference);
        assert_eq!(c.documents, 2);
        let r = report.summary.reference.as_ref().unwrap();
        assert_eq!((r.inputs, r.documents, r.duplicate_documents), (4, 4, 1));
        assert_eq!(report.summary.duplicate_documents, 1);
    }
}
