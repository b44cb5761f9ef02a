//! VERIFY: candidate pairs → [`Match`]es whose real similarity is at least
//! the threshold.
//!
//! Cheap bounds run first, from what is in memory (lengths and signatures),
//! the character alignment only on what survives:
//! 1. length: `LCS ≤ shorter`, so `shorter / longer < t` cannot reach `t`
//!    (exact: never rejects a pair the alignment would accept);
//! 2. MinHash estimate: a pair whose estimated Jaccard is below
//!    `jaccard_floor` is dropped without touching its text;
//!    2b. ideograph counts: before any text is read back, the
//!    [`IdeographProfile`]s the read pass made bound the similarity from
//!    the ideographs two texts have in common (exact);
//! 3. [`crate::align::similarity_at_least`] on the normalised text
//!    decides, its first step the exact character-count bound (`LCS ≤` the
//!    characters two texts have in common, a pass over each text and one
//!    to reset the counts), then the alignment with its early stop (texts
//!    too large to align exactly, past [`crate::align::EXACT_BUDGET`], get
//!    an anchored lower bound of their LCS instead, without the bound).
//!
//! A bound from per-text character profiles between steps 2b and 3 (512
//! one-byte buckets of each loaded text) cost more than it saved: it is
//! weaker than step 3's own bound, every loaded text paid for its profile,
//! and a pair it dropped saved only that bound's passes. Without it,
//! verification took 42.5 instead of 45 ms on the generated 10k corpus,
//! 443 instead of 495 ms on 100k, and no longer on the 100k boilerplate
//! corpus (688 against 701 ms), with the same clusters.
//!
//! Exact copies never reach this stage: they share an exact hash and join
//! before candidate search, so no pair here has equal texts.
//!
//! Step 2 is the only reject that is not a proof. Character similarity does
//! not bound shingle Jaccard from below (one edit every `n` characters
//! leaves an 80%-similar copy no `n`-gram in common), so no signature test
//! can be safe for every pair; banding itself finds such pairs only by
//! chance. The floor is set where banding is relied on: half the Jaccard
//! `J*` of a copy edited at the threshold with edits spread out (what
//! [`crate::lsh::LshParams::derive`] tunes for), i.e. 0.1 at the defaults,
//! about 3 standard deviations of a 128-value estimate below `J*`. Measured
//! on the generated 100k corpus with and without boilerplate, every pair the
//! alignment accepts has an estimate of at least 0.156 (0 misses); BENCHMARKS.md
//! has the counts.
//!
//! For clustering, [`verify_joins`] aligns only the pairs that could still
//! join two clusters: a pair whose documents are already connected by
//! verified pairs adds nothing to the clusters.

use rayon::prelude::*;

use crate::align;
use crate::cluster::UnionFind;
use crate::lsh::Signatures;
use crate::signature::MinHasher;

/// What [`verify_joins`] found, and what it took.
#[derive(Debug, Default)]
pub struct Joins {
    /// The matches, each of which joined two clusters.
    pub matches: Vec<Match>,
    /// Pairs aligned (the others were already in one cluster).
    pub aligned: usize,
    /// Rounds of parallel alignment.
    pub rounds: usize,
}

/// A verified near-duplicate pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    /// Earlier document.
    pub a: u32,
    /// Later document.
    pub b: u32,
    /// `LCS / longer` of their normalised texts.
    pub similarity: f64,
}

/// Options of the verify stage.
#[derive(Debug, Clone, Copy)]
pub struct VerifyOptions {
    /// Minimum similarity.
    pub threshold: f64,
    /// Minimum estimated Jaccard before the texts are aligned (0 disables).
    pub jaccard_floor: f64,
}

/// Pairs that pass the length and signature bounds (step 1 and 2).
pub fn prefilter(
    cands: &[(u32, u32)],
    lens: &[u32],
    sigs: Option<&dyn Signatures>,
    opts: &VerifyOptions,
) -> Vec<(u32, u32)> {
    cands
        .par_iter()
        .copied()
        .filter(|&(a, b)| {
            let (la, lb) = (lens[a as usize] as f64, lens[b as usize] as f64);
            if la.min(lb) < opts.threshold * la.max(lb) {
                return false;
            }
            // the whole signature: the comparison vectorises, which beat
            // counting in blocks with an early exit (2.4x in a divan run)
            match sigs {
                Some(sigs) if opts.jaccard_floor > 0.0 => {
                    MinHasher::estimate(sigs.signature(a), sigs.signature(b)) >= opts.jaccard_floor
                }
                _ => true,
            }
        })
        .collect()
}

