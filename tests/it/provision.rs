//! scripts/provision.sh and the Vagrantfile (split from docs.rs): valid bash, shellcheck-clean,
//! a dry run names everything it installs, its guards decide right, a release binary in the
//! source tree is installed instead of building (and checked against its sums first), its
//! minimum Rust covers Cargo.lock; both boxes, every provider's size and the pinned box versions
//! in the Vagrantfile; the Lima file.

use std::path::Path;
use std::process::{Command, Output};

use crate::harness::repo;

const PACKAGES: &[&str] = &["build-essential", "curl", "busybox-static", "stress", "iproute2", "util-linux", "procps"];

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ------------------------------------------------------------------------- provisioning ----

const PROVISION: &str = "scripts/provision.sh";

/// A dry run on the source tree. It builds from source unless `env` says otherwise: a dist/
/// left by scripts/test.sh (release.sh) must not change what these tests see.
fn provision(env: &[(&str, &str)], path: Option<&Path>) -> Output {
    let mut c = Command::new("bash");
    c.arg(repo(PROVISION)).env("NSDOJO_PROVISION_DRY", "1").env("NSDOJO_SRC", repo("")).env("NSDOJO_FROM_SOURCE", "1");
    if let Some(p) = path {
        c.env("PATH", format!("{}:/usr/bin:/bin", p.display()));
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn ok_text(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success(), "{PROVISION} failed ({:?}):\n{out}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
    out
}

#[test]
fn provision_script_is_valid_bash() {
    let o = Command::new("bash").arg("-n").arg(repo(PROVISION)).output().unwrap();
    assert!(o.status.success(), "bash -n {PROVISION}: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn provision_script_passes_shellcheck() {
    match Command::new("shellcheck").arg(repo(PROVISION)).output() {
        Err(_) => eprintln!("docs: shellcheck not installed: skipped (apt-get install shellcheck)"),
        Ok(o) => assert!(o.status.success(), "shellcheck {PROVISION}:\n{}", String::from_utf8_lossy(&o.stdout)),
    }
}

#[test]
fn provision_dry_run_names_everything_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let target = tmp.path().join("target");
    let bin = tmp.path().join("bin/nsdojo");
    let env = [("NSDOJO_TARGET_DIR", target.to_str().unwrap()), ("NSDOJO_BIN", bin.to_str().unwrap())];
    let out = ok_text(&provision(&env, None));
    for p in PACKAGES {
        assert!(out.contains(&format!("package {p}: ")), "the dry run does not name {p}:\n{out}");
    }
    for s in ["rust: ", "cargo build --release --locked", "would run: install -m 0755", "dry run done"] {
        assert!(out.contains(s), "the dry run lacks `{s}`:\n{out}");
    }
    assert!(!target.exists() && !bin.exists(), "a dry run wrote files");
    // The same machine, the same answer.
    assert_eq!(out, ok_text(&provision(&env, None)));
    // The default install path is on sudo's PATH.
    let default = ok_text(&provision(&[], None));
    assert!(default.contains("/usr/local/bin/nsdojo"), "{default}");
}

/// Part 5 on four kernels played by /proc/sys and /etc/sysctl.d directories: Ubuntu 24.04's
/// AppArmor restriction on user namespaces is turned off (now and for good) on the throwaway VM,
/// kept when asked, left alone where it is off already, and nothing happens where the kernel
/// has no such setting (this CI machine's).
#[test]
fn provision_turns_off_apparmors_userns_restriction_where_the_kernel_has_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (proc_sys, sysctl_d) = (tmp.path().join("proc-sys"), tmp.path().join("sysctl.d"));
    std::fs::create_dir_all(proc_sys.join("kernel")).unwrap();
    std::fs::create_dir_all(&sysctl_d).unwrap();
    let knob = proc_sys.join("kernel/apparmor_restrict_unprivileged_userns");
    let conf = sysctl_d.join("99-nsdojo-userns.conf");
    let env = [("NSDOJO_PROC_SYS", proc_sys.to_str().unwrap()), ("NSDOJO_SYSCTL_D", sysctl_d.to_str().unwrap())];
    let userns = |extra: &[(&str, &str)]| {
        let all: Vec<(&str, &str)> = env.iter().chain(extra).copied().collect();
        let out = ok_text(&provision(&all, None));
        out.lines()
            .find(|l| l.starts_with("provision: userns: "))
            .unwrap_or_else(|| panic!("no userns line:\n{out}"))
            .to_string()
    };

    assert!(userns(&[]).contains("no AppArmor restriction on user namespaces: nothing to change"));
    // Ubuntu 24.04 as installed.
    std::fs::write(&knob, "1\n").unwrap();
    let line = userns(&[]);
    assert!(line.contains("restriction on unprivileged user namespaces is 1") && line.contains("rootless"), "{line}");
    assert!(
        line.contains(&format!("would write {} (kernel.apparmor_restrict_unprivileged_userns = 0)", conf.display())),
        "{line}"
    );
    assert!(!conf.exists() && std::fs::read_to_string(&knob).unwrap() == "1\n", "a dry run wrote");
    assert!(userns(&[("NSDOJO_KEEP_USERNS_RESTRICTION", "1")]).contains("kept at 1"));
    // Off for now but not for good (a sysctl -w by hand): it is written down.
    std::fs::write(&knob, "0\n").unwrap();
    assert!(userns(&[]).contains("would write"));
    // Provisioned already.
    std::fs::write(&conf, "# why\nkernel.apparmor_restrict_unprivileged_userns = 0\n").unwrap();
    assert!(userns(&[]).contains("off already"));
}

/// A directory of stub commands, put first on PATH, to play a machine.
fn stubs(dir: &Path, cmds: &[(&str, &str)]) {
    use std::os::unix::fs::PermissionsExt;
    for (name, body) in cmds {
        let p = dir.join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

const NOT_INSTALLED: &str = "exit 1";
const INSTALLED: &str = "printf 'install ok installed'";

/// The guards, part by part, on three machines played by stub commands.
#[test]
fn provision_guards_decide_like_the_machine_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let (stub, target) = (tmp.path().join("stub"), tmp.path().join("target"));
    std::fs::create_dir_all(&stub).unwrap();
    std::fs::create_dir_all(target.join("release")).unwrap();
    let bin = tmp.path().join("nsdojo");
    let none = tmp.path().join("no-rust-home");
    let env = [
        ("NSDOJO_TARGET_DIR", target.to_str().unwrap()),
        ("NSDOJO_BIN", bin.to_str().unwrap()),
        ("NSDOJO_RUST_HOME", none.to_str().unwrap()),
        ("NSDOJO_RUST_MIN", "1.88"),
    ];

    // A fresh Ubuntu 24.04: nothing installed, and its rustc 1.75 is too old.
    stubs(
        &stub,
        &[
            ("dpkg-query", NOT_INSTALLED),
            ("apt-cache", "echo '  Candidate: 1.75.0+dfsg0ubuntu1-0ubuntu7'"),
            ("rustc", "echo 'rustc 1.75.0 (82e1608df 2023-12-21) (built from a source tarball)'"),
            ("cargo", "echo 'cargo 1.75.0'"),
        ],
    );
    let out = ok_text(&provision(&env, Some(&stub)));
    let install = out.lines().find(|l| l.contains("apt-get install")).unwrap_or_else(|| panic!("{out}"));
    for p in PACKAGES {
        assert!(install.contains(p), "{install}");
    }
    assert!(out.contains("is older than 1.88") && out.contains("sh.rustup.rs"), "{out}");
    assert!(out.contains(&format!("would run: install -m 0755 {}", target.join("release/nsdojo").display())), "{out}");

    // The distribution's Rust is new enough: apt, not rustup.
    stubs(&stub, &[("apt-cache", "echo '  Candidate: 1.90.0+dfsg0ubuntu1'")]);
    let out = ok_text(&provision(&env, Some(&stub)));
    assert!(out.contains("apt-get install -y -q -o DPkg::Lock::Timeout=300 rustc cargo"), "{out}");
    assert!(!out.contains("rustup"), "{out}");

    // Provisioned already: packages in, Rust new enough, the binary installed. Nothing to do.
    // (1.100 > 1.88: versions compare by number, not as text.)
    stubs(
        &stub,
        &[("dpkg-query", INSTALLED), ("rustc", "echo 'rustc 1.100.0 (x)'"), ("cargo", "echo 'cargo 1.100.1 (x)'")],
    );
    std::fs::write(target.join("release/nsdojo"), "the same binary").unwrap();
    std::fs::write(&bin, "the same binary").unwrap();
    let out = ok_text(&provision(&env, Some(&stub)));
    assert!(out.contains("packages: nothing to install") && !out.contains("apt-get"), "{out}");
    assert!(out.contains(&format!("rust: 1.100.0 in {} (>= 1.88): keep", stub.display())), "{out}");
    assert!(out.contains("is up to date") && !out.contains("install -m"), "{out}");
    // cargo decides whether to rebuild; its run is the one thing a second provisioning repeats.
    assert!(out.contains("cargo build --release --locked"), "{out}");

    // A new build: install again.
    std::fs::write(target.join("release/nsdojo"), "a newer binary").unwrap();
    let out = ok_text(&provision(&env, Some(&stub)));
    assert!(out.contains("would run: install -m 0755"), "{out}");
}

/// The version in Cargo.toml, which names the release binaries.
fn crate_version() -> String {
    read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \"").map(|v| v.trim_end_matches('"').to_string()))
        .expect("version in Cargo.toml")
}

