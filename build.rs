//! `nsdojo --version` names the commit and the target it was built from, so a binary handed
//! around a workshop room on a USB stick can be told apart from another.

fn main() {
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = std::process::Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    let target = std::env::var("TARGET").unwrap_or_else(|_| "unknown".into());
    println!("cargo:rustc-env=NSDOJO_COMMIT={commit}{}", if dirty { "-dirty" } else { "" });
    println!("cargo:rustc-env=NSDOJO_TARGET={target}");
    // Relative relocations packed (DT_RELR): the dynamic loader applies ~10 000 of them at
    // every start (vtables and string tables, many of them the class server's libraries'); as
    // RELA entries they are 250 KB read at each start, packed a few KB (issue 26: `nsdojo ns`
    // vs `lsns -p`, startup). The binary then needs glibc ≥ 2.36 (it says so by a version
    // dependency, GLIBC_ABI_DT_RELR, so an older glibc refuses it by name), so it is asked for
    // only when building for the glibc this build runs on and that glibc has it. musl builds
    // (the release tarballs) are left as they are.
    let native = std::env::var("HOST").is_ok_and(|h| h == target);
    if native && target.ends_with("-linux-gnu") && glibc_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
    // Rebuild when HEAD moves (a commit, a checkout), not on every build.
    for f in [".git/HEAD", ".git/index"] {
        if std::path::Path::new(f).exists() {
            println!("cargo:rerun-if-changed={f}");
        }
    }
}

/// Is the glibc this build script runs on 2.36 or later (it reads DT_RELR)?
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn glibc_has_relr() -> bool {
    extern "C" {
        fn gnu_get_libc_version() -> *const std::ffi::c_char;
    }
    // SAFETY: glibc returns a pointer to a static NUL-terminated string, valid for the process.
    let version = unsafe { std::ffi::CStr::from_ptr(gnu_get_libc_version()) };
    let mut parts = version.to_str().unwrap_or_default().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 36)
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn glibc_has_relr() -> bool {
    false
}
