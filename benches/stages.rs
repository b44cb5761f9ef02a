//! Per-stage throughput of neardup on Chinese text (divan).
//!
//! Input is built deterministically from `fixtures/seeds/*.txt` (real
//! Chinese government speeches, ~240 KB): the seeds are concatenated and
//! cut at line breaks into ~2,000-character documents. Larger sets (10,000
//! signatures for LSH, ~1 MB for blocks) are made of *relabelled* copies of
//! that text: every CJK ideograph is mapped through a bijection of the CJK
//! block that differs per copy, so copies keep the structure of real text
//! (character frequencies, lines, punctuation) but share no 5-gram.
//!
//! Every text stage counts the UTF-8 bytes of the source text it stands
//! for, so rates are comparable across stages. Rayon runs with one thread
//! unless `RAYON_NUM_THREADS` is set: the numbers are single-thread.
//!
//! Run: `cargo bench --bench stages` (see `benches/README.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::LazyLock;

use divan::counter::{BytesCount, ItemsCount};
use divan::Bencher;
use gaoya::minhash::{MinHasher as _, MinHasher32};
use neardup::blocks::{self, BlockOptions};
use neardup::corpus::{read_corpus, IngestOptions};
use neardup::lsh::{self, LshParams};
use neardup::normalize::{normalize, NormText, NormalizeOptions};
use neardup::shingle::{char_shingles, shingle_into, ShingleOptions};
use neardup::signature::{simhash, MinHasher, OnePerm};
use neardup::sketch::Sketcher;
use neardup::{align, corpus, report, verify};
use xxhash_rust::xxh3::xxh3_64;

fn main() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        // Single-thread numbers; a pool already built is fine too.
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build_global();
    }
    divan::main();
}

const PERMS: usize = 128;
const SEED: u64 = 42;
const NGRAM: usize = 5;
const DOC_CHARS: usize = 2_000;

// ---------------------------------------------------------------------------
// Deterministic input
// ---------------------------------------------------------------------------

/// SplitMix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The seed files, concatenated in name order.
static SEED_TEXT: LazyLock<String> = LazyLock::new(|| {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/seeds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures/seeds")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no seed files in {}", dir.display());
    let mut text = String::new();
    for f in files {
        text.push_str(&std::fs::read_to_string(&f).expect("seed file"));
        if !text.ends_with('\n') {
            text.push('\n');
        }
    }
    text
});

/// Cuts `text` into documents of at least `DOC_CHARS` characters, ending at
/// the next line break.
fn cut_docs(text: &str) -> Vec<String> {
    let mut docs = Vec::new();
    let mut cur = String::new();
    let mut n = 0usize;
    for ch in text.chars() {
        cur.push(ch);
        n += 1;
        if n >= DOC_CHARS && ch == '\n' {
            docs.push(std::mem::take(&mut cur));
            n = 0;
        }
    }
    if n > DOC_CHARS / 4 {
        docs.push(cur);
    } else if let Some(last) = docs.last_mut() {
        last.push_str(&cur);
    }
    docs
}

/// Maps every CJK Unified Ideograph through a bijection of the block that
/// depends on `key` (`key == 0` is the identity).
fn relabel(text: &str, key: u32) -> String {
    const BASE: u32 = 0x4e00;
    const SIZE: u32 = 0x9fff - 0x4e00 + 1; // 20992 = 2^9 · 41
    if key == 0 {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            let u = c as u32;
            if (BASE..BASE + SIZE).contains(&u) {
                // 7919 is odd and prime to 41, so this is a bijection.
                let v = ((u - BASE) as u64 * 7919 + key as u64 * 97) % SIZE as u64;
                char::from_u32(BASE + v as u32).unwrap_or(c)
            } else {
                c
            }
        })
        .collect()
}

/// Edits about `rate` of the characters (half substitutions, a quarter
/// deletions, a quarter insertions) with characters drawn from `text`.
fn edit(text: &[char], rate: f64, rng: &mut Rng) -> Vec<char> {
    let per_mille = (rate * 1000.0) as usize;
    let mut out = Vec::with_capacity(text.len() + text.len() / 16);
    for &c in text {
        let r = rng.below(1000);
        let pick = text[rng.below(text.len())];
        if r < per_mille / 2 {
            out.push(pick);
        } else if r < per_mille * 3 / 4 {
            // deleted
        } else if r < per_mille {
            out.push(pick);
            out.push(c);
        } else {
            out.push(c);
        }
    }
    out
}

