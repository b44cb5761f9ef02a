//! ALIGN: how similar two normalised texts are, character by character.
//!
//! # The similarity neardup reports
//!
//! `similarity(a, b) = LCS(a, b) / max(|a|, |b|)`: the number of characters
//! of a longest common subsequence (the characters an alignment matches,
//! in order) over the length of the longer text, both after
//! normalisation. A copy with 10% of its characters substituted is 0.9
//! similar; a copy missing its last third is 0.67 similar. Unlike shingle
//! Jaccard, which a few scattered edits drive down to 0.4, this number
//! means what a reader expects.
//!
//! [`containment`] is `LCS / |a|`: how much of `a` is found, in order, in
//! `b`; `clean` uses it to prove that a removed span survives in the kept
//! copy.
//!
//! # How it is computed
//!
//! Common prefix and suffix are stripped first (copies that differ by a
//! header or a footer cost nothing more). The rest uses the bit-parallel
//! LCS of Hyyrö (2004): one machine word per 64 characters of the shorter
//! text (one add-with-carry each), one pass over the longer text, skipping
//! characters the shorter text does not contain, so 3,000 × 3,000
//! characters take well under a millisecond. When only a threshold
//! matters ([`similarity_at_least`]), two cheaper exits come first: the
//! count of characters the texts have in common bounds the LCS (linear
//! time), and the alignment stops once the rows left cannot reach the
//! threshold even on the columns they can still match; most pairs that
//! merely share a passage, or differ in their opening, end there. Only the
//! words inside Ukkonen's band are updated (a path with `need` matches
//! stays within `|a| - need` and `|b| - need` of the diagonal), tried first
//! with a `need` close to the character-count bound, where close copies
//! lie; when that fails, what the narrow band found is a lower bound of the
//! LCS, and the second try takes the band of that bound or of the real
//! `need`, whichever is narrower. The exact LCS ([`lcs_len`]) is banded
//! the same way, the first try near the character-count bound, the second
//! at what the first found. Past [`EXACT_BUDGET`] word operations the texts are
//! first cut at unique 12-character anchors chained in order (longest
//! increasing subsequence), and only the gaps are aligned exactly: the
//! result is then a lower bound on the LCS, never an overestimate.

use std::collections::HashMap;
use std::ops::Range;

use similar::{capture_diff_slices, Algorithm, DiffOp};

use crate::fxhash::FxHasher;
use crate::normalize::{is_unspaced, is_word_char, weight, NormText, GAP_NONE};

type FxMap<K, V> = HashMap<K, V, crate::fxhash::FxBuild>;

/// Word operations above which the exact LCS gives way to anchoring.
pub const EXACT_BUDGET: usize = 1 << 25;

const ANCHOR_K: usize = 12;

/// The first, narrow try aims at `common - (common - need) / HINT_SLACK`.
const HINT_SLACK: usize = 4;

/// When any LCS is wanted (no `need`), the first try aims at
/// `common - common / EXACT_HINT_SLACK`.
const EXACT_HINT_SLACK: usize = 64;

/// Length of a longest common subsequence (exact within [`EXACT_BUDGET`],
/// a lower bound beyond).
pub fn lcs_len(a: &[char], b: &[char]) -> usize {
    lcs_at_least(a, b, 0)
}

/// [`lcs_len`] when it is at least `need`; otherwise some value below
/// `need` (the alignment stops as soon as `need` is out of reach).
pub fn lcs_at_least(a: &[char], b: &[char], need: usize) -> usize {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[pre..], &b[pre..]);
    let suf = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suf], &b[..b.len() - suf]);
    if a.is_empty() || b.is_empty() {
        return pre + suf;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let need_inner = need.saturating_sub(pre + suf);
    let words = short.len().div_ceil(64);
    let inner = if words.saturating_mul(long.len()) <= EXACT_BUDGET {
        lcs_bitparallel(short, long, need_inner)
    } else {
        lcs_anchored(a, b)
    };
    pre + suf + inner
}

/// `LCS / max(len)`; two empty texts are 1.0 similar.
pub fn similarity(a: &[char], b: &[char]) -> f64 {
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    lcs_len(a, b) as f64 / longer as f64
}

/// [`similarity`] when it is at least `threshold`, otherwise some value
/// below `threshold`: dissimilar pairs cost a fraction of an alignment.
pub fn similarity_at_least(a: &[char], b: &[char], threshold: f64) -> f64 {
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    // smallest LCS whose ratio reaches the threshold
    let need = (threshold.max(0.0) * longer as f64).ceil() as usize;
    let need = (need.saturating_sub(1)..=need)
        .find(|&n| n as f64 / longer as f64 >= threshold)
        .unwrap_or(need);
    lcs_at_least(a, b, need) as f64 / longer as f64
}

/// `s` with every ASCII digit made `0`: compared this way, any digit
/// matches any digit (numbers are the fields of boilerplate, a date, a
/// counter or a phone number that varies from page to page).
pub fn fold_digits(s: &[char]) -> Vec<char> {
    s.iter().map(|&c| fold_digit(c)).collect()
}

/// `c`, or `0` for any ASCII digit ([`fold_digits`]).
pub fn fold_digit(c: char) -> char {
    if c.is_ascii_digit() {
        '0'
    } else {
        c
    }
}

/// `LCS / |a|`: the share of `a` found in order in `b`.
pub fn containment(a: &[char], b: &[char]) -> f64 {
    if a.is_empty() {
        return 1.0;
    }
    lcs_len(a, b) as f64 / a.len() as f64
}

