//! Where the sandbox's root filesystem comes from.
//!
//! Workshop machines often have no Docker and no image to pull, so nsdojo
//! assembles a small rootfs itself on first use and caches it:
//!
//! * [`Source::Auto`]: a static busybox from PATH and its applet links
//!   (`busybox.rs`), or else the host's own programs with every library and
//!   the loader they need (`hostbin.rs`, `elf.rs`, `ldconf.rs`);
//! * [`Source::Dir`]: a tree the student prepared, used in place: nothing
//!   is added to it (no skeleton, no tools);
//! * [`Source::Tar`]: a tarball such as `docker export` output, unpacked
//!   defensively into the cache (`tarball.rs`).
//!
//! Built trees get a few /etc files and the empty mount-point directories
//! (`skeleton.rs`) and nsdojo's own programs in /usr/local/bin (`tools.rs`):
//! `escape_chroot`, the deck's chroot escape as a tiny static ELF written
//! from bytes nsdojo carries (`escape_elf.rs`, `escape_code.rs`, generated
//! from `escape_chroot.*.s`), and the `try` shell's `dojo` script. They are
//! checked for a working `/bin/sh` as the kernel will see it after the root
//! change (`shell_check.rs`), and are published into the cache atomically
//! (`cache.rs`). [`copy_tree`] (`copy.rs`) copies a tree
//! with plain syscalls, for filling the tmpfs that pivot_root switches to.
//!
//! Notes for the rest of nsdojo:
//! * Nothing here spawns threads; the only child process is
//!   `busybox --list-full`, run while building.
//! * Cache entries are `<cache>/<kind>-<hash>/rootfs` inside a 0700
//!   directory (an unpacked tarball may contain setuid-root programs). A
//!   sandbox process that is *not* root on the host must get at the tree
//!   before dropping privileges, or be given a copy ([`copy_tree`]).
//! * A tree from a changed source gets a new entry; old entries are kept,
//!   since another session may be running in one. `nsdojo clean` (if there
//!   is one) can remove the whole cache directory.
//! * `Dir` trees are used as they are: nothing is added to them, so they may
//!   lack `/proc` and friends (create those on the tmpfs copy) and have no
//!   `escape_chroot` or `dojo` unless the student put them there.

mod busybox;
mod cache;
mod copy;
mod elf;
mod error;
mod escape_code;
mod escape_elf;
mod hostbin;
mod ldconf;
mod shell_check;
mod skeleton;
mod tarball;
mod tools;

#[cfg(test)]
mod tests;

use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub mod provider;
pub use copy::{copy_tree, CopyStats};
// The two readers of untrusted bytes, public for their fuzz targets (fuzz/).
pub use elf::{read_elf, ElfInfo};
pub use error::RootfsError;
pub use provider::Provider;
pub use tarball::{unpack, TarStats};

use cache::{Building, Key};
use error::IoContext;

/// What the student asked for (`--rootfs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Build one: static busybox if PATH has one, else host programs.
    Auto,
    /// Use this prepared tree in place.
    Dir(PathBuf),
    /// Unpack this tarball (plain or gzip) into the cache.
    Tar(PathBuf),
}

/// What the rootfs was actually made from, for the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Busybox(PathBuf),
    /// The host paths (as found on PATH) of the programs copied in.
    HostBinaries(Vec<PathBuf>),
    Dir(PathBuf),
    Tar(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Busybox(p) => write!(f, "static busybox {}", p.display()),
            Origin::HostBinaries(progs) => {
                let names: Vec<_> = progs.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect();
                let shown = names.iter().take(5).map(|n| n.as_ref()).collect::<Vec<_>>().join(", ");
                let more = if names.len() > 5 { ", ..." } else { "" };
                write!(f, "{} host programs ({shown}{more}) with their libraries", names.len())
            }
            Origin::Dir(p) => write!(f, "directory {}", p.display()),
            Origin::Tar(p) => write!(f, "tarball {}", p.display()),
        }
    }
}

impl Origin {
    /// Display, in the session's language.
    pub fn localized(&self, lang: crate::lesson::Lang) -> String {
        use crate::i18n::tf;
        match self {
            Origin::Busybox(p) => tf(lang, "origin_busybox", &[&p.display()]),
            Origin::HostBinaries(progs) => {
                let names: Vec<_> = progs.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy()).collect();
                let shown = names.iter().take(5).map(|n| n.as_ref()).collect::<Vec<_>>().join(", ");
                let more = if names.len() > 5 { ", ..." } else { "" };
                tf(lang, "origin_host", &[&names.len(), &format!("{shown}{more}")])
            }
            Origin::Dir(p) => tf(lang, "origin_dir", &[&p.display()]),
            Origin::Tar(p) => tf(lang, "origin_tar", &[&p.display()]),
        }
    }
}

/// A rootfs ready to chroot or pivot_root into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs {
    /// Absolute path of the tree.
    pub path: PathBuf,
    pub origin: Origin,
    /// Size of the regular files (hard links once).
    pub bytes: u64,
    /// Number of non-directories (files, symlinks, ...).
    pub files: u64,
    /// How long building took; `None` when nothing was built (cache hit, Dir).
    pub built_in: Option<Duration>,
}

