//! One-permutation MinHash (`--method oph`): one hash a shingle.
//!
//! Each shingle is hashed once to 32 bits `h`; `h · k / 2³²` is its bin
//! (of `k`) and the rest of that product its value, and each bin keeps its
//! minimum (Li, Owen & Zhang 2012): a shingle costs one hash and one
//! comparison, where [`super::MinHasher`] makes `k` products. Two sets
//! agree on a bin with probability about their Jaccard similarity.
//!
//! A set of fewer than about `k ln k` shingles leaves bins empty. They
//! are filled by further rounds over the same shingles, each with fresh
//! hashes (fast similarity sketching, Dahlgaard, Knudsen & Thorup 2017):
//! a round's number is the top byte of its values, so a bin keeps the
//! value of the first round that reached it, and the rounds stop once
//! every bin is filled. Bins that [`ROUNDS`] rounds leave empty take the
//! minimum of a hash of their own (MinHash for those bins). Unlike
//! densification, which copies a filled bin into the empty ones, every
//! bin of a short text is its own sample, so a short text's estimate and
//! its banding keep the spread of `k` independent minima (measured in the
//! tests and BENCHMARKS.md).
//!
//! A character n-gram's hash is made from its characters with no byte
//! hashing: `fmix32(s + Σ c_j · K_j)` (odd multipliers `K_j` and start
//! `s` drawn from the seed, murmur3's finaliser), which the compiler
//! turns into vector multiplies eight n-grams at a time (AVX2). Two
//! n-grams that differ in one character never collide (each `K_j` is odd,
//! a bijection), and `fmix32` is a bijection.

use super::minhash::splitmix;

/// Rounds of random bins; round `r`'s values have `r` as their top byte.
const ROUNDS: u32 = 0xFE;

/// The top byte of the values of the bins no round reached.
const FILL: u32 = 0xFE << 24;

/// Hashes made at a time before their bins are updated.
const CHUNK: usize = 256;

/// The sketcher of `k` bins for one seed and n-gram size.
#[derive(Debug, Clone)]
pub struct OnePerm {
    bins: usize,
    /// The multiplier of each position of a character n-gram.
    keys: Vec<u32>,
    /// The start of every n-gram's sum.
    start: u32,
    /// What round `r` xors into a shingle's hash (`salts[r - 1]`).
    salts: Vec<u32>,
    /// What the bin `j` left empty by every round xors into a hash.
    fills: Vec<u32>,
}

/// murmur3's 32-bit finaliser: a bijection whose every output bit depends
/// on every input bit.
#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

impl OnePerm {
    /// `bins` bins (the signature's length) for character `ngram`-grams,
    /// drawn from `seed`.
    pub fn new(bins: usize, ngram: usize, seed: u64) -> OnePerm {
        // not MinHasher's stream: its first values are its salt and multipliers
        let mut state = seed ^ 0x6f70_685f_6f6e_6521;
        let mut next = || splitmix(&mut state) as u32;
        let start = next();
        let keys = (0..ngram.max(1)).map(|_| next() | 1).collect();
        let salts = (1..ROUNDS).map(|_| next()).collect();
        let fills = (0..bins).map(|_| next()).collect();
        OnePerm {
            bins,
            keys,
            start,
            salts,
            fills,
        }
    }

    /// The hash of one character n-gram, or of a whole text shorter than
    /// one (at most `ngram` characters).
    #[inline]
    pub fn gram(&self, w: &[char]) -> u32 {
        let sum = w.iter().zip(&self.keys).fold(self.start, |h, (&c, &k)| {
            h.wrapping_add((c as u32).wrapping_mul(k))
        });
        fmix32(sum)
    }

    /// The hash of a shingle hashed elsewhere (a word n-gram's 64 bits).
    #[inline]
    pub fn of_hash(&self, h: u64) -> u32 {
        fmix32((h ^ (h >> 32)) as u32 ^ self.start)
    }

    /// The bin of hash `h` in round `round`, and its value there.
    #[inline(always)]
    fn place(&self, h: u32, round: u32) -> (usize, u32) {
        let x = u64::from(h) * self.bins as u64;
        ((x >> 32) as usize, round << 24 | (x as u32) >> 8)
    }

