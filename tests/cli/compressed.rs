//! Compressed input: the same corpus plain, gzip and zstd gives the same
//! reports and cleaned outputs, each input is decompressed once into the
//! work folder, and that folder goes away when the run ends (kept after an
//! error only when the user named it).

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::util::{
    assert_error, assert_fails, cjk_text, clusters, gzip, neardup, s, zstd, TestDir,
};

/// A compression and the suffix it adds.
#[derive(Clone, Copy)]
enum Comp {
    Plain,
    Gzip,
    Zstd,
}

const ALL: [Comp; 3] = [Comp::Plain, Comp::Gzip, Comp::Zstd];

impl Comp {
    fn suffix(self) -> &'static str {
        match self {
            Comp::Plain => "",
            Comp::Gzip => ".gz",
            Comp::Zstd => ".zst",
        }
    }

    fn pack(self, data: &[u8]) -> Vec<u8> {
        match self {
            Comp::Plain => data.to_vec(),
            Comp::Gzip => gzip(data),
            Comp::Zstd => zstd(data),
        }
    }

    /// Decompressed with decoders other than neardup's own.
    fn unpack(self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Comp::Plain => out.extend_from_slice(data),
            Comp::Gzip => {
                // one gzip member per 1 MB chunk
                flate2::read::MultiGzDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Comp::Zstd => {
                ruzstd::decoding::StreamingDecoder::new(data)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
            }
        }
        out
    }
}

/// A JSONL file and a text file with duplicate documents and a block
/// repeated across records and files.
fn corpus() -> (String, String) {
    let (a, b, c, d) = (
        cjk_text(1, 600),
        cjk_text(2, 400),
        cjk_text(3, 600),
        cjk_text(4, 600),
    );
    let mut edited: Vec<char> = format!("{a}\n{b}").chars().collect();
    edited[300] = '變';
    let edited: String = edited.into_iter().collect();
    let records = [
        json!({"id": "r1", "text": format!("{a}\n{b}")}),
        json!({"id": "r2", "meta": {"k": 1}, "text": format!("{c}\n{b}")}),
        json!({"id": "r3", "text": edited}),
        json!({"id": "r4", "text": d}),
        json!({"id": "r5", "text": format!("{d}。")}),
    ];
    let mut jsonl: String = records.iter().map(|r| format!("{r}\n")).collect();
    jsonl.insert(jsonl.find("\n{\"id\":\"r4\"").unwrap() + 1, '\n');
    let text = format!("{}\n{b}\n", cjk_text(5, 300));
    (jsonl, text)
}

/// The corpus written with compression `c` under `dir`: its two inputs.
fn write(t: &TestDir, dir: &str, c: Comp) -> Vec<PathBuf> {
    let (jsonl, text) = corpus();
    vec![
        t.write(
            &format!("{dir}/data.jsonl{}", c.suffix()),
            c.pack(jsonl.as_bytes()),
        ),
        t.write(
            &format!("{dir}/notes.txt{}", c.suffix()),
            c.pack(text.as_bytes()),
        ),
    ]
}

/// Output with the names of the inputs made the same for every compression.
fn unsuffixed(out: &[u8], dir: &str, c: Comp) -> String {
    String::from_utf8_lossy(out)
        .replace(&format!(".jsonl{}", c.suffix()), ".jsonl")
        .replace(&format!(".txt{}", c.suffix()), ".txt")
        .replace(&format!("/{dir}/"), "/DIR/")
}

fn no_work_folders(tmp: &Path) -> Vec<String> {
    std::fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("neardup-work"))
        .collect()
}

