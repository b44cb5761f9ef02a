//! The sharded document level (`shards`, `sign`, `verify-pairs`,
//! `apply`): fed what an engine would compute by the definition in
//! `src/shard/mod.rs`, here taken from a single-machine scan report, the
//! stages give the very bytes of `neardup clean --level doc`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::util::{files, gzip, neardup, s, stderr_of, succeeded, TestDir};

/// A text of `n` characters; `edits` characters changed at spread-out
/// places.
fn text(seed: u64, n: usize, edits: &[usize]) -> String {
    let mut c: Vec<char> = crate::util::cjk_text(seed, n).chars().collect();
    let len = c.len();
    for &e in edits {
        c[e % len] = '某';
    }
    c.into_iter().collect()
}

fn jsonl(texts: &[String], prefix: &str) -> String {
    texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                "{}\n",
                serde_json::json!({"id": format!("{prefix}{i}"), "text": t})
            )
        })
        .collect()
}

/// Four kinds of shard: a JSONL file of several documents with copies
/// inside it, a `.jsonl.gz` with copies of the first file's documents, a
/// file with no duplicates, and a folder of GB18030 text files with copies
/// of records and of each other.
fn corpus(t: &TestDir) -> PathBuf {
    let a: Vec<String> = (0..40u64)
        .map(|i| match i {
            10 => text(3, 400, &[]),
            20 => text(5, 400, &[17]),
            _ => text(i, 400, &[]),
        })
        .collect();
    let b: Vec<String> = (0..30u64)
        .map(|j| match j {
            0 => text(7, 400, &[]),
            5 => text(8, 400, &[40, 200]),
            6 => text(8, 400, &[90]),
            10 => text(9, 400, &(0..120).map(|k| k * 3).collect::<Vec<_>>()),
            _ => text(100 + j, 400, &[]),
        })
        .collect();
    let c: Vec<String> = (0..20u64).map(|j| text(200 + j, 400, &[])).collect();
    t.write("in/a.jsonl", jsonl(&a, "a"));
    t.write("in/b.jsonl.gz", gzip(jsonl(&b, "b").as_bytes()));
    t.write("in/c.jsonl", jsonl(&c, "c"));
    let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
    for k in 0..8u64 {
        let body = match k {
            1 => text(12, 400, &[33]),
            2 => b[20].clone(),
            3 => text(12, 400, &[33, 250]),
            _ => text(300 + k, 400, &[]),
        };
        t.write(
            &format!("in/gb/{k:03}.txt"),
            gb(&format!("{body}\n第二行。\n")),
        );
    }
    t.path().join("in")
}

/// Runs `neardup ARGS` in `cwd`, never for long.
fn run_in(cwd: &Path, args: &[&str]) -> Output {
    neardup()
        .current_dir(cwd)
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .expect("runs")
}

fn ok_in(cwd: &Path, args: &[&str]) -> Output {
    let o = run_in(cwd, args);
    assert!(o.status.success(), "{args:?}: {}", stderr_of(&o));
    o
}

/// A document: `(shard, ord)`.
type Doc = (usize, usize);

/// Two documents.
type Pair = (Doc, Doc);

/// A removed document: where it is, its cluster, its similarity and its
/// kept copy.
type RemovedRow = (usize, usize, i64, f64, Doc);

/// The options every run of a test gets.
const OPTS: [&str; 3] = ["--level", "doc", "--quiet"];

fn with<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(OPTS).collect()
}

/// The document tables `sign` wrote, by `(path, record)`: `(shard, ord)`
/// and the row's index in its shard's table.
struct Docs {
    tables: Vec<neardup::shard::rows::Rows>,
    at: HashMap<(String, Option<i64>), Doc>,
}

impl Docs {
    fn read(signed: &Path, shards: usize) -> Docs {
        let mut d = Docs {
            tables: Vec::new(),
            at: HashMap::new(),
        };
        for n in 0..shards {
            let table = neardup::shard::rows::Rows::read(
                &neardup::shard::shard_dir(signed, n).join("docs.parquet"),
            )
            .expect("docs table");
            let paths = table.strs("path").expect("path").to_vec();
            let records = table.opt_ints("record").expect("record");
            let ords = table.ints("ord").expect("ord");
            for (r, (p, rec)) in paths.into_iter().zip(records).enumerate() {
                assert_eq!(ords[r], r as i64, "documents in reading order");
                d.at.insert((p, rec), (n, r));
            }
            d.tables.push(table);
        }
        d
    }

    /// `(shard, ord)` of a report member.
    fn of(&self, m: &Value) -> Doc {
        let key = (
            m["path"].as_str().expect("path").to_string(),
            m["record"].as_i64(),
        );
        *self
            .at
            .get(&key)
            .unwrap_or_else(|| panic!("{key:?} signed"))
    }
}

/// The files below `one` and `other`, which must be the same bytes.
#[allow(clippy::type_complexity)]
fn same_files(
    one: &Path,
    other: &Path,
) -> (
    std::collections::BTreeMap<PathBuf, Vec<u8>>,
    std::collections::BTreeMap<PathBuf, Vec<u8>>,
) {
    let (a, b) = (files(one), files(other));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, v) in &a {
        assert!(
            b[k] == *v,
            "{} differs:\n{}\n---\n{}",
            k.display(),
            String::from_utf8_lossy(v),
            String::from_utf8_lossy(&b[k])
        );
    }
    (a, b)
}

fn manifest_shards(m: &Path) -> usize {
    let v: Value = serde_json::from_slice(&std::fs::read(m).expect("manifest")).expect("JSON");
    v["shards"].as_array().expect("shards").len()
}

/// The single-machine report's document clusters.
fn report(cwd: &Path, input: &str) -> Vec<Value> {
    let o = ok_in(cwd, &with(&["scan", input, "--format", "json"]));
    let v: Value = serde_json::from_slice(&o.stdout).expect("report");
    v["clusters"].as_array().expect("clusters").clone()
}

/// Writes the pairs `(a, b)` as `verify-pairs` reads them.
fn write_pairs(path: &Path, pairs: &[Pair]) {
    use neardup::shard::rows::{Column, Rows};
    let col32 =
        |f: &dyn Fn(&Pair) -> usize| Column::I32(pairs.iter().map(|p| f(p) as i32).collect());
    let col64 =
        |f: &dyn Fn(&Pair) -> usize| Column::I64(pairs.iter().map(|p| f(p) as i64).collect());
    Rows::new()
        .with("a_shard", col32(&|p| p.0 .0))
        .with("a_ord", col64(&|p| p.0 .1))
        .with("b_shard", col32(&|p| p.1 .0))
        .with("b_ord", col64(&|p| p.1 .1))
        .write(path)
        .expect("pairs written");
}

