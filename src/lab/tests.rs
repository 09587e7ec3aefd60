//! What the built-in lessons ask of terminal #1's kernel, step by step, and that the lab
//! never sends a host action there: the lessons run through the `RecordingKernel`, as an
//! ordinary user, in the legs the lab would send (commands that run programs — `sh`, `copy`,
//! `exec-as`, `burn`, `hog`, `forks`, `spawn` — are left out: they are not taught calls).

use nix::errno::Errno;
use nix::mount::MsFlags;

use super::actions::{legs, Leg};
use crate::lesson::{Lesson, Ns};
use crate::sandbox::kernel::Call;
use crate::sandbox::perform::{perform_all, AgentState, Stop};
use crate::sandbox::recording::RecordingKernel;
use crate::sandbox::{Outcome, SandboxOp};

const VARS: &[(&str, &str)] = &[
    ("WORK", "/w"),
    ("ROOTFS", "/w/rootfs"),
    ("SESSION", "s1"),
    ("NETID", "s1"),
    ("NET", "192.0.2"),
    ("PID", "4242"),
    ("HOST_PID", "1"),
];

fn lesson(id: &str) -> Lesson {
    crate::lesson::builtin().into_iter().find(|l| l.id == id).expect("a built-in lesson")
}

/// A lesson run through a recording kernel: the calls and outcomes of each step.
struct DryRun {
    k: RecordingKernel,
    origin: AgentState,
    /// Per step: (the calls it made, the outcomes of its sandbox actions).
    steps: Vec<(Vec<Call>, Vec<Outcome>)>,
}

fn dry_run(id: &str, k: RecordingKernel) -> DryRun {
    let mut run = DryRun { k, origin: AgentState::default(), steps: Vec::new() };
    for step in &lesson(id).steps {
        let before = run.k.calls.len();
        let mut outcomes = Vec::new();
        for leg in legs(&step.actions, None) {
            let Leg::Sandbox(range) = leg else { continue };
            let ops: Vec<SandboxOp> = step.actions[range]
                .iter()
                .map(|a| SandboxOp::of(&a.expand(VARS)).expect("a sandbox leg holds sandbox actions only"))
                .filter(|op| !matches!(op, SandboxOp::Do(a) | SandboxOp::Try(a) if a.runs_a_program()))
                .collect();
            let (done, stop) = perform_all(&mut run.k, &mut run.origin, &ops);
            assert!(!matches!(stop, Stop::Forked { .. }), "the recording kernel answers fork as the child");
            outcomes.extend(done);
        }
        run.steps.push((run.k.calls[before..].to_vec(), outcomes));
    }
    run
}

fn pivot(new_root: &str, put_old: &str) -> Call {
    Call::PivotRoot { new_root: new_root.into(), put_old: put_old.into() }
}

#[test]
fn every_builtin_lesson_passes_the_guards_in_the_order_it_is_written() {
    for l in crate::lesson::builtin() {
        let run = dry_run(&l.id, RecordingKernel::new());
        for (i, (_, outcomes)) in run.steps.iter().enumerate() {
            for o in outcomes {
                assert_eq!(o.error, None, "{} step {}", l.id, i + 1);
            }
        }
    }
}

#[test]
fn the_lab_never_puts_a_host_action_in_a_sandbox_batch() {
    for l in crate::lesson::builtin() {
        for step in &l.steps {
            for leg in legs(&step.actions, None) {
                match leg {
                    Leg::Sandbox(r) => assert!(step.actions[r].iter().all(|a| SandboxOp::of(a).is_some()), "{}", l.id),
                    Leg::Host(i) => assert!(SandboxOp::of(&step.actions[i]).is_none(), "{}", l.id),
                    Leg::Burn(_) | Leg::Removed(_) => {}
                }
            }
        }
    }
}

#[test]
fn the_pivot_root_lesson_prepares_a_private_tmpfs_root() {
    let run = dry_run("pivot_root", RecordingKernel::new());
    assert_eq!(
        run.steps[0].0,
        [
            Call::Unshare(vec![Ns::Mnt]),
            Call::root_made_private(),
            Call::Mkdir("/w/new-root".into()),
            Call::tmpfs("/w/new-root", "size=64m"),
            Call::Mkdir("/w/new-root/old-root".into()),
        ]
    );
}

#[test]
fn the_pivot_root_lesson_tries_both_classic_failures_around_make_rshared() {
    let run = dry_run("pivot_root", RecordingKernel::new());
    assert_eq!(
        run.steps[1].0,
        [
            Call::Mkdir("/w/plain".into()),
            Call::Mkdir("/w/plain/old".into()),
            pivot("/w/plain", "/w/plain/old"),
            Call::mount(None, "/", None, MsFlags::MS_REC | MsFlags::MS_SHARED, None),
            Call::Chdir("/w/new-root".into()),
            pivot(".", "old-root"),
            Call::root_made_private(),
        ]
    );
}

#[test]
fn in_the_pivot_root_lesson_a_tried_einval_leaves_its_note_and_the_step_goes_on() {
    let k = RecordingKernel::new().failing_when(|c| *c == pivot(".", "old-root"), Errno::EINVAL);
    let run = dry_run("pivot_root", k);
    let (calls, outcomes) = &run.steps[1];
    assert_eq!(calls.last(), Some(&Call::root_made_private()), "make-rprivate still ran");
    let tried = outcomes.iter().find(|o| o.trace.last_errno() == Some(Errno::EINVAL)).expect("the tried pivot");
    assert!(tried.error.is_none());
    assert_eq!(tried.trace.calls[0].note, Some(crate::msg::Msg::PivotShared));
}

