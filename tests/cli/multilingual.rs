//! The expectations of fixtures/multilingual/EXPECTED.md (English,
//! Russian, German and mixed Chinese–English text, default flags), the
//! rules clean follows in space-separated text (cuts at word and sentence
//! boundaries, no fragment left), and a property over generated English-like
//! text: edited, re-wrapped copies are found.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::Value;

use neardup::corpus::Corpus;
use neardup::pipeline::{scan, Level, NoProgress, ScanOptions};

use crate::util::{clusters, file_of, fixtures, neardup, s, scan_json, succeeded, TestDir};

fn multilingual() -> PathBuf {
    fixtures().join("multilingual")
}

/// The files each block cluster's copies are in.
fn block_files(r: &Value) -> BTreeSet<BTreeSet<String>> {
    clusters(r, "block")
        .iter()
        .map(|c| {
            c["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(file_of)
                .collect()
        })
        .collect()
}

fn set(files: &[&str]) -> BTreeSet<String> {
    files.iter().map(|f| f.to_string()).collect()
}

/// The text of a member's byte range.
fn member_text(m: &Value) -> String {
    let text = std::fs::read_to_string(multilingual().join(file_of(m))).expect("fixture");
    let (a, b) = (
        m["bytes"][0].as_u64().expect("start") as usize,
        m["bytes"][1].as_u64().expect("end") as usize,
    );
    text[a..b].to_string()
}

#[test]
fn each_repeated_section_is_one_cluster_and_nothing_else_is() {
    let r = scan_json(&[s(&multilingual())]);
    assert!(clusters(&r, "document").is_empty(), "{r:#}");
    let expected: BTreeSet<BTreeSet<String>> = [
        set(&["de_verein.txt", "de_zeitung.txt"]),
        set(&[
            "en_handbook.md",
            "en_intranet.txt",
            "en_newsletter.txt",
            "en_publish.py",
        ]),
        set(&["fr_forum.txt", "fr_musee.txt"]),
        set(&["ru_guide.txt", "ru_library.txt"]),
        set(&["zh_en_about.txt", "zh_en_mirror.txt"]),
    ]
    .into_iter()
    .collect();
    // a shared 10-word sentence (en_unrelated.txt) is no block
    assert_eq!(block_files(&r), expected);
}

#[test]
fn copies_span_their_sections_across_wrapping_names_and_years() {
    let r = scan_json(&[s(&multilingual())]);
    let blocks = clusters(&r, "block");
    let members_of = |file: &str| -> Vec<String> {
        blocks
            .iter()
            .flat_map(|c| c["members"].as_array().expect("members"))
            .filter(|m| file_of(m) == file)
            .map(member_text)
            .collect()
    };
    // re-wrapped and re-indented, another name and year: the whole paragraph
    let ru = members_of("ru_library.txt").join("");
    assert!(ru.starts_with("Городская библиотека"), "{ru}");
    assert!(ru.contains("каждую неделю"), "{ru}");
    // the newsletter section, in the Markdown copy indented and re-wrapped,
    // is one copy from the first paragraph to the last
    let en = members_of("en_newsletter.txt").join("");
    assert!(en.starts_with("Our weekly engineering newsletter"), "{en}");
    assert!(en.contains("glad to hear"), "{en}");
    // the Python comment lacks the middle paragraph: both others are found
    let py = members_of("en_publish.py").join("\n");
    assert!(py.contains("reviewed by Alice") && py.contains("contribute a story"));
    assert!(!py.contains("Since 2019"));
    // the mixed page: the Chinese sentences and the English one, together
    let mixed = members_of("zh_en_mirror.txt").join("");
    assert!(mixed.contains("本项目由一群志愿者维护"), "{mixed}");
    assert!(
        mixed.contains("The project is maintained by volunteers"),
        "{mixed}"
    );
    assert!(mixed.contains("也欢迎提出改进建议"), "{mixed}");
    // hyphenated across line breaks in one copy, not in the other
    let de = members_of("de_zeitung.txt").join("");
    assert!(de.contains("Fabrik-\ngebäude"), "{de}");
    // accents lost in one copy (`musée`/`musee`, `été`/`ete`, one word in
    // three): the whole paragraph, as if nothing differed
    let fr = members_of("fr_musee.txt");
    assert_eq!(fr.len(), 1, "{fr:?}");
    assert!(fr[0].starts_with("La bibliothèque du musée"), "{fr:?}");
    assert!(fr[0].ends_with("collectionneurs privés"), "{fr:?}");
}

/// Marks that end a sentence (and the quotes that may close it).
fn ends_sentence(s: &str) -> bool {
    let s = s.trim_end_matches(['"', '\'', ')', '”', '’', '」']);
    s.ends_with(['.', '!', '?', ';', '。', '！', '？', '；'])
}

/// A cut boundary at byte `p` of `text` is at a word boundary (not between
/// two letters or digits of a space-separated script) and at a sentence
/// boundary or line edge.
fn clean_boundary(text: &str, p: usize, what: &str) {
    let before = text[..p].chars().next_back();
    let after = text[p..].chars().next();
    let spaced = |c: char| c.is_alphanumeric() && !('\u{4e00}'..='\u{9fff}').contains(&c);
    assert!(
        !(before.is_some_and(spaced) && after.is_some_and(spaced)),
        "{what}: cut inside a word at {p}: {:?}|{:?}",
        &text[p.saturating_sub(20)..p],
        text[p..].chars().take(20).collect::<String>()
    );
    let head = text[..p].trim_end_matches([' ', '\t']);
    let tail = text[p..].trim_start_matches([' ', '\t']);
    let edge = head.is_empty() || head.ends_with('\n') || tail.is_empty() || tail.starts_with('\n');
    assert!(
        edge || ends_sentence(head),
        "{what}: cut inside a sentence at {p}: {:?}|{:?}",
        &text[p.saturating_sub(40)..p],
        tail.chars().take(20).collect::<String>()
    );
}

/// Cleans `input` (default flags) into a fresh folder and checks every
/// removal's edges ([`clean_boundary`]) and that no line of the output was
/// left as a fragment by a cut: a line a cut changed is whole sentences.
/// Returns the output folder and the number of removals.
fn clean_and_check(input: &Path) -> (TestDir, usize) {
    let t = TestDir::new();
    let out = t.path().join("out");
    succeeded(
        neardup()
            .args(["clean", "--quiet"])
            .arg(input)
            .arg("-o")
            .arg(&out),
    );
    succeeded(neardup().arg("verify").arg(&out));
    let log = std::fs::read_to_string(out.join("removed.jsonl")).expect("log");
    let mut n = 0;
    let mut cut_files = BTreeSet::new();
    for line in log.lines() {
        let r: Value = serde_json::from_str(line).expect("log line");
        let path = r["removed"]["path"].as_str().expect("path");
        let name = Path::new(path).file_name().expect("name").to_owned();
        let text = std::fs::read_to_string(input.join(&name)).expect("input");
        let spans: Vec<&Value> = match r["spans"].as_array() {
            Some(v) if !v.is_empty() => v.iter().collect(),
            _ => vec![&r["removed"]["bytes"]],
        };
        for sp in spans {
            let (a, b) = (
                sp[0].as_u64().expect("a") as usize,
                sp[1].as_u64().expect("b") as usize,
            );
            clean_boundary(&text, a, path);
            clean_boundary(&text, b, path);
        }
        cut_files.insert(name);
        n += 1;
    }
    for name in cut_files {
        let before = std::fs::read_to_string(input.join(&name)).expect("input");
        let after = std::fs::read_to_string(out.join(&name)).expect("output");
        let kept: BTreeSet<&str> = before.lines().collect();
        for l in after.lines().filter(|l| !kept.contains(l)) {
            let l = l.trim();
            let first = l.chars().next().unwrap_or('A');
            assert!(
                ends_sentence(l) && !first.is_lowercase(),
                "{name:?}: a cut left a fragment: {l:?}"
            );
        }
    }
    (t, n)
}

#[test]
fn clean_removes_whole_sentences_and_leaves_no_fragment() {
    let (t, n) = clean_and_check(&multilingual());
    // every non-kept copy goes: German, French, Russian, mixed, and four
    // English
    assert_eq!(n, 8);
    let out = t.path().join("out");
    let read = |f: &str| std::fs::read_to_string(out.join(f)).expect("output");
    // the copy inside a line goes with its sentences, the others stay
    assert!(read("en_intranet.txt").contains(
        "Welcome to the spring edition of the intranet. The rest of this page lists open positions and upcoming events.\n"
    ));
    // the German copy starts and ends where the edits (a year, a name)
    // are, inside sentences: the whole paragraph goes
    let de = read("de_zeitung.txt");
    assert!(
        !de.contains("Genossenschaft") && !de.contains("geleitet"),
        "{de}"
    );
    assert!(de.contains("Die Stadt plant"), "{de}");
    // the accented copy of the unaccented kept one goes, paragraph whole
    let fr = read("fr_musee.txt");
    assert!(!fr.contains("bibliothèque"), "{fr}");
    assert!(fr.starts_with("Le musée municipal") && fr.contains("Les horaires"));
    // the unrelated page and the kept copies are untouched
    for f in [
        "en_unrelated.txt",
        "en_handbook.md",
        "fr_forum.txt",
        "ru_guide.txt",
        "zh_en_about.txt",
    ] {
        assert_eq!(
            read(f),
            std::fs::read_to_string(multilingual().join(f)).expect("input"),
            "{f}"
        );
    }
}

/// Deterministic pseudo-random words (letters a–z, 2 to 9 of them).
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn word(&mut self) -> String {
        let len = 2 + self.next() % 8;
        (0..len)
            .map(|_| char::from(b'a' + (self.next() % 26) as u8))
            .collect()
    }

    /// `n` words as sentences of 6 to 15 words.
    fn prose(&mut self, n: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut left = 0;
        for _ in 0..n {
            let mut w = self.word();
            if left == 0 {
                left = 6 + self.next() % 10;
                w[..1].make_ascii_uppercase();
            }
            left -= 1;
            if left == 0 {
                w.push('.');
            }
            out.push(w);
        }
        out
    }
}

