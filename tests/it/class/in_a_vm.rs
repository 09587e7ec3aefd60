//! The class server in a VM, the instructor's laptop path (issue 27): `nsdojo serve` started in a
//! network namespace of the test's own whose only address is a VM's NAT address (10.0.2.15, what
//! VirtualBox under Vagrant gives the guest), as the VM sees its network.

use super::*;

/// `nsdojo serve ARGS` as the only program of a new network namespace with a veth end at
/// `addr/24` (both ends inside: nothing on the host's network changes); its start-up lines.
fn serve_in_netns(addr: &str, args: &[&str]) -> String {
    let state = tempfile::tempdir().unwrap();
    let script = format!(
        "state=$1; shift; ip link set lo up && ip link add eth0 type veth peer name eth1 && ip addr add {addr}/24 dev eth0 \
         && ip link set eth1 up && ip link set eth0 up && exec \"$0\" serve --listen 0.0.0.0:8080 --state \"$state\" \"$@\""
    );
    let mut child = Command::new("unshare")
        .args(["--net", "sh", "-c", &script])
        .arg(bin())
        .arg(state.path())
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare --net sh");
    let (text, _) = start_up(&mut child);
    // The namespace goes with its last process, and its veth pair with it.
    let _ = child.kill();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let _ = child.wait();
    assert!(text.contains("state:"), "no start-up lines: {text}{err}");
    text
}

/// A server named by the VM's NAT address says students cannot reach it and how to forward the
/// port; with `--advertise`, every line names the laptop's address and nothing the VM's.
#[test]
fn a_server_in_a_vm_says_how_students_reach_it() {
    let _g = crate::harness::require_root!();
    let text = serve_in_netns("10.0.2.15", &[]);
    assert!(text.contains("join:      sudo nsdojo --class http://10.0.2.15:8080/"), "{text}");
    assert!(text.contains("note:      this address is a VirtualBox or QEMU NAT address"), "{text}");
    assert!(text.contains("NSDOJO_SERVE_PORT=8080 vagrant reload"), "{text}");

    let text = serve_in_netns("10.0.2.15", &["--advertise", "192.168.1.10"]);
    assert!(text.contains("listening on 0.0.0.0:8080"), "{text}");
    assert!(text.contains("join:      sudo nsdojo --class http://192.168.1.10:8080/"), "{text}");
    assert!(text.contains("dashboard: http://192.168.1.10:8080/?token="), "{text}");
    assert!(!text.contains("10.0.2.15") && !text.contains("note:"), "{text}");

    // A room's own address is not a VM's: no note.
    let text = serve_in_netns("192.168.1.10", &[]);
    assert!(text.contains("http://192.168.1.10:8080/"), "{text}");
    assert!(!text.contains("note:"), "{text}");
}

/// A malformed `--advertise` is one line and exit 2 (clap's usage error), before anything binds.
#[test]
fn a_malformed_advertised_address_is_refused() {
    let out = Command::new(bin()).args(["serve", "--advertise", "http://x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not HOST or HOST:PORT"), "{err}");
}
