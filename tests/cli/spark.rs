//! The Spark driver (`contrib/spark/neardup_spark.py`) in local mode
//! against single-machine `neardup clean` at the default level: a corpus of
//! about 2,000 documents in shards of different kinds (a `.jsonl.gz`, a
//! folder of GB18030 text files, a file of several JSONL documents, a file
//! with no duplicates, the seed fixtures), with duplicate documents inside
//! one shard and across shards, exact and edited, one group large enough
//! for the giant-bucket guard, edited copies of sections inside longer
//! documents (inside one shard and across shards) and a passage repeated in
//! enough documents for the frequent (boilerplate) path. The cleaned output
//! must be the same bytes, the removal log the same lines, and `neardup
//! verify` must pass on it; `--level doc` too, on part of the corpus. A
//! corrupt shard must stop the driver with a message naming the shard. The
//! driver's own unit test of the definition (candidates, components) runs
//! here too.
//!
//! Needs Java 17 and a Python with pyspark, named by `NEARDUP_SPARK_PYTHON`
//! (`.ci/run` makes one). Without it the tests say so loudly and pass,
//! except in CI (`CI` set), where they fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::{
    cjk_text, files, gzip, json_lines, neardup, s, seeds, stderr_of, succeeded, TestDir,
};

/// One Spark run at a time: each is a JVM on a 2-core machine.
static SPARK: Mutex<()> = Mutex::new(());

/// [`spark_python`], and the lock that keeps one Spark session at a time.
fn spark_session() -> Option<(PathBuf, std::sync::MutexGuard<'static, ()>)> {
    let python = spark_python()?;
    Some((python, SPARK.lock().unwrap_or_else(|e| e.into_inner())))
}

/// The Python that has pyspark, or `None` (after saying so) when the
/// tests are to be skipped.
fn spark_python() -> Option<PathBuf> {
    match std::env::var_os("NEARDUP_SPARK_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("NEARDUP_SPARK_PYTHON is not set in CI: .ci/run installs pyspark and sets it")
        }
        None => {
            eprintln!(
                "\n*** SKIPPED: the Spark driver tests need NEARDUP_SPARK_PYTHON \
                 (a Python with pyspark; Java 17): see .ci/run ***\n"
            );
            None
        }
    }
}

fn driver_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/spark")
}

/// Runs the driver with `args` after the binary and master.
fn driver(python: &Path, args: &[&str]) -> Output {
    let bin = assert_cmd::cargo::cargo_bin("neardup");
    let start = Instant::now();
    let out = assert_cmd::Command::new(python)
        .arg(driver_dir().join("neardup_spark.py"))
        .args(["--master", "local[2]", "--neardup", s(&bin)])
        .args(args)
        .timeout(Duration::from_secs(900))
        .output()
        .expect("driver runs");
    eprintln!(
        "driver took {:.1} s\n{}",
        start.elapsed().as_secs_f64(),
        stderr_of(&out)
    );
    out
}

/// `text` with `edits` characters replaced, at places set by `seed`.
fn edited(text: &str, seed: u64, edits: usize) -> String {
    let mut c: Vec<char> = text.chars().collect();
    for e in 0..edits {
        let i = (seed as usize * 31 + e * 97 + 11) % c.len();
        c[i] = if c[i] == '某' { '甲' } else { '某' };
    }
    c.into_iter().collect()
}

fn jsonl(id: String, text: &str) -> String {
    format!("{}\n", json!({"id": id, "text": text}))
}

/// Original documents that the others copy.
fn original(k: u64) -> String {
    cjk_text(10_000 + k, 240 + (k as usize % 7) * 20)
}

/// A document of the GB18030 folder that nothing else in it copies.
fn gb_unique(j: u64) -> String {
    cjk_text(20_000 + j, 1_000)
}

/// The group that fills band buckets past the giant-bucket guard: one
/// text, each copy with its own single edit.
fn giant(i: u64) -> String {
    edited(&cjk_text(777, 400), i, 1)
}

/// A section that longer documents copy, with edits, at the block level.
fn section(k: u64) -> String {
    cjk_text(50_000 + k, 320)
}

