//! Boilerplate: a short footer that varies from page to page, on 150 pages.
//! One cluster, flagged, listed compactly; `clean` keeps one copy and
//! `clean --drop-boilerplate` none; `verify` accepts both.

use std::path::Path;

use crate::util::{cjk_text, clean_ok_with, clusters, neardup, s, scan_json, TestDir};

const FOOTER: &str =
    "免责声明：本文由网友投稿，仅代表作者个人观点，与本站立场无关，如有侵权请联系删除。";

/// `pages` documents of unique text with the footer (and a varying
/// counter) as their last line, as one JSONL file.
fn corpus(dir: &Path, pages: u64) -> std::path::PathBuf {
    let texts = (0..pages).map(|d| {
        let text = format!(
            "{}\n{}\n{FOOTER}阅读{}次",
            cjk_text(100 + d, 300),
            cjk_text(10_000 + d, 300),
            d * 37 % 1000
        );
        text
    });
    write_pages(dir, texts)
}

/// `texts` as the documents `p0`, `p1`, … of `pages.jsonl` in `dir`.
fn write_pages(dir: &Path, texts: impl Iterator<Item = String>) -> std::path::PathBuf {
    let mut jsonl = String::new();
    for (d, text) in texts.enumerate() {
        jsonl.push_str(&serde_json::json!({ "id": format!("p{d}"), "text": text }).to_string());
        jsonl.push('\n');
    }
    let path = dir.join("pages.jsonl");
    std::fs::write(&path, jsonl).unwrap();
    path
}

/// Copies of the footer left in a cleaned JSONL.
fn footers(out: &Path) -> usize {
    std::fs::read_to_string(out.join("pages.jsonl"))
        .unwrap()
        .matches("仅代表作者个人观点")
        .count()
}

fn verified(out: &Path) {
    neardup().arg("verify").arg(out).assert().success();
}

#[test]
fn a_footer_on_many_pages_is_one_boilerplate_cluster() {
    let t = TestDir::new();
    let input = corpus(t.path(), 150);
    let report = scan_json(&[s(&input)]);
    let blocks = clusters(&report, "block");
    assert_eq!(blocks.len(), 1, "{report:#}");
    let c = blocks[0];
    assert_eq!(c["boilerplate"], true);
    assert_eq!(c["documents"], 150);
    assert_eq!(c["members"].as_array().unwrap().len(), 150);
    // the footer is shorter than --min-block: it counts as boilerplate only
    assert!(c["chars"].as_u64().unwrap() < 200, "{c:#}");
    // the text report lists a few copies and says how many more there are
    let text = neardup()
        .args(["scan", "--quiet", s(&input)])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("boilerplate cluster 1: 150 copies in 150 documents"),
        "{text}"
    );
    assert!(text.contains("… and 145 more copies"), "{text}");
    assert!(text.lines().count() < 12, "{text}");
}

#[test]
fn the_same_footer_on_a_few_pages_is_no_block() {
    // shorter than --min-block and held by fewer than --boilerplate-docs
    let t = TestDir::new();
    let input = corpus(t.path(), 150);
    let report = scan_json(&[s(&input), "--boilerplate-docs", "151"]);
    assert!(clusters(&report, "block").is_empty(), "{report:#}");
}

#[test]
fn clean_keeps_one_copy_and_drop_boilerplate_none() {
    let t = TestDir::new();
    let input = corpus(t.path(), 150);
    let kept = t.path().join("kept");
    clean_ok_with(&input, &kept, &[]);
    verified(&kept);
    assert_eq!(footers(&kept), 1);
    let dropped = t.path().join("dropped");
    clean_ok_with(&input, &dropped, &["--drop-boilerplate"]);
    verified(&dropped);
    assert_eq!(footers(&dropped), 0);
    let log = std::fs::read_to_string(dropped.join("removed.jsonl")).unwrap();
    let reasons: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["reason"].clone())
        .collect();
    assert_eq!(reasons.len(), 150);
    assert!(reasons.iter().all(|r| r == "boilerplate"), "{log}");
    // the unique text of every page is still there
    let out = std::fs::read_to_string(dropped.join("pages.jsonl")).unwrap();
    for d in [0u64, 77, 149] {
        assert!(out.contains(&cjk_text(10_000 + d, 300)), "page {d}");
    }
}

/// `pages` documents of unique text ending with a footer whose two
/// numbers (a serial number, a checksum) differ on every page: half of its
/// characters.
fn numbered_corpus(dir: &Path, pages: u64) -> std::path::PathBuf {
    let texts = (0..pages).map(|d| {
        let mut x = d.wrapping_mul(2_654_435_761).wrapping_add(12_345);
        let mut digits = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    x = x
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    char::from(b'0' + ((x >> 33) % 10) as u8)
                })
                .collect()
        };
        let footer = format!(
            "本站部分内容来自互联网，如有侵权请联系删除。未经书面授权，禁止复制或建立镜像。\n\
             产品序列号：{}\n建议使用谷歌浏览器、火狐浏览器或极速模式访问本站。\n数字证书校验码：{}",
            digits(40),
            digits(36)
        );
        let text = format!("{}\n{footer}", cjk_text(20_000 + d, 400));
        text
    });
    write_pages(dir, texts)
}

