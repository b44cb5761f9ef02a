//! SKETCH: a document's text → a small summary that finds its candidates.
//!
//! Takes document texts and the scan options; gives per document a
//! [`Sketch`] (normalised length in characters, exact hash of the
//! normalised text, SimHash) and, for the MinHash methods, a signature of
//! `perms` values. Normalise → shingle → MinHash, one-permutation MinHash or
//! SimHash; nothing else of the text is kept.
//!
//! Character n-grams without mask folding run as one pass per document:
//! characters are normalised into a block of 4,096
//! (`normalize::units_until`: ideographs and common CJK
//! punctuation decoded straight from their UTF-8 bytes, 16 at a time
//! with AVX-512 VBMI, 8 with AVX2), the block is signed, and the exact
//! hash is fed block by block; a thread holds one block of characters,
//! never the whole normalised text. A first block that is at least 30%
//! ideographs is of character shingles without a second look. The default
//! one-permutation MinHash makes a block's n-gram hashes from its
//! characters eight at a time ([`OnePerm::update_grams`]) and keeps them
//! for the rounds that fill a short text's empty bins; `--method minhash`
//! makes each n-gram's xxh3 inside the MinHash kernel's loop (AVX-512 or
//! AVX2: the scalar hash runs while the vector multiplies do).
//! Word-shingled text (the first block decides), `--mask-fold` and
//! SimHash run the stages one after the other on the whole text. Both ways
//! give the same sketch.
//!
//! The read pass of a scan also counts each text's ideographs as its
//! characters go by ([`IdeographProfile`], 260 bytes a document, kept
//! until the documents stage has used them): they bound a pair's
//! similarity before its texts are read back.

use rayon::prelude::*;
use xxhash_rust::xxh3::{xxh3_128, Xxh3Default};

use crate::corpus::Document;
use crate::normalize::{normalize_unmapped, units_until};
use crate::pipeline::{Method, Progress, ScanOptions};
use crate::shingle::{
    char_bytes, char_shingles, shingle_chars_into, xxh3_20, Script, SCRIPT_PREFIX,
};
use crate::signature::{simhash, MinHasher, OnePerm};
use crate::verify::{IdeographProfile, IdeographTally};

/// Per-document summary kept by the document-level path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sketch {
    /// Normalised characters.
    pub len: u32,
    /// Hash of the normalised text: equal for exact copies.
    pub exact: u128,
    /// SimHash of the shingles (0 for the MinHash methods).
    pub simhash: u64,
}

/// Which signature the sketches carry, and so how candidates are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SketchKind {
    /// `perms` MinHash values per document, searched by banding.
    MinHash { perms: usize },
    /// One 64-bit SimHash per document ([`Sketch::simhash`]), searched by
    /// Hamming distance; no signatures.
    SimHash,
}

impl SketchKind {
    fn of(opts: &ScanOptions) -> SketchKind {
        match opts.method {
            Method::MinHash | Method::Oph => SketchKind::MinHash { perms: opts.perms },
            Method::SimHash => SketchKind::SimHash,
        }
    }

    /// Values in one document's signature.
    fn sig_len(self) -> usize {
        match self {
            SketchKind::MinHash { perms } => perms,
            SketchKind::SimHash => 0,
        }
    }
}

/// Sketches of every document, in document order: summaries and, for
/// [`SketchKind::MinHash`], the signatures (empty for SimHash), and the
/// ideograph profiles when the read pass made them (else empty; the
/// documents stage empties both once it is done with them).
pub(crate) struct Sketches {
    pub sketch: Vec<Sketch>,
    pub sigs: Vec<Box<[u32]>>,
    pub profiles: Vec<Option<Box<IdeographProfile>>>,
    pub kind: SketchKind,
}

/// What [`Sketcher::sketch_profiled`] gives for one document.
pub(crate) type Profiled = (Sketch, Box<[u32]>, Option<Box<IdeographProfile>>);

impl Sketches {
    /// Collects per-document results made by `sk` (in document order),
    /// without profiles.
    pub fn collect(sk: &Sketcher<'_>, per_doc: Vec<(Sketch, Box<[u32]>)>) -> Sketches {
        let (sketch, sigs) = per_doc.into_iter().unzip();
        Sketches {
            sketch,
            sigs,
            profiles: Vec::new(),
            kind: sk.kind,
        }
    }

