//! Corpora as they really come (issue 16): stray binary files, overlapping
//! arguments, dumps with the same shard names, JSONL with other field names
//! or nested fields, and many bad records under `--on-error skip`.

use std::path::Path;

use serde_json::{json, Value};

use crate::util::{
    assert_error, assert_input_refused, cjk_text, clusters, neardup, run, s, scan_json, stderr_of,
    TestDir,
};

/// A PNG header: NUL bytes within its first 8 KiB.
fn png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00\x00\x01\x00".to_vec();
    png.extend(std::iter::repeat_n(0u8, 64));
    png
}

fn verify_ok(out: &Path) {
    let o = neardup().arg("verify").arg(out).output().expect("runs");
    assert!(
        o.status.success(),
        "verify: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn binary_file_in_a_walked_folder_is_skipped_and_counted() {
    let t = TestDir::new();
    let text = cjk_text(1, 600);
    t.write("corpus/a.txt", &text);
    t.write("corpus/b.txt", &text);
    let img = t.write("corpus/img/logo.png", png());
    // a gzip file holds NUL bytes too, and is read as text
    t.write(
        "corpus/c.txt.gz",
        crate::util::gzip(cjk_text(2, 600).as_bytes()),
    );
    let root = t.path().join("corpus");

    let report = scan_json(&[s(&root)]);
    assert_eq!(report["summary"]["binary_skipped"], 1, "{report:#}");
    assert_eq!(report["summary"]["documents"], 3);
    assert_eq!(clusters(&report, "document").len(), 1);

    let o = run("scan", &[&root], &[], Path::new(""));
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 binary files skipped"),
        "text summary"
    );

    // clean leaves it out, and verify reads the inputs the same way
    let out = t.path().join("out");
    let o = run("clean", &[&root], &["--quiet"], &out);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(!out.join("img/logo.png").exists());
    verify_ok(&out);

    // named on the command line it is still an error
    assert_input_refused(&[&root.join("a.txt"), &img], &[], &[s(&img), "binary"]);
}

#[test]
fn overlapping_inputs_are_read_once_and_verify_passes() {
    let t = TestDir::new();
    let a = cjk_text(3, 600);
    t.write("corpus/a.txt", &a);
    t.write("corpus/zh/a-copy.txt", &a);
    t.write("corpus/zh/b.txt", cjk_text(4, 600));
    let root = t.path().join("corpus");
    let zh = root.join("zh");

    let report = scan_json(&[s(&root), s(&zh)]);
    assert_eq!(report["summary"]["documents"], 3, "{report:#}");
    assert_eq!(report["summary"]["duplicate_documents"], 1);
    let docs = clusters(&report, "document");
    assert_eq!(docs.len(), 1);
    // no file is its own duplicate
    let paths: Vec<&str> = docs[0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m["path"].as_str().expect("path"))
        .collect();
    assert_eq!(paths.len(), 2);
    assert_ne!(paths[0], paths[1]);

    let out = t.path().join("out");
    let o = run("clean", &[&root, &zh], &[], &out);
    assert!(o.status.success(), "{}", stderr_of(&o));
    assert!(
        stderr_of(&o).contains("2 files reached again through overlapping inputs were read once"),
        "{}",
        stderr_of(&o)
    );
    assert!(stderr_of(&o).contains("removed 1 documents"));
    assert!(out.join("a.txt").exists());
    assert!(out.join("zh/b.txt").exists());
    assert!(!out.join("zh/a-copy.txt").exists());
    assert!(
        !out.join("b.txt").exists(),
        "written once, under its first root"
    );
    verify_ok(&out);
}