fn sha256_line(file: &Path, name: &str) -> String {
    let o = Command::new("sha256sum").arg(file).output().unwrap();
    let sum = String::from_utf8_lossy(&o.stdout).split_whitespace().next().unwrap().to_string();
    format!("{sum}  {name}\n")
}

fn failed_text(o: &Output) -> String {
    assert!(!o.status.success(), "{PROVISION} should have failed:\n{}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A source tree with dist/ (what scripts/release.sh makes): the binary for this machine's CPU
/// of the source's version is verified against SHA256SUMS and installed; no Rust, no build, no
/// compiler. Another version or CPU is left alone; a binary that does not match its sums stops
/// the provisioning; without sums it is installed, saying so; an unpacked offline kit counts too.
#[test]
fn provision_installs_a_release_binary_instead_of_building() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dist) = (tmp.path().join("src"), tmp.path().join("src/dist"));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::copy(repo("Cargo.toml"), src.join("Cargo.toml")).unwrap();
    let (v, arch) = (crate_version(), std::env::consts::ARCH);
    let other = if arch == "x86_64" { "aarch64" } else { "x86_64" };
    let name = format!("nsdojo-{v}-{arch}-unknown-linux-musl");
    let mine = dist.join(&name);
    std::fs::write(&mine, "the release binary").unwrap();
    std::fs::write(dist.join(format!("nsdojo-{v}-{other}-unknown-linux-musl")), "the other CPU's").unwrap();
    std::fs::write(dist.join(format!("nsdojo-0.0.1-{arch}-unknown-linux-musl")), "an old one").unwrap();
    std::fs::write(dist.join("SHA256SUMS"), sha256_line(&mine, &name)).unwrap();
    let bin = tmp.path().join("bin/nsdojo");
    let target = tmp.path().join("target");
    let (src_s, bin_s, target_s) = (src.to_str().unwrap(), bin.to_str().unwrap(), target.to_str().unwrap());
    let env =
        [("NSDOJO_SRC", src_s), ("NSDOJO_FROM_SOURCE", "0"), ("NSDOJO_BIN", bin_s), ("NSDOJO_TARGET_DIR", target_s)];

    let out = ok_text(&provision(&env, None));
    assert!(out.contains(&format!("release binary: {} (sha256 as in", mine.display())), "{out}");
    assert!(out.contains(&format!("would run: install -m 0755 {} {bin_s}", mine.display())), "{out}");
    assert!(out.contains("rust: not needed") && out.contains("build: skipped"), "{out}");
    for gone in ["cargo build", "rustup", "package build-essential", other] {
        assert!(!out.contains(gone), "a release binary, yet the dry run has `{gone}`:\n{out}");
    }
    // curl too: the chroot lesson's terminal #2 fetches the chroot's web page with it.
    for p in ["busybox-static", "stress", "iproute2", "util-linux", "procps", "curl"] {
        assert!(out.contains(&format!("package {p}: ")), "the lessons still need {p}:\n{out}");
    }
    assert!(!bin.exists() && !target.exists(), "a dry run wrote files");
    // Installed already: nothing to do.
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(&mine, &bin).unwrap();
    let out = ok_text(&provision(&env, None));
    assert!(out.contains("is up to date") && !out.contains("install -m"), "{out}");
    std::fs::remove_file(&bin).unwrap();

    // NSDOJO_FROM_SOURCE=1 builds anyway.
    let mut from_source = env;
    from_source[1].1 = "1";
    let out = ok_text(&provision(&from_source, None));
    assert!(out.contains("cargo build --release --locked") && !out.contains("rust: not needed"), "{out}");

    // A binary that is not the one its sums name stops the provisioning, dry run or not.
    std::fs::write(&mine, "changed after release.sh").unwrap();
    let err = failed_text(&provision(&env, None));
    assert!(err.contains("does not match") && err.contains("SHA256SUMS"), "{err}");

    // No sums: installed, and said so.
    std::fs::remove_file(dist.join("SHA256SUMS")).unwrap();
    let out = ok_text(&provision(&env, None));
    assert!(out.contains("not verified") && out.contains("rust: not needed"), "{out}");

    // An unpacked offline kit: its SHA256SUMS names bin/FILE.
    std::fs::remove_dir_all(&dist).unwrap();
    let kit = src.join(format!("nsdojo-kit-{v}"));
    std::fs::create_dir_all(kit.join("bin")).unwrap();
    let kit_bin = kit.join("bin").join(&name);
    std::fs::write(&kit_bin, "the kit's binary").unwrap();
    std::fs::write(kit.join("SHA256SUMS"), sha256_line(&kit_bin, &format!("bin/{name}"))).unwrap();
    let out = ok_text(&provision(&env, None));
    assert!(out.contains(&format!("release binary: {} (sha256 as in", kit_bin.display())), "{out}");

    // Nothing for this CPU and version (an old release.sh run, say): the build, as before.
    std::fs::remove_file(&kit_bin).unwrap();
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(dist.join(format!("nsdojo-0.0.1-{arch}-unknown-linux-musl")), "an old one").unwrap();
    let out = ok_text(&provision(&env, None));
    assert!(out.contains("nsdojo-0.0.1-") && out.contains("is not version"), "the old one is named, and left:\n{out}");
    assert!(out.contains(&format!("release binary: none for {arch}")), "{out}");
    assert!(out.contains("package build-essential: ") && out.contains("cargo build --release --locked"), "{out}");
}

