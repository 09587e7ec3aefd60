//! The tables a step can `show`: one row per fact, terminal #1 (sandbox)
//! beside terminal #2 (host), and a cell marked when the step changed it.

use crate::i18n::{t, tf};
use crate::lab::Sides;
use crate::lesson::Lang;
use crate::lesson::Ns;
use crate::observe::procfs::cgroup_path;
use crate::observe::{ProcError, Snapshot, View};

/// One row: a label and the two sides' text, each with "changed by this step".
pub struct Row {
    pub label: String,
    pub sandbox: String,
    pub sandbox_changed: bool,
    pub host: String,
    pub host_changed: bool,
}

fn row(label: impl Into<String>, before: &Sides, after: &Sides, f: &dyn Fn(&Snapshot) -> String) -> Row {
    let (sb, sa, hb, ha) = (f(&before.sandbox), f(&after.sandbox), f(&before.host), f(&after.host));
    Row { label: label.into(), sandbox_changed: sb != sa, sandbox: sa, host_changed: hb != ha, host: ha }
}

/// A /proc file that could not be read, in a cell: distinct from an empty answer.
fn unavailable(lang: Lang, e: &ProcError) -> String {
    tf(lang, "view_unavailable", &[e])
}

fn mount_cell(lang: Lang, s: &Snapshot, path: &str) -> String {
    match &s.proc.mounts {
        Ok(m) => match m.iter().rev().find(|m| m.mount_point == path) {
            Some(m) => format!("{} {} ({})", m.fstype, m.source, m.propagation_kind()),
            None => "—".into(),
        },
        Err(e) => unavailable(lang, e),
    }
}

/// uid_map, gid_map or setgroups: `(empty)` when nothing is mapped, unavailable when unread.
fn map_cell(lang: Lang, r: &Result<String, ProcError>) -> String {
    match r {
        Ok(m) if m.is_empty() => t(lang, "view_empty").into(),
        Ok(m) => m.clone(),
        Err(e) => unavailable(lang, e),
    }
}

fn under(path: &str, prefix: &str) -> bool {
    prefix == "/" || path == prefix || path.starts_with(&format!("{}/", prefix.trim_end_matches('/')))
}

fn list(items: &[String], max: usize) -> String {
    if items.len() > max {
        format!("{}\n… {} more", items[..max].join("\n"), items.len() - max)
    } else {
        items.join("\n")
    }
}