/// Hyyrö's bit-vector LCS; `short` is the pattern held in bit vectors.
/// Character → mask slot: a direct table for the Basic Multilingual Plane
/// (every CJK ideograph in common use) and the word units, reused per
/// thread and reset after each use, and a hash map for the rest. Looking a character up is the
/// innermost operation of the LCS, so no hashing on the common path.
struct Slots {
    table: Box<Table>,
    used: Vec<u32>,
    other: FxMap<char, u32>,
    /// Working memory of [`Slots::lcs`], kept between calls: a fresh
    /// ~100 KB of masks per pair cost more than the alignment itself.
    masks: Vec<u64>,
    spans: Vec<(u32, u32)>,
    /// The slot of each character of the short text
    /// ([`Slots::assign_slots`]).
    slot_of: Vec<u32>,
    /// The count of each slot in the short text, used up by
    /// [`Slots::common_with`].
    counts: Vec<u32>,
    v: Vec<u64>,
}

const NO_SLOT: u32 = u32::MAX;

impl Slots {
    #[inline(always)]
    fn get(&self, c: char) -> Option<u32> {
        match table_index(c) {
            Some(i) => {
                let s = self.table[i];
                (s != NO_SLOT).then_some(s)
            }
            None => self.other.get(&c).copied(),
        }
    }

    #[inline(always)]
    fn get_or_insert(&mut self, c: char, next: u32) -> u32 {
        match table_index(c) {
            Some(i) => {
                let e = &mut self.table[i];
                if *e == NO_SLOT {
                    *e = next;
                    self.used.push(i as u32);
                }
                *e
            }
            None => *self.other.entry(c).or_insert(next),
        }
    }

    fn clear(&mut self) {
        for &i in &self.used {
            if let Some(e) = self.table.get_mut(i as usize) {
                *e = NO_SLOT;
            }
        }
        self.used.clear();
        self.other.clear();
    }
}

/// Entries of the per-thread character tables: the Basic Multilingual
/// Plane, then the two planes of word units
/// ([`crate::normalize::is_word_unit`]), which text with words in it
/// (English, Russian) is made of as much as CJK text is of the BMP.
const TABLE_SIZE: usize = 0x30000;

/// A per-thread character table (fixed size: no bounds check on lookup).
type Table = [u32; TABLE_SIZE];

/// A table of [`TABLE_SIZE`] entries, every one [`NO_SLOT`].
fn new_table() -> Box<Table> {
    vec![NO_SLOT; TABLE_SIZE]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("the table has TABLE_SIZE entries"))
}

/// The entry of `c` in a table of [`TABLE_SIZE`], `None` for the planes in
/// between (emoji, rare ideographs), which go to a hash map.
#[inline(always)]
fn table_index(c: char) -> Option<usize> {
    let i = c as u32;
    if i < 0x10000 {
        Some(i as usize)
    } else if i >= 0xF_0000 {
        Some((i - 0xF_0000 + 0x10000) as usize)
    } else {
        None
    }
}

impl Slots {
    fn new() -> Slots {
        Slots {
            table: new_table(),
            used: Vec::new(),
            other: FxMap::default(),
            masks: Vec::new(),
            spans: Vec::new(),
            slot_of: Vec::new(),
            counts: Vec::new(),
            v: Vec::new(),
        }
    }

    /// [`lcs_bitparallel`] with these tables (left to be cleared).
    fn lcs(&mut self, short: &[char], long: &[char], need: usize) -> usize {
        let words = short.len().div_ceil(64);
        self.spans.clear();
        // The characters two texts have in common bound their LCS: texts
        // that merely share a passage or a style fail here in linear time,
        // counted through the slots the masks are built with.
        self.assign_slots(short);
        let common = self.common_with(long);
        if common < need {
            return common;
        }
        let hint = if need > 0 {
            common - (common - need) / HINT_SLACK
        } else {
            // the exact LCS, however low: the texts of one cluster
            common - common / EXACT_HINT_SLACK
        };
        if words <= ZEROED_WORDS {
            self.fill_zeroed(words);
        } else {
            self.build_spans(short);
        }
        let m = short.len();
        let lcs = if hint > need {
            // A close copy's LCS sits near the character-count bound (a
            // substitution or an indel lowers both by one): aligning first
            // in the narrow band that bound allows is exact when it holds.
            // When no `need` is given it runs to the end: what it finds
            // then is close to the LCS, and bands the second try.
            let narrow = self.align(m, long, hint, if need > 0 { hint } else { 0 });
            if narrow >= hint {
                narrow
            } else {
                // What the narrow band found is an LCS of fewer matches,
                // so the LCS is at least that: if it reaches `need`, that
                // value's band (narrower than `need`'s) holds the answer.
                let need = narrow.max(need);
                self.align(m, long, need, need)
            }
        } else {
            self.align(m, long, need, need)
        };
        // keep the masks for the next pair unless one huge text grew them
        if self.masks.len() > 1 << 20 {
            self.masks = Vec::new();
        }
        lcs
    }

