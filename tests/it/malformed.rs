//! Bad input never hurts: the malformed-lesson corpus in `tests/malformed/`.
//!
//! Every file there holds one mistake. `nsdojo check FILE` must answer with
//! exit 1 and exactly one stderr line, `FILE:LINE:COL: message`, pointing at
//! the mistake; `nsdojo --lessons DIR list` with one clear line and exit 2;
//! and nothing may ever panic. [`CASES`] records where each file's mistake is.

use std::path::{Path, PathBuf};

use crate::harness::{repo, Done, Test};

/// A corpus file and the start of the line `nsdojo check` must print for it.
struct Case {
    file: &'static str,
    line: usize,
    col: usize,
    /// The message, or its beginning.
    message: &'static str,
}

const fn case(file: &'static str, line: usize, col: usize, message: &'static str) -> Case {
    Case { file, line, col, message }
}

/// Line 1 of every file is a comment saying what is wrong; the mistake follows.
const CASES: &[Case] = &[
    // TOML syntax
    case("syntax-unclosed-table-header.toml", 5, 7, "invalid table header expected `.`, `]]`"),
    case("syntax-unclosed-string.toml", 3, 17, "invalid basic string"),
    // toml points just past the bad escape `\q`.
    case("syntax-bad-escape.toml", 6, 19, "invalid escape sequence"),
    case("syntax-duplicate-key.toml", 4, 1, "duplicate key `id` in document root"),
    case("syntax-missing-equals.toml", 3, 10, "expected `.`, `=`"),
    case("syntax-unclosed-array.toml", 8, 1, "invalid array expected `]`"),
    // wrong types and missing fields
    case("type-id-number.toml", 2, 6, "invalid type: integer `42`, expected a string"),
    case("type-do-string.toml", 7, 6, "invalid type: string \"unshare mnt\", expected a sequence"),
    case("type-step-table.toml", 5, 1, "invalid type: map, expected a sequence"),
    case("type-text-en-array.toml", 6, 11, "invalid type: sequence, expected a string"),
    case("type-rootfs-string.toml", 4, 10, "invalid type: string \"yes\", expected a boolean"),
    case("missing-id.toml", 1, 1, "missing field `id`"),
    // unknown keys
    case("unknown-key-top.toml", 4, 1, "unknown field `author`, expected one of `id`"),
    case("unknown-key-step.toml", 7, 1, "unknown field `shel`, expected one of `text`, `shell`"),
    case("unknown-key-text.toml", 7, 6, "unknown field `fr`, expected `en` or `ko`"),
    // actions (`do`)
    case("action-unknown.toml", 7, 8, "unknown action `mout` (did you mean `mount`?)"),
    case("action-arity-missing.toml", 7, 34, "`pivot_root` takes 2 argument(s): pivot_root NEW_ROOT PUT_OLD"),
    case("action-arity-extra.toml", 7, 15, "`chroot` takes 1 argument(s): chroot DIR"),
    case("action-mount-unknown-fs.toml", 7, 14, "expected `mount tmpfs DIR [OPTIONS]`"),
    case("action-unknown-namespace.toml", 7, 20, "unknown namespace `bogus` (known: mnt uts"),
    case("action-unshare-nothing.toml", 7, 15, "unshare needs namespaces"),
    case("action-unterminated-quote.toml", 7, 24, "unterminated quoted string"),
    case("action-empty.toml", 7, 23, "empty action"),
    case("action-host-without-sh.toml", 7, 13, "expected `host sh COMMAND`"),
    case("action-escaped-newline.toml", 7, 20, "unknown namespace `u\\nts`"),
    // expectations
    case("expect-unknown-side.toml", 9, 12, "expected a fact such as `sandbox.ns.mnt`"),
    case(
        "expect-unknown-fact.toml",
        9,
        12,
        "unknown fact `sandbox.nss.mnt` (known after `sandbox.`: ns.<type>, mounts",
    ),
    case("expect-unknown-fact-right.toml", 9, 32, "unknown fact `host.hostnme`"),
    // An operator error points at the blank before where the operator should be.
    case("expect-missing-operator.toml", 9, 26, "expected an operator: == != has lacks"),
    case("expect-bad-operator.toml", 9, 26, "expected an operator: == != has lacks"),
    case("expect-two-values.toml", 9, 32, "expected one value after the operator (quote it if it has spaces)"),
    case("expect-fact-needs-arg.toml", 9, 12, "unknown fact `sandbox.mount.fstype`"),
    case("expect-arg-not-allowed.toml", 9, 12, "unknown fact `step.errno[x]`"),
    // show
    case("show-unknown-view.toml", 8, 16, "unknown view `nope` in show (known: ns, mounts"),
    case("show-ls-without-path.toml", 8, 10, "`ls` needs a PATH"),
    // structure
    case("step-empty.toml", 9, 1, "step has nothing to do, show or expect"),
    case("step-text-empty.toml", 10, 11, "step text.en is empty"),
    case("title-empty.toml", 3, 12, "lesson title.en is empty"),
    case("truncated-after-equals.toml", 3, 12, "expected a value here"),
    case("no-steps.toml", 5, 1, "lesson has no steps: add at least one [[step]]"),
    case("id-empty.toml", 2, 6, "lesson id must be non-empty letters, digits, `-` or `_`"),
    case("id-spaces.toml", 2, 6, "lesson id must be non-empty letters, digits, `-` or `_`"),
    // encoding: NUL is valid UTF-8 but not allowed in a TOML string
    case("encoding-nul-byte.toml", 6, 17, "invalid basic string"),
    case("encoding-invalid-utf8.toml", 6, 17, "not valid UTF-8 (byte 0xff); lesson files must be UTF-8"),
];