    /// Collects per-document results of [`Sketcher::sketch_profiled`] (in
    /// document order), `n` of them.
    pub fn collect_profiled(
        sk: &Sketcher<'_>,
        n: usize,
        per_doc: impl IntoIterator<Item = Profiled>,
    ) -> Sketches {
        let mut out = Sketches {
            sketch: Vec::with_capacity(n),
            sigs: Vec::with_capacity(n),
            profiles: Vec::with_capacity(n),
            kind: sk.kind,
        };
        for (sketch, sig, profile) in per_doc {
            out.sketch.push(sketch);
            out.sigs.push(sig);
            out.profiles.push(profile);
        }
        out
    }
}

/// Normalise → shingle → MinHash or SimHash, for one document: what the
/// read stage runs on every document's text.
pub struct Sketcher<'a> {
    opts: &'a ScanOptions,
    hasher: MinHasher,
    /// The one-permutation sketcher, for `--method oph`.
    oph: Option<OnePerm>,
    kind: SketchKind,
    /// Whether [`Self::sketch_fused`] can take the document: MinHash or
    /// OPH, no masks folded, character n-grams shorter than a block.
    fused: bool,
    /// The character n-gram size.
    char_ngram: usize,
}

impl<'a> Sketcher<'a> {
    /// The sketcher of a scan with `opts` (method, normalisation,
    /// shingles, permutations and seed).
    pub fn new(opts: &'a ScanOptions) -> Sketcher<'a> {
        let char_ngram = opts.shingle.n_for(Script::Chars).max(1);
        Sketcher {
            opts,
            hasher: MinHasher::new(opts.perms, opts.seed),
            oph: (opts.method == Method::Oph)
                .then(|| OnePerm::new(opts.perms, char_ngram, opts.seed)),
            kind: SketchKind::of(opts),
            fused: matches!(opts.method, Method::MinHash | Method::Oph)
                && !opts.normalize.mask_fold
                && char_ngram < BLOCK / 2,
            char_ngram,
        }
    }

    /// Sketches one document: its summary and signature.
    pub fn sketch_doc(&self, text: &str) -> (Sketch, Box<[u32]>) {
        let mut sig = vec![0u32; self.kind.sig_len()].into_boxed_slice();
        let s = self.sketch(text, &mut sig, None);
        (s, sig)
    }

    /// [`Self::sketch_doc`] and the document's [`IdeographProfile`] (what
    /// a scan's read pass keeps for the documents stage).
    pub(crate) fn sketch_profiled(&self, text: &str) -> Profiled {
        thread_local! {
            static TALLY: std::cell::RefCell<IdeographTally> = std::cell::RefCell::default();
        }
        let mut sig = vec![0u32; self.kind.sig_len()].into_boxed_slice();
        TALLY.with(|cell| match cell.try_borrow_mut() {
            Ok(mut tally) => {
                let s = self.sketch(text, &mut sig, Some(&mut tally));
                (s, sig, tally.finish())
            }
            Err(_) => {
                let mut tally = IdeographTally::default();
                let s = self.sketch(text, &mut sig, Some(&mut tally));
                (s, sig, tally.finish())
            }
        })
    }

    fn sketch(&self, text: &str, sig: &mut [u32], tally: Option<&mut IdeographTally>) -> Sketch {
        // One set of buffers per worker thread: no allocation per document.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let sketch = self.sketch_with(text, sig, &mut scratch, tally);
                scratch.trim();
                sketch
            }
            Err(_) => self.sketch_with(text, sig, &mut Scratch::default(), tally),
        })
    }

    /// The sketch of `text` (its signature into `sig`), its ideographs
    /// counted into `tally` if given (which starts empty).
    fn sketch_with(
        &self,
        text: &str,
        sig: &mut [u32],
        s: &mut Scratch,
        mut tally: Option<&mut IdeographTally>,
    ) -> Sketch {
        if self.fused {
            // `None` for word text (found on its first block), or a long
            // text of so few distinct shingles that OPH needs them all
            if let Some(sketch) = self.sketch_fused(text, sig, s, tally.as_deref_mut()) {
                return sketch;
            }
        }
        let sketch = self.sketch_apart(text, sig, s);
        if let Some(t) = tally {
            t.clear();
            t.add(&s.chars);
        }
        sketch
    }

    /// The stages one after the other: the whole text normalised, then
    /// all its shingles, then the signature.
    fn sketch_apart(&self, text: &str, sig: &mut [u32], s: &mut Scratch) -> Sketch {
        normalize_unmapped(text, &self.opts.normalize, &mut s.chars, &mut s.gaps);
        // OPH hashes character n-grams from their characters, as the fused
        // pass does, and only word n-grams from their shingle hashes
        let oph_chars = self.oph.is_some() && Script::of(&s.chars) == Script::Chars;
        if !oph_chars {
            shingle_chars_into(&s.chars, &s.gaps, &self.opts.shingle, &mut s.shingles);
        }
        let simhash = match (self.kind, &self.oph) {
            (SketchKind::MinHash { .. }, Some(oph)) => {
                sig.fill(u32::MAX);
                s.hashes.clear();
                if oph_chars {
                    oph.update_grams(&s.chars, sig, &mut s.hashes, usize::MAX);
                } else {
                    s.hashes.extend(s.shingles.iter().map(|&h| oph.of_hash(h)));
                    oph.update(&s.hashes, sig);
                }
                oph.finish(&s.hashes, sig);
                0
            }
            (SketchKind::MinHash { .. }, None) => {
                self.hasher.sign_into(&s.shingles, sig);
                0
            }
            (SketchKind::SimHash, _) => simhash(&s.shingles),
        };
        Sketch {
            len: s.chars.len() as u32,
            exact: xxh3_128(char_bytes(&s.chars)),
            simhash,
        }
    }
}

