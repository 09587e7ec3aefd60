//! The texts of [`super::Msg`]: (key, English, Korean), in the catalog's form, so a
//! message made far from the UI is rendered like every other message. `{0}`, `{1}` …
//! are the variant's values, in the order `Msg::args` gives them.

pub const TEXTS: &[(&str, &str, &str)] = &[
    // Notes under a program the sandbox ran (sandbox/shell.rs).
    ("no_program", "no such program at this root", "이 루트에는 그런 프로그램이 없습니다"),
    ("background", "running in the background until the sandbox ends", "샌드박스가 끝날 때까지 백그라운드에서 실행됩니다"),
    ("exited_at_once", "it exited at once", "곧바로 종료했습니다"),
    ("cmd_exit_status", "exit status {0}", "종료 상태 {0}"),
    (
        "missing_tool",
        "`{0}` is not installed on this machine: install the package {1} (sudo apt-get install {1}) and do the step again",
        "이 컴퓨터에는 `{0}` 명령이 없습니다. {1} 패키지를 설치한 뒤(sudo apt-get install {1}) 이 단계를 다시 하세요",
    ),
    ("stopped_by_ctrl_c", "stopped by Ctrl-C", "Ctrl-C로 멈췄습니다"),
    ("cmd_killed_after", "killed after {0} s: the command did not finish", "{0}초 안에 끝나지 않아 강제 종료했습니다"),
    ("spawn_exited", "spawn {0}: exited with status {1}", "spawn {0}: 종료 상태 {1}로 끝났습니다"),
    // The veth lesson (lab/veth.rs).
    (
        "veth_leaves_host",
        "the interface leaves the host's network namespace for terminal #1's",
        "인터페이스가 호스트의 네트워크 네임스페이스를 떠나 터미널 #1의 네임스페이스로 갑니다",
    ),
    ("veth_ends_together", "a veth's two ends go together, wherever the other one is", "veth의 두 끝은 다른 쪽이 어디에 있든 함께 지워집니다"),
    (
        "route_when_up",
        "the kernel adds the route to this network through the interface once it is up",
        "인터페이스가 UP이 되면 커널이 이 네트워크로 가는 경로를 그 인터페이스로 추가합니다",
    ),
    (
        "bound_to_cable",
        "bound to the lesson's cable: this socket cannot reach anything else",
        "레슨의 케이블에 묶였습니다. 이 소켓은 다른 곳에 닿을 수 없습니다",
    ),
    ("connect_refused", "refused {0} times in {1} s: nothing listens there", "{1}초 동안 {0}번 거부되었습니다. 그곳에서 listen하는 것이 없습니다"),
    (
        "veth_not_ours",
        "{0} is not an interface this lesson made: nsdojo changes no other host interface",
        "{0}은(는) 이 레슨이 만든 인터페이스가 아닙니다. nsdojo는 호스트의 다른 인터페이스를 바꾸지 않습니다",
    ),
    ("veth_exists", "{0} exists already on the host: the lesson will not take it over", "{0}이(가) 이미 호스트에 있습니다. 레슨은 그것을 가져다 쓰지 않습니다"),
    ("veth_not_our_peer", "{0} is not the peer of an interface this lesson made", "{0}은(는) 이 레슨이 만든 인터페이스의 짝이 아닙니다"),
    (
        "veth_routed",
        "the host already routes {0} (dev {1}): pick another documentation range",
        "호스트가 이미 {0} 경로를 씁니다 (dev {1}). 다른 문서용 대역을 고르세요",
    ),
    (
        "veth_unreachable",
        "{0} is not on an interface this lesson made: fetch reaches nothing else",
        "{0}은(는) 이 레슨이 만든 인터페이스에 있지 않습니다. fetch는 다른 곳에 닿지 않습니다",
    ),
    (
        "veth_not_documentation",
        "`{0}`: the host side takes an address from a documentation range, /24 or narrower",
        "`{0}`: 호스트 쪽 주소는 문서용 대역에서, /24 이하로 고르세요",
    ),
    ("not_url", "`{0}` is not http://IPv4[:PORT][/PATH]", "`{0}`은(는) http://IPv4[:PORT][/PATH] 형식이 아닙니다"),
    ("record_iface", "could not record {0} in the session file: {1}", "세션 파일에 {0}을(를) 기록하지 못했습니다: {1}"),
    // The sandbox's actions (sandbox/perform.rs, caps.rs, netdev.rs, pressure.rs).
    ("failed", "{0} failed: {1} ({2})", "{0} 실패: {1} ({2})"),
    ("call_error", "{0}: {1}", "{0} 실패: {1}"),
    (
        "host_namespace",
        "refusing to {0} in the host's {1} namespace (it would change the host): `unshare {1}` first",
        "호스트의 {1} 네임스페이스에서는 {0} 작업을 거부합니다 (호스트가 바뀝니다). 먼저 `unshare {1}` 액션을 실행하세요",
    ),
    (
        "private_propagation",
        "as unshare(1) does by default: nothing mounted here can propagate to the host",
        "unshare(1)의 기본 동작과 같습니다. 여기서 마운트한 것은 호스트로 전파되지 않습니다",
    ),
    (
        "caps_dropped",
        "root still, uid 0, but without these powers; the bounding set keeps them from coming back",
        "여전히 uid 0인 root지만 이 권한은 없습니다. bounding set에서도 빠졌으므로 되찾을 수 없습니다",
    ),
    (
        "no_new_privs",
        "no exec can gain privileges any more: a setuid-root program runs as the caller",
        "이제 어떤 exec도 권한을 얻지 못합니다. setuid-root 프로그램도 호출한 사용자 권한으로 실행됩니다",
    ),
    ("action_interrupted", "interrupted", "중단됨"),
    (
        "you_still_in_host_ns",
        "this process is still in the host's {0} namespace, and being root in a new user namespace gives no power over \
         that one: give it a {0} namespace of its own too (unshare {1})",
        "이 프로세스는 아직 호스트의 {0} 네임스페이스에 있습니다. 새 사용자 네임스페이스의 root라도 그 네임스페이스에는 \
         권한이 없습니다. {0} 네임스페이스도 따로 만드세요 (unshare {1})",
    ),
    (
        "you_ns_owned_elsewhere",
        "this process's {0} namespace was made in another user namespace (before this one), and root here has no \
         power over it: make a {0} namespace from inside this user namespace (unshare {1})",
        "이 프로세스의 {0} 네임스페이스는 (이 사용자 네임스페이스보다 먼저) 다른 사용자 네임스페이스에서 만들어졌으므로, \
         여기의 root에게는 권한이 없습니다. 이 사용자 네임스페이스 안에서 {0} 네임스페이스를 새로 만드세요 (unshare {1})",
    ),
    (
        "you_lack_cap",
        "this process (uid {1}) does not have {0} in the user namespace that owns what it tried to change",
        "이 프로세스(uid {1})에는 바꾸려던 대상을 소유한 사용자 네임스페이스에서의 {0} 권한이 없습니다",
    ),
    (
        "you_no_program",
        "{0} is not in this process's root: after chroot or pivot_root only what is in the new root exists \
         (the lab's rootfs has busybox, so sh, not bash)",
        "이 프로세스의 루트에는 {0}이(가) 없습니다. chroot나 pivot_root 뒤에는 새 루트 안에 있는 것만 보입니다 \
         (실습 rootfs에는 busybox가 있으니 bash가 아니라 sh를 쓰세요)",
    ),
    (
        "you_not_installed",
        "{0} is not installed on this machine: install it, or use a program that is (sh for bash)",
        "이 머신에는 {0}이(가) 설치되어 있지 않습니다. 설치하거나, 설치된 다른 프로그램을 쓰세요 (bash 대신 sh)",
    ),
    (
        "you_cgroup_value",
        "the kernel refused this value for the file: cpu.max takes \"QUOTA PERIOD\" or \"max PERIOD\", \
         cpu.cfs_quota_us microseconds or -1, cgroup.procs one PID",
        "커널이 이 파일에 이 값을 거부했습니다. cpu.max는 \"QUOTA PERIOD\" 또는 \"max PERIOD\", \
         cpu.cfs_quota_us는 마이크로초 또는 -1, cgroup.procs는 PID 하나를 받습니다",
    ),
    (
        "you_cgroup_busy",
        "cgroup v2 keeps processes only in groups with no controllers enabled for children: \
         move the process into a leaf group, or take the controller out of cgroup.subtree_control",
        "cgroup v2에서는 자식용 컨트롤러가 켜진 그룹에 프로세스를 둘 수 없습니다. \
         프로세스를 말단(leaf) 그룹으로 옮기거나 cgroup.subtree_control에서 컨트롤러를 빼세요",
    ),
    (
        "you_link_exists",
        "an interface of that name exists already in this network namespace (ip link show)",
        "이 네트워크 네임스페이스에는 이미 그 이름의 인터페이스가 있습니다 (ip link show)",
    ),
    (
        "you_userns_in_chroot",
        "a chrooted process may not make a user namespace: the kernel refuses, since root in it could use its new powers to leave the chroot",
        "chroot된 프로세스는 사용자 네임스페이스를 만들 수 없습니다. 그 안의 root가 새 권한으로 chroot를 빠져나갈 수 있기 때문에 커널이 거부합니다",
    ),
    ("mount_target_missing", "{0} does not exist here: mkdir it first", "여기에는 {0} 경로가 없습니다. 먼저 mkdir로 만드세요"),
    (
        "pivot_shared",
        "new_root or the mount it sits on has shared propagation, or new_root is not a mount point: \
         run make-rprivate / first (mount --make-rprivate /)",
        "new_root나 그 아래 마운트의 전파 방식이 shared이거나, new_root가 마운트 지점이 아닙니다. \
         먼저 make-rprivate / 를 실행하세요 (mount --make-rprivate /)",
    ),
    (
        "pivot_not_mount_point",
        "new_root is not a mount point (it sits on the same mount as the current root): \
         bind-mount it onto itself first (mount --bind DIR DIR)",
        "new_root가 마운트 지점이 아닙니다 (현재 루트와 같은 마운트 위에 있습니다). \
         먼저 자기 자신 위에 bind 마운트하세요 (mount --bind DIR DIR)",
    ),
    ("pivot_not_dir", "new_root or put_old is not a directory", "new_root나 put_old가 디렉터리가 아닙니다"),
    ("pivot_missing", "new_root or put_old does not exist", "new_root나 put_old가 없습니다"),
    (
        "pid_ns_child",
        "the child is PID 1 of the new PID namespace and carries on as terminal #1; its parent waits as reaper",
        "자식 프로세스가 새 PID 네임스페이스의 PID 1이 되어 터미널 #1 역할을 이어받고, 부모는 회수자(reaper)로 기다립니다",
    ),
    (
        "id_map_once",
        "an id map can be written once, by a process with CAP_SETUID over the namespace (usually the parent)",
        "ID 매핑은 한 번만 쓸 수 있고, 그 네임스페이스에 대한 CAP_SETUID가 있는 프로세스(보통 부모)만 쓸 수 있습니다",
    ),
    (
        "map_only_once",
        "a map can be written only once, and only for a process in a new user namespace",
        "매핑은 한 번만, 그리고 새 사용자 네임스페이스 안의 프로세스에 대해서만 쓸 수 있습니다",
    ),
    (
        "stress_forks",
        "stress forks one worker that spins; the meter follows the worker",
        "stress는 계속 도는 작업 프로세스 하나를 fork하고, 측정기는 그 작업 프로세스를 따라갑니다",
    ),
    ("busy_loop", "a busy loop, in whatever cgroup terminal #1 is in", "터미널 #1이 속한 cgroup 안에서 도는 바쁜 루프"),
    ("stress_worker_killed", "the stress worker, from the host", "호스트에서 stress 작업 프로세스를 종료"),
    ("already_there", "already there: fine", "이미 있습니다: 괜찮습니다"),
    (
        "netns_bind_keeps",
        "the bind mount keeps the namespace alive with no process in it; that is all a named netns is",
        "프로세스가 하나도 없어도 bind 마운트가 네임스페이스를 살려 둡니다. 이름 붙은 netns란 바로 이것입니다",
    ),
    (
        "netns_dir_left",
        "iproute2 leaves /run/netns behind (even bind-mounted onto itself); nsdojo made it, so it removes it",
        "iproute2는 /run/netns를 (자기 자신 위에 bind 마운트된 채로도) 남겨 둡니다. nsdojo가 만들었으므로 nsdojo가 지웁니다",
    ),
    (
        "netns_after_unshare_mnt",
        "netns add pins the namespace in the host's mount table: run it before `unshare mnt`",
        "netns add는 네임스페이스를 호스트의 마운트 테이블에 고정합니다. `unshare mnt` 액션보다 먼저 실행하세요",
    ),
    ("if_name_too_long", "interface name {0} is too long", "인터페이스 이름 {0}이(가) 너무 깁니다"),
    ("no_interface", "no interface {0}: {1}", "인터페이스 {0}이(가) 없습니다: {1}"),
    (
        "not_if_name",
        "{0} is not an interface name (1 to 15 characters, no / or :)",
        "{0}은(는) 인터페이스 이름이 아닙니다 (1~15자, / 와 : 없이)",
    ),
    ("not_cidr", "`{0}` is not ADDR/PREFIX", "`{0}`은(는) ADDR/PREFIX 형식이 아닙니다"),
    (
        "memory_locked",
        "the child locks its memory in RAM (mlockall: no swap to hide in), then allocates and touches {0} MiB",
        "자식 프로세스가 메모리를 RAM에 고정하고(mlockall: 스왑으로 숨을 수 없음) {0} MiB를 할당해 실제로 씁니다",
    ),
    (
        "memory_allocated",
        "the child allocated {0} MiB and exited {1}: nothing stopped it",
        "자식 프로세스가 {0} MiB를 할당하고 {1}(으)로 끝났습니다. 아무것도 막지 않았습니다",
    ),
    (
        "memory_oom_killed",
        "the child was killed by {0} before it had {1} MiB: the OOM killer enforced the memory limit",
        "자식 프로세스가 {1} MiB를 갖기 전에 {0}(으)로 종료되었습니다. OOM killer가 메모리 제한을 지켰습니다",
    ),
    ("wait_status", "unexpected wait status {0}", "예상하지 못한 wait 상태 {0}"),
    ("processes_started", "{0} processes started", "프로세스 {0}개 시작"),
    (
        "pids_max_reached",
        "the pids controller refused: pids.max reached (the fork bomb is contained)",
        "pids 컨트롤러가 거부했습니다. pids.max에 도달했습니다 (fork 폭탄이 갇혔습니다)",
    ),
    ("stress_not_started", "could not start stress: {0}", "stress를 시작하지 못했습니다: {0}"),
    ("burner_not_started", "could not start the burner: {0}", "CPU 부하 프로세스를 시작하지 못했습니다: {0}"),
    (
        "threaded_fork",
        "refusing to fork: this process has {0} threads (nsdojo's host must stay single-threaded)",
        "fork를 거부합니다: 이 프로세스에 스레드가 {0}개 있습니다 (nsdojo 호스트는 단일 스레드여야 합니다)",
    ),
    // The rootfs copy (rootfs/copy.rs).
    ("copy_summary", "{0} files, {1} dirs, {2} symlinks, {3}{4}{5}", "파일 {0}개, 디렉터리 {1}개, 심볼릭 링크 {2}개, {3}{4}{5}"),
    ("copy_skipped", "; skipped {0} device nodes/fifos/sockets", "; 장치 노드/FIFO/소켓 {0}개는 건너뜀"),
    ("copy_mount_points", "; {0} mount points left empty", "; 마운트 지점 {0}개는 비워 둠"),
    (
        "filesystem_full",
        "the filesystem is full: mount the tmpfs with a larger size= (or nr_inodes=)",
        "파일 시스템이 가득 찼습니다. tmpfs를 더 큰 size=(또는 nr_inodes=)로 마운트하세요",
    ),
    ("rootfs_failed", "{0}", "루트 파일 시스템 오류: {0}"),
    ("rootfs_no_space", "tmpfs full while copying {0}", "{0} 복사 중에 tmpfs가 가득 찼습니다"),
    ("rootfs_io", "cannot {0} {1}: {2}", "{1}: {0} 실패: {2}"),
    // cgroups (cgroup/).
    (
        "cgroup_v1_bound",
        "this controller is not available to cgroup v2 here: it is bound to a cgroup v1 hierarchy (see /proc/cgroups)",
        "이 컨트롤러는 여기서 cgroup v2로 쓸 수 없습니다. cgroup v1 계층에 묶여 있습니다 (/proc/cgroups 참고)",
    ),
    (
        "no_internal_processes",
        "cgroup v2 'no internal processes' rule: a cgroup holding processes cannot give controllers to its children",
        "cgroup v2의 '내부 프로세스 금지' 규칙: 프로세스가 있는 cgroup은 자식에게 컨트롤러를 넘길 수 없습니다",
    ),
    ("no_such_process", "no such process (it has already exited)", "그런 프로세스가 없습니다 (이미 끝났습니다)"),
    (
        "leaves_only",
        "cgroup v2 puts processes only in leaves: this group has controllers enabled for children",
        "cgroup v2는 프로세스를 잎(leaf) 그룹에만 둡니다. 이 그룹은 자식에게 컨트롤러를 켜 두었습니다",
    ),
    ("quota_range", "quota below 1000 us, or above what the parent group allows", "할당량이 1000 us보다 작거나, 부모 그룹이 허용하는 값보다 큽니다"),
    (
        "cpu_max_needs_cpu",
        "cpu.max appears only once +cpu is in the parent's cgroup.subtree_control",
        "cpu.max는 부모의 cgroup.subtree_control에 +cpu가 들어간 뒤에야 생깁니다",
    ),
    (
        "group_exists",
        "a group of this name already exists (left over from a crash? `nsdojo cleanup`)",
        "이 이름의 그룹이 이미 있습니다 (비정상 종료로 남은 것이라면 `nsdojo cleanup` 명령)",
    ),
    (
        "group_busy",
        "the group still has tasks (a killed task lingers until it is reaped)",
        "그룹에 아직 태스크가 있습니다 (종료된 태스크도 회수될 때까지 남아 있습니다)",
    ),
    ("already_gone", "already gone", "이미 없습니다"),
    ("short_write", "short write", "일부만 쓰였습니다"),
    (
        "no_memsw",
        "no memory.memsw.limit_in_bytes (swap is not accounted): with swap on, \
         the group can still swap out instead of being OOM-killed",
        "memory.memsw.limit_in_bytes가 없습니다 (스왑을 계산하지 않습니다): 스왑이 켜져 있으면 \
         그룹이 OOM으로 종료되는 대신 스왑으로 빠질 수 있습니다",
    ),
    (
        "memsw_same_limit",
        "RAM + swap: the same limit, so the group cannot swap out instead of hitting it",
        "RAM + 스왑: 같은 제한이므로 그룹이 제한에 닿는 대신 스왑으로 빠질 수 없습니다",
    ),
    ("syscall_failed", "{0} = -1 {1} ({2})", "시스템 콜이 실패했습니다: {0} = -1 {1} ({2})"),
    ("syscall_failed_note", "{0} = -1 {1} ({2}): {3}", "시스템 콜이 실패했습니다: {0} = -1 {1} ({2}): {3}"),
    ("no_cgroup_fs", "no usable cgroup filesystem: {0}", "쓸 수 있는 cgroup 파일 시스템이 없습니다: {0}"),
    (
        "v2_controller_missing",
        "cgroup v2 at {0} has no {1} controller: it is bound to a cgroup v1 hierarchy (see /proc/cgroups) \
         or not enabled further up (its cgroup.controllers lists {2})",
        "{0}의 cgroup v2에는 {1} 컨트롤러가 없습니다. cgroup v1 계층에 묶여 있거나 (/proc/cgroups 참고) \
         위쪽에서 켜지지 않았습니다 (cgroup.controllers 목록: {2})",
    ),
    (
        "v1_controller_missing",
        "cgroup v1: no hierarchy is mounted for the {0} controller (mounted: {1})",
        "cgroup v1: {0} 컨트롤러의 계층이 마운트되어 있지 않습니다 (마운트된 것: {1})",
    ),
    ("not_in_group", "group {0} was created without the {1} controller", "그룹 {0}은(는) {1} 컨트롤러 없이 만들어졌습니다"),
    ("cannot_read", "cannot read {0}: {1}", "{0} 파일을 읽을 수 없습니다: {1}"),
    ("cannot_read_proc", "cannot read {0}", "{0}을(를) 읽을 수 없습니다"),
    ("cannot_parse", "cannot parse {0}: {1}", "{0} 파일을 해석할 수 없습니다: {1}"),
    (
        "group_vanished",
        "cgroup directory {0} has vanished: the process can no longer be shown as confined \
         (was /sys covered by another mount? such a remount belongs in a new mount namespace)",
        "cgroup 디렉터리 {0}이(가) 사라졌습니다. 프로세스가 갇혀 있는지 더 보여 줄 수 없습니다 \
         (/sys를 다른 마운트가 덮었나요? 그런 마운트는 새 마운트 네임스페이스에서 하세요)",
    ),
    ("invalid", "invalid {0}", "잘못된 값: {0}"),
    ("refused_cleanup", "refusing to clean up {0}: {1}", "{0}은(는) 정리하지 않습니다: {1}"),
    // Host actions (lab/host_actions.rs, lab/actions.rs).
    ("not_on_host", "{0} does not run on the host", "{0}은(는) 호스트에서 실행되지 않습니다"),
    ("sandbox_stopped", "the sandbox stopped mid-step", "샌드박스가 단계 도중에 멈췄습니다"),
    ("no_group_yet", "no cgroup yet: `cgroup create …` first", "아직 cgroup이 없습니다. 먼저 `cgroup create …` 액션을 실행하세요"),
    ("no_sandbox_yet", "no sandbox is running yet", "아직 실행 중인 샌드박스가 없습니다"),
    ("group_made", "this lesson already made its cgroup", "이 레슨은 이미 cgroup을 만들었습니다"),
    ("record_group", "could not record the cgroup in the session file: {0}", "세션 파일에 cgroup을 기록하지 못했습니다: {0}"),
    ("no_burner", "the burner did not start", "CPU 부하 프로세스가 시작되지 않았습니다"),
    ("measure_stopped", "measurement stopped: {0}", "측정이 멈췄습니다: {0}"),
    // host::userns_restriction.
    // observe::apparmor: a refused call of a process in the unprivileged_userns profile, and a
    // user namespace refused outright (the restriction without that profile loaded).
    (
        "userns_apparmor",
        "AppArmor refused it, not the namespaces: with kernel.apparmor_restrict_unprivileged_userns=1 a user namespace made by an ordinary user puts its maker in the unprivileged_userns profile, which denies every capability (CapEff still lists them); sudo dmesg | grep unprivileged_userns shows the apparmor=\"DENIED\" lines",
        "네임스페이스가 아니라 AppArmor가 거절했습니다. kernel.apparmor_restrict_unprivileged_userns=1이면 일반 사용자가 사용자 네임스페이스를 만들 때 그 프로세스가 unprivileged_userns 프로파일로 옮겨지고, 이 프로파일은 모든 capability 사용을 거부합니다(CapEff에는 그대로 나옵니다). sudo dmesg | grep unprivileged_userns 명령으로 apparmor=\"DENIED\" 줄을 볼 수 있습니다",
    ),
    (
        "userns_apparmor_create",
        "AppArmor refused the user namespace itself (kernel.apparmor_restrict_unprivileged_userns=1 and no unprivileged_userns profile loaded): sudo dmesg | grep userns_create shows it",
        "AppArmor가 사용자 네임스페이스 자체를 거절했습니다(kernel.apparmor_restrict_unprivileged_userns=1인데 unprivileged_userns 프로파일이 로드되어 있지 않음). sudo dmesg | grep userns_create 명령으로 볼 수 있습니다",
    ),
    (
        "userns_clone_off",
        "unprivileged user namespaces are off here: sysctl kernel.unprivileged_userns_clone=1",
        "이 머신은 일반 사용자의 사용자 네임스페이스가 꺼져 있습니다: sysctl kernel.unprivileged_userns_clone=1",
    ),
    (
        "userns_max_zero",
        "user namespaces are off here: sysctl user.max_user_namespaces=15000",
        "이 머신은 사용자 네임스페이스가 꺼져 있습니다: sysctl user.max_user_namespaces=15000",
    ),
    // The class sender's notes (class/sender.rs).
    (
        "class_back",
        "class: the class server answers again; everything queued is being sent",
        "수업: 수업 서버가 다시 응답합니다. 쌓아 둔 진행 상황을 모두 보내는 중입니다",
    ),
    (
        "class_offline",
        "class: {0}; your progress is kept and sent when it is back",
        "수업: {0}. 진행 상황은 보관했다가 서버가 돌아오면 보냅니다",
    ),
    ("class_unreachable", "the class server at {0} does not answer ({1})", "{0}의 수업 서버가 응답하지 않습니다 ({1})"),
    ("class_refused", "the class server refused the events ({0}: {1})", "수업 서버가 진행 상황을 거부했습니다 ({0}: {1})"),
    ("class_not_ack", "the class server's answer is not an ack", "수업 서버의 응답이 확인(ack)이 아닙니다"),
    ("class_encode", "cannot encode the events: {0}", "진행 상황을 인코딩할 수 없습니다: {0}"),
    // userfile.rs: why a file for the student was refused.
    ("symlink", "is a symbolic link", "심볼릭 링크입니다"),
    ("other_owner", "owned by another user", "다른 사용자의 파일입니다"),
    ("hard_links", "it has other hard links", "다른 하드 링크가 있습니다"),
    ("not_regular", "not a regular file", "일반 파일이 아닙니다"),
];