#[test]
fn dumps_with_the_same_shard_names_are_cleaned_into_one_output() {
    let t = TestDir::new();
    let (x, y) = (cjk_text(5, 600), cjk_text(6, 600));
    let rec = |id: &str, text: &str| json!({"id": id, "text": text}).to_string() + "\n";
    t.write("dumpA/shard-00000.jsonl", rec("a1", &x));
    t.write("dumpB/shard-00000.jsonl", rec("b1", &y) + &rec("b2", &x));
    let (da, db) = (t.path().join("dumpA"), t.path().join("dumpB"));
    let out = t.path().join("out");
    let o = run("clean", &[&da, &db], &["--quiet"], &out);
    assert!(o.status.success(), "{}", stderr_of(&o));
    // the cross-dump duplicate is removed, each dump mirrored under its name
    let a = std::fs::read_to_string(out.join("dumpA/shard-00000.jsonl")).expect("dumpA");
    let b = std::fs::read_to_string(out.join("dumpB/shard-00000.jsonl")).expect("dumpB");
    assert_eq!(a, rec("a1", &x));
    assert_eq!(b, rec("b1", &y));
    verify_ok(&out);

    // two folders of the same name still collide, and the hint says what works
    t.write("one/dump/s.txt", cjk_text(7, 300));
    t.write("two/dump/s.txt", cjk_text(8, 300));
    let out2 = t.path().join("out2");
    let o = run(
        "clean",
        &[&t.path().join("one/dump"), &t.path().join("two/dump")],
        &["--quiet"],
        &out2,
    );
    assert_error(&o, "clean", &["would both be written", "named differently"]);
    assert!(!out2.exists());
}

#[test]
fn jsonl_without_the_text_field_names_its_fields_and_the_flags() {
    let t = TestDir::new();
    let text = cjk_text(9, 300);
    let p = t.write(
        "crawl.jsonl",
        json!({"url": "https://example.com", "content": text, "doc_id": 7}).to_string() + "\n",
    );
    assert_input_refused(
        &[&p],
        &[],
        &[
            &format!("{}:1", s(&p)),
            "no string field `text`",
            "fields: url, content, doc_id",
            "try --text-field content --id-field doc_id",
        ],
    );
    // and the suggested flags work
    let report = scan_json(&[s(&p), "--text-field", "content", "--id-field", "doc_id"]);
    assert_eq!(report["summary"]["documents"], 1);
}

#[test]
fn dotted_paths_reach_nested_fields() {
    let t = TestDir::new();
    let (x, y) = (cjk_text(10, 600), cjk_text(11, 600));
    let rec = |id: &str, text: &str| {
        json!({"meta": {"source": "web"}, "data": {"id": id, "text": text}}).to_string() + "\n"
    };
    let p = t.write("n.jsonl", rec("r1", &x) + &rec("r2", &y) + &rec("r3", &x));
    let args = [s(&p), "--text-field", "data.text", "--id-field", "data.id"];
    let report = scan_json(&args);
    assert_eq!(report["summary"]["documents"], 3, "{report:#}");
    let docs = clusters(&report, "document");
    assert_eq!(docs.len(), 1);
    let ids: Vec<&Value> = docs[0]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| &m["doc"])
        .collect();
    assert_eq!(ids, [&json!("r1"), &json!("r3")]);

    // clean writes the records back untouched, minus the duplicate
    let out = t.path().join("out");
    let mut extra = args[1..].to_vec();
    extra.push("--quiet");
    let o = run("clean", &[&p], &extra, &out);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let cleaned = std::fs::read_to_string(out.join("n.jsonl")).expect("out");
    assert_eq!(cleaned, rec("r1", &x) + &rec("r2", &y));
    verify_ok(&out);

    // a path that leads nowhere is the missing-field error
    assert_input_refused(
        &[&p],
        &["--text-field", "data.body"],
        &["no string field `data.body`", "fields: meta, data"],
    );
}