    /// The match masks of `short`, its slots assigned
    /// ([`Slots::assign_slots`]): slot `s` (in order of first occurrence)
    /// has words `s * words ..` of `masks`, valid within its span
    /// (`spans[s]`, first and last word with a bit set). A text of at most
    /// [`ZEROED_WORDS`] words has every word of every mask zeroed
    /// ([`Slots::fill_zeroed`]: a narrow band reads them all); in a longer
    /// one (here) words outside the span are left from earlier pairs and
    /// never read, so no pair pays for zeroing a mask of every word per
    /// distinct character.
    fn build_spans(&mut self, short: &[char]) {
        let words = short.len().div_ceil(64);
        self.spans.clear();
        for (i, &c) in short.iter().enumerate() {
            let next = self.spans.len() as u32;
            // assigned in this order already: a first occurrence finds the
            // next slot
            let slot = self.get_or_insert(c, next) as usize;
            let (at, w) = (slot * words, i / 64);
            if slot == self.spans.len() {
                if self.masks.len() < at + words {
                    let grown = (at + words).max(2 * self.masks.len());
                    self.masks.resize(grown, 0);
                }
                self.spans.push((w as u32, w as u32));
                self.masks[at + w] = 0;
            } else {
                let last = self.spans[slot].1 as usize;
                if w > last {
                    self.masks[at + last + 1..=at + w].fill(0);
                    self.spans[slot].1 = w as u32;
                }
            }
            self.masks[at + w] |= 1u64 << (i % 64);
        }
    }

    /// Gives each character of `short` its slot, in order of first
    /// occurrence (`slot_of`), and each slot the word where it starts
    /// (`spans`) and its count in `short` (`counts`). Whether a character
    /// is new is a coin toss in CJK text (half its characters are first
    /// occurrences), so the slots are found without a branch on it.
    fn assign_slots(&mut self, short: &[char]) {
        let mut slots = std::mem::take(&mut self.slot_of);
        slots.clear();
        // room for every character to be new: written before it is known
        self.spans.resize(short.len() + 1, (0, 0));
        let mut used = self.used.len();
        self.used.resize(used + short.len(), 0);
        let mut n = 0u32;
        for (i, &c) in short.iter().enumerate() {
            let w = (i / 64) as u32;
            let slot = match table_index(c) {
                Some(t) => {
                    let e = self.table[t];
                    let new = e == NO_SLOT;
                    let slot = if new { n } else { e };
                    self.table[t] = slot;
                    // kept when the slot is new
                    self.used[used] = t as u32;
                    used += usize::from(new);
                    slot
                }
                None => *self.other.entry(c).or_insert(n),
            };
            // the span of slot `n` starts here if it is this character's
            self.spans[n as usize] = (w, w);
            n += u32::from(slot == n);
            slots.push(slot);
        }
        self.used.truncate(used);
        self.spans.truncate(n as usize);
        self.counts.clear();
        self.counts.resize(n as usize, 0);
        for &slot in &slots {
            self.counts[slot as usize] += 1;
        }
        self.slot_of = slots;
    }

    /// `Σ over characters c of min(count in short, count in long)`, the
    /// short text's slots assigned ([`Slots::assign_slots`]): an upper
    /// bound on the LCS, in one pass over `long` (`counts` used up).
    fn common_with(&mut self, long: &[char]) -> usize {
        let mut common = 0usize;
        for &c in long {
            if let Some(slot) = self.get(c) {
                let n = &mut self.counts[slot as usize];
                // without a branch: whether a character is still in the
                // short text's counts is no pattern a predictor learns
                let held = u32::from(*n > 0);
                *n -= held;
                common += held as usize;
            }
        }
        common
    }

    /// The masks of a text of `words` words (at most [`ZEROED_WORDS`]),
    /// its slots assigned ([`Slots::assign_slots`]), every mask zeroed
    /// whole.
    fn fill_zeroed(&mut self, words: usize) {
        let n = self.spans.len();
        let need = n * words;
        if self.masks.len() < need {
            self.masks.resize(need.max(2 * self.masks.len()), 0);
        }
        self.masks[..need].fill(0);
        for (i, &slot) in self.slot_of.iter().enumerate() {
            let (slot, w) = (slot as usize, i / 64);
            self.masks[slot * words + w] |= 1u64 << (i % 64);
            self.spans[slot].1 = w as u32;
        }
    }

