//! What each lesson line asks of the kernel, in order and with which arguments, and what the
//! student reads when the kernel says no: the sandbox's teaching, tested as an ordinary user
//! through the [`RecordingKernel`] (nothing is mounted, unshared or changed here).

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::kernel::{Call, CapData, CapSets};
use super::perform::{perform, perform_all, AgentState, Stop};
use super::recording::{RecordingKernel, SOCKET_FD};
use super::rpc::{Outcome, SandboxOp};
use crate::lesson::action::parse_action;
use crate::lesson::Ns;

/// One lesson line as the agent receives it.
fn op(line: &str) -> SandboxOp {
    SandboxOp::of(&parse_action(line).expect("the line parses")).expect("a sandbox action")
}

/// Terminal #1 with a recording kernel: it performs lines as the agent does a batch (in
/// order, stopping at the first failure) and keeps every outcome.
struct Terminal1 {
    k: RecordingKernel,
    origin: AgentState,
    outcomes: Vec<Outcome>,
}

impl Terminal1 {
    fn new(k: RecordingKernel) -> Terminal1 {
        Terminal1 { k, origin: AgentState::default(), outcomes: Vec::new() }
    }

    /// A fresh agent (root, in the host's namespaces) that has performed `lines`.
    fn after(lines: &[&str]) -> Terminal1 {
        Terminal1::with(RecordingKernel::new(), lines)
    }

    fn with(k: RecordingKernel, lines: &[&str]) -> Terminal1 {
        let mut t = Terminal1::new(k);
        t.run(lines);
        t
    }

    /// Perform `lines`; the calls they made.
    fn run(&mut self, lines: &[&str]) -> Vec<Call> {
        let before = self.k.calls.len();
        let ops: Vec<SandboxOp> = lines.iter().map(|l| op(l)).collect();
        let (outcomes, stop) = perform_all(&mut self.k, &mut self.origin, &ops);
        assert!(!matches!(stop, Stop::Forked { .. }), "the recording kernel answers fork as the child");
        self.outcomes.extend(outcomes);
        self.k.calls[before..].to_vec()
    }

    fn last(&self) -> &Outcome {
        self.outcomes.last().expect("something was performed")
    }

    /// The last outcome's error in English (what logs and `--record` show).
    fn error(&self) -> Option<String> {
        self.last().error.as_ref().map(ToString::to_string)
    }

    /// The last outcome's trace, as the student reads it.
    fn trace(&self) -> Vec<String> {
        self.last().trace.calls.iter().map(ToString::to_string).collect()
    }

    fn last_note(&self) -> Option<String> {
        self.last().trace.calls.last().and_then(|c| c.note.as_ref()).map(ToString::to_string)
    }
}

// unshare

#[test]
fn unshare_mnt_is_followed_by_making_root_recursively_private() {
    let t = Terminal1::after(&["unshare mnt"]);
    assert_eq!(t.k.calls, vec![Call::Unshare(vec![Ns::Mnt]), Call::root_made_private()]);
    assert_eq!(t.trace(), ["unshare(CLONE_NEWNS) = 0", "mount(NULL, \"/\", NULL, MS_REC|MS_PRIVATE, NULL) = 0"]);
    assert!(t.last_note().as_deref().unwrap().contains("as unshare(1) does by default"));
}

#[test]
fn several_namespaces_are_one_unshare_with_all_their_flags() {
    let t = Terminal1::after(&["unshare mnt uts ipc"]);
    assert_eq!(t.k.calls[0], Call::Unshare(vec![Ns::Mnt, Ns::Uts, Ns::Ipc]));
    assert_eq!(t.trace()[0], "unshare(CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC) = 0");
    assert_eq!(t.k.names(), ["unshare", "mount"]);
}

#[test]
fn unshare_without_mnt_mounts_nothing() {
    let t = Terminal1::after(&["unshare uts net"]);
    assert_eq!(t.k.calls, vec![Call::Unshare(vec![Ns::Uts, Ns::Net])]);
    assert_eq!(t.origin.unshared, [Ns::Uts, Ns::Net]);
}

