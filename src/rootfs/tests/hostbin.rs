//! The host-binary fallback: programs, loader and every library they need.

use std::collections::HashSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::super::elf::read_elf;
use super::super::ldconf::{conf_dirs, default_dirs, expand_origin, normalize};
use super::super::{prepare_with_path, Origin, RootfsError, Source};
use super::put;

/// A PATH directory with links to some host programs, and no busybox.
fn host_path_without_busybox(dir: &Path) -> String {
    for p in ["sh", "ls", "cat", "id", "grep", "ps", "mount", "ip", "uname"] {
        for d in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
            let src = Path::new(d).join(p);
            if src.exists() {
                std::os::unix::fs::symlink(&src, dir.join(p)).unwrap();
                break;
            }
        }
    }
    dir.to_str().unwrap().to_string()
}

#[test]
fn host_tree_has_shell_loader_libc_and_every_needed_library() {
    let t = tempfile::tempdir().unwrap();
    let bin = t.path().join("path");
    fs::create_dir(&bin).unwrap();
    let path_env = host_path_without_busybox(&bin);
    let cache = t.path().join("cache");
    let r = prepare_with_path(&Source::Auto, &cache, &path_env).unwrap();
    let Origin::HostBinaries(progs) = &r.origin else { panic!("{:?}", r.origin) };
    assert!(progs.contains(&bin.join("sh")), "{progs:?}");
    let root = &r.path;

    // /bin/sh is the real file (dash), not the host's symlink to it.
    let sh = root.join("bin/sh");
    let meta = fs::symlink_metadata(&sh).unwrap();
    assert!(meta.is_file() && meta.permissions().mode() & 0o111 != 0);
    assert_eq!(fs::read(&sh).unwrap(), fs::read(fs::canonicalize("/bin/sh").unwrap()).unwrap());

    // The loader at its exact path, as a real file.
    let interp = read_elf(&sh).unwrap().interp.unwrap();
    let in_tree = root.join(interp.strip_prefix("/").unwrap());
    assert!(fs::symlink_metadata(&in_tree).unwrap().is_file(), "{in_tree:?}");

    // Every DT_NEEDED of every ELF file in the tree is in one of the
    // directories the loader searches by default.
    let dirs: Vec<PathBuf> = default_dirs().iter().map(|d| root.join(d.strip_prefix("/").unwrap())).collect();
    let mut checked = HashSet::new();
    let mut saw_libc = false;
    for file in walk(root) {
        let Ok(info) = read_elf(&file) else { continue };
        for needed in &info.needed {
            saw_libc |= needed.starts_with("libc.so");
            let found = dirs.iter().any(|d| d.join(needed).is_file());
            assert!(found, "{} needs {needed}, not in the tree", file.display());
            checked.insert(needed.clone());
        }
    }
    assert!(saw_libc && checked.len() >= 2, "{checked:?}");
    assert!(root.join("etc/passwd").is_file());
    assert_eq!(fs::metadata(root.join("tmp")).unwrap().permissions().mode() & 0o7777, 0o1777);

    // Second time: a cache hit.
    let again = prepare_with_path(&Source::Auto, &cache, &path_env).unwrap();
    assert_eq!((again.built_in, &again.path), (None, &r.path));
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(e.path());
            } else if ft.is_file() {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn nothing_to_build_from() {
    let t = tempfile::tempdir().unwrap();
    let empty = t.path().join("empty");
    fs::create_dir(&empty).unwrap();
    let path_env = format!("{}:", empty.display());
    let e = prepare_with_path(&Source::Auto, &t.path().join("cache"), &path_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("no static busybox and no host /bin/sh found to build a rootfs from (PATH={path_env})")
    );
}

#[test]
fn programs_that_are_scripts_are_left_out() {
    let t = tempfile::tempdir().unwrap();
    let bin = t.path().join("path");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink("/bin/sh", bin.join("sh")).unwrap();
    put(&bin, "ls", "#!/bin/sh\n", 0o755);
    let r = prepare_with_path(&Source::Auto, &t.path().join("cache"), bin.to_str().unwrap()).unwrap();
    assert_eq!(r.origin, Origin::HostBinaries(vec![bin.join("sh")]));
    assert!(!r.path.join("bin/ls").exists());
    // A script as sh is fatal: there would be no shell.
    fs::remove_file(bin.join("sh")).unwrap();
    put(&bin, "sh", "#!/bin/dash\n", 0o755);
    let e = prepare_with_path(&Source::Auto, &t.path().join("cache"), bin.to_str().unwrap()).unwrap_err();
    assert!(matches!(e, RootfsError::BadElf { .. }), "{e}");
}

#[test]
fn ld_so_conf_includes_globs_and_comments() {
    let t = tempfile::tempdir().unwrap();
    let conf = put(t.path(), "ld.so.conf", "# comment\ninclude conf.d/*.conf\n/opt/top # trailing\nhwcap 0 x\n", 0o644);
    put(t.path(), "conf.d/b.conf", "/opt/b\n/opt/top\n", 0o644);
    put(t.path(), "conf.d/a.conf", "/opt/a\n", 0o644);
    put(t.path(), "conf.d/skip.txt", "/opt/no\n", 0o644);
    assert_eq!(conf_dirs(&conf), ["/opt/a", "/opt/b", "/opt/top"].map(PathBuf::from).to_vec());
    // An include loop ends.
    put(t.path(), "conf.d/c.conf", "include ../ld.so.conf\n/opt/c\n", 0o644);
    assert_eq!(conf_dirs(&conf).len(), 4);
}

#[test]
fn origin_expansion() {
    let o = Path::new("/opt/app/bin");
    assert_eq!(expand_origin("$ORIGIN/../lib", o), Some(PathBuf::from("/opt/app/lib")));
    assert_eq!(expand_origin("${ORIGIN}/x", o), Some(PathBuf::from("/opt/app/bin/x")));
    assert_eq!(expand_origin("/usr/$LIB", o), None);
    assert_eq!(expand_origin("relative", o), None);
    assert_eq!(normalize(Path::new("/../a/./b/../c")), PathBuf::from("/a/c"));
}

#[test]
fn libraries_from_odd_directories_are_also_put_next_to_libc() {
    // Found through a RUNPATH or ld.so.conf, /opt/x is not searched inside
    // the chroot (no ld.so.cache there), so the copy is linked beside libc.
    use super::super::hostbin::Plan;
    use std::collections::BTreeMap;
    let t = tempfile::tempdir().unwrap();
    let libc = put(t.path(), "host/libc.so.6", "libc", 0o755);
    let foo = put(t.path(), "host/libfoo.so.1", "foo", 0o755);
    let sh = put(t.path(), "host/sh", "sh", 0o755);
    let plan = Plan {
        programs: vec![("sh".into(), sh.clone(), sh)],
        libs: BTreeMap::from([
            (PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"), libc),
            (PathBuf::from("/opt/x/lib/libfoo.so.1"), foo),
        ]),
        stray: vec![PathBuf::from("/opt/x/lib/libfoo.so.1")],
    };
    let root = t.path().join("root");
    fs::create_dir(&root).unwrap();
    plan.build(&root).unwrap();
    use std::os::unix::fs::MetadataExt;
    let ino = |p: &str| fs::metadata(root.join(p)).unwrap().ino();
    assert_eq!(ino("opt/x/lib/libfoo.so.1"), ino("lib/x86_64-linux-gnu/libfoo.so.1"));
    assert_eq!(fs::read(root.join("bin/sh")).unwrap(), b"sh");
}