    /// The LCS of the `m` characters whose masks are built and `long`,
    /// exact when it is at least `need`, otherwise some value below
    /// `need`: the LCS of the matches in `need`'s band, or less if it
    /// stops early because `stop` (0: never) is out of reach. Never above
    /// the real LCS.
    fn align(&mut self, m: usize, long: &[char], need: usize, stop: usize) -> usize {
        let words = m.div_ceil(64);
        let mut v = std::mem::take(&mut self.v);
        v.clear();
        v.resize(words, !0u64);
        // every word of every mask is valid (`fill_zeroed`), not only spans
        let zeroed = words <= ZEROED_WORDS;
        // Ukkonen's band: an alignment with `need` matches leaves at most
        // `m - need` characters of `short` and `n - need` of `long`
        // unmatched, so row j can match only columns j - (n - need) ..=
        // j + (m - need). Words outside the band are left as they are
        // (frozen on the left, untouched on the right): that is the exact
        // bit-parallel LCS of the matches inside the band, which holds every
        // path of `need` matches, and at most the real LCS otherwise. At the
        // verification threshold 0.8 this is about 2/5 of the words.
        let (left, right) = if need > 0 && need <= m.min(long.len()) {
            (m - need, long.len() - need)
        } else {
            (m, long.len())
        };
        // Every so often: can the rest of `long` still lift the LCS to
        // `need`? A path through row j at column i ends with at most
        // L(j, i) + min(n - j, m - i) matches, largest where m - i = n - j
        // (L grows by at most one a column): only the columns the rows left
        // can still match count, so a copy whose opening differs stops
        // there, not near its end.
        let check_every = if stop > 0 { CHECK_EVERY } else { usize::MAX };
        let mut next_check = check_every;
        let mut j = 0;
        while j < long.len() {
            if j == next_check {
                next_check = next_check.saturating_add(check_every);
                let rest = long.len() - j;
                if rest < m && zeros_before(&v, m - rest) + rest < stop {
                    break;
                }
            }
            let band_lo = j.saturating_sub(right) / 64;
            let band_hi = words.min((j + left) / 64 + 1);
            let width = band_hi - band_lo;
            if zeroed && width <= HELD {
                // the rows up to the next check or change of the band's
                // words, with those words held in registers
                let lo_moves = right + 64 * (band_lo + 1);
                let hi_moves = if band_hi < words {
                    64 * band_hi - left
                } else {
                    usize::MAX
                };
                let end = long.len().min(next_check).min(lo_moves).min(hi_moves);
                let (rows, v) = (&long[j..end], &mut v[band_lo..band_hi]);
                match width {
                    1 => self.band_rows::<1>(v, band_lo, words, rows),
                    2 => self.band_rows::<2>(v, band_lo, words, rows),
                    3 => self.band_rows::<3>(v, band_lo, words, rows),
                    4 => self.band_rows::<4>(v, band_lo, words, rows),
                    5 => self.band_rows::<5>(v, band_lo, words, rows),
                    6 => self.band_rows::<6>(v, band_lo, words, rows),
                    7 => self.band_rows::<7>(v, band_lo, words, rows),
                    8 => self.band_rows::<8>(v, band_lo, words, rows),
                    // no word in the band: nothing to update
                    _ => {}
                }
                j = end;
                continue;
            }
            let c = long[j];
            j += 1;
            let Some(slot) = self.get(c) else { continue };
            let slot = slot as usize;
            let (first, last) = self.spans[slot];
            let (lo, hi) = if zeroed && width <= NARROW {
                // the whole band: a loop of the same length row after row
                // is predicted, one of the words where `c` occurs is not
                (band_lo, band_hi)
            } else {
                let lo = (first as usize).max(band_lo);
                let hi = (last as usize + 1).min(band_hi);
                if lo >= hi {
                    continue;
                }
                (lo, hi)
            };
            // Words where the mask has bits: one add-with-carry each.
            let mask = &self.masks[slot * words + lo..slot * words + hi];
            let mut carry = 0u8;
            for (vw, &mw) in v[lo..hi].iter_mut().zip(mask) {
                let x = *vw;
                let (c, sum) = add_with_carry(carry, x, x & mw);
                carry = c;
                *vw = sum | (x & !mw);
            }
            // Past the last one the mask is zero: `v + carry | v`, and the
            // carry goes on only through all-ones words.
            let mut w = hi;
            while carry != 0 && w < band_hi {
                let x = v[w];
                let sum = x.wrapping_add(1);
                v[w] = sum | x;
                carry = u8::from(sum == 0);
                w += 1;
            }
        }
        let zeros = zeros_before(&v, m);
        self.v = v;
        zeros
    }

    /// The rows `rows` of [`Slots::align`] in a band of `K` words from word
    /// `lo` (`v`, the band's words of the state; every mask zeroed whole,
    /// [`ZEROED_WORDS`]): the words stay in registers from row to row
    /// rather than going through memory, and every row is the same `K`
    /// add-with-carry steps, a carry out of the band dropped as there.
    #[inline(always)]
    fn band_rows<const K: usize>(&self, v: &mut [u64], lo: usize, words: usize, rows: &[char]) {
        let mut x = [0u64; K];
        x.copy_from_slice(v);
        for &c in rows {
            let Some(slot) = self.get(c) else { continue };
            let at = slot as usize * words + lo;
            let mask: &[u64; K] = self.masks[at..at + K].try_into().unwrap_or(&[0; K]);
            let mut carry = 0u8;
            for w in 0..K {
                let (c, sum) = add_with_carry(carry, x[w], x[w] & mask[w]);
                carry = c;
                x[w] = sum | (x[w] & !mask[w]);
            }
        }
        v.copy_from_slice(&x);
    }
}

/// Bands of at most this many words are held in registers
/// ([`Slots::band_rows`], one arm of `align`'s match a width) when the
/// masks are zeroed whole ([`ZEROED_WORDS`]): 8 words and the masks' addresses fit the
/// general registers.
const HELD: usize = 8;

/// Bands of at most this many words are updated whole on every row
/// (close copies, aligned first in the narrow band of their hint) when
/// the masks are zeroed whole ([`ZEROED_WORDS`]).
const NARROW: usize = 12;

/// Texts of at most this many words (4,096 characters) have their masks
/// zeroed whole: at most 32 KB a distinct character, less than the
/// alignment costs.
const ZEROED_WORDS: usize = 64;

/// Rows of `long` between two checks of the early stop.
const CHECK_EVERY: usize = 128;

thread_local! {
    static SLOTS: std::cell::RefCell<Slots> = std::cell::RefCell::new(Slots::new());
}

/// Hyyrö's LCS of `short` and `long` (`short` no longer), exact when it is
/// at least `need`, otherwise some value below `need`: the characters the
/// texts have in common when those fall short of it, else what the
/// alignment gives, first tried in the narrower band of a hint near that
/// bound.
fn lcs_bitparallel(short: &[char], long: &[char], need: usize) -> usize {
    SLOTS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slots) => {
            let n = slots.lcs(short, long, need);
            slots.clear();
            n
        }
        // not reachable (no re-entrance), but never panic for it
        Err(_) => Slots::new().lcs(short, long, need),
    })
}