/// Build the rows for one `show` entry (already `$VAR`-expanded).
pub fn rows(lang: Lang, view: &View, before: &Sides, after: &Sides) -> (String, Vec<Row>) {
    match view {
        View::Ns => (
            t(lang, "view_ns").into(),
            Ns::ALL
                .iter()
                .filter(|n| after.host.proc.ns.contains_key(n))
                .map(|n| {
                    row(n.name(), before, after, &|s| {
                        s.proc.ns.get(n).map_or("—".into(), |i| format!("{}:[{i}]", n.name()))
                    })
                })
                .collect(),
        ),
        View::Mounts(arg) => {
            let arg = arg.as_deref();
            let mut points: Vec<String> = Vec::new();
            for s in [&after.sandbox, &after.host, &before.sandbox] {
                for m in s.proc.mounts.iter().flatten() {
                    let keep = match arg {
                        Some(p) => under(&m.mount_point, p),
                        None => true,
                    };
                    if keep && !points.contains(&m.mount_point) {
                        points.push(m.mount_point.clone());
                    }
                }
            }
            let mut rows: Vec<Row> =
                points.iter().map(|p| row(p.clone(), before, after, &|s| mount_cell(lang, s, p))).collect();
            if arg.is_none() {
                // Without a path, only what differs between the sides or changed.
                rows.retain(|r| r.sandbox != r.host || r.sandbox_changed || r.host_changed);
            }
            if rows.is_empty() {
                let label = arg.unwrap_or(t(lang, "view_all"));
                rows.push(row(label, after, after, &|s| match &s.proc.mounts {
                    Ok(_) => t(lang, "view_nothing_mounted").into(),
                    Err(e) => unavailable(lang, e),
                }));
            }
            let title = match arg {
                Some(a) => tf(lang, "view_mounts_under", &[&a]),
                None => t(lang, "view_mounts").to_string(),
            };
            (title, rows)
        }
        View::Hostname => ("hostname".into(), vec![row("hostname", before, after, &|s| s.inside.hostname.clone())]),
        View::Ps => (
            t(lang, "view_ps").into(),
            vec![
                row(t(lang, "view_visible"), before, after, &|s| match &s.inside.processes {
                    Ok(p) => p.len().to_string(),
                    Err(e) => e.to_string(),
                }),
                row("PID  COMMAND", before, after, &|s| match &s.inside.processes {
                    Ok(p) => list(&p.iter().map(|p| format!("{:<5} {}", p.pid, p.name)).collect::<Vec<_>>(), 8),
                    Err(e) => e.to_string(),
                }),
                row(t(lang, "view_agent_pids"), before, after, &|s| {
                    s.proc.nspid.iter().map(i32::to_string).collect::<Vec<_>>().join(" → ")
                }),
            ],
        ),
        View::Net => {
            let mut names: Vec<String> = Vec::new();
            for s in [&after.sandbox, &after.host] {
                if let Ok(i) = &s.inside.ifaces {
                    for x in i {
                        if !names.contains(&x.name) {
                            names.push(x.name.clone());
                        }
                    }
                }
            }
            let cell = |s: &Snapshot, n: &str| match &s.inside.ifaces {
                Ok(v) => v.iter().find(|i| i.name == n).map_or("—".into(), |i| {
                    format!("{} {}", if i.up { "UP" } else { "DOWN" }, i.addrs.join(" ")).trim().to_string()
                }),
                Err(e) => e.to_string(),
            };
            (t(lang, "view_net").into(), names.iter().map(|n| row(n.clone(), before, after, &|s| cell(s, n))).collect())
        }
        View::Routes => {
            let lines = |s: &Snapshot| match &s.proc.routes {
                Ok(r) => list(&r.iter().map(|r| r.to_string()).collect::<Vec<_>>(), 8),
                Err(e) => unavailable(lang, e),
            };
            let ports = |s: &Snapshot| match &s.proc.listening {
                Ok(l) if l.is_empty() => "—".into(),
                Ok(l) => list(l, 8),
                Err(e) => unavailable(lang, e),
            };
            (
                t(lang, "view_routes").into(),
                vec![row("ip route", before, after, &lines), row("ss -ltn", before, after, &ports)],
            )
        }
        View::Ids => (
            t(lang, "view_ids").into(),
            vec![
                row("uid / gid", before, after, &|s| format!("{} / {}", s.inside.uid, s.inside.gid)),
                row("uid_map", before, after, &|s| map_cell(lang, &s.proc.uid_map)),
                row("gid_map", before, after, &|s| map_cell(lang, &s.proc.gid_map)),
                row("setgroups", before, after, &|s| map_cell(lang, &s.proc.setgroups)),
            ],
        ),
        View::Caps => (
            t(lang, "view_caps").into(),
            vec![
                row("CapEff", before, after, &|s| caps_cell(s.proc.cap_eff, lang)),
                row("NoNewPrivs", before, after, &|s| s.proc.no_new_privs.map_or("?".into(), |b| b.to_string())),
            ],
        ),
        View::Cgroup => {
            let lines = after.host.proc.cgroup.as_deref().unwrap_or_default();
            let cell = |s: &Snapshot, key: &str| match s.cgroup_lines() {
                Ok(lines) => cgroup_path(lines, key).unwrap_or_else(|| "—".into()),
                Err(e) => unavailable(lang, e),
            };
            let mut rows: Vec<Row> = lines
                .iter()
                .map(|l| {
                    let c = l.controllers.join(",");
                    let key = l.controllers.first().map_or("", |k| k.trim_start_matches("name="));
                    let label = if c.is_empty() { "0:: (v2)".to_string() } else { c.clone() };
                    row(label, before, after, &|s| cell(s, key))
                })
                .collect();
            if let (true, Err(e)) = (rows.is_empty(), &after.host.proc.cgroup) {
                // The host's own file names the rows; without it, one row says why.
                rows.push(row("/proc/PID/cgroup", before, after, &|_| unavailable(lang, e)));
            }
            (t(lang, "view_cgroup").into(), rows)
        }
        View::Ipc => (
            t(lang, "view_ipc").into(),
            vec![row(t(lang, "view_queues"), before, after, &|s| match &s.inside.msg_queues {
                Ok(q) if q.is_empty() => t(lang, "view_none").into(),
                Ok(q) => q.join("\n"),
                Err(e) => e.to_string(),
            })],
        ),
        View::Root => (
            t(lang, "view_root").into(),
            vec![
                row("root (/proc/PID/root)", before, after, &|s| s.proc.root.clone()),
                row("cwd (/proc/PID/cwd)", before, after, &|s| s.proc.cwd.clone()),
            ],
        ),
        View::Ls(p) => {
            let p = p.clone();
            (
                format!("ls {p}"),
                vec![row(p.clone(), before, after, &|s| match s.inside.listings.get(&p) {
                    Some(Ok(v)) => v.join(" "),
                    Some(Err(e)) => e.to_string(),
                    None => "—".into(),
                })],
            )
        }
        // Drawn by the renderer from the group's files, not from a snapshot.
        View::CgroupFiles => (view.to_string(), Vec::new()),
    }
}