/// Characters normalised per block of the fused pass: the first block
/// decides the script ([`SCRIPT_PREFIX`] characters), and a block's
/// characters (16 KB) and shingles (32 KB) stay in the core's caches.
const BLOCK: usize = SCRIPT_PREFIX;

impl Sketcher<'_> {
    /// The default path in one pass: characters are normalised into a
    /// block, and each full block is shingled, signed and hashed (for
    /// [`Sketch::exact`]) before the next is normalised; only the last
    /// `n - 1` characters carry over. The same sketch as
    /// [`Self::sketch_apart`]. `None` for text of word shingles (the first
    /// block says so), which needs the whole text's characters and gaps,
    /// and for OPH's rare text of [`OPH_KEPT`] shingles or more that leaves
    /// a bin empty: the caller goes the other way.
    fn sketch_fused(
        &self,
        text: &str,
        sig: &mut [u32],
        s: &mut Scratch,
        tally: Option<&mut IdeographTally>,
    ) -> Option<Sketch> {
        let n = self.char_ngram;
        let mut f = Fused {
            hasher: &self.hasher,
            oph: self.oph.as_ref(),
            n,
            sig,
            chars: &mut s.chars,
            shingles: &mut s.shingles,
            hashes: &mut s.hashes,
            exact: None,
            dropped: 0,
            tally,
        };
        f.hashes.clear();
        f.chars.clear();
        f.sig.fill(u32::MAX);
        let mut at = 0;
        // ideographs of the first block, for its script
        let mut ideographs = units_until(text, &mut at, f.chars, BLOCK);
        while f.chars.len() >= BLOCK {
            if f.dropped == 0 && is_words(f.chars, ideographs) {
                return None;
            }
            f.full();
            ideographs = units_until(text, &mut at, f.chars, BLOCK);
        }
        if f.dropped == 0 && is_words(f.chars, ideographs) {
            return None;
        }
        let len = f.dropped + f.chars.len();
        let exact = match f.exact.take() {
            // never a full block: the characters are all there
            None => {
                if let Some(t) = f.tally.as_deref_mut() {
                    t.add(f.chars);
                }
                f.sign();
                xxh3_128(char_bytes(f.chars))
            }
            Some(mut state) => {
                f.flush(&mut state);
                state.digest128()
            }
        };
        if let Some(oph) = f.oph {
            if f.sig.contains(&u32::MAX) {
                // bins left empty: the further rounds need every hash,
                // which a text that filled the kept ones may not have left
                if f.hashes.len() >= OPH_KEPT {
                    return None;
                }
                oph.finish(f.hashes, f.sig);
            }
        }
        Some(Sketch {
            len: len as u32,
            exact,
            simhash: 0,
        })
    }
}

/// Shingle hashes OPH's fused pass keeps for its further rounds: a text
/// that fills them and still leaves a bin empty (one of very few distinct
/// shingles) is sketched again the other way, which holds them all.
const OPH_KEPT: usize = 1 << 16;