/// The removed documents of each cluster, with their kept copy's place
/// (from the document tables), as the engine would give `apply`: in
/// `DIR/all/`, and partitioned by shard in `DIR/shard=N/` (the removed
/// documents of shard `N`, without the shard column).
fn write_clusters(dir: &Path, clusters: &[Value], docs: &Docs) {
    let mut rows: Vec<RemovedRow> = Vec::new();
    for c in clusters {
        let keep = c["keep"].as_u64().expect("keep") as usize;
        let members = c["members"].as_array().expect("members");
        let kept = docs.of(&members[keep]);
        for (i, m) in members.iter().enumerate() {
            let sim = m["similarity"].as_f64().expect("similarity");
            if i != keep && sim >= 0.8 {
                let (sh, ord) = docs.of(m);
                rows.push((sh, ord, c["id"].as_i64().expect("id"), sim, kept));
            }
        }
    }
    std::fs::create_dir_all(dir.join("all")).expect("clusters folder");
    table_of(&rows, docs, true)
        .write(&dir.join("all/part-0.parquet"))
        .expect("clusters written");
    // as an engine partitions it by shard: no shard column
    let mut shards: Vec<usize> = rows.iter().map(|r| r.0).collect();
    shards.dedup();
    for n in shards {
        let part: Vec<RemovedRow> = rows.iter().filter(|r| r.0 == n).copied().collect();
        let folder = dir.join(format!("shard={n}"));
        std::fs::create_dir_all(&folder).expect("partition folder");
        table_of(&part, docs, false)
            .write(&folder.join("part-0.parquet"))
            .expect("partition written");
    }
}

/// The table of removed documents `rows`, with the `shard` column or not.
fn table_of(rows: &[RemovedRow], docs: &Docs, with_shard: bool) -> neardup::shard::rows::Rows {
    use neardup::shard::rows::{Column, Rows};
    let kept = |col: &str| -> Column {
        let t = |r: &RemovedRow| (&docs.tables[r.4 .0], r.4 .1);
        match col {
            "doc_id" | "path" | "unit" => Column::Str(
                rows.iter()
                    .map(|r| {
                        let (tab, i) = t(r);
                        tab.strs(col).expect("column")[i].clone()
                    })
                    .collect(),
            ),
            "record" => Column::OptI64(
                rows.iter()
                    .map(|r| {
                        let (tab, i) = t(r);
                        tab.opt_ints(col).expect("column")[i]
                    })
                    .collect(),
            ),
            _ => Column::I64(
                rows.iter()
                    .map(|r| {
                        let (tab, i) = t(r);
                        tab.ints(col).expect("column")[i]
                    })
                    .collect(),
            ),
        }
    };
    let mut table = Rows::new();
    if with_shard {
        table = table.with(
            "shard",
            Column::I32(rows.iter().map(|r| r.0 as i32).collect()),
        );
    }
    table = table
        .with(
            "ord",
            Column::I64(rows.iter().map(|r| r.1 as i64).collect()),
        )
        .with("cluster", Column::I64(rows.iter().map(|r| r.2).collect()))
        .with(
            "similarity",
            Column::F64(rows.iter().map(|r| r.3).collect()),
        );
    for col in [
        "doc_id",
        "path",
        "record",
        "line_first",
        "line_last",
        "byte_start",
        "byte_end",
        "unit",
    ] {
        table = table.with(&format!("kept_{col}"), kept(col));
    }
    table
}

/// The corpus cut into shards and signed; the manifest, the sign folder
/// and the number of shards.
fn signed(t: &TestDir, elsewhere: &Path) -> (PathBuf, PathBuf, usize) {
    let manifest = t.path().join("m.json");
    ok_in(
        t.path(),
        &with(&["shards", "in", "--shard-bytes", "30K", "-o", "m.json"]),
    );
    let shards = manifest_shards(&manifest);
    let sig = t.path().join("sig");
    for n in 0..shards {
        // from another folder: the stages work from the manifest's
        let n = n.to_string();
        ok_in(
            elsewhere,
            &with(&["sign", "--shard", &n, s(&manifest), "-o", s(&sig)]),
        );
    }
    (manifest, sig, shards)
}

#[test]
fn applied_shards_give_the_bytes_of_clean_and_verify() {
    let t = TestDir::new();
    corpus(&t);
    let elsewhere = t.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    ok_in(t.path(), &with(&["clean", "in", "-o", "single"]));
    let clusters = report(t.path(), "in");
    assert!(clusters.len() >= 5, "{clusters:?}");

    let (manifest, sig, shards) = signed(&t, &elsewhere);
    assert!(shards >= 4, "{shards} shards");
    // docs.parquet agrees with the single-machine scan: every member is
    // a signed document, exact copies share their hash
    let docs = Docs::read(&sig, shards);
    let exact = |d: Doc| {
        let tab = &docs.tables[d.0];
        (
            tab.ints("exact_hi").expect("hi")[d.1],
            tab.ints("exact_lo").expect("lo")[d.1],
            tab.ints("chars").expect("chars")[d.1],
        )
    };
    for c in &clusters {
        let members = c["members"].as_array().expect("members");
        let kept = docs.of(&members[c["keep"].as_u64().expect("keep") as usize]);
        for m in members {
            let d = docs.of(m);
            assert!(exact(d).2 > 0);
            let same = exact(d).0 == exact(kept).0 && exact(d).1 == exact(kept).1;
            assert_eq!(same, m["similarity"] == 1.0 && exact(d).2 == exact(kept).2);
        }
    }

    let clusters_dir = t.path().join("clusters");
    write_clusters(&clusters_dir, &clusters, &docs);
    for n in 0..shards {
        // the whole table (rows of other shards left out), or the shard's
        // partition of it
        let part = format!("../clusters/shard={n}");
        let from = match elsewhere.join(&part).is_dir() && n % 2 == 0 {
            true => part,
            false => "../clusters/all".to_string(),
        };
        let n = n.to_string();
        ok_in(
            &elsewhere,
            &with(&[
                "apply",
                "--shard",
                &n,
                "--clusters",
                &from,
                s(&manifest),
                "-o",
                "../sharded",
            ]),
        );
    }
    ok_in(
        &elsewhere,
        &with(&["apply", "--finish", s(&manifest), "-o", "../sharded"]),
    );
    let (_, sharded) = same_files(&t.path().join("single"), &t.path().join("sharded"));
    succeeded(neardup().arg("verify").arg(t.path().join("sharded")));
    // finishing again changes nothing
    ok_in(
        &elsewhere,
        &with(&["apply", "--finish", s(&manifest), "-o", "../sharded"]),
    );
    assert!(files(&t.path().join("sharded")) == sharded);

    // the output's compression is a shard's option: clean's bytes again
    for how in ["none", "zstd"] {
        let (single, out) = (format!("single-{how}"), format!("../sharded-{how}"));
        ok_in(
            t.path(),
            &with(&["clean", "in", "--output-compression", how, "-o", &single]),
        );
        for n in 0..shards {
            let n = n.to_string();
            let shard = ["apply", "--shard", &n, "--clusters", "../clusters/all"];
            let mut args = shard.to_vec();
            args.extend(["--output-compression", how, s(&manifest), "-o", &out]);
            ok_in(&elsewhere, &with(&args));
        }
        ok_in(
            &elsewhere,
            &with(&["apply", "--finish", s(&manifest), "-o", &out]),
        );
        let (written, _) = same_files(&t.path().join(&single), &elsewhere.join(&out));
        let gz = written
            .keys()
            .filter(|k| k.to_string_lossy().ends_with(".gz"));
        assert_eq!(gz.count(), 0, "{how}: {:?}", written.keys());
        succeeded(neardup().arg("verify").arg(elsewhere.join(&out)));
    }
}

