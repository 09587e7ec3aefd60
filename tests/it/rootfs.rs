//! Root filesystem sources: busybox, host binaries, a directory, a tarball — each one
//! used for a real `run chroot --check`; bad sources give one clear line.

use std::path::Path;

use crate::harness::{repo, require_root, HostState, Test};

fn chroot_passes_with(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> String {
    let mut t = Test::new().args(args.iter().copied()).args(["run", "chroot", "--check"]);
    for (k, v) in env {
        t = t.env(k, v);
    }
    t.succeeds().stdout()
}

#[test]
fn busybox_host_binaries_directory_and_tarball_all_work() {
    let _g = require_root!();
    let before = HostState::now();
    let cache = tempfile::tempdir().unwrap();
    let cache_env = ("NSDOJO_CACHE", cache.path().to_str().unwrap());
    // busybox on PATH (installed by the test script).
    let out = chroot_passes_with(&[], &[cache_env]);
    // The shell inside saw the rootfs directory as / (its inode), and the check said so.
    assert!(out.contains("/ is inode") && out.contains("action[2].stdout == action[3].stdout"), "{out}");
    // No busybox on PATH: the host-binary fallback; /bin/sh runs inside.
    let bin_only = tempfile::tempdir().unwrap();
    for prog in ["sh", "ls", "du", "cat", "echo", "test", "id", "mkdir"] {
        if let Some(p) = which(prog) {
            std::os::unix::fs::symlink(p, bin_only.path().join(prog)).unwrap();
        }
    }
    // Host programs include no web server: the one step that needs busybox's httpd says so and
    // fails, every other step passes.
    let out = Test::new()
        .env(cache_env.0, cache_env.1)
        .env("PATH", bin_only.path().to_str().unwrap())
        .args(["run", "chroot", "--check"])
        .fails_with(1)
        .stdout();
    assert!(out.contains("host programs"), "the fallback was used: {out}");
    let (at, end) = (out.find("── chroot 5/").unwrap(), out.find("── chroot 6/").unwrap());
    assert!(out[at..end].contains("no such program at this root"), "{out}");
    assert!(!out[..at].contains('✘') && !out[end..].contains('✘'), "only the httpd step fails: {out}");
    // A prepared directory: the busybox tree the first run built, used in place.
    let tree = std::fs::read_dir(cache.path())
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("busybox-"))
        .unwrap()
        .path()
        .join("rootfs");
    chroot_passes_with(&["--rootfs".as_ref(), tree.as_os_str()], &[cache_env]);
    // A tarball the test builds itself from that tree.
    let tar = cache.path().join("rootfs.tar");
    let st = std::process::Command::new("tar").arg("-C").arg(&tree).arg("-cf").arg(&tar).arg(".").status().unwrap();
    assert!(st.success());
    chroot_passes_with(&["--rootfs-tar".as_ref(), tar.as_os_str()], &[cache_env]);
    before.assert_unchanged_since("four rootfs sources");
}

fn which(prog: &str) -> Option<std::path::PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].iter().map(|d| Path::new(d).join(prog)).find(|p| p.exists())
}

#[test]
fn bad_rootfs_sources_give_one_clear_line() {
    let _g = require_root!();
    let before = HostState::now();
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let run = |args: &[&std::ffi::OsStr]| {
        Test::new()
            .env("NSDOJO_CACHE", cache.to_str().unwrap())
            .args(args.iter().copied())
            .args(["run", "chroot"])
            .fails_with(2)
    };
    run(&["--rootfs".as_ref(), dir.path().join("missing").as_os_str()])
        .stderr_has("does not exist")
        .stderr_is_one_line();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    run(&["--rootfs".as_ref(), empty.as_os_str()]).stderr_has("has no /bin/sh").stderr_is_one_line();
    // A tarball with a `../` entry: refused, and nothing written outside the target.
    let evil = dir.path().join("evil.tar");
    std::fs::write(&evil, tar_with_entry("../evil", b"x")).unwrap();
    run(&["--rootfs-tar".as_ref(), evil.as_os_str()]).stderr_has("escapes the target, refused").stderr_is_one_line();
    assert!(!dir.path().join("evil").exists() && !cache.join("evil").exists());
    // A truncated tarball.
    let good = tar_with_entry("bin/sh", b"#!/bin/true\n");
    let cut = dir.path().join("cut.tar");
    std::fs::write(&cut, &good[..700]).unwrap();
    run(&["--rootfs-tar".as_ref(), cut.as_os_str()]).stderr_has("truncated or corrupt").stderr_is_one_line();
    before.assert_unchanged_since("bad rootfs sources");
}

/// A one-entry ustar archive, written by hand (no tar crate in the tests).
fn tar_with_entry(name: &str, body: &[u8]) -> Vec<u8> {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000755\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|b| *b as u32).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = h.to_vec();
    out.extend_from_slice(body);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0u8; 1024]);
    out
}

#[test]
fn a_full_tmpfs_is_one_clear_error_inside_the_sandbox() {
    let _g = require_root!();
    let before = HostState::now();
    let lesson = repo("tests/lessons/full-tmpfs.toml");
    let d = Test::new()
        .args(["--lessons".as_ref(), lesson.as_os_str(), "run".as_ref(), "full-tmpfs".as_ref(), "--check".as_ref()])
        .succeeds();
    assert!(d.stdout().contains("= -1 ENOSPC"), "{}", d.stdout());
    before.assert_unchanged_since("a full tmpfs");
}
