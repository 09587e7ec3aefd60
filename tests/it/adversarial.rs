//! nsdojo runs as root and writes where the person at the keyboard asks: a link someone
//! planted there must not redirect root's write. The unprivileged user here is `nobody`
//! (65534), who exists on every Debian/Ubuntu machine, so the test adds no user to the host.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use crate::harness::{require_root, Test};

const NOBODY: &str = "65534";

fn victim(dir: &Path) -> std::path::PathBuf {
    let v = dir.join("victim");
    std::fs::write(&v, "precious\n").unwrap();
    v
}

fn record(to: &Path) -> Test {
    Test::new().args(["run".as_ref(), "uts".as_ref(), "--record".as_ref(), to.as_os_str()])
}

/// As root (no sudo): a symlink or a hard link at the --record target is refused, and what it
/// points at is untouched.
#[test]
fn record_refuses_a_planted_link_as_root() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    let victim = victim(dir.path());
    let sym = dir.path().join("handout.md");
    std::os::unix::fs::symlink(&victim, &sym).unwrap();
    record(&sym).without_env("SUDO_UID").without_env("SUDO_GID").fails_with(2).stderr_has("symbolic link");
    let hard = dir.path().join("hard.md");
    std::fs::hard_link(&victim, &hard).unwrap();
    record(&hard).without_env("SUDO_UID").without_env("SUDO_GID").fails_with(2).stderr_has("hard links");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // A FIFO with no reader: refused at once, not a hung session (open would block without O_NONBLOCK).
    let fifo = dir.path().join("fifo.md");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o666)).unwrap();
    record(&fifo).without_env("SUDO_UID").without_env("SUDO_GID").fails_with(2);
    // And a plain new file works, owned by root.
    let fresh = dir.path().join("fresh.md");
    record(&fresh).without_env("SUDO_UID").without_env("SUDO_GID").succeeds();
    assert!(std::fs::read_to_string(&fresh).unwrap().contains("uts"));
}

/// Under sudo, the file is opened as the invoking user: where that user may not write (a
/// root-owned file, through a symlink or not), nsdojo does not write either; where they may,
/// the handout is theirs.
#[test]
fn record_under_sudo_writes_only_what_the_user_could() {
    let _g = require_root!();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let victim = victim(dir.path());
    let as_nobody = |t: Test| t.env("SUDO_UID", NOBODY).env("SUDO_GID", NOBODY).env("SUDO_USER", "nobody");
    // Straight at a root-owned file.
    as_nobody(record(&victim)).fails_with(2);
    // Through a symlink nobody planted (created as nobody would: the link's owner does not matter).
    let sym = dir.path().join("handout.md");
    std::os::unix::fs::symlink(&victim, &sym).unwrap();
    as_nobody(record(&sym)).fails_with(2);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let mine = dir.path().join("mine.md");
    as_nobody(record(&mine)).succeeds();
    let meta = std::fs::metadata(&mine).unwrap();
    assert_eq!(meta.uid(), 65534, "the handout belongs to the student");
    assert!(std::fs::read_to_string(&mine).unwrap().contains("uts"));
}

/// Progress and history (REPL) at planted symlinks to a root-owned file: as root and as
/// nobody under sudo, the file they point at is neither written nor read into the history.
#[test]
fn progress_and_history_never_go_through_a_planted_link() {
    let _g = require_root!();
    for sudo in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
        let victim = victim(dir.path());
        let (progress, history) = (dir.path().join("progress.json"), dir.path().join("history"));
        std::os::unix::fs::symlink(&victim, &progress).unwrap();
        std::os::unix::fs::symlink(&victim, &history).unwrap();
        let mut cmd = std::process::Command::new(crate::harness::bin());
        cmd.env("NO_COLOR", "1").env("NSDOJO_PROGRESS", &progress).env("NSDOJO_HISTORY", &history);
        cmd.env_remove("SUDO_UID").env_remove("SUDO_GID").env_remove("SUDO_USER");
        if sudo {
            cmd.env("SUDO_UID", NOBODY).env("SUDO_GID", NOBODY).env("SUDO_USER", "nobody");
        }
        cmd.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"lesson uts\nnext\nquit\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "sudo={sudo}: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n", "sudo={sudo}");
        assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0, "sudo={sudo}: not chowned");
        // Nothing of the victim shows up as a resumed lesson or a history line.
        assert!(!String::from_utf8_lossy(&out.stdout).contains("precious"), "sudo={sudo}");
    }
}

