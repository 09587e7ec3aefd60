//! Why the student's call failed, in the student's terms: the errno and what the process is
//! (its namespaces against the host's, its capabilities, its uid) decide the note shown under
//! the call, the same notes nsdojo's own calls carry (`msg::Msg`). Pure: tested on facts.

use std::collections::BTreeMap;

use nix::errno::Errno;

use super::decode::{FileKind, Topic};
use crate::lesson::Ns;
use crate::msg::Msg;

/// What is known of the failing process, read when a call fails.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facts {
    /// Namespace inodes of the process and of the host (the tracer's own).
    pub ns: BTreeMap<Ns, u64>,
    pub host_ns: BTreeMap<Ns, u64>,
    pub cap_eff: Option<u64>,
    pub uid: u32,
    /// The user namespace owning each of the process's namespaces (NS_GET_USERNS).
    pub owners: BTreeMap<Ns, u64>,
    /// Its `/` is another directory than the host's (after chroot or pivot_root).
    pub own_root: bool,
    /// In AppArmor's unprivileged_userns profile (Ubuntu's restriction, observe::apparmor): its
    /// capabilities are refused whatever CapEff lists.
    pub apparmor_restricted: bool,
}

impl Facts {
    fn shares_host(&self, ns: Ns) -> bool {
        self.ns.get(&ns).is_some_and(|i| self.host_ns.get(&ns) == Some(i))
    }

    fn has(&self, cap: u8) -> bool {
        self.cap_eff.is_none_or(|m| m & (1u64 << cap) != 0)
    }
}

fn lacks(f: &Facts, cap: u8) -> Option<Msg> {
    (!f.has(cap)).then(|| Msg::YouLackCap { cap: crate::observe::cap_names::cap_constant(cap), uid: f.uid })
}

/// EPERM on a call that needs `cap` over a namespace of kind `ns`: still the host's while in
/// a user namespace of its own (the classic `unshare -U` then `hostname`), or no capability.
fn powerless(f: &Facts, ns: Ns, cap: u8) -> Option<Msg> {
    let flag = format!("-{}", unshare_letter(ns));
    if f.shares_host(ns) && !f.shares_host(Ns::User) {
        return Some(Msg::YouStillInHostNs { ns: ns.name().into(), flag });
    }
    // Made before this user namespace (by the lab, as root): owned by another one, so even
    // every capability here would not do (and after exec as an unmapped user there are none).
    let owner = f.owners.get(&ns);
    if owner.is_some() && owner != f.ns.get(&Ns::User) {
        return Some(Msg::YouNsOwnedElsewhere { ns: ns.name().into(), flag });
    }
    lacks(f, cap).or_else(|| apparmor(f))
}

/// The capability is there but AppArmor's profile refused its use.
fn apparmor(f: &Facts) -> Option<Msg> {
    f.apparmor_restricted.then_some(Msg::UsernsApparmor)
}

/// unshare(1)'s option for a namespace type.
fn unshare_letter(ns: Ns) -> char {
    match ns {
        Ns::Mnt => 'm',
        Ns::Uts => 'u',
        Ns::Ipc => 'i',
        Ns::Pid => 'p',
        Ns::Net => 'n',
        Ns::User => 'U',
        Ns::Cgroup => 'C',
        Ns::Time => 'T',
    }
}

const CAP_SETGID: u8 = 6;
const CAP_SETUID: u8 = 7;
const CAP_NET_ADMIN: u8 = 12;
const CAP_SYS_CHROOT: u8 = 18;
const CAP_SYS_ADMIN: u8 = 21;

