//! As root, lessons run commands as root (`sh …`), so a lesson file that a
//! non-root user could have written is refused — the same rule sudo applies
//! to sudoers. `--trust-lessons` overrides it, explicitly.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
#[error("refusing lessons from {path}: {why}; a lesson runs commands as root (fix the permissions, or pass --trust-lessons)")]
pub struct Untrusted {
    pub path: String,
    pub why: String,
}

fn verdict(p: &Path) -> Result<(), Untrusted> {
    let meta = std::fs::metadata(p).map_err(|e| Untrusted { path: p.display().to_string(), why: e.to_string() })?;
    verdict_of(&meta, &p.display().to_string())
}

/// The rule on what was found (for a file: the file as opened, which is what is then read).
pub fn verdict_of(meta: &std::fs::Metadata, shown: &str) -> Result<(), Untrusted> {
    let untrusted = |why: String| Err(Untrusted { path: shown.to_string(), why });
    if meta.uid() != 0 {
        return untrusted(format!("owned by uid {}, not root", meta.uid()));
    }
    // Sticky, root-owned directories like /tmp are fine for the directory itself.
    let sticky_dir = meta.is_dir() && meta.mode() & 0o1000 != 0;
    if meta.mode() & 0o022 != 0 && !sticky_dir {
        return untrusted(format!("writable by group or others (mode {:04o})", meta.mode() & 0o7777));
    }
    Ok(())
}

/// Check the path, its parent directories and (for a directory) every lesson file in it.
pub fn check(path: &Path) -> Result<(), Untrusted> {
    let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut chain: Vec<PathBuf> = abs.ancestors().map(Path::to_path_buf).collect();
    chain.reverse();
    for p in &chain {
        verdict(p)?;
    }
    if abs.is_dir() {
        if let Ok(rd) = std::fs::read_dir(&abs) {
            for e in rd.flatten() {
                if e.path().extension().is_some_and(|x| x == "toml") {
                    verdict(&e.path())?;
                }
            }
        }
    }
    Ok(())
}
