//! CLUSTER: verified pairs → groups, by union-find.
//!
//! Only verified pairs join documents, so a cluster never grows through a
//! candidate that failed verification. Members are returned in input order;
//! which one is kept is decided by [`choose_keep`]: a reference copy
//! whenever the cluster holds one (reference text is never removed), then a
//! [`KeepBy`] field when one is given, then the [`Keep`] rule.

use std::cmp::Ordering;

use crate::corpus::SortKey;

/// Which member of a cluster stays in the cleaned corpus, when no
/// [`KeepBy`] field decides (or as its tie-break).
///
/// Input order is the order of the arguments, then of the sorted paths
/// within a walked folder, then of the records within a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The first in input order.
    #[default]
    First,
    /// The longest (first in input order among equals).
    Longest,
}

impl Keep {
    /// The rule's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Keep::First => "first",
            Keep::Longest => "longest",
        }
    }
}

/// Whether the largest or the smallest value of a [`KeepBy`] field wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeepOrder {
    /// The largest (newest date, best score).
    #[default]
    Max,
    /// The smallest (oldest date, lowest rank).
    Min,
}

/// Keep the copy whose JSONL field (captured at ingest as each document's
/// [`SortKey`]) is largest or smallest; ties and copies without the field
/// are decided by [`Keep`], and a copy with the field beats any without.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeepBy {
    /// The field (dotted for nested fields: `meta.date`).
    pub field: String,
    /// Largest or smallest wins.
    pub order: KeepOrder,
}

impl KeepBy {
    /// `max date`, `min rank`: why a copy was kept.
    pub fn reason(&self) -> String {
        let order = match self.order {
            KeepOrder::Max => "max",
            KeepOrder::Min => "min",
        };
        format!("{order} {}", self.field)
    }
}

/// The member to keep, given each member's length, sort key and whether it
/// is reference text (in input order; `reference` may be empty: none is),
/// and the reason (`first`, `longest`, `max date`, or `max date, then
/// first` when several share the best value; `reference`, or `reference,
/// then first` when several copies are).
///
/// Only reference copies are candidates when there is one: the reference
/// is what the inputs are cleaned against, so its copy must stay.
pub fn choose_keep(
    lens: &[usize],
    keys: &[Option<&SortKey>],
    reference: &[bool],
    keep: Keep,
    by: Option<&KeepBy>,
) -> (usize, String) {
    let mut pool: Vec<usize> = (0..lens.len())
        .filter(|&i| reference.get(i).copied().unwrap_or(false))
        .collect();
    if pool.len() == 1 {
        return (pool[0], "reference".into());
    }
    let from_reference = !pool.is_empty();
    if !from_reference {
        pool = (0..lens.len()).collect();
    }
    let mut reason = None;
    if let Some(by) = by {
        let best = pool
            .iter()
            .filter_map(|&i| keys.get(i).copied().flatten())
            .reduce(|a, b| {
                let better = match by.order {
                    KeepOrder::Max => b.cmp_key(a) == Ordering::Greater,
                    KeepOrder::Min => b.cmp_key(a) == Ordering::Less,
                };
                if better {
                    b
                } else {
                    a
                }
            });
        if let Some(best) = best {
            pool.retain(|&i| {
                keys.get(i)
                    .copied()
                    .flatten()
                    .is_some_and(|k| k.cmp_key(best) == Ordering::Equal)
            });
            reason = Some(by.reason());
        }
    }
    let pick = match keep {
        Keep::First => pool.first().copied(),
        Keep::Longest => {
            let max = pool.iter().map(|&i| lens[i]).max().unwrap_or(0);
            pool.iter().copied().find(|&i| lens[i] == max)
        }
    }
    .unwrap_or(0);
    let reason = match reason {
        Some(r) if pool.len() == 1 => r,
        Some(r) => format!("{r}, then {}", keep.name()),
        None => keep.name().to_string(),
    };
    if from_reference {
        return (pick, format!("reference, then {reason}"));
    }
    (pick, reason)
}

