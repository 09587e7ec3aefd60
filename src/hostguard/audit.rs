//! The leak audit: what a careful student would compare on the host before
//! and after a lesson — mount table, hostname, named network namespaces,
//! network interfaces and routes, SysV message queues, nsdojo cgroups and work directories. Any difference
//! is printed loudly; the tests use the same comparison.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use crate::observe::mountinfo::{self, MountEntry};
use crate::observe::procfs::{self, Proc};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct HostAudit {
    mounts: BTreeSet<String>,
    hostname: String,
    netns: BTreeSet<String>,
    /// Interface names of the host's network namespace, and its IPv4 routes.
    links: BTreeSet<String>,
    routes: BTreeSet<String>,
    msg_queues: BTreeSet<String>,
    nsdojo_paths: BTreeSet<String>,
}

/// Directories named `nsdojo-*` below `root`, up to `depth` levels.
pub(crate) fn find_named(root: &Path, depth: usize, matches: &dyn Fn(&str) -> bool, out: &mut BTreeSet<String>) {
    let Ok(rd) = fs::read_dir(root) else { return };
    for e in rd.flatten() {
        if !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        if matches(&name) {
            out.insert(e.path().display().to_string());
        } else if depth > 1 {
            find_named(&e.path(), depth - 1, matches, out);
        }
    }
}

/// Where nsdojo can make cgroups: each hierarchy's root (v2, and `nsdojo cleanup`'s search)
/// and, within it, the cgroup nsdojo itself runs in (v1 nests its groups there). Looking only
/// there keeps the audit from walking whole cgroup trees.
pub(crate) fn cgroup_parents(mounts: &[MountEntry]) -> Vec<std::path::PathBuf> {
    // Unreadable: only the hierarchies' roots are searched.
    let own = procfs::cgroup(Proc::Myself).unwrap_or_default();
    let mut dirs = Vec::new();
    for m in mounts {
        if m.fstype != "cgroup" && m.fstype != "cgroup2" {
            continue;
        }
        let root = std::path::PathBuf::from(&m.mount_point);
        // v1 hierarchies are mounted at .../cpu, .../cpu,cpuacct, .../systemd (name=systemd).
        let base = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let ctrls: Vec<&str> = base.split(',').collect();
        let path = own.iter().find_map(|l| {
            let hit = if m.fstype == "cgroup2" {
                l.controllers.is_empty()
            } else {
                l.controllers.iter().any(|x| ctrls.contains(&x.trim_start_matches("name=")))
            };
            hit.then(|| l.path.trim_start_matches('/').to_string())
        });
        if let Some(p) = path.filter(|p| !p.is_empty()) {
            dirs.push(root.join(p));
        }
        dirs.push(root);
    }
    dirs
}

impl HostAudit {
    pub(crate) fn now() -> HostAudit {
        // Unreadable, the audit says so as a mount of its own: before and after then differ
        // unless both failed alike, and an empty table would look like "nothing leaked".
        let table = mountinfo::read(Proc::Myself);
        let mounts = match &table {
            Ok(m) => m.iter().map(|m| format!("{} ({})", m.mount_point, m.fstype)).collect(),
            Err(e) => BTreeSet::from([format!("(mount table unavailable: {e})")]),
        };
        let netns = fs::read_dir("/run/netns")
            .map(|d| d.flatten().map(|e| format!("/run/netns/{}", e.file_name().to_string_lossy())).collect())
            .unwrap_or_default();
        let msg_queues = fs::read_to_string("/proc/sysvipc/msg")
            .unwrap_or_default()
            .lines()
            .skip(1)
            .filter_map(|l| l.split_whitespace().next().map(|k| format!("message queue key {k}")))
            .collect();
        let mut nsdojo_paths = BTreeSet::new();
        let ours = |n: &str| n.starts_with("nsdojo-");
        for dir in cgroup_parents(table.as_deref().unwrap_or_default()) {
            find_named(&dir, 1, &ours, &mut nsdojo_paths);
        }
        find_named(Path::new("/tmp"), 1, &ours, &mut nsdojo_paths);
        let links = fs::read_dir("/sys/class/net")
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        let routes =
            crate::observe::net::read_routes(Proc::Myself).unwrap_or_default().iter().map(|r| r.to_string()).collect();
        HostAudit {
            mounts,
            hostname: nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default(),
            netns,
            links,
            routes,
            msg_queues,
            nsdojo_paths,
        }
    }

    pub(crate) fn hostname(&self) -> &str {
        &self.hostname
    }

    /// SysV message queue keys (hex).
    pub(crate) fn queue_keys(&self) -> BTreeSet<String> {
        self.msg_queues.iter().filter_map(|q| q.strip_prefix("message queue key ").map(str::to_string)).collect()
    }

    pub(crate) fn links(&self) -> &BTreeSet<String> {
        &self.links
    }

    pub(crate) fn netns(&self) -> &BTreeSet<String> {
        &self.netns
    }

    /// One line per difference: `+ added` / `- removed`.
    pub(crate) fn differences(&self, after: &HostAudit) -> Vec<String> {
        let mut out = Vec::new();
        let mut set = |what: &str, a: &BTreeSet<String>, b: &BTreeSet<String>| {
            out.extend(b.difference(a).map(|x| format!("+ {what} {x}")));
            out.extend(a.difference(b).map(|x| format!("- {what} {x}")));
        };
        set("mount", &self.mounts, &after.mounts);
        set("netns", &self.netns, &after.netns);
        set("interface", &self.links, &after.links);
        set("route", &self.routes, &after.routes);
        set("ipc", &self.msg_queues, &after.msg_queues);
        set("path", &self.nsdojo_paths, &after.nsdojo_paths);
        if self.hostname != after.hostname {
            out.push(format!("~ hostname {} → {}", self.hostname, after.hostname));
        }
        out
    }

    /// Paths of this session only, so two sessions at once do not accuse each other.
    pub(crate) fn only_session(mut self, session: &str) -> HostAudit {
        self.nsdojo_paths.retain(|p| p.contains(session));
        self.netns.retain(|n| !n.contains("nsdojo-") || n.contains(session));
        self.mounts.retain(|m| !m.contains("/nsdojo-") || m.contains(session));
        // Interfaces lessons name with `$NETID` (the session id's random part), and their routes.
        let netid = session.rsplit('-').next().unwrap_or(session);
        let others = |s: &String| {
            s.split(|c: char| c == '-' || c.is_whitespace())
                .any(|w| w.len() == 8 && w.bytes().all(|b| b.is_ascii_hexdigit()) && w != netid)
        };
        self.links.retain(|l| !others(l));
        self.routes.retain(|r| !others(r));
        self
    }
}

/// Write a loud warning about what changed on the host (`differences`) during `what`.
pub(crate) fn warn(
    to: &mut dyn std::io::Write,
    differences: &[String],
    what: &str,
    lang: crate::lesson::Lang,
) -> std::io::Result<()> {
    if differences.is_empty() {
        return Ok(());
    }
    use colored::Colorize;
    writeln!(to, "{}", crate::i18n::tf(lang, "audit_warning", &[&what]).red().bold())?;
    for d in differences {
        writeln!(to, "  {}", d.red())?;
    }
    writeln!(to, "{}", crate::i18n::t(lang, "audit_others").dimmed())
}