/// `a + b + carry` and its carry out: one `adc` on x86-64, the carry chain
/// of the bit-parallel LCS at one cycle a word.
#[inline(always)]
fn add_with_carry(carry: u8, a: u64, b: u64) -> (u8, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        let mut sum = 0u64;
        // SAFETY: arithmetic on registers only; `adc` is baseline x86-64.
        #[allow(unused_unsafe)]
        let c = unsafe { std::arch::x86_64::_addcarry_u64(carry, a, b, &mut sum) };
        (c, sum)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (s1, c1) = a.overflowing_add(b);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        (u8::from(c1 | c2), s2)
    }
}

/// The zero bits among the first `bits` of `v`: the LCS of the rows
/// processed so far with the first `bits` characters of `short`.
fn zeros_before(v: &[u64], bits: usize) -> usize {
    let full = bits / 64;
    let mut zeros: usize = v[..full].iter().map(|w| w.count_zeros() as usize).sum();
    if !bits.is_multiple_of(64) {
        zeros += (!v[full] & ((1u64 << (bits % 64)) - 1)).count_ones() as usize;
    }
    zeros
}

fn gram_hash(g: &[char]) -> u64 {
    let mut h = FxHasher::default();
    for &c in g {
        h.add(c as u64);
    }
    h.finish_u64()
}

/// Unique-anchor alignment for texts too long for the exact algorithm.
fn lcs_anchored(a: &[char], b: &[char]) -> usize {
    let chain = anchor_chain(a, b, ANCHOR_K);
    if chain.is_empty() {
        // No shared 12-gram in texts this long: count nothing (a lower bound).
        return 0;
    }
    let mut total = 0;
    let (mut ca, mut cb) = (0usize, 0usize);
    for (i, j) in chain {
        if i < ca || j < cb {
            continue;
        }
        total += gap_lcs(&a[ca..i], &b[cb..j]);
        let l = a[i..]
            .iter()
            .zip(&b[j..])
            .take_while(|(x, y)| x == y)
            .count();
        total += l;
        ca = i + l;
        cb = j + l;
    }
    total + gap_lcs(&a[ca..], &b[cb..])
}

fn gap_lcs(a: &[char], b: &[char]) -> usize {
    // Recursion only on strictly smaller pieces, so it ends.
    lcs_len(a, b)
}

/// Positions `(i, j)` of k-grams unique in both texts, chained so that both
/// coordinates increase (longest increasing subsequence over `i`).
fn anchor_chain(a: &[char], b: &[char], k: usize) -> Vec<(usize, usize)> {
    if a.len() < k || b.len() < k {
        return Vec::new();
    }
    const DUP: u32 = u32::MAX;
    let mut in_a: FxMap<u64, u32> = FxMap::default();
    for i in 0..=a.len() - k {
        in_a.entry(gram_hash(&a[i..i + k]))
            .and_modify(|p| *p = DUP)
            .or_insert(i as u32);
    }
    let mut in_b: FxMap<u64, (u32, u32)> = FxMap::default();
    for j in 0..=b.len() - k {
        let h = gram_hash(&b[j..j + k]);
        if let Some(&i) = in_a.get(&h) {
            if i != DUP {
                in_b.entry(h)
                    .and_modify(|e| e.1 = DUP)
                    .or_insert((i, j as u32));
            }
        }
    }
    let mut anchors: Vec<(usize, usize)> = in_b
        .into_values()
        .filter(|&(_, j)| j != DUP)
        .map(|(i, j)| (i as usize, j as usize))
        .filter(|&(i, j)| a[i..i + k] == b[j..j + k])
        .collect();
    anchors.sort_unstable_by_key(|&(_, j)| j);
    longest_increasing(&anchors)
}

/// Longest subsequence of `pairs` (sorted by `.1`) with increasing `.0`.
fn longest_increasing(pairs: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut tails: Vec<usize> = Vec::new(); // index into pairs
    let mut prev: Vec<usize> = vec![usize::MAX; pairs.len()];
    for (idx, &(i, _)) in pairs.iter().enumerate() {
        let pos = tails.partition_point(|&t| pairs[t].0 < i);
        if pos > 0 {
            prev[idx] = tails[pos - 1];
        }
        if pos == tails.len() {
            tails.push(idx);
        } else {
            tails[pos] = idx;
        }
    }
    let mut out = Vec::with_capacity(tails.len());
    let mut cur = tails.last().copied().unwrap_or(usize::MAX);
    while cur != usize::MAX {
        out.push(pairs[cur]);
        cur = prev[cur];
    }
    out.reverse();
    out
}

/// Above this product of lengths a diff compares sentences, not characters
/// (about 30,000 × 30,000 characters): the character diff of two long,
/// different texts can take minutes, and a time limit instead would make
/// the output depend on the machine.
pub const CHAR_DIFF_BUDGET: usize = 1 << 30;

/// Patience diff of two character sequences; past [`CHAR_DIFF_BUDGET`]
/// the units are sentences (runs ending at `.`, `!`, `?`, `;` or 64
/// characters), the ops still in characters. Patience, not `similar`'s
/// default Myers, keeps the alignment close to minimal on CJK text; the
/// budget, not a deadline, bounds the time, so the result depends on the
/// input only.
pub fn diff_ops(a: &[char], b: &[char]) -> Vec<DiffOp> {
    if a.len().saturating_mul(b.len()) <= CHAR_DIFF_BUDGET {
        return capture_diff_slices(Algorithm::Patience, a, b);
    }
    diff_units(a, &sentences(a), b, &sentences(b))
}

