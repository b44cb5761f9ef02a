//! `neardup sign`: one shard's files → its document table, band keys and
//! signatures.
//!
//! Takes the manifest and a shard number; reads the shard's files as
//! `clean` reads them (compressed ones decompressed once into the shard's
//! folder) and sketches every document (as `scan` does). Gives, in
//! `DIR/shard-NNNNN/`:
//!
//! - `docs.parquet`, a row a document in reading order: `shard`, `ord`,
//!   `chars` (normalised length), `exact_hi`/`exact_lo` (the 128-bit exact
//!   hash), `keep_rank` ([`keep_rank`]) and where the whole document is,
//!   as the removal log names a kept copy: `doc_id`, `path`, `record`
//!   (null for a text file), `line_first`, `line_last`, `byte_start`,
//!   `byte_end`, `unit`;
//! - `bands.parquet`: `band`, `key`, `shard`, `ord` for every band of every
//!   document with `chars > 0`;
//! - `fingerprints.parquet` (not with `--level doc`): `hash` (the `u64`
//!   as `int64`), `shard`, `ord`, `pos` for every winnowed fingerprint of
//!   every document the block stage fingerprints, in `(ord, pos)` order
//!   (see [`super`] for what an engine does with them);
//! - `stages/sign.bin` (a stage file, [`crate::stage`]): the document table
//!   and the sketches with their signatures, what `verify-pairs` reads;
//! - `_SUCCESS`, last, holding the parameters' hash.
//!
//! Holds the shard's sketches (~700 bytes a document) and one batch of
//! text; a text file's document is read once more for its place (its last
//! line and, in a legacy encoding, its byte length).

use std::path::Path;

use crate::cluster::{Keep, KeepOrder};
use crate::corpus::IngestOptions;
use crate::corpus::{read_listing_in, Corpus, Format, SortKey, TextKept};
use crate::documents::Texts;
use crate::error::{Error, Result};
use crate::lsh::band_key;
use crate::pipeline::{Level, ScanOptions};
use crate::place::Place;
use crate::sketch::{Sketcher, Sketches};
use crate::work::{Placement, WorkDir, WorkOptions};

use super::rows::{Column, Rows};
use super::{finished, mark_finished, shard_dir, Manifest};

/// Name of the sign stage's file in the shard's `stages/` folder.
pub const STAGE: &str = "sign";

/// What `sign` did.
#[derive(Debug, Clone, Default)]
pub struct Signed {
    /// Documents of the shard.
    pub docs: usize,
    /// Rows of `bands.parquet`.
    pub band_rows: usize,
    /// The shard was signed already with these parameters: nothing done.
    pub reused: bool,
}