/// The passage in [`BOILER_DOCS`] documents: more than
/// [`MAX_OCCURRENCES`] occurrences of each of its fingerprints, so the
/// frequent (star) path runs.
fn passage() -> String {
    cjk_text(60_000, 220)
}

/// Flags of both runs at the default level: the frequent path on a small
/// corpus.
const BOILER_FLAGS: [&str; 4] = ["--boilerplate-docs", "10", "--max-occurrences", "8"];
const BOILER_DOCS: u64 = 14;
const MAX_OCCURRENCES: u64 = 8;

/// The corpus: its inputs in argument order.
struct Corpus {
    dir: TestDir,
    inputs: Vec<PathBuf>,
}

fn corpus() -> Corpus {
    let dir = TestDir::new();
    // a .jsonl.gz: originals, exact and edited copies of its own documents,
    // and 30 copies of the giant group
    let mut a = String::new();
    for i in 0..600u64 {
        let text = match i % 20 {
            5 => original(i - 5),
            9 => edited(&original(i - 9), i, 3),
            _ => original(i),
        };
        a.push_str(&jsonl(format!("a{i}"), &text));
    }
    for i in 600..630u64 {
        a.push_str(&jsonl(format!("a-giant{i}"), &giant(i)));
    }
    // block level: edited copies of c.jsonl's sections (across shards),
    // and half of the documents holding the passage
    for k in 0..8u64 {
        let text =
            cjk_text(54_000 + k, 200) + &edited(&section(k), k + 1, 4) + &cjk_text(55_000 + k, 250);
        a.push_str(&jsonl(format!("a-blk{k}"), &text));
    }
    for i in 0..BOILER_DOCS / 2 {
        a.push_str(&jsonl(
            format!("a-boiler{i}"),
            &(cjk_text(61_000 + i, 300) + &passage()),
        ));
    }
    let a_path = dir.write("in/a.jsonl.gz", gzip(a.as_bytes()));
    // a folder of GB18030 text files: exact and edited copies of the
    // .jsonl.gz documents, and unique ones
    for j in 0..150u64 {
        let text = match j % 3 {
            0 => gb_unique(j),
            1 => original(j * 4 + 1),
            _ => edited(&original(j * 4), j, 4),
        };
        let (bytes, _, bad) = encoding_rs::GB18030.encode(&text);
        assert!(!bad);
        dir.write(&format!("in/gb/{j:03}.txt"), bytes);
    }
    // several JSONL documents: copies of the other shards' documents and
    // of its own, empty texts, the giant group's other 40 copies, and an
    // edited copy of a seed fixture
    let mut c = String::new();
    for i in 0..650u64 {
        let text = if i % 15 == 0 {
            edited(&original(i), i, 2)
        } else if i % 15 == 7 {
            edited(&original(i - 7), i - 7, 2)
        } else if i % 25 == 3 {
            edited(&gb_unique((i / 25 * 3) % 150), i, 3)
        } else {
            cjk_text(30_000 + i, 280)
        };
        c.push_str(&jsonl(format!("c{i}"), &text));
    }
    for i in 650..690u64 {
        c.push_str(&jsonl(format!("c-giant{i}"), &giant(i)));
    }
    // block level: the sections, edited copies of some inside this shard,
    // and the other half of the documents holding the passage
    for k in 0..8u64 {
        let text = cjk_text(51_000 + k, 300) + &section(k) + &cjk_text(52_000 + k, 200);
        c.push_str(&jsonl(format!("c-blk{k}"), &text));
    }
    for k in 0..4u64 {
        let text = cjk_text(53_000 + k, 250) + &edited(&section(k), k, 3);
        c.push_str(&jsonl(format!("c-blkin{k}"), &text));
    }
    for i in BOILER_DOCS / 2..BOILER_DOCS {
        c.push_str(&jsonl(
            format!("c-boiler{i}"),
            &(passage() + &cjk_text(61_000 + i, 300)),
        ));
    }
    c.push_str(&jsonl("c-empty".into(), ""));
    c.push_str(&jsonl("c-blank".into(), " \n "));
    let seed = std::fs::read_to_string(seeds().join("002_213c1cc202ead32c.txt")).expect("seed");
    c.push_str(&jsonl("c-seed".into(), &edited(&seed, 5, 10)));
    let c_path = dir.write("in/c.jsonl", &c);
    // no duplicates at all; at least as large as c.jsonl, so that shards
    // of its size close after c.jsonl (plus less than the first GB18030
    // file) and after it
    let mut d = String::new();
    for i in 0.. {
        if d.len() >= c.len() {
            break;
        }
        d.push_str(&jsonl(format!("d{i}"), &cjk_text(40_000 + i, 280)));
    }
    let d_path = dir.write("in/d.jsonl", d);
    Corpus {
        // in this order, with --shard-bytes the largest file's size (d.jsonl),
        // each of the first four inputs is a shard of its own
        inputs: vec![a_path, c_path, dir.path().join("in/gb"), d_path, seeds()],
        dir,
    }
}