/// Buckets of an [`IdeographProfile`].
const IDEOGRAPH_BUCKETS: usize = 256;

/// A text's CJK ideographs counted into 256 one-byte buckets by a hash of
/// the character, and their number: what the read pass keeps of a text
/// (made from the sketch's characters, [`IdeographTally`]) so that pairs
/// that cannot reach the threshold are dropped before any text is read
/// back (step 2b).
///
/// Why the sketch's characters bound the similarity of the texts the
/// alignment compares, though those have words folded into one unit each
/// and some punctuation dropped ([`crate::normalize::normalize_chars`]):
/// folding keeps every ideograph as its own unit (no word takes one in) and
/// turns the other characters into at most as many units. So for texts of
/// `I` ideographs and `L` sketch characters, the `O = L - I` other
/// characters become `O' ≤ O` units, and a common subsequence matches
/// ideographs with equal ones (at most `S`, the `Σ min` of the two
/// profiles) and other units with other units (at most `min(O'a, O'b)`).
/// With `m' = min(O'a, O'b)` and `M = max(Ia, Ib)`,
/// `LCS / longer ≤ (S + m') / (M + m') ≤ (S + m) / (M + m)` where
/// `m = min(Oa, Ob)`: `S ≤ M`, so the ratio only grows with `m'`. Pairs
/// whose bound is below the threshold would fail alignment.
///
/// 256 buckets bound nearly as well as 512 on text that shares a passage
/// (98.8% of the pairs a 512-bucket profile of all characters dropped,
/// against 67% for 128, in a sample of the 100k boilerplate corpus), at
/// 260 bytes a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdeographProfile {
    counts: [u8; IDEOGRAPH_BUCKETS],
    ideographs: u32,
}

/// The bucket of ideograph `c` in an [`IdeographProfile`]: the top 8 bits
/// of a multiplicative hash (neighbouring code points land far apart).
#[inline(always)]
fn ideograph_bucket(c: char) -> usize {
    ((c as u32).wrapping_mul(0x9e37_79b1) >> 24) as usize
}

impl IdeographProfile {
    /// An upper bound of the similarity (`LCS / longer`) of the two texts
    /// whose sketches had `len` and `other_len` characters (see the type's
    /// docs); 1.0 when it cannot say.
    pub fn similarity_bound(&self, len: u32, other: &IdeographProfile, other_len: u32) -> f64 {
        let common: u32 = self
            .counts
            .iter()
            .zip(other.counts.iter())
            .map(|(&x, &y)| u32::from(x.min(y)))
            .sum();
        let others = len
            .saturating_sub(self.ideographs)
            .min(other_len.saturating_sub(other.ideographs)) as u64;
        let most = self.ideographs.max(other.ideographs) as u64 + others;
        if most == 0 {
            return 1.0;
        }
        (common as u64 + others) as f64 / most as f64
    }
}

/// Counts the ideographs of a text given a piece at a time (the sketch's
/// blocks) into an [`IdeographProfile`].
#[derive(Debug, Clone)]
pub struct IdeographTally {
    /// The buckets, then as many that count the other characters.
    counts: [u32; 2 * IDEOGRAPH_BUCKETS],
}

impl Default for IdeographTally {
    fn default() -> Self {
        IdeographTally {
            counts: [0; 2 * IDEOGRAPH_BUCKETS],
        }
    }
}

/// Characters [`IdeographTally::add`] takes at a time.
const TALLY_CHUNK: usize = 256;

crate::util::avx2_fn! {
    /// The slot of each character in [`IdeographTally`]'s counts: its
    /// bucket for a CJK ideograph, the upper half (which nothing reads) for
    /// any other character. Without a branch: punctuation among ideographs
    /// is no pattern a branch predictor learns.
    fn tally_slots(chars: &[char], slots: &mut [u16]) {
        for (s, &c) in slots.iter_mut().zip(chars) {
            let u = c as u32;
            // `normalize::is_cjk_ideograph`, with `|` for `||`
            let ideograph = (u.wrapping_sub(0x4e00) <= 0x9fff - 0x4e00)
                | (u.wrapping_sub(0x3400) <= 0x4dbf - 0x3400);
            let other = u32::from(!ideograph) * IDEOGRAPH_BUCKETS as u32;
            *s = (ideograph_bucket(c) as u32 | other) as u16;
        }
    }
}

