//! After `try`: what the student's shell changed on the host, put back. A student who types
//! `hostname oops` before `unshare -u`, mounts before `unshare -m`, makes a queue before
//! `unshare -i` or leaves a named netns or an interface behind changed the host, not terminal
//! #1; each is undone here and said in one line, with what the step needed first.

use crate::audit::HostAudit;

/// What was undone (or could not be), one line each, worded for the student.
pub(crate) fn since(before: &HostAudit) -> Vec<String> {
    let now = HostAudit::now();
    let mut said = Vec::new();
    if now.hostname() != before.hostname() {
        let put_back = nix::unistd::sethostname(before.hostname()).is_ok();
        said.push(format!(
            "the host's hostname was changed to {}; {} — make a UTS namespace first (`unshare -u`)",
            now.hostname(),
            if put_back { format!("put back to {}", before.hostname()) } else { "could not put it back".into() }
        ));
    }
    // Deepest first, so a mount on top of another goes before it.
    let mut added: Vec<String> = now.mount_points().difference(&before.mount_points()).cloned().collect();
    added.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in added {
        let gone = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH).is_ok();
        said.push(format!(
            "{m} was mounted on the host; {} — make a mount namespace first (`unshare -m`)",
            if gone { "unmounted" } else { "could not unmount it" }
        ));
    }
    for key in now.queue_keys().difference(&before.queue_keys()) {
        let removed = remove_queue(key);
        said.push(format!(
            "a message queue (key {key}) was made on the host; {} — make an IPC namespace first (`unshare -i`)",
            if removed { "removed" } else { "could not remove it" }
        ));
    }
    for link in now.links().difference(before.links()) {
        let deleted = crate::netlink::delete_link(link).1.is_ok();
        said.push(format!(
            "the interface {link} was made on the host; {} — make it inside terminal #1's network namespace",
            if deleted { "deleted" } else { "could not delete it" }
        ));
    }
    for n in now.netns().difference(before.netns()) {
        let _ = nix::mount::umount2(n.as_str(), nix::mount::MntFlags::MNT_DETACH);
        let removed = std::fs::remove_file(n).is_ok();
        said.push(format!(
            "the named network namespace {n} was left on the host; {} (`ip netns delete` removes it)",
            if removed { "removed" } else { "could not remove it" }
        ));
    }
    said
}

/// `msgctl(IPC_RMID)` for the queue with this key (hex, as /proc/sysvipc/msg shows it).
fn remove_queue(key: &str) -> bool {
    let table = std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default();
    let Some(id) = table.lines().skip(1).find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.first() == Some(&key)).then(|| f.get(1)?.parse::<i32>().ok())?
    }) else {
        return false;
    };
    // SAFETY: msgctl with IPC_RMID takes no buffer (null is allowed).
    unsafe { libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()) == 0 }
}
