//! Helpers: a `Test` builder for the binary, root gating, host snapshots.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard};

/// Root tests compare the whole host before and after, so they run one at a time.
static HOST: Mutex<()> = Mutex::new(());

/// A root test's hold on the host: taken only once no nsdojo session is alive or being
/// cleaned (so its "before" snapshot is the host at rest), and checked again when the test
/// ends, so a test that leaves a session behind fails itself instead of the next test.
pub(crate) struct RootGuard {
    test: String,
    _host: MutexGuard<'static, ()>,
}

impl Drop for RootGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        if let Err(left) = wait_until_quiet() {
            panic!("{} left an nsdojo session behind: {left}", self.test);
        }
    }
}

/// How long a session's watchdog or a killed run may take to finish cleaning after a test.
const QUIET_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// Wait until no session record exists and no watchdog runs (a session still alive, or one
/// whose cleanup is under way, has one or the other); else say what is there.
pub(crate) fn wait_until_quiet() -> Result<(), String> {
    let until = std::time::Instant::now() + QUIET_WITHIN;
    loop {
        let records: Vec<String> = std::fs::read_dir("/run/nsdojo")
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let run_dir = std::path::Path::new("/run/nsdojo").exists();
        let watchdogs = processes_named("nsdojo-watchdog");
        if !run_dir && watchdogs.is_empty() {
            return Ok(());
        }
        if std::time::Instant::now() > until {
            return Err(format!(
                "after {} s: /run/nsdojo {} (records {records:?}), watchdog PIDs {watchdogs:?}",
                QUIET_WITHIN.as_secs(),
                if run_dir { "exists" } else { "is gone" }
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// PIDs of live (not zombie) processes whose comm is `name`.
fn processes_named(name: &str) -> Vec<i32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
        if comm.trim_end() == name && alive(pid) {
            out.push(pid);
        }
    }
    out
}

pub(crate) fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_nsdojo"))
}

pub(crate) fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `Some(guard)` when the test may touch the host as root; `None` = skipped (reported). A
/// host that does not come to rest (a session some earlier process left) fails the test.
pub(crate) fn root_or_skip(test: &'static str) -> Option<RootGuard> {
    if nix::unistd::geteuid().is_root() {
        let host = HOST.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(left) = wait_until_quiet() {
            panic!("{test}: the host is not at rest before the test: {left}");
        }
        // libtest names the thread after the test: more precise than the module.
        let test = std::thread::current().name().filter(|n| *n != "main").unwrap_or(test).to_string();
        return Some(RootGuard { test, _host: host });
    }
    let why = format!("{test}: skipped: needs root (run the tests with sudo)");
    if std::env::var("NSDOJO_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{why}; NSDOJO_REQUIRE_ROOT=1 makes a skip a failure");
    }
    eprintln!("{why}");
    None
}

macro_rules! require_root {
    () => {
        match $crate::harness::root_or_skip(module_path!()) {
            Some(g) => g,
            None => return,
        }
    };
}
pub(crate) use require_root;

/// A run of the binary that reads like a sentence:
/// `Test::new().args(["run", "mnt", "--check"]).succeeds().stdout_has("✔")`.
pub(crate) struct Test {
    cmd: Command,
}

pub(crate) struct Done {
    pub out: Output,
}

impl Test {
    pub(crate) fn new() -> Test {
        let mut cmd = Command::new(bin());
        cmd.env("NO_COLOR", "1").env("COLUMNS", "100").env_remove("LANG").env_remove("LC_ALL");
        Test { cmd }
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(mut self, a: I) -> Test {
        self.cmd.args(a);
        self
    }

    pub(crate) fn env(mut self, k: &str, v: &str) -> Test {
        self.cmd.env(k, v);
        self
    }

    pub(crate) fn without_env(mut self, k: &str) -> Test {
        self.cmd.env_remove(k);
        self
    }

    pub(crate) fn run(mut self) -> Done {
        Done { out: self.cmd.output().expect("run nsdojo") }
    }

    pub(crate) fn succeeds(self) -> Done {
        let d = self.run();
        assert!(d.out.status.success(), "expected success, got {:?}\n{}", d.out.status, d.text());
        d
    }

    pub(crate) fn fails_with(self, code: i32) -> Done {
        let d = self.run();
        assert_eq!(d.out.status.code(), Some(code), "{}", d.text());
        d
    }
}

impl Done {
    pub(crate) fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub(crate) fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub(crate) fn text(&self) -> String {
        format!("--- stdout\n{}\n--- stderr\n{}", self.stdout(), self.stderr())
    }

    pub(crate) fn stdout_has(self, s: &str) -> Done {
        assert!(self.stdout().contains(s), "stdout lacks {s:?}\n{}", self.text());
        self
    }

    pub(crate) fn stderr_has(self, s: &str) -> Done {
        assert!(self.stderr().contains(s), "stderr lacks {s:?}\n{}", self.text());
        self
    }

    pub(crate) fn stderr_is_one_line(self) -> Done {
        assert_eq!(self.stderr().trim_end().lines().count(), 1, "{}", self.text());
        self
    }
}

/// What a second terminal would check to see that the host is as it was.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HostState {
    pub mounts: BTreeSet<String>,
    pub hostname: String,
    pub netns: Option<BTreeSet<String>>,
    pub msg_queues: String,
    /// The host's interfaces (name, state, addresses: `ip -br a`) and IPv4 routes.
    pub links: BTreeSet<String>,
    pub routes: String,
    pub cgroup_dirs: BTreeSet<String>,
    pub leftovers: BTreeSet<String>,
}

fn dirs_below(root: &str, depth: usize, out: &mut BTreeSet<String>) {
    let Ok(rd) = std::fs::read_dir(root) else { return };
    for e in rd.flatten() {
        if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            let p = e.path().display().to_string();
            // The VM's own process manager creates and removes memory:/process_api/* groups; only
            // nsdojo's groups (nested there on v1) are compared below it.
            let ours = e.file_name().to_string_lossy().starts_with("nsdojo-");
            if p.contains("/process_api") && !ours {
                if depth > 1 {
                    dirs_below(&p, depth - 1, out);
                }
                continue;
            }
            out.insert(p.clone());
            if depth > 1 {
                dirs_below(&p, depth - 1, out);
            }
        }
    }
}

