//! `nsdojo doctor`: what this machine offers for the lab, as text for a person or JSON for a
//! classroom preflight script, and whether the lab can run here at all (the exit status).

use colored::Colorize;
use serde::Serialize;

use crate::i18n::{pad, t, tf};
use crate::lesson::{Lang, Ns};
use crate::machine;
use crate::observe::apparmor::{self, UsernsRestriction};
// The tools the lessons use and their packages: the table a failing step's "install PACKAGE"
// comes from, so doctor and the step name the same package.
use crate::sandbox::missing_tool::HOST_TOOLS;

/// What the kernel's own config says about CONFIG_VETH, and whether the module is there.
/// The report's JSON keeps the English line (`--json` readers take text, not variants).
fn english<S: serde::Serializer>(m: &Option<crate::msg::Msg>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    m.as_ref().map(ToString::to_string).serialize(s)
}

fn veth_support() -> &'static str {
    if std::path::Path::new("/sys/module/veth").exists() {
        return "loaded";
    }
    let release = nix::sys::utsname::uname().map(|u| u.release().to_string_lossy().into_owned()).unwrap_or_default();
    let mut config = std::fs::read_to_string(format!("/boot/config-{release}")).unwrap_or_default();
    if config.is_empty() {
        config = crate::observe::system::kernel_config().unwrap_or_default();
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

/// How to install a missing tool: busybox and stress say what they are for; the rest name
/// their package.
fn install_hint(lang: Lang, tool: &str, package: &str) -> String {
    match tool {
        "busybox" => t(lang, "doctor_busybox").to_string(),
        "stress" => t(lang, "doctor_stress").to_string(),
        _ => tf(lang, "doctor_install", &[&package]),
    }
}

/// Windows Subsystem for Linux: what it is, and the one thing to change for the lab, if any.
#[derive(Debug, Serialize)]
pub struct Wsl {
    /// 1 (no namespaces: the lab cannot run) or 2 (a Linux kernel in a VM).
    pub version: u8,
    /// systemd runs the distribution (`[boot] systemd=true` in /etc/wsl.conf).
    pub systemd: bool,
    /// What to do first (English; the text form says it in the session's language).
    pub todo: Option<String>,
    /// Its catalog key, for the text form.
    #[serde(skip)]
    pub todo_key: Option<&'static str>,
}

impl Wsl {
    pub fn new(version: u8, systemd: bool, cgroups: &str) -> Wsl {
        let todo_key = wsl_todo(version, systemd, cgroups);
        Wsl { version, systemd, todo: todo_key.map(|k| t(Lang::En, k).to_string()), todo_key }
    }
}

/// The catalog key of the one thing to do on WSL, most important first: WSL 1 has none of what
/// the lab shows; cgroup v1 (an older WSL, or one set to v1) is not the workshop VM's v2; without
/// systemd, nothing makes / shared as systemd does on the VM (docs/instructors.md, WSL 2).
pub fn wsl_todo(version: u8, systemd: bool, cgroups: &str) -> Option<&'static str> {
    if version < 2 {
        Some("doctor_wsl1_todo")
    } else if cgroups != "v2" {
        Some("doctor_wsl_cgroup_todo")
    } else if !systemd {
        Some("doctor_wsl_systemd_todo")
    } else {
        None
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub root: bool,
    pub kernel: String,
    pub cgroups: String,
    pub root_propagation: String,
    pub user_namespaces: bool,
    /// Why unprivileged user namespaces are off, with the sysctl that turns them on.
    #[serde(serialize_with = "english")]
    pub userns_restriction: Option<crate::msg::Msg>,
    /// Ubuntu's AppArmor restriction (`absent`, `off`, `complain`, `on`): with `on` an ordinary
    /// user's user namespace is made but its capabilities are refused (the rootless lesson).
    pub apparmor_userns: UsernsRestriction,
    /// Whether this kernel can make veth pairs (the `veth` lesson): `loaded`, `built in`,
    /// `module` (loaded on first use), `missing`, or `unknown` (no config to read).
    pub veth: String,
    /// WSL, when this is it (null elsewhere).
    pub wsl: Option<Wsl>,
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
        let userns = crate::observe::system::sysctl("user/max_user_namespaces")
            .and_then(|s| s.parse::<u64>().ok())
            .is_some_and(|n| n > 0);
        let namespaces: Vec<String> = Ns::ALL
            .iter()
            .filter(|n| crate::observe::system::has_namespace(n.name()))
            .map(|n| n.name().to_string())
            .collect();
        let mut problems = Vec::new();
        if !machine::is_root() {
            problems.push("not root: run it with sudo".to_string());
        }
        let wsl = machine::wsl().map(|version| Wsl::new(version, machine::systemd(), machine::cgroup_kind()));
        if let Some(Wsl { version: 1, todo: Some(todo), .. }) = &wsl {
            problems.push(todo.clone());
        }
        // The deck's seven; time is a bonus.
        for needed in ["mnt", "uts", "ipc", "pid", "net", "user", "cgroup"] {
            if !namespaces.iter().any(|n| n == needed) {
                problems.push(format!("the kernel has no {needed} namespace"));
            }
        }
        Report {
            root: machine::is_root(),
            kernel: machine::kernel(),
            cgroups: machine::cgroup_layout(Lang::En),
            root_propagation: machine::root_propagation(),
            user_namespaces: userns,
            userns_restriction: machine::userns_restriction(),
            apparmor_userns: UsernsRestriction::of_this_machine(),
            veth: veth_support().to_string(),
            wsl,
            namespaces,
            tools: HOST_TOOLS
                .iter()
                .map(|(tool, _)| (tool.to_string(), machine::which(tool).map(|p| p.display().to_string())))
                .collect(),
            rootfs,
            can_run: problems.is_empty(),
            problems,
        }
    }

    /// One line per tool the lessons use: where it is, or that it is missing and how to
    /// install it; its package either way.
    fn tool_lines(&self, lang: Lang) -> String {
        let mut o = String::new();
        for &(tool, package) in HOST_TOOLS {
            match self.tools.get(tool).cloned().flatten() {
                Some(p) => o.push_str(&format!("{tool:<20}{p}  ({package})\n")),
                None => {
                    let hint = install_hint(lang, tool, package);
                    o.push_str(&format!("{tool:<20}{}  → {hint}\n", t(lang, "doctor_not_found").yellow()));
                }
            }
        }
        o
    }

    /// Ubuntu's AppArmor restriction, where the kernel has it: what it means for the rootless
    /// lesson, how to see it, and how to lift it. Nothing where the kernel has no such setting.
    fn apparmor_lines(&self, lang: Lang) -> String {
        let label = pad(&format!("{} ", t(lang, "doctor_apparmor")), 20);
        let sysctl = apparmor::SYSCTL;
        match self.apparmor_userns {
            UsernsRestriction::Absent => String::new(),
            UsernsRestriction::Off => format!("{label}{}\n", tf(lang, "doctor_apparmor_off", &[&sysctl])),
            UsernsRestriction::Complain => format!("{label}{}\n", tf(lang, "doctor_apparmor_complain", &[&sysctl])),
            UsernsRestriction::On => {
                let indent = " ".repeat(20);
                format!(
                    "{label}{}  → {}\n{indent}{}\n{indent}{}\n",
                    tf(lang, "doctor_apparmor_on", &[&sysctl]).yellow(),
                    t(lang, "doctor_apparmor_means"),
                    tf(lang, "doctor_apparmor_see", &[&sysctl]),
                    tf(lang, "doctor_apparmor_lift", &[&sysctl]),
                )
            }
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
        o.push_str(&line("doctor_cgroups", &machine::cgroup_layout(lang)));
        o.push_str(&line("doctor_propagation", &self.root_propagation));
        let restricted =
            self.userns_restriction.as_ref().map(|w| format!("  → {}", crate::i18n::msg(lang, w))).unwrap_or_default();
        o.push_str(&line("doctor_userns", &format!("{}{restricted}", yes_no(self.user_namespaces))));
        o.push_str(&self.apparmor_lines(lang));
        let veth = match self.veth.as_str() {
            "missing" => format!("{}  → {}", t(lang, "doctor_veth_missing").yellow(), t(lang, "doctor_veth_hint")),
            "unknown" => t(lang, "doctor_veth_unknown").to_string(),
            "module" => t(lang, "doctor_veth_module").to_string(),
            "loaded" => t(lang, "doctor_veth_loaded").green().to_string(),
            _ => t(lang, "doctor_veth_builtin").green().to_string(),
        };
        o.push_str(&line("doctor_veth", &veth));
        if let Some(w) = &self.wsl {
            let systemd = if w.systemd { "doctor_wsl_systemd" } else { "doctor_wsl_no_systemd" };
            let todo = w.todo_key.map(|k| format!("  → {}", t(lang, k).yellow())).unwrap_or_default();
            let value = tf(lang, "doctor_wsl_value", &[&w.version, &t(lang, systemd)]);
            o.push_str(&line("doctor_wsl", &format!("{value}{todo}")));
        }
        o.push_str(&self.tool_lines(lang));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::wsl_version;

    /// osrelease and /proc/version as WSL and other machines write them.
    /// A report of a machine that can run the lab, for the tests to change one part of.
    fn sample() -> Report {
        Report {
            root: true,
            kernel: String::new(),
            cgroups: String::new(),
            root_propagation: "shared".into(),
            user_namespaces: true,
            userns_restriction: None,
            apparmor_userns: UsernsRestriction::Absent,
            veth: "loaded".into(),
            wsl: None,
            namespaces: vec![],
            tools: Default::default(),
            rootfs: String::new(),
            can_run: true,
            problems: vec![],
        }
    }

    #[test]
    fn wsl_is_told_from_the_kernel_strings() {
        let cases: &[(&str, &str, Option<u8>)] = &[
            // WSL 2, the current and an early Microsoft kernel.
            (
                "5.15.167.4-microsoft-standard-WSL2",
                "Linux version 5.15.167.4-microsoft-standard-WSL2 (root@f9c826d3017f) (gcc (GCC) 11.2.0) #1 SMP",
                Some(2),
            ),
            ("6.6.87.2-microsoft-standard-WSL2\n", "", Some(2)),
            ("4.19.128-microsoft-standard", "Linux version 4.19.128-microsoft-standard (oe-user@oe-host)", Some(2)),
            // A kernel built by hand from WSL2-Linux-Kernel under another name.
            ("6.1.21-custom", "Linux version 6.1.21-custom (me@host) #1 SMP WSL2", Some(2)),
            ("6.1.21-WSL-custom", "", Some(2)),
            // WSL 1: Windows translating system calls.
            (
                "4.4.0-19041-Microsoft",
                "Linux version 4.4.0-19041-Microsoft (Microsoft@Microsoft.com) (gcc version 5.4.0 (GCC) ) #1237-Microsoft",
                Some(1),
            ),
            // Not WSL: the workshop VM, Azure's kernel, a laptop.
            ("6.8.0-49-generic", "Linux version 6.8.0-49-generic (buildd@lcy02-amd64-103) (x86_64-linux-gnu-gcc-13)", None),
            ("6.8.0-1017-azure", "Linux version 6.8.0-1017-azure (buildd@lcy02-amd64-048)", None),
            ("6.18.44", "Linux version 6.18.44 (root@nsdojo) (gcc 14.2.0) #1 SMP PREEMPT_DYNAMIC", None),
            ("", "", None),
        ];
        for (osrelease, version, want) in cases {
            assert_eq!(wsl_version(osrelease, version), *want, "{osrelease:?} / {version:?}");
        }
    }

    #[test]
    fn wsl_gets_the_one_thing_to_do_first() {
        assert_eq!(wsl_todo(1, true, "v2"), Some("doctor_wsl1_todo"));
        assert_eq!(wsl_todo(2, true, "hybrid"), Some("doctor_wsl_cgroup_todo"));
        assert_eq!(wsl_todo(2, false, "v1"), Some("doctor_wsl_cgroup_todo"), "cgroups first, then systemd");
        assert_eq!(wsl_todo(2, false, "none"), Some("doctor_wsl_cgroup_todo"));
        assert_eq!(wsl_todo(2, false, "v2"), Some("doctor_wsl_systemd_todo"));
        assert_eq!(wsl_todo(2, true, "v2"), None, "like the workshop VM");
    }

    /// The WSL line, in both languages, with the thing to do; no line where it is not WSL.
    #[test]
    fn the_wsl_line_says_what_to_do() {
        colored::control::set_override(false);
        let report = |wsl| Report {
            root: true,
            kernel: "Linux 5.15.167.4-microsoft-standard-WSL2 x86_64".into(),
            cgroups: String::new(),
            root_propagation: "shared".into(),
            user_namespaces: true,
            userns_restriction: None,
            apparmor_userns: UsernsRestriction::Absent,
            veth: "unknown".into(),
            wsl,
            namespaces: vec![],
            tools: Default::default(),
            rootfs: String::new(),
            can_run: true,
            problems: vec![],
        };
        let no_systemd = report(Some(Wsl::new(2, false, "v2")));
        let en = no_systemd.render(Lang::En);
        let wsl_line = en.lines().find(|l| l.starts_with("WSL:")).unwrap_or_else(|| panic!("{en}"));
        assert!(wsl_line.contains("WSL 2, no systemd  → [boot] systemd=true in /etc/wsl.conf"), "{wsl_line}");
        let ko = no_systemd.render(Lang::Ko);
        let ko_line = ko.lines().find(|l| l.starts_with("WSL:")).unwrap_or_else(|| panic!("{ko}"));
        assert!(ko_line.contains("systemd 없음") && ko_line.contains("/etc/wsl.conf에"), "{ko_line}");
        let fine = report(Some(Wsl::new(2, true, "v2"))).render(Lang::En);
        assert!(fine.lines().any(|l| l.starts_with("WSL:") && l.ends_with("WSL 2, systemd")), "{fine}");
        assert!(!report(None).render(Lang::En).lines().any(|l| l.starts_with("WSL")), "no WSL line elsewhere");
        let json = serde_json::to_value(report(None)).unwrap();
        assert!(json["wsl"].is_null(), "{json}");
        let json = serde_json::to_value(no_systemd).unwrap();
        assert_eq!(json["wsl"]["version"], 2);
        assert_eq!(json["wsl"]["systemd"], false);
        assert!(json["wsl"]["todo"].as_str().unwrap().starts_with("[boot] systemd=true"), "{json}");
        assert!(json["wsl"].get("todo_key").is_none(), "{json}");
        // WSL 1 cannot run the lab, and says how to get WSL 2.
        let json = serde_json::to_value(Wsl::new(1, false, "none")).unwrap();
        assert!(json["todo"].as_str().unwrap().contains("wsl --set-version"), "{json}");
    }

    /// Every tool the lessons use has a line: its path and package, or, missing, how to
    /// install it (the same package a failing step names).
    #[test]
    fn doctor_lists_each_tool_with_its_package() {
        colored::control::set_override(false);
        let mut tools: std::collections::BTreeMap<String, Option<String>> =
            HOST_TOOLS.iter().map(|(t, _)| (t.to_string(), Some(format!("/usr/bin/{t}")))).collect();
        tools.insert("ip".into(), None);
        tools.insert("lsns".into(), None);
        let r = Report { tools, ..sample() };
        let en = r.tool_lines(Lang::En);
        assert_eq!(en.lines().count(), HOST_TOOLS.len(), "{en}");
        for want in ["not found  → sudo apt-get install iproute2", "/usr/bin/nsenter  (util-linux)"] {
            assert!(en.lines().any(|l| l.contains(want)), "{want}: {en}");
        }
        assert!(en.lines().any(|l| l.starts_with("lsns") && l.ends_with("sudo apt-get install util-linux")), "{en}");
        let ko = r.tool_lines(Lang::Ko);
        assert!(
            ko.lines().any(|l| l.starts_with("ip ") && l.contains("찾을 수 없음") && l.contains("iproute2")),
            "{ko}"
        );
    }

    /// Ubuntu's AppArmor restriction: on, it says what it means for the rootless lesson, how to
    /// see it and how to lift it, in both languages; off, one line; absent (this CI kernel), none.
    #[test]
    fn the_apparmor_restriction_says_what_it_means_and_how_to_see_it() {
        colored::control::set_override(false);
        let report = |apparmor_userns| Report { apparmor_userns, ..sample() };
        let on = report(UsernsRestriction::On);
        let en = on.apparmor_lines(Lang::En);
        assert!(en.starts_with("AppArmor userns:    on (kernel.apparmor_restrict_unprivileged_userns=1)  → "), "{en}");
        for want in [
            "refuses every capability",
            "CapEff still lists",
            "rootless",
            "EPERM",
            "apparmor=\"DENIED\"",
            "userns_create",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ] {
            assert!(en.contains(want), "{want}: {en}");
        }
        let ko = on.apparmor_lines(Lang::Ko);
        for want in [
            "AppArmor 제한:",
            "켜짐",
            "거절합니다",
            "rootless 레슨",
            "dmesg",
            "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0",
        ] {
            assert!(ko.contains(want), "{want}: {ko}");
        }
        assert!(on.render(Lang::En).contains("AppArmor userns:"), "the report has the line");
        assert_eq!(
            report(UsernsRestriction::Off).apparmor_lines(Lang::En),
            "AppArmor userns:    off (kernel.apparmor_restrict_unprivileged_userns=0)\n"
        );
        assert!(report(UsernsRestriction::Complain).apparmor_lines(Lang::En).contains("only logged"));
        assert_eq!(report(UsernsRestriction::Absent).apparmor_lines(Lang::En), "");
        assert!(!report(UsernsRestriction::Absent).render(Lang::En).contains("AppArmor"));
        assert_eq!(serde_json::to_value(on).unwrap()["apparmor_userns"], "on");
    }
}
