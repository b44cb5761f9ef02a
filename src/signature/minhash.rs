//! MinHash over 32-bit lanes.
//!
//! Each shingle is hashed once (xxh3, in [`crate::shingle`]) and folded to
//! 32 bits `x`; permutation `i` maps `x ^ salt` to `a[i]·(x ^ salt) mod 2³²`
//! with `a[i]` odd (a bijection), and the signature keeps the minimum per
//! permutation. No additive term (`+ b[i]`): on a random `x` it adds nothing
//! to the estimate (root-mean-square error of the Jaccard estimate 0.037
//! without, 0.039 with, over 400 random set pairs at 128 permutations), and
//! it was one vector instruction in three (MinHash-128 1.09 GB/s without,
//! 0.78 GB/s with). Every multiplier maps 0 to 0, the minimum, so the one
//! shingle value with `x ^ salt == 0` would be the minimum of every
//! permutation and turn its document's signature to zeros (and the salt
//! comes from a public default seed: such a 5-gram can be searched for). It
//! is mapped to another value first ([`lane`]); no other value is small
//! under many multipliers. The
//! permutation loop is innermost over `u32` lanes, which the compiler turns
//! into vector multiply/min instructions; on x86-64 an AVX-512 or AVX2 copy
//! of the same loop is chosen at run time (16 or 8 lanes per instruction),
//! so the binary still runs on any CPU.
//! 64-bit lanes would be 2–3× slower (no 64-bit vector multiply in AVX2)
//! for no measurable gain in estimation accuracy at 128 permutations.

/// A family of `k` hash permutations with a fixed seed.
#[derive(Debug, Clone)]
pub struct MinHasher {
    a: Vec<u32>,
    salt: u32,
}

/// SplitMix64: a tiny, well-mixed generator for the permutation constants.
pub(super) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    mix(*state)
}

impl MinHasher {
    /// `perms` permutations drawn from `seed`.
    pub fn new(perms: usize, seed: u64) -> MinHasher {
        let mut state = seed;
        let salt = splitmix(&mut state) as u32;
        let a = (0..perms)
            .map(|_| (splitmix(&mut state) as u32) | 1)
            .collect();
        MinHasher { a, salt }
    }

    /// Number of permutations (signature length).
    pub fn perms(&self) -> usize {
        self.a.len()
    }

    /// Writes the signature of `shingles` into `sig` (length [`Self::perms`]).
    /// No shingles give all `u32::MAX`.
    pub fn sign_into(&self, shingles: &[u64], sig: &mut [u32]) {
        sig.fill(u32::MAX);
        self.update(shingles, sig);
    }

    /// Lowers `sig` to the minima of `shingles` too: a signature started
    /// at all `u32::MAX` and updated with the blocks of a sequence of
    /// shingles is [`Self::sign_into`] of the whole sequence (signing a
    /// long text in blocks, without holding all its shingles).
    pub fn update(&self, shingles: &[u64], sig: &mut [u32]) {
        assert_eq!(sig.len(), self.a.len(), "signature length");
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                unsafe { sign_avx512(&self.a, self.salt, shingles, sig) };
                return;
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { sign_avx2(&self.a, self.salt, shingles, sig) };
                return;
            }
        }
        sign_generic(&self.a, self.salt, shingles, sig);
    }

    /// [`Self::update`] with the shingle hashes `hash(0)`, …,
    /// `hash(count - 1)` computed inside the kernel's loop rather than
    /// read from memory: on a CPU that runs the scalar hash and the vector
    /// multiplies on separate units, each hides the other. Only for 128
    /// permutations on AVX-512 or AVX2 (one pass over the shingles: with
    /// AVX2 the 16 running minima fill the vector registers and the
    /// multipliers are read from memory, still faster than two passes
    /// over stored hashes); `false` (nothing done) otherwise.
    #[inline]
    pub(crate) fn update_by(
        &self,
        count: usize,
        hash: impl Fn(usize) -> u64,
        sig: &mut [u32],
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if sig.len() == 128 && self.a.len() == 128 {
            if std::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports AVX-512F, checked just above.
                unsafe { by_avx512(&self.a, self.salt, count, hash, sig) };
                return true;
            }
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { by_avx2(&self.a, self.salt, count, hash, sig) };
                return true;
            }
        }
        let _ = (count, hash);
        false
    }

    /// The signature of `shingles`.
    pub fn sign(&self, shingles: &[u64]) -> Vec<u32> {
        let mut sig = vec![0; self.perms()];
        self.sign_into(shingles, &mut sig);
        sig
    }

    /// Estimated Jaccard similarity: the fraction of equal positions.
    pub fn estimate(a: &[u32], b: &[u32]) -> f64 {
        if a.is_empty() {
            return 0.0;
        }
        let eq = a.iter().zip(b).filter(|(x, y)| x == y).count();
        eq as f64 / a.len() as f64
    }
}

