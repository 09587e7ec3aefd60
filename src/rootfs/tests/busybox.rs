//! The busybox rootfs and its cache behaviour.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::super::busybox::find_static_busybox;
use super::super::shell_check::resolve_inside;
use super::super::{prepare_with_path, Origin, Source};
use super::host_busybox;

/// A private copy of busybox in its own PATH dir, so the test can change it.
fn private_busybox(dir: &Path) -> Option<PathBuf> {
    let bb = host_busybox()?;
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(bb, bin.join("busybox")).unwrap();
    Some(bin)
}

#[test]
fn busybox_tree_has_applets_shell_and_etc() {
    let Some(bb) = host_busybox() else {
        eprintln!("no static busybox on PATH; skipped");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let path_env = std::env::var("PATH").unwrap();
    let r = prepare_with_path(&Source::Auto, t.path(), &path_env).unwrap();
    assert_eq!(r.origin, Origin::Busybox(bb.clone()));
    assert!(r.built_in.is_some());
    let root = &r.path;

    let copy = root.join("bin/busybox");
    assert!(fs::symlink_metadata(&copy).unwrap().is_file());
    assert_eq!(fs::metadata(&copy).unwrap().len(), fs::metadata(&bb).unwrap().len());
    // /bin/sh is a link that resolves, inside the tree, to that copy.
    assert!(fs::symlink_metadata(root.join("bin/sh")).unwrap().file_type().is_symlink());
    assert_eq!(resolve_inside(root, Path::new("/bin/sh")).unwrap().unwrap(), copy);

    let mut links = 0;
    for dir in ["", "bin", "sbin", "usr/bin", "usr/sbin"] {
        for e in fs::read_dir(root.join(dir)).unwrap().flatten() {
            if fs::read_link(e.path()).is_ok_and(|t| t == Path::new("/bin/busybox")) {
                links += 1;
            }
        }
    }
    assert!(links >= 200, "only {links} applet links");
    // + busybox + passwd, group, hostname + dojo, burn and (on the release arches) escape_chroot
    let tools = 2 + usize::from(crate::rootfs::escape_elf::escape_chroot_elf().is_some());
    assert_eq!(r.files, links + 1 + 3 + tools as u64);
    assert!(root.join("usr/local/bin/dojo").is_file());
    assert!(root.join("usr/local/bin/burn").is_file());

    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    assert!(passwd.starts_with("root:x:0:0:") && passwd.contains("\nnobody:x:65534:"));
    assert!(fs::read_to_string(root.join("etc/group")).unwrap().contains("nogroup:x:65534:"));
    assert_eq!(fs::read_to_string(root.join("etc/hostname")).unwrap(), "nsdojo\n");
    for d in ["proc", "sys", "dev", "tmp", "root", "usr/bin", "usr/sbin", "sbin"] {
        assert!(root.join(d).is_dir(), "{d}");
    }
    assert_eq!(fs::metadata(root.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);
}

#[test]
fn cache_hit_then_rebuild_when_the_source_changes() {
    let t = tempfile::tempdir().unwrap();
    let Some(bin) = private_busybox(t.path()) else {
        eprintln!("no static busybox on PATH; skipped");
        return;
    };
    let (cache, path_env) = (t.path().join("cache"), bin.to_str().unwrap().to_string());
    let first = prepare_with_path(&Source::Auto, &cache, &path_env).unwrap();
    assert_eq!(first.origin, Origin::Busybox(bin.join("busybox")));
    assert!(first.built_in.is_some());

    let hit = prepare_with_path(&Source::Auto, &cache, &path_env).unwrap();
    assert_eq!(hit.built_in, None);
    assert_eq!((&hit.path, hit.files, hit.bytes), (&first.path, first.files, first.bytes));

    // Touch: same content, new mtime -> rebuilt into a new entry.
    let f = fs::File::options().write(true).open(bin.join("busybox")).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600)).unwrap();
    drop(f); // an fd open for writing makes exec fail with ETXTBSY
    let touched = prepare_with_path(&Source::Auto, &cache, &path_env).unwrap();
    assert!(touched.built_in.is_some());
    assert_ne!(touched.path, first.path);

    // Replace: a different file at the same path.
    let mut data = fs::read(bin.join("busybox")).unwrap();
    data.extend_from_slice(b"\0padding");
    fs::write(bin.join("busybox"), data).unwrap();
    let replaced = prepare_with_path(&Source::Auto, &cache, &path_env).unwrap();
    assert!(replaced.built_in.is_some());
    assert_ne!(replaced.path, touched.path);
    assert_eq!(
        fs::metadata(replaced.path.join("bin/busybox")).unwrap().len(),
        fs::metadata(bin.join("busybox")).unwrap().len()
    );
}

#[test]
fn dynamic_or_non_executable_busybox_is_passed_over() {
    let t = tempfile::tempdir().unwrap();
    let Some(good) = private_busybox(t.path()) else {
        eprintln!("no static busybox on PATH; skipped");
        return;
    };
    // Earlier on PATH: a dynamically linked "busybox" and a non-executable one.
    let dynamic = t.path().join("dyn");
    fs::create_dir(&dynamic).unwrap();
    fs::copy(fs::canonicalize("/bin/sh").unwrap(), dynamic.join("busybox")).unwrap();
    let noexec = t.path().join("noexec");
    fs::create_dir(&noexec).unwrap();
    fs::copy(good.join("busybox"), noexec.join("busybox")).unwrap();
    fs::set_permissions(noexec.join("busybox"), fs::Permissions::from_mode(0o644)).unwrap();

    let path_env = format!("{}:{}:{}", dynamic.display(), noexec.display(), good.display());
    assert_eq!(find_static_busybox(&path_env), Some(good.join("busybox")));
    assert_eq!(find_static_busybox(&format!("{}:{}", dynamic.display(), noexec.display())), None);
}
