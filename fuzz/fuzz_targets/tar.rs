//! `nsdojo::rootfs::unpack` on arbitrary bytes: no panic, and the invariants in `nsdojo_fuzz::tar`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = nsdojo_fuzz::tar(data) {
        panic!("invariant broken: {why}");
    }
});