#[test]
fn a_block_cut_in_a_nested_text_field_stays_at_its_path() {
    let t = TestDir::new();
    // two records share a long section; the second copy is cut
    let shared = cjk_text(30, 900);
    let rec =
        |id: &str, text: &str| json!({"data": {"id": id, "text": text}, "n": 1}).to_string() + "\n";
    let (a, b) = (cjk_text(31, 700), cjk_text(32, 700));
    let texts = [format!("{a}\n{shared}\n"), format!("{b}\n{shared}\n")];
    let p = t.write("n.jsonl", rec("r1", &texts[0]) + &rec("r2", &texts[1]));
    let out = t.path().join("out");
    let extra = [
        "--text-field",
        "data.text",
        "--id-field",
        "data.id",
        "--quiet",
    ];
    let o = run("clean", &[&p], &extra, &out);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let cleaned = std::fs::read_to_string(out.join("n.jsonl")).expect("out");
    let lines: Vec<Value> = cleaned
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(lines.len(), 2, "{cleaned}");
    assert_eq!(
        lines[0],
        json!({"data": {"id": "r1", "text": texts[0]}, "n": 1})
    );
    // the copy went from the nested field, and no new field appeared
    assert_eq!(
        lines[1],
        json!({"data": {"id": "r2", "text": format!("{b}\n")}, "n": 1})
    );
    verify_ok(&out);
}

#[test]
fn many_bad_records_give_one_warning_per_kind_with_examples() {
    let t = TestDir::new();
    let mut body = String::new();
    for _ in 0..50 {
        body.push_str("{not json\n");
    }
    for i in 0..5 {
        body.push_str(&(json!({"body": format!("x{i}")}).to_string() + "\n"));
    }
    body.push_str(&(json!({"text": cjk_text(12, 300)}).to_string() + "\n"));
    let p = t.write("bad.jsonl", body);
    let o = run(
        "scan",
        &[&p],
        &["--on-error", "skip", "--format", "json"],
        Path::new(""),
    );
    let err = stderr_of(&o);
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("panicked"));
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    // a count line and three examples per kind
    assert_eq!(warnings.len(), 8, "{err}");
    assert!(err.contains("skipped 50 inputs or records (malformed JSONL record)"));
    assert!(err.contains("skipped 5 inputs or records (record without the text field)"));
    assert!(
        err.contains(&format!("{}:1:", s(&p))),
        "first example: {err}"
    );
    assert!(!err.contains(&format!("{}:4:", s(&p))), "no fourth: {err}");
    // the report still counts every one
    let report: Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(report["summary"]["skipped"], 55);
    assert_eq!(report["summary"]["documents"], 1);
}

#[test]
fn report_format_follows_the_output_extension_or_refuses_a_mismatch() {
    let t = TestDir::new();
    let text = cjk_text(13, 600);
    let a = t.write("c/a.txt", &text);
    let b = t.write("c/b.txt", &text);
    let written = |name: &str, extra: &[&str]| {
        let to = t.path().join(name);
        let o = neardup()
            .arg("scan")
            .args([&a, &b])
            .args(extra)
            .arg("-o")
            .arg(&to)
            .output()
            .expect("runs");
        assert!(o.status.success(), "{name}: {}", stderr_of(&o));
        std::fs::read_to_string(&to).expect("report")
    };
    let json = written("rep.json", &[]);
    let parsed: Value = serde_json::from_str(&json).expect("rep.json is JSON");
    assert_eq!(parsed["summary"]["duplicate_documents"], 1);
    assert!(written("rep.HTML", &[]).starts_with("<!DOCTYPE html"));
    assert!(written("rep.htm", &[]).starts_with("<!DOCTYPE html"));
    assert!(written("rep.txt", &[]).contains("document cluster 1"));
    // no telling extension: text, or what --format says
    assert!(written("rep.out", &[]).contains("document cluster 1"));
    assert!(serde_json::from_str::<Value>(&written("rep.out", &["--format", "json"])).is_ok());
    assert!(serde_json::from_str::<Value>(&written("rep.json", &["--format", "json"])).is_ok());

    let to = t.path().join("bad.json");
    let o = neardup()
        .arg("scan")
        .args([&a, &b])
        .args(["--format", "text", "-o"])
        .arg(&to)
        .output()
        .expect("runs");
    assert_error(&o, "scan", &["--format text", "bad.json", "json"]);
    assert!(!to.exists());
}