/// Signs shard `n` of `manifest` into `out` (see the module docs).
///
/// # Errors
///
/// An input that cannot be read (named, with the line or row), a write that
/// fails.
pub fn sign(
    manifest: &Manifest,
    n: usize,
    ingest: &IngestOptions,
    opts: &ScanOptions,
    out: &Path,
) -> Result<Signed> {
    let listing = manifest.listing(n)?;
    let dir = shard_dir(out, n);
    if finished(&dir, &manifest.params_hash) {
        return Ok(Signed {
            reused: true,
            ..Signed::default()
        });
    }
    let success = dir.join(super::SUCCESS);
    if success.exists() {
        std::fs::remove_file(&success).map_err(|e| Error::io(&success, e))?;
    }
    // the shard's folder is its work folder: the decompressed copies stay
    // there for verify-pairs, and its stage file goes to `stages/`
    let work = WorkDir::create(
        &WorkOptions {
            dir: Some(dir.clone()),
            ..WorkOptions::default()
        },
        Placement::Temp,
    )?;
    let sk = Sketcher::new(opts);
    let (corpus, per_doc) = read_listing_in(listing, ingest, TextKept::No, Some(&work), |doc| {
        let fps = if opts.level == Level::Doc {
            Vec::new()
        } else {
            block_fingerprints(&doc.text, opts)
        };
        (sk.sketch_doc(&doc.text), doc.text.len() as u32, fps)
    })?;
    let mut sizes = Vec::with_capacity(per_doc.len());
    let mut fps = Vec::with_capacity(per_doc.len());
    let per_doc: Vec<_> = per_doc
        .into_iter()
        .map(|(s, size, f)| {
            sizes.push(size);
            fps.push(f);
            s
        })
        .collect();
    let sketches = Sketches::collect(&sk, per_doc);
    if opts.level != Level::Doc {
        fingerprint_rows(fps, n).write(&dir.join(FINGERPRINTS))?;
    }

    let all: Vec<u32> = (0..corpus.docs.len() as u32).collect();
    let places = whole_places(&corpus, ingest, &all)?;
    doc_rows(&corpus, &sketches, &places, n, opts).write(&dir.join("docs.parquet"))?;
    let bands = band_rows(&sketches, n, opts);
    let band_rows = bands.len();
    bands.write(&dir.join("bands.parquet"))?;
    let st = work.stages().ok_or_else(|| Error::Stage {
        path: dir.display().to_string(),
        reason: "no stage files in the shard's folder".into(),
    })?;
    st.save(STAGE, &manifest.params, &[], |e| {
        crate::stage::encode_corpus(e, &corpus)?;
        crate::stage::encode_sketches(e, Some(&sketches), &sizes)
    })?;
    mark_finished(&dir, &manifest.params_hash)?;
    Ok(Signed {
        docs: corpus.docs.len(),
        band_rows,
        reused: false,
    })
}

/// Where each document of `docs` (sorted) is, whole, as the removal log
/// names it: a record needs no text; a text file's document is read again
/// for its lines and bytes, a batch at a time.
pub(super) fn whole_places(
    corpus: &Corpus,
    ingest: &IngestOptions,
    docs: &[u32],
) -> Result<Vec<Place>> {
    let whole = |d: usize, text: &str| {
        let len = corpus.docs[d].len;
        Place::in_text(corpus, d, text, &(0..len))
    };
    let mut places: Vec<Option<Place>> = docs
        .iter()
        .map(|&d| {
            let format = corpus.input_of(&corpus.docs[d as usize]).format;
            (format != Format::Text).then(|| whole(d as usize, ""))
        })
        .collect();
    let texts: Vec<u32> = docs
        .iter()
        .zip(&places)
        .filter(|(_, p)| p.is_none())
        .map(|(&d, _)| d)
        .collect();
    let sizes: Vec<u32> = corpus.docs.iter().map(|d| d.len as u32).collect();
    Texts::Reload(ingest).batches(corpus, &texts, &sizes, |batch, batch_texts| {
        for (&d, text) in batch.iter().zip(batch_texts) {
            if let Ok(i) = docs.binary_search(&d) {
                places[i] = Some(whole(d as usize, text));
            }
        }
    })?;
    places
        .into_iter()
        .collect::<Option<Vec<Place>>>()
        .ok_or_else(|| Error::Stage {
            path: corpus
                .inputs
                .first()
                .map_or_else(String::new, |i| i.path.display().to_string()),
            reason: "a document's text could not be read again".into(),
        })
}

