//! SKETCH: a document's text → a small summary that finds its candidates.
//!
//! Takes document texts and the scan options; gives per document a
//! [`Sketch`] (normalised length in characters, exact hash of the
//! normalised text, SimHash) and, for the MinHash methods, a signature of
//! `perms` values. Normalise → shingle → MinHash, one-permutation MinHash or
//! SimHash; nothing else of the text is kept.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_128;

use crate::corpus::Document;
use crate::normalize::normalize_unmapped;
use crate::pipeline::{Method, Progress, ScanOptions};
use crate::shingle::{char_bytes, shingle_chars_into};
use crate::signature::{simhash, MinHasher};

/// Per-document summary kept by the document-level path.
pub(crate) struct Sketch {
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
/// [`SketchKind::MinHash`], the signatures (empty for SimHash).
pub(crate) struct Sketches {
    pub sketch: Vec<Sketch>,
    pub sigs: Vec<Box<[u32]>>,
    pub kind: SketchKind,
}

impl Sketches {
    /// Collects per-document results made by `sk` (in document order).
    pub fn collect(sk: &Sketcher<'_>, per_doc: Vec<(Sketch, Box<[u32]>)>) -> Sketches {
        let (sketch, sigs) = per_doc.into_iter().unzip();
        Sketches {
            sketch,
            sigs,
            kind: sk.kind,
        }
    }
}

/// Normalise → shingle → MinHash or SimHash, for one document.
pub(crate) struct Sketcher<'a> {
    opts: &'a ScanOptions,
    hasher: MinHasher,
    kind: SketchKind,
}

impl<'a> Sketcher<'a> {
    pub fn new(opts: &'a ScanOptions) -> Sketcher<'a> {
        Sketcher {
            opts,
            hasher: MinHasher::new(opts.perms, opts.seed),
            kind: SketchKind::of(opts),
        }
    }

    /// Sketches one document: its summary and signature.
    pub fn sketch_doc(&self, text: &str) -> (Sketch, Box<[u32]>) {
        let mut sig = vec![0u32; self.kind.sig_len()].into_boxed_slice();
        let s = self.sketch(text, &mut sig);
        (s, sig)
    }

    fn sketch(&self, text: &str, sig: &mut [u32]) -> Sketch {
        // One set of buffers per worker thread: no allocation per document.
        thread_local! {
            static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
        }
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => {
                let sketch = self.sketch_with(text, sig, &mut scratch);
                scratch.trim();
                sketch
            }
            Err(_) => self.sketch_with(text, sig, &mut Scratch::default()),
        })
    }

    fn sketch_with(&self, text: &str, sig: &mut [u32], s: &mut Scratch) -> Sketch {
        normalize_unmapped(text, &self.opts.normalize, &mut s.chars, &mut s.gaps);
        shingle_chars_into(&s.chars, &s.gaps, &self.opts.shingle, &mut s.shingles);
        let simhash = match self.kind {
            SketchKind::MinHash { .. } => {
                if self.opts.method == Method::Oph {
                    self.hasher.sign_oph_into(&s.shingles, sig);
                } else {
                    self.hasher.sign_into(&s.shingles, sig);
                }
                0
            }
            SketchKind::SimHash => simhash(&s.shingles),
        };
        Sketch {
            len: s.chars.len() as u32,
            exact: xxh3_128(char_bytes(&s.chars)),
            simhash,
        }
    }
}

/// Per-thread working buffers of [`Sketcher`].
#[derive(Default)]
struct Scratch {
    chars: Vec<char>,
    gaps: Vec<u8>,
    shingles: Vec<u64>,
}

impl Scratch {
    /// Frees the buffers when a large document grew them: kept, they would
    /// hold about 17 bytes a character of it for the rest of the run.
    fn trim(&mut self) {
        if self.shingles.capacity() > 1 << 20 || self.chars.capacity() > 1 << 20 {
            *self = Scratch::default();
        }
    }
}

/// Sketches documents held in memory, in parallel, in document order.
pub(crate) fn sketch_corpus(
    docs: &[Document],
    opts: &ScanOptions,
    progress: &dyn Progress,
) -> Sketches {
    let sk = Sketcher::new(opts);
    progress.stage("sketch", docs.len() as u64);
    let (sketch, sigs) = docs
        .par_iter()
        .map(|doc| {
            progress.advance(1);
            sk.sketch_doc(&doc.text)
        })
        .unzip();
    progress.finish();
    Sketches {
        sketch,
        sigs,
        kind: sk.kind,
    }
}