/// The note under a failed call, if the lab knows the usual cause.
pub(crate) fn why(topic: &Topic, errno: Errno, f: &Facts) -> Option<Msg> {
    use Errno::*;
    match (topic, errno) {
        (Topic::Ns(Ns::Ipc), _) => None,
        (Topic::Ns(ns), EPERM) => powerless(f, *ns, CAP_SYS_ADMIN),
        (Topic::Mount { .. }, EPERM) => powerless(f, Ns::Mnt, CAP_SYS_ADMIN),
        // AppArmor checks its mount rules before the kernel checks the capability: EACCES.
        (Topic::Mount { .. } | Topic::Pivot, EACCES) => apparmor(f),
        (Topic::Mount { target }, ENOENT) => Some(Msg::MountTargetMissing(target.clone())),
        (Topic::Pivot, EPERM) => powerless(f, Ns::Mnt, CAP_SYS_ADMIN),
        (Topic::Pivot, e) => crate::msg::pivot_note(e),
        (Topic::Unshare { flags }, EPERM) => {
            let user = flags & libc::CLONE_NEWUSER as u64 != 0;
            if user && f.has(CAP_SYS_ADMIN) {
                // Any user may make a user namespace; root with every capability refused is chrooted.
                Some(Msg::YouUserNsInChroot)
            } else {
                lacks(f, CAP_SYS_ADMIN).or_else(|| apparmor(f))
            }
        }
        (Topic::Setns, EPERM) => lacks(f, CAP_SYS_ADMIN).or_else(|| apparmor(f)),
        (Topic::Chroot, EPERM) => lacks(f, CAP_SYS_CHROOT).or_else(|| apparmor(f)),
        (Topic::Creds, EPERM) => lacks(f, CAP_SETUID).or_else(|| lacks(f, CAP_SETGID)).or_else(|| apparmor(f)),
        (Topic::Exec { path }, ENOENT) if f.own_root => Some(Msg::YouNoProgram(path.clone())),
        (Topic::Exec { path }, ENOENT) => Some(Msg::YouNotInstalled(path.clone())),
        (Topic::File(FileKind::IdMap), EPERM) => Some(Msg::IdMapOnce),
        (Topic::File(FileKind::IdMap), EINVAL) => Some(Msg::MapOnlyOnce),
        (Topic::File(FileKind::Cgroup), EINVAL) => Some(Msg::YouCgroupValue),
        (Topic::File(FileKind::Cgroup), EBUSY) => Some(Msg::YouCgroupBusy),
        (Topic::Rtnl, EPERM) => powerless(f, Ns::Net, CAP_NET_ADMIN),
        (Topic::Rtnl, EEXIST) => Some(Msg::YouLinkExists),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> BTreeMap<Ns, u64> {
        Ns::ALL.iter().enumerate().map(|(i, ns)| (*ns, 4026531835 + i as u64)).collect()
    }

    #[test]
    fn root_of_a_new_user_namespace_cannot_rename_the_hosts_uts() {
        // `unshare -U` and then `hostname web1`: every capability, but in the wrong namespace.
        let mut ns = host();
        ns.insert(Ns::User, 4026532999);
        let f = Facts { ns, host_ns: host(), cap_eff: Some(u64::MAX), uid: 65534, ..Facts::default() };
        let why = why(&Topic::Ns(Ns::Uts), Errno::EPERM, &f);
        assert_eq!(why, Some(Msg::YouStillInHostNs { ns: "uts".into(), flag: "-u".into() }));
    }

    #[test]
    fn a_namespace_the_lab_made_as_root_is_not_the_new_user_namespaces_either() {
        // The lab unshared UTS as root; the student then `unshare -U` and `hostname web1`.
        let mut ns = host();
        ns.insert(Ns::User, 4026532999);
        ns.insert(Ns::Uts, 4026532500);
        let owners = [(Ns::Uts, host()[&Ns::User])].into_iter().collect();
        let f = Facts { ns, host_ns: host(), cap_eff: Some(u64::MAX), uid: 0, owners, ..Facts::default() };
        let why = why(&Topic::Ns(Ns::Uts), Errno::EPERM, &f);
        assert_eq!(why, Some(Msg::YouNsOwnedElsewhere { ns: "uts".into(), flag: "-u".into() }));
    }

    #[test]
    fn an_ordinary_user_lacks_the_capability() {
        let f = Facts { ns: host(), host_ns: host(), cap_eff: Some(0), uid: 1000, ..Facts::default() };
        assert_eq!(
            why(&Topic::Ns(Ns::Uts), Errno::EPERM, &f),
            Some(Msg::YouLackCap { cap: "CAP_SYS_ADMIN".into(), uid: 1000 })
        );
        assert_eq!(
            why(&Topic::Chroot, Errno::EPERM, &f),
            Some(Msg::YouLackCap { cap: "CAP_SYS_CHROOT".into(), uid: 1000 })
        );
        // Root with every capability in its own namespaces: no guess.
        let root = Facts { ns: host(), host_ns: host(), cap_eff: Some(u64::MAX), uid: 0, ..Facts::default() };
        assert_eq!(why(&Topic::Ns(Ns::Uts), Errno::EPERM, &root), None);
    }

    #[test]
    fn the_labs_known_traps_keep_their_notes() {
        let f = Facts::default();
        assert_eq!(why(&Topic::Pivot, Errno::EBUSY, &f), Some(Msg::PivotNotMountPoint));
        assert_eq!(
            why(&Topic::Mount { target: "/mnt/x".into() }, Errno::ENOENT, &f),
            Some(Msg::MountTargetMissing("/mnt/x".into()))
        );
        assert_eq!(why(&Topic::File(FileKind::Cgroup), Errno::EINVAL, &f), Some(Msg::YouCgroupValue));
        // A program missing: not installed here, or not in the new root after chroot or pivot_root.
        let bash = Topic::Exec { path: "/bin/bash".into() };
        assert_eq!(why(&bash, Errno::ENOENT, &f), Some(Msg::YouNotInstalled("/bin/bash".into())));
        let chrooted = Facts { own_root: true, ..Facts::default() };
        assert_eq!(why(&bash, Errno::ENOENT, &chrooted), Some(Msg::YouNoProgram("/bin/bash".into())));
    }

    /// Ubuntu 24.04's default, in the rootless lesson's try shell: a user namespace of its own,
    /// uid 0 with every capability listed, and still EPERM: AppArmor, said so. The namespace
    /// reasons come first (they hold whatever AppArmor does), and without the profile nothing.
    #[test]
    fn a_refusal_under_apparmors_userns_profile_says_apparmor() {
        let mut ns = host();
        ns.insert(Ns::User, 4026532999);
        let f = Facts {
            ns: ns.clone(),
            host_ns: host(),
            cap_eff: Some(u64::MAX),
            uid: 0,
            apparmor_restricted: true,
            ..Facts::default()
        };
        let uts = Topic::Unshare { flags: libc::CLONE_NEWUTS as u64 };
        assert_eq!(why(&uts, Errno::EPERM, &f), Some(Msg::UsernsApparmor));
        assert_eq!(why(&Topic::Mount { target: "/mnt".into() }, Errno::EACCES, &f), Some(Msg::UsernsApparmor));
        assert_eq!(why(&Topic::Chroot, Errno::EPERM, &f), Some(Msg::UsernsApparmor));
        // Its own UTS namespace, and sethostname refused: AppArmor.
        let mut own = f.clone();
        own.ns.insert(Ns::Uts, 4026533000);
        own.owners.insert(Ns::Uts, 4026532999);
        assert_eq!(why(&Topic::Ns(Ns::Uts), Errno::EPERM, &own), Some(Msg::UsernsApparmor));
        // Still the host's UTS namespace: that is the first reason.
        assert_eq!(
            why(&Topic::Ns(Ns::Uts), Errno::EPERM, &f),
            Some(Msg::YouStillInHostNs { ns: "uts".into(), flag: "-u".into() })
        );
        let free = Facts { apparmor_restricted: false, ..f };
        assert_eq!(why(&uts, Errno::EPERM, &free), None);
        assert_eq!(why(&Topic::Mount { target: "/mnt".into() }, Errno::EACCES, &free), None);
    }
}
