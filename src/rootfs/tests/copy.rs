//! copy_tree: what it keeps, what it skips, and how a full tmpfs reads.

use std::fs::{self, File};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::errno::Errno;

use super::super::copy::Copier;
use super::super::{copy_tree, CopyStats, RootfsError};
use super::{link, put};
use crate::trace::Trace;

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A tree with every kind of thing a rootfs holds.
fn sample(src: &Path) {
    put(src, "bin/busybox", "0123456789", 0o755);
    link(src, "bin/sh", "/bin/busybox"); // absolute: must not be followed
    link(src, "bin/dangling", "nowhere");
    put(src, "usr/bin/su", "su", 0o4755); // setuid kept
    put(src, "etc/shadow", "s", 0o640);
    fs::hard_link(src.join("bin/busybox"), src.join("bin/ash")).unwrap();
    fs::create_dir_all(src.join("a/b/c/d")).unwrap();
    put(src, "a/b/c/d/deep", "deep", 0o600);
    fs::create_dir(src.join("tmp")).unwrap();
    fs::set_permissions(src.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    put(src, "ro/file", "r", 0o444);
    fs::set_permissions(src.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    nix::unistd::mkfifo(&src.join("fifo"), nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
}

#[test]
fn copies_modes_symlinks_hardlinks_and_nested_dirs() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    fs::create_dir(&src).unwrap();
    sample(&src);
    let mut trace = Trace::default();
    let stats = copy_tree(&src, &dst, &mut trace).unwrap();
    assert_eq!(stats, CopyStats { files: 6, dirs: 10, symlinks: 2, bytes: 10 + 2 + 1 + 4 + 1 });

    assert_eq!(fs::read(dst.join("bin/busybox")).unwrap(), b"0123456789");
    assert_eq!(fs::read_link(dst.join("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert_eq!(fs::read_link(dst.join("bin/dangling")).unwrap(), Path::new("nowhere"));
    let ino = |p: &str| fs::metadata(dst.join(p)).unwrap().ino();
    assert_eq!(ino("bin/ash"), ino("bin/busybox"));
    assert_eq!(fs::read(dst.join("a/b/c/d/deep")).unwrap(), b"deep");
    for (p, m) in [
        ("bin/busybox", 0o755),
        ("usr/bin/su", 0o4755),
        ("etc/shadow", 0o640),
        ("a/b/c/d/deep", 0o600),
        ("tmp", 0o1777),
        ("ro", 0o555),
        ("ro/file", 0o444),
    ] {
        assert_eq!(mode(&dst.join(p)), m, "{p}");
    }
    assert!(!dst.join("fifo").exists());

    let last = trace.calls.last().unwrap();
    assert_eq!(last.to_string(), format!("copy_tree({:?}, {:?}) = 0", src, dst));
    assert_eq!(
        last.note.as_ref().map(ToString::to_string).as_deref(),
        Some("6 files, 10 dirs, 2 symlinks, 18 B; skipped 1 device nodes/fifos/sockets")
    );
}

#[test]
fn fills_an_existing_directory_such_as_a_mount_point() {
    let t = tempfile::tempdir().unwrap();
    let (src, dst) = (t.path().join("src"), t.path().join("dst"));
    put(&src, "bin/sh", "sh", 0o755);
    fs::set_permissions(&src, fs::Permissions::from_mode(0o750)).unwrap();
    fs::create_dir(&dst).unwrap();
    copy_tree(&src, &dst, &mut Trace::default()).unwrap();
    assert_eq!(fs::read(dst.join("bin/sh")).unwrap(), b"sh");
    assert_eq!(mode(&dst), 0o750); // the root takes the source's mode
}

#[test]
fn errors_name_the_path_and_are_traced() {
    let t = tempfile::tempdir().unwrap();
    let mut trace = Trace::default();
    let e = copy_tree(&t.path().join("missing"), &t.path().join("dst"), &mut trace).unwrap_err();
    assert!(e.to_string().starts_with(&format!("cannot copy {}/missing: ", t.path().display())), "{e}");
    assert_eq!(trace.calls.len(), 2);
    assert_eq!(trace.calls[0].errno(), Some(Errno::ENOENT));
    assert!(trace.calls[1].to_string().ends_with("= -1 ENOENT (No such file or directory)"));
    // Refuses to copy *into* something that is not a directory.
    put(t.path(), "src/f", "x", 0o644);
    put(t.path(), "file", "x", 0o644);
    assert!(copy_tree(&t.path().join("src"), &t.path().join("file"), &mut Trace::default()).is_err());
}

#[test]
fn a_full_filesystem_is_no_space_not_a_panic() {
    // /dev/full answers every write with ENOSPC, as a full tmpfs does; it is
    // the unprivileged way to reach the same code path that copy_tree uses.
    let t = tempfile::tempdir().unwrap();
    let src = put(t.path(), "big", &"x".repeat(100_000), 0o644);
    let mut trace = Trace::default();
    let mut copier = Copier::new(&mut trace);
    let mut input = File::open(&src).unwrap();
    let mut full = File::options().write(true).open("/dev/full").unwrap();
    let e = copier.fill(&mut input, &mut full, Path::new("/newroot/bin/busybox"), 100_000).unwrap_err();
    assert!(matches!(e, RootfsError::NoSpace { .. }));
    assert_eq!(e.to_string(), "tmpfs full while copying /newroot/bin/busybox");
    let rec = trace.calls.last().unwrap();
    assert_eq!(rec.errno(), Some(Errno::ENOSPC));
    assert!(rec.call.starts_with("copy_file_range("), "{}", rec.call);
    assert_eq!(rec.note, Some(crate::msg::Msg::FilesystemFull));
}
// The real thing (a full tmpfs) runs through the built binary, inside a sandbox:
// tests/it/rootfs.rs, `a_full_tmpfs_is_one_clear_line`.

#[test]
fn copying_a_tree_into_itself_stops() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    put(&src, "bin/sh", "sh", 0o755);
    fs::create_dir(src.join("mnt")).unwrap();
    let dst = src.join("mnt/new");
    let stats = copy_tree(&src, &dst, &mut Trace::default()).unwrap();
    assert_eq!(fs::read(dst.join("bin/sh")).unwrap(), b"sh");
    assert!(dst.join("mnt").is_dir() && !dst.join("mnt/new").exists());
    assert_eq!((stats.files, stats.dirs), (1, 2)); // bin, mnt
}