/// The diff `neardup diff` and the reports show: [`diff_ops`] with words
/// of space-separated scripts as units ([`word_units`]), so no word is cut
/// in half, and CJK characters one unit each (text that is all CJK gets
/// exactly [`diff_ops`]'s result). Past [`CHAR_DIFF_BUDGET`] units the
/// units are sentences, as in [`diff_ops`]. The ops are in characters.
pub fn diff_word_ops(a: &NormText, b: &NormText) -> Vec<DiffOp> {
    let (ua, ub) = (word_units(a), word_units(b));
    if ua.len() == a.len() && ub.len() == b.len() {
        return diff_ops(&a.chars, &b.chars);
    }
    if ua.len().saturating_mul(ub.len()) > CHAR_DIFF_BUDGET {
        return diff_ops(&a.chars, &b.chars);
    }
    // units cut differently by spacing alone (`XX XX`, `XXXX`) are not a change
    let same = |o: usize, ol: usize, n: usize, nl: usize| a.chars[o..o + ol] == b.chars[n..n + nl];
    diff_units(&a.chars, &ua, &b.chars, &ub)
        .into_iter()
        .map(|op| match op {
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } if same(old_index, old_len, new_index, new_len) => DiffOp::Equal {
                old_index,
                new_index,
                len: old_len,
            },
            op => op,
        })
        .collect()
}

/// The diff units of a normalised text: each word of a space-separated
/// script (a run of letters, digits and marks with no whitespace removed
/// inside it, not of a script written without spaces) is one unit; every
/// other character (CJK, Thai, punctuation) is a unit of its own. A run of
/// digits next to a CJK character (`2024年`, `24 小时`) is not a word:
/// numbers in CJK text keep their character diff.
pub fn word_units(t: &NormText) -> Vec<Range<usize>> {
    let c = &t.chars;
    let glued = |k: usize| t.gap_before[k] == GAP_NONE;
    let mut out = Vec::with_capacity(c.len());
    let mut k = 0;
    while k < c.len() {
        let mut j = k + 1;
        if is_word_char(c[k]) {
            while j < c.len() && is_word_char(c[j]) && glued(j) {
                j += 1;
            }
            // (spacing aside: `24 小时` and `24小时` must cut alike)
            let touches_cjk =
                (k > 0 && is_unspaced(c[k - 1])) || c.get(j).is_some_and(|&x| is_unspaced(x));
            if touches_cjk && c[k..j].iter().all(char::is_ascii_digit) {
                j = k + 1;
            }
        }
        out.push(k..j);
        k = j;
    }
    out
}

/// Whether a cut before normalised character `p` of `t` falls inside a
/// word of a space-separated script (between two characters of one
/// [`word_units`] word).
pub fn cuts_word(t: &NormText, p: usize) -> bool {
    p > 0
        && p < t.len()
        && t.gap_before[p] == GAP_NONE
        && is_word_char(t.chars[p - 1])
        && is_word_char(t.chars[p])
}

/// Patience diff of `a` and `b` cut into units (`sa`, `sb`: ranges that
/// tile each text), mapped back to ops in characters.
fn diff_units(a: &[char], sa: &[Range<usize>], b: &[char], sb: &[Range<usize>]) -> Vec<DiffOp> {
    let (ta, tb): (Vec<&[char]>, Vec<&[char]>) = (
        sa.iter().map(|r| &a[r.clone()]).collect(),
        sb.iter().map(|r| &b[r.clone()]).collect(),
    );
    // character offset of unit `i` (the end for one past the last)
    let at = |s: &[Range<usize>], i: usize, len: usize| s.get(i).map_or(len, |r| r.start);
    let span = |s: &[Range<usize>], i: usize, n: usize| -> usize {
        s[i..i + n].iter().map(Range::len).sum()
    };
    capture_diff_slices(Algorithm::Patience, &ta, &tb)
        .into_iter()
        .map(|op| match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => DiffOp::Equal {
                old_index: at(sa, old_index, a.len()),
                new_index: at(sb, new_index, b.len()),
                len: span(sa, old_index, len),
            },
            DiffOp::Delete {
                old_index,
                old_len,
                new_index,
            } => DiffOp::Delete {
                old_index: at(sa, old_index, a.len()),
                old_len: span(sa, old_index, old_len),
                new_index: at(sb, new_index, b.len()),
            },
            DiffOp::Insert {
                old_index,
                new_index,
                new_len,
            } => DiffOp::Insert {
                old_index: at(sa, old_index, a.len()),
                new_index: at(sb, new_index, b.len()),
                new_len: span(sb, new_index, new_len),
            },
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => DiffOp::Replace {
                old_index: at(sa, old_index, a.len()),
                old_len: span(sa, old_index, old_len),
                new_index: at(sb, new_index, b.len()),
                new_len: span(sb, new_index, new_len),
            },
        })
        .collect()
}

