//! Unpacking tarballs: the good cases and every refusal.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use tar::{EntryType, Header};

use super::super::{prepare_with_path, Origin, Rootfs, RootfsError, Source};
use super::names;

/// Builds archives with raw names, so that `../evil` can be written at all
/// (the tar crate's own setters refuse it, rightly).
struct Tb(tar::Builder<Vec<u8>>);

impl Tb {
    fn new() -> Tb {
        Tb(tar::Builder::new(Vec::new()))
    }

    fn add(mut self, name: &str, kind: EntryType, mode: u32, data: &[u8], link: Option<&str>) -> Tb {
        let mut h = Header::new_gnu();
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        if let Some(l) = link {
            h.as_gnu_mut().unwrap().linkname[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }
    fn dir(self, name: &str) -> Tb {
        self.add(name, EntryType::Directory, 0o755, b"", None)
    }
    fn file(self, name: &str, mode: u32, data: &[u8]) -> Tb {
        self.add(name, EntryType::Regular, mode, data, None)
    }
    fn symlink(self, name: &str, target: &str) -> Tb {
        self.add(name, EntryType::Symlink, 0o777, b"", Some(target))
    }
    fn done(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

/// A minimal good rootfs, like a tiny `docker export`.
fn good() -> Tb {
    Tb::new()
        .dir("./")
        .dir("./bin/")
        .file("./bin/busybox", 0o755, b"#!not really busybox\n")
        .symlink("./bin/sh", "/bin/busybox")
        .add("./bin/ash", EntryType::Link, 0o755, b"", Some("./bin/busybox"))
        .dir("./etc/")
        .file("./etc/passwd", 0o644, b"root:x:0:0::/root:/bin/sh\n")
        .dir("./dev/")
        .add("./dev/null", EntryType::Char, 0o666, b"", None)
        .add("./dev/fifo", EntryType::Fifo, 0o666, b"", None)
        .dir("./ro/")
        .file("./ro/inside", 0o644, b"x")
        .add("./ro/", EntryType::Directory, 0o555, b"", None)
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new() -> Case {
        Case { dir: tempfile::tempdir().unwrap() }
    }
    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }
    fn prepare(&self, name: &str, bytes: &[u8]) -> Result<Rootfs, RootfsError> {
        let tar = self.dir.path().join(name);
        fs::write(&tar, bytes).unwrap();
        prepare_with_path(&Source::Tar(tar), &self.cache(), "")
    }
    /// The cache must hold no entry and no temp dir after a failure.
    fn assert_cache_empty(&self) {
        assert!(names(&self.cache()).is_empty(), "{:?}", names(&self.cache()));
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn check_good_tree(r: &Rootfs) {
    let root = &r.path;
    assert_eq!(fs::read(root.join("bin/busybox")).unwrap(), b"#!not really busybox\n");
    assert_eq!(fs::read_link(root.join("bin/sh")).unwrap(), Path::new("/bin/busybox"));
    assert_eq!(
        fs::metadata(root.join("bin/ash")).unwrap().ino(),
        fs::metadata(root.join("bin/busybox")).unwrap().ino()
    );
    assert_eq!(fs::read_to_string(root.join("etc/passwd")).unwrap(), "root:x:0:0::/root:/bin/sh\n"); // theirs, not ours
    assert_eq!(names(&root.join("dev")), Vec::<String>::new()); // device and fifo skipped
    assert_eq!(fs::metadata(root.join("ro")).unwrap().permissions().mode() & 0o7777, 0o555);
    assert!(root.join("proc").is_dir() && root.join("etc/hostname").is_file()); // skeleton added
    let meta = fs::read_to_string(root.parent().unwrap().join("meta")).unwrap();
    assert!(meta.contains("skipped 2 device nodes/fifos"), "{meta}");
    if nix::unistd::geteuid().is_root() {
        assert_eq!(fs::metadata(root.join("etc/passwd")).unwrap().uid(), 1000);
    }
}

#[test]
fn plain_tarball_unpacks_and_is_cached() {
    let c = Case::new();
    let r = c.prepare("root.tar", &good().done()).unwrap();
    assert_eq!(r.origin, Origin::Tar(c.dir.path().join("root.tar")));
    assert!(r.built_in.is_some());
    check_good_tree(&r);
    let tar = c.dir.path().join("root.tar");
    let hit = prepare_with_path(&Source::Tar(tar.clone()), &c.cache(), "").unwrap();
    assert_eq!((hit.built_in, &hit.path), (None, &r.path));
    // A new tarball at the same path is a new source.
    fs::write(&tar, good().file("./extra", 0o644, b"new").done()).unwrap();
    let rebuilt = prepare_with_path(&Source::Tar(tar), &c.cache(), "").unwrap();
    assert!(rebuilt.built_in.is_some() && rebuilt.path.join("extra").is_file());
}

#[test]
fn gzip_tarball_is_detected_by_magic() {
    let c = Case::new();
    // No .gz in the name: detection is by content.
    let r = c.prepare("root.tar", &gzip(&good().done())).unwrap();
    check_good_tree(&r);
}

#[test]
fn dotdot_entry_is_refused_and_nothing_escapes() {
    let c = Case::new();
    let bytes = good().file("../evil", 0o644, b"pwned").done();
    let e = c.prepare("t.tar", &bytes).unwrap_err();
    let tar = c.dir.path().join("t.tar");
    assert_eq!(e.to_string(), format!("tarball {}: entry '../evil' escapes the target, refused", tar.display()));
    assert!(!c.cache().join("evil").exists() && !c.dir.path().join("evil").exists());
    c.assert_cache_empty();
    // Hidden in the middle of a path, too.
    let e = c.prepare("t2.tar", &good().file("bin/../../evil2", 0o644, b"x").done()).unwrap_err();
    assert!(matches!(e, RootfsError::TarEscape { .. }), "{e}");
    assert!(!c.dir.path().join("evil2").exists());
}

#[test]
fn absolute_entry_is_refused() {
    let c = Case::new();
    let e = c.prepare("t.tar", &good().file("/etc/evil", 0o644, b"x").done()).unwrap_err();
    assert!(e.to_string().ends_with(": entry '/etc/evil' escapes the target, refused"), "{e}");
    assert!(!Path::new("/etc/evil").exists());
    c.assert_cache_empty();
}

#[test]
fn writing_through_a_symlink_that_leads_outside_is_refused() {
    let c = Case::new();
    let outside = c.dir.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let target = outside.to_str().unwrap();
    let bytes = Tb::new().symlink("bin", target).file("bin/x", 0o755, b"pwned").done();
    let e = c.prepare("t.tar", &bytes).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "tarball {}: entry 'bin/x' would be written through symlink 'bin' -> '{target}', which leads outside the rootfs, refused",
            c.dir.path().join("t.tar").display()
        )
    );
    assert!(names(&outside).is_empty());
    c.assert_cache_empty();

    // A relative link that climbs out of the tree, through two hops.
    let bytes =
        Tb::new().dir("a/").symlink("a/up", "../..").symlink("b", "a/up").file("b/outside/y", 0o644, b"x").done();
    let e = c.prepare("t2.tar", &bytes).unwrap_err();
    assert!(matches!(e, RootfsError::TarThroughSymlink { .. }), "{e}");
    assert!(names(&outside).is_empty());
    c.assert_cache_empty();
}

#[test]
fn relative_symlinks_inside_the_tree_are_followed() {
    // Merged /usr: lib -> usr/lib, then an entry lib/x lands in usr/lib/x.
    let c = Case::new();
    let bytes = good().dir("usr/").dir("usr/lib/").symlink("lib", "usr/lib").file("lib/x", 0o644, b"x").done();
    let r = c.prepare("t.tar", &bytes).unwrap();
    assert_eq!(fs::read(r.path.join("usr/lib/x")).unwrap(), b"x");
}

#[test]
fn a_symlink_entry_is_replaced_not_written_through() {
    // etc/passwd -> /etc/passwd, then a file etc/passwd: the link is
    // replaced by the file; the host's /etc/passwd is untouched.
    let c = Case::new();
    let host_before = fs::read("/etc/passwd").unwrap();
    let bytes = good().symlink("etc/shadow", "/etc/passwd").file("etc/shadow", 0o600, b"mine").done();
    let r = c.prepare("t.tar", &bytes).unwrap();
    assert_eq!(fs::read(r.path.join("etc/shadow")).unwrap(), b"mine");
    assert_eq!(fs::read("/etc/passwd").unwrap(), host_before);
}

#[test]
fn hard_link_to_outside_is_refused() {
    let c = Case::new();
    let bytes = good().add("bin/pw", EntryType::Link, 0o644, b"", Some("../../etc/passwd")).done();
    let e = c.prepare("t.tar", &bytes).unwrap_err();
    assert!(e.to_string().contains("entry '../../etc/passwd' escapes the target"), "{e}");
    c.assert_cache_empty();
}

#[test]
fn truncated_archives_are_reported_and_leave_nothing() {
    let c = Case::new();
    let big = vec![b'z'; 20_000];
    let full = good().file("big", 0o644, &big).done();
    // Cut in the middle of a file's data.
    let e = c.prepare("t.tar", &full[..full.len() / 2]).unwrap_err();
    let shown = c.dir.path().join("t.tar");
    assert_eq!(e.to_string(), format!("tarball {}: truncated or corrupt (unexpected end of archive)", shown.display()));
    c.assert_cache_empty();
    // Cut in the middle of a header block.
    let e = c.prepare("t.tar", &full[..512 + 100]).unwrap_err();
    assert!(e.to_string().ends_with("truncated or corrupt (unexpected end of archive)"), "{e}");
    // Cut exactly between two entries: no end-of-archive marker.
    let e = c.prepare("t.tar", &full[..1024]).unwrap_err();
    assert!(e.to_string().ends_with("truncated or corrupt (no end-of-archive marker)"), "{e}");
    // Truncated gzip.
    let gz = gzip(&full);
    let e = c.prepare("t.tar", &gz[..gz.len() / 2]).unwrap_err();
    assert!(matches!(e, RootfsError::TarCorrupt { .. }), "{e}");
    c.assert_cache_empty();
}

#[test]
fn corrupt_and_unsupported_archives() {
    let c = Case::new();
    let mut bytes = good().done();
    bytes[10] ^= 0x55; // inside the first header's name: checksum no longer matches
    let e = c.prepare("t.tar", &bytes).unwrap_err();
    assert!(e.to_string().ends_with("truncated or corrupt (archive header checksum mismatch)"), "{e}");
    let e = c.prepare("t.tar.xz", b"\xfd7zXZ\0rest").unwrap_err();
    assert!(
        e.to_string()
            .ends_with("t.tar.xz is xz-compressed; only plain and gzip tarballs are supported (decompress it first)"),
        "{e}"
    );
    let e = c.prepare("empty.tar", b"").unwrap_err();
    assert!(matches!(e, RootfsError::TarCorrupt { .. }), "{e}");
    c.assert_cache_empty();
}

#[test]
fn tarball_without_a_shell_is_not_cached() {
    let c = Case::new();
    let e = c.prepare("t.tar", &Tb::new().dir("bin/").file("bin/ls", 0o755, b"").done()).unwrap_err();
    assert_eq!(e.to_string(), format!("tarball {}: has no /bin/sh", c.dir.path().join("t.tar").display()));
    let e = c.prepare("t2.tar", &Tb::new().symlink("bin/sh", "/bin/busybox").done()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "tarball {}: /bin/sh -> /bin/busybox: dangling link inside the rootfs",
            c.dir.path().join("t2.tar").display()
        )
    );
    c.assert_cache_empty();
}

#[test]
fn device_nodes_are_skipped_and_counted() {
    let t = tempfile::tempdir().unwrap();
    let tar = t.path().join("t.tar");
    fs::write(&tar, good().done()).unwrap();
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    let stats = super::super::tarball::unpack(&tar, &root).unwrap();
    assert_eq!(stats.skipped_special, 2);
    assert_eq!((stats.files, stats.symlinks, stats.hardlinks), (3, 1, 1));
    assert!(!root.join("dev/null").exists());
}
