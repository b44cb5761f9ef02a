//! Helpers: a temporary folder and a handle on the binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

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

/// Runs `neardup scan ARGS --format json` and parses the report.
pub fn scan_json(args: &[&str]) -> Value {
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
    serde_json::from_slice(&out.stdout).expect("valid JSON report")
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

/// Asserts a failed run: exit code, message fragment, no panic.
pub fn assert_fails(cmd: &mut Command, code: i32, needle: &str) {
    let out = cmd.output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in: {stderr}");
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
}

/// Runs `neardup clean --quiet INPUT -o OUT`, asserting success.
pub fn clean_ok(input: &Path, out: &Path) {
    neardup()
        .args(["clean", "--quiet"])
        .arg(input)
        .arg("-o")
        .arg(out)
        .assert()
        .success();
}