fn version(s: &str) -> Vec<u32> {
    s.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// RUST_MIN in provision.sh covers Cargo.toml's rust-version and every crate the release build
/// compiles (their rust-version, from `cargo metadata`; skipped when the registry is not at hand).
#[test]
fn provision_rust_min_covers_the_lockfile() {
    let script = read(PROVISION);
    let min = script
        .lines()
        .find_map(|l| l.strip_prefix("RUST_MIN=${NSDOJO_RUST_MIN:-"))
        .and_then(|r| r.strip_suffix('}'))
        .expect("RUST_MIN=${NSDOJO_RUST_MIN:-X.Y} in provision.sh");
    let cargo_toml = read("Cargo.toml");
    let own = cargo_toml.lines().find_map(|l| l.strip_prefix("rust-version = \"")).unwrap().trim_end_matches('"');
    assert!(version(min) >= version(own), "provision.sh RUST_MIN {min} < Cargo.toml rust-version {own}");

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let platform = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let o = Command::new(cargo)
        .args(["metadata", "--locked", "--offline", "--format-version", "1", "--filter-platform", &platform])
        .current_dir(repo(""))
        .output()
        .unwrap();
    if !o.status.success() {
        eprintln!("docs: cargo metadata --offline failed: skipped: {}", String::from_utf8_lossy(&o.stderr));
        return;
    }
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The crates a release build compiles: normal and build dependencies, from the root.
    let nodes = m["resolve"]["nodes"].as_array().unwrap();
    let root = m["resolve"]["root"].as_str().unwrap().to_string();
    let mut todo = vec![root];
    let mut seen = std::collections::BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
        for d in node["deps"].as_array().unwrap() {
            let kinds = d["dep_kinds"].as_array().unwrap();
            if kinds.iter().any(|k| k["kind"].as_str() != Some("dev")) {
                todo.push(d["pkg"].as_str().unwrap().to_string());
            }
        }
    }
    let needed = m["packages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| seen.contains(p["id"].as_str().unwrap()))
        .filter_map(|p| Some((version(p["rust_version"].as_str()?), p["name"].as_str()?.to_string())))
        .max()
        .unwrap();
    assert!(
        version(min) >= needed.0,
        "provision.sh RUST_MIN {min} is older than what {} needs ({:?}): raise it",
        needed.1,
        needed.0
    );
}

// ----------------------------------------------------------------------------- Vagrant ----

#[test]
fn vagrantfile_has_both_boxes_and_provisions_with_the_script() {
    let v = read("Vagrantfile");
    let code: Vec<&str> = v.lines().filter(|l| !l.trim_start().starts_with('#')).collect();
    // The `define` line a box line belongs to.
    let define_of = |bx: &str| -> String {
        let at = code
            .iter()
            .position(|l| l.contains(".vm.box") && l.contains(&format!("\"{bx}\"")))
            .unwrap_or_else(|| panic!("Vagrantfile: no machine with box {bx}"));
        code[..at].iter().rev().find(|l| l.contains(".vm.define")).expect("a define above the box").to_string()
    };
    let noble = define_of("bento/ubuntu-24.04");
    assert!(noble.contains("primary: true") && !noble.contains("autostart"), "{noble}");
    let bionic = define_of("bento/ubuntu-18.04");
    assert!(bionic.contains("autostart: false"), "{bionic}");

    let provision: Vec<&&str> = code.iter().filter(|l| l.contains(".vm.provision")).collect();
    assert_eq!(provision.len(), 1, "one provisioner for both machines: {provision:?}");
    assert!(provision[0].contains("path: \"scripts/provision.sh\"") && !provision[0].contains("inline"));
    assert!(repo(PROVISION).exists());
    assert!(code.iter().any(|l| l.contains("synced_folder \".\", \"/vagrant\"")), "Vagrantfile: no /vagrant");
    // The deck's size, for every provider configured.
    for (keys, value) in [(["memory =", "memsize"], "1536"), (["cpus =", "numvcpus"], "2")] {
        let lines: Vec<&&str> = code.iter().filter(|l| keys.iter().any(|k| l.contains(k))).collect();
        assert!(!lines.is_empty(), "Vagrantfile sets no {keys:?}");
        for l in lines {
            assert!(l.contains(&format!(" {value}")) || l.contains(&format!("\"{value}\"")), "Vagrantfile: {l}");
        }
    }
    // Every provider a laptop may have sets both, in its own block.
    for provider in ["virtualbox", "vmware_desktop", "parallels", "libvirt", "hyperv"] {
        let at = code
            .iter()
            .position(|l| l.contains(&format!("config.vm.provider \"{provider}\"")))
            .unwrap_or_else(|| panic!("Vagrantfile: no {provider} provider"));
        let block: Vec<&&str> = code[at + 1..].iter().take_while(|l| l.trim() != "end").collect();
        for keys in [["memory =", "memsize"], ["cpus =", "numvcpus"]] {
            assert!(block.iter().any(|l| keys.iter().any(|k| l.contains(k))), "{provider} sets no {keys:?}: {block:?}");
        }
    }
    // Both boxes pinned: noble to one version (x.y.z), bionic to a range; bionic is amd64 only
    // and says so on an arm64 host.
    let version_of = |machine: &str| -> String {
        let at = code.iter().position(|l| l.contains(&format!("define \"{machine}\""))).unwrap();
        let line = code[at..].iter().find(|l| l.contains(".vm.box_version")).expect("a box_version");
        line.split('"').rev().nth(1).unwrap_or_default().to_string()
    };
    let noble = version_of("noble");
    assert!(noble.split('.').count() == 3 && noble.split('.').all(|p| p.parse::<u32>().is_ok()), "noble: {noble}");
    assert!(version_of("bionic").starts_with(">= "), "bionic: {}", version_of("bionic"));
    assert!(code.iter().any(|l| l.contains("box_architecture = \"amd64\"")), "bionic is amd64 only");
    assert!(code.iter().any(|l| l.contains("t.abort = true")), "bionic stops on an arm64 host");
    let comments: String = v.lines().filter(|l| l.trim_start().starts_with('#')).collect();
    assert!(comments.contains("vagrant up && vagrant ssh -c 'sudo nsdojo'"), "the one-line setup, at the top");
    assert!(comments.contains("not run by CI"), "the Vagrantfile says what is not tested");
    // Ruby is not required; where it is installed, it has the last word on syntax.
    if let Ok(o) = Command::new("ruby").arg("-c").arg(repo("Vagrantfile")).output() {
        assert!(o.status.success(), "ruby -c Vagrantfile: {}", String::from_utf8_lossy(&o.stderr));
    }
}

// -------------------------------------------------------------------------------- Lima ----

const LIMA: &str = "contrib/lima/nsdojo.yaml";

/// A YAML file as JSON, read by python3's yaml module where it is installed (None where not:
/// the tests then check the text's structure only).
fn yaml_as_json(path: &str) -> Option<serde_json::Value> {
    let o = Command::new("python3")
        .args(["-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))"])
        .arg(repo(path))
        .output()
        .ok()?;
    if !o.status.success() {
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("No module named"), "{path} is not valid YAML: {err}");
        return None;
    }
    Some(serde_json::from_slice(&o.stdout).unwrap())
}