/// ~2,000-character documents of real text, their normalised form and shingles.
struct Docs {
    texts: Vec<String>,
    norm: Vec<NormText>,
    shingles: Vec<Vec<u64>>,
    bytes: usize,
}

static DOCS: LazyLock<Docs> = LazyLock::new(|| {
    let texts = cut_docs(&SEED_TEXT);
    let nopts = NormalizeOptions::default();
    let norm: Vec<NormText> = texts.iter().map(|t| normalize(t, &nopts)).collect();
    let shingles = norm
        .iter()
        .map(|n| {
            let mut v = Vec::new();
            shingle_into(n, &ShingleOptions::default(), &mut v);
            v
        })
        .collect();
    let bytes = texts.iter().map(String::len).sum();
    Docs {
        texts,
        norm,
        shingles,
        bytes,
    }
});

fn bytes() -> BytesCount {
    BytesCount::new(DOCS.bytes)
}

fn minhasher() -> MinHasher {
    MinHasher::new(PERMS, SEED)
}

// ---------------------------------------------------------------------------
// Document stages, one pass over ~240 KB of seed text
// ---------------------------------------------------------------------------

/// The documents as JSONL, one `{"id","text"}` per line.
fn docs_jsonl() -> String {
    let mut jsonl = String::new();
    for (i, t) in DOCS.texts.iter().enumerate() {
        let rec = serde_json::json!({ "id": format!("d{i}"), "text": t });
        jsonl.push_str(&rec.to_string());
        jsonl.push('\n');
    }
    jsonl
}

/// Read and decode a JSONL file of the documents (parse, UTF-8 check, ids).
#[divan::bench]
fn ingest_jsonl(bencher: Bencher) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.jsonl");
    let jsonl = docs_jsonl();
    std::fs::write(&path, &jsonl).unwrap();
    let paths = vec![path];
    let opts = IngestOptions::default();
    bencher
        .counter(BytesCount::new(jsonl.len()))
        .bench(|| -> corpus::Corpus { read_corpus(black_box(&paths), &opts).unwrap() });
}

/// As `ingest_jsonl`, from a `.jsonl.gz` or `.jsonl.zst` copy (written by
/// neardup's own compressor): the decoder's cost on top of plain ingest.
#[divan::bench(args = ["gz", "zst"])]
fn ingest_jsonl_compressed(bencher: Bencher, suffix: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("docs.jsonl.{suffix}"));
    let jsonl = docs_jsonl();
    let c = match suffix {
        "gz" => corpus::Compression::Gzip,
        _ => corpus::Compression::Zstd,
    };
    let packed = corpus::compress(&path, jsonl.clone().into_bytes(), c).unwrap();
    std::fs::write(&path, packed).unwrap();
    let paths = vec![path];
    let opts = IngestOptions::default();
    bencher
        .counter(BytesCount::new(jsonl.len()))
        .bench(|| -> corpus::Corpus { read_corpus(black_box(&paths), &opts).unwrap() });
}

/// NFKC, case, width, punctuation and whitespace folding with the offset map.
#[divan::bench]
fn normalize_text(bencher: Bencher) {
    let opts = NormalizeOptions::default();
    bencher.counter(bytes()).bench(|| {
        for t in &DOCS.texts {
            black_box(normalize(black_box(t), &opts));
        }
    });
}

/// The units verification aligns (`normalize::normalize_chars`: words
/// folded into one unit each, no offset map), as the documents stage makes
/// them for every text it loads.
#[divan::bench]
fn normalize_verify_units(bencher: Bencher) {
    let opts = NormalizeOptions::default();
    bencher.counter(bytes()).bench(|| {
        for t in &DOCS.texts {
            black_box(neardup::normalize::normalize_chars(black_box(t), &opts));
        }
    });
}