#[test]
fn keep_by_a_field_keeps_the_newest_or_best_copy_and_says_why() {
    let t = TestDir::new();
    let text = cjk_text(14, 600);
    let recs = [
        json!({"id": "old", "text": text, "date": "2021-01-01", "meta": {"score": 9}}),
        json!({"id": "undated", "text": format!("{text}。"), "meta": {"score": 10.5}}),
        json!({"id": "new", "text": text, "date": "2024-03-01", "meta": {"score": 2}}),
        json!({"id": "new-long", "text": format!("{text}。。"), "date": "2024-03-01"}),
    ];
    let body: String = recs.iter().map(|r| r.to_string() + "\n").collect();
    let p = t.write("k.jsonl", &body);
    let kept = |extra: &[&str]| {
        let mut args = vec![s(&p)];
        args.extend_from_slice(extra);
        let report = scan_json(&args);
        let docs = clusters(&report, "document");
        assert_eq!(docs.len(), 1, "{report:#}");
        let c = docs[0];
        let k = c["keep"].as_u64().expect("keep") as usize;
        (
            c["members"][k]["doc"].as_str().expect("doc").to_string(),
            c["keep_reason"].as_str().expect("reason").to_string(),
        )
    };
    // input order by default, and the report says so
    assert_eq!(kept(&[]), ("old".into(), "first".into()));
    assert_eq!(
        kept(&["--keep", "longest"]),
        ("new-long".into(), "longest".into())
    );
    // the newest date; its tie goes to --keep; the undated copy never wins
    assert_eq!(
        kept(&["--keep-by", "date"]),
        ("new".into(), "max date, then first".into())
    );
    assert_eq!(
        kept(&["--keep-by", "date", "--keep", "longest"]),
        ("new-long".into(), "max date, then longest".into())
    );
    assert_eq!(
        kept(&["--keep-by", "date:min"]),
        ("old".into(), "min date".into())
    );
    // numbers compare as numbers (10.5 > 9 > 2), nested fields by dotted path
    assert_eq!(
        kept(&["--keep-by", "meta.score", "--level", "doc"]),
        ("undated".into(), "max meta.score".into())
    );
    assert_eq!(
        kept(&["--keep-by", "meta.score", "--keep-order", "min"]),
        ("new".into(), "min meta.score".into())
    );

    // the text report names the reason on the kept line
    let o = run("scan", &[&p], &["--keep-by", "date"], Path::new(""));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let keep_line = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("keep"))
        .expect("keep line");
    assert!(
        keep_line.contains("[new]") && keep_line.contains("kept: max date"),
        "{stdout}"
    );

    // clean keeps that copy, and verify accepts it
    let out = t.path().join("out");
    let o = run("clean", &[&p], &["--keep-by", "date", "--quiet"], &out);
    assert!(o.status.success(), "{}", stderr_of(&o));
    let cleaned = std::fs::read_to_string(out.join("k.jsonl")).expect("out");
    assert_eq!(cleaned, recs[2].to_string() + "\n");
    verify_ok(&out);

    // a contradiction is refused
    let o = run(
        "scan",
        &[&p],
        &["--keep-by", "date:min", "--keep-order", "max"],
        Path::new(""),
    );
    assert_error(&o, "scan", &["--keep-by", "contradicts"]);
}