#[test]
fn the_debug_switch_leaves_root_propagation_as_it_was() {
    let mut t = Terminal1::new(RecordingKernel::new());
    t.origin.keep_propagation = true;
    t.run(&["unshare mnt"]);
    assert_eq!(t.k.calls, vec![Call::Unshare(vec![Ns::Mnt])]);
    assert!(t.trace()[1].contains("NSDOJO_DEBUG_KEEP_PROPAGATION"));
    assert_eq!(t.origin.unshared, [Ns::Mnt], "the namespace is still the sandbox's own");
}

#[test]
fn a_refused_unshare_mounts_nothing_and_says_which_call_failed() {
    let t = Terminal1::with(RecordingKernel::new().failing("unshare", Errno::EPERM), &["unshare mnt", "mkdir /x"]);
    assert_eq!(t.k.names(), ["unshare"], "the batch stops at the failure");
    assert_eq!(t.error().as_deref(), Some("unshare failed: Operation not permitted (EPERM)"));
    assert_eq!(t.trace(), ["unshare(CLONE_NEWNS) = -1 EPERM (Operation not permitted)"]);
    assert!(t.origin.unshared.is_empty());
}

#[test]
fn until_root_is_private_the_new_mount_namespace_does_not_count_as_the_sandboxs() {
    let k = RecordingKernel::new().failing_when(|c| *c == Call::root_made_private(), Errno::EINVAL);
    let mut t = Terminal1::with(k, &["unshare mnt"]);
    assert_eq!(t.error().as_deref(), Some("making / private failed: Invalid argument (EINVAL)"));
    assert!(t.run(&["mount tmpfs /w/m"]).is_empty(), "mounts stay refused");
    assert!(t.error().as_deref().unwrap().starts_with("refusing to mount in the host's mnt namespace"));
}

#[test]
fn unshare_pid_forks_and_the_child_carries_on_as_terminal_1() {
    let t = Terminal1::after(&["unshare pid"]);
    assert_eq!(t.k.names(), ["unshare", "fork"]);
    assert!(t.last().forked_agent);
    assert!(t.last_note().as_deref().unwrap().contains("PID 1 of the new PID namespace"));
}

#[test]
fn unshare_mnt_pid_makes_root_private_before_it_forks() {
    let t = Terminal1::after(&["unshare mnt pid"]);
    assert_eq!(t.k.calls, vec![Call::Unshare(vec![Ns::Mnt, Ns::Pid]), Call::root_made_private(), Call::Fork]);
}

#[test]
fn a_failed_fork_after_unshare_pid_is_reported_as_fork_failed() {
    let t = Terminal1::with(RecordingKernel::new().failing("fork", Errno::EAGAIN), &["unshare pid"]);
    assert_eq!(t.error().as_deref(), Some("fork failed: Try again (EAGAIN)"));
    assert!(!t.last().forked_agent);
}

// mounts

#[test]
fn a_mount_is_refused_while_the_host_mount_namespace_is_shared() {
    let t = Terminal1::after(&["mkdir /w/m", "mount tmpfs /w/m size=1m"]);
    assert_eq!(t.k.names(), ["mkdir"], "nothing reached Call::mount(2)");
    assert_eq!(
        t.error().as_deref(),
        Some("refusing to mount in the host's mnt namespace (it would change the host): `unshare mnt` first")
    );
    assert!(t.last().trace.calls.is_empty());
}

#[test]
fn mount_tmpfs_passes_its_options_as_data() {
    let mut t = Terminal1::after(&["unshare mnt"]);
    let calls = t.run(&["mount tmpfs /w/m size=1m"]);
    assert_eq!(calls, [Call::mount(Some("tmpfs"), "/w/m", Some("tmpfs"), MsFlags::empty(), Some("size=1m"))]);
    assert_eq!(t.trace(), ["mount(\"tmpfs\", \"/w/m\", \"tmpfs\", 0, \"size=1m\") = 0"]);
}

#[test]
fn mount_proc_names_proc_as_source_and_type() {
    let mut t = Terminal1::after(&["unshare mnt pid"]);
    let calls = t.run(&["mount proc /proc"]);
    assert_eq!(calls, [Call::mount(Some("proc"), "/proc", Some("proc"), MsFlags::empty(), None)]);
}