#[test]
fn scan_reports_are_the_same_plain_gzip_and_zstd() {
    let t = TestDir::new();
    let tmp = t.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    for (level, extra) in [
        ("doc", "--diffs"),
        ("block", "--exit-code"),
        ("all", "--diffs"),
    ] {
        let mut reports = Vec::new();
        for (i, c) in ALL.into_iter().enumerate() {
            let dir = format!("{level}{i}");
            let inputs = write(&t, &dir, c);
            let out = neardup()
                .arg("scan")
                .args(&inputs)
                .args(["--level", level, "--format", "json", "--quiet", extra])
                .env("TMPDIR", &tmp)
                .output()
                .unwrap();
            assert!(
                out.status.code().unwrap() < 2,
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            reports.push(unsuffixed(&out.stdout, &dir, c));
        }
        let report: serde_json::Value = serde_json::from_str(&reports[0]).unwrap();
        let kinds = |kind: &str| clusters(&report, kind).len();
        // r1/r3 and r4/r5 are duplicate documents (blocks too, at level
        // block); b repeats in r2 and notes
        let want = match level {
            "doc" => (2, 0),
            "block" => (0, 2),
            _ => (2, 1),
        };
        assert_eq!(
            (kinds("document"), kinds("block")),
            want,
            "{level}: {report:#}"
        );
        assert_eq!(reports[0], reports[1], "{level}: plain vs gzip");
        assert_eq!(reports[0], reports[2], "{level}: plain vs zstd");
        assert_eq!(no_work_folders(&tmp), Vec::<String>::new(), "{level}");
    }
}

#[test]
fn clean_outputs_are_the_same_plain_gzip_and_zstd() {
    let t = TestDir::new();
    for (level, memory) in [("doc", "1G"), ("all", "1G"), ("all", "1K")] {
        let mut outputs = Vec::new();
        let mut plain_peak = None;
        for (i, c) in ALL.into_iter().enumerate() {
            let dir = format!("{level}{memory}{i}");
            let inputs = write(&t, &dir, c);
            let out = t.path().join(format!("out-{dir}"));
            let run = neardup()
                .arg("clean")
                .args(&inputs)
                .args(["--level", level, "--memory", memory, "-o"])
                .arg(&out)
                .output()
                .unwrap();
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
            // every compressed input is decompressed once, into the work
            // folder (on top of what the plain run spilled there)
            let (jsonl, text) = corpus();
            let copies = match c {
                Comp::Plain => 0,
                _ => jsonl.len() + text.len(),
            };
            let stderr = String::from_utf8_lossy(&run.stderr);
            let peak: usize = stderr
                .split("work folder peak ")
                .nth(1)
                .and_then(|r| r.split(' ').next()?.parse().ok())
                .unwrap_or_else(|| panic!("{stderr}"));
            let spilled = *plain_peak.get_or_insert(peak);
            assert_eq!(peak, spilled + copies, "{level} {memory}: {stderr}");
            assert_eq!(spilled > 0, memory == "1K", "{stderr}");
            let mut files: Vec<(String, String)> = Vec::new();
            for e in std::fs::read_dir(&out).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                if name == "neardup-manifest.json" {
                    continue;
                }
                let body = std::fs::read(out.join(&name)).unwrap();
                let body = if name == "removed.jsonl" {
                    body
                } else {
                    c.unpack(&body)
                };
                files.push((
                    unsuffixed(name.as_bytes(), &dir, c),
                    unsuffixed(&body, &dir, c),
                ));
            }
            files.sort();
            outputs.push(files);
        }
        let names: Vec<&str> = outputs[0].iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["data.jsonl", "notes.txt", "removed.jsonl"],
            "{level}"
        );
        let removed = &outputs[0][2].1;
        assert_eq!(removed.matches("\"document\"").count(), 2, "{removed}");
        assert_eq!(removed.contains("\"block\""), level == "all", "{removed}");
        assert_eq!(outputs[0], outputs[1], "{level}: plain vs gzip");
        assert_eq!(outputs[0], outputs[2], "{level}: plain vs zstd");
    }
}

#[test]
fn the_work_folder_goes_after_success_and_after_failure() {
    let t = TestDir::new();
    let tmp = t.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let inputs = write(&t, "in", Comp::Gzip);
    let (jsonl, _) = corpus();
    let gz = Comp::Gzip.pack(jsonl.as_bytes());
    let cut = t.write("bad/cut.jsonl.gz", &gz[..gz.len() / 2]);
    for level in ["doc", "all"] {
        neardup()
            .arg("scan")
            .args(&inputs)
            .args(["--quiet", "--level", level])
            .env("TMPDIR", &tmp)
            .assert()
            .success();
        assert_eq!(no_work_folders(&tmp), Vec::<String>::new());
        let o = neardup()
            .arg("scan")
            .args(&inputs)
            .arg(&cut)
            .args(["--quiet", "--level", level])
            .env("TMPDIR", &tmp)
            .output()
            .unwrap();
        let what = format!("scan --level {level}, cut gzip");
        assert_error(&o, &what, &[s(&cut), "cannot decompress gzip"]);
        assert_eq!(no_work_folders(&tmp), Vec::<String>::new());
    }
    // clean: OUT/.neardup-work, and OUT itself when the run made it
    let out = t.path().join("out");
    let o = neardup()
        .arg("clean")
        .args(&inputs)
        .arg(&cut)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert_error(&o, "clean, cut gzip", &[s(&cut), "cannot decompress gzip"]);
    assert!(!out.exists(), "nothing left");
    neardup()
        .arg("clean")
        .args(&inputs)
        .arg("-o")
        .arg(&out)
        .arg("--quiet")
        .assert()
        .success();
    assert!(!out.join(".neardup-work").exists());
    assert!(out.join("data.jsonl.gz").is_file());
}