#[test]
fn the_driver_gives_what_single_machine_clean_gives() {
    let Some((python, _one)) = spark_session() else {
        return;
    };
    let c = corpus();
    let inputs: Vec<&str> = c.inputs.iter().map(|p| s(p)).collect();
    let single = c.dir.path().join("single");
    succeeded(
        neardup()
            .args(["clean", "--quiet"])
            .args(BOILER_FLAGS)
            .args(&inputs)
            .arg("-o")
            .arg(&single),
    );
    // shards of about the size of the largest input file: each kind of
    // input lands in its own shard (a file is never split)
    let shard_bytes = ["in/a.jsonl.gz", "in/c.jsonl", "in/d.jsonl"]
        .iter()
        .map(|f| {
            std::fs::metadata(c.dir.path().join(f))
                .expect("input")
                .len()
        })
        .max()
        .expect("sizes");
    let spark = c.dir.path().join("spark");
    let work = c.dir.path().join("work");
    let shard_bytes = shard_bytes.to_string();
    let mut args = vec!["--input"];
    args.extend(&inputs);
    args.extend([
        "--work",
        s(&work),
        "--output",
        s(&spark),
        "--shard-bytes",
        &shard_bytes,
        "--partitions",
        "3",
    ]);
    args.extend(BOILER_FLAGS);
    let out = driver(&python, &args);
    let first_err = stderr_of(&out);
    assert!(out.status.success(), "driver failed: {first_err}");

    let manifest: Value = serde_json::from_slice(
        &std::fs::read(work.join("shards/manifest.json")).expect("shard manifest"),
    )
    .expect("JSON");
    let shards = manifest["shards"].as_array().expect("shards");
    let kinds: Vec<Vec<&str>> = shards
        .iter()
        .map(|s| {
            let mut k: Vec<&str> = s["files"]
                .as_array()
                .expect("files")
                .iter()
                .map(|f| {
                    let p = f["path"].as_str().unwrap_or_default();
                    ["a.jsonl.gz", "/gb/", "c.jsonl", "d.jsonl", "/seeds/"]
                        .into_iter()
                        .find(|k| p.contains(k))
                        .unwrap_or(p)
                })
                .collect();
            k.dedup();
            k
        })
        .collect();
    assert!(kinds.len() >= 4, "{kinds:?}");
    for one in ["a.jsonl.gz", "c.jsonl", "/gb/", "d.jsonl"] {
        assert!(
            kinds.iter().any(|k| k == &[one]),
            "{one} is a shard of its own: {kinds:?}"
        );
    }

    let want = same_output(&single, &spark);

    // as if stopped while writing the output: --resume skips the stages
    // before it and gives the same output again
    for marker in ["apply/_SUCCESS", "finish/_SUCCESS"] {
        std::fs::remove_file(work.join(marker)).expect("marker");
    }
    args.push("--resume");
    let again = driver(&python, &args);
    let err = stderr_of(&again);
    assert!(again.status.success(), "resumed driver failed: {err}");
    // every stage before apply (shards … star-split, plan) is skipped
    let skipped: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("stage ") && l.contains("done earlier"))
        .collect();
    assert_eq!(skipped.len(), 13, "{err}");
    assert!(
        err.lines()
            .any(|l| l.starts_with("stage apply") && !l.contains("done earlier")),
        "{err}"
    );
    assert!(files(&spark) == want, "the same output after --resume");

    // the corpus holds what it is meant to: removals inside one input and
    // across inputs, exact and edited, and the giant group; blocks too,
    // inside one input and across, and the passage (kept once)
    let all = json_lines(&single.join("removed.jsonl"));
    let (log, blocks): (Vec<Value>, Vec<Value>) =
        all.into_iter().partition(|r| r["reason"] == "document");
    let file_of = |v: &Value| v["path"].as_str().unwrap_or_default().to_string();
    let across_inside = |log: &[Value]| {
        let across = log
            .iter()
            .filter(|r| file_of(&r["kept"]) != file_of(&r["removed"]))
            .count();
        (across, log.len() - across)
    };
    let (across, inside) = across_inside(&log);
    assert!(
        across > 50 && inside > 50,
        "{across} across, {inside} inside"
    );
    let doc_of = |r: &Value| r["removed"]["doc"].as_str().unwrap_or_default().to_string();
    let (across, inside) = across_inside(&blocks);
    assert!(
        across >= 8 && inside >= 4,
        "blocks: {across} across, {inside} inside"
    );
    let boiler = blocks
        .iter()
        .filter(|r| doc_of(r).contains("boiler"))
        .count() as u64;
    assert_eq!(
        boiler,
        BOILER_DOCS - 1,
        "the passage is kept once: {blocks:?}"
    );
    // the passage's fingerprints took the frequent path on Spark
    let count = |stage: &str, what: &str| -> u64 {
        let line = first_err
            .lines()
            .find(|l| l.starts_with(&format!("stage {stage} ")))
            .unwrap_or_default();
        line.split(", ")
            .find_map(|f| f.split_once(&format!("{what} ")).map(|x| x.1))
            .map(|n| n.replace(',', "").parse().expect("a count"))
            .unwrap_or_default()
    };
    let frequent = count("groups", "frequent rows");
    assert!(frequent > MAX_OCCURRENCES, "frequent rows: {first_err}");
    // and its stages: runs of every copy, each aligned to its first
    // copy's run, the pairs cut and planned
    assert!(
        count("star-pairs", "runs with parents") >= BOILER_DOCS - 1,
        "{first_err}"
    );
    assert!(count("star-split", "region pairs") > 0, "{first_err}");
    let giant_removed = log
        .iter()
        .filter(|r| {
            r["removed"]["doc"]
                .as_str()
                .is_some_and(|id| id.contains("giant"))
        })
        .count();
    assert_eq!(giant_removed, 69, "all but one copy of the giant group");
    assert!(
        !log.iter().chain(&blocks).any(|r| r["removed"]["doc"]
            .as_str()
            .is_some_and(|i| i.starts_with('d'))),
        "the input without duplicates lost nothing"
    );
}

