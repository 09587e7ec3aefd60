//! Publishing into the cache: atomic, race-safe, nothing left on failure.

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use super::super::cache::{lookup, Building, Key};
use super::super::cache_dir_for;
use super::names;

fn key() -> Key {
    Key::new("test", &["source a".to_string()])
}

#[test]
fn two_builders_racing_both_end_up_with_one_tree() {
    let t = tempfile::tempdir().unwrap();
    let cache = t.path();
    // Both started before either finished: two sessions starting at once.
    let a = Building::start(cache, &key()).unwrap();
    let b = Building::start(cache, &key()).unwrap();
    fs::write(a.rootfs().join("who"), "a").unwrap();
    fs::write(b.rootfs().join("who"), "b").unwrap();
    let (pa, _) = a.publish(cache, &key(), Duration::from_millis(5), "").unwrap();
    let (pb, meta_b) = b.publish(cache, &key(), Duration::from_millis(7), "").unwrap();
    assert_eq!(pa, pb);
    assert_eq!(fs::read_to_string(pa.join("who")).unwrap(), "a"); // the winner's
    assert_eq!(meta_b.built_in, Duration::from_millis(5)); // the winner's meta
    assert_eq!(names(cache), vec![key().name]); // the loser's temp dir is gone
}

#[test]
fn a_failed_build_leaves_nothing() {
    let t = tempfile::tempdir().unwrap();
    {
        let b = Building::start(t.path(), &key()).unwrap();
        fs::write(b.rootfs().join("half"), "x").unwrap();
        // dropped without publish, as when `?` returns an error mid-build
    }
    assert!(names(t.path()).is_empty());
    assert!(lookup(t.path(), &key()).is_none());
}

#[test]
fn temp_dirs_of_dead_builders_are_removed_live_ones_kept() {
    let t = tempfile::tempdir().unwrap();
    // pid_max is at most 2^22, so this pid cannot exist.
    let dead = format!(".tmp-other-0000000000000000-{}-0", i32::MAX);
    let live = format!(".tmp-other-0000000000000000-{}-0", std::process::id());
    fs::create_dir_all(t.path().join(&dead).join("rootfs")).unwrap();
    fs::create_dir(t.path().join(&live)).unwrap();
    drop(Building::start(t.path(), &key()).unwrap());
    assert_eq!(names(t.path()), vec![live]);
}

#[test]
fn entries_are_private_and_meta_round_trips() {
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let b = Building::start(t.path(), &key()).unwrap();
    fs::write(b.rootfs().join("f"), "12345").unwrap();
    let (path, meta) = b.publish(t.path(), &key(), Duration::from_micros(1234), "note").unwrap();
    assert_eq!((meta.bytes, meta.files), (5, 1));
    let entry = path.parent().unwrap().to_path_buf();
    assert_eq!(fs::metadata(&entry).unwrap().permissions().mode() & 0o777, 0o700);
    let (again, meta2) = lookup(t.path(), &key()).unwrap();
    assert_eq!((again, meta2), (path, meta));
    assert!(fs::read_to_string(entry.join("meta")).unwrap().contains("build=note\nsource:\nnsdojo "));
}

#[test]
fn keys_are_stable_and_differ_by_source() {
    // FNV-1a of the description: the same on every Rust release.
    let k = Key::new("busybox", &["/bin/busybox 100 5.000000000".into()]);
    assert_eq!(k.name, Key::new("busybox", &["/bin/busybox 100 5.000000000".into()]).name);
    assert_ne!(k.name, Key::new("busybox", &["/bin/busybox 100 6.000000000".into()]).name);
    assert!(k.name.starts_with("busybox-") && k.name.len() == "busybox-".len() + 16);
    assert_eq!(super::super::cache::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
}

#[test]
fn default_cache_dir_rules() {
    let p = PathBuf::from;
    assert_eq!(cache_dir_for(true, Some("/x".into()), Some("/home/u".into()), 0), p("/var/cache/nsdojo"));
    assert_eq!(cache_dir_for(false, Some("/x".into()), Some("/home/u".into()), 1000), p("/x/nsdojo"));
    assert_eq!(cache_dir_for(false, Some("rel".into()), Some("/home/u".into()), 1000), p("/home/u/.cache/nsdojo"));
    assert_eq!(cache_dir_for(false, None, Some("/home/u".into()), 1000), p("/home/u/.cache/nsdojo"));
    assert_eq!(cache_dir_for(false, None, None, 1000), std::env::temp_dir().join("nsdojo-cache-1000"));
}

#[test]
fn a_relative_cache_dir_gives_an_absolute_rootfs_path() {
    use super::super::{prepare_with_path, Source};
    let t = tempfile::tempdir().unwrap();
    let tar = t.path().join("t.tar");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_path("bin/sh").unwrap();
    h.set_mode(0o755);
    h.set_size(0);
    h.set_cksum();
    b.append(&h, &b""[..]).unwrap();
    fs::write(&tar, b.into_inner().unwrap()).unwrap();
    // A path relative to the current directory: `..`s up to / and back down.
    let cwd = std::env::current_dir().unwrap();
    let up = "../".repeat(cwd.components().count());
    let rel = PathBuf::from(format!("{up}{}", t.path().join("cache").display().to_string().trim_start_matches('/')));
    let r = prepare_with_path(&Source::Tar(tar), &rel, "").unwrap();
    assert!(r.path.is_absolute() && r.path.join("bin/sh").is_file(), "{:?}", r.path);
}
