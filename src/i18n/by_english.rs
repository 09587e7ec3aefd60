//! Texts made far from the UI, in English: notes under syscalls and reasons a
//! step stopped, written by the sandbox agent (another process, across the
//! socket) or deep in the lab. They are translated where they are shown, by
//! matching the English, so the agent's protocol and the engine stay free of
//! language. A text not in the table is shown as it is.

use crate::lesson::Lang;

/// (English, Korean); `{0}`, `{1}` match any text in the English and are put back in the Korean.
pub const MACHINE: &[(&str, &str)] = &[
    ("no such program at this root", "이 루트에는 그런 프로그램이 없습니다"),
    // The class sender's notes (class/sender.rs).
    (
        "class: the class server answers again; everything queued is being sent",
        "수업: 수업 서버가 다시 응답합니다. 쌓아 둔 진행 상황을 모두 보내는 중입니다",
    ),
    (
        "class: the class server at {0} does not answer ({1}); your progress is kept and sent when it is back",
        "수업: {0}의 수업 서버가 응답하지 않습니다 ({1}). 진행 상황은 보관했다가 서버가 돌아오면 보냅니다",
    ),
    (
        "class: the class server refused the events ({0}); your progress is kept and sent when it is back",
        "수업: 수업 서버가 진행 상황을 거부했습니다 ({0}). 진행 상황은 보관했다가 나중에 다시 보냅니다",
    ),
    // The veth lesson's notes and failures (lab/veth.rs, sandbox/shell.rs).
    ("running in the background until the sandbox ends", "샌드박스가 끝날 때까지 백그라운드에서 실행됩니다"),
    ("it exited at once", "곧바로 종료했습니다"),
    ("spawn {0}: exited with status {1}", "spawn {0}: 종료 상태 {1}로 끝났습니다"),
    (
        "the interface leaves the host's network namespace for terminal #1's",
        "인터페이스가 호스트의 네트워크 네임스페이스를 떠나 터미널 #1의 네임스페이스로 갑니다",
    ),
    ("a veth's two ends go together, wherever the other one is", "veth의 두 끝은 다른 쪽이 어디에 있든 함께 지워집니다"),
    (
        "the kernel adds the route to this network through the interface once it is up",
        "인터페이스가 UP이 되면 커널이 이 네트워크로 가는 경로를 그 인터페이스로 추가합니다",
    ),
    (
        "bound to the lesson's cable: this socket cannot reach anything else",
        "레슨의 케이블에 묶였습니다. 이 소켓은 다른 곳에 닿을 수 없습니다",
    ),
    ("refused {0} times in {1} s: nothing listens there", "{1}초 동안 {0}번 거부되었습니다. 그곳에서 listen하는 것이 없습니다"),
    (
        "{0} is not an interface this lesson made: nsdojo changes no other host interface",
        "{0}은(는) 이 레슨이 만든 인터페이스가 아닙니다. nsdojo는 호스트의 다른 인터페이스를 바꾸지 않습니다",
    ),
    (
        "{0} exists already on the host: the lesson will not take it over",
        "{0}이(가) 이미 호스트에 있습니다. 레슨은 그것을 가져다 쓰지 않습니다",
    ),
    (
        "the host already routes {0} (dev {1}): pick another documentation range",
        "호스트가 이미 {0} 경로를 씁니다 (dev {1}). 다른 문서용 대역을 고르세요",
    ),
    (
        "{0} is not on an interface this lesson made: fetch reaches nothing else",
        "{0}은(는) 이 레슨이 만든 인터페이스에 있지 않습니다. fetch는 다른 곳에 닿지 않습니다",
    ),
    ("exit status {0}", "종료 상태 {0}"),
    ("stopped by Ctrl-C", "Ctrl-C로 멈췄습니다"),
    (
        "as unshare(1) does by default: nothing mounted here can propagate to the host",
        "unshare(1)의 기본 동작과 같습니다. 여기서 마운트한 것은 호스트로 전파되지 않습니다",
    ),
    ("{0} failed: {1} ({2})", "{0} 실패: {1} ({2})"),
    (
        "root still, uid 0, but without these powers; the bounding set keeps them from coming back",
        "여전히 uid 0인 root지만 이 권한은 없습니다. bounding set에서도 빠졌으므로 되찾을 수 없습니다",
    ),
    (
        "no exec can gain privileges any more: a setuid-root program runs as the caller",
        "이제 어떤 exec도 권한을 얻지 못합니다. setuid-root 프로그램도 호출한 사용자 권한으로 실행됩니다",
    ),
    ("interrupted", "중단됨"),
    ("killed after {0} s: the command did not finish", "{0}초 안에 끝나지 않아 강제 종료했습니다"),
    ("{0} does not exist here: mkdir it first", "여기에는 {0} 경로가 없습니다. 먼저 mkdir로 만드세요"),
    (
        "refusing to {0} in the host's {1} namespace (it would change the host): `unshare {1}` first",
        "호스트의 {1} 네임스페이스에서는 {0} 작업을 거부합니다 (호스트가 바뀝니다). 먼저 `unshare {1}` 액션을 실행하세요",
    ),
    (
        "new_root or the mount it sits on has shared propagation, or new_root is not a mount point: \
         run make-rprivate / first (mount --make-rprivate /)",
        "new_root나 그 아래 마운트의 전파 방식이 shared이거나, new_root가 마운트 지점이 아닙니다. \
         먼저 make-rprivate / 를 실행하세요 (mount --make-rprivate /)",
    ),
    (
        "new_root is not a mount point (it sits on the same mount as the current root): \
         bind-mount it onto itself first (mount --bind DIR DIR)",
        "new_root가 마운트 지점이 아닙니다 (현재 루트와 같은 마운트 위에 있습니다). \
         먼저 자기 자신 위에 bind 마운트하세요 (mount --bind DIR DIR)",
    ),
    ("new_root or put_old is not a directory", "new_root나 put_old가 디렉터리가 아닙니다"),
    ("new_root or put_old does not exist", "new_root나 put_old가 없습니다"),
    (
        "the child is PID 1 of the new PID namespace and carries on as terminal #1; its parent waits as reaper",
        "자식 프로세스가 새 PID 네임스페이스의 PID 1이 되어 터미널 #1 역할을 이어받고, 부모는 회수자(reaper)로 기다립니다",
    ),
    (
        "an id map can be written once, by a process with CAP_SETUID over the namespace (usually the parent)",
        "ID 매핑은 한 번만 쓸 수 있고, 그 네임스페이스에 대한 CAP_SETUID가 있는 프로세스(보통 부모)만 쓸 수 있습니다",
    ),
    (
        "a map can be written only once, and only for a process in a new user namespace",
        "매핑은 한 번만, 그리고 새 사용자 네임스페이스 안의 프로세스에 대해서만 쓸 수 있습니다",
    ),
    (
        "stress forks one worker that spins; the meter follows the worker",
        "stress는 계속 도는 작업 프로세스 하나를 fork하고, 측정기는 그 작업 프로세스를 따라갑니다",
    ),
    ("a busy loop, in whatever cgroup terminal #1 is in", "터미널 #1이 속한 cgroup 안에서 도는 바쁜 루프"),
    ("the stress worker, from the host", "호스트에서 stress 작업 프로세스를 종료"),
    ("already there: fine", "이미 있습니다: 괜찮습니다"),
    (
        "the bind mount keeps the namespace alive with no process in it; that is all a named netns is",
        "프로세스가 하나도 없어도 bind 마운트가 네임스페이스를 살려 둡니다. 이름 붙은 netns란 바로 이것입니다",
    ),
    (
        "iproute2 leaves /run/netns behind (even bind-mounted onto itself); nsdojo made it, so it removes it",
        "iproute2는 /run/netns를 (자기 자신 위에 bind 마운트된 채로도) 남겨 둡니다. nsdojo가 만들었으므로 nsdojo가 지웁니다",
    ),
    (
        "netns add pins the namespace in the host's mount table: run it before `unshare mnt`",
        "netns add는 네임스페이스를 호스트의 마운트 테이블에 고정합니다. `unshare mnt` 액션보다 먼저 실행하세요",
    ),
    (
        "the child locks its memory in RAM (mlockall: no swap to hide in), then allocates and touches {0} MiB",
        "자식 프로세스가 메모리를 RAM에 고정하고(mlockall: 스왑으로 숨을 수 없음) {0} MiB를 할당해 실제로 씁니다",
    ),
    ("{0} processes started", "프로세스 {0}개 시작"),
    (
        "the pids controller refused: pids.max reached (the fork bomb is contained)",
        "pids 컨트롤러가 거부했습니다. pids.max에 도달했습니다 (fork 폭탄이 갇혔습니다)",
    ),
    (
        "the filesystem is full: mount the tmpfs with a larger size= (or nr_inodes=)",
        "파일 시스템이 가득 찼습니다. tmpfs를 더 큰 size=(또는 nr_inodes=)로 마운트하세요",
    ),
    (
        "this controller is not available to cgroup v2 here: it is bound to a cgroup v1 hierarchy (see /proc/cgroups)",
        "이 컨트롤러는 여기서 cgroup v2로 쓸 수 없습니다. cgroup v1 계층에 묶여 있습니다 (/proc/cgroups 참고)",
    ),
    (
        "cgroup v2 'no internal processes' rule: a cgroup holding processes cannot give controllers to its children",
        "cgroup v2의 '내부 프로세스 금지' 규칙: 프로세스가 있는 cgroup은 자식에게 컨트롤러를 넘길 수 없습니다",
    ),
    ("no such process (it has already exited)", "그런 프로세스가 없습니다 (이미 끝났습니다)"),
    (
        "cgroup v2 puts processes only in leaves: this group has controllers enabled for children",
        "cgroup v2는 프로세스를 잎(leaf) 그룹에만 둡니다. 이 그룹은 자식에게 컨트롤러를 켜 두었습니다",
    ),
    ("quota below 1000 us, or above what the parent group allows", "할당량이 1000 us보다 작거나, 부모 그룹이 허용하는 값보다 큽니다"),
    (
        "cpu.max appears only once +cpu is in the parent's cgroup.subtree_control",
        "cpu.max는 부모의 cgroup.subtree_control에 +cpu가 들어간 뒤에야 생깁니다",
    ),
    (
        "a group of this name already exists (left over from a crash? `nsdojo cleanup`)",
        "이 이름의 그룹이 이미 있습니다 (비정상 종료로 남은 것이라면 `nsdojo cleanup` 명령)",
    ),
    (
        "the group still has tasks (a killed task lingers until it is reaped)",
        "그룹에 아직 태스크가 있습니다 (종료된 태스크도 회수될 때까지 남아 있습니다)",
    ),
    ("already gone", "이미 없습니다"),
    ("the sandbox stopped mid-step", "샌드박스가 단계 도중에 멈췄습니다"),
    ("this action runs on the host, not in the sandbox", "이 액션은 샌드박스가 아니라 호스트에서 실행됩니다"),
    ("no cgroup yet: `cgroup create …` first", "아직 cgroup이 없습니다. 먼저 `cgroup create …` 액션을 실행하세요"),
    ("no sandbox is running yet", "아직 실행 중인 샌드박스가 없습니다"),
    ("this lesson already made its cgroup", "이 레슨은 이미 cgroup을 만들었습니다"),
    ("could not record the cgroup in the session file: {0}", "세션 파일에 cgroup을 기록하지 못했습니다: {0}"),
    ("the burner did not start", "CPU 부하 프로세스가 시작되지 않았습니다"),
    ("cannot read {0}: {1}", "{0} 파일을 읽을 수 없습니다: {1}"),
    ("measurement stopped: {0}", "측정이 멈췄습니다: {0}"),
    // userfile.rs: why a file for the student was refused.
    ("is a symbolic link", "심볼릭 링크입니다"),
    ("owned by another user", "다른 사용자의 파일입니다"),
    ("it has other hard links", "다른 하드 링크가 있습니다"),
    ("not a regular file", "일반 파일이 아닙니다"),
    // host::userns_restriction.
    (
        "AppArmor restricts unprivileged user namespaces here (Ubuntu 23.10+): sysctl kernel.apparmor_restrict_unprivileged_userns=0",
        "이 머신은 AppArmor가 일반 사용자의 사용자 네임스페이스를 막습니다(Ubuntu 23.10 이상): sysctl kernel.apparmor_restrict_unprivileged_userns=0",
    ),
    (
        "unprivileged user namespaces are off here: sysctl kernel.unprivileged_userns_clone=1",
        "이 머신은 일반 사용자의 사용자 네임스페이스가 꺼져 있습니다: sysctl kernel.unprivileged_userns_clone=1",
    ),
    (
        "user namespaces are off here: sysctl user.max_user_namespaces=15000",
        "이 머신은 사용자 네임스페이스가 꺼져 있습니다: sysctl user.max_user_namespaces=15000",
    ),
];