#[test]
fn apply_refuses_files_of_two_shards_written_to_one_name() {
    let t = TestDir::new();
    let texts: Vec<String> = (0..20u64).map(|i| text(i, 400, &[])).collect();
    let body = jsonl(&texts, "d");
    t.write("in/d.jsonl", &body);
    t.write("in/d.jsonl.gz", gzip(body.as_bytes()));
    ok_in(
        t.path(),
        &with(&["shards", "in", "--shard-bytes", "1K", "-o", "m.json"]),
    );
    assert_eq!(manifest_shards(&t.path().join("m.json")), 2);
    // nothing removed: an engine's empty partition
    std::fs::create_dir_all(t.path().join("none")).expect("mkdir");
    let apply = |n: &str, how: &str, out: &str| {
        let shard = ["apply", "--shard", n, "--clusters", "none", "m.json"];
        run_in(
            t.path(),
            &with(&[&shard[..], &["--output-compression", how, "-o", out]].concat()),
        )
    };
    for n in ["0", "1"] {
        let o = apply(n, "none", "out");
        assert_eq!(o.status.code(), Some(2), "shard {n}");
        let err = stderr_of(&o);
        assert!(err.contains("would both be written here"), "{err}");
        assert!(
            err.contains("d.jsonl.gz") && err.contains("d.jsonl "),
            "{err}"
        );
        assert!(!t.path().join("out/d.jsonl").exists());
    }
    // as the inputs were, the names differ
    for n in ["0", "1"] {
        assert!(apply(n, "same", "same").status.success());
    }
}

#[test]
fn verify_pairs_gives_the_similarities_of_the_report() {
    let t = TestDir::new();
    corpus(&t);
    let clusters = report(t.path(), "in");
    let (manifest, sig, shards) = signed(&t, t.path());
    let docs = Docs::read(&sig, shards);
    // every member against its kept copy, and unrelated pairs
    let mut pairs = Vec::new();
    let mut want: HashMap<Pair, f64> = HashMap::new();
    for c in &clusters {
        let members = c["members"].as_array().expect("members");
        let kept = docs.of(&members[c["keep"].as_u64().expect("keep") as usize]);
        for m in members {
            let d = docs.of(m);
            if d != kept {
                let p = (kept.min(d), kept.max(d));
                pairs.push(p);
                want.insert(p, m["similarity"].as_f64().expect("similarity"));
            }
        }
    }
    let unrelated = ((0, 1), (shards - 1, 0));
    pairs.push(unrelated);
    write_pairs(&t.path().join("pairs.parquet"), &pairs);
    let edges = |extra: &[&str]| -> HashMap<Pair, f64> {
        let mut args = vec![
            "verify-pairs",
            "pairs.parquet",
            "--manifest",
            s(&manifest),
            "--sign",
            "sig",
            "-o",
            "edges.parquet",
        ];
        args.extend(extra);
        ok_in(t.path(), &with(&args));
        let e = neardup::shard::rows::Rows::read(&t.path().join("edges.parquet")).expect("edges");
        let c = ["a_shard", "a_ord", "b_shard", "b_ord"].map(|n| e.ints(n).expect("column"));
        let sim = e.doubles("similarity").expect("similarity");
        (0..sim.len())
            .map(|r| {
                let at = |i: usize| (c[i][r] as usize, c[i + 1][r] as usize);
                ((at(0), at(2)), sim[r])
            })
            .collect()
    };
    let all = edges(&["--similarity"]);
    assert_eq!(all.len(), pairs.len());
    for (p, sim) in &want {
        assert_eq!(all[p], *sim, "{p:?}");
    }
    assert!(all[&unrelated] < 0.5);
    let verified = edges(&[]);
    let mut above: Vec<_> = want
        .iter()
        .filter(|(_, &s)| s >= 0.8)
        .map(|(p, _)| *p)
        .collect();
    let mut got: Vec<_> = verified.keys().copied().collect();
    above.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, above);
}

#[test]
fn a_corrupt_shard_fails_sign_naming_file_and_line() {
    let t = TestDir::new();
    t.write("in/a.jsonl", jsonl(&[text(1, 300, &[])], "a"));
    t.write(
        "in/b.jsonl",
        format!("{}{{\"text\": oops\n", jsonl(&[text(2, 300, &[])], "b")),
    );
    ok_in(
        t.path(),
        &with(&["shards", "in", "--shard-bytes", "1", "-o", "m.json"]),
    );
    ok_in(
        t.path(),
        &with(&["sign", "--shard", "0", "m.json", "-o", "sig"]),
    );
    let o = run_in(
        t.path(),
        &with(&["sign", "--shard", "1", "m.json", "-o", "sig"]),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr_of(&o));
    assert!(stderr_of(&o).contains("b.jsonl:2"), "{}", stderr_of(&o));
    assert!(!t.path().join("sig/shard-00001/_SUCCESS").exists());
}

#[test]
fn stages_refuse_other_options_naming_them() {
    let t = TestDir::new();
    corpus(&t);
    let (manifest, _, _) = signed(&t, t.path());
    let o = run_in(
        t.path(),
        &with(&[
            "sign",
            "--shard",
            "0",
            s(&manifest),
            "-o",
            "sig",
            "--perms",
            "64",
        ]),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("--perms"), "{}", stderr_of(&o));
    // a sign folder of another manifest's parameters
    ok_in(
        t.path(),
        &with(&[
            "shards",
            "in",
            "--shard-bytes",
            "30K",
            "--seed",
            "7",
            "-o",
            "m7.json",
        ]),
    );
    write_pairs(&t.path().join("pairs.parquet"), &[((0, 0), (0, 1))]);
    let o = run_in(
        t.path(),
        &with(&[
            "verify-pairs",
            "pairs.parquet",
            "--manifest",
            "m7.json",
            "--sign",
            "sig",
            "-o",
            "e.parquet",
            "--seed",
            "7",
        ]),
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_of(&o).contains("other parameters"),
        "{}",
        stderr_of(&o)
    );
    // what the sharded path does not do yet
    let o = run_in(
        t.path(),
        &["shards", "in", "--level", "block", "-o", "x.json"],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_of(&o).contains("--level"), "{}", stderr_of(&o));
}

