//! The escape lesson's step 3 done by hand with the tool nsdojo writes into the rootfs:
//! `escape_chroot`, typed into the `try` shell that is chrooted into the rootfs, must land
//! terminal #1 in the host's / (the step's checks tick) without changing the host.

use crate::harness::{require_root, HostState};
use crate::repl::{lesson_steps, repl};

#[test]
fn escape_chroot_in_the_rootfs_leaves_the_chroot_for_real() {
    let _g = require_root!();
    let before = HostState::now();
    // A cache of its own, so the rootfs is built now with the tools in it.
    let cache = tempfile::tempdir().unwrap();
    let (mut p, _home) = repl(&[("NSDOJO_CACHE", cache.path().to_str().unwrap())]);
    lesson_steps(&mut p, "escape", 2);
    p.send_line("try").unwrap();
    p.exp_string("`exit` comes back").unwrap();
    // The tool is on the rootfs's PATH.
    p.send_line("command -v escape_chroot").unwrap();
    p.exp_string("/usr/local/bin/escape_chroot").unwrap();
    p.send_line("escape_chroot").unwrap();
    p.exp_string("step 3 done").unwrap();
    // The shell it ran is the host's: the cache directory (outside the rootfs) is visible.
    p.send_line(&format!("test -d {} && echo out-of-the-chroot", cache.path().display())).unwrap();
    p.exp_string("\r\nout-of-the-chroot").unwrap();
    // The host shell was a child of the try shell (still chrooted): leave both.
    p.send_line("exit").unwrap();
    p.send_line("exit").unwrap();
    p.exp_string("step 3 done by hand").unwrap();
    p.exp_regex(r"nsdojo\[escape 3/\d+\]> ").unwrap();
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    before.assert_unchanged_since("escape_chroot by hand");
}