/// Character 5-gram xxh3 hashes into a reused vector (script detection included).
#[divan::bench]
fn shingle(bencher: Bencher) {
    let opts = ShingleOptions::default();
    let mut out = Vec::new();
    bencher.counter(bytes()).bench_local(|| {
        for n in &DOCS.norm {
            shingle_into(black_box(n), &opts, &mut out);
            black_box(&out);
        }
    });
}

/// The floor for shingle + MinHash: xxh3 of every character 5-gram (the
/// same 20 bytes `shingle` hashes), nothing stored.
#[divan::bench]
fn limit_xxh3_5grams(bencher: Bencher) {
    // the chars of each document as the bytes `shingle` hashes in place
    let raw: Vec<Vec<u8>> = DOCS
        .norm
        .iter()
        .map(|n| {
            n.chars
                .iter()
                .flat_map(|&c| (c as u32).to_ne_bytes())
                .collect()
        })
        .collect();
    bencher.counter(bytes()).bench(|| {
        let mut acc = 0u64;
        for r in &raw {
            for w in black_box(r).windows(4 * NGRAM).step_by(4) {
                acc ^= xxh3_64(w);
            }
        }
        acc
    });
}

/// MinHash-128 signing of precomputed shingles (`MinHasher::sign_into`).
#[divan::bench]
fn minhash128_sign(bencher: Bencher) {
    let m = minhasher();
    let mut sig = vec![0u32; PERMS];
    bencher.counter(bytes()).bench_local(|| {
        for s in &DOCS.shingles {
            m.sign_into(black_box(s), &mut sig);
            black_box(&sig);
        }
    });
}

/// One-permutation MinHash-128 (`--method oph`) of the same documents'
/// character 5-grams, hashed from the normalised characters as the read
/// pass does (`OnePerm::update_grams`, then the rounds that fill empty bins).
#[divan::bench]
fn oph128_sign(bencher: Bencher) {
    let o = OnePerm::new(PERMS, NGRAM, 42);
    let mut sig = vec![0u32; PERMS];
    let mut kept = Vec::new();
    bencher.counter(bytes()).bench_local(|| {
        for n in &DOCS.norm {
            sig.fill(u32::MAX);
            kept.clear();
            o.update_grams(black_box(&n.chars), &mut sig, &mut kept, usize::MAX);
            o.finish(&kept, &mut sig);
            black_box(&sig);
        }
    });
}

/// gaoya 0.2.2 `MinHasher32` (128 hashes) on the same u64 shingles.
#[divan::bench]
fn gaoya_minhash32_sign(bencher: Bencher) {
    let g = MinHasher32::new(PERMS);
    bencher.counter(bytes()).bench(|| {
        for s in &DOCS.shingles {
            black_box(g.create_signature(black_box(s).iter()));
        }
    });
}

/// Shingle + MinHash from normalised text (what gaoya's char analyzer does).
#[divan::bench]
fn shingle_minhash128(bencher: Bencher) {
    let m = minhasher();
    let mut sh = Vec::new();
    let mut sig = vec![0u32; PERMS];
    bencher.counter(bytes()).bench_local(|| {
        for n in &DOCS.norm {
            sh.clear();
            char_shingles(black_box(&n.chars), NGRAM, &mut sh);
            m.sign_into(&sh, &mut sig);
            black_box(&sig);
        }
    });
}

/// gaoya 0.2.2 `MinHasher32` hashing the character 5-grams itself.
#[divan::bench]
fn gaoya_minhash32_char5(bencher: Bencher) {
    let g = MinHasher32::new(PERMS);
    bencher.counter(bytes()).bench(|| {
        for n in &DOCS.norm {
            black_box(g.create_signature(black_box(&n.chars).windows(NGRAM)));
        }
    });
}

/// 64-bit SimHash of precomputed shingles.
#[divan::bench]
fn simhash64(bencher: Bencher) {
    bencher.counter(bytes()).bench(|| {
        let mut acc = 0u64;
        for s in &DOCS.shingles {
            acc ^= simhash(black_box(s));
        }
        acc
    });
}

/// Shingle + sketch from source text: normalize, shingle, MinHash-128.
#[divan::bench]
fn shingle_sketch(bencher: Bencher) {
    let m = minhasher();
    let nopts = NormalizeOptions::default();
    let sopts = ShingleOptions::default();
    let mut sh = Vec::new();
    let mut sig = vec![0u32; PERMS];
    bencher.counter(bytes()).bench_local(|| {
        for t in &DOCS.texts {
            let n = normalize(black_box(t), &nopts);
            shingle_into(&n, &sopts, &mut sh);
            m.sign_into(&sh, &mut sig);
            black_box(&sig);
        }
    });
}