/// `section` with every `step`-th character changed.
fn edited(section: &str, step: usize) -> String {
    section
        .chars()
        .enumerate()
        .map(|(i, c)| if i % step == step - 1 { '某' } else { c })
        .collect()
}

/// Three shards of documents sharing sections (partial, edited copies of
/// 300–400 characters): across shards, between two documents of one
/// shard, and twice inside one document; no document is a copy of
/// another. Gives the texts of each shard.
fn block_corpus(t: &TestDir) -> Vec<Vec<String>> {
    // words and numbers among the characters: a word is one unit of the
    // block stage (not of the sketch)
    let s = |seed| {
        format!(
            "{} see www.example.com page {seed} of 2024 for more {}",
            crate::util::cjk_text(seed, 200),
            crate::util::cjk_text(seed + 50, 200)
        )
    };
    let (s1, s2, s3, s4) = (s(901), s(902), s(903), s(904));
    let filler = |seed| crate::util::cjk_text(seed, 500);
    let mut shards: Vec<Vec<String>> = (0..3u64)
        .map(|f| (0..8u64).map(|d| filler(1000 + 10 * f + d)).collect())
        .collect();
    shards[0][0] += &s1;
    shards[1][3] = edited(&s1, 17) + &shards[1][3];
    shards[0][5] = format!("{s2}{}{}", filler(77), edited(&s2, 23));
    shards[0][2] += &s3;
    let three_quarters: String = s3.chars().take(300).collect();
    shards[0][7] += &edited(&three_quarters, 19);
    shards[1][1] += &s4;
    shards[2][4] += &edited(&s4, 13);
    for (f, texts) in shards.iter().enumerate() {
        t.write(&format!("in/{f}.jsonl"), jsonl(texts, &format!("f{f}-")));
    }
    shards
}

/// The seeds of rare fingerprints, by the rule of `src/shard/mod.rs`,
/// computed from the shards' `fingerprints.parquet` (every document
/// active): `(a_shard, a_ord, a_pos, b_shard, b_ord, b_pos)`.
fn seeds_of(signed: &Path, shards: usize, max_occurrences: usize) -> Vec<[i64; 6]> {
    let (seeds, frequent) = fingerprint_groups(signed, shards, max_occurrences, &|_| true);
    assert!(frequent.is_empty(), "no frequent fingerprint here");
    seeds
}

/// The seeds of rare fingerprints and the rows `(hash, shard, ord, pos)`
/// of frequent ones among the `active` documents, by the rule of
/// `src/shard/mod.rs`, from the shards' `fingerprints.parquet`.
#[allow(clippy::type_complexity)]
fn fingerprint_groups(
    signed: &Path,
    shards: usize,
    max_occurrences: usize,
    active: &dyn Fn(Doc) -> bool,
) -> (Vec<[i64; 6]>, Vec<[i64; 4]>) {
    let mut by_hash: HashMap<i64, Vec<(i64, i64, i64)>> = HashMap::new();
    for n in 0..shards {
        let t = neardup::shard::rows::Rows::read(
            &neardup::shard::shard_dir(signed, n).join("fingerprints.parquet"),
        )
        .expect("fingerprints table");
        let (h, s, o, p) = (
            t.ints("hash").expect("hash"),
            t.ints("shard").expect("shard"),
            t.ints("ord").expect("ord"),
            t.ints("pos").expect("pos"),
        );
        for r in 0..h.len() {
            if active((s[r] as usize, o[r] as usize)) {
                by_hash.entry(h[r]).or_default().push((s[r], o[r], p[r]));
            }
        }
    }
    let (mut seeds, mut frequent) = (Vec::new(), Vec::new());
    for (h, mut occ) in by_hash {
        if occ.len() > max_occurrences {
            frequent.extend(occ.iter().map(|o| [h, o.0, o.1, o.2]));
            continue;
        }
        occ.sort_unstable();
        for (x, a) in occ.iter().enumerate() {
            for b in &occ[x + 1..] {
                if (a.0, a.1) == (b.0, b.1) && b.2 < a.2 + 8 {
                    continue;
                }
                seeds.push([a.0, a.1, a.2, b.0, b.1, b.2]);
            }
        }
    }
    seeds.sort_unstable();
    (seeds, frequent)
}

/// The seeds of the document pairs `block-pairs` chains, by the rule of
/// `src/shard/mod.rs`: all but those of a pair whose every seed lies
/// inside a run (`star-runs`' rows in `runs`) on both sides, from 8 units
/// before its first occurrence to 16 past its last.
fn outside_runs(seeds: &[[i64; 6]], runs: &Path) -> Vec<[i64; 6]> {
    let t = neardup::shard::rows::Rows::read_dir(runs).expect("runs");
    let col = |c: &str| t.ints(c).expect("column");
    let (shard, ord, run, pos) = (col("shard"), col("ord"), col("run"), col("pos"));
    let mut spans: HashMap<(i64, i64, i64), (i64, i64)> = HashMap::new();
    for r in 0..t.len() {
        let s = spans
            .entry((shard[r], ord[r], run[r]))
            .or_insert((pos[r], pos[r]));
        *s = (s.0.min(pos[r]), s.1.max(pos[r]));
    }
    let inside = |doc: (i64, i64), p: i64| {
        spans
            .iter()
            .any(|(k, s)| (k.0, k.1) == doc && s.0 - 8 <= p && p < s.1 + 16)
    };
    let mut by_pair: BTreeMap<[i64; 4], Vec<[i64; 6]>> = BTreeMap::new();
    for s in seeds {
        by_pair
            .entry([s[0], s[1], s[3], s[4]])
            .or_default()
            .push(*s);
    }
    let mut kept: Vec<[i64; 6]> = by_pair
        .into_values()
        .filter(|g| {
            !g.iter()
                .all(|s| inside((s[0], s[1]), s[2]) && inside((s[3], s[4]), s[5]))
        })
        .flatten()
        .collect();
    kept.sort_unstable();
    kept
}

/// Writes `seeds` into `dir` as an engine would: one part file a pair of
/// shards.
fn write_seeds(dir: &Path, seeds: &[[i64; 6]]) {
    use neardup::shard::rows::{Column, Rows};
    std::fs::create_dir_all(dir).expect("seeds folder");
    let mut parts: Vec<(i64, i64)> = seeds.iter().map(|s| (s[0], s[3])).collect();
    parts.sort_unstable();
    parts.dedup();
    for (i, part) in parts.iter().enumerate() {
        let rows: Vec<&[i64; 6]> = seeds.iter().filter(|s| (s[0], s[3]) == *part).collect();
        let c32 = |k: usize| Column::I32(rows.iter().map(|s| s[k] as i32).collect());
        let c64 = |k: usize| Column::I64(rows.iter().map(|s| s[k]).collect());
        Rows::new()
            .with("a_shard", c32(0))
            .with("a_ord", c64(1))
            .with("a_pos", c32(2))
            .with("b_shard", c32(3))
            .with("b_ord", c64(4))
            .with("b_pos", c32(5))
            .write(&dir.join(format!("part-{i:05}.parquet")))
            .expect("seeds written");
    }
}