/// A strong 64-bit finaliser (SplitMix64's): a bijection of `u64` whose
/// top bits depend on every bit of its input (LSH buckets keys by them).
#[inline(always)]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Folds a 64-bit shingle hash into the 32-bit lane value.
#[inline(always)]
fn fold(h: u64) -> u32 {
    (h ^ (h >> 32)) as u32
}

/// The value the permutations multiply: the folded hash xor the salt, with
/// 0 (every permutation's minimum) moved to an odd constant.
#[inline(always)]
fn lane(h: u64, salt: u32) -> u32 {
    match fold(h) ^ salt {
        0 => 0x9e37_79b9,
        x => x,
    }
}

/// Permutations handled per pass over the shingles: 64 `u32` lanes are eight
/// AVX2 registers, 128 are eight AVX-512 ones, so the running minima (and
/// the multipliers and addends beside them) stay in registers for the whole
/// pass instead of going through memory for every shingle.
#[inline(always)]
fn kernel<const CHUNK: usize>(a: &[u32], salt: u32, shingles: &[u64], sig: &mut [u32]) {
    let n = sig.len().min(a.len());
    let full = n - n % CHUNK;
    for c in (0..full).step_by(CHUNK) {
        let ca: &[u32; CHUNK] = a[c..c + CHUNK].try_into().unwrap_or(&[0; CHUNK]);
        let mut acc = [u32::MAX; CHUNK];
        acc.copy_from_slice(&sig[c..c + CHUNK]);
        for &h in shingles {
            let x = lane(h, salt);
            for i in 0..CHUNK {
                acc[i] = acc[i].min(ca[i].wrapping_mul(x));
            }
        }
        sig[c..c + CHUNK].copy_from_slice(&acc);
    }
    let (a, sig) = (&a[full..n], &mut sig[full..n]);
    for &h in shingles {
        let x = lane(h, salt);
        for i in 0..sig.len() {
            sig[i] = sig[i].min(a[i].wrapping_mul(x));
        }
    }
}