#[test]
fn a_named_work_folder_is_used_and_kept_after_an_error() {
    let t = TestDir::new();
    let inputs = write(&t, "in", Comp::Zstd);
    let (jsonl, text) = corpus();
    let work = t.path().join("work");
    // clean refuses the non-empty output only after reading the inputs
    let out = t.path().join("out");
    t.write("out/mine.txt", "mine");
    let o = neardup()
        .arg("clean")
        .args(&inputs)
        .arg("-o")
        .arg(&out)
        .arg("--work")
        .arg(&work)
        .output()
        .unwrap();
    assert_error(&o, "non-empty output", &[s(&out), "not empty"]);
    // beside the stage files (`stages/`, what `--resume` reuses)
    let mut kept: Vec<Vec<u8>> = std::fs::read_dir(&work)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    kept.sort();
    let mut want = vec![jsonl.into_bytes(), text.into_bytes()];
    want.sort();
    assert_eq!(kept, want, "the decompressed copies");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);

    // on success the run's files go, and the folder if the run made it;
    // what else was in it stays
    let fresh = t.path().join("fresh/work");
    let other = t.write("busy/other.txt", "other");
    let busy = t.path().join("busy");
    for (dir, left) in [(&fresh, None), (&work, None), (&busy, Some(&other))] {
        neardup()
            .arg("scan")
            .args(&inputs)
            .args(["--quiet", "--level", "doc", "--work"])
            .arg(dir)
            .assert()
            .success();
        match left {
            Some(f) => assert_eq!(std::fs::read_dir(dir).unwrap().count(), 1, "{f:?}"),
            None if dir == &work => {
                // a run without --resume clears the earlier run's files
                assert_eq!(std::fs::read_dir(dir).unwrap().count(), 0);
            }
            None => assert!(!t.path().join("fresh").exists()),
        }
    }
}

#[test]
fn memory_takes_sizes_and_refuses_nonsense() {
    let t = TestDir::new();
    let inputs = write(&t, "in", Comp::Plain);
    for ok in ["512M", "2G", "1.5GiB"] {
        neardup()
            .arg("scan")
            .args(&inputs)
            .args(["--quiet", "--memory", ok])
            .assert()
            .success();
    }
    // refused by the option parser: its message is not one line
    assert_fails(
        neardup()
            .arg("scan")
            .args(&inputs)
            .args(["--memory", "lots"]),
        2,
        r#"--memory: "lots""#,
    );
}

/// The file names of a `clean` output folder and their bodies, each
/// decompressed as its name says (by other decoders than neardup's).
fn outputs(out: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "neardup-manifest.json")
        .map(|name| {
            let body = std::fs::read(out.join(&name)).unwrap();
            let c = match () {
                _ if name.ends_with(".gz") => Comp::Gzip,
                _ if name.ends_with(".zst") => Comp::Zstd,
                _ => Comp::Plain,
            };
            (name, c.unpack(&body))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn output_compression_sets_each_outputs_format_and_name_and_verify_passes() {
    let t = TestDir::new();
    let mut plain_bodies = None;
    for (i, input) in ALL.into_iter().enumerate() {
        let inputs = write(&t, &format!("in{i}"), input);
        for (how, suffix) in [
            ("same", input.suffix()),
            ("none", ""),
            ("gzip", ".gz"),
            ("zstd", ".zst"),
        ] {
            let out = t.path().join(format!("out{i}-{how}"));
            neardup()
                .arg("clean")
                .args(&inputs)
                .args(["--quiet", "--output-compression", how, "-o"])
                .arg(&out)
                .assert()
                .success();
            let files = outputs(&out);
            let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
            let (data, notes) = (format!("data.jsonl{suffix}"), format!("notes.txt{suffix}"));
            assert_eq!(names, [&data, &notes, "removed.jsonl"], "{how}");
            // what is written is the same whatever the compression (the
            // log names the inputs, which differ)
            let bodies: Vec<Vec<u8>> = files[..2].iter().map(|(_, b)| b.clone()).collect();
            assert_ne!(bodies[0], corpus().0.into_bytes(), "something was removed");
            assert_eq!(plain_bodies.get_or_insert(bodies.clone()), &bodies, "{how}");
            let o = neardup().arg("verify").arg(&out).output().unwrap();
            assert!(
                o.status.success(),
                "{how}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    // a compressed output cut short fails verification, naming it
    for (how, name) in [("gzip", "data.jsonl.gz"), ("zstd", "data.jsonl.zst")] {
        let out = t.path().join(format!("out0-{how}"));
        let file = out.join(name);
        let body = std::fs::read(&file).unwrap();
        std::fs::write(&file, &body[..body.len() - 9]).unwrap();
        let o = neardup().arg("verify").arg(&out).output().unwrap();
        assert_error(&o, how, &[name]);
    }
}

#[test]
fn output_compression_refuses_two_inputs_written_to_one_name() {
    let t = TestDir::new();
    let (jsonl, _) = corpus();
    let plain = t.write("in/data.jsonl", jsonl.as_bytes());
    let gz = t.write("in2/data.jsonl.gz", Comp::Gzip.pack(jsonl.as_bytes()));
    let out = t.path().join("out");
    let o = neardup()
        .arg("clean")
        .arg(&plain)
        .arg(&gz)
        .args(["--output-compression", "none", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    assert_error(&o, "one name", &["would both be written here"]);
    assert!(!out.join("data.jsonl").exists());
}
