//! The leak audit: what a careful student would compare on the host before
//! and after a lesson — mount table, hostname, named network namespaces,
//! network interfaces and routes, SysV message queues, nsdojo cgroups and work directories. Any difference
//! is printed loudly; the tests use the same comparison.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use super::change::HostChange;
use crate::lesson::Lang;
use crate::observe::mountinfo::{self, MountEntry};
use crate::observe::procfs::{self, Proc};

/// How a queue is kept in the audit (and in records on disk, so it stays as it is).
const QUEUE: &str = "message queue key ";

/// One thing the audit found different on the host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Difference {
    /// The host has it now and had not.
    Added(HostChange),
    /// The host had it and has it no more.
    Gone(HostChange),
    /// It is there still, changed (the hostname).
    Changed(HostChange),
}

impl Difference {
    /// What differs.
    pub fn change(&self) -> &HostChange {
        match self {
            Difference::Added(c) | Difference::Gone(c) | Difference::Changed(c) => c,
        }
    }

    /// A difference step `own` (the names its actions touch on the host) makes by design: what
    /// it moved off or removed, and a route through its interfaces. What it adds is not: that
    /// is taken back after a try, and still there only if that failed.
    pub fn made_by_step(&self, own: &[String]) -> bool {
        match self {
            Difference::Added(c @ HostChange::Route { .. }) | Difference::Gone(c) => c.is_about(own),
            _ => false,
        }
    }

    /// `+ mount /x (tmpfs)`, `- interface veth0`, `~ hostname b (was a)`, in `lang`.
    pub fn line(&self, lang: Lang) -> String {
        match self {
            Difference::Added(c) => format!("+ {}", c.what(lang)),
            Difference::Gone(c) => format!("- {}", c.what(lang)),
            Difference::Changed(c) => format!("~ {}", c.what(lang)),
        }
    }
}

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
        let msg_queues =
            crate::observe::system::msg_queues().into_iter().map(|q| format!("{QUEUE}{}", q.key)).collect();
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
        self.msg_queues.iter().filter_map(|q| q.strip_prefix(QUEUE).map(str::to_string)).collect()
    }

    pub(crate) fn links(&self) -> &BTreeSet<String> {
        &self.links
    }

    pub(crate) fn netns(&self) -> &BTreeSet<String> {
        &self.netns
    }

    /// What differs from `self` in `after`: each as a [`HostChange`], added or gone.
    pub(crate) fn differences(&self, after: &HostAudit) -> Vec<Difference> {
        let mut out = Vec::new();
        let mut set = |a: &BTreeSet<String>, b: &BTreeSet<String>, change: &dyn Fn(&str) -> HostChange| {
            out.extend(b.difference(a).map(|x| Difference::Added(change(x))));
            out.extend(a.difference(b).map(|x| Difference::Gone(change(x))));
        };
        set(&self.mounts, &after.mounts, &|m| {
            // "point (fstype)"; the unreadable table's line is said whole.
            match m.strip_suffix(')').and_then(|m| m.rsplit_once(" (")) {
                Some((point, fs)) => HostChange::Mount { point: point.into(), fstype: Some(fs.into()) },
                None => HostChange::Mount { point: m.into(), fstype: None },
            }
        });
        set(&self.netns, &after.netns, &|n| HostChange::Netns { path: n.into() });
        set(&self.links, &after.links, &|l| HostChange::Link { name: l.into(), index: None });
        set(&self.routes, &after.routes, &|r| HostChange::Route { route: r.into() });
        set(&self.msg_queues, &after.msg_queues, &|q| HostChange::MsgQueue {
            key: q.strip_prefix(QUEUE).unwrap_or(q).into(),
        });
        set(&self.nsdojo_paths, &after.nsdojo_paths, &|p| match p.starts_with("/tmp/") {
            true => HostChange::Dir { path: p.into(), id: None },
            false => HostChange::CgroupDir { path: p.into() },
        });
        if self.hostname != after.hostname {
            out.push(Difference::Changed(HostChange::Hostname {
                was: self.hostname.clone(),
                now: after.hostname.clone(),
            }));
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
    differences: &[Difference],
    what: &str,
    lang: Lang,
) -> std::io::Result<()> {
    if differences.is_empty() {
        return Ok(());
    }
    use colored::Colorize;
    writeln!(to, "{}", crate::i18n::tf(lang, "audit_warning", &[&what]).red().bold())?;
    for d in differences {
        writeln!(to, "  {}", d.line(lang).red())?;
    }
    writeln!(to, "{}", crate::i18n::t(lang, "audit_others").dimmed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn audit(mounts: &[&str], hostname: &str, queues: &[&str], paths: &[&str]) -> HostAudit {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        HostAudit {
            mounts: set(mounts),
            hostname: hostname.into(),
            netns: BTreeSet::new(),
            links: BTreeSet::new(),
            routes: BTreeSet::new(),
            msg_queues: queues.iter().map(|k| format!("{QUEUE}{k}")).collect(),
            nsdojo_paths: set(paths),
        }
    }

    #[test]
    fn what_differs_is_a_host_change_said_in_either_language() {
        let before = audit(&["/ (ext4)", "/old (tmpfs)"], "vm", &[], &[]);
        let after = audit(
            &["/ (ext4)", "/mnt (tmpfs)"],
            "oops",
            &["0x0000002a"],
            &["/tmp/nsdojo-1-ab", "/sys/fs/cgroup/nsdojo-1-ab"],
        );
        let d = before.differences(&after);
        let en: Vec<String> = d.iter().map(|d| d.line(Lang::En)).collect();
        assert_eq!(
            en,
            [
                "+ mount /mnt (tmpfs)",
                "- mount /old (tmpfs)",
                "+ message queue key 0x0000002a",
                "+ cgroup /sys/fs/cgroup/nsdojo-1-ab",
                "+ dir /tmp/nsdojo-1-ab",
                "~ hostname oops (was vm)",
            ]
        );
        assert_eq!(d[0], Difference::Added(HostChange::Mount { point: "/mnt".into(), fstype: Some("tmpfs".into()) }));
        let ko: Vec<String> = d.iter().map(|d| d.line(Lang::Ko)).collect();
        assert_eq!(ko[0], "+ 마운트 /mnt (tmpfs)");
        assert_eq!(ko[5], "~ 호스트 이름 oops (원래 vm)");
        assert!(before.differences(&before).is_empty());
    }
}