/// Runs `block-pairs` on the seeds in `cwd/seeds` with options `opts`,
/// into `out`, and gives its output.
fn run_block_pairs(cwd: &Path, opts: &[&str], out: &str) -> Output {
    let mut a = vec![
        "block-pairs",
        "seeds",
        "--manifest",
        "m.json",
        "--sign",
        "sig",
        "-o",
        out,
    ];
    a.extend(opts);
    run_in(cwd, &a)
}

/// [`run_block_pairs`], which must succeed.
fn block_pairs(cwd: &Path, opts: &[&str], out: &str) {
    let o = run_block_pairs(cwd, opts, out);
    assert!(o.status.success(), "block-pairs: {}", stderr_of(&o));
}

/// A region pair: `(a_shard, a_ord, a_start, a_end, b_shard, b_ord,
/// b_start, b_end)` and its similarity.
type Region = ([i64; 8], f64);

/// The region pairs of a table (a file or a folder of part files).
fn regions_in(path: &Path) -> Vec<Region> {
    let table = neardup::shard::rows::Rows::read_any(path).expect("regions");
    let cols: Vec<Vec<i64>> = [
        "a_shard", "a_ord", "a_start", "a_end", "b_shard", "b_ord", "b_start", "b_end",
    ]
    .iter()
    .map(|c| table.ints(c).expect("column"))
    .collect();
    let sims = match table.column("similarity") {
        Some(neardup::shard::rows::Column::F64(v)) => v.clone(),
        other => panic!("similarity: {other:?}"),
    };
    (0..sims.len())
        .map(|r| (std::array::from_fn(|k| cols[k][r]), sims[r]))
        .collect()
}

#[test]
fn block_pairs_gives_the_region_pairs_of_one_machine() {
    let t = TestDir::new();
    let shards = block_corpus(&t);
    let files = ["in/0.jsonl", "in/1.jsonl", "in/2.jsonl"];
    let args = |extra: &[&'static str]| -> Vec<&'static str> {
        extra.iter().copied().chain(["--quiet"]).collect()
    };
    let mut a = args(&["shards", "--shard-bytes", "1", "-o", "m.json"]);
    a.extend(files);
    ok_in(t.path(), &a);
    assert_eq!(manifest_shards(&t.path().join("m.json")), 3);
    for n in ["0", "1", "2"] {
        ok_in(
            t.path(),
            &args(&["sign", "--shard", n, "m.json", "-o", "sig"]),
        );
    }
    let seeds = seeds_of(&t.path().join("sig"), 3, 64);
    write_seeds(&t.path().join("seeds"), &seeds);
    block_pairs(t.path(), &["--quiet"], "regions.parquet");
    let got = regions_in(&t.path().join("regions.parquet"));

    // one machine: the block stage's pairs over the same documents
    let norms: Vec<neardup::normalize::NormText> = shards
        .iter()
        .flatten()
        .map(|x| neardup::normalize::normalize(x, &Default::default()))
        .collect();
    let refs: Vec<&neardup::normalize::NormText> = norms.iter().collect();
    let pairs = neardup::blocks::find_pairs(&refs, &neardup::blocks::BlockOptions::default());
    let local = |d: u32| -> (i64, i64) { ((d / 8) as i64, (d % 8) as i64) };
    let want: Vec<Region> = pairs
        .iter()
        .map(|p| {
            let (a, b) = (local(p.a.doc), local(p.b.doc));
            let r = |x: usize| x as i64;
            (
                [
                    a.0,
                    a.1,
                    r(p.a.range.start),
                    r(p.a.range.end),
                    b.0,
                    b.1,
                    r(p.b.range.start),
                    r(p.b.range.end),
                ],
                p.similarity,
            )
        })
        .collect();
    assert_eq!(got, want);
    // the corpus's four sections: across shards, within a shard, inside a
    // document
    let docs: Vec<((i64, i64), (i64, i64))> = got
        .iter()
        .map(|(r, _)| ((r[0], r[1]), (r[4], r[5])))
        .collect();
    for pair in [
        ((0, 0), (1, 3)),
        ((0, 5), (0, 5)),
        ((0, 2), (0, 7)),
        ((1, 1), (2, 4)),
    ] {
        assert!(docs.contains(&pair), "{pair:?} in {docs:?}");
    }
}

/// The options of the block-level runs: a passage in 10 documents is
/// boilerplate, a fingerprint in more than 8 places frequent (the star
/// path).
const BLOCK_OPTS: [&str; 5] = [
    "--boilerplate-docs",
    "10",
    "--max-occurrences",
    "8",
    "--quiet",
];

fn block_opts<'a>(args: &[&'a str]) -> Vec<&'a str> {
    args.iter().copied().chain(BLOCK_OPTS).collect()
}