/// `text` in `lang`: its Korean when the table knows it, else as it is.
pub fn machine_text(lang: Lang, text: &str) -> String {
    if lang == Lang::En {
        return text.to_string();
    }
    for (en, ko) in MACHINE {
        if let Some(values) = matches(en, text) {
            let args: Vec<&dyn std::fmt::Display> = values.iter().map(|v| v as &dyn std::fmt::Display).collect();
            return super::fill(ko, &args);
        }
    }
    text.to_string()
}

/// The values of `{0}`, `{1}` … if `text` fits the template (a value never empty).
fn matches(template: &str, text: &str) -> Option<Vec<String>> {
    let mut pieces: Vec<(Option<usize>, &str)> = Vec::new();
    let mut rest = template;
    let mut slot = None;
    while let Some(open) = rest.find('{') {
        let close = rest[open..].find('}')? + open;
        pieces.push((slot, &rest[..open]));
        slot = Some(rest[open + 1..close].parse::<usize>().ok()?);
        rest = &rest[close + 1..];
    }
    pieces.push((slot, rest));
    let mut values: Vec<Option<String>> = Vec::new();
    let mut at = text;
    for (i, (slot, lit)) in pieces.iter().enumerate() {
        let value_end = match (slot, i + 1 == pieces.len() && lit.is_empty()) {
            (None, _) => {
                at = at.strip_prefix(lit)?;
                continue;
            }
            (Some(_), true) => at.len(),
            (Some(_), false) if i + 1 == pieces.len() => at.strip_suffix(lit).map(str::len)?,
            (Some(_), false) => at.find(lit)?,
        };
        let (value, after) = at.split_at(value_end);
        let n = slot.expect("a value");
        if value.is_empty() || values.get(n).is_some_and(|v| v.as_deref().is_some_and(|v| v != value)) {
            return None;
        }
        if values.len() <= n {
            values.resize(n + 1, None);
        }
        values[n] = Some(value.to_string());
        at = after.strip_prefix(lit)?;
    }
    at.is_empty().then(|| values.into_iter().map(Option::unwrap_or_default).collect())
}