/// The rows of `docs.parquet`.
fn doc_rows(
    corpus: &Corpus,
    sk: &Sketches,
    places: &[Place],
    shard: usize,
    opts: &ScanOptions,
) -> Rows {
    let n = corpus.docs.len();
    let ints = |f: &dyn Fn(usize) -> i64| Column::I64((0..n).map(f).collect());
    let strs = |f: &dyn Fn(usize) -> String| Column::Str((0..n).map(f).collect());
    Rows::new()
        .with("shard", Column::I32(vec![shard as i32; n]))
        .with("ord", ints(&|d| d as i64))
        .with("chars", ints(&|d| i64::from(sk.sketch[d].len)))
        .with(
            "exact_hi",
            ints(&|d| (sk.sketch[d].exact >> 64) as u64 as i64),
        )
        .with("exact_lo", ints(&|d| sk.sketch[d].exact as u64 as i64))
        .with(
            "keep_rank",
            Column::Bin(
                (0..n)
                    .map(|d| {
                        let key = corpus.docs[d].sort_key.as_ref();
                        keep_rank(sk.sketch[d].len, key, opts)
                    })
                    .collect(),
            ),
        )
        .with("doc_id", strs(&|d| places[d].doc.clone()))
        .with("path", strs(&|d| places[d].path.clone()))
        .with(
            "record",
            Column::OptI64(places.iter().map(|p| p.record.map(|r| r as i64)).collect()),
        )
        .with("line_first", ints(&|d| places[d].lines[0] as i64))
        .with("line_last", ints(&|d| places[d].lines[1] as i64))
        .with("byte_start", ints(&|d| places[d].bytes[0] as i64))
        .with("byte_end", ints(&|d| places[d].bytes[1] as i64))
        .with("unit", strs(&|d| crate::clean::ByteUnits::unit(corpus, d)))
}

/// Name of the table of block fingerprints in a shard's folder.
pub const FINGERPRINTS: &str = "fingerprints.parquet";

/// The winnowed fingerprints `(hash, pos)` of `text` as the block stage
/// takes them ([`crate::blocks::fingerprints`] over the normalised text,
/// with its `k` and window), none for a text shorter than the shortest
/// block ([`crate::blocks::shortest_block`]).
fn block_fingerprints(text: &str, opts: &ScanOptions) -> Vec<(u64, u32)> {
    let (mut chars, mut gaps) = (Vec::new(), Vec::new());
    crate::normalize::normalize_unmapped(text, &opts.normalize, &mut chars, &mut gaps);
    let mut out = Vec::new();
    if chars.len() >= crate::blocks::shortest_block(&opts.blocks) {
        let k = crate::blocks::gram_len(&opts.blocks);
        crate::blocks::fingerprints(&chars, k, opts.blocks.window, &mut out);
    }
    out
}

/// The rows of `fingerprints.parquet`: `hash` (the `u64` as `int64`),
/// `shard`, `ord`, `pos`, in `(ord, pos)` order.
fn fingerprint_rows(per_doc: Vec<Vec<(u64, u32)>>, shard: usize) -> Rows {
    let rows: usize = per_doc.iter().map(Vec::len).sum();
    let (mut hash, mut ord, mut pos) = (
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
        Vec::with_capacity(rows),
    );
    for (d, fps) in per_doc.into_iter().enumerate() {
        for (h, p) in fps {
            hash.push(h as i64);
            ord.push(d as i64);
            pos.push(p as i32);
        }
    }
    Rows::new()
        .with("hash", Column::I64(hash))
        .with("shard", Column::I32(vec![shard as i32; rows]))
        .with("ord", Column::I64(ord))
        .with("pos", Column::I32(pos))
}

/// The rows of `bands.parquet`: every band key of every document with text.
fn band_rows(sk: &Sketches, shard: usize, opts: &ScanOptions) -> Rows {
    let lsh = opts.lsh_params();
    let (mut band, mut key, mut ord) = (Vec::new(), Vec::new(), Vec::new());
    for (d, (s, sig)) in sk.sketch.iter().zip(&sk.sigs).enumerate() {
        if s.len == 0 {
            continue;
        }
        for b in 0..lsh.bands {
            band.push(b as i32);
            key.push(band_key(sig, b, lsh.rows) as i64);
            ord.push(d as i64);
        }
    }
    let rows = band.len();
    Rows::new()
        .with("band", Column::I32(band))
        .with("key", Column::I64(key))
        .with("shard", Column::I32(vec![shard as i32; rows]))
        .with("ord", Column::I64(ord))
}

