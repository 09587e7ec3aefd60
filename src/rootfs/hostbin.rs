//! The fallback rootfs: the host's own programs plus what they need to load.
//!
//! Copying `/bin/sh` into a directory and chrooting there fails with the
//! famously misleading "No such file or directory": the missing file is not
//! the shell but its *loader* (`PT_INTERP`, e.g. /lib64/ld-linux-x86-64.so.2)
//! or one of its libraries (`DT_NEEDED`). So this module reads each program's
//! ELF headers and copies, recursively, every library the loader would pick,
//! to the path where the loader inside the chroot will look for it, and the
//! loader itself at the exact path written in the program.
//!
//! Everything is resolved first into a [`Plan`] (cheap: a few header reads),
//! so the cache key can cover the libraries too: after a libc upgrade the
//! tree is rebuilt with the new libc rather than served stale.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use super::cache::{stamp, Key};
use super::elf::{read_elf, ElfInfo};
use super::error::{IoContext, RootfsError};
use super::ldconf::{conf_dirs, default_dirs, expand_origin, normalize};
use super::skeleton::add_skeleton;
use super::tools::add_tools;

/// What a student types in the lab; missing ones are skipped, except `sh`.
pub(super) const PROGRAMS: &[&str] = &[
    "sh", "ls", "ps", "cat", "echo", "mount", "umount", "hostname", "id", "mkdir", "grep", "sleep", "readlink",
    "uname", "ip", "env", "true", "false", "pwd", "rm", "touch", "ln", "head", "wc", "kill", "stat", "df",
];

/// Everything to copy, resolved on the host.
#[derive(Debug, Clone)]
pub(super) struct Plan {
    /// `(name in /bin, path found on PATH, real file after symlinks)`.
    pub programs: Vec<(String, PathBuf, PathBuf)>,
    /// Path inside the rootfs (absolute, as the loader will look it up) ->
    /// real host file. Includes the loader.
    pub libs: BTreeMap<PathBuf, PathBuf>,
    /// Libraries found outside the loader's default directories (through a
    /// RUNPATH or ld.so.conf), which the chroot has no ld.so.cache to find:
    /// they are also linked into the directory that holds libc.
    pub stray: Vec<PathBuf>,
}

impl Plan {
    /// Resolve `PROGRAMS` on `path_env`. `Ok(None)` if there is no `sh` to
    /// build around. Other programs whose libraries cannot be found are
    /// left out rather than failing the whole rootfs.
    pub(super) fn resolve(path_env: &str) -> Result<Option<Plan>, RootfsError> {
        let mut resolver = Resolver::new();
        let mut plan = Plan { programs: Vec::new(), libs: BTreeMap::new(), stray: Vec::new() };
        for name in PROGRAMS {
            let Some(found) = crate::machine::which_on(name, path_env) else {
                if *name == "sh" {
                    return Ok(None);
                }
                continue;
            };
            let real = fs::canonicalize(&found).ctx("resolve", &found)?;
            let before = (resolver.placed.clone(), resolver.interps.len());
            let result = read_elf(&real).and_then(|info| resolver.add_deps(&real, &info, &info.rpath));
            match result {
                Ok(()) => plan.programs.push((name.to_string(), found, real)),
                Err(e) if *name == "sh" => return Err(e),
                // A script, or a program with a library we cannot find:
                // drop it and whatever of its libraries was already placed.
                Err(_) => {
                    resolver.placed = before.0;
                    resolver.interps.truncate(before.1);
                }
            }
        }
        let defaults = default_dirs();
        for tree_path in resolver.placed.keys() {
            let in_default_dir = tree_path.parent().is_some_and(|d| defaults.iter().any(|x| x == d));
            if !in_default_dir && !resolver.interps.contains(tree_path) {
                plan.stray.push(tree_path.clone());
            }
        }
        plan.libs = resolver.placed;
        Ok(Some(plan))
    }

    /// The host paths of the copied programs, for `Origin::HostBinaries`.
    pub(super) fn program_paths(&self) -> Vec<PathBuf> {
        self.programs.iter().map(|(_, found, _)| found.clone()).collect()
    }

    /// Every program and library, with size and mtime.
    pub(super) fn key(&self) -> Result<Key, RootfsError> {
        let mut parts = Vec::new();
        for (name, found, real) in &self.programs {
            parts.push(format!("{name}: {} {}", found.display(), stamp(real)?));
        }
        for (tree_path, real) in &self.libs {
            parts.push(format!("{}: {}", tree_path.display(), stamp(real)?));
        }
        Ok(Key::new("host", &parts))
    }