/// Natural text in each legacy encoding (detection needs real language,
/// not random characters), written as that encoding's bytes.
const LEGACY: [(&str, &str, &str); 4] = [
    (
        "Big5",
        "big5",
        "這是一個繁體中文的測試文件，我們用它來檢查編碼偵測是否正確。台灣的天氣很好，人們喜歡在公園裡散步，也喜歡喝茶聊天。夜市裡有各種小吃，例如蚵仔煎、滷肉飯和珍珠奶茶，觀光客常常排隊購買。學生們每天早上搭公車上學，放學後去圖書館讀書或者參加社團活動。山上的空氣新鮮，週末許多家庭開車去郊外露營，晚上一起看星星。老師說明天會有一場考試，大家都在認真複習數學和歷史的課本內容。",
    ),
    (
        "Shift_JIS",
        "shift-jis",
        "これは日本語のテスト文書です。エンコーディングの検出が正しく動作するかどうかを確認します。東京の天気はとても良いです。駅の近くに新しいパン屋が開店して、朝から多くの人が並んでいました。週末には友達と一緒に山へ行き、きれいな川の水で冷たいお茶を作りました。図書館で借りた小説はとても面白くて、夜遅くまで読み続けてしまいました。来月の旅行では京都の古いお寺を訪ねて、庭園の写真をたくさん撮る予定です。",
    ),
    (
        "EUC-KR",
        "euc-kr",
        "이것은 한국어 테스트 문서입니다. 인코딩 감지가 올바르게 작동하는지 확인합니다. 서울의 날씨는 매우 좋습니다. 시장에는 신선한 과일과 채소가 많아서 아침마다 사람들이 붐빕니다. 주말에는 친구들과 함께 산에 올라가서 도시락을 먹고 사진을 찍었습니다. 도서관에서 빌린 소설이 너무 재미있어서 밤늦게까지 읽었습니다. 다음 달 여행에서는 부산의 바닷가를 걷고 해산물 요리를 맛볼 계획입니다.",
    ),
    (
        "windows-1252",
        "cp1252",
        "The café on the corner serves crème brûlée and piña colada; naïve visitors say “déjà vu” and it’s très chic. Our fiancée ordered a soufflé, the garçon brought it flambé, and the maître d’ smiled at the façade. Later that evening the jalapeño pâté arrived with a rosé from the château — a coup de grâce. Señor Müller read his résumé aloud at the soirée, while the protégé played a naïve étude on the piano. ",
    ),
];

fn legacy_bytes(label: &str, text: &str) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(label.as_bytes()).expect("known encoding");
    let (bytes, _, unmappable) = enc.encode(text);
    assert!(!unmappable, "{label} holds all of {text}");
    bytes.into_owned()
}

#[test]
fn legacy_encodings_are_detected_kept_on_clean_and_can_be_forced() {
    for (label, flag, text) in LEGACY {
        let t = TestDir::new();
        // text that does not repeat itself: this test is about encodings,
        // and a passage written twice in one document is a block to cut
        let text = text.to_string();
        let bytes = legacy_bytes(label, &text);
        // the legacy copy comes first (kept), its UTF-8 twin is its duplicate
        let legacy = t.write("c/a-legacy.txt", &bytes);
        t.write("c/b-utf8.txt", &text);
        let root = t.path().join("c");
        let report = scan_json(&[s(&root), "--level", "doc"]);
        let docs = clusters(&report, "document");
        assert_eq!(
            docs.len(),
            1,
            "{label}: decoded as the same text: {report:#}"
        );
        assert_eq!(docs[0]["similarity"][1], 1.0, "{label}");

        let out = t.path().join("out");
        let o = run("clean", &[&root], &["--quiet"], &out);
        assert!(o.status.success(), "{label}: {}", stderr_of(&o));
        let kept = std::fs::read(out.join("a-legacy.txt")).expect("kept copy");
        assert_eq!(kept, bytes, "{label}: written back in its encoding");
        assert!(!out.join("b-utf8.txt").exists());
        verify_ok(&out);

        // forced by name
        let report = scan_json(&[s(&legacy), "--encoding", flag]);
        assert_eq!(report["summary"]["documents"], 1, "{label}");
    }
    // a forced encoding the bytes are not valid in is refused at its byte
    let t = TestDir::new();
    let p = t.write(
        "sjis.txt",
        legacy_bytes("Shift_JIS", &LEGACY[1].2.repeat(2)),
    );
    let o = run("scan", &[&p], &["--encoding", "big5"], Path::new(""));
    assert_error(&o, "scan", &[s(&p), "invalid Big5 text"]);
}
