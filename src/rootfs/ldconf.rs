//! Where the host's dynamic loader looks for libraries.
//!
//! The real loader asks `/etc/ld.so.cache`, which `ldconfig` builds from
//! `/etc/ld.so.conf` (and the files it `include`s), then falls back to its
//! compiled-in "system search path". Reading the text files instead of the
//! binary cache gives the same directories in the same order and keeps this
//! module free of a cache-format parser.

use std::fs;
use std::path::{Component, Path, PathBuf};

/// `include` can nest; ldconfig has no limit, but a loop must stop somewhere.
const MAX_INCLUDE_DEPTH: usize = 8;

/// The directories listed in `conf` and everything it includes, in order.
pub(super) fn conf_dirs(conf: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    read_conf(conf, 0, &mut dirs);
    dirs
}

fn read_conf(conf: &Path, depth: usize, dirs: &mut Vec<PathBuf>) {
    let Ok(text) = fs::read_to_string(conf) else {
        return;
    };
    if depth > MAX_INCLUDE_DEPTH {
        return;
    }
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include").filter(|r| r.starts_with([' ', '\t'])) {
            for pat in pattern.split_whitespace() {
                // Relative include patterns are relative to the including file.
                let pat = conf.parent().unwrap_or(Path::new("/")).join(pat);
                for file in glob_last(&pat) {
                    read_conf(&file, depth + 1, dirs);
                }
            }
        } else if line.starts_with('/') {
            let dir = PathBuf::from(line);
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
        // `hwcap` lines and anything else ldconfig knows but we need not.
    }
}

/// Expand `*` and `?` in the last component of `pattern` (all that
/// `include /etc/ld.so.conf.d/*.conf` needs), sorted as ldconfig does.
fn glob_last(pattern: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (pattern.parent(), pattern.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    if !name.contains(['*', '?']) {
        return vec![pattern.to_path_buf()];
    }
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_name().to_str().is_some_and(|n| wildcard(name.as_bytes(), n.as_bytes())))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn wildcard(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => wildcard(&pat[1..], s) || (!s.is_empty() && wildcard(pat, &s[1..])),
        (Some(b'?'), Some(_)) => wildcard(&pat[1..], &s[1..]),
        (Some(p), Some(c)) if p == c => wildcard(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// The multiarch triple Debian-style systems use for this architecture.
fn multiarch() -> Option<&'static str> {
    Some(match std::env::consts::ARCH {
        "x86_64" => "x86_64-linux-gnu",
        "x86" => "i386-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        _ => return None,
    })
}

/// The loader's built-in search path, as it exists across distributions:
/// Debian's multiarch directories, Fedora's lib64, then plain lib.
pub(super) fn default_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(triple) = multiarch() {
        dirs.push(PathBuf::from(format!("/lib/{triple}")));
        dirs.push(PathBuf::from(format!("/usr/lib/{triple}")));
    }
    for d in ["/lib64", "/usr/lib64", "/lib", "/usr/lib"] {
        dirs.push(PathBuf::from(d));
    }
    dirs
}

/// Expand `$ORIGIN` (the directory of the object itself) in a RUNPATH or
/// RPATH entry. Entries with `$LIB` or `$PLATFORM` depend on the CPU in ways
/// not worth guessing for a teaching rootfs; they are skipped (`None`).
pub(super) fn expand_origin(entry: &str, origin: &Path) -> Option<PathBuf> {
    let origin = origin.to_str()?;
    let expanded = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin);
    if expanded.is_empty() || expanded.contains('$') || !expanded.starts_with('/') {
        return None;
    }
    Some(normalize(Path::new(&expanded)))
}

/// Lexically remove `.` and `..` (`/opt/x/bin/../lib` -> `/opt/x/lib`), so
/// the copy inside the rootfs gets a sensible path.
pub(super) fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}
