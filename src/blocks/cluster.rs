//! CLUSTERS: verified region pairs → block clusters.
//!
//! The two sides of every verified pair are occurrences. Occurrences of one
//! document that overlap by at least half of the shorter are merged into
//! one copy; copies that still overlap are cut apart, a frequent passage
//! (star path) keeping its characters against a pairwise copy; copies
//! linked by verified pairs form a cluster (union-find).

use rayon::prelude::*;

use crate::cluster::UnionFind;

use super::{BlockCluster, Copy, RegionPair};

/// Step 5: merges overlapping occurrences and groups them by verified pairs.
pub fn cluster_pairs(pairs: &[RegionPair]) -> Vec<BlockCluster> {
    let mut tagged: Vec<(Copy, bool)> = pairs
        .par_iter()
        .flat_map_iter(|p| [(p.a.clone(), p.frequent), (p.b.clone(), p.frequent)])
        .collect();
    // one entry per occurrence; found on both paths counts as pairwise
    // (entries equal in this order are identical: unstable is exact)
    tagged.par_sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.cmp(&y.1)));
    tagged.dedup_by(|x, y| x.0 == y.0);
    let occ: Vec<Copy> = tagged.par_iter().map(|(c, _)| c.clone()).collect();
    // Merge overlapping occurrences of one document into copies: pairwise
    // ones when they overlap by half of the shorter (copy A found against
    // a shorter B and against C is one copy), frequent-passage ones only by
    // half of the longer, so that a passage found alone and the same
    // passage found together with its neighbour (a share line above a
    // footer) stay two copies and their passages two clusters.
    let mut copies: Vec<(Copy, bool)> = Vec::new();
    let mut copy_of: Vec<usize> = Vec::with_capacity(occ.len());
    for (o, o_frequent) in &tagged {
        let merge = copies.last().is_some_and(|(c, c_frequent): &(Copy, bool)| {
            c.doc == o.doc && {
                let overlap = c.range.end.min(o.range.end).saturating_sub(o.range.start);
                let (lc, lo) = (c.range.end - c.range.start, o.range.end - o.range.start);
                if *c_frequent || *o_frequent {
                    overlap * 2 >= lc.max(lo)
                } else {
                    overlap * 2 >= lc.min(lo)
                }
            }
        });
        if merge {
            if let Some((c, c_frequent)) = copies.last_mut() {
                c.range.end = c.range.end.max(o.range.end);
                *c_frequent &= *o_frequent;
            }
        } else {
            copies.push((o.clone(), *o_frequent));
        }
        copy_of.push(copies.len() - 1);
    }
    // Copies of one document that still overlap a little (the ends of
    // copies pasted back to back align either way) are cut apart, so that
    // no character belongs to two copies. Where a frequent passage (a share
    // line, a footer) follows a pairwise copy, the passage keeps its
    // characters: two pages that share an article and both end with the
    // share line match on past the article's end, as far as the line
    // agrees, and the article's copy must not take the share line's start.
    for i in 1..copies.len() {
        let (prev, cur) = copies.split_at_mut(i);
        let ((p, p_frequent), (c, c_frequent)) = (&mut prev[i - 1], &mut cur[0]);
        if p.doc == c.doc && c.range.start < p.range.end && p.range.end < c.range.end {
            if *c_frequent && !*p_frequent && c.range.start > p.range.start {
                p.range.end = c.range.start;
            } else {
                c.range.start = p.range.end;
            }
        }
    }
    let copies: Vec<Copy> = copies.into_iter().map(|(c, _)| c).collect();
    let index = |c: &Copy| -> usize {
        // occ is sorted and unique: binary search finds the occurrence
        occ.binary_search(c).map(|i| copy_of[i]).unwrap_or(0)
    };
    // the searches (a cache miss or more each) in parallel, the unions in order
    let ends: Vec<(u32, u32)> = pairs
        .par_iter()
        .map(|p| (index(&p.a) as u32, index(&p.b) as u32))
        .collect();
    let mut uf = UnionFind::new(copies.len());
    for (a, b) in ends {
        uf.union(a, b);
    }
    uf.groups()
        .into_iter()
        .map(|g| BlockCluster {
            copies: g.into_iter().map(|i| copies[i as usize].clone()).collect(),
        })
        .collect()
}