/// What the read stage does per document on the default path, in one
/// fused pass: `Sketcher::sketch_doc` of the source text (normalise into
/// blocks, shingle, MinHash-128, exact hash).
#[divan::bench]
fn sketch_doc(bencher: Bencher) {
    let opts = neardup::pipeline::ScanOptions::default();
    let sk = Sketcher::new(&opts);
    bencher.counter(bytes()).bench_local(|| {
        for t in &DOCS.texts {
            black_box(sk.sketch_doc(black_box(t)));
        }
    });
}

/// The whole per-document chain of the read stage: a JSONL line →
/// `corpus::parse_line` (scanned, text unescaped) → `sketch_doc`. Bytes
/// are the source text's, as for the other stages (the lines are 2% more).
/// With the default method, and each method by name.
#[divan::bench(args = ["default", "minhash", "oph"])]
fn fused_read_sign(bencher: Bencher, method: &str) {
    use neardup::pipeline::{Method, ScanOptions};
    let defaults = ScanOptions::default();
    let opts = ScanOptions {
        method: match method {
            "minhash" => Method::MinHash,
            "oph" => Method::Oph,
            _ => defaults.method,
        },
        ..defaults
    };
    let iopts = IngestOptions::default();
    let sk = Sketcher::new(&opts);
    let jsonl = docs_jsonl();
    let path = std::path::Path::new("docs.jsonl");
    bencher.counter(bytes()).bench_local(|| {
        for (i, line) in black_box(&jsonl).lines().enumerate() {
            let doc = corpus::parse_line(path, i as u64 + 1, line, &iopts).unwrap();
            black_box(sk.sketch_doc(&doc.text));
        }
    });
}

// ---------------------------------------------------------------------------
// LSH over 10,000 signatures
// ---------------------------------------------------------------------------

const LSH_DOCS: usize = 10_000;

/// Signatures of 10,000 ~2,000-character documents: relabelled copies of the
/// seed documents, every tenth one an edited (5%) copy of the one before.
struct Sigs {
    sigs: Vec<u32>,
    docs: Vec<u32>,
    text_bytes: usize,
}

static SIGS: LazyLock<Sigs> = LazyLock::new(|| {
    let base = &DOCS.texts;
    let m = minhasher();
    let nopts = NormalizeOptions::default();
    let sopts = ShingleOptions::default();
    let mut rng = Rng(7);
    let mut sigs = vec![0u32; LSH_DOCS * PERMS];
    let mut sh = Vec::new();
    let mut text_bytes = 0;
    let mut prev = String::new();
    for d in 0..LSH_DOCS {
        let text = if d % 10 == 9 {
            let chars: Vec<char> = prev.chars().collect();
            edit(&chars, 0.05, &mut rng).into_iter().collect()
        } else {
            relabel(&base[d % base.len()], (d / base.len()) as u32)
        };
        text_bytes += text.len();
        let n = normalize(&text, &nopts);
        shingle_into(&n, &sopts, &mut sh);
        m.sign_into(&sh, &mut sigs[d * PERMS..(d + 1) * PERMS]);
        prev = text;
    }
    Sigs {
        sigs,
        docs: (0..LSH_DOCS as u32).collect(),
        text_bytes,
    }
});

/// Banding (16 bands × 8 rows, the peers' setting) → sorted candidate pairs.
#[divan::bench(sample_count = 30)]
fn lsh_band_10k(bencher: Bencher) {
    let s = &*SIGS;
    let params = LshParams { bands: 16, rows: 8 };
    bencher
        .counter(BytesCount::new(s.text_bytes))
        .counter(ItemsCount::new(LSH_DOCS))
        .bench(|| {
            let flat = lsh::Flat {
                values: black_box(&s.sigs),
                perms: PERMS,
            };
            lsh::band_candidates(&flat, &s.docs, params)
        });
}