/// `words` joined with spaces, a line break when a line would pass `width`,
/// each line indented by `indent` spaces.
fn wrap(words: &[String], width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for w in words {
        if line > 0 && line + w.len() > width {
            out.push('\n');
            line = 0;
        }
        if line == 0 {
            out.push_str(&" ".repeat(indent));
        } else {
            out.push(' ');
        }
        out.push_str(w);
        line += w.len() + 1;
    }
    out.push('\n');
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, .. ProptestConfig::default() })]

    /// k copies of a passage of 40–120 words, each with a few words
    /// replaced, re-wrapped at another width and indented, among unrelated
    /// text in their own documents: one block holds a copy of every document.
    #[test]
    fn edited_rewrapped_copies_of_english_like_text_are_found(
        seed in 1u64..u64::MAX,
        k in 2usize..5,
        len in 40usize..120,
        edits in 0usize..4,
        widths in proptest::collection::vec(30usize..100, 5),
        indents in proptest::collection::vec(0usize..6, 5),
    ) {
        let mut w = Words(seed | 1);
        let passage = w.prose(len);
        let texts: Vec<String> = (0..k)
            .map(|i| {
                let mut copy = passage.clone();
                if i > 0 {
                    for _ in 0..edits {
                        let at = (w.next() % len as u64) as usize;
                        copy[at] = w.word();
                    }
                }
                let (a, b) = (30 + (w.next() % 40) as usize, 30 + (w.next() % 40) as usize);
                let (intro, outro) = (w.prose(a), w.prose(b));
                format!(
                    "{}\n{}\n{}",
                    wrap(&intro, 72, 0),
                    wrap(&copy, widths[i], indents[i]),
                    wrap(&outro, 72, 0)
                )
            })
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let corpus = Corpus::from_texts(&refs);
        let opts = ScanOptions { level: Level::Block, ..ScanOptions::default() };
        let report = scan(&corpus, &opts, &NoProgress).expect("scan");
        let docs: BTreeSet<usize> = report
            .clusters
            .iter()
            .filter(|c| c.members.len() >= 2)
            .max_by_key(|c| c.members.len())
            .map(|c| c.members.iter().map(|m| m.doc_index).collect())
            .unwrap_or_default();
        prop_assert_eq!(docs, (0..k).collect::<BTreeSet<usize>>());
    }
}