/// Disjoint sets over `0..n`, with path halving and union by smaller root
/// (so the root of a set is its smallest element).
#[derive(Debug, Clone)]
pub struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    /// `n` singleton sets.
    pub fn new(n: usize) -> UnionFind {
        UnionFind {
            parent: (0..n as u32).collect(),
        }
    }

    /// The representative (smallest element) of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Joins the sets of `a` and `b`.
    pub fn union(&mut self, a: u32, b: u32) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi as usize] = lo;
        }
    }

    /// Sets with at least two members, each sorted, ordered by smallest member.
    pub fn groups(&mut self) -> Vec<Vec<u32>> {
        let n = self.parent.len();
        let mut by_root: Vec<Vec<u32>> = vec![Vec::new(); n];
        for x in 0..n as u32 {
            let r = self.find(x);
            by_root[r as usize].push(x);
        }
        by_root.into_iter().filter(|g| g.len() > 1).collect()
    }
}

/// Groups of `0..n` joined by `edges`.
pub fn components(n: usize, edges: impl IntoIterator<Item = (u32, u32)>) -> Vec<Vec<u32>> {
    let mut uf = UnionFind::new(n);
    for (a, b) in edges {
        uf.union(a, b);
    }
    uf.groups()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_sorted_and_exclude_singletons() {
        let g = components(6, [(4, 1), (1, 3), (5, 2)]);
        assert_eq!(g, vec![vec![1, 3, 4], vec![2, 5]]);
    }

    fn by(order: KeepOrder) -> KeepBy {
        KeepBy {
            field: "date".into(),
            order,
        }
    }

    #[test]
    fn keep_by_field_then_the_rule_and_missing_values_lose() {
        let s = |v: &str| SortKey::Str(v.into());
        let (a, b, c) = (s("2021-05-01"), s("2024-01-31"), s("2024-01-31"));
        let keys = [Some(&a), None, Some(&b), Some(&c)];
        let lens = [10, 50, 5, 8];
        let max = by(KeepOrder::Max);
        // two share the newest date: first of them, or longest of them
        assert_eq!(
            choose_keep(&lens, &keys, &[], Keep::First, Some(&max)),
            (2, "max date, then first".into())
        );
        assert_eq!(
            choose_keep(&lens, &keys, &[], Keep::Longest, Some(&max)),
            (3, "max date, then longest".into())
        );
        // the undated (and longest) copy never wins over a dated one
        assert_eq!(
            choose_keep(&lens, &keys, &[], Keep::Longest, Some(&by(KeepOrder::Min))),
            (0, "min date".into())
        );
        // no copy has the field: the rule alone
        assert_eq!(
            choose_keep(&lens, &[None; 4], &[], Keep::Longest, Some(&max)),
            (1, "longest".into())
        );
        assert_eq!(
            choose_keep(&lens, &keys, &[], Keep::First, None),
            (0, "first".into())
        );
    }

    #[test]
    fn a_reference_copy_is_kept_whatever_the_rule() {
        let s = |v: &str| SortKey::Str(v.into());
        let (old, new) = (s("2020"), s("2024"));
        let keys = [Some(&new), Some(&old), None, Some(&new)];
        let lens = [50, 10, 90, 20];
        let max = by(KeepOrder::Max);
        // the only reference copy wins over first, longest and newest
        let one = [false, true, false, false];
        for rule in [Keep::First, Keep::Longest] {
            assert_eq!(
                choose_keep(&lens, &keys, &one, rule, Some(&max)),
                (1, "reference".into())
            );
        }
        // among several reference copies, the rules decide
        let two = [false, true, true, false];
        assert_eq!(
            choose_keep(&lens, &keys, &two, Keep::First, None),
            (1, "reference, then first".into())
        );
        assert_eq!(
            choose_keep(&lens, &keys, &two, Keep::Longest, None),
            (2, "reference, then longest".into())
        );
        // the field is compared among the reference copies only
        assert_eq!(
            choose_keep(&lens, &keys, &two, Keep::Longest, Some(&max)),
            (1, "reference, then max date".into())
        );
    }

    #[test]
    fn numbers_compare_as_numbers() {
        let (nine, ten) = (SortKey::Num(9.0), SortKey::Num(10.5));
        let keys = [Some(&nine), Some(&ten)];
        let max = by(KeepOrder::Max);
        assert_eq!(
            choose_keep(&[1, 1], &keys, &[], Keep::First, Some(&max)).0,
            1
        );
    }
}
