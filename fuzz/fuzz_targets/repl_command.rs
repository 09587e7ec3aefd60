//! `nsdojo::repl::command::parse` on arbitrary bytes (through `from_utf8_lossy`, as a terminal may
//! send anything): no panic, and the invariants in `nsdojo_fuzz::repl_command`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Err(why) = nsdojo_fuzz::repl_command(bytes) {
        panic!("invariant broken: {why}");
    }
});