/// The file Lima users pass to `limactl start`: Ubuntu 24.04 for both CPUs, the home directory
/// mounted read-only, provision.sh run as root from the repository there, the deck's size.
#[test]
fn lima_file_provisions_with_the_script_on_both_cpus() {
    let text = read(LIMA);
    // What needs no YAML parser: the top-level keys, and the start command in the comments.
    for key in ["images:", "mounts:", "provision:", "containerd:", "param:", "cpus: 2", "memory: \"1536MiB\""] {
        assert!(text.lines().any(|l| l.starts_with(key)), "{LIMA}: no top-level `{key}`");
    }
    assert!(text.contains("limactl start --name nsdojo") && text.contains(LIMA), "{LIMA}: how to start it");
    assert!(text.contains("Not run by CI"), "{LIMA} says what is not tested");
    let Some(v) = yaml_as_json(LIMA) else {
        eprintln!("lima: python3 with yaml not installed: only the text was checked");
        return;
    };
    let images = v["images"].as_array().expect("images");
    let mut archs: Vec<&str> = images.iter().map(|i| i["arch"].as_str().unwrap()).collect();
    archs.sort();
    assert_eq!(archs, ["aarch64", "x86_64"]);
    for i in images {
        let url = i["location"].as_str().unwrap();
        let cpu = if i["arch"] == "x86_64" { "amd64" } else { "arm64" };
        assert!(url.starts_with("https://cloud-images.ubuntu.com/releases/noble/"), "{url}");
        assert!(url.ends_with(&format!("ubuntu-24.04-server-cloudimg-{cpu}.img")), "{url}");
    }
    let mounts = v["mounts"].as_array().expect("mounts");
    assert!(!mounts.is_empty() && mounts.iter().all(|m| m["writable"] == false), "read-only mounts: {mounts:?}");
    assert_eq!(v["containerd"]["system"], false);
    assert_eq!(v["containerd"]["user"], false);
    assert!(v["param"].get("NSDOJO_SRC").is_some(), "the repository's path is a param");
    let provision = v["provision"].as_array().expect("provision");
    let system: Vec<&str> =
        provision.iter().filter(|p| p["mode"] == "system").filter_map(|p| p["script"].as_str()).collect();
    assert_eq!(system.len(), 1, "{provision:?}");
    let script = system[0];
    assert!(script.contains("PARAM_NSDOJO_SRC") && script.contains("/scripts/provision.sh"), "{script}");
    // The script itself: valid bash, and shellcheck-clean where shellcheck is installed.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("lima-provision.sh");
    std::fs::write(&file, script).unwrap();
    let o = Command::new("bash").arg("-n").arg(&file).output().unwrap();
    assert!(o.status.success(), "bash -n: {}", String::from_utf8_lossy(&o.stderr));
    if let Ok(o) = Command::new("shellcheck").arg(&file).output() {
        assert!(o.status.success(), "shellcheck {LIMA}'s script:\n{}", String::from_utf8_lossy(&o.stdout));
    }
}