#[test]
fn the_pivot_root_lesson_pivots_then_goes_to_the_new_root_and_detaches_the_old() {
    let run = dry_run("pivot_root", RecordingKernel::new());
    assert_eq!(run.steps[2].0, [pivot(".", "old-root"), Call::Chdir("/".into())]);
    assert_eq!(run.steps[4].0, [Call::Umount2 { target: "/old-root".into(), lazy: true }]);
}

#[test]
fn the_escape_lesson_chroots_into_a_subdirectory_and_climbs_out() {
    let run = dry_run("escape", RecordingKernel::new());
    assert_eq!(
        run.steps[2].0,
        [
            Call::Mkdir(".out".into()),
            Call::Chroot(".out".into()),
            Call::Chdir("../../../..".into()),
            Call::Chroot(".".into()),
        ]
    );
}

#[test]
fn the_mnt_lesson_mounts_a_one_megabyte_tmpfs_and_unmounts_it_for_good() {
    let run = dry_run("mnt", RecordingKernel::new());
    assert_eq!(run.steps[0].0, [Call::Unshare(vec![Ns::Mnt]), Call::root_made_private()]);
    assert_eq!(run.steps[1].0, [Call::Mkdir("/w/mount_ns".into()), Call::tmpfs("/w/mount_ns", "size=1m")]);
    assert_eq!(run.steps[3].0, [Call::Umount2 { target: "/w/mount_ns".into(), lazy: false }]);
}

#[test]
fn the_uts_and_ipc_lessons_unshare_before_they_change_anything() {
    let uts = dry_run("uts", RecordingKernel::new());
    assert_eq!(uts.steps[0].0, [Call::Unshare(vec![Ns::Uts])]);
    assert_eq!(uts.steps[1].0, [Call::Sethostname("container-test".into())]);
    let ipc = dry_run("ipc", RecordingKernel::new());
    assert_eq!(ipc.k.calls, [Call::Unshare(vec![Ns::Ipc]), Call::Msgget]);
}

#[test]
fn the_pid_lesson_forks_after_unshare_and_mounts_its_own_proc() {
    let run = dry_run("pid", RecordingKernel::new());
    assert_eq!(run.steps[0].0, [Call::Unshare(vec![Ns::Pid, Ns::Mnt]), Call::root_made_private(), Call::Fork]);
    assert!(run.steps[0].1[0].forked_agent);
    assert_eq!(run.steps[1].0, [Call::mount(Some("proc"), "/proc", Some("proc"), MsFlags::empty(), None)]);
}

#[test]
fn the_net_lesson_names_its_namespace_after_the_session() {
    let run = dry_run("net", RecordingKernel::new());
    assert_eq!(run.steps[2].0.len(), 2, "link-up lo: two ioctls");
    assert_eq!(run.steps[3].0[1], Call::CreateExcl("/run/netns/nsdojo-s1".into()));
    assert_eq!(run.steps[5].0[0], Call::Umount2 { target: "/run/netns/nsdojo-s1".into(), lazy: true });
}

#[test]
fn the_rootless_lesson_meets_the_kernels_eperm_as_uid_1000() {
    let k = RecordingKernel::new().powerless().failing("sethostname", Errno::EPERM);
    let run = dry_run("rootless", k);
    let (calls, outcomes) = &run.steps[0];
    assert_eq!(calls.last(), Some(&Call::Sethostname("oops".into())), "not refused by nsdojo: the kernel answers");
    assert_eq!(outcomes.last().unwrap().trace.last_errno(), Some(Errno::EPERM));
    assert_eq!(run.steps[2].0, [Call::Unshare(vec![Ns::Uts]), Call::Sethostname("rootless".into())]);
}

#[test]
fn the_doors_lesson_drops_three_capabilities_then_tries_a_mount() {
    let k = RecordingKernel::new().failing_when(|c| matches!(c, Call::Mount(m) if m.target == "/tmp"), Errno::EPERM);
    let run = dry_run("doors", k);
    let (calls, outcomes) = &run.steps[4];
    assert_eq!(&calls[..3], [Call::CapbsetDrop(21), Call::CapbsetDrop(27), Call::CapbsetDrop(19)]);
    assert_eq!(calls[4], Call::Capset { without: vec![21, 27, 19] });
    assert_eq!(calls.last(), Some(&tmpfs_without_size("/tmp")));
    assert_eq!(outcomes.last().unwrap().error, None, "tried: the EPERM is the lesson");
}

fn tmpfs_without_size(target: &str) -> Call {
    Call::mount(Some("tmpfs"), target, Some("tmpfs"), MsFlags::empty(), None)
}

#[test]
fn the_container_lesson_unshares_six_namespaces_in_one_call() {
    let run = dry_run("container", RecordingKernel::new());
    let six = vec![Ns::Mnt, Ns::Uts, Ns::Ipc, Ns::Net, Ns::Cgroup, Ns::Pid];
    assert_eq!(run.steps[1].0, [Call::Unshare(six), Call::root_made_private(), Call::Fork]);
    assert_eq!(run.steps[3].0[0], Call::Sethostname("container".into()));
}

#[test]
fn the_veth_lesson_addresses_only_the_sandboxs_end_of_the_cable() {
    let run = dry_run("veth", RecordingKernel::new());
    let addr = std::net::Ipv4Addr::new(192, 0, 2, 2);
    assert_eq!(run.steps[1].0, [], "veth add is the host's");
    assert_eq!(run.steps[3].0[0], Call::AddrAdd { iface: "eth0".into(), addr, prefix: 24 });
    assert_eq!(run.steps[3].0.len(), 3, "addr-add, then link-up's two ioctls");
}