    /// Lowers `sig` (started at all `u32::MAX`) by the first round of
    /// `hashes`.
    #[inline]
    pub fn update(&self, hashes: &[u32], sig: &mut [u32]) {
        self.update_round(hashes, 0, sig);
    }

    /// Lowers `sig` by round `round` of shingles hashed for it to
    /// `hashes`; gives how many empty bins it filled.
    #[inline]
    fn update_round(&self, hashes: &[u32], round: u32, sig: &mut [u32]) -> usize {
        let mut filled = 0;
        for &h in hashes {
            let (b, v) = self.place(h, round);
            if let Some(slot) = sig.get_mut(b) {
                filled += usize::from(*slot == u32::MAX);
                *slot = (*slot).min(v);
            }
        }
        filled
    }

    /// [`Self::update`] with the hashes of the `ngram`-grams of `chars`
    /// (or of `chars` whole when shorter, if not empty), appended to
    /// `keep` while it has fewer than `cap` (for [`Self::finish`]).
    pub fn update_grams(&self, chars: &[char], sig: &mut [u32], keep: &mut Vec<u32>, cap: usize) {
        let n = self.keys.len();
        if chars.len() < n {
            if !chars.is_empty() {
                let h = self.gram(chars);
                self.update(&[h], sig);
                if keep.len() < cap {
                    keep.push(h);
                }
            }
            return;
        }
        let mut buf = [0u32; CHUNK];
        let windows = chars.len() - n + 1;
        let mut at = 0;
        while at < windows {
            let m = (windows - at).min(CHUNK);
            let hashes = &mut buf[..m];
            grams_into(&chars[at..at + m + n - 1], &self.keys, self.start, hashes);
            self.update(hashes, sig);
            if keep.len() < cap {
                keep.extend_from_slice(&hashes[..m.min(cap - keep.len())]);
            }
            at += m;
        }
    }

    /// Fills the bins of `sig` that the first round of `hashes` (every
    /// shingle of the text, repeats allowed) left empty: further rounds,
    /// then a hash of each bin's own. No hashes leave `sig` as it is.
    pub fn finish(&self, hashes: &[u32], sig: &mut [u32]) {
        let mut empty = sig.iter().filter(|&&v| v == u32::MAX).count();
        if empty == 0 || hashes.is_empty() {
            return;
        }
        let mut buf = [0u32; CHUNK];
        for (round, &salt) in (1..ROUNDS).zip(&self.salts) {
            for chunk in hashes.chunks(CHUNK) {
                let again = &mut buf[..chunk.len()];
                rehash_into(chunk, salt, again);
                empty -= self.update_round(again, round, sig);
            }
            if empty == 0 {
                return;
            }
        }
        for (slot, &salt) in sig.iter_mut().zip(&self.fills) {
            if *slot == u32::MAX {
                let least = hashes.iter().map(|&h| fmix32(h ^ salt)).min();
                *slot = least.map_or(u32::MAX, |v| FILL | v >> 8);
            }
        }
    }

    /// The signature of a set of shingle hashes (into `sig`, of
    /// [`Self::bins`] values).
    pub fn sign_into(&self, hashes: &[u32], sig: &mut [u32]) {
        sig.fill(u32::MAX);
        self.update(hashes, sig);
        self.finish(hashes, sig);
    }

    /// Bins (the signature's length).
    pub fn bins(&self) -> usize {
        self.bins
    }
}

crate::util::avx2_fn! {
    /// `out[i]` = `fmix32(hashes[i] ^ salt)`: a round's fresh hashes.
    fn rehash_into(hashes: &[u32], salt: u32, out: &mut [u32]) {
        for (o, &h) in out.iter_mut().zip(hashes) {
            *o = fmix32(h ^ salt);
        }
    }
}

