//! Arbitrary UTF-8 through `normalize`: every normalised character points
//! at the start of a source character, in order, and any range maps back to
//! a range of whole source characters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use neardup::normalize::{normalize, NormalizeOptions};

fuzz_target!(|text: &str| {
    for mask_fold in [false, true] {
        let norm = normalize(text, &NormalizeOptions { mask_fold });
        assert_eq!(norm.chars.len(), norm.orig.len());
        assert_eq!(norm.chars.len(), norm.gap_before.len());
        let mut prev = 0usize;
        for &o in &norm.orig {
            let o = o as usize;
            assert!(o >= prev, "orig offsets go back: {o} after {prev}");
            assert!(
                o < text.len(),
                "orig offset {o} past the end {}",
                text.len()
            );
            assert!(
                text.is_char_boundary(o),
                "orig offset {o} inside a character"
            );
            prev = o;
        }
        let n = norm.len();
        for (s, e) in [(0, n), (0, n / 2), (n / 3, n), (n / 4, n / 2 + 1)] {
            let r = norm.source_range(text, s, e.min(n));
            assert!(r.start <= r.end && r.end <= text.len(), "{r:?}");
            assert!(
                text.is_char_boundary(r.start) && text.is_char_boundary(r.end),
                "{r:?}"
            );
        }
    }
});