#[test]
fn clean_keeps_one_copy_of_a_footer_whose_numbers_vary() {
    // numbers are the footer's fields when it is cut, as when it is found:
    // compared exactly, a copy shares 0.68 of its characters with the kept
    // one, and every page would keep its footer
    let t = TestDir::new();
    let input = numbered_corpus(t.path(), 150);
    let kept = t.path().join("kept");
    clean_ok_with(&input, &kept, &[]);
    verified(&kept);
    let out = std::fs::read_to_string(kept.join("pages.jsonl")).unwrap();
    for line in [
        "禁止复制或建立镜像",
        "产品序列号",
        "极速模式",
        "数字证书校验码",
    ] {
        assert_eq!(out.matches(line).count(), 1, "{line}");
    }
    let log = std::fs::read_to_string(kept.join("removed.jsonl")).unwrap();
    assert!(
        log.lines()
            .all(|l| l.contains("\"numbers_as_fields\":true")),
        "{log}"
    );
    for d in [0u64, 77, 149] {
        assert!(out.contains(&cjk_text(20_000 + d, 400)), "page {d}");
    }
}

#[test]
fn boilerplate_reports_do_not_depend_on_threads() {
    let t = TestDir::new();
    let input = corpus(t.path(), 150);
    let one = crate::util::scan_json_bytes(&[s(&input), "--threads", "1"]);
    let four = crate::util::scan_json_bytes(&[s(&input), "--threads", "4"]);
    assert!(one == four, "reports differ between 1 and 4 threads");
}

const NAV: &str = "首页 | 新闻中心 | 通知公告 | 政务公开 | 领导讲话 | 工作总结 | 心得体会 | \
                   述职报告 | 调研报告 | 范文大全 | 党建材料 | 演讲稿 | 会员中心";

/// A footer line of 40 characters, a fifth of the footer: a copy with it
/// is too little contained in one without it to be cut.
const LINE3: &str =
    "本站部分内容来自互联网，如有侵权请联系删除。未经书面授权，禁止复制或建立镜像。";

/// 150 pages, each a paragraph, a navigation bar, another paragraph, a
/// share line, a third paragraph and a four-line footer whose third line
/// the first page and every fifth page lack. On every sixth page the first
/// paragraph ends as wrapped prose does (with `，`).
/// Pages 10 and 11 share their first two paragraphs, with the bar between
/// them: a block whose kept copy (page 10's) holds a bar.
fn site_corpus(dir: &Path) -> std::path::PathBuf {
    let texts = (0..150u64).map(|d| {
        let shared = if d == 11 { 10 } else { d };
        let mut footer = vec![
            format!("版权所有 © 2008-2024 第{}范文网 保留所有权利", d % 7),
            "地址：北京市朝阳区建国路88号 联系电话：010-12345678".to_string(),
            LINE3.to_string(),
            "建议使用谷歌浏览器、火狐浏览器或360浏览器极速模式访问本站，最佳分辨率1920×1080。"
                .to_string(),
        ];
        if d % 5 == 0 {
            footer.remove(2);
        }
        let wrapped = if d % 6 == 3 { "，" } else { "" };
        let share = format!(
            "分享到：微信 朋友圈 新浪微博 QQ空间 豆瓣 | 扫一扫在手机上打开当前页面，随时随地阅读 | 阅读：{}次",
            d * 37 % 1000
        );
        let text = format!(
            "{}{wrapped}\n{NAV}\n{}\n{share}\n{}\n{}",
            cjk_text(30_000 + shared, 200),
            cjk_text(40_000 + shared, 300),
            cjk_text(50_000 + d, 800),
            footer.join("\n")
        );
        text
    });
    write_pages(dir, texts)
}

#[test]
fn clean_keeps_exactly_one_copy_of_each_line_of_boilerplate() {
    // The kept copy of boilerplate is its fullest, not the first: a first
    // footer without its third line would leave that line on 120 pages.
    // A copy of the bar inside the kept copy of another block (page 10's
    // paragraphs) goes too: its text stays in the bar's kept copy. So does
    // a bar below a line that ends as wrapped prose.
    let t = TestDir::new();
    let input = site_corpus(t.path());
    let report = scan_json(&[s(&input)]);
    let blocks = clusters(&report, "block");
    let boilerplate: Vec<_> = blocks.iter().filter(|c| c["documents"] == 150).collect();
    // the bar, the share line, the footer
    assert_eq!(boilerplate.len(), 3, "{report:#}");
    for c in boilerplate {
        assert_eq!(c["boilerplate"], true, "{c:#}");
        assert_eq!(c["keep_reason"], "fullest (boilerplate)");
    }
    let kept = t.path().join("kept");
    clean_ok_with(&input, &kept, &[]);
    verified(&kept);
    let out = std::fs::read_to_string(kept.join("pages.jsonl")).unwrap();
    for line in [
        "版权所有",
        "联系电话",
        "禁止复制",
        "最佳分辨率",
        "新闻中心",
        "分享到",
    ] {
        assert_eq!(out.matches(line).count(), 1, "{line}");
    }
    for d in [0u64, 10, 11, 149] {
        assert!(out.contains(&cjk_text(50_000 + d, 800)), "page {d}");
    }
    // page 10's paragraphs are kept, page 11's copy of them goes
    assert_eq!(out.matches(&cjk_text(40_010, 300)).count(), 1);
}
