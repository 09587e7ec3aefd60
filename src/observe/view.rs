//! What a step can `show`, typed: each table names the facts it displays, so it
//! knows what has to be read for it ([`View::add_needs`]).
//!
//! A lesson writes `show = ["ns", "mounts /run/netns", "ls $ROOTFS"]`; the lesson
//! parser turns each line into a [`View`] when the lesson loads, the lab asks the
//! views what to collect, and the renderer draws them. Adding a view is one
//! variant, its arms here, a row in [`SHOW_VIEWS`] (checked against
//! docs/lessons.md) and its table in `render::views`.

use std::fmt;

use super::Needs;

/// One `show` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum View {
    /// Namespace inodes of both sides.
    Ns,
    /// Mount table entries under a path, or (without one) those that differ or changed.
    Mounts(Option<String>),
    Hostname,
    Ps,
    Net,
    /// IPv4 routes and listening TCP sockets (/proc/PID/net).
    Routes,
    Ids,
    Caps,
    Cgroup,
    Ipc,
    Root,
    /// A directory listing through each side's root.
    Ls(String),
    /// The session cgroup's limit files, before and after (read by the host, not from /proc).
    CgroupFiles,
}

/// What `show` may name, with what it shows. The authoring guide has a row for each.
pub const SHOW_VIEWS: &[(&str, &str)] = &[
    ("ns", "namespace inodes of both sides"),
    ("mounts [PATH]", "mount table entries (under PATH, or those that differ)"),
    ("hostname", "hostname of both sides"),
    ("ps", "processes each side sees"),
    ("net", "network interfaces and their state"),
    ("routes", "IPv4 routes and listening TCP sockets of both sides"),
    ("ids", "uid/gid, uid_map, gid_map, setgroups"),
    ("caps", "effective capabilities (CapEff) and no_new_privs of both sides"),
    ("cgroup", "/proc/PID/cgroup of both sides"),
    ("ipc", "SysV message queues"),
    ("root", "root and working directory"),
    ("ls PATH", "directory listing of PATH on both sides"),
    ("cgroup-files", "the session cgroup's limit files, before and after"),
];

/// Why a `show` line is not a view.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViewError {
    #[error("unknown view `{view}` in show (known: {known})")]
    Unknown { view: String, known: String },
    #[error("`ls` needs a PATH")]
    NeedsPath,
}

impl View {
    /// Parse one `show` line: a view's name, then (for `mounts` and `ls`) a path.
    /// Words after those are ignored, as they always were.
    pub fn parse(line: &str) -> Result<View, ViewError> {
        let mut words = line.split_whitespace();
        let name = words.next().unwrap_or("");
        let arg = words.next().map(str::to_string);
        Ok(match name {
            "ns" => View::Ns,
            "mounts" => View::Mounts(arg),
            "hostname" => View::Hostname,
            "ps" => View::Ps,
            "net" => View::Net,
            "routes" => View::Routes,
            "ids" => View::Ids,
            "caps" => View::Caps,
            "cgroup" => View::Cgroup,
            "ipc" => View::Ipc,
            "root" => View::Root,
            "ls" => View::Ls(arg.ok_or(ViewError::NeedsPath)?),
            "cgroup-files" => View::CgroupFiles,
            _ => {
                let known: Vec<&str> =
                    SHOW_VIEWS.iter().map(|(v, _)| v.split_whitespace().next().unwrap_or(v)).collect();
                return Err(ViewError::Unknown { view: name.to_string(), known: known.join(", ") });
            }
        })
    }

    /// The views `state` and `diff` show: everything a snapshot holds, `/` for mounts.
    pub(crate) fn all() -> Vec<View> {
        vec![
            View::Ns,
            View::Mounts(Some("/".into())),
            View::Hostname,
            View::Ps,
            View::Net,
            View::Ids,
            View::Cgroup,
            View::Ipc,
            View::Root,
        ]
    }

    /// The same view with its path expanded by `f` (`$WORK`, `$ROOTFS`).
    pub fn map_arg(&self, f: &dyn Fn(&str) -> String) -> View {
        match self {
            View::Mounts(Some(p)) => View::Mounts(Some(f(p))),
            View::Ls(p) => View::Ls(f(p)),
            other => other.clone(),
        }
    }

    /// Ask for what drawing this view reads (path already expanded).
    pub fn add_needs(&self, needs: &mut Needs) {
        match self {
            View::Ls(p) => needs.paths.push(p.clone()),
            View::Ps => needs.processes = true,
            View::Net => needs.ifaces = true,
            View::Routes => needs.net = true,
            View::Ipc => needs.ipc = true,
            View::Mounts(_) => needs.mounts = true,
            View::Cgroup => needs.cgroup = true,
            View::Ids => needs.ids = true,
            View::Caps => needs.status = true,
            View::Root => needs.root = true,
            View::Ns | View::Hostname | View::CgroupFiles => {}
        }
    }
}

impl fmt::Display for View {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            View::Ns => f.write_str("ns"),
            View::Mounts(None) => f.write_str("mounts"),
            View::Mounts(Some(p)) => write!(f, "mounts {p}"),
            View::Hostname => f.write_str("hostname"),
            View::Ps => f.write_str("ps"),
            View::Net => f.write_str("net"),
            View::Routes => f.write_str("routes"),
            View::Ids => f.write_str("ids"),
            View::Caps => f.write_str("caps"),
            View::Cgroup => f.write_str("cgroup"),
            View::Ipc => f.write_str("ipc"),
            View::Root => f.write_str("root"),
            View::Ls(p) => write!(f, "ls {p}"),
            View::CgroupFiles => f.write_str("cgroup-files"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_and_prints_back() {
        for (row, _) in SHOW_VIEWS {
            let line = row.replace("[PATH]", "/run").replace("PATH", "/x");
            let v = View::parse(&line).unwrap_or_else(|e| panic!("{row}: {e}"));
            assert_eq!(v.to_string(), line);
        }
        assert_eq!(View::parse("mounts").unwrap(), View::Mounts(None));
        assert_eq!(View::parse("ls"), Err(ViewError::NeedsPath));
        let e = View::parse("nope").unwrap_err().to_string();
        assert!(e.starts_with("unknown view `nope` in show (known: ns, mounts, hostname"), "{e}");
    }

    #[test]
    fn views_ask_for_what_they_show() {
        let mut n = Needs::default();
        for v in ["ls /x", "ps", "mounts", "caps"] {
            View::parse(v).unwrap().add_needs(&mut n);
        }
        assert_eq!(n.paths, vec!["/x".to_string()]);
        assert!(n.processes && n.mounts && n.status && !n.ifaces && !n.cgroup);
    }
}