    /// Copy everything into `root` (an empty directory) and add the skeleton
    /// and nsdojo's tools.
    pub(super) fn build(&self, root: &Path) -> Result<(), RootfsError> {
        add_skeleton(root)?;
        add_tools(root)?;
        // Several names may resolve to one file (`sh` and `dash`, or the
        // loader found both in /lib64 and in the multiarch dir): copy it
        // once and hard-link the rest, as a package manager would have it.
        let mut copied: HashMap<&Path, PathBuf> = HashMap::new();
        let programs = self.programs.iter().map(|(name, _, real)| (PathBuf::from("/bin").join(name), real));
        for (tree_path, real) in programs.chain(self.libs.iter().map(|(t, r)| (t.clone(), r))) {
            let dest = root.join(tree_path.strip_prefix("/").unwrap_or(&tree_path));
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).ctx("create directory", parent)?;
            }
            match copied.get(real.as_path()) {
                Some(first) => fs::hard_link(first, &dest).ctx("link", &dest)?,
                None => {
                    fs::copy(real, &dest).ctx("copy to", &dest)?;
                    copied.insert(real, dest);
                }
            }
        }
        let libc_dir = self
            .libs
            .keys()
            .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libc.so")))
            .and_then(|p| p.parent())
            .unwrap_or(Path::new("/usr/lib"));
        for stray in &self.stray {
            let (Some(name), Some(real)) = (stray.file_name(), self.libs.get(stray)) else {
                continue;
            };
            let dest = root.join(libc_dir.strip_prefix("/").unwrap_or(libc_dir)).join(name);
            fs::create_dir_all(dest.parent().unwrap_or(root)).ctx("create directory", &dest)?;
            if !dest.exists() {
                fs::hard_link(&copied[real.as_path()], &dest).ctx("link", &dest)?;
            }
        }
        Ok(())
    }
}

/// Library lookup with the loader's rules, remembering what is placed.
struct Resolver {
    conf: Vec<PathBuf>,
    defaults: Vec<PathBuf>,
    /// Path inside the rootfs -> real host file.
    placed: BTreeMap<PathBuf, PathBuf>,
    interps: Vec<PathBuf>,
    /// Parsed headers by host path, so libc is not re-read for every program.
    elf_cache: HashMap<PathBuf, Option<ElfInfo>>,
}

impl Resolver {
    fn new() -> Resolver {
        Resolver {
            conf: conf_dirs(Path::new("/etc/ld.so.conf")),
            defaults: default_dirs(),
            placed: BTreeMap::new(),
            interps: Vec::new(),
            elf_cache: HashMap::new(),
        }
    }

    fn elf(&mut self, path: &Path) -> Option<ElfInfo> {
        self.elf_cache.entry(path.to_path_buf()).or_insert_with(|| read_elf(path).ok()).clone()
    }

    /// Place the loader and every library `info` (the object at host path
    /// `real`) needs, recursively. `exe_rpath` is the program's DT_RPATH,
    /// which the loader also applies to the libraries it pulls in.
    fn add_deps(&mut self, real: &Path, info: &ElfInfo, exe_rpath: &[String]) -> Result<(), RootfsError> {
        if let Some(interp) = &info.interp {
            if !self.placed.contains_key(interp) {
                let host = fs::canonicalize(interp).ctx("resolve the ELF interpreter", interp)?;
                self.placed.insert(interp.clone(), host);
                self.interps.push(interp.clone());
            }
        }
        let origin = real.parent().unwrap_or(Path::new("/"));
        // DT_RUNPATH, when present, disables DT_RPATH (the object's and the program's).
        let rpath: Vec<&String> =
            if info.runpath.is_empty() { info.rpath.iter().chain(exe_rpath).collect() } else { Vec::new() };
        let mut dirs: Vec<PathBuf> =
            rpath.into_iter().chain(&info.runpath).filter_map(|e| expand_origin(e, origin)).collect();
        dirs.extend(self.conf.iter().cloned());
        dirs.extend(self.defaults.iter().cloned());

        for needed in &info.needed {
            let candidates: Vec<PathBuf> = if needed.contains('/') {
                vec![normalize(Path::new(needed))]
            } else {
                dirs.iter().map(|d| d.join(needed)).collect()
            };
            let mut found = None;
            for cand in candidates {
                if self.placed.contains_key(&cand) {
                    found = Some((cand, None));
                    break;
                }
                if let Some(lib) = self.elf(&cand).filter(|lib| info.compatible(lib)) {
                    found = Some((cand, Some(lib)));
                    break;
                }
            }
            match found {
                Some((_, None)) => {} // already placed, with its own deps
                Some((tree_path, Some(lib))) => {
                    let host = fs::canonicalize(&tree_path).ctx("resolve", &tree_path)?;
                    self.placed.insert(tree_path, host.clone());
                    self.add_deps(&host, &lib, exe_rpath)?;
                }
                None => {
                    return Err(RootfsError::MissingLibrary { binary: real.to_path_buf(), library: needed.clone() })
                }
            }
        }
        Ok(())
    }
}