/// Sentence ranges of normalised characters (see [`diff_ops`]).
fn sentences(t: &[char]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, &c) in t.iter().enumerate() {
        if matches!(c, '.' | '!' | '?' | ';') || i + 1 - start >= 64 {
            out.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < t.len() {
        out.push(start..t.len());
    }
    out
}

/// The parts of `a` that an alignment with `b` covers: matched runs, joined
/// across unmatched stretches lighter than `max_unmatched` CJK characters
/// ([`weight`]: a word counts as ten, so a few unmatched English words are
/// text the other copy lacks, as a Chinese sentence is); longer unmatched
/// stretches of `a` are left out, so text that only `a` has is never part
/// of the result.
///
/// The alignment is [`diff_ops`]'s: by characters, or past its budget by
/// sentences (then an edited sentence is left out whole).
pub fn covered_ranges(a: &[char], b: &[char], max_unmatched: usize) -> Vec<Range<usize>> {
    let ops = diff_ops(a, b);
    let mut matched: Vec<Range<usize>> = Vec::new();
    for op in ops {
        if let DiffOp::Equal { old_index, len, .. } = op {
            match matched.last_mut() {
                Some(last) if weight(&a[last.end..old_index]) < max_unmatched => {
                    last.end = old_index + len
                }
                _ => matched.push(old_index..old_index + len),
            }
        }
    }
    matched
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::lcg;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    fn lcs_dp(a: &[char], b: &[char]) -> usize {
        let mut dp = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for i in 1..=a.len() {
            for j in 1..=b.len() {
                dp[i][j] = if a[i - 1] == b[j - 1] {
                    dp[i - 1][j - 1] + 1
                } else {
                    dp[i - 1][j].max(dp[i][j - 1])
                };
            }
        }
        dp[a.len()][b.len()]
    }

    #[test]
    fn bitparallel_equals_dynamic_programming() {
        let mut rnd = lcg(12345);
        for _ in 0..200 {
            let la = rnd(150) as usize;
            let lb = rnd(150) as usize;
            let alpha = 2 + rnd(6) as u32;
            let a: Vec<char> = (0..la)
                .map(|_| char::from(b'a' + rnd(alpha as u64) as u8))
                .collect();
            let b: Vec<char> = (0..lb)
                .map(|_| char::from(b'a' + rnd(alpha as u64) as u8))
                .collect();
            assert_eq!(lcs_len(&a, &b), lcs_dp(&a, &b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn early_stop_changes_only_results_below_the_threshold() {
        let mut rnd = lcg(99);
        for _ in 0..40 {
            let len = 300 + rnd(1500) as usize;
            let a: Vec<char> = (0..len)
                .map(|_| char::from_u32(0x4e00 + rnd(400) as u32).unwrap())
                .collect();
            // a copy with 0–60% of its characters replaced, and a tail cut
            let rate = rnd(60);
            let mut b: Vec<char> = a
                .iter()
                .map(|&c| if rnd(100) < rate { '某' } else { c })
                .collect();
            b.truncate(len - rnd(len as u64 / 4) as usize);
            let exact = similarity(&a, &b);
            for t in [0.5, 0.7, 0.8, 0.9] {
                let fast = similarity_at_least(&a, &b, t);
                if exact >= t {
                    assert_eq!(fast, exact, "t {t}");
                } else {
                    assert!(fast < t, "t {t}: {fast} for {exact}");
                }
            }
        }
    }

    #[test]
    fn threshold_alignment_is_exact_at_or_above_the_need() {
        // shifted copies (insertions, deletions) exercise the band edges
        let mut rnd = lcg(7);
        for _ in 0..300 {
            let len = 1 + rnd(400) as usize;
            let alpha = 2 + rnd(20);
            let a: Vec<char> = (0..len)
                .map(|_| char::from(b'a' + rnd(alpha) as u8))
                .collect();
            let rate = rnd(40);
            let mut b = Vec::new();
            for &c in &a {
                match rnd(100) {
                    r if r < rate / 3 => {}                      // deleted
                    r if r < 2 * rate / 3 => b.extend([c, 'z']), // inserted after
                    r if r < rate => b.push('y'),                // substituted
                    _ => b.push(c),
                }
            }
            let exact = lcs_dp(&a, &b);
            for need in [exact.saturating_sub(3), exact, exact + 1, exact + 5] {
                let got = lcs_at_least(&a, &b, need);
                if exact >= need {
                    assert_eq!(got, exact, "need {need}: {a:?} {b:?}");
                } else {
                    assert!(got < need, "need {need}: {got} for {exact}");
                }
            }
        }
    }

    /// A random text of `len` characters out of `alpha`, from `base`.
    fn text(rnd: &mut impl FnMut(u64) -> u64, len: usize, alpha: u64, base: u32) -> Vec<char> {
        (0..len)
            .map(|_| char::from_u32(base + rnd(alpha) as u32).unwrap_or('x'))
            .collect()
    }

    /// Near-copies whose openings (and endings) differ, as pages with
    /// different headers do: the early stop on the columns the rows left
    /// can still match ends these alignments early, the narrow first try
    /// fails for many of them, and neither may change a result at or above
    /// the need.
    #[test]
    fn early_stops_and_second_tries_keep_results_exact() {
        let mut rnd = lcg(31);
        for _ in 0..150 {
            let alpha = 3 + rnd(300);
            let len = 100 + rnd(900) as usize;
            let body = text(&mut rnd, len, alpha, 0x4e00);
            let (h1, h2) = (rnd(200) as usize, rnd(200) as usize);
            let mut a = text(&mut rnd, h1, alpha, 0x4e00);
            let mut b = text(&mut rnd, h2, alpha, 0x4e00);
            a.extend_from_slice(&body);
            b.extend(body.iter().map(|&c| if rnd(100) < 3 { '某' } else { c }));
            // different footers; words of a spaced script too (a plane of
            // their own in the character tables)
            let (f1, f2) = (rnd(60) as usize, rnd(60) as usize);
            a.extend(text(&mut rnd, f1, alpha, 0xF_0000));
            b.extend(text(&mut rnd, f2, alpha, 0x10_0000));
            let exact = lcs_dp(&a, &b);
            assert_eq!(lcs_len(&a, &b), exact);
            let longer = a.len().max(b.len());
            for need in [exact.saturating_sub(40), exact, exact + 1, longer * 4 / 5] {
                let got = lcs_at_least(&a, &b, need);
                if exact >= need {
                    assert_eq!(got, exact, "need {need}");
                } else {
                    assert!(got < need, "need {need}: {got} for {exact}");
                }
            }
        }
    }

    #[test]
    fn similarity_counts_characters() {
        let a = chars("今天我们召开的这次会议是一次重要的会议");
        let mut b = a.clone();
        b[3] = '你';
        b[10] = '他';
        assert!((similarity(&a, &b) - 17.0 / 19.0).abs() < 1e-9);
        assert_eq!(similarity(&a, &a), 1.0);
        assert!((containment(&a[..10], &a) - 1.0).abs() < 1e-9);
    }

    #[test]
    fn anchored_is_a_close_lower_bound() {
        let base: Vec<char> = (0..4000u32)
            .map(|i| char::from_u32(0x4e00 + (i.wrapping_mul(2654435761) % 3000)).unwrap())
            .collect();
        let mut edited = base.clone();
        for i in (0..4000).step_by(37) {
            edited[i] = '某';
        }
        let exact = lcs_len(&base, &edited);
        let approx = lcs_anchored(&base, &edited);
        assert!(
            approx <= exact && approx as f64 >= exact as f64 * 0.97,
            "{approx} vs {exact}"
        );
    }

    /// Past the character budget the alignment is by sentences: still the
    /// same ranges every run (no deadline), still never the copy's own text.
    #[test]
    fn covered_ranges_of_huge_texts_are_deterministic() {
        let mut rnd = lcg(7);
        let mut kept: Vec<char> = Vec::new();
        while kept.len() < 40_000 {
            for _ in 0..20 + rnd(40) {
                kept.push(char::from_u32(0x4e00 + rnd(3000) as u32).unwrap());
            }
            kept.push(';');
        }
        // the copy: a paragraph of its own in the middle, a few edits
        let own: Vec<char> = (0..300).map(|_| '独').collect();
        let mut copy = kept[..20_000].to_vec();
        copy.extend_from_slice(&own);
        copy.extend_from_slice(&kept[20_000..]);
        for i in (1_000..copy.len()).step_by(5_000) {
            copy[i] = '某';
        }
        assert!(copy.len() * kept.len() > CHAR_DIFF_BUDGET);
        let cov = covered_ranges(&copy, &kept, 50);
        assert_eq!(cov, covered_ranges(&copy, &kept, 50));
        let own_at = 20_000..20_300;
        assert!(cov
            .iter()
            .all(|r| r.end <= own_at.start || r.start >= own_at.end));
        let covered: usize = cov.iter().map(Range::len).sum();
        assert!(
            covered > kept.len() * 95 / 100,
            "{covered} of {}",
            kept.len()
        );
    }

    #[test]
    fn word_units_are_words_of_spaced_scripts_and_single_cjk_characters() {
        let units = |s: &str| -> Vec<String> {
            let t = crate::normalize::normalize_per_char(s, &Default::default());
            word_units(&t)
                .into_iter()
                .map(|r| t.chars[r].iter().collect())
                .collect()
        };
        assert_eq!(
            units("Привет, мир! Καλημέρα κόσμε"),
            // (normalised: Greek accents fold away)
            ["привет", ",", "мир", "!", "καλημερα", "κοσμε"]
        );
        // marks stay inside their word; Thai, like CJK, goes by character
        assert_eq!(units("नमस्ते दुनिया"), ["नमस्ते", "दुनिया"]);
        assert_eq!(units("สวัสดี").len(), "สวัสดี".chars().count());
        // mixed text: each run by its own script; numbers by their neighbours
        assert_eq!(
            units("在2024年 read 2024 times"),
            ["在", "2", "0", "2", "4", "年", "read", "2024", "times"]
        );
    }

    #[test]
    fn covered_ranges_leave_unique_text_out() {
        let k = chars("甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午未申酉戌亥");
        let mut m = chars("这一段是只有副本才有的独特内容不应删除");
        m.extend_from_slice(&k);
        let cov = covered_ranges(&m, &k, 5);
        assert_eq!(cov, vec![19..19 + k.len()]);
    }

    #[test]
    fn covered_ranges_weigh_unmatched_words_as_cjk_characters() {
        // six words only the copy has are 60 characters of text the kept
        // copy lacks: the matched text either side stays two ranges
        let norm = |s: &str| crate::normalize::normalize(s, &Default::default()).chars;
        let k = norm("the quick brown fox jumps over the lazy dog near the river bank today");
        let m = norm("the quick brown fox jumps over alpha beta gamma delta epsilon zeta the lazy dog near the river bank today");
        assert_eq!(covered_ranges(&m, &k, 50), vec![0..6, 12..m.len()]);
        // four words (40) are an edit inside one copy
        let m = norm("the quick brown fox jumps over alpha beta gamma delta the lazy dog near the river bank today");
        assert_eq!(covered_ranges(&m, &k, 50), vec![0..m.len()]);
    }
}