/// Asserts that `spark` holds the files of `single`, byte for byte
/// (cleaned inputs, removal log, manifest), and that `neardup verify`
/// passes on it; gives the files.
fn same_output(single: &Path, spark: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let (want, got) = (files(single), files(spark));
    assert!(
        got.keys().eq(want.keys()),
        "the same output files: {:?} from spark, {:?} from one machine",
        got.keys(),
        want.keys()
    );
    for ((name, w), g) in want.iter().zip(got.values()) {
        if w != g {
            let show = |b: &[u8]| String::from_utf8_lossy(&b[..b.len().min(3000)]).into_owned();
            panic!(
                "{} differs\nsingle machine:\n{}\nspark:\n{}",
                name.display(),
                show(w),
                show(g)
            );
        }
    }
    succeeded(neardup().arg("verify").arg(spark));
    want
}

#[test]
fn at_level_doc_the_driver_gives_what_clean_level_doc_gives() {
    let Some((python, _one)) = spark_session() else {
        return;
    };
    let c = corpus();
    // the .jsonl.gz and the GB18030 folder, a shard each: copies inside
    // one and across both
    let inputs = [s(&c.inputs[0]), s(&c.inputs[2])];
    let single = c.dir.path().join("single");
    // and the output's compression, a shard's option: the .jsonl.gz
    // input gives a .jsonl
    succeeded(
        neardup()
            .args([
                "clean",
                "--quiet",
                "--level",
                "doc",
                "--output-compression",
                "none",
            ])
            .args(inputs)
            .arg("-o")
            .arg(&single),
    );
    let bytes = std::fs::metadata(&c.inputs[0])
        .expect("input")
        .len()
        .to_string();
    let spark = c.dir.path().join("spark");
    let work = c.dir.path().join("work");
    let mut args = vec!["--input"];
    args.extend(inputs);
    args.extend([
        "--work",
        s(&work),
        "--output",
        s(&spark),
        "--shard-bytes",
        &bytes,
        "--level",
        "doc",
        "--output-compression",
        "none",
    ]);
    let out = driver(&python, &args);
    assert!(out.status.success(), "driver failed: {}", stderr_of(&out));
    let err = stderr_of(&out);
    assert!(
        !err.contains("stage plan"),
        "no block stage at --level doc: {err}"
    );
    let written = same_output(&single, &spark);
    assert!(
        written
            .keys()
            .any(|name| name.to_string_lossy().ends_with("a.jsonl")),
        "{:?}",
        written.keys()
    );
    let log = json_lines(&single.join("removed.jsonl"));
    assert!(log.iter().all(|r| r["reason"] == "document"), "{log:?}");
    let across = log
        .iter()
        .filter(|r| r["kept"]["path"] != r["removed"]["path"])
        .count();
    assert!(
        across > 10 && log.len() - across > 10,
        "{across} of {}",
        log.len()
    );
}

