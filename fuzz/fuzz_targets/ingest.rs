//! Arbitrary bytes as a JSONL file and as a text file (and, by their magic
//! bytes, as gzip or zstd): `read_corpus` returns documents or an error,
//! never panics. The first byte picks the options.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use neardup::corpus::{read_corpus, EncodingChoice, IngestOptions, OnError};

/// One folder per fuzzing process, reused by every run.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("neardup-fuzz-ingest-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("temp dir");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&knobs, body)) = data.split_first() else {
        return;
    };
    let opts = IngestOptions {
        encoding: match knobs % 3 {
            0 => EncodingChoice::Auto,
            1 => EncodingChoice::Utf8,
            _ => EncodingChoice::Gb18030,
        },
        on_error: if knobs & 4 == 0 {
            OnError::Stop
        } else {
            OnError::Skip
        },
        max_doc_bytes: if knobs & 8 == 0 { 256 << 20 } else { 64 },
        ..IngestOptions::default()
    };
    for name in ["input.jsonl", "input.txt"] {
        let path = dir().join(name);
        std::fs::write(&path, body).expect("write");
        if let Ok(corpus) = read_corpus(&[path], &opts) {
            for doc in &corpus.docs {
                // every document maps back into its file
                let input = corpus.input_of(doc);
                let _ = input.file_offset(&doc.text, doc.text.len());
            }
        }
    }
});