crate::util::avx2_fn! {
    /// `out[i]` = the hash of the n-gram at `chars[i]` (`n = keys.len()`,
    /// `chars` holding `out.len() + n - 1` characters), as
    /// [`OnePerm::gram`]: one pass a position of the n-gram, each a loop
    /// the compiler vectorises (loads of consecutive characters, a multiply
    /// and an add), then the finaliser over them all.
    fn grams_into(chars: &[char], keys: &[u32], start: u32, out: &mut [u32]) {
        let m = out.len();
        if chars.len() + 1 < m + keys.len() {
            return;
        }
        if let Ok(k) = <&[u32; 5]>::try_from(keys) {
            // the default size, unrolled: one pass
            for (i, o) in out.iter_mut().enumerate() {
                let w = &chars[i..i + 5];
                *o = fmix32(
                    start
                        .wrapping_add((w[0] as u32).wrapping_mul(k[0]))
                        .wrapping_add((w[1] as u32).wrapping_mul(k[1]))
                        .wrapping_add((w[2] as u32).wrapping_mul(k[2]))
                        .wrapping_add((w[3] as u32).wrapping_mul(k[3]))
                        .wrapping_add((w[4] as u32).wrapping_mul(k[4])),
                );
            }
            return;
        }
        out.fill(start);
        for (j, &k) in keys.iter().enumerate() {
            for (o, &c) in out.iter_mut().zip(&chars[j..j + m]) {
                *o = o.wrapping_add((c as u32).wrapping_mul(k));
            }
        }
        for o in out.iter_mut() {
            *o = fmix32(*o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::MinHasher;

    fn chars_of(seed: u64, len: usize) -> Vec<char> {
        let mut rnd = crate::testutil::lcg(seed);
        (0..len)
            .map(|_| char::from_u32(0x4e00 + rnd(3000) as u32).unwrap_or('x'))
            .collect()
    }

    fn sign_chars(o: &OnePerm, chars: &[char]) -> Vec<u32> {
        let mut sig = vec![u32::MAX; o.bins()];
        let mut keep = Vec::new();
        o.update_grams(chars, &mut sig, &mut keep, usize::MAX);
        o.finish(&keep, &mut sig);
        sig
    }

    #[test]
    fn vector_grams_are_the_grams_one_by_one() {
        let chars = chars_of(1, 700);
        for n in [1, 2, 3, 5, 7, 9] {
            let o = OnePerm::new(128, n, 42);
            let mut got = vec![0; chars.len() - n + 1];
            grams_into(&chars, &o.keys, o.start, &mut got);
            let want: Vec<u32> = chars.windows(n).map(|w| o.gram(w)).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }

    #[test]
    fn grams_differing_in_one_character_never_collide() {
        let o = OnePerm::new(128, 5, 7);
        let base = chars_of(2, 5);
        let h = o.gram(&base);
        for j in 0..5 {
            for c in 0x3400..0x9fff {
                let mut w = base.clone();
                w[j] = char::from_u32(c).unwrap_or('x');
                if w != base {
                    assert_ne!(o.gram(&w), h, "position {j}, U+{c:X}");
                }
            }
        }
    }

    #[test]
    fn the_signature_is_of_the_set_and_signing_in_blocks_is_signing_the_whole() {
        let o = OnePerm::new(128, 5, 3);
        let chars = chars_of(3, 3000);
        let whole = sign_chars(&o, &chars);
        // blocks that overlap by n - 1 characters, as the fused pass signs them
        let mut sig = vec![u32::MAX; 128];
        let mut keep = Vec::new();
        let mut at = 0;
        while at + 5 <= chars.len() {
            let end = (at + 777).min(chars.len());
            o.update_grams(&chars[at..end], &mut sig, &mut keep, usize::MAX);
            at = end - 4;
            if end == chars.len() {
                break;
            }
        }
        o.finish(&keep, &mut sig);
        assert_eq!(sig, whole);
        // the hashes in another order, repeated
        let mut hashes: Vec<u32> = chars.windows(5).map(|w| o.gram(w)).collect();
        hashes.reverse();
        hashes.extend(hashes.clone());
        let mut again = vec![0; 128];
        o.sign_into(&hashes, &mut again);
        assert_eq!(again, whole);
    }

    #[test]
    fn every_bin_of_a_short_text_is_filled_and_equal_texts_agree() {
        let o = OnePerm::new(128, 5, 42);
        for len in [1, 3, 5, 6, 20, 60, 200] {
            let chars = chars_of(len as u64, len);
            let sig = sign_chars(&o, &chars);
            assert!(sig.iter().all(|&v| v != u32::MAX), "{len} characters");
            assert_eq!(sig, sign_chars(&o, &chars));
        }
        // no text, no values: it matches nothing
        assert!(sign_chars(&o, &[]).iter().all(|&v| v == u32::MAX));
    }

    /// Root-mean-square error of the Jaccard estimate over random pairs of
    /// sets of `size` hashes with Jaccard `j`.
    fn rmse(size: usize, j: f64, sign: impl Fn(&[u32]) -> Vec<u32>) -> f64 {
        let mut rnd = crate::testutil::lcg(size as u64 * 1000 + (j * 100.0) as u64);
        let common = (2.0 * j * size as f64 / (1.0 + j)).round() as usize;
        let mut err = 0.0;
        let trials = 100;
        for _ in 0..trials {
            let pool: Vec<u32> = (0..2 * size - common)
                .map(|_| (rnd(1 << 16) << 16 | rnd(1 << 16)) as u32)
                .collect();
            let a = &pool[..size];
            let b = &pool[size - common..];
            let exact = common as f64 / (2 * size - common) as f64;
            let est = MinHasher::estimate(&sign(a), &sign(b));
            err += (est - exact).powi(2);
        }
        (err / trials as f64).sqrt()
    }

    #[test]
    fn short_and_long_sets_estimate_as_well_as_independent_permutations() {
        let o = OnePerm::new(128, 5, 42);
        let m = MinHasher::new(128, 42);
        for size in [10, 40, 100, 400, 2000] {
            for j in [0.2, 0.5, 0.8] {
                let one = rmse(size, j, |s| {
                    let mut sig = vec![0; 128];
                    o.sign_into(s, &mut sig);
                    sig
                });
                let k = rmse(size, j, |s| {
                    let wide: Vec<u64> = s.iter().map(|&h| u64::from(h) * 0x9e37_79b9).collect();
                    m.sign(&wide)
                });
                // theory for k independent minima: sqrt(j (1 - j) / 128)
                let theory = (j * (1.0 - j) / 128.0).sqrt();
                assert!(
                    one < 1.3 * theory + 0.005 && one < 1.3 * k + 0.005,
                    "{size} shingles, J {j}: one-permutation {one:.4}, \
                     {k:.4} with 128 permutations, theory {theory:.4}"
                );
            }
        }
    }

    /// Whether two signatures share a band of `rows` values.
    fn share_band(a: &[u32], b: &[u32], rows: usize) -> bool {
        a.chunks(rows).zip(b.chunks(rows)).any(|(x, y)| x == y)
    }

    #[test]
    fn short_edited_copies_are_candidates_as_often_as_with_independent_permutations() {
        // banding of the default derived for threshold 0.8 (64 bands of 2),
        // copies of 20 to 150 characters with 10-20% of them replaced
        let o = OnePerm::new(128, 5, 42);
        let m = MinHasher::new(128, 42);
        let mut rnd = crate::testutil::lcg(9);
        let classic = |t: &[char]| {
            let mut shingles = Vec::new();
            crate::shingle::char_shingles(t, 5, &mut shingles);
            m.sign(&shingles)
        };
        let (mut one, mut k, mut pairs) = (0, 0, 0);
        for len in [20, 40, 80, 150] {
            for rate in [10, 15, 20] {
                for _ in 0..150 {
                    let a = chars_of(rnd(1 << 30), len);
                    let b: Vec<char> = a
                        .iter()
                        .map(|&c| if rnd(100) < rate { '某' } else { c })
                        .collect();
                    one += usize::from(share_band(&sign_chars(&o, &a), &sign_chars(&o, &b), 2));
                    k += usize::from(share_band(&classic(&a), &classic(&b), 2));
                    pairs += 1;
                }
            }
        }
        assert!(
            one + pairs * 3 / 100 >= k,
            "candidates: {one} one-permutation, {k} with 128 permutations, of {pairs}"
        );
    }
}