/// Prepare `source`, using the caller's `PATH` to look for programs.
pub fn prepare(source: &Source, cache_dir: &Path) -> Result<Rootfs, RootfsError> {
    let path_env =
        std::env::var("PATH").unwrap_or_else(|_| "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into());
    prepare_with_path(source, cache_dir, &path_env)
}

/// [`prepare`] with an explicit PATH string, so tests can hide busybox.
pub fn prepare_with_path(source: &Source, cache_dir: &Path, path_env: &str) -> Result<Rootfs, RootfsError> {
    match source {
        Source::Dir(dir) => prepare_dir(dir),
        Source::Tar(tar) => {
            let key = tarball::key(tar)?;
            cached(cache_dir, &key, Origin::Tar(tar.clone()), |root| {
                let s = tarball::unpack(tar, root)?;
                skeleton::add_skeleton(root)?;
                tools::add_tools(root)?;
                shell_check::check_shell(root).map_err(|e| unusable_tarball(tar, root, e))?;
                Ok(format!(
                    "unpacked: {} files, {} dirs, {} symlinks, {} hard links; skipped {} device nodes/fifos",
                    s.files, s.dirs, s.symlinks, s.hardlinks, s.skipped_special
                ))
            })
        }
        Source::Auto => {
            if let Some(bb) = busybox::find_static_busybox(path_env) {
                let key = busybox::key(&bb)?;
                return cached(cache_dir, &key, Origin::Busybox(bb.clone()), |root| {
                    let links = busybox::build(&bb, root)?;
                    shell_check::check_shell(root)?;
                    Ok(format!("{links} applet links"))
                });
            }
            let plan = hostbin::Plan::resolve(path_env)?
                .ok_or_else(|| RootfsError::NothingToBuildFrom { path_env: path_env.to_string() })?;
            let origin = Origin::HostBinaries(plan.program_paths());
            cached(cache_dir, &plan.key()?, origin, |root| {
                plan.build(root)?;
                shell_check::check_shell(root)?;
                Ok(format!("{} programs, {} libraries", plan.programs.len(), plan.libs.len()))
            })
        }
    }
}

/// Where the cache lives: system-wide for root, per user otherwise.
pub fn default_cache_dir() -> PathBuf {
    // Tests and instructors can point the cache elsewhere.
    if let Some(dir) = std::env::var_os("NSDOJO_CACHE") {
        return PathBuf::from(dir);
    }
    let euid = nix::unistd::geteuid();
    cache_dir_for(euid.is_root(), std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME"), euid.as_raw())
}

/// [`default_cache_dir`] without the environment, for testing.
fn cache_dir_for(is_root: bool, xdg: Option<OsString>, home: Option<OsString>, uid: u32) -> PathBuf {
    if is_root {
        return PathBuf::from("/var/cache/nsdojo");
    }
    // The XDG spec says to ignore a relative XDG_CACHE_HOME.
    if let Some(xdg) = xdg.map(PathBuf::from).filter(|p| p.is_absolute()) {
        return xdg.join("nsdojo");
    }
    match home.filter(|h| !h.is_empty()) {
        Some(home) => PathBuf::from(home).join(".cache/nsdojo"),
        None => std::env::temp_dir().join(format!("nsdojo-cache-{uid}")),
    }
}

/// The cache hit, or `build` run into a fresh temp tree and published.
/// `build` returns a line about what it did, kept in the entry's meta file.
fn cached(
    cache_dir: &Path,
    key: &Key,
    origin: Origin,
    build: impl FnOnce(&Path) -> Result<String, RootfsError>,
) -> Result<Rootfs, RootfsError> {
    // Absolute, so that Rootfs::path still means the same after a chdir.
    let abs;
    let cache_dir = if cache_dir.is_absolute() {
        cache_dir
    } else {
        abs = std::env::current_dir().ctx("resolve", cache_dir)?.join(cache_dir);
        &abs
    };
    if let Some((path, meta)) = cache::lookup(cache_dir, key) {
        return Ok(Rootfs { path, origin, bytes: meta.bytes, files: meta.files, built_in: None });
    }
    let start = Instant::now();
    let building = Building::start(cache_dir, key)?;
    let note = build(&building.rootfs())?; // on error, dropping `building` removes it
    let (path, meta) = building.publish(cache_dir, key, start.elapsed(), &note)?;
    Ok(Rootfs { path, origin, bytes: meta.bytes, files: meta.files, built_in: Some(start.elapsed()) })
}

fn prepare_dir(dir: &Path) -> Result<Rootfs, RootfsError> {
    match fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(RootfsError::NotADirectory(dir.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(RootfsError::DirMissing(dir.to_path_buf())),
        Err(e) => return Err(RootfsError::io("stat", dir, e)),
    }
    shell_check::check_shell(dir)?;
    let path = fs::canonicalize(dir).ctx("resolve", dir)?;
    let (bytes, files) = cache::measure(&path);
    Ok(Rootfs { path, origin: Origin::Dir(dir.to_path_buf()), bytes, files, built_in: None })
}

/// Say what is wrong with an unpacked tarball in terms of the tarball, not
/// of the temp directory that is about to disappear.
fn unusable_tarball(tar: &Path, root: &Path, e: RootfsError) -> RootfsError {
    let reason = match e {
        RootfsError::NoShell(_) => "has no /bin/sh".to_string(),
        other => other.to_string().replace(&root.display().to_string(), ""),
    };
    RootfsError::TarUnusable { tar: tar.to_path_buf(), reason }
}