/// Whether the first block `chars`, of which at least `ideographs` are
/// CJK ideographs, is of [`Script::Words`]: at least 30% of its first
/// [`SCRIPT_PREFIX`] characters ideographs is enough for
/// [`Script::Chars`] (letters are some of the characters), the common case
/// decided without a second look.
fn is_words(chars: &[char], ideographs: usize) -> bool {
    let prefix = chars.len().min(SCRIPT_PREFIX);
    ideographs.min(prefix) * 10 < prefix * 3 && Script::of(chars) == Script::Words
}

/// The state of [`Sketcher::sketch_fused`] over one text.
struct Fused<'s> {
    hasher: &'s MinHasher,
    /// The one-permutation sketcher instead of `hasher`, if given.
    oph: Option<&'s OnePerm>,
    n: usize,
    sig: &'s mut [u32],
    /// The block being filled; after a flush it starts with the last
    /// `n - 1` characters of the one before (already hashed for `exact`).
    chars: &'s mut Vec<char>,
    shingles: &'s mut Vec<u64>,
    /// OPH's shingle hashes so far (at most [`OPH_KEPT`]).
    hashes: &'s mut Vec<u32>,
    /// The exact hash of the flushed characters, once a block was full.
    exact: Option<Box<Xxh3Default>>,
    /// Characters flushed and no longer in `chars`.
    dropped: usize,
    /// Counts the ideographs of the text, if asked, as the exact hash
    /// takes them.
    tally: Option<&'s mut IdeographTally>,
}

impl Fused<'_> {
    /// Signs and hashes a full block and keeps its last `n - 1`
    /// characters.
    #[inline(never)]
    fn full(&mut self) {
        let mut state = self.exact.take().unwrap_or_default();
        self.flush(&mut state);
        let keep = self.n - 1;
        let gone = self.chars.len() - keep;
        self.chars.drain(..gone);
        self.dropped += gone;
        self.exact = Some(state);
    }

    /// Signs the windows that start in the block and feeds its new
    /// characters to the exact hash.
    fn flush(&mut self, state: &mut Xxh3Default) {
        let carried = if self.dropped == 0 { 0 } else { self.n - 1 };
        state.update(char_bytes(&self.chars[carried..]));
        if let Some(t) = self.tally.as_deref_mut() {
            t.add(&self.chars[carried..]);
        }
        if self.chars.len() >= self.n {
            self.sign();
        }
    }

    /// Signs the windows of the block (the whole block when shorter than
    /// one, as a text of fewer than `n` characters).
    fn sign(&mut self) {
        match self.oph {
            Some(oph) => oph.update_grams(self.chars, self.sig, self.hashes, OPH_KEPT),
            None => sign_windows(self.hasher, self.chars, self.n, self.shingles, self.sig),
        }
    }
}

/// Lowers `sig` to the MinHash of the character `n`-grams of `chars`
/// (one shingle of them all when fewer): for 5-grams with each hash made
/// in the kernel's loop ([`MinHasher::update_by`]), else through
/// `shingles`.
fn sign_windows(
    hasher: &MinHasher,
    chars: &[char],
    n: usize,
    shingles: &mut Vec<u64>,
    sig: &mut [u32],
) {
    if n == 5 && chars.len() >= n {
        let bytes = char_bytes(chars);
        if hasher.update_by(
            chars.len() - n + 1,
            |i| xxh3_20(&bytes[4 * i..4 * i + 20]),
            sig,
        ) {
            return;
        }
    }
    shingles.clear();
    char_shingles(chars, n, shingles);
    hasher.update(shingles, sig);
}

/// Per-thread working buffers of [`Sketcher`].
#[derive(Default)]
struct Scratch {
    chars: Vec<char>,
    gaps: Vec<u8>,
    shingles: Vec<u64>,
    hashes: Vec<u32>,
}

impl Scratch {
    /// Frees the buffers when a large document grew them: kept, they would
    /// hold about 17 bytes a character of it for the rest of the run.
    fn trim(&mut self) {
        if self.shingles.capacity() > 1 << 20
            || self.chars.capacity() > 1 << 20
            || self.hashes.capacity() > 1 << 20
        {
            *self = Scratch::default();
        }
    }
}

