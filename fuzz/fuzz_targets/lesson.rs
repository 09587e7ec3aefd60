//! `nsdojo::lesson::parse_lesson` on arbitrary UTF-8 (non-UTF-8 inputs are skipped): no panic, and the
//! invariants in `nsdojo_fuzz::lesson`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|src: &str| {
    if let Err(why) = nsdojo_fuzz::lesson(src) {
        panic!("invariant broken: {why}");
    }
});