/// An OS error in `lang`: the common kinds in Korean, the code kept for a search.
pub fn io_error(lang: Lang, e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let ko = match e.kind() {
        K::NotFound => "파일이나 디렉터리가 없습니다",
        K::PermissionDenied => "권한이 없습니다",
        K::AlreadyExists => "이미 있습니다",
        K::IsADirectory => "디렉터리입니다",
        K::NotADirectory => "디렉터리가 아닙니다",
        K::ReadOnlyFilesystem => "읽기 전용 파일 시스템입니다",
        K::StorageFull => "저장 공간이 가득 찼습니다",
        _ => return e.to_string(),
    };
    match (lang, e.raw_os_error()) {
        (Lang::En, _) => e.to_string(),
        (Lang::Ko, Some(code)) => format!("{ko} (os error {code})"),
        // A message of nsdojo's own (no OS code): its Korean when the table has it.
        (Lang::Ko, None) => {
            let own = e.to_string();
            let known = machine_text(lang, &own);
            if known == own {
                ko.to_string()
            } else {
                known
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_machine_text_has_korean() {
        for (en, ko) in MACHINE {
            assert!(ko.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c)), "no Hangul for {en:?}");
            for n in ["{0}", "{1}"] {
                assert_eq!(en.contains(n), ko.contains(n), "{en:?}: {n}");
            }
        }
    }

    #[test]
    fn values_are_carried_over() {
        assert_eq!(machine_text(Lang::Ko, "exit status 1"), "종료 상태 1");
        assert_eq!(machine_text(Lang::En, "exit status 1"), "exit status 1");
        assert_eq!(
            machine_text(Lang::Ko, "refusing to mount in the host's mnt namespace (it would change the host): `unshare mnt` first"),
            "호스트의 mnt 네임스페이스에서는 mount 작업을 거부합니다 (호스트가 바뀝니다). 먼저 `unshare mnt` 액션을 실행하세요"
        );
        assert_eq!(machine_text(Lang::Ko, "already gone"), "이미 없습니다");
        assert_eq!(machine_text(Lang::Ko, "something new"), "something new");
        assert_eq!(
            machine_text(Lang::Ko, "/x does not exist here: mkdir it first"),
            "여기에는 /x 경로가 없습니다. 먼저 mkdir로 만드세요"
        );
    }

    #[test]
    fn os_errors() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_error(Lang::Ko, &e), "파일이나 디렉터리가 없습니다 (os error 2)");
        assert_eq!(io_error(Lang::En, &e), e.to_string());
    }
}