#[test]
fn a_corrupt_shard_stops_the_driver_naming_it() {
    let Some((python, _one)) = spark_session() else {
        return;
    };
    let t = TestDir::new();
    let good: String = (0..40u64)
        .map(|i| jsonl(format!("g{i}"), &cjk_text(i, 200)))
        .collect();
    let a = t.write("a.jsonl", &good);
    let mut bad = good.replace("\"g", "\"b");
    bad.push_str("{\"id\": \"broken\", \"text\": \"没有结束\n");
    let b = t.write("b.jsonl", bad);
    let work = t.path().join("work");
    let out = t.path().join("out");
    let size = std::fs::metadata(&a).expect("a").len().to_string();
    let o = driver(
        &python,
        &[
            "--input",
            s(&a),
            s(&b),
            "--work",
            s(&work),
            "--output",
            s(&out),
            "--shard-bytes",
            &size,
        ],
    );
    let err = stderr_of(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.starts_with("neardup_spark: error: ")
            && last.contains("shard 1")
            && last.contains("b.jsonl"),
        "the last line names the shard and its file: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.join("removed.jsonl").exists(), "nothing finished");
}

#[test]
fn the_definition_in_spark_matches_its_plain_reading() {
    let Some((python, _one)) = spark_session() else {
        return;
    };
    let o = assert_cmd::Command::new(&python)
        .args(["-W", "ignore", "-m", "unittest", "-v", "test_neardup_spark"])
        .current_dir(driver_dir())
        .timeout(Duration::from_secs(600))
        .output()
        .expect("python runs");
    assert!(o.status.success(), "{}", stderr_of(&o));
}

#[test]
fn options_the_spark_path_lacks_are_refused_before_it_starts() {
    let Some(python) = spark_python() else {
        return;
    };
    let t = TestDir::new();
    let a = t.write("a.jsonl", jsonl("x".into(), &cjk_text(1, 100)));
    let (work, out) = (t.path().join("work"), t.path().join("out"));
    for (extra, needle) in [
        (["--level", "block"], "--level block"),
        (["--reference", s(&a)], "--reference"),
        (["--method", "simhash"], "--method simhash"),
    ] {
        let mut args = vec!["--input", s(&a), "--work", s(&work), "--output", s(&out)];
        args.extend(extra);
        let o = driver(&python, &args);
        let err = stderr_of(&o);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.starts_with("neardup_spark: error: ") && err.contains(needle),
            "{needle}: {err}"
        );
        assert!(!out.exists() && !work.exists(), "nothing written");
    }
}