impl IdeographTally {
    /// Counts the ideographs of `chars`, the next characters of the text.
    #[inline]
    pub fn add(&mut self, chars: &[char]) {
        // Two passes a chunk: the slots in a loop the compiler vectorises,
        // then the counts, a load, add and store each (one loop doing both
        // spent three times the instructions a character)
        let mut slots = [0u16; TALLY_CHUNK];
        for chunk in chars.chunks(TALLY_CHUNK) {
            let slots = &mut slots[..chunk.len()];
            tally_slots(chunk, slots);
            for &s in slots.iter() {
                self.counts[usize::from(s)] += 1;
            }
        }
    }

    /// Forgets what was counted.
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    /// The profile of the characters counted, `None` when a bucket holds
    /// more than 255 (long texts: their pairs are aligned without this
    /// bound); the tally is emptied for the next text.
    pub fn finish(&mut self) -> Option<Box<IdeographProfile>> {
        let counts = &self.counts[..IDEOGRAPH_BUCKETS];
        let fits = counts.iter().all(|&n| n <= 255);
        let profile = fits.then(|| {
            let mut profile = Box::new(IdeographProfile {
                counts: [0; IDEOGRAPH_BUCKETS],
                ideographs: counts.iter().sum(),
            });
            for (out, &n) in profile.counts.iter_mut().zip(counts) {
                *out = n as u8;
            }
            profile
        });
        *self = IdeographTally::default();
        profile
    }
}

/// Step 2b: the pairs whose [`IdeographProfile`]s (`profiles`, by
/// document; `None` for a document without one) and sketch lengths `lens`
/// leave `threshold` reachable; a pair without both profiles is kept.
pub fn within_ideograph_bound(
    pairs: &[(u32, u32)],
    lens: &[u32],
    profiles: &[Option<Box<IdeographProfile>>],
    threshold: f64,
) -> Vec<(u32, u32)> {
    pairs
        .par_iter()
        .copied()
        .filter(|&(a, b)| {
            let (a, b) = (a as usize, b as usize);
            match (&profiles[a], &profiles[b]) {
                (Some(pa), Some(pb)) => pa.similarity_bound(lens[a], pb, lens[b]) >= threshold,
                _ => true,
            }
        })
        .collect()
}

/// Aligns each pair (step 3); `text(d)` gives document `d`'s normalised
/// chars. Only pairs at or above `threshold` come back, with their exact
/// similarity (an alignment stops once the threshold is out of reach).
pub fn verify<'t, F>(pairs: &[(u32, u32)], text: F, threshold: f64) -> Vec<Match>
where
    F: Fn(u32) -> &'t [char] + Sync,
{
    pairs
        .par_iter()
        .filter_map(|&(a, b)| {
            let similarity = align::similarity_at_least(text(a), text(b), threshold);
            (similarity >= threshold).then_some(Match { a, b, similarity })
        })
        .collect()
}

