//! Helpers: a temporary folder, a handle on the binary, the ways a test
//! runs it, and the one check of a refused run.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use serde_json::Value;

/// The repository's `fixtures/` folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// The seed corpus.
pub fn seeds() -> PathBuf {
    fixtures().join("seeds")
}

/// The `neardup` binary with `--quiet` semantics left to the caller.
pub fn neardup() -> Command {
    Command::cargo_bin("neardup").expect("binary builds")
}

/// A temporary folder that lives as long as the value.
pub struct TestDir {
    pub dir: tempfile::TempDir,
}

impl TestDir {
    pub fn new() -> TestDir {
        TestDir {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `body` at `rel` (parents created) and returns the full path.
    pub fn write(&self, rel: &str, body: impl AsRef<[u8]>) -> PathBuf {
        let p = self.dir.path().join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, body).expect("write");
        p
    }

    /// Copies the seed corpus into `rel` and returns that folder.
    pub fn copy_seeds(&self, rel: &str) -> PathBuf {
        let to = self.dir.path().join(rel);
        std::fs::create_dir_all(&to).expect("mkdir");
        for e in std::fs::read_dir(seeds()).expect("seeds") {
            let e = e.expect("entry");
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
        to
    }
}

/// Runs `cmd`, asserting it succeeded (its stderr in the failure), and
/// returns its output.
pub fn succeeded(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `neardup scan ARGS --format json`, asserting success, and returns
/// the report's bytes.
pub fn scan_json_bytes(args: &[&str]) -> Vec<u8> {
    let out = neardup()
        .arg("scan")
        .args(args)
        .args(["--format", "json", "--quiet"])
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `neardup scan ARGS --format json` and parses the report.
pub fn scan_json(args: &[&str]) -> Value {
    serde_json::from_slice(&scan_json_bytes(args)).expect("valid JSON report")
}

/// Clusters of one kind from a JSON report.
pub fn clusters<'a>(report: &'a Value, kind: &str) -> Vec<&'a Value> {
    report["clusters"]
        .as_array()
        .expect("clusters")
        .iter()
        .filter(|c| c["kind"] == kind)
        .collect()
}

/// A deterministic pseudo-random CJK text of `n` characters.
pub fn cjk_text(seed: u64, n: usize) -> String {
    let mut s = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = String::new();
    for i in 0..n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        let c = char::from_u32(0x4e00 + (s % 3000) as u32).unwrap_or('一');
        out.push(c);
        if i % 37 == 36 {
            out.push('。');
        }
    }
    out
}

/// A long text (600 characters), different for every seed.
pub fn text(seed: u64) -> String {
    cjk_text(seed, 600)
}

/// The file name of a report member's path.
pub fn file_of(m: &Value) -> String {
    let p = m["path"].as_str().expect("path");
    p.rsplit('/').next().unwrap_or(p).to_string()
}

/// The path as the binary prints it (temporary folders are UTF-8).
pub fn s(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}

/// Runs `neardup SUB INPUTS EXTRA` (with `-o OUT` for `clean`), never for
/// long: a run that hangs fails the test instead of stalling the suite.
pub fn run(sub: &str, inputs: &[&Path], extra: &[&str], out: &Path) -> Output {
    let mut cmd = neardup();
    cmd.arg(sub).args(inputs).args(extra);
    if sub == "clean" {
        cmd.arg("-o").arg(out);
    }
    cmd.timeout(Duration::from_secs(60)).output().expect("runs")
}

/// `data` gzip-compressed.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// `data` zstd-compressed.
pub fn zstd(data: &[u8]) -> Vec<u8> {
    ruzstd::encoding::compress_to_vec(data, ruzstd::encoding::CompressionLevel::Fastest)
}

/// A refused run (`what` names it in failures): exit code 2, no panic, and
/// one line on stderr, `neardup: error: …`, holding every needle.
pub fn assert_error(o: &Output, what: &str, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{what}: {stderr}");
    assert!(!stderr.contains("panicked"), "{what}: panic: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{what}: one line: {stderr}"
    );
    assert!(stderr.starts_with("neardup: error: "), "{what}: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{what}: expected {n:?} in: {stderr}");
    }
}

/// Both `scan` and `clean` refuse `inputs` ([`assert_error`]): no report
/// on standard output, and `clean` writes nothing.
pub fn assert_input_refused(inputs: &[&Path], extra: &[&str], needles: &[&str]) {
    for sub in ["scan", "clean"] {
        let t = TestDir::new();
        let out = t.path().join("out");
        let o = run(sub, inputs, extra, &out);
        assert_error(&o, sub, needles);
        assert!(o.stdout.is_empty(), "{sub}: no report on error");
        assert!(!out.exists(), "{sub}: nothing written");
    }
}

/// Asserts a failed run: exit code, message fragment, no panic.
pub fn assert_fails(cmd: &mut Command, code: i32, needle: &str) {
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
}

/// `neardup verify OUT EXTRA` passes: exit code 0 and one line on
/// standard output, `verified …`.
pub fn assert_verifies(out: &Path, extra: &[&str]) {
    let o = neardup()
        .arg("verify")
        .arg(out)
        .args(extra)
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{extra:?}: {}", stderr_of(&o));
    assert_eq!(stdout.lines().count(), 1, "{extra:?}: {stdout}");
    assert!(stdout.starts_with("verified "), "{extra:?}: {stdout}");
}

/// Runs `neardup clean --quiet INPUT -o OUT`, asserting success.
pub fn clean_ok(input: &Path, out: &Path) {
    clean_ok_with(input, out, &[]);
}

/// Runs `neardup clean --quiet INPUT EXTRA -o OUT`, asserting success.
pub fn clean_ok_with(input: &Path, out: &Path, extra: &[&str]) {
    neardup()
        .args(["clean", "--quiet"])
        .arg(input)
        .args(extra)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}

/// Documents with every kind of repeat: near-duplicate documents, a
/// section copied into other documents (edited in some), a passage
/// repeated inside one document, and a footer on 120 pages (boilerplate:
/// the frequent-passage path): JSONL lines, each with its line break.
pub fn mixed_lines() -> Vec<String> {
    let footer = cjk_text(9000, 120);
    let mut lines = Vec::new();
    for i in 0..240u64 {
        let mut text = match i % 8 {
            // an edited copy of document i - 7
            7 => {
                let mut c: Vec<char> = cjk_text(i - 7, 600).chars().collect();
                c[(i as usize * 13) % 500] = '某';
                c.into_iter().collect()
            }
            // a section of document i - 3 inside new text, every other
            // one with an edit
            3 | 5 => {
                let mut section: Vec<char> = cjk_text(i - 3, 600).chars().collect();
                if i % 2 == 1 {
                    section[100] = '某';
                }
                let section: String = section[50..450].iter().collect();
                format!(
                    "{}\n{}\n{}",
                    cjk_text(i, 300),
                    section,
                    cjk_text(i + 5000, 300)
                )
            }
            // a passage twice in one document
            6 => {
                let p = cjk_text(i + 7000, 350);
                format!("{p}\n{}\n{p}", cjk_text(i, 300))
            }
            _ => cjk_text(i, 600),
        };
        if i % 2 == 0 {
            text.push('\n');
            text.push_str(&footer);
        }
        lines.push(format!(
            "{}\n",
            serde_json::json!({"id": format!("d{i}"), "text": text})
        ));
    }
    lines
}

/// The lines of a JSON-lines file (a removal log), parsed.
pub fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("readable")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// What a run wrote to stderr.
pub fn stderr_of(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every file below `dir` by relative path, with its bytes.
pub fn files(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("below").to_path_buf();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}