#[test]
fn bind_is_ms_bind_and_rbind_adds_ms_rec() {
    let mut t = Terminal1::after(&["unshare mnt"]);
    let calls = t.run(&["mount bind /r /r", "mount rbind /a /b"]);
    assert_eq!(
        calls,
        [
            Call::mount(Some("/r"), "/r", None, MsFlags::MS_BIND, None),
            Call::mount(Some("/a"), "/b", None, MsFlags::MS_BIND | MsFlags::MS_REC, None),
        ]
    );
    assert_eq!(t.trace(), ["mount(\"/a\", \"/b\", NULL, MS_BIND|MS_REC, NULL) = 0"]);
}

#[test]
fn mounting_on_a_missing_directory_says_to_mkdir_it_first() {
    let k =
        RecordingKernel::new().failing_when(|c| matches!(c, Call::Mount(m) if m.target == "/w/nope"), Errno::ENOENT);
    let mut t = Terminal1::with(k, &["unshare mnt"]);
    t.run(&["mount tmpfs /w/nope"]);
    assert_eq!(t.last_note().as_deref(), Some("/w/nope does not exist here: mkdir it first"));
    assert_eq!(t.error().as_deref(), Some("mount failed: No such file or directory (ENOENT)"));
}

#[test]
fn propagation_changes_are_flag_only_mounts() {
    let mut t = Terminal1::after(&["unshare mnt"]);
    let calls = t.run(&["make-rshared /", "make-slave /w", "make-private /w"]);
    assert_eq!(
        calls,
        [
            Call::mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_SHARED, None),
            Call::mount(None, "/w", None, MsFlags::MS_SLAVE, None),
            Call::mount(None, "/w", None, MsFlags::MS_PRIVATE, None),
        ]
    );
}

#[test]
fn propagation_is_not_changed_in_the_hosts_mount_namespace() {
    let t = Terminal1::after(&["make-rprivate /"]);
    assert!(t.k.calls.is_empty());
    assert!(t
        .error()
        .as_deref()
        .unwrap()
        .starts_with("refusing to change mount propagation in the host's mnt namespace"));
}

#[test]
fn umount_dash_l_is_a_lazy_detach() {
    let mut t = Terminal1::after(&["unshare mnt"]);
    let calls = t.run(&["umount -l /old-root", "umount /w/m"]);
    assert_eq!(
        calls,
        [
            Call::Umount2 { target: "/old-root".into(), lazy: true },
            Call::Umount2 { target: "/w/m".into(), lazy: false }
        ]
    );
    assert_eq!(t.trace(), ["umount2(\"/w/m\", 0) = 0"]);
    assert_eq!(t.outcomes[1].trace.calls[0].to_string(), "umount2(\"/old-root\", MNT_DETACH) = 0");
}

#[test]
fn a_busy_umount_names_its_target() {
    let mut t = Terminal1::with(RecordingKernel::new().failing("umount2", Errno::EBUSY), &["unshare mnt"]);
    t.run(&["umount /w/m"]);
    assert_eq!(t.error().as_deref(), Some("umount /w/m failed: Device or resource busy (EBUSY)"));
}

// pivot_root

#[test]
fn pivot_root_is_refused_before_unshare_mnt() {
    let t = Terminal1::after(&["pivot_root . old-root"]);
    assert!(t.k.calls.is_empty());
    assert!(t.error().as_deref().unwrap().starts_with("refusing to pivot_root in the host's mnt namespace"));
}

#[test]
fn pivot_root_under_shared_propagation_answers_einval_and_says_to_make_it_private() {
    let mut t = Terminal1::with(RecordingKernel::new().failing("pivot_root", Errno::EINVAL), &["unshare mnt"]);
    let calls = t.run(&["pivot_root . old-root"]);
    assert_eq!(calls, [Call::PivotRoot { new_root: ".".into(), put_old: "old-root".into() }]);
    assert_eq!(t.trace(), ["pivot_root(\".\", \"old-root\") = -1 EINVAL (Invalid argument)"]);
    assert!(t.last_note().as_deref().unwrap().contains("run make-rprivate / first"), "{:?}", t.last_note());
    assert_eq!(t.error().as_deref(), Some("pivot_root failed: Invalid argument (EINVAL)"));
}

