//! Where lessons come from: the built-in ones compiled into the binary, and files or
//! directories given with `--lessons`, read with care (a lesson runs commands as root).

use std::path::{Path, PathBuf};

use super::{line_col, parse_lesson, trust, Lesson, LessonError, MAX_LESSON_BYTES};

/// The lessons compiled into the binary, in curriculum order.
pub const BUILTIN: &[(&str, &str)] = &[
    ("01-chroot.toml", include_str!("../../lessons/01-chroot.toml")),
    ("02-escape.toml", include_str!("../../lessons/02-escape.toml")),
    ("03-pivot_root.toml", include_str!("../../lessons/03-pivot_root.toml")),
    ("04-mnt.toml", include_str!("../../lessons/04-mnt.toml")),
    ("05-uts.toml", include_str!("../../lessons/05-uts.toml")),
    ("06-ipc.toml", include_str!("../../lessons/06-ipc.toml")),
    ("07-pid.toml", include_str!("../../lessons/07-pid.toml")),
    ("08-net.toml", include_str!("../../lessons/08-net.toml")),
    ("09-user.toml", include_str!("../../lessons/09-user.toml")),
    ("10-cgroupns.toml", include_str!("../../lessons/10-cgroupns.toml")),
    ("11-cgroup-cpu.toml", include_str!("../../lessons/11-cgroup-cpu.toml")),
    ("12-cgroup-memory.toml", include_str!("../../lessons/12-cgroup-memory.toml")),
    ("13-cgroup-pids.toml", include_str!("../../lessons/13-cgroup-pids.toml")),
    ("14-doors.toml", include_str!("../../lessons/14-doors.toml")),
    ("15-container.toml", include_str!("../../lessons/15-container.toml")),
    ("16-rootless.toml", include_str!("../../lessons/16-rootless.toml")),
    ("17-veth.toml", include_str!("../../lessons/17-veth.toml")),
];

/// Errors from loading a set of lessons.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Lesson(#[from] LessonError),
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{0}: no lesson files (*.toml) found")]
    Empty(String),
    #[error(transparent)]
    Untrusted(#[from] trust::Untrusted),
}

/// The id a lesson source declares (`id = "…"` on a line of its own), without parsing it.
pub(super) fn declared_id(src: &str) -> Option<&str> {
    src.lines().find_map(|l| {
        l.trim().strip_prefix("id")?.trim_start().strip_prefix('=')?.trim().strip_prefix('"')?.strip_suffix('"')
    })
}

/// Only the built-in lessons named by `keys` (ids or 1-based numbers), parsed; the others are
/// not (parsing all thirteen is most of the cost of starting `nsdojo run X`).
pub fn builtin_selected(keys: &[String]) -> Option<Vec<Lesson>> {
    let mut picked = Vec::new();
    for key in keys {
        let index = match key.parse::<usize>() {
            Ok(n) => n.checked_sub(1).filter(|i| *i < BUILTIN.len())?,
            Err(_) => BUILTIN.iter().position(|(_, src)| declared_id(src) == Some(key.as_str()))?,
        };
        let (name, src) = BUILTIN[index];
        picked.push(parse_lesson(&format!("builtin:{name}"), src).expect("built-in lessons are validated by tests"));
    }
    Some(picked)
}

pub fn builtin() -> Vec<Lesson> {
    BUILTIN
        .iter()
        .map(|(name, src)| {
            parse_lesson(&format!("builtin:{name}"), src).expect("built-in lessons are validated by tests")
        })
        .collect()
}

/// Load one lesson file.
pub fn load_file(path: &Path) -> Result<Lesson, LoadError> {
    load_file_checked(path, false)
}

/// [`load_file`]; with `root_only`, refuse a file a non-root user could have written. The
/// check is made on the file as opened, and the same open file is read: swapping the path
/// for a link between the check and the read changes nothing.
pub fn load_file_checked(path: &Path, root_only: bool) -> Result<Lesson, LoadError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let shown = path.display().to_string();
    let at_start = |message: String| LessonError { file: shown.clone(), line: 1, col: 1, message };
    let io = |source| LoadError::Io { path: shown.clone(), source };
    // O_PATH first: it opens nothing (no device is touched, a FIFO does not block), yet pins
    // the inode, whose type and owner are checked; only a regular file is then opened for
    // reading, through that same inode (/proc/self/fd), so nothing swapped in can be read.
    let pinned = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_PATH).open(path).map_err(io)?;
    let meta = pinned.metadata().map_err(io)?;
    if root_only {
        trust::verdict_of(&meta, &shown)?;
    }
    if !meta.is_file() {
        // A FIFO would block, /dev/zero would never end, and opening a device can act.
        return Err(at_start("not a regular file; a lesson is a .toml file".into()).into());
    }
    let file =
        std::fs::File::open(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&pinned))).map_err(io)?;
    if meta.len() > MAX_LESSON_BYTES as u64 {
        return Err(
            at_start(format!("file is {} bytes; lessons are limited to {MAX_LESSON_BYTES} bytes", meta.len())).into()
        );
    }
    let mut bytes = Vec::new();
    file.take(MAX_LESSON_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() > MAX_LESSON_BYTES {
        // It grew while we read it.
        return Err(at_start(format!("file is over {MAX_LESSON_BYTES} bytes; lessons are limited to that")).into());
    }
    let src = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let before = std::str::from_utf8(&bytes[..valid]).unwrap_or_default();
        let (line, col) = line_col(before, valid);
        LessonError {
            file: shown.clone(),
            line,
            col,
            message: format!("not valid UTF-8 (byte 0x{:02x}); lesson files must be UTF-8", bytes[valid]),
        }
    })?;
    Ok(parse_lesson(&shown, &src)?)
}