/// The bytes whose order is the keep rule ([`crate::cluster::choose_keep`]):
/// the member kept is the one with the smallest `(keep_rank, shard, ord)`.
///
/// With `--keep-by`, a copy with the field comes first (byte 0, then its
/// value, largest first for `max`), one without after (byte 1); then, for
/// `--keep longest`, the longer first (the length's complement, big-endian);
/// ties go to the first in reading order, which `(shard, ord)` is. A field's
/// value is a number (tag 1, its bits in the order of `f64::total_cmp`) or
/// a string (tag 2, its bytes with 0 escaped and a 0 0 end), so numbers and
/// strings do not mix: one machine compares a number with a string by its
/// decimal text, which no byte order gives (documents holding both are
/// refused by the engine's check of tags, see `contrib/spark`).
pub fn keep_rank(chars: u32, key: Option<&SortKey>, opts: &ScanOptions) -> Vec<u8> {
    let mut rank = Vec::new();
    if let Some(by) = &opts.keep_by {
        match key {
            None => rank.push(1),
            Some(k) => {
                rank.push(0);
                let mut value = Vec::new();
                match k {
                    SortKey::Num(x) => {
                        value.push(1);
                        let bits = x.to_bits();
                        let ordered = if bits >> 63 == 1 {
                            !bits
                        } else {
                            bits ^ (1 << 63)
                        };
                        value.extend_from_slice(&ordered.to_be_bytes());
                    }
                    SortKey::Str(s) => {
                        value.push(2);
                        for &b in s.as_bytes() {
                            value.push(b);
                            if b == 0 {
                                value.push(0xff);
                            }
                        }
                        value.extend_from_slice(&[0, 0]);
                    }
                }
                if by.order == KeepOrder::Max {
                    // the largest first: every byte complemented (the
                    // end mark too, so a longer string sorts first)
                    value.iter_mut().for_each(|b| *b = !*b);
                }
                rank.extend(value);
            }
        }
    }
    if opts.keep == Keep::Longest {
        rank.extend_from_slice(&(!chars).to_be_bytes());
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{choose_keep, KeepBy};

    /// For groups of members, the smallest `(keep_rank, index)` is the
    /// member `choose_keep` keeps, under every rule.
    #[test]
    fn the_smallest_rank_is_the_kept_member() {
        let keys = [
            None,
            Some(SortKey::Num(3.0)),
            Some(SortKey::Num(-1.5)),
            Some(SortKey::Num(3.0)),
            Some(SortKey::Num(10.0)),
        ];
        let strs = [
            Some(SortKey::Str("2024-01-02".into())),
            None,
            Some(SortKey::Str("2024-01-02x".into())),
            Some(SortKey::Str("2023".into())),
            Some(SortKey::Str("2024-01-02".into())),
        ];
        let lens = [7usize, 9, 9, 3, 9];
        for keys in [&keys, &strs] {
            for keep in [Keep::First, Keep::Longest] {
                for by in [None, Some(KeepOrder::Max), Some(KeepOrder::Min)] {
                    let opts = ScanOptions {
                        keep,
                        keep_by: by.map(|order| KeepBy {
                            field: "f".into(),
                            order,
                        }),
                        ..ScanOptions::default()
                    };
                    // every subset of two or more members
                    for mask in 1u32..32 {
                        let members: Vec<usize> = (0..5).filter(|i| mask >> i & 1 == 1).collect();
                        if members.len() < 2 {
                            continue;
                        }
                        let ls: Vec<usize> = members.iter().map(|&i| lens[i]).collect();
                        let ks: Vec<Option<&SortKey>> =
                            members.iter().map(|&i| keys[i].as_ref()).collect();
                        let (want, _) =
                            choose_keep(&ls, &ks, &[], opts.keep, opts.keep_by.as_ref());
                        let got = (0..members.len())
                            .min_by_key(|&j| {
                                let i = members[j];
                                (keep_rank(lens[i] as u32, keys[i].as_ref(), &opts), j)
                            })
                            .unwrap_or(0);
                        assert_eq!(got, want, "{keep:?} {by:?} {members:?}");
                    }
                }
            }
        }
    }
}
