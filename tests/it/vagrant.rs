//! The Vagrantfile evaluated as Vagrant would, with Ruby and a stand-in for Vagrant
//! (`vagrant/stub.rb`) that prints every setting the file makes: what the file asks of Vagrant
//! under each environment, not what a provider does with it (CI has no VM provider).

use std::process::Command;

use crate::harness::repo;

/// The Vagrantfile's settings as `(path, arguments)`, with `env` set; None where Ruby is not
/// installed (scripts/test.sh installs it, so CI never skips).
fn settings(env: &[(&str, &str)]) -> Option<Vec<(String, serde_json::Value)>> {
    let mut cmd = Command::new("ruby");
    cmd.arg(repo("tests/it/vagrant/stub.rb")).arg(repo("Vagrantfile")).env_remove("NSDOJO_SERVE_PORT");
    cmd.envs(env.iter().copied());
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) if std::env::var_os("NSDOJO_REQUIRE_ROOT").is_none() => {
            eprintln!("skipped: no ruby ({e}); scripts/test.sh installs it");
            return None;
        }
        Err(e) => panic!("ruby: {e} (scripts/test.sh installs it)"),
    };
    assert!(out.status.success(), "ruby stub.rb Vagrantfile: {}", String::from_utf8_lossy(&out.stderr));
    let calls: Vec<Vec<serde_json::Value>> = serde_json::from_slice(&out.stdout).expect("the stub's JSON");
    Some(
        calls
            .into_iter()
            .map(|c| (c[0].as_str().unwrap().to_string(), serde_json::Value::from(c[1..].to_vec())))
            .collect(),
    )
}

fn forwarded_ports(s: &[(String, serde_json::Value)]) -> Vec<serde_json::Value> {
    s.iter()
        .filter(|(path, args)| path == "config.vm.network" && args[0][0] == "forwarded_port")
        .map(|(_, a)| a[1].clone())
        .collect()
}

/// Students' VMs listen on nothing of the room's; the instructor's, with NSDOJO_SERVE_PORT,
/// forwards that port on every address of the laptop to the class server's 8080 in the VM.
#[test]
fn only_the_instructors_vm_forwards_the_class_servers_port() {
    let Some(plain) = settings(&[]) else { return };
    assert!(plain.iter().any(|(p, _)| p == "config.vm.define"), "the stub saw the machines: {plain:?}");
    assert_eq!(forwarded_ports(&plain), Vec::<serde_json::Value>::new());

    let instructor = settings(&[("NSDOJO_SERVE_PORT", "9000")]).unwrap();
    assert_eq!(
        forwarded_ports(&instructor),
        [serde_json::json!({"guest": 8080, "host": 9000, "host_ip": "0.0.0.0"})],
        "the class server's port, on every address of the laptop"
    );
    // The port nsdojo serve listens on by default is the guest's.
    assert_eq!(nsdojo::class::server::DEFAULT_LISTEN, "0.0.0.0:8080");
}
