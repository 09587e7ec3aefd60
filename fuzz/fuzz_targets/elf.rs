//! `nsdojo::rootfs::read_elf` on arbitrary bytes: no panic, and the invariants in `nsdojo_fuzz::elf`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(why) = nsdojo_fuzz::elf(data) {
        panic!("invariant broken: {why}");
    }
});
