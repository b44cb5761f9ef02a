//! Small arbitrary text cut into one to three documents, scanned for blocks
//! of 20 characters or more: the scan must not panic, and the clean plan
//! must pass its own no-loss check. Each removal's span must also hold up
//! the way `neardup verify` judges it later: its text contained in its kept
//! copy's text at the block threshold.

#![no_main]

use libfuzzer_sys::fuzz_target;

include!("../check_blocks.rs");

fuzz_target!(|data: &[u8]| {
    check_blocks(data);
});
