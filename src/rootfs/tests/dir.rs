//! `Source::Dir` and the /bin/sh check, which resolves links inside the tree.

use std::path::Path;

use super::super::shell_check::{check_shell, resolve_inside};
use super::super::{prepare_with_path, Origin, RootfsError, Source};
use super::{link, put};

fn prepare_dir(dir: &Path) -> Result<super::super::Rootfs, RootfsError> {
    // Dir never touches the cache; give it one that would fail if it did.
    prepare_with_path(&Source::Dir(dir.to_path_buf()), Path::new("/nonexistent/cache"), "")
}

#[test]
fn good_tree_is_used_in_place() {
    let t = tempfile::tempdir().unwrap();
    put(t.path(), "bin/busybox", "#!fake\n", 0o755);
    link(t.path(), "bin/sh", "busybox");
    let r = prepare_dir(t.path()).unwrap();
    assert_eq!(r.path, t.path().canonicalize().unwrap());
    assert_eq!(r.origin, Origin::Dir(t.path().to_path_buf()));
    assert_eq!((r.files, r.bytes), (2, 7));
    assert_eq!(r.built_in, None);
    assert!(!Path::new("/nonexistent/cache").exists());
}

#[test]
fn missing_dir_and_file_instead_of_dir() {
    let t = tempfile::tempdir().unwrap();
    let gone = t.path().join("gone");
    let e = prepare_dir(&gone).unwrap_err();
    assert_eq!(e.to_string(), format!("rootfs directory {} does not exist", gone.display()));
    let file = put(t.path(), "file", "", 0o644);
    let e = prepare_dir(&file).unwrap_err();
    assert!(matches!(e, RootfsError::NotADirectory(_)), "{e}");
}

#[test]
fn no_bin_sh() {
    let t = tempfile::tempdir().unwrap();
    put(t.path(), "bin/ls", "", 0o755);
    let e = prepare_dir(t.path()).unwrap_err();
    assert_eq!(e.to_string(), format!("rootfs directory {} has no /bin/sh", t.path().display()));
    // `bin` being a file is the same as no /bin/sh, not an I/O error.
    let t2 = tempfile::tempdir().unwrap();
    put(t2.path(), "bin", "", 0o755);
    assert!(matches!(prepare_dir(t2.path()).unwrap_err(), RootfsError::NoShell(_)));
}

#[test]
fn not_executable_names_the_mode() {
    let t = tempfile::tempdir().unwrap();
    put(t.path(), "bin/sh", "", 0o644);
    let e = prepare_dir(t.path()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}/bin/sh is not executable (mode 0644)", t.path().display()));
    // Checked on the link's target, not on the link (always 0777).
    let t2 = tempfile::tempdir().unwrap();
    put(t2.path(), "bin/dash", "", 0o600);
    link(t2.path(), "bin/sh", "dash");
    assert!(matches!(check_shell(t2.path()), Err(RootfsError::ShellNotExecutable { mode: 0o600, .. })));
}

#[test]
fn a_directory_is_not_a_shell() {
    let t = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(t.path().join("bin/sh")).unwrap();
    let e = check_shell(t.path()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}/bin/sh is a directory, not a program", t.path().display()));
}

#[test]
fn absolute_link_means_inside_the_tree_not_the_host() {
    // The host has /usr/bin/dash (and this test machine /bin/busybox), the
    // tree does not: an absolute link must not be satisfied by the host's file.
    let t = tempfile::tempdir().unwrap();
    assert!(Path::new("/usr/bin/dash").exists() || Path::new("/bin/busybox").exists());
    link(t.path(), "bin/sh", "/usr/bin/dash");
    let e = prepare_dir(t.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}/bin/sh -> /usr/bin/dash: dangling link inside the rootfs", t.path().display())
    );

    link(t.path(), "bin/ash", "/bin/busybox");
    let e = resolve_inside(t.path(), Path::new("/bin/ash")).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}/bin/ash -> /bin/busybox: dangling link inside the rootfs", t.path().display())
    );

    // ... and it is found when the tree has it.
    put(t.path(), "bin/busybox", "", 0o755);
    std::fs::remove_file(t.path().join("bin/sh")).unwrap();
    link(t.path(), "bin/sh", "/bin/busybox");
    assert!(prepare_dir(t.path()).is_ok());
    let real = resolve_inside(t.path(), Path::new("/bin/sh")).unwrap().unwrap();
    assert_eq!(real, t.path().join("bin/busybox"));
}

#[test]
fn dangling_relative_link_names_the_link_that_dangles() {
    let t = tempfile::tempdir().unwrap();
    // Merged /usr: bin -> usr/bin is fine, usr/bin/sh -> dash is not.
    link(t.path(), "bin", "usr/bin");
    link(t.path(), "usr/bin/sh", "dash");
    let e = prepare_dir(t.path()).unwrap_err();
    assert_eq!(e.to_string(), format!("{}/usr/bin/sh -> dash: dangling link inside the rootfs", t.path().display()));
    put(t.path(), "usr/bin/dash", "", 0o755);
    assert!(prepare_dir(t.path()).is_ok());
}

#[test]
fn link_loop() {
    let t = tempfile::tempdir().unwrap();
    link(t.path(), "bin/sh", "sh2");
    link(t.path(), "bin/sh2", "/bin/sh");
    let e = prepare_dir(t.path()).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("{}/bin/sh: too many levels of symbolic links inside the rootfs (a link loop)", t.path().display())
    );
}

#[test]
fn dotdot_stops_at_the_tree_root() {
    // As after chroot: /../../bin/busybox is /bin/busybox.
    let t = tempfile::tempdir().unwrap();
    put(t.path(), "bin/busybox", "", 0o755);
    link(t.path(), "bin/sh", "../../../../bin/busybox");
    assert_eq!(resolve_inside(t.path(), Path::new("/bin/sh")).unwrap().unwrap(), t.path().join("bin/busybox"));
    assert!(check_shell(t.path()).is_ok());
}
