//! The on-disk cache of built trees, safe for several nsdojo sessions at once.
//!
//! Layout: `<cache>/<kind>-<hash>/{rootfs/, meta}`, where the hash covers
//! everything the tree was built from (path, size and mtime of the sources,
//! and the crate version, since the recipe changes between versions). A new
//! source gives a new name, so a stale tree is never *reused*; it is simply
//! left behind (see the integrator notes in mod.rs).
//!
//! A tree is built in `<cache>/.tmp-<name>-<pid>-<n>/` and published with one
//! `rename(2)`. Readers therefore see either nothing or a finished tree,
//! never a half-built one, and two sessions racing to build the same entry
//! cannot mix their files: the loser's rename fails with ENOTEMPTY, it
//! deletes its own copy and uses the winner's. If the build fails or the
//! process dies, the temp dir is removed by the guard's `Drop` or, after a
//! crash, by the next build that notices its pid is gone.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::error::{IoContext, RootfsError};

const META: &str = "meta";
const TMP_PREFIX: &str = ".tmp-";

/// The name of a cache entry plus the text it was hashed from (kept in
/// `meta`, so `cat` tells a curious student why a tree was rebuilt).
#[derive(Debug, Clone)]
pub(super) struct Key {
    pub name: String,
    pub description: String,
}

impl Key {
    pub(super) fn new(kind: &str, parts: &[String]) -> Key {
        // The recipe number changes whenever what a built tree contains changes.
        let mut description = format!("nsdojo {} recipe 6", env!("CARGO_PKG_VERSION"));
        for p in parts {
            description.push('\n');
            description.push_str(p);
        }
        Key { name: format!("{kind}-{:016x}", fnv1a(description.as_bytes())), description }
    }
}

/// FNV-1a: tiny and, unlike std's `DefaultHasher`, guaranteed to give the
/// same value in every Rust release, which a name on disk needs.
pub(super) fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// `path size mtime`, the identity of one source file for a key.
pub(super) fn stamp(path: &Path) -> Result<String, RootfsError> {
    let m = fs::metadata(path).ctx("stat", path)?;
    Ok(format!("{} {} {}.{:09}", path.display(), m.len(), m.mtime(), m.mtime_nsec()))
}

/// What is remembered about a published tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Meta {
    pub bytes: u64,
    pub files: u64,
    pub built_in: Duration,
}

/// A finished entry: `Some((rootfs path, meta))`, or `None` on a miss.
pub(super) fn lookup(cache_dir: &Path, key: &Key) -> Option<(PathBuf, Meta)> {
    let entry = cache_dir.join(&key.name);
    let rootfs = entry.join("rootfs");
    if !rootfs.is_dir() {
        return None;
    }
    let meta = read_meta(&entry.join(META)).unwrap_or_else(|| {
        // Only possible if someone edited the cache by hand; count again.
        let (bytes, files) = measure(&rootfs);
        Meta { bytes, files, built_in: Duration::ZERO }
    });
    Some((rootfs, meta))
}

fn read_meta(path: &Path) -> Option<Meta> {
    let text = fs::read_to_string(path).ok()?;
    let field = |name: &str| -> Option<u64> {
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix('=')).and_then(|v| v.trim().parse().ok())
    };
    Some(Meta {
        bytes: field("bytes")?,
        files: field("files")?,
        built_in: Duration::from_micros(field("built_in_us")?),
    })
}

/// A tree being built. Dropping it without [`Building::publish`] deletes it,
/// so an error anywhere in a build leaves nothing behind.
pub(super) struct Building {
    tmp: PathBuf,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl Building {
    pub(super) fn start(cache_dir: &Path, key: &Key) -> Result<Building, RootfsError> {
        fs::create_dir_all(cache_dir).ctx("create cache directory", cache_dir)?;
        remove_abandoned(cache_dir);
        loop {
            let n = SEQ.fetch_add(1, Ordering::Relaxed);
            let tmp = cache_dir.join(format!("{TMP_PREFIX}{}-{}-{n}", key.name, std::process::id()));
            // 0700: an unpacked tarball may hold setuid-root programs, which
            // must not be reachable by other host users through the cache.
            match fs::DirBuilder::new().mode(0o700).create(&tmp) {
                Ok(()) => {
                    let building = Building { tmp };
                    let root = building.rootfs();
                    fs::DirBuilder::new().mode(0o755).create(&root).ctx("create directory", &root)?;
                    return Ok(building);
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(RootfsError::io("create directory", &tmp, e)),
            }
        }
    }

    /// Where to put the tree's files.
    pub(super) fn rootfs(&self) -> PathBuf {
        self.tmp.join("rootfs")
    }

    /// Measure the tree, write `meta` and rename the entry into place.
    /// Returns the published rootfs path and its meta; if another session
    /// published the same key first, theirs (ours is deleted).
    pub(super) fn publish(
        self,
        cache_dir: &Path,
        key: &Key,
        built_in: Duration,
        note: &str,
    ) -> Result<(PathBuf, Meta), RootfsError> {
        let (bytes, files) = measure(&self.rootfs());
        let meta = Meta { bytes, files, built_in };
        let text = format!(
            "bytes={bytes}\nfiles={files}\nbuilt_in_us={}\nbuild={note}\nsource:\n{}\n",
            built_in.as_micros(),
            key.description
        );
        let meta_path = self.tmp.join(META);
        fs::write(&meta_path, text).ctx("write", &meta_path)?;
        let entry = cache_dir.join(&key.name);
        match fs::rename(&self.tmp, &entry) {
            Ok(()) => {
                std::mem::forget(self); // published: nothing left to clean up
                Ok((entry.join("rootfs"), meta))
            }
            // Lost the race (ENOTEMPTY on most filesystems, EEXIST on some).
            // `self` is dropped on return, removing our copy.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => {
                lookup(cache_dir, key).ok_or_else(|| RootfsError::io("rename into", &entry, e))
            }
            Err(e) => Err(RootfsError::io("rename into", &entry, e)),
        }
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.tmp);
    }
}

/// Remove temp dirs whose builder died (crash, kill -9) before cleaning up.
/// Their pid is in the name; a live pid is left alone even if it was reused.
fn remove_abandoned(cache_dir: &Path) {
    let Ok(dir) = fs::read_dir(cache_dir) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(TMP_PREFIX)) else {
            continue;
        };
        let pid = rest.rsplit('-').nth(1).and_then(|p| p.parse::<i32>().ok());
        if let Some(pid) = pid.filter(|&p| p > 0) {
            // The owner is gone when it has no /proc entry (a probe, not a signal).
            if !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// `(bytes, files)` of a tree: apparent size of regular files (hard links
/// counted once) and the number of non-directories. Stays on one filesystem
/// so that a tree with /proc mounted inside is not walked into /proc.
pub(super) fn measure(root: &Path) -> (u64, u64) {
    let Ok(top) = fs::symlink_metadata(root) else {
        return (0, 0);
    };
    let mut seen = HashSet::new();
    let (mut bytes, mut files) = (0, 0);
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for entry in rd.flatten() {
            let Ok(m) = entry.metadata() else { continue };
            if m.is_dir() {
                if m.dev() == top.dev() {
                    stack.push(entry.path());
                }
                continue;
            }
            files += 1;
            if m.is_file() && (m.nlink() == 1 || seen.insert((m.dev(), m.ino()))) {
                bytes += m.len();
            }
        }
    }
    (bytes, files)
}