#[test]
fn planned_and_applied_shards_give_the_bytes_of_clean_at_every_level() {
    let t = TestDir::new();
    let mut shards = block_corpus(&t);
    // boilerplate: two passages (lines, one with a varying number) side
    // by side on 4 pages of every shard, each alone on 2 more (the star
    // path cuts the pairs of the first page, which holds both, where they
    // meet); whole-document copies: exact and edited, across shards
    let passage = crate::util::cjk_text(905, 60);
    let second = crate::util::cjk_text(906, 40);
    for (f, texts) in shards.iter_mut().enumerate() {
        for (d, text) in texts.iter_mut().enumerate() {
            let n = 10 * f + d;
            match d {
                0 | 2 | 4 | 6 => text.push_str(&format!("\n{passage}{n}\n{second}")),
                1 | 7 => text.push_str(&format!("\n{passage}{n}")),
                _ => text.push_str(&format!("\n{second}")),
            }
        }
    }
    shards[2][6] = shards[0][3].clone();
    shards[1][6] = edited(&shards[0][1], 97);
    // the middle shard compressed: its texts are read back from sign's copy
    for (f, texts) in shards.iter().enumerate() {
        let body = jsonl(texts, &format!("f{f}-"));
        match f {
            1 => t.write("in/1.jsonl.gz", gzip(body.as_bytes())),
            _ => t.write(&format!("in/{f}.jsonl"), body),
        };
    }
    std::fs::remove_file(t.path().join("in/1.jsonl")).expect("plain copy removed");
    // and a folder of GB18030 text files: a section of shard 1, the
    // boilerplate
    let gb = |s: &str| encoding_rs::GB18030.encode(s).0.into_owned();
    let s4: String = shards[1][1].chars().skip(500).collect();
    let pages = [
        format!("{}\n{}\n", crate::util::cjk_text(950, 300), edited(&s4, 29)),
        format!(
            "{}\n{passage}99\n{second}\n",
            crate::util::cjk_text(951, 300)
        ),
    ];
    for (k, p) in pages.iter().enumerate() {
        t.write(&format!("in/gb/{k}.txt"), gb(p));
    }
    let files_in = ["in/0.jsonl", "in/1.jsonl.gz", "in/2.jsonl", "in/gb"];
    let with_inputs = |args: &[&'static str]| {
        let mut a = block_opts(args);
        a.extend(files_in);
        a
    };
    ok_in(t.path(), &with_inputs(&["clean", "-o", "single"]));
    ok_in(
        t.path(),
        &with_inputs(&["shards", "--shard-bytes", "1", "-o", "m.json"]),
    );
    assert_eq!(manifest_shards(&t.path().join("m.json")), 5);
    for n in ["0", "1", "2", "3", "4"] {
        ok_in(
            t.path(),
            &block_opts(&["sign", "--shard", n, "m.json", "-o", "sig"]),
        );
    }
    let docs = Docs::read(&t.path().join("sig"), 5);

    // the document clusters (every member) and the removed documents
    let mut a = block_opts(&["scan", "--format", "json"]);
    a.extend(files_in);
    let o = ok_in(t.path(), &a);
    let v: Value = serde_json::from_slice(&o.stdout).expect("report");
    let doc_clusters: Vec<&Value> = v["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .filter(|c| c["kind"] == "document")
        .collect();
    assert_eq!(doc_clusters.len(), 2, "{doc_clusters:?}");
    let mut rows: Vec<(Doc, i64, f64)> = Vec::new();
    let mut removed: Vec<Doc> = Vec::new();
    for c in &doc_clusters {
        let keep = c["keep"].as_u64().expect("keep") as usize;
        for (i, m) in c["members"].as_array().expect("members").iter().enumerate() {
            let sim = m["similarity"].as_f64().expect("similarity");
            rows.push((docs.of(m), c["id"].as_i64().expect("id"), sim));
            if i != keep && sim >= 0.8 {
                removed.push(docs.of(m));
            }
        }
    }
    {
        use neardup::shard::rows::{Column, Rows};
        std::fs::create_dir_all(t.path().join("dc")).expect("mkdir");
        Rows::new()
            .with(
                "shard",
                Column::I32(rows.iter().map(|r| r.0 .0 as i32).collect()),
            )
            .with(
                "ord",
                Column::I64(rows.iter().map(|r| r.0 .1 as i64).collect()),
            )
            .with("cluster", Column::I64(rows.iter().map(|r| r.1).collect()))
            .with(
                "similarity",
                Column::F64(rows.iter().map(|r| r.2).collect()),
            )
            .write(&t.path().join("dc/part-0.parquet"))
            .expect("clusters written");
    }

    // seeds and frequent occurrences among the documents left
    let (seeds, frequent) =
        fingerprint_groups(&t.path().join("sig"), 5, 8, &|d| !removed.contains(&d));
    assert!(!frequent.is_empty(), "the star path runs");
    let (aligned, star) = star_path(t.path(), &frequent, 5);
    let kept = outside_runs(&seeds, &t.path().join("runs"));
    assert!(kept.len() < seeds.len(), "some seeds are the star path's");
    write_seeds(&t.path().join("seeds"), &kept);
    assert!(!star.is_empty(), "the star path gives region pairs");
    assert!(
        star.iter().any(|p| !aligned.contains(p)),
        "star-split cuts some pair: {star:?}"
    );
    std::fs::create_dir_all(t.path().join("regions")).expect("mkdir");
    block_pairs(t.path(), &BLOCK_OPTS, "regions/part-0.parquet");
    ok_in(
        t.path(),
        &block_opts(&[
            "plan",
            "m.json",
            "--sign",
            "sig",
            "--doc-clusters",
            "dc",
            "--regions",
            "regions",
            "--star",
            "star",
            "-o",
            "planned",
        ]),
    );
    for n in ["0", "1", "2", "3", "4"] {
        ok_in(
            t.path(),
            &block_opts(&[
                "apply", "--shard", n, "--plan", "planned", "m.json", "-o", "sharded",
            ]),
        );
    }
    ok_in(
        t.path(),
        &block_opts(&[
            "apply", "--finish", "--plan", "planned", "m.json", "-o", "sharded",
        ]),
    );
    let (one, _) = same_files(&t.path().join("single"), &t.path().join("sharded"));
    // what this corpus exercises: documents removed, blocks cut, the
    // boilerplate among them
    let log = String::from_utf8_lossy(&one[Path::new("removed.jsonl")]).into_owned();
    assert_eq!(log.matches("\"document\"").count(), 2, "{log}");
    // four sections and the boilerplate cut from at least 10 pages
    assert!(log.matches("\"block\"").count() >= 14, "{log}");
    assert!(
        log.contains("in/gb/0.txt") && log.contains("in/gb/1.txt"),
        "{log}"
    );
    succeeded(neardup().arg("verify").arg(t.path().join("sharded")));
}

/// A run of frequent occurrences: `(shard, ord, position of its first)`.
type Run = (i64, i64, i64);

/// Runs the star path's stages on the `frequent` occurrences `(hash,
/// shard, ord, pos)` as an engine does, a shard at a time, with the
/// engine's grouping (src/shard/star.rs) done here: `star-runs` a shard at
/// a time into `runs/`; each hash's first run and each run's parents by
/// vote; `star-pairs` a child shard at a time into `aligned/`; `star-split`
/// a parent shard at a time into `star/`. Gives the pairs `star-pairs`
/// and `star-split` wrote.
fn star_path(cwd: &Path, frequent: &[[i64; 4]], shards: i64) -> (Vec<Region>, Vec<Region>) {
    use neardup::shard::rows::{Column, Rows};
    use neardup::shard::star::{MAX_PARENTS, MIN_VOTES};
    let stage = |sub: &str, input: String, out: String| {
        ok_in(
            cwd,
            &block_opts(&[
                sub,
                &input,
                "--manifest",
                "m.json",
                "--sign",
                "sig",
                "-o",
                &out,
            ]),
        );
    };
    let c32 = |v: Vec<i64>| Column::I32(v.into_iter().map(|x| x as i32).collect());
    for dir in ["freq", "runs", "links", "aligned", "by-parent", "star"] {
        std::fs::create_dir_all(cwd.join(dir)).expect("mkdir");
    }
    for n in 0..shards {
        let rows: Vec<&[i64; 4]> = frequent.iter().filter(|r| r[1] == n).collect();
        let c = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<i64>>();
        Rows::new()
            .with("hash", Column::I64(c(0)))
            .with("shard", c32(c(1)))
            .with("ord", Column::I64(c(2)))
            .with("pos", c32(c(3)))
            .write(&cwd.join(format!("freq/part-{n}.parquet")))
            .expect("frequent written");
        stage(
            "star-runs",
            format!("freq/part-{n}.parquet"),
            format!("runs/part-{n}.parquet"),
        );
    }

    // each hash's first run; each run's votes for the first runs of its
    // hashes; its parents
    let t = Rows::read_dir(&cwd.join("runs")).expect("runs");
    let col = |c: &str| t.ints(c).expect("column");
    let (shard, ord, run, hash, pos) = (
        col("shard"),
        col("ord"),
        col("run"),
        col("hash"),
        col("pos"),
    );
    let key = |r: usize| (shard[r], ord[r], run[r]);
    let mut first: HashMap<i64, Run> = HashMap::new();
    let mut rows_of: HashMap<Run, Vec<(i64, i64)>> = HashMap::new();
    for r in 0..t.len() {
        let f = first.entry(hash[r]).or_insert(key(r));
        *f = (*f).min(key(r));
        rows_of.entry(key(r)).or_default().push((hash[r], pos[r]));
    }
    let mut votes: HashMap<(Run, Run), usize> = HashMap::new();
    for r in 0..t.len() {
        let f = first[&hash[r]];
        if f != key(r) {
            *votes.entry((key(r), f)).or_default() += 1;
        }
    }
    let mut parents: HashMap<Run, Vec<(usize, Run)>> = HashMap::new();
    for ((child, parent), n) in votes {
        if n >= MIN_VOTES as usize {
            parents.entry(child).or_default().push((n, parent));
        }
    }
    // a table of links a child shard: the child's rows, its parents'
    let mut links: HashMap<i64, Vec<[i64; 8]>> = HashMap::new();
    for (child, mut ps) in parents {
        ps.sort_by_key(|&(n, p)| (std::cmp::Reverse(n), p));
        ps.truncate(MAX_PARENTS);
        for r in std::iter::once(child).chain(ps.into_iter().map(|x| x.1)) {
            for &(h, p) in &rows_of[&r] {
                let row = [child.0, child.1, child.2, r.0, r.1, r.2, h, p];
                links.entry(child.0).or_default().push(row);
            }
        }
    }
    assert!(!links.is_empty(), "runs with parents");
    for (n, rows) in &links {
        let c = |k: usize| rows.iter().map(|r| r[k]).collect::<Vec<i64>>();
        let mut table = Rows::new();
        for (k, name) in [
            "c_shard", "c_ord", "c_run", "shard", "ord", "run", "hash", "pos",
        ]
        .iter()
        .enumerate()
        {
            table = table.with(name, Column::I64(c(k)));
        }
        table
            .write(&cwd.join(format!("links/part-{n}.parquet")))
            .expect("links written");
        stage(
            "star-pairs",
            format!("links/part-{n}.parquet"),
            format!("aligned/part-{n}.parquet"),
        );
    }

    // the aligned pairs by their parent's shard, then cut
    let t = Rows::read_dir(&cwd.join("aligned")).expect("aligned");
    let names = [
        "a_shard", "a_ord", "a_start", "a_end", "b_shard", "b_ord", "b_start", "b_end", "frequent",
    ];
    let cols: Vec<Vec<i64>> = names.iter().map(|c| t.ints(c).expect("column")).collect();
    let sims = t.doubles("similarity").expect("similarity");
    for n in 0..shards {
        let rows: Vec<usize> = (0..t.len()).filter(|&r| cols[0][r] == n).collect();
        if rows.is_empty() {
            continue;
        }
        let mut table = Rows::new();
        for (k, name) in names.iter().enumerate() {
            table = table.with(
                name,
                Column::I64(rows.iter().map(|&r| cols[k][r]).collect()),
            );
        }
        table
            .with(
                "similarity",
                Column::F64(rows.iter().map(|&r| sims[r]).collect()),
            )
            .write(&cwd.join(format!("by-parent/part-{n}.parquet")))
            .expect("aligned pairs written");
        stage(
            "star-split",
            format!("by-parent/part-{n}.parquet"),
            format!("star/part-{n}.parquet"),
        );
    }
    (
        regions_in(&cwd.join("aligned")),
        regions_in(&cwd.join("star")),
    )
}

/// [`block_corpus`] in three shards (`m.json`), each signed into `sig/`.
fn signed_block_corpus(t: &TestDir) {
    block_corpus(t);
    let mut a = vec!["shards", "--shard-bytes", "1", "-o", "m.json", "--quiet"];
    a.extend(["in/0.jsonl", "in/1.jsonl", "in/2.jsonl"]);
    ok_in(t.path(), &a);
    for n in ["0", "1", "2"] {
        ok_in(
            t.path(),
            &["sign", "--shard", n, "m.json", "-o", "sig", "--quiet"],
        );
    }
}

/// A seed whose gram lies past its text (in the block stage's units, which
/// the sketch's characters do not bound) is refused, naming the seed file
/// and the documents; the seeds of the same documents inside them are not.
#[test]
fn block_pairs_refuses_a_seed_past_its_text() {
    let t = TestDir::new();
    signed_block_corpus(&t);
    let seeds = seeds_of(&t.path().join("sig"), 3, 64);
    let first = seeds[0];
    let pair: Vec<[i64; 6]> = seeds
        .iter()
        .filter(|s| (s[0], s[1], s[3], s[4]) == (first[0], first[1], first[3], first[4]))
        .copied()
        .collect();
    assert!(pair.len() >= 2, "a document pair with a chain");
    write_seeds(&t.path().join("seeds"), &pair);
    block_pairs(t.path(), &["--quiet"], "good.parquet");
    let mut bad = pair.clone();
    bad[1][5] = 1_000_000;
    std::fs::remove_dir_all(t.path().join("seeds")).expect("seeds removed");
    write_seeds(&t.path().join("seeds"), &bad);
    let o = run_block_pairs(t.path(), &[], "bad.parquet");
    let doc = format!("1000000 of ({}, {})", first[3], first[4]);
    crate::util::assert_error(
        &o,
        "a seed past its text",
        &["seeds", &doc, "past its text"],
    );
    assert!(!t.path().join("bad.parquet").exists(), "no table written");
}

/// Runs the star stage `sub` on `table` of [`signed_block_corpus`]'s
/// folder `cwd`, writing `out.parquet`.
fn run_star_stage(cwd: &Path, sub: &str, table: &str) -> Output {
    run_in(
        cwd,
        &[
            sub,
            table,
            "--manifest",
            "m.json",
            "--sign",
            "sig",
            "-o",
            "out.parquet",
        ],
    )
}

/// The star path's stages refuse a row naming no document, and a child
/// run whose own rows are missing, naming the table and the row; they
/// write nothing.
#[test]
fn star_stages_refuse_rows_naming_no_document_or_run() {
    use neardup::shard::rows::{Column, Rows};
    let t = TestDir::new();
    signed_block_corpus(&t);
    let run = |sub: &str, table: &str| run_star_stage(t.path(), sub, table);
    // shard 1 holds 8 documents: (1, 8) is none
    Rows::new()
        .with("hash", Column::I64(vec![5, 5]))
        .with("shard", Column::I32(vec![1, 1]))
        .with("ord", Column::I64(vec![2, 8]))
        .with("pos", Column::I32(vec![0, 10]))
        .write(&t.path().join("occ.parquet"))
        .expect("occurrences written");
    let o = run("star-runs", "occ.parquet");
    crate::util::assert_error(
        &o,
        "an occurrence of no document",
        &["occ.parquet", "row 1", "no document (1, 8)"],
    );
    // a link to a parent without the child's own rows
    let c = |v: i64| Column::I64(vec![v, v]);
    Rows::new()
        .with("c_shard", c(1))
        .with("c_ord", c(2))
        .with("c_run", c(0))
        .with("shard", c(0))
        .with("ord", c(0))
        .with("run", c(0))
        .with("hash", Column::I64(vec![5, 6]))
        .with("pos", Column::I64(vec![0, 20]))
        .write(&t.path().join("links.parquet"))
        .expect("links written");
    let o = run("star-pairs", "links.parquet");
    crate::util::assert_error(
        &o,
        "a child without its rows",
        &[
            "links.parquet",
            "row 0",
            "run at 0 of (1, 2) has no rows of its own",
        ],
    );
    assert!(!t.path().join("out.parquet").exists(), "no table written");
}

/// The star path's stages refuse a position past its text (only a
/// tampered row holds one: in the block stage's units, which the sketch's
/// characters do not bound), naming the table, the row and the document;
/// they write nothing.
#[test]
fn star_stages_refuse_positions_past_their_text() {
    use neardup::shard::rows::{Column, Rows};
    let t = TestDir::new();
    signed_block_corpus(&t);
    let run = |sub: &str, table: &str| run_star_stage(t.path(), sub, table);
    let refused = |sub: &str, table: &str, needles: &[&str]| {
        let o = run(sub, table);
        crate::util::assert_error(&o, sub, needles);
        assert!(!t.path().join("out.parquet").exists(), "{sub}: no table");
    };
    // every document holds 500 characters or more: 1,000,000 is past all
    let far = 1_000_000;
    Rows::new()
        .with("hash", Column::I64(vec![5, 5]))
        .with("shard", Column::I32(vec![1, 1]))
        .with("ord", Column::I64(vec![2, 2]))
        .with("pos", Column::I32(vec![0, far as i32]))
        .write(&t.path().join("occ.parquet"))
        .expect("occurrences written");
    refused(
        "star-runs",
        "occ.parquet",
        &[
            "occ.parquet",
            "row 1",
            "pos 1000000 of (1, 2)",
            "past its text",
        ],
    );
    // a child run (1, 2) and its parent (0, 0), the child's occurrences
    // moved past its text, where they still chain (and a chain is
    // verified)
    let c = |v: [i64; 6]| Column::I64(v.to_vec());
    Rows::new()
        .with("c_shard", c([1; 6]))
        .with("c_ord", c([2; 6]))
        .with("c_run", c([far; 6]))
        .with("shard", c([1, 1, 1, 0, 0, 0]))
        .with("ord", c([2, 2, 2, 0, 0, 0]))
        .with("run", c([far, far, far, 0, 0, 0]))
        .with("hash", c([5, 6, 7, 5, 6, 7]))
        .with("pos", c([far, far + 10, far + 20, 0, 10, 20]))
        .write(&t.path().join("links.parquet"))
        .expect("links written");
    refused(
        "star-pairs",
        "links.parquet",
        &[
            "links.parquet",
            "row 0",
            "pos 1000000 of (1, 2)",
            "past its text",
        ],
    );
    // aligned pairs of parent (0, 0) meeting at 200, where the third is
    // cut (and its child side read); that side ends past its text
    let c = |v: [i64; 3]| Column::I64(v.to_vec());
    Rows::new()
        .with("a_shard", c([0; 3]))
        .with("a_ord", c([0; 3]))
        .with("a_start", c([0, 200, 0]))
        .with("a_end", c([200, 400, 400]))
        .with("b_shard", c([1; 3]))
        .with("b_ord", c([2; 3]))
        .with("b_start", c([0, 200, 5]))
        .with("b_end", c([200, 400, far]))
        .with("similarity", Column::F64(vec![1.0; 3]))
        .with("frequent", c([1; 3]))
        .write(&t.path().join("aligned.parquet"))
        .expect("aligned pairs written");
    refused(
        "star-split",
        "aligned.parquet",
        &[
            "aligned.parquet",
            "row 2",
            "5..1000000 of (1, 2)",
            "past its text",
        ],
    );
}

/// `plan` refuses a region pair whose side ends past its text (only a
/// tampered table holds one), naming the table, the row and the document,
/// and writes no plan.
#[test]
fn plan_refuses_a_region_past_its_text() {
    use neardup::shard::rows::{Column, Rows};
    let t = TestDir::new();
    signed_block_corpus(&t);
    let c = |v: [i64; 2]| Column::I64(v.to_vec());
    // no document clusters: every document is a block document
    Rows::new()
        .with("shard", Column::I32(Vec::new()))
        .with("ord", Column::I64(Vec::new()))
        .with("cluster", Column::I64(Vec::new()))
        .with("similarity", Column::F64(Vec::new()))
        .write(&t.path().join("dc.parquet"))
        .expect("clusters written");
    let regions = |b_end: i64| {
        Rows::new()
            .with("a_shard", c([0; 2]))
            .with("a_ord", c([0; 2]))
            .with("a_start", c([0, 200]))
            .with("a_end", c([200, 400]))
            .with("b_shard", c([1; 2]))
            .with("b_ord", c([2; 2]))
            .with("b_start", c([0, 200]))
            .with("b_end", c([200, b_end]))
            .with("similarity", Column::F64(vec![1.0; 2]))
            .with("frequent", c([0; 2]))
    };
    regions(1_000_000)
        .write(&t.path().join("regions.parquet"))
        .expect("regions written");
    regions(400)
        .write(&t.path().join("star.parquet"))
        .expect("star pairs written");
    let o = run_in(
        t.path(),
        &[
            "plan",
            "m.json",
            "--sign",
            "sig",
            "--doc-clusters",
            "dc.parquet",
            "--regions",
            "regions.parquet",
            "--star",
            "star.parquet",
            "-o",
            "planned",
        ],
    );
    crate::util::assert_error(
        &o,
        "a region past its text",
        &[
            "regions.parquet",
            "row 1",
            "200..1000000 of (1, 2)",
            "past its text",
        ],
    );
    assert!(!t.path().join("planned/_SUCCESS").exists(), "no plan");
}