fn corpus(file: &str) -> PathBuf {
    repo("tests/malformed").join(file)
}

/// Neither stream shows a panic.
fn no_panic(d: &Done, what: &str) -> Result<(), String> {
    let all = format!("{}{}", d.stdout(), d.stderr());
    if all.contains("panicked") || all.contains("RUST_BACKTRACE") {
        return Err(format!("{what}: panicked\n{}", d.text()));
    }
    Ok(())
}

/// `nsdojo check FILE` gives exit 1, nothing on stdout and exactly one stderr line starting with `start`.
fn check_one(path: &Path, start: &str) -> Result<(), String> {
    let d = Test::new().args(["check".as_ref(), path.as_os_str()]).run();
    let what = path.display();
    no_panic(&d, &what.to_string())?;
    let err = d.stderr();
    let problems = [
        (d.out.status.code() != Some(1)).then(|| format!("exit {:?}, not 1", d.out.status.code())),
        (err.lines().count() != 1).then(|| format!("{} stderr lines, not 1", err.lines().count())),
        (!err.starts_with(start)).then(|| format!("stderr does not start with {start:?}")),
        (!d.stdout().is_empty()).then(|| "something on stdout".to_string()),
    ];
    let problems: Vec<String> = problems.into_iter().flatten().collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{what}: {}\n{}", problems.join("; "), d.text()))
    }
}

/// Run every check, then fail once with all that went wrong.
fn all_ok(results: impl IntoIterator<Item = Result<(), String>>) {
    let failed: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failed.is_empty(), "{} failed:\n\n{}", failed.len(), failed.join("\n\n"));
}

#[test]
fn the_table_covers_the_corpus() {
    let mut listed: Vec<&str> = CASES.iter().map(|c| c.file).collect();
    listed.sort();
    let before = listed.len();
    listed.dedup();
    assert_eq!(before, listed.len(), "a file is listed twice");
    let mut on_disk: Vec<String> = std::fs::read_dir(repo("tests/malformed"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    on_disk.sort();
    assert_eq!(on_disk, listed, "tests/malformed/*.toml and CASES differ");
    assert!(on_disk.len() >= 30, "the corpus has only {} files", on_disk.len());
}

#[test]
fn check_points_at_each_mistake() {
    all_ok(CASES.iter().map(|c| {
        let p = corpus(c.file);
        check_one(&p, &format!("{}:{}:{}: {}", p.display(), c.line, c.col, c.message))
    }));
}

#[test]
fn checking_the_whole_corpus_gives_one_line_per_file() {
    let dir = repo("tests/malformed");
    let d = Test::new().args(["check".as_ref(), dir.as_os_str()]).fails_with(1);
    no_panic(&d, "check tests/malformed").unwrap();
    assert_eq!(d.stdout(), "", "no corpus file is valid");
    let err = d.stderr();
    for file in CASES.iter().map(|c| c.file) {
        let start = format!("{}:", dir.join(file).display());
        let n = err.lines().filter(|l| l.starts_with(&start)).count();
        assert_eq!(n, 1, "{file}: {n} lines\n{err}");
    }
    assert_eq!(err.lines().count(), CASES.len(), "{err}");
}

#[test]
fn good_and_bad_files_together() {
    let (uts, mnt) = (repo("lessons/05-uts.toml"), repo("lessons/04-mnt.toml"));
    let bad = corpus("action-unknown.toml");
    let d = Test::new().args(["check".as_ref(), uts.as_os_str(), bad.as_os_str(), mnt.as_os_str()]).fails_with(1);
    no_panic(&d, "good and bad").unwrap();
    assert_eq!(d.stdout().lines().filter(|l| l.contains(": ok (")).count(), 2, "{}", d.text());
    let d = d.stderr_is_one_line();
    assert!(d.stderr().starts_with(&format!("{}:7:8: unknown action `mout`", bad.display())), "{}", d.text());
}

/// Copy `from` into `dir` as `name`, mode 0644: as root, `--lessons` refuses files others may write.
fn put(dir: &Path, name: &str, from: &Path) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(from, &to).unwrap();
    owner_writable_only(&to);
    to
}

fn owner_writable_only(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
}

/// A directory holding a good lesson and one corpus file.
fn lesson_dir_with(bad: &Path) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "05-uts.toml", &repo("lessons/05-uts.toml"));
    let target = put(dir.path(), &bad.file_name().unwrap().to_string_lossy(), bad);
    (dir, target)
}