impl HostState {
    pub(crate) fn now() -> HostState {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .map(|l| {
                // Drop the mount and parent ids; keep what a mount *is*.
                l.splitn(3, ' ').nth(2).unwrap_or("").to_string()
            })
            .collect();
        let mut cgroup_dirs = BTreeSet::new();
        dirs_below("/sys/fs/cgroup", 5, &mut cgroup_dirs);
        let netns = std::fs::read_dir("/run/netns")
            .ok()
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect());
        let mut leftovers = BTreeSet::new();
        for e in std::fs::read_dir("/tmp").unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("nsdojo-") {
                leftovers.insert(format!("/tmp/{n}"));
            }
        }
        if std::path::Path::new("/run/nsdojo").exists() {
            leftovers.insert("/run/nsdojo".into());
        }
        HostState {
            mounts,
            hostname: nix::unistd::gethostname().unwrap().to_string_lossy().into_owned(),
            netns,
            msg_queues: std::fs::read_to_string("/proc/sysvipc/msg").unwrap_or_default(),
            links: nix::ifaddrs::getifaddrs()
                .unwrap()
                .map(|i| {
                    format!(
                        "{} {:?} {}",
                        i.interface_name,
                        i.flags,
                        i.address.map(|a| a.to_string()).unwrap_or_default()
                    )
                })
                .collect(),
            // Interface, destination, gateway, flags, mask: not the use counters.
            routes: std::fs::read_to_string("/proc/self/net/route")
                .unwrap_or_default()
                .lines()
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    [0, 1, 2, 3, 7].iter().filter_map(|&i| f.get(i)).copied().collect::<Vec<_>>().join(" ") + "\n"
                })
                .collect(),
            cgroup_dirs,
            leftovers,
        }
    }

    /// Wait (briefly) for asynchronous cleanup, then compare.
    pub(crate) fn assert_unchanged_since(&self, what: &str) {
        let mut now = HostState::now();
        for _ in 0..100 {
            if now == *self {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            now = HostState::now();
        }
        assert_eq!(*self, now, "the host changed after {what}");
    }
}

/// Is a process alive (and not a zombie)?
pub(crate) fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'),
        Err(_) => false,
    }
}

/// The watchdog of the session whose nsdojo process is `owner`, from its session record
/// (so a test never touches another session's watchdog).
pub(crate) fn watchdog_of(owner: i32) -> Option<i32> {
    for _ in 0..100 {
        for e in std::fs::read_dir("/run/nsdojo").into_iter().flatten().flatten() {
            if e.file_name().to_string_lossy().starts_with(&format!("{owner}-")) {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if let Some(w) = text.split("\"watchdog\":").nth(1) {
                    if let Ok(pid) = w.trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap_or("").parse() {
                        return Some(pid);
                    }
                }
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    None
}

/// The PID of the program on a rexpect pty (rexpect 0.7 keeps its own field private): the
/// session of the pty's terminal, since rexpect's child calls setsid() and then execs it
/// (TIOCGSID on the master side reports the slave's session).
pub(crate) fn pty_pid(p: &rexpect::session::PtySession) -> i32 {
    let master = p.process().get_file_handle().expect("the pty's master");
    nix::sys::termios::tcgetsid(&master).expect("TIOCGSID on the pty").as_raw()
}