fn sign_generic(a: &[u32], salt: u32, shingles: &[u64], sig: &mut [u32]) {
    kernel::<64>(a, salt, shingles, sig);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sign_avx2(a: &[u32], salt: u32, shingles: &[u64], sig: &mut [u32]) {
    kernel::<64>(a, salt, shingles, sig);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sign_avx512(a: &[u32], salt: u32, shingles: &[u64], sig: &mut [u32]) {
    // 128 permutations a pass; a remainder of 64 or more (`--perms 64`, 192)
    // in passes of 64 rather than the one-at-a-time tail
    let n = sig.len().min(a.len());
    let full = n - n % 128;
    let (head, rest) = sig[..n].split_at_mut(full);
    kernel::<128>(&a[..full], salt, shingles, head);
    kernel::<64>(&a[full..n], salt, shingles, rest);
}

/// Lowers the 128 minima `sig` by the hashes `hash(0)`, …, `hash(count - 1)`
/// in one pass, each made inside the loop: the body of [`by_avx512`] and
/// [`by_avx2`], compiled for each.
#[inline(always)]
fn by_kernel(a: &[u32], salt: u32, count: usize, hash: impl Fn(usize) -> u64, sig: &mut [u32]) {
    let (Ok(a), Ok(sig)) = (<&[u32; 128]>::try_from(a), <&mut [u32; 128]>::try_from(sig)) else {
        return;
    };
    let mut acc = *sig;
    for k in 0..count {
        let x = lane(hash(k), salt);
        for i in 0..128 {
            acc[i] = acc[i].min(a[i].wrapping_mul(x));
        }
    }
    *sig = acc;
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn by_avx512(
    a: &[u32],
    salt: u32,
    count: usize,
    hash: impl Fn(usize) -> u64,
    sig: &mut [u32],
) {
    by_kernel(a, salt, count, hash, sig);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn by_avx2(
    a: &[u32],
    salt: u32,
    count: usize,
    hash: impl Fn(usize) -> u64,
    sig: &mut [u32],
) {
    by_kernel(a, salt, count, hash, sig);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_tracks_jaccard() {
        let m = MinHasher::new(256, 42);
        // Two sets of 1000 with 600 in common: Jaccard 600/1400.
        let a: Vec<u64> = (0..1000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let b: Vec<u64> = (400..1400u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let est = MinHasher::estimate(&m.sign(&a), &m.sign(&b));
        let exact = 600.0 / 1400.0;
        assert!((est - exact).abs() < 0.08, "estimate {est} vs {exact}");
    }

    #[test]
    fn no_shingle_is_the_minimum_of_every_permutation() {
        let m = MinHasher::new(128, 42);
        // the shingle hash that the salt would send to 0
        let magic = u64::from(m.salt);
        assert_eq!(fold(magic) ^ m.salt, 0);
        let text: Vec<u64> = (1..2000u64)
            .map(|i| xxhash_rust::xxh3::xxh3_64(&i.to_le_bytes()))
            .collect();
        let mut with = text.clone();
        with.push(magic);
        let sig = m.sign(&with);
        assert!(sig.iter().filter(|&&v| v == 0).count() < 4, "{sig:?}");
        let est = MinHasher::estimate(&m.sign(&text), &sig);
        assert!(est > 0.9, "one added shingle of 2,000: estimate {est}");
    }

    #[test]
    fn signing_in_blocks_is_signing_the_whole() {
        let m = MinHasher::new(128, 3);
        let s: Vec<u64> = (0..1000u64).map(|i| i.wrapping_mul(0x2545_f491)).collect();
        let mut sig = vec![u32::MAX; 128];
        for block in s.chunks(77) {
            m.update(block, &mut sig);
        }
        assert_eq!(sig, m.sign(&s));
    }

    #[test]
    fn hashes_made_in_the_kernel_sign_as_a_vector_of_them() {
        let m = MinHasher::new(128, 5);
        let s: Vec<u64> = (0..500u64).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        let mut sig = vec![u32::MAX; 128];
        if m.update_by(s.len(), |i| s[i], &mut sig) {
            assert_eq!(sig, m.sign(&s));
        }
    }

    #[test]
    fn same_seed_same_signature_and_generic_matches_dispatch() {
        let s: Vec<u64> = (0..50u64).map(|i| i * 31 + 5).collect();
        // the vector kernels take 64 or 128 permutations a pass: cover tails
        for perms in [7, 64, 128, 200, 256] {
            let m = MinHasher::new(perms, 7);
            assert_eq!(m.sign(&s), MinHasher::new(perms, 7).sign(&s));
            let scalar: Vec<u32> = (0..perms)
                .map(|i| {
                    s.iter()
                        .map(|&h| m.a[i].wrapping_mul(lane(h, m.salt)))
                        .min()
                        .unwrap_or(u32::MAX)
                })
                .collect();
            assert_eq!(m.sign(&s), scalar, "{perms} permutations");
            let mut g = vec![u32::MAX; perms];
            sign_generic(&m.a, m.salt, &s, &mut g);
            assert_eq!(g, scalar, "{perms} permutations, generic");
        }
    }
}
