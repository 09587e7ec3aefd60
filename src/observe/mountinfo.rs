//! `/proc/PID/mountinfo`, parsed.
//!
//! mountinfo (not /proc/mounts) is what tells a student *why* pivot_root
//! fails: its optional fields carry the propagation (`shared:N`,
//! `master:N`), and its mount points are relative to the process's own root,
//! which is exactly what the sandbox sees after chroot or pivot_root.
//!
//! This is the one reader of mountinfo (`/proc/PID/mountinfo` and
//! `/proc/self/mountinfo`): the tables and checks, the cgroup layout
//! (`cgroup::Layout`, from the super options), the host audit and the banner all
//! parse it here. By hand rather than with `procfs-core`, whose `MountInfo` leaves
//! the octal escapes in and builds two hash maps per line (see `super::procfs`
//! for the measurement).

use serde::{Deserialize, Serialize};

use super::procfs::{read_text, Proc, ProcError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountEntry {
    pub id: u32,
    pub parent: u32,
    pub root: String,
    pub mount_point: String,
    pub options: String,
    /// `private`, `shared:N`, `master:N`, or both shared and master.
    pub propagation: String,
    pub fstype: String,
    pub source: String,
    /// Per-superblock options (`rw,cpu,cpuacct` for a v1 cgroup hierarchy).
    #[serde(default)]
    pub super_options: String,
}

impl MountEntry {
    /// The propagation type without peer group numbers.
    pub fn propagation_kind(&self) -> &'static str {
        if self.propagation.contains("shared:") {
            "shared"
        } else if self.propagation.contains("master:") {
            "slave"
        } else {
            "private"
        }
    }
}

/// Undo the kernel's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        // Three octal digits up to \377 are a byte; `\777` does not fit one and stays as written.
        let octal = b.get(i + 1..i + 4).filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        let value = octal.map(|d| d.iter().fold(0u32, |acc, c| acc * 8 + u32::from(c - b'0')));
        if let (b'\\', Some(v @ 0..=255)) = (b[i], value) {
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse one line; `None` for a line that is not mountinfo.
pub fn parse_line(line: &str) -> Option<MountEntry> {
    let mut fields = line.split(' ');
    let id = fields.next()?.parse().ok()?;
    let parent = fields.next()?.parse().ok()?;
    let _devno = fields.next()?;
    let root = unescape(fields.next()?);
    let mount_point = unescape(fields.next()?);
    let options = fields.next()?.to_string();
    let mut optional = Vec::new();
    loop {
        match fields.next()? {
            "-" => break,
            f => optional.push(f),
        }
    }
    let fstype = fields.next()?.to_string();
    let source = unescape(fields.next()?);
    let super_options = fields.next().unwrap_or_default().to_string();
    let propagation = if optional.is_empty() { "private".to_string() } else { optional.join(" ") };
    Some(MountEntry { id, parent, root, mount_point, options, propagation, fstype, source, super_options })
}

/// Every mountinfo line of `text`; lines that are not mountinfo are skipped.
pub fn parse(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_line).collect()
}

/// `/proc/PID/mountinfo` or `/proc/self/mountinfo`, parsed.
pub(crate) fn read(who: Proc) -> Result<Vec<MountEntry>, ProcError> {
    read_text(who, "mountinfo").map(|t| parse(&t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_this_machines_private_table() {
        let m = parse(include_str!("../../tests/fixtures/mountinfo-hybrid-private.txt"));
        assert!(m.len() >= 15);
        let root = m.iter().find(|e| e.mount_point == "/").unwrap();
        assert_eq!(root.fstype, "ext4");
        assert_eq!(root.propagation_kind(), "private");
        assert!(m.iter().any(|e| e.fstype == "cgroup2"));
    }

    #[test]
    fn escapes_that_fit_no_byte_stay_as_written() {
        assert_eq!(unescape("a\\040b"), "a b");
        assert_eq!(unescape("\\777"), "\\777");
        assert_eq!(unescape("\\377").as_bytes(), "\u{fffd}".as_bytes());
        assert_eq!(unescape("end\\04"), "end\\04");
        assert_eq!(unescape("\\"), "\\");
    }

    #[test]
    fn parses_shared_slave_and_escapes() {
        let m = parse(include_str!("../../tests/fixtures/mountinfo-systemd-shared.txt"));
        assert_eq!(m.len(), 8);
        assert_eq!(m[0].propagation, "shared:1");
        assert_eq!(m[0].propagation_kind(), "shared");
        assert_eq!(m[6].mount_point, "/run/netns/my net");
        assert_eq!(m[6].root, "net:[4026532246]");
        assert_eq!(m[7].mount_point, "/tmp/with space");
        assert_eq!(m[7].propagation_kind(), "slave");
        assert_eq!(m[4].fstype, "cgroup2");
        assert_eq!(m[0].super_options, "rw,errors=remount-ro");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_line("").is_none());
        assert!(parse_line("1 2 3 / / rw").is_none());
        assert!(parse_line("x 1 0:1 / / rw - ext4 /dev/x rw").is_none());
    }
}
