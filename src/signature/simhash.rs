//! 64-bit SimHash (Charikar 2002) over shingle hashes.

/// The SimHash of a multiset of shingle hashes: bit `i` is set when more
/// shingles have bit `i` set than not.
pub fn simhash(shingles: &[u64]) -> u64 {
    let mut counts = [0i32; 64];
    for &h in shingles {
        for (i, c) in counts.iter_mut().enumerate() {
            // branch-free ±1 keeps the loop vectorisable
            *c += (((h >> i) & 1) as i32) * 2 - 1;
        }
    }
    counts.iter().enumerate().fold(
        0u64,
        |acc, (i, &c)| if c > 0 { acc | (1 << i) } else { acc },
    )
}

/// Number of differing bits.
pub fn hamming(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_sets_are_close_and_different_far() {
        let base: Vec<u64> = (0..200u64)
            .map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))
            .collect();
        let mut near = base.clone();
        near.truncate(190);
        let far: Vec<u64> = (1000..1200u64)
            .map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))
            .collect();
        let (s, n, f) = (simhash(&base), simhash(&near), simhash(&far));
        assert!(hamming(s, n) < 8, "near {}", hamming(s, n));
        assert!(hamming(s, f) > 16, "far {}", hamming(s, f));
    }
}