/// Commands a student can type in a second terminal to see the same facts.
pub fn verify_commands(lang: Lang, view: &View, pid: i32, changed_ns: &[Ns]) -> Vec<String> {
    match view {
        View::Ns => {
            let list: Vec<Ns> = if changed_ns.is_empty() { vec![Ns::Mnt] } else { changed_ns.to_vec() };
            list.iter().map(|n| format!("readlink /proc/{pid}/ns/{}", n.name())).collect()
        }
        View::Mounts(None) => vec![format!("findmnt -N {pid}")],
        View::Mounts(Some(arg)) => vec![
            format!("findmnt -N {pid} | grep {arg}"),
            format!("findmnt | grep {arg}   # {}", t(lang, "view_hosts_view")),
        ],
        View::Hostname => vec![format!("nsenter -t {pid} -u hostname")],
        View::Ps => vec![format!("nsenter -t {pid} -p -m ps aux"), format!("grep NSpid /proc/{pid}/status")],
        View::Net => vec![format!("nsenter -t {pid} -n ip -br a")],
        View::Routes => vec![format!("nsenter -t {pid} -n ip route"), format!("nsenter -t {pid} -n ss -ltn")],
        View::Ids => vec![format!("cat /proc/{pid}/uid_map /proc/{pid}/gid_map")],
        View::Caps => vec![format!("grep -E 'CapEff|NoNewPrivs' /proc/{pid}/status")],
        View::Cgroup => vec![format!("cat /proc/{pid}/cgroup")],
        View::Ipc => vec![format!("nsenter -t {pid} -i ipcs -q")],
        View::Root => vec![format!("readlink /proc/{pid}/root /proc/{pid}/cwd")],
        View::Ls(arg) => vec![format!("ls /proc/{pid}/root{arg}")],
        View::CgroupFiles => Vec::new(),
    }
}

/// A capability mask in a cell: "all 41", or how many and which are missing.
fn caps_cell(mask: Option<u64>, lang: Lang) -> String {
    let Some(mask) = mask else { return "?".into() };
    let have = crate::observe::cap_names::cap_names(mask);
    let all = crate::observe::cap_names::cap_names(u64::MAX >> (64 - crate::observe::cap_names::CAP_COUNT));
    if have.len() >= all.len() {
        return tf(lang, "view_caps_all", &[&all.len()]);
    }
    let missing: Vec<&str> = all.iter().filter(|c| !have.contains(c)).map(String::as_str).collect();
    tf(lang, "view_caps_without", &[&have.len(), &all.len(), &missing.join(", ")])
}
