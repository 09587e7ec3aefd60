//! `nsdojo doctor`: what this machine offers for the lab, as text for a person or JSON for a
//! classroom preflight script, and whether the lab can run here at all (the exit status).

use colored::Colorize;
use serde::Serialize;

use crate::host;
use crate::i18n::{pad, t};
use crate::lesson::{Lang, Ns};

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
