//! The sharded document level (`shards`, `sign`, `verify-pairs`,
//! `apply`): fed what an engine would compute by the definition in
//! `src/shard/mod.rs`, here taken from a single-machine scan report, the
//! stages give the very bytes of `neardup clean --level doc`.

use std::collections::HashMap;
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
    let (one, sharded) = (
        files(&t.path().join("single")),
        files(&t.path().join("sharded")),
    );
    assert_eq!(
        one.keys().collect::<Vec<_>>(),
        sharded.keys().collect::<Vec<_>>()
    );
    for (k, v) in &one {
        assert!(sharded[k] == *v, "{} differs", k.display());
    }
    succeeded(neardup().arg("verify").arg(t.path().join("sharded")));
    // finishing again changes nothing
    ok_in(
        &elsewhere,
        &with(&["apply", "--finish", s(&manifest), "-o", "../sharded"]),
    );
    assert!(files(&t.path().join("sharded")) == sharded);
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