/// [`verify`] for clustering: the pairs that join two sets of `clusters`
/// are verified and their matches joined, in rounds; a pair whose documents
/// are already in one set is left out. Each round takes, in order, the pairs
/// that would join different sets if all before them matched (a forest over
/// the sets), aligns them in parallel, and joins those that match. The sets
/// come out as if every pair had been verified, in fewer alignments (a
/// cluster of `k` copies needs `k - 1`, not `k(k-1)/2`), and the rounds do
/// not depend on the thread count.
///
/// Once a pair between two sets fails, the other pairs between those sets
/// wait until nothing else is left, and are then verified together: two
/// large clusters of similar but not similar enough texts would otherwise
/// take one round per pair between them.
pub fn verify_joins<'t, F>(
    pairs: &[(u32, u32)],
    text: F,
    threshold: f64,
    clusters: &mut UnionFind,
) -> Joins
where
    F: Fn(u32) -> &'t [char] + Sync,
{
    type Hasher = crate::fxhash::FxBuild;
    type Roots = std::collections::HashMap<u32, u32, Hasher>;
    fn root(tentative: &Roots, mut x: u32) -> u32 {
        while let Some(&p) = tentative.get(&x) {
            x = p;
        }
        x
    }
    let key = |x: u32, y: u32| (x.min(y), x.max(y));
    // pairs of sets (by their roots then) between which a pair failed
    let mut failed: std::collections::HashSet<(u32, u32), Hasher> = Default::default();
    let mut out = Joins::default();
    let mut todo: Vec<(u32, u32)> = pairs.to_vec();
    while !todo.is_empty() {
        let mut tentative = Roots::default();
        let mut round = Vec::new();
        let mut rest = Vec::new();
        for &(a, b) in &todo {
            let (ra, rb) = (clusters.find(a), clusters.find(b));
            if ra == rb {
                continue;
            }
            let (ta, tb) = (root(&tentative, ra), root(&tentative, rb));
            if ta == tb || failed.contains(&key(ra, rb)) {
                rest.push((a, b));
            } else {
                tentative.insert(ta.max(tb), ta.min(tb));
                round.push((a, b));
            }
        }
        // only pairs between sets that failed before are left: all at once
        let last = round.is_empty();
        if last {
            round = std::mem::take(&mut rest);
        }
        if round.is_empty() {
            break;
        }
        out.rounds += 1;
        out.aligned += round.len();
        let got = verify(&round, &text, threshold);
        for m in &got {
            clusters.union(m.a, m.b);
        }
        if !last {
            for &(a, b) in &round {
                let (ra, rb) = (clusters.find(a), clusters.find(b));
                if ra != rb {
                    failed.insert(key(ra, rb));
                }
            }
        }
        out.matches.extend(got);
        todo = rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A random text of `len` ideographs out of `alphabet`.
    fn random_text(rnd: &mut impl FnMut(u64) -> u64, len: usize, alphabet: u64) -> Vec<char> {
        (0..len)
            .map(|_| char::from_u32(0x4e00 + rnd(alphabet) as u32).unwrap_or('x'))
            .collect()
    }

    /// `root` with each character replaced with probability `rate`%.
    fn edited(rnd: &mut impl FnMut(u64) -> u64, root: &[char], rate: u64) -> Vec<char> {
        root.iter()
            .map(|&c| if rnd(100) < rate { '某' } else { c })
            .collect()
    }

    /// Every pair of `n` documents.
    fn all_pairs(n: usize) -> Vec<(u32, u32)> {
        let n = n as u32;
        (0..n)
            .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
            .collect()
    }

    /// Texts in families: each family is one random text and copies of it
    /// with a share of characters replaced, some above the threshold, some
    /// below.
    fn family_texts() -> Vec<Vec<char>> {
        let mut rnd = crate::testutil::lcg(5);
        let mut texts = Vec::new();
        for _ in 0..12 {
            let len = 200 + rnd(300) as usize;
            let root = random_text(&mut rnd, len, 500);
            for _ in 0..1 + rnd(6) {
                let rate = rnd(35);
                texts.push(edited(&mut rnd, &root, rate));
            }
            texts.push(root);
        }
        texts
    }

    #[test]
    fn joins_give_the_clusters_of_verifying_every_pair() {
        let texts = family_texts();
        let pairs = all_pairs(texts.len());
        let text = |d: u32| texts[d as usize].as_slice();
        let all = verify(&pairs, text, 0.8);
        let expected = crate::cluster::components(texts.len(), all.iter().map(|m| (m.a, m.b)));
        assert!(expected.len() > 3, "families form clusters");

        let mut uf = UnionFind::new(texts.len());
        let joins = verify_joins(&pairs, text, 0.8, &mut uf).matches;
        assert_eq!(uf.groups(), expected);
        assert!(
            joins.len() < all.len(),
            "{} alignments of matches instead of {}",
            joins.len(),
            all.len()
        );
        // what it returns is a subset of the matches, with the same values
        for m in &joins {
            assert!(all.contains(m), "{m:?}");
        }
    }

    #[test]
    fn ideograph_bound_drops_texts_sharing_only_a_passage_and_keeps_every_match() {
        // families as above, and two unrelated texts sharing 40% of a passage
        let mut rnd = crate::testutil::lcg(3);
        let passage = random_text(&mut rnd, 200, 3000);
        let mut texts = family_texts();
        for _ in 0..2 {
            let mut t = random_text(&mut rnd, 300, 3000);
            t.extend_from_slice(&passage);
            texts.push(t);
        }
        let (x, y) = (texts.len() as u32 - 2, texts.len() as u32 - 1);
        let text = |d: u32| texts[d as usize].as_slice();
        let pairs = all_pairs(texts.len());
        // the ideograph bound, before texts are loaded (all ideographs here)
        let lens: Vec<u32> = texts.iter().map(|t| t.len() as u32).collect();
        let early: Vec<Option<Box<IdeographProfile>>> = texts
            .iter()
            .map(|t| {
                let mut tally = IdeographTally::default();
                tally.add(t);
                tally.finish()
            })
            .collect();
        let kept_early = within_ideograph_bound(&pairs, &lens, &early, 0.8);
        assert!(
            !kept_early.contains(&(x, y)),
            "a shared passage alone is not a copy"
        );
        assert!(kept_early.len() < pairs.len());
        // every pair the alignment accepts survives the bound
        let all = verify(&pairs, text, 0.8);
        assert!(!all.is_empty());
        for m in &all {
            assert!(kept_early.contains(&(m.a, m.b)), "{m:?} dropped early");
        }
    }

    /// Texts of every kind normalisation meets, in families: each family
    /// one text of pieces (mostly ideographs, or mostly words and
    /// punctuation) and copies with pieces replaced, inserted or dropped.
    fn hostile_families(seed: u64) -> Vec<String> {
        use crate::normalize::tests::HOSTILE;
        let mut rnd = crate::testutil::lcg(seed);
        let mut texts = Vec::new();
        for family in 0..24 {
            // even families mostly ideographs, odd ones mostly the rest
            let pick = |rnd: &mut dyn FnMut(u64) -> u64| -> &str {
                if family % 2 == 0 && rnd(3) > 0 {
                    HOSTILE[rnd(4) as usize]
                } else {
                    HOSTILE[rnd(HOSTILE.len() as u64) as usize]
                }
            };
            let len = 5 + rnd(150) as usize;
            let root: Vec<&str> = (0..len).map(|_| pick(&mut rnd)).collect();
            for _ in 0..1 + rnd(5) {
                let rate = rnd(30);
                let mut copy = Vec::new();
                for &p in &root {
                    match rnd(100) {
                        r if r < rate / 3 => {}
                        r if r < 2 * rate / 3 => copy.extend([pick(&mut rnd), p]),
                        r if r < rate => copy.push(pick(&mut rnd)),
                        _ => copy.push(p),
                    }
                }
                texts.push(copy.concat());
            }
            texts.push(root.concat());
        }
        texts
    }

    #[test]
    fn a_tally_counts_ideographs_only() {
        let all: Vec<char> = (0..0x11_0000).filter_map(char::from_u32).collect();
        let mut tally = IdeographTally::default();
        tally.add(&all);
        tally.add(&['中', '中', 'a', '。']);
        let profile = tally.finish().expect("few of each");
        let ideographs: Vec<char> = all
            .iter()
            .copied()
            .filter(|&c| crate::normalize::is_cjk_ideograph(c))
            .collect();
        assert_eq!(profile.ideographs as usize, ideographs.len() + 2);
        let mut want = [0u8; IDEOGRAPH_BUCKETS];
        for c in ideographs.into_iter().chain(['中', '中']) {
            want[ideograph_bucket(c)] += 1;
        }
        assert_eq!(profile.counts, want);
    }

    #[test]
    fn ideograph_bound_never_falls_below_the_similarity() {
        use crate::normalize::{normalize_chars, normalize_unmapped, NormalizeOptions};
        let texts = hostile_families(23);
        for mask_fold in [false, true] {
            let opts = NormalizeOptions { mask_fold };
            // what the read pass counts (the sketch's characters) and what
            // the alignment compares (words folded)
            let (mut chars, mut gaps) = (Vec::new(), Vec::new());
            let mut sketched = Vec::new();
            for t in &texts {
                normalize_unmapped(t, &opts, &mut chars, &mut gaps);
                let mut tally = IdeographTally::default();
                tally.add(&chars);
                let profile = tally.finish().expect("short text");
                sketched.push((chars.len() as u32, profile));
            }
            let aligned: Vec<Vec<char>> = texts.iter().map(|t| normalize_chars(t, &opts)).collect();
            let (mut close, mut dropped) = (0, 0);
            for (a, b) in all_pairs(texts.len()) {
                let (a, b) = (a as usize, b as usize);
                let ((la, pa), (lb, pb)) = (&sketched[a], &sketched[b]);
                let bound = pa.similarity_bound(*la, pb, *lb);
                let real = align::similarity(&aligned[a], &aligned[b]);
                assert!(bound >= real, "{a} {b}: {bound} < {real}");
                close += usize::from(real >= 0.8);
                dropped += usize::from(bound < 0.8);
            }
            assert!(
                close > 20 && dropped > 1000,
                "{close} close, {dropped} dropped"
            );
        }
    }

    #[test]
    fn pairs_failing_between_two_clusters_take_few_rounds() {
        // two families of 150 copies; every cross pair is a candidate that fails
        let mut rnd = crate::testutil::lcg(11);
        let mut texts: Vec<Vec<char>> = Vec::new();
        for _ in 0..2 {
            let root = random_text(&mut rnd, 300, 3000);
            for _ in 0..150 {
                texts.push(edited(&mut rnd, &root, 2));
            }
        }
        let pairs = all_pairs(texts.len());
        let mut uf = UnionFind::new(texts.len());
        let rounds = verify_joins(&pairs, |d| texts[d as usize].as_slice(), 0.8, &mut uf).rounds;
        assert_eq!(uf.groups().len(), 2);
        // one round per failing cross pair would be 22,500
        assert!(rounds <= 4, "{rounds} rounds");
    }
}