#[test]
fn pivot_root_onto_a_plain_directory_answers_ebusy_and_says_to_bind_mount_it() {
    let mut t = Terminal1::with(RecordingKernel::new().failing("pivot_root", Errno::EBUSY), &["unshare mnt"]);
    t.run(&["pivot_root /w/plain /w/plain/old"]);
    let note = t.last_note().unwrap();
    assert!(note.starts_with("new_root is not a mount point"), "{note}");
    assert!(note.contains("mount --bind DIR DIR"), "{note}");
}

#[test]
fn pivot_root_explains_enotdir_and_enoent_but_not_eperm() {
    for (errno, note) in [
        (Errno::ENOTDIR, Some("new_root or put_old is not a directory")),
        (Errno::ENOENT, Some("new_root or put_old does not exist")),
        (Errno::EPERM, None),
    ] {
        let mut t = Terminal1::with(RecordingKernel::new().failing("pivot_root", errno), &["unshare mnt"]);
        t.run(&["pivot_root . old-root"]);
        assert_eq!(t.last_note().as_deref(), note, "{errno:?}");
    }
}

#[test]
fn try_pivot_root_keeps_the_step_going_and_keeps_the_explanation() {
    let mut t = Terminal1::with(RecordingKernel::new().failing("pivot_root", Errno::EINVAL), &["unshare mnt"]);
    let calls = t.run(&["try pivot_root . old-root", "make-rprivate /"]);
    assert_eq!(calls.len(), 2, "the next action ran");
    let tried = &t.outcomes[1];
    assert_eq!(tried.error, None);
    assert_eq!(tried.trace.last_errno(), Some(Errno::EINVAL), "step.errno still sees it");
    assert_eq!(tried.trace.calls[0].note, Some(crate::msg::Msg::PivotShared));
}

#[test]
fn try_puts_the_reason_next_to_a_failed_call_without_a_note() {
    let t = Terminal1::with(RecordingKernel::new().failing("mkdir", Errno::EEXIST), &["try mkdir /w/x"]);
    assert_eq!(t.error().as_deref(), None);
    assert_eq!(t.last_note().as_deref(), Some("mkdir /w/x failed: File exists (EEXIST)"));
}

#[test]
fn try_of_a_refused_action_asks_nothing_and_goes_on() {
    let t = Terminal1::after(&["try sethostname x", "mkdir /w/y"]);
    assert_eq!(t.k.calls, [Call::Mkdir("/w/y".into())]);
    assert!(t.outcomes[0].trace.calls.is_empty());
    assert_eq!(t.outcomes[0].error, None);
}

// the rest of the root: chroot, chdir, mkdir, rmdir, write

#[test]
fn chroot_then_chdir_are_made_in_order_without_any_guard() {
    let t = Terminal1::after(&["chroot /w/rootfs", "chdir /"]);
    assert_eq!(t.k.calls, [Call::Chroot("/w/rootfs".into()), Call::Chdir("/".into())]);
    assert_eq!(t.outcomes[0].trace.calls[0].to_string(), "chroot(\"/w/rootfs\") = 0");
}

#[test]
fn a_failed_chdir_stops_the_batch_with_one_line() {
    let t = Terminal1::with(RecordingKernel::new().failing("chdir", Errno::ENOENT), &["chdir /gone", "chroot ."]);
    assert_eq!(t.k.names(), ["chdir"]);
    assert_eq!(t.error().as_deref(), Some("chdir failed: No such file or directory (ENOENT)"));
}

#[test]
fn mkdir_and_rmdir_show_their_paths() {
    let t = Terminal1::after(&["mkdir /w/d", "rmdir /w/d"]);
    assert_eq!(t.outcomes[0].trace.calls[0].to_string(), "mkdir(\"/w/d\", 0755) = 0");
    assert_eq!(t.trace(), ["rmdir(\"/w/d\") = 0"]);
    let t = Terminal1::with(RecordingKernel::new().failing("rmdir", Errno::ENOTEMPTY), &["rmdir /w/d"]);
    assert_eq!(t.error().as_deref(), Some("rmdir /w/d failed: Directory not empty (ENOTEMPTY)"));
}