/// The error for a lesson whose id one of `earlier` already has, pointing at its id.
pub fn duplicate_id(lesson: &Lesson, earlier: &[Lesson]) -> Option<LessonError> {
    let other = earlier.iter().find(|o| o.id == lesson.id)?;
    Some(LessonError {
        file: lesson.origin.clone(),
        line: lesson.id_at.0,
        col: lesson.id_at.1,
        message: format!(
            "duplicate lesson id `{}` (also in {}:{}:{})",
            lesson.id, other.origin, other.id_at.0, other.id_at.1
        ),
    })
}

/// Load lessons from files and directories (a directory: its `*.toml`, sorted by name).
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Lesson>, LoadError> {
    load_paths_checked(paths, false)
}

/// [`load_paths`]; with `root_only`, each file as opened must be root's and not writable by
/// group or others (see [`trust`]).
pub fn load_paths_checked(paths: &[PathBuf], root_only: bool) -> Result<Vec<Lesson>, LoadError> {
    let mut files = Vec::new();
    for p in paths {
        files.extend(lesson_files(p)?);
    }
    let mut lessons: Vec<Lesson> = Vec::new();
    for f in files {
        let l = load_file_checked(&f, root_only)?;
        if let Some(e) = duplicate_id(&l, &lessons) {
            return Err(e.into());
        }
        lessons.push(l);
    }
    Ok(lessons)
}

/// The lesson files `p` names: itself, or a directory's `*.toml` sorted by name (none is an error).
fn lesson_files(p: &Path) -> Result<Vec<PathBuf>, LoadError> {
    if !p.is_dir() {
        return Ok(vec![p.to_path_buf()]);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir(p)
        .map_err(|source| LoadError::Io { path: p.display().to_string(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|x| x == "toml"))
        .collect();
    if found.is_empty() {
        return Err(LoadError::Empty(p.display().to_string()));
    }
    found.sort();
    Ok(found)
}

/// One finding of [`check_paths`], in the order the files were read.
#[derive(Debug)]
pub enum Checked {
    /// The file holds a valid lesson.
    Valid { file: PathBuf, lesson: Lesson },
    /// A file, or a directory without lesson files, that is not one.
    Invalid(LoadError),
}

/// What `nsdojo check PATHS` reports: like [`load_paths`], but every file is read and every
/// mistake found, rather than stopping at the first. Err only when a directory cannot be listed.
pub fn check_paths(paths: &[PathBuf]) -> Result<Vec<Checked>, LoadError> {
    let mut out = Vec::new();
    let mut valid: Vec<Lesson> = Vec::new();
    for p in paths {
        let files = match lesson_files(p) {
            Err(e @ LoadError::Empty(_)) => {
                out.push(Checked::Invalid(e));
                continue;
            }
            other => other?,
        };
        for file in files {
            match load_file(&file).map(|l| (duplicate_id(&l, &valid), l)) {
                Ok((None, lesson)) => {
                    valid.push(lesson.clone());
                    out.push(Checked::Valid { file, lesson });
                }
                Ok((Some(dup), _)) => out.push(Checked::Invalid(dup.into())),
                Err(e) => out.push(Checked::Invalid(e)),
            }
        }
    }
    Ok(out)
}

/// Find a lesson by id or 1-based number.
pub fn find<'a>(lessons: &'a [Lesson], key: &str) -> Option<(usize, &'a Lesson)> {
    if let Ok(n) = key.parse::<usize>() {
        return lessons.get(n.checked_sub(1)?).map(|l| (n - 1, l));
    }
    lessons.iter().enumerate().find(|(_, l)| l.id == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LESSON: &str = "id = \"ID\"\ntitle.en = \"T\"\n\n[[step]]\ntext.en = \"t\"\ndo = [\"unshare uts\"]\n";

    #[test]
    fn check_reads_every_file_and_reports_each_mistake() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        write("1-a.toml", &LESSON.replace("ID", "a"));
        write("2-bad.toml", &LESSON.replace("ID", "b").replace("unshare uts", "cgroup create cpuset"));
        write("3-dup.toml", &LESSON.replace("ID", "a"));
        write("4-c.toml", &LESSON.replace("ID", "c"));
        write("notes.txt", "not a lesson");
        let empty = tempfile::tempdir().unwrap();
        let found = check_paths(&[dir.path().to_path_buf(), empty.path().to_path_buf()]).unwrap();
        let shown: Vec<String> = found
            .iter()
            .map(|c| match c {
                Checked::Valid { file, lesson } => {
                    format!("ok {} {}", file.file_name().unwrap().to_string_lossy(), lesson.id)
                }
                Checked::Invalid(e) => e.to_string(),
            })
            .collect();
        assert_eq!(shown.len(), 5, "{shown:#?}");
        assert_eq!((shown[0].as_str(), shown[3].as_str()), ("ok 1-a.toml a", "ok 4-c.toml c"));
        assert!(shown[1].ends_with("2-bad.toml:6:22: unknown controller `cpuset` (cpu, memory, pids)"), "{}", shown[1]);
        assert!(shown[2].contains("duplicate lesson id `a`"), "{}", shown[2]);
        assert!(shown[4].ends_with("no lesson files (*.toml) found"), "{}", shown[4]);
        // Loading for a session stops at the first mistake instead.
        assert!(load_paths(&[dir.path().to_path_buf()]).unwrap_err().to_string().contains("cpuset"));
    }
}