/// Banding with the default derived from threshold 0.8 (more, shorter bands).
#[divan::bench(sample_count = 30)]
fn lsh_band_10k_derived(bencher: Bencher) {
    let s = &*SIGS;
    let params = LshParams::derive(0.8, NGRAM, PERMS);
    bencher
        .counter(BytesCount::new(s.text_bytes))
        .counter(ItemsCount::new(LSH_DOCS))
        .bench(|| {
            let flat = lsh::Flat {
                values: black_box(&s.sigs),
                perms: PERMS,
            };
            lsh::band_candidates(&flat, &s.docs, params)
        });
}

// ---------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------

/// Candidate pairs over the 10,000 signatures for the prefilter: each
/// edited copy with its source (they pass) and 20 random pairs a document
/// (they share nothing and fail), in sorted order as LSH gives them.
static PREFILTER_PAIRS: LazyLock<Vec<(u32, u32)>> = LazyLock::new(|| {
    let mut rng = Rng(5);
    let n = LSH_DOCS as u32;
    let mut pairs: Vec<(u32, u32)> = (9..n).step_by(10).map(|d| (d - 1, d)).collect();
    for a in 0..n {
        for _ in 0..20 {
            let b = rng.below(LSH_DOCS) as u32;
            if a != b {
                pairs.push((a.min(b), a.max(b)));
            }
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    pairs
});

/// `verify::prefilter` at the defaults (length ratio 0.8, estimated
/// Jaccard floor 0.1) on those pairs, all of one length so that every pair
/// reaches the signature test; items are pairs.
#[divan::bench]
fn verify_prefilter(bencher: Bencher) {
    let s = &*SIGS;
    let pairs = &*PREFILTER_PAIRS;
    let flat = lsh::Flat {
        values: &s.sigs,
        perms: PERMS,
    };
    let lens = vec![2_000u32; LSH_DOCS];
    let opts = verify::VerifyOptions {
        threshold: 0.8,
        jaccard_floor: 0.1,
    };
    let kept = verify::prefilter(pairs, &lens, Some(&flat), &opts).len();
    assert!(
        kept >= LSH_DOCS / 10 && kept < pairs.len() / 2,
        "{kept} kept"
    );
    bencher
        .counter(ItemsCount::new(pairs.len()))
        .bench(|| verify::prefilter(black_box(pairs), &lens, Some(&flat), &opts));
}

/// A scan report of 240 clusters of 2–9 copies each (the seed documents,
/// their copies renamed), rendered as JSON: through `report::render` (buffered)
/// and (`_unbuffered`) serde straight into `dyn Write`, as before.
#[divan::bench(args = ["render", "unbuffered"])]
fn report_json(bencher: Bencher, how: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("docs.jsonl");
    let mut jsonl = String::new();
    let mut rng = Rng(13);
    for (i, t) in DOCS.texts.iter().enumerate() {
        for k in 0..2 + rng.below(8) {
            let rec = serde_json::json!({ "id": format!("d{i}-{k}"), "text": t });
            jsonl.push_str(&rec.to_string());
            jsonl.push('\n');
        }
    }
    std::fs::write(&path, &jsonl).unwrap();
    let corpus = read_corpus(&[path], &IngestOptions::default()).unwrap();
    let opts = neardup::pipeline::ScanOptions {
        level: neardup::pipeline::Level::Doc,
        ..Default::default()
    };
    let rep = neardup::pipeline::scan(&corpus, &opts, &neardup::pipeline::NoProgress).unwrap();
    let mut size = Vec::new();
    report::render(&rep, report::Format::Json, &Default::default(), &mut size).unwrap();
    bencher.counter(BytesCount::new(size.len())).bench(|| {
        let mut out: Vec<u8> = Vec::with_capacity(size.len());
        if how == "render" {
            report::render(&rep, report::Format::Json, &Default::default(), &mut out).unwrap();
        } else {
            let w: &mut dyn std::io::Write = &mut out;
            serde_json::to_writer_pretty(&mut *w, &rep).unwrap();
            w.write_all(b"\n").unwrap();
        }
        out
    });
}

const PAIR_CHARS: usize = 3_000;

/// Pairs of ~3,000 normalised characters and a copy with 5% edits.
static PAIRS: LazyLock<Vec<(Vec<char>, Vec<char>)>> = LazyLock::new(|| {
    let all: Vec<char> = DOCS.norm.iter().flat_map(|n| n.chars.clone()).collect();
    let mut rng = Rng(11);
    all.chunks_exact(PAIR_CHARS)
        .map(|a| (a.to_vec(), edit(a, 0.05, &mut rng)))
        .collect()
});

/// `align::similarity` (bit-parallel LCS) on each pair; bytes of both sides.
#[divan::bench]
fn verify_similarity_3k(bencher: Bencher) {
    bench_pairs(bencher, align::similarity);
}

/// `align::similarity_at_least` at the default threshold 0.8, as verification
/// runs it (character-count bound, Ukkonen band, early stop).
#[divan::bench]
fn verify_threshold_3k(bencher: Bencher) {
    bench_pairs(bencher, |a, b| align::similarity_at_least(a, b, 0.8));
}

fn bench_pairs(bencher: Bencher, f: impl Fn(&[char], &[char]) -> f64 + Sync) {
    let pairs = &*PAIRS;
    let utf8 = |v: &[char]| v.iter().map(|c| c.len_utf8()).sum::<usize>();
    let total: usize = pairs.iter().map(|(a, b)| utf8(a) + utf8(b)).sum();
    bencher
        .counter(BytesCount::new(total))
        .counter(ItemsCount::new(pairs.len()))
        .bench(|| {
            let mut s = 0.0;
            for (a, b) in pairs {
                s += f(black_box(a), black_box(b));
            }
            s
        });
}

// ---------------------------------------------------------------------------
// Blocks
// ---------------------------------------------------------------------------

/// Winnowed fingerprints (k = 8, w = 8) of every document.
#[divan::bench]
fn block_fingerprints(bencher: Bencher) {
    let o = BlockOptions::default();
    let mut out = Vec::new();
    bencher.counter(bytes()).bench_local(|| {
        for n in &DOCS.norm {
            blocks::fingerprints(black_box(&n.chars), o.k, o.window, &mut out);
            black_box(&out);
        }
    });
}

/// ~1 MB of documents (four relabelled copies of the seeds) with six
/// sections of 300–1,000 characters copied into two or three other
/// documents, half of the copies with 3% edits.
struct BlockSet {
    norm: Vec<NormText>,
    bytes: usize,
}

static BLOCK_SET: LazyLock<BlockSet> = LazyLock::new(|| {
    let mut docs: Vec<String> = (0..4)
        .flat_map(|k| cut_docs(&relabel(&SEED_TEXT, 1000 + k)))
        .collect();
    let mut rng = Rng(3);
    for _ in 0..6 {
        let src = rng.below(docs.len());
        let chars: Vec<char> = docs[src].chars().collect();
        let len = 300 + rng.below(700);
        let start = rng.below(chars.len().saturating_sub(len).max(1));
        let section = &chars[start..(start + len).min(chars.len())];
        for _ in 0..2 + rng.below(2) {
            let dst = rng.below(docs.len());
            let copy: String = if rng.below(2) == 0 {
                edit(section, 0.03, &mut rng).into_iter().collect()
            } else {
                section.iter().collect()
            };
            // insert at a line break in the middle of the target document
            let d = &mut docs[dst];
            let mid = (d.len() / 2..d.len())
                .find(|&i| d.is_char_boundary(i))
                .unwrap_or(d.len());
            let at = d[mid..].find('\n').map_or(d.len(), |i| mid + i + 1);
            d.insert_str(at, &format!("{copy}\n"));
        }
    }
    let nopts = NormalizeOptions::default();
    BlockSet {
        bytes: docs.iter().map(String::len).sum(),
        norm: docs.iter().map(|t| normalize(t, &nopts)).collect(),
    }
});

/// `blocks::find_blocks` end to end (fingerprints, seeds, chains, verify, clusters).
#[divan::bench(sample_count = 20)]
fn block_find_1mb(bencher: Bencher) {
    let set = &*BLOCK_SET;
    let refs: Vec<&NormText> = set.norm.iter().collect();
    let opts = BlockOptions::default();
    bencher
        .counter(BytesCount::new(set.bytes))
        .bench(|| blocks::find_blocks(black_box(&refs), &opts));
}