/// Sketches documents held in memory, in parallel, in document order,
/// with their profiles.
pub(crate) fn sketch_corpus(
    docs: &[Document],
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Sketches {
    let sk = Sketcher::new(opts);
    progress.stage("sketch", docs.len() as u64);
    let per_doc: Vec<Profiled> = docs
        .par_iter()
        .map(|doc| {
            progress.advance(1);
            sk.sketch_profiled(&doc.text)
        })
        .collect();
    progress.finish();
    Sketches::collect_profiled(&sk, per_doc.len(), per_doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Text of every kind normalisation meets (ideographs first).
    use crate::normalize::tests::HOSTILE as PIECES;

    fn text_of(picks: &[usize]) -> String {
        picks.iter().map(|&i| PIECES[i]).collect()
    }

    /// Length, exact hash, signature and ideograph profile.
    type Got = (u32, u128, Box<[u32]>, Option<Box<IdeographProfile>>);

    /// The sketch of `text` by the fused pass and by the stages apart.
    fn both(text: &str, opts: &ScanOptions) -> (Got, Got) {
        let sk = Sketcher::new(opts);
        assert!(sk.fused);
        let run = |fused: bool| {
            let mut sig = vec![0u32; opts.perms].into_boxed_slice();
            let mut s = Scratch::default();
            let mut tally = IdeographTally::default();
            let got = if fused {
                sk.sketch_with(text, &mut sig, &mut s, Some(&mut tally))
            } else {
                let got = sk.sketch_apart(text, &mut sig, &mut s);
                tally.add(&s.chars);
                got
            };
            (got.len, got.exact, sig, tally.finish())
        };
        (run(true), run(false))
    }

    fn with_method(method: Method) -> ScanOptions {
        ScanOptions {
            method,
            ..ScanOptions::default()
        }
    }

    #[test]
    fn fused_pass_gives_the_sketch_of_the_stages_apart() {
        for method in [Method::MinHash, Method::Oph] {
            fused_pass_gives_the_sketch_of_the_stages_apart_with(&with_method(method));
        }
    }

    fn fused_pass_gives_the_sketch_of_the_stages_apart_with(opts: &ScanOptions) {
        let mut next = crate::testutil::lcg(17);
        // lengths around one block and several, mostly ideographs
        for len in [
            0,
            1,
            3,
            4,
            5,
            6,
            100,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            BLOCK + 4,
            3 * BLOCK + 7,
        ] {
            for _ in 0..3 {
                let picks: Vec<usize> = (0..len)
                    .map(|_| {
                        if next(4) == 0 {
                            next(PIECES.len() as u64) as usize
                        } else {
                            next(3) as usize
                        }
                    })
                    .collect();
                let text = text_of(&picks);
                let (fused, apart) = both(&text, opts);
                assert_eq!(fused, apart, "{len} pieces, {:?}", opts.method);
            }
        }
        // word text decides on its first block and goes the other way
        let english = "the quick brown fox jumps over the lazy dog ".repeat(200);
        let (fused, apart) = both(&english, opts);
        assert_eq!(fused, apart);
    }

    #[test]
    fn a_long_text_of_few_shingles_fills_every_bin() {
        // more shingles than OPH's fused pass keeps, the few distinct ones
        // among them past what it keeps: its rounds need them, and the
        // other way has them (and counts the ideographs afresh: six, and
        // Hangul that is no ideograph)
        let text = format!("{}中文字句段落", "한".repeat(OPH_KEPT + 10));
        let (fused, apart) = both(&text, &with_method(Method::Oph));
        assert_eq!(fused, apart);
        assert!(fused.2.iter().all(|&v| v != u32::MAX));
        assert!(fused.3.is_some(), "an ideograph profile");
    }

    #[test]
    fn fused_pass_keeps_other_n_gram_sizes() {
        for (n, method) in [1, 2, 9]
            .into_iter()
            .flat_map(|n| [(n, Method::MinHash), (n, Method::Oph)])
        {
            let opts = ScanOptions {
                shingle: crate::shingle::ShingleOptions { ngram: Some(n) },
                ..with_method(method)
            };
            let text: String = (0..2 * BLOCK as u32 + 3)
                .filter_map(|i| char::from_u32(0x4e00 + (i * 37) % 5000))
                .collect();
            let (fused, apart) = both(&text, &opts);
            assert_eq!(fused, apart, "n = {n}");
        }
    }
}
