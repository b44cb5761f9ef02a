//! CLUSTER: verified pairs → groups, by union-find.
//!
//! Only verified pairs join documents, so a cluster never grows through a
//! candidate that failed verification. Members are returned in input order;
//! which one is kept is decided by [`Keep`].

/// Which member of a cluster stays in the cleaned corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Keep {
    /// The first in input order.
    #[default]
    First,
    /// The longest (first in input order among equals).
    Longest,
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
}