/// A dead session's record, written as a killed session leaves it (its owner and watchdog
/// are a PID that has exited). Returns the record's path.
fn dead_record(id: &str, fields: serde_json::Value) -> std::path::PathBuf {
    let gone = std::process::Command::new("true").spawn().unwrap();
    let pid = gone.id();
    let _ = { gone }.wait();
    let mut rec = serde_json::json!({
        "id": id, "owner": pid, "watchdog": pid, "dirs": [], "cgroups": [], "mounts": []
    });
    for (k, v) in fields.as_object().unwrap() {
        rec[k] = v.clone();
    }
    std::fs::create_dir_all("/run/nsdojo").unwrap();
    std::fs::set_permissions("/run/nsdojo", std::fs::Permissions::from_mode(0o700)).unwrap();
    let path = Path::new("/run/nsdojo").join(format!("{id}.json"));
    std::fs::write(&path, serde_json::to_vec(&rec).unwrap()).unwrap();
    path
}

/// A directory's identity as the session records it.
fn identity(p: &Path) -> serde_json::Value {
    let m = std::fs::symlink_metadata(p).unwrap();
    let born = m.created().ok().map(|t| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
    serde_json::json!({ "path": p, "dev": m.dev(), "ino": m.ino(), "born_ns": born })
}

/// `nsdojo cleanup` removes a recorded work dir only while it is the directory nsdojo made:
/// one swapped for another (new inode), or one it never confirmed making that holds files,
/// is left alone; the record is kept for what it could not remove.
#[test]
fn cleanup_removes_only_the_directories_nsdojo_made() {
    let _g = require_root!();
    let top = tempfile::tempdir().unwrap();
    let (ours, swapped, unconfirmed, bare) =
        (top.path().join("ours"), top.path().join("swapped"), top.path().join("unconfirmed"), top.path().join("bare"));
    for d in [&ours, &swapped, &unconfirmed, &bare] {
        std::fs::create_dir(d).unwrap();
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    std::fs::write(ours.join("f"), "x").unwrap();
    let ours_id = identity(&ours);
    let swapped_id = identity(&swapped);
    // Swapped: removed and made again by someone else, with their files in it (the file
    // system may well give it the same inode number).
    std::fs::remove_dir(&swapped).unwrap();
    std::fs::create_dir(&swapped).unwrap();
    std::fs::write(swapped.join("theirs"), "x").unwrap();
    std::fs::write(unconfirmed.join("theirs"), "x").unwrap();
    let record = dead_record(
        "adv-dirs-1",
        serde_json::json!({
            "dirs": [ours, swapped, unconfirmed, bare],
            "dir_ids": [ours_id, swapped_id],
        }),
    );
    Test::new().args(["cleanup"]).succeeds();
    assert!(!ours.exists(), "its own directory, files and all, is removed");
    assert!(!bare.exists(), "a bare 0700 root directory it recorded (crash before confirming) is removed");
    assert!(swapped.join("theirs").exists(), "a directory swapped in its place is left alone");
    assert!(unconfirmed.join("theirs").exists(), "an unconfirmed directory with files is left alone");
    let _ = std::fs::remove_file(&record);
    let _ = std::fs::remove_dir("/run/nsdojo");
}

/// A group named like a dead session's somewhere else in the cgroup tree (as a user could make
/// in a delegated subtree) survives `nsdojo cleanup`; the one at the recorded path does not.
#[test]
fn cleanup_removes_cgroups_only_at_the_recorded_paths() {
    let _g = require_root!();
    // The v1 pids hierarchy here; the v2 root on a v2-only machine.
    let base = if Path::new("/sys/fs/cgroup/pids/cgroup.procs").exists() {
        Path::new("/sys/fs/cgroup/pids")
    } else {
        Path::new("/sys/fs/cgroup")
    };
    let id = "adv-cg-1";
    let name = format!("nsdojo-{id}");
    let decoy_parent = base.join("adv-decoy");
    let decoy = decoy_parent.join(&name);
    let recorded = base.join(&name);
    std::fs::create_dir(&decoy_parent).unwrap();
    std::fs::create_dir(&decoy).unwrap();
    std::fs::create_dir(&recorded).unwrap();
    let record = dead_record(id, serde_json::json!({ "cgroups_intended": [recorded], "cgroup_names": [name] }));
    Test::new().args(["cleanup"]).succeeds();
    let decoy_survived = decoy.exists();
    let recorded_gone = !recorded.exists();
    let _ = std::fs::remove_dir(&decoy);
    let _ = std::fs::remove_dir(&decoy_parent);
    let _ = std::fs::remove_dir(&recorded);
    let _ = std::fs::remove_file(&record);
    let _ = std::fs::remove_dir("/run/nsdojo");
    assert!(decoy_survived, "a same-named group elsewhere is someone else's");
    assert!(recorded_gone, "the group at the recorded path is the session's");
}

/// A lesson file swapped, again and again, between a root-owned lesson and a link to one
/// that `nobody` owns: whatever nsdojo reads is what it checked, so the other never loads.
#[test]
fn a_lesson_swapped_for_a_link_is_never_read_unchecked() {
    let _g = require_root!();
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("lessons");
    std::fs::create_dir(&dir).unwrap();
    let lesson =
        |id: &str| format!("id = \"{id}\"\ntitle.en = \"{id}\"\n[[step]]\ntext.en = \"t\"\ndo = [\"sh true\"]\n");
    let good = top.path().join("good.toml");
    std::fs::write(&good, lesson("good")).unwrap();
    let evil = top.path().join("evil.toml");
    std::fs::write(&evil, lesson("evil")).unwrap();
    std::os::unix::fs::chown(&evil, Some(65534), Some(65534)).unwrap();
    let target = dir.join("a.toml");
    std::fs::copy(&good, &target).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flipper = {
        let (stop, dir, good, evil, target) = (stop.clone(), dir.clone(), good.clone(), evil.clone(), target.clone());
        std::thread::spawn(move || {
            let tmp = dir.join(".swap");
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let _ = std::fs::remove_file(&tmp);
                let _ = if n.is_multiple_of(2) {
                    std::os::unix::fs::symlink(&evil, &tmp)
                } else {
                    std::os::unix::fs::symlink(&good, &tmp)
                };
                let _ = std::fs::rename(&tmp, &target);
                n += 1;
            }
        })
    };
    let mut loaded_evil = 0;
    for _ in 0..150 {
        let out = Test::new().args(["--lessons".as_ref(), dir.as_os_str(), "list".as_ref()]).run();
        if out.out.status.success() && out.stdout().contains("evil") {
            loaded_evil += 1;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    flipper.join().unwrap();
    assert_eq!(loaded_evil, 0, "a lesson nobody owns was loaded as root");
}

/// What cleanup cannot remove stays in the record, so `nsdojo cleanup` can try again later
/// (here: a file made immutable in the session's directory, then made mutable again).
#[test]
fn a_record_is_kept_until_everything_in_it_is_gone() {
    let _g = require_root!();
    let top = tempfile::tempdir().unwrap();
    let ours = top.path().join("ours");
    std::fs::create_dir(&ours).unwrap();
    let stuck = ours.join("stuck");
    std::fs::write(&stuck, "x").unwrap();
    let chattr = |flag: &str| std::process::Command::new("chattr").arg(flag).arg(&stuck).status().unwrap().success();
    assert!(chattr("+i"), "chattr +i (ext4, as root) must work here");
    let record = dead_record("adv-keep-1", serde_json::json!({ "dirs": [ours], "dir_ids": [identity(&ours)] }));
    Test::new().args(["cleanup"]).succeeds();
    let kept = record.exists();
    assert!(chattr("-i"));
    assert!(kept, "the record outlives a failed removal");
    Test::new().args(["cleanup"]).succeeds();
    assert!(!ours.exists() && !record.exists(), "and the second try finishes the job");
    let _ = std::fs::remove_dir("/run/nsdojo");
}

/// A work dir someone else made first, at the path a running session will use (its id is no
/// secret once the session runs: /tmp/nsdojo-ID is listed in /tmp): the lesson refuses to
/// start there, and the directory and its files survive the session.
#[test]
fn a_work_dir_someone_made_first_is_refused_and_left_alone() {
    let _g = require_root!();
    let (mut p, _home) = crate::repl::repl(&[]);
    let pid = crate::harness::pty_pid(&p);
    let id = std::fs::read_dir("/run/nsdojo")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".json").map(str::to_string))
        .find(|id| id.starts_with(&format!("{pid}-")))
        .expect("the session's record");
    let theirs = Path::new("/tmp").join(format!("nsdojo-{id}"));
    std::fs::create_dir(&theirs).unwrap();
    std::fs::write(theirs.join("theirs"), "x").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    p.send_line("lesson mnt").unwrap();
    p.exp_string("could not prepare the work directory").unwrap();
    p.exp_string("File exists").unwrap();
    p.send_line("quit").unwrap();
    p.exp_eof().unwrap();
    let survived = theirs.join("theirs").exists();
    let _ = std::fs::remove_dir_all(&theirs);
    assert!(survived, "nsdojo removed a directory it did not make");
    assert!(!Path::new("/run/nsdojo").join(format!("{id}.json")).exists(), "and its record is gone");
}
