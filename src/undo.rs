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
        said.push(if put_back {
            format!(
                "the host's hostname was changed to {}; put back to {} — make a UTS namespace first (`unshare -u`)",
                now.hostname(),
                before.hostname()
            )
        } else {
            format!(
                "the host's hostname was changed to {} and could not be put back — make a UTS namespace first (`unshare -u`)",
                now.hostname()
            )
        });
    }
    // Deepest first, so a mount on top of another goes before it.
    let mut added: Vec<String> = now.mount_points().difference(&before.mount_points()).cloned().collect();
    added.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in added {
        let gone = nix::mount::umount2(m.as_str(), nix::mount::MntFlags::MNT_DETACH).is_ok();
        said.push(if gone {
            format!("{m} was mounted on the host; unmounted — make a mount namespace first (`unshare -m`)")
        } else {
            format!(
                "{m} was mounted on the host and could not be unmounted — make a mount namespace first (`unshare -m`)"
            )
        });
    }
    for key in now.queue_keys().difference(&before.queue_keys()) {
        let removed = remove_queue(key);
        said.push(if removed {
            format!("a message queue (key {key}) was made on the host; removed — make an IPC namespace first (`unshare -i`)")
        } else {
            format!(
                "a message queue (key {key}) was made on the host and could not be removed — make an IPC namespace first (`unshare -i`)"
            )
        });
    }
    for link in now.links().difference(before.links()) {
        let deleted = crate::netlink::delete_link(link).1.is_ok();
        said.push(if deleted {
            format!("the interface {link} was made on the host; deleted — make it inside terminal #1's network namespace")
        } else {
            format!(
                "the interface {link} was made on the host and could not be deleted — make it inside terminal #1's network namespace"
            )
        });
    }
    for n in now.netns().difference(before.netns()) {
        let _ = nix::mount::umount2(n.as_str(), nix::mount::MntFlags::MNT_DETACH);
        let removed = std::fs::remove_file(n).is_ok();
        said.push(if removed {
            format!("the named network namespace {n} was left on the host; removed (`ip netns delete` removes it)")
        } else {
            format!("the named network namespace {n} was left on the host and could not be removed (`ip netns delete` removes it)")
        });
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

#[cfg(test)]
mod tests {
    use crate::i18n::machine_text;
    use crate::lesson::Lang;

    #[test]
    fn what_was_put_back_is_said_in_korean_too() {
        let en = "the host's hostname was changed to oops; put back to vm — make a UTS namespace first (`unshare -u`)";
        let ko = machine_text(Lang::Ko, en);
        assert!(ko.contains("oops") && ko.contains("vm") && ko.contains("되돌렸습니다"), "{ko}");
        let en = "/mnt was mounted on the host; unmounted — make a mount namespace first (`unshare -m`)";
        assert!(machine_text(Lang::Ko, en).starts_with("/mnt 경로가"), "{}", machine_text(Lang::Ko, en));
    }
}