#[test]
fn list_with_a_bad_lesson_gives_one_line_and_exit_2() {
    all_ok(CASES.iter().map(|c| {
        let (dir, path) = lesson_dir_with(&corpus(c.file));
        let d = Test::new().args(["--lessons".as_ref(), dir.path().as_os_str(), "list".as_ref()]).run();
        no_panic(&d, c.file)?;
        let want = format!("nsdojo: {}:{}:{}: {}", path.display(), c.line, c.col, c.message);
        let err = d.stderr();
        if d.out.status.code() == Some(2) && err.lines().count() == 1 && err.starts_with(&want) {
            Ok(())
        } else {
            Err(format!("{}: expected exit 2 and one line starting with {want:?}\n{}", c.file, d.text()))
        }
    }));
}

/// A valid lesson padded with comments to exactly `size` bytes.
fn padded_lesson(size: usize) -> Vec<u8> {
    let mut s = String::from("id = \"big\"\ntitle.en = \"Big\"\n\n[[step]]\ntext.en = \"t\"\nshow = [\"ns\"]\n");
    while s.len() + 64 <= size {
        s.push_str(&format!("# {}\n", "x".repeat(61)));
    }
    s.push('#');
    while s.len() < size - 1 {
        s.push('x');
    }
    s.push('\n');
    assert_eq!(s.len(), size);
    s.into_bytes()
}

#[test]
fn a_huge_file_is_refused_with_one_line() {
    let max = nsdojo::lesson::MAX_LESSON_BYTES;
    let dir = tempfile::tempdir().unwrap();
    let at_limit = dir.path().join("at-limit.toml");
    std::fs::write(&at_limit, padded_lesson(max)).unwrap();
    Test::new().args(["check".as_ref(), at_limit.as_os_str()]).succeeds().stdout_has("ok (big, 1 steps)");

    let huge = dir.path().join("huge.toml");
    std::fs::write(&huge, padded_lesson(max + 1)).unwrap();
    owner_writable_only(&huge);
    let start = format!("{}:1:1: file is {} bytes; lessons are limited to {max} bytes", huge.display(), max + 1);
    all_ok([check_one(&huge, &start)]);

    std::fs::remove_file(&at_limit).unwrap();
    let d = Test::new().args(["--lessons".as_ref(), dir.path().as_os_str(), "list".as_ref()]).fails_with(2);
    no_panic(&d, "list huge").unwrap();
    d.stderr_is_one_line().stderr_has(&format!("nsdojo: {start}"));
}

#[test]
fn invalid_utf8_and_nul_in_a_lesson_dir_give_one_line() {
    for (file, says) in
        [("encoding-invalid-utf8.toml", ":6:17: not valid UTF-8"), ("encoding-nul-byte.toml", ":6:17: ")]
    {
        let (dir, path) = lesson_dir_with(&corpus(file));
        let d = Test::new().args(["--lessons".as_ref(), dir.path().as_os_str(), "list".as_ref()]).fails_with(2);
        no_panic(&d, file).unwrap();
        d.stderr_is_one_line().stderr_has(&format!("nsdojo: {}", path.display())).stderr_has(says);
    }
}

#[test]
fn a_duplicate_id_in_a_lesson_dir_gives_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    for f in ["a.toml", "b.toml"] {
        put(dir, f, &corpus("dup-id").join(f));
    }
    let d = Test::new().args(["--lessons".as_ref(), dir.as_os_str(), "list".as_ref()]).fails_with(2);
    no_panic(&d, "dup-id").unwrap();
    d.stderr_is_one_line().stderr_has(&format!(
        "nsdojo: {}:2:6: duplicate lesson id `demo` (also in {}:2:6)",
        dir.join("b.toml").display(),
        dir.join("a.toml").display()
    ));
}

#[test]
fn check_finds_a_duplicate_id_across_files() {
    let dir = corpus("dup-id");
    let d = Test::new().args(["check".as_ref(), dir.as_os_str()]).fails_with(1);
    no_panic(&d, "dup-id").unwrap();
    d.stderr_is_one_line().stderr_has(&format!("{}:2:6: duplicate lesson id `demo`", dir.join("b.toml").display()));
}

#[test]
fn endless_or_blocking_files_are_refused() {
    // Under a 1 GiB address-space limit so today's unbounded read fails fast instead of eating the machine,
    // and under `timeout` because a FIFO blocks today's read forever.
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.toml");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    for path in [Path::new("/dev/zero"), fifo.as_path()] {
        let out = std::process::Command::new("sh")
            .args(["-c", "ulimit -v 1048576; exec timeout 10 \"$0\" check \"$1\""])
            .arg(crate::harness::bin())
            .arg(path)
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", path.display());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("{}:", path.display())), "{err}");
        assert!(err.contains("not a regular file") || err.contains("limited to"), "{err}");
    }
}

#[test]
fn check_on_a_dir_without_lessons_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let d = Test::new().args(["check".as_ref(), dir.path().as_os_str()]).run();
    assert_ne!(d.out.status.code(), Some(0), "{}", d.text());
    assert!(d.stderr().contains("no lesson files"), "{}", d.text());
}