#[test]
fn write_returns_the_bytes_written() {
    let t = Terminal1::after(&[r#"write /proc/self/uid_map "0 1000 1""#]);
    assert_eq!(t.trace(), ["write(\"/proc/self/uid_map\", \"0 1000 1\") = 8"]);
}

#[test]
fn a_refused_id_map_says_who_may_write_it() {
    let k = RecordingKernel::new().failing("write", Errno::EPERM);
    let t = Terminal1::with(k, &[r#"write /proc/self/gid_map "0 0 1""#]);
    assert!(t.last_note().as_deref().unwrap().starts_with("an id map can be written once"));
    let t = Terminal1::with(RecordingKernel::new().failing("write", Errno::EPERM), &["write /w/file hi"]);
    assert_eq!(t.last_note().as_deref(), None, "an ordinary file has no such rule");
}

// UTS and IPC: refused while shared, except where the kernel's own EPERM is the lesson

#[test]
fn hostname_is_refused_while_the_hosts_uts_namespace_is_shared() {
    let t = Terminal1::after(&["sethostname container-test"]);
    assert!(t.k.calls.is_empty());
    assert_eq!(
        t.error().as_deref(),
        Some(
            "refusing to set the hostname in the host's uts namespace (it would change the host): `unshare uts` first"
        )
    );
}

#[test]
fn hostname_after_unshare_uts_is_one_sethostname() {
    let mut t = Terminal1::after(&["unshare uts"]);
    assert_eq!(t.run(&["sethostname container-test"]), [Call::Sethostname("container-test".into())]);
    assert_eq!(t.trace(), ["sethostname(\"container-test\", 14) = 0"]);
}

#[test]
fn a_powerless_user_meets_the_kernels_own_eperm_for_sethostname() {
    let k = RecordingKernel::new().powerless().failing("sethostname", Errno::EPERM);
    let t = Terminal1::with(k, &["sethostname mine"]);
    assert_eq!(t.k.names(), ["sethostname"]);
    assert_eq!(t.error().as_deref(), Some("sethostname failed: Operation not permitted (EPERM)"));
}

#[test]
fn under_apparmors_userns_restriction_a_refused_call_says_apparmor_refused_it() {
    // Ubuntu 24.04's default, played: the user namespace is made, its capabilities are refused.
    let k = RecordingKernel::new()
        .apparmor_restricted()
        .failing_when(|c| matches!(c, Call::Unshare(set) if !set.contains(&Ns::User)), Errno::EPERM);
    let mut t = Terminal1::with(k, &["unshare user"]);
    assert_eq!(t.error(), None, "the user namespace itself is made");
    t.run(&["unshare uts"]);
    assert!(
        t.last_note().as_deref().unwrap().starts_with("AppArmor refused it, not the namespaces"),
        "{:?}",
        t.last_note()
    );
    // Elsewhere the same EPERM has no such note.
    let k = RecordingKernel::new().failing("sethostname", Errno::EPERM);
    let t = Terminal1::with(k, &["unshare uts", "sethostname x"]);
    assert_eq!(t.last_note(), None);
}

#[test]
fn a_message_queue_needs_an_ipc_namespace_even_for_a_powerless_user() {
    let t = Terminal1::with(RecordingKernel::new().powerless(), &["msgget"]);
    assert!(t.k.calls.is_empty(), "any user may make a queue: the guard still holds");
    let t = Terminal1::after(&["unshare ipc", "msgget"]);
    assert_eq!(t.trace(), ["msgget(IPC_PRIVATE, IPC_CREAT|0644) = 0"]);
}

// credentials and capabilities

#[test]
fn setuid_clears_groups_then_sets_gid_then_uid() {
    let t = Terminal1::after(&["setuid 1000"]);
    assert_eq!(t.k.calls, [Call::Setgroups, Call::Setresgid(1000), Call::Setresuid(1000)]);
    assert_eq!(
        t.trace(),
        ["setgroups(0, []) = 0", "setresgid(1000, 1000, 1000) = 0", "setresuid(1000, 1000, 1000) = 0"]
    );
}

#[test]
fn setuid_stops_at_the_first_refusal() {
    let t = Terminal1::with(RecordingKernel::new().failing("setresgid", Errno::EPERM), &["setuid 1000"]);
    assert_eq!(t.k.names(), ["setgroups", "setresgid"], "the uid is not changed without the gid");
    assert_eq!(t.error().as_deref(), Some("setresgid failed: Operation not permitted (EPERM)"));
}

#[test]
fn drop_caps_empties_the_bounding_set_then_the_process_sets() {
    let t = Terminal1::after(&["drop-caps sys_admin mknod"]);
    assert_eq!(
        t.k.calls,
        [Call::CapbsetDrop(21), Call::CapbsetDrop(27), Call::Capget, Call::Capset { without: vec![21, 27] }]
    );
    let trace = t.trace();
    assert_eq!(trace[0], "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN) = 0");
    assert!(trace[3].contains("inheritable without CAP_SYS_ADMIN, CAP_MKNOD}) = 0"), "{}", trace[3]);
    assert!(t.last_note().as_deref().unwrap().starts_with("root still, uid 0"));
}

#[test]
fn a_refused_capability_drop_stops_before_capset() {
    let t = Terminal1::with(RecordingKernel::new().failing("prctl", Errno::EPERM), &["drop-caps sys_admin"]);
    assert_eq!(t.k.names(), ["prctl"]);
    assert_eq!(t.error().as_deref(), Some("prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN): Operation not permitted"));
}

#[test]
fn dropped_capabilities_leave_the_others_in_every_set() {
    let all = CapData { effective: u32::MAX, permitted: u32::MAX, inheritable: u32::MAX };
    let sets = CapSets([all; 2]).without(&[21, 38]);
    assert_eq!(sets.0[0].effective, !(1 << 21));
    assert_eq!(sets.0[0].inheritable, !(1 << 21));
    assert_eq!(sets.0[1].permitted, !(1 << 6), "capability 38 is bit 6 of the second word");
}

#[test]
fn no_new_privs_is_one_prctl_with_what_it_means() {
    let t = Terminal1::after(&["no-new-privs"]);
    assert_eq!(t.k.calls, [Call::NoNewPrivs]);
    assert_eq!(t.trace(), ["prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) = 0"]);
    assert!(t.last_note().as_deref().unwrap().contains("setuid-root program runs as the caller"));
}

// network

#[test]
fn link_up_is_refused_in_the_hosts_network_namespace() {
    let t = Terminal1::after(&["link-up lo"]);
    assert!(t.k.calls.is_empty());
    assert!(t
        .error()
        .as_deref()
        .unwrap()
        .starts_with("refusing to change a network interface in the host's net namespace"));
}

#[test]
fn link_up_reads_the_flags_then_sets_iff_up() {
    let mut t = Terminal1::after(&["unshare net"]);
    let fd = SOCKET_FD;
    let calls = t.run(&["link-up lo"]);
    assert_eq!(calls, [Call::IfGetFlags { fd, name: "lo".into() }, Call::IfSetUp { fd, name: "lo".into() }]);
    assert_eq!(t.trace()[1], format!("ioctl({fd}, SIOCSIFFLAGS, {{ifr_name=\"lo\", ifr_flags|=IFF_UP}}) = 0"));
}

#[test]
fn link_up_of_a_missing_interface_stops_at_the_lookup() {
    let k = RecordingKernel::new().failing_when(|c| matches!(c, Call::IfGetFlags { .. }), Errno::ENODEV);
    let mut t = Terminal1::with(k, &["unshare net"]);
    t.run(&["link-up eth9"]);
    assert_eq!(t.k.calls.len(), 2, "unshare, then one ioctl");
    assert_eq!(t.error().as_deref(), Some("no interface eth9: No such device"));
}

#[test]
fn an_interface_name_too_long_for_the_kernel_is_refused_before_any_call() {
    let mut t = Terminal1::after(&["unshare net"]);
    assert!(t.run(&["link-up a-very-long-interface-name"]).is_empty());
    assert_eq!(t.error().as_deref(), Some("interface name \"a-very-long-interface-name\" is too long"));
}

#[test]
fn addr_add_in_the_sandbox_is_shown_as_netlink_words_it() {
    let mut t = Terminal1::after(&["unshare net"]);
    let addr = std::net::Ipv4Addr::new(192, 0, 2, 2);
    assert_eq!(t.run(&["addr-add 192.0.2.2/24 veth1"]), [Call::AddrAdd { iface: "veth1".into(), addr, prefix: 24 }]);
    // No such interface here: netlink answers ENODEV without sending anything.
    let (real, _) = crate::netlink::add_address("nsdojo-none0", addr, 24);
    let recorded = Call::AddrAdd { iface: "nsdojo-none0".into(), addr, prefix: 24 }.to_string();
    assert_eq!(real.call, recorded);
}

#[test]
fn netns_add_makes_the_dir_a_file_a_namespace_and_pins_it_in_that_order() {
    let t = Terminal1::after(&["netns add lab"]);
    assert_eq!(
        t.k.calls,
        [
            Call::Mkdir("/run/netns".into()),
            Call::CreateExcl("/run/netns/lab".into()),
            Call::Unshare(vec![Ns::Net]),
            Call::mount(Some("/proc/self/ns/net"), "/run/netns/lab", None, MsFlags::MS_BIND, None),
        ]
    );
    assert_eq!(t.trace()[2], "unshare(CLONE_NEWNET) = 0");
    assert!(t.origin.made_netns_dir && t.origin.unshared == [Ns::Net]);
    assert!(t.last_note().as_deref().unwrap().contains("that is all a named netns is"));
}

#[test]
fn netns_add_is_refused_after_unshare_mnt() {
    let mut t = Terminal1::after(&["unshare mnt"]);
    assert!(t.run(&["netns add lab"]).is_empty());
    assert!(t.error().as_deref().unwrap().starts_with("netns add pins the namespace in the host's mount table"));
}

#[test]
fn netns_add_takes_an_existing_run_netns_as_it_is() {
    let t = Terminal1::with(RecordingKernel::new().failing("mkdir", Errno::EEXIST), &["netns add lab"]);
    assert_eq!(t.error().as_deref(), None);
    assert_eq!(t.last().trace.calls[0].note, Some(crate::msg::Msg::AlreadyThere));
    assert!(!t.origin.made_netns_dir, "not ours to remove");
}

#[test]
fn netns_add_of_a_taken_name_enters_no_namespace() {
    let t = Terminal1::with(RecordingKernel::new().failing("openat", Errno::EEXIST), &["netns add lab"]);
    assert_eq!(t.k.names(), ["mkdir", "openat"]);
    assert_eq!(t.error().as_deref(), Some("create /run/netns/lab: File exists"));
    assert!(t.origin.unshared.is_empty());
}

#[test]
fn netns_delete_removes_the_pin_the_file_and_the_dir_it_made() {
    let mut t = Terminal1::after(&["netns add lab"]);
    let calls = t.run(&["netns delete lab"]);
    assert_eq!(
        calls,
        [
            Call::Umount2 { target: "/run/netns/lab".into(), lazy: true },
            Call::Unlink("/run/netns/lab".into()),
            Call::Rmdir("/run/netns".into()),
        ]
    );
    assert!(t.last_note().as_deref().unwrap().starts_with("iproute2 leaves /run/netns behind"));
    assert!(!t.origin.made_netns_dir);
}

#[test]
fn netns_delete_leaves_a_run_netns_it_did_not_make() {
    let mut t = Terminal1::with(RecordingKernel::new().failing("mkdir", Errno::EEXIST), &["netns add lab"]);
    assert_eq!(t.run(&["netns delete lab"]).last(), Some(&Call::Unlink("/run/netns/lab".into())));
}

#[test]
fn burn_stop_without_a_burner_asks_nothing() {
    let mut t = Terminal1::new(RecordingKernel::new());
    let mut out = Outcome::default();
    let res = perform(&SandboxOp::BurnStop, &mut t.origin, &mut t.k, &mut out);
    assert!(matches!(res, Ok(None)));
    assert!(t.k.calls.is_empty() && out.trace.calls.is_empty());
}
