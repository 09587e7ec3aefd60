//! `nsdojo doctor`: what this machine offers for the lab, as text for a person or JSON for a
//! classroom preflight script, and whether the lab can run here at all (the exit status).

use colored::Colorize;
use serde::Serialize;

use crate::host;
use crate::i18n::{pad, t};
use crate::lesson::{Lang, Ns};

/// What the kernel's own config says about CONFIG_VETH, and whether the module is there.
fn veth_support() -> &'static str {
    use std::io::Read;
    if std::path::Path::new("/sys/module/veth").exists() {
        return "loaded";
    }
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let mut config = std::fs::read_to_string(format!("/boot/config-{release}")).unwrap_or_default();
    if config.is_empty() {
        if let Ok(f) = std::fs::File::open("/proc/config.gz") {
            let _ = flate2::read::GzDecoder::new(f).read_to_string(&mut config);
        }
    }
    let module_file = ["", ".xz", ".zst", ".gz"]
        .iter()
        .any(|ext| std::path::Path::new(&format!("/lib/modules/{release}/kernel/drivers/net/veth.ko{ext}")).exists());
    match config.lines().find_map(|l| l.strip_prefix("CONFIG_VETH=")) {
        Some("y") => "built in",
        Some("m") if module_file => "module",
        Some(_) => "missing",
        None if config.is_empty() && module_file => "module",
        None if config.is_empty() => "unknown",
        None => "missing",
    }
}

/// The tools the lessons use, with the key of the hint that says how to install each.
const TOOLS: [(&str, &str); 4] = [
    ("busybox", "doctor_busybox"),
    ("stress", "doctor_stress"),
    ("ip", "doctor_iproute"),
    ("nsenter", "doctor_utillinux"),
];

#[derive(Debug, Serialize)]
pub struct Report {
    pub root: bool,
    pub kernel: String,
    pub cgroups: String,
    pub root_propagation: String,
    pub user_namespaces: bool,
    /// Why unprivileged user namespaces are off, with the sysctl that turns them on.
    pub userns_restriction: Option<String>,
    /// Whether this kernel can make veth pairs (the `veth` lesson): `loaded`, `built in`,
    /// `module` (loaded on first use), `missing`, or `unknown` (no config to read).
    pub veth: String,
    /// Namespace kinds this kernel has (`/proc/self/ns/*`).
    pub namespaces: Vec<String>,
    /// Each tool with its path, or null where it is missing.
    pub tools: std::collections::BTreeMap<String, Option<String>>,
    pub rootfs: String,
    /// Everything the lab needs is here.
    pub can_run: bool,
    /// Why it cannot, one line each (English; the text form says it in the session's language).
    pub problems: Vec<String>,
}

impl Report {
    pub fn of_this_machine(rootfs: String) -> Report {
        let userns = std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_some_and(|n| n > 0);
        let namespaces: Vec<String> = Ns::ALL
            .iter()
            .filter(|n| std::path::Path::new(&format!("/proc/self/ns/{}", n.name())).exists())
            .map(|n| n.name().to_string())
            .collect();
        let mut problems = Vec::new();
        if !host::is_root() {
            problems.push("not root: run it with sudo".to_string());
        }
        // The deck's seven; time is a bonus.
        for needed in ["mnt", "uts", "ipc", "pid", "net", "user", "cgroup"] {
            if !namespaces.iter().any(|n| n == needed) {
                problems.push(format!("the kernel has no {needed} namespace"));
            }
        }
        Report {
            root: host::is_root(),
            kernel: host::kernel(),
            cgroups: host::cgroup_layout(Lang::En),
            root_propagation: host::root_propagation(),
            user_namespaces: userns,
            userns_restriction: host::userns_restriction(),
            veth: veth_support().to_string(),
            namespaces,
            tools: TOOLS
                .iter()
                .map(|(tool, _)| (tool.to_string(), host::which(tool).map(|p| p.display().to_string())))
                .collect(),
            rootfs,
            can_run: problems.is_empty(),
            problems,
        }
    }

    /// The text for a person, labels padded by terminal columns (Korean letters are two wide).
    pub fn render(&self, lang: Lang) -> String {
        let yes_no = |b: bool| {
            if b {
                t(lang, "doctor_yes").green().to_string()
            } else {
                t(lang, "doctor_no").red().to_string()
            }
        };
        let line = |key: &str, value: &str| format!("{}{value}\n", pad(&format!("{} ", t(lang, key)), 20));
        let mut o = String::new();
        let sudo = if self.root { "" } else { t(lang, "doctor_run_sudo") };
        o.push_str(&line("doctor_root", &format!("{}{sudo}", yes_no(self.root))));
        o.push_str(&line("doctor_kernel", &self.kernel));
        o.push_str(&line("doctor_cgroups", &host::cgroup_layout(lang)));
        o.push_str(&line("doctor_propagation", &self.root_propagation));
        let restricted = self
            .userns_restriction
            .as_deref()
            .map(|w| format!("  → {}", crate::i18n::machine_text(lang, w)))
            .unwrap_or_default();
        o.push_str(&line("doctor_userns", &format!("{}{restricted}", yes_no(self.user_namespaces))));
        let veth = match self.veth.as_str() {
            "missing" => format!("{}  → {}", t(lang, "doctor_veth_missing").yellow(), t(lang, "doctor_veth_hint")),
            "unknown" => t(lang, "doctor_veth_unknown").to_string(),
            "module" => t(lang, "doctor_veth_module").to_string(),
            "loaded" => t(lang, "doctor_veth_loaded").green().to_string(),
            _ => t(lang, "doctor_veth_builtin").green().to_string(),
        };
        o.push_str(&line("doctor_veth", &veth));
        for (tool, why) in TOOLS {
            match self.tools.get(tool).cloned().flatten() {
                Some(p) => o.push_str(&format!("{tool:<20}{p}\n")),
                None => {
                    o.push_str(&format!("{tool:<20}{}  → {}\n", t(lang, "doctor_not_found").yellow(), t(lang, why)))
                }
            }
        }
        o.push_str(&line("doctor_rootfs", &self.rootfs));
        let verdict = if self.can_run {
            t(lang, "doctor_can_run").green().to_string()
        } else {
            t(lang, "doctor_cannot_run").red().bold().to_string()
        };
        o.push_str(&format!("{verdict}\n"));
        o
    }
}
