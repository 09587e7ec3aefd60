//! Rendering a [`Msg`] in the student's language: the variant picks its texts, so no
//! Korean is ever found by matching English.

use crate::lesson::Lang;
use crate::msg::{Msg, OsError};

/// `m` in `lang`.
pub fn msg(lang: Lang, m: &Msg) -> String {
    match lang {
        Lang::En => m.to_string(),
        Lang::Ko => m.render(|e| e.2, &|e| os_error(lang, e)),
    }
}

/// The Korean of the common kinds of OS error.
fn korean_kind(kind: std::io::ErrorKind) -> Option<&'static str> {
    use std::io::ErrorKind as K;
    Some(match kind {
        K::NotFound => "파일이나 디렉터리가 없습니다",
        K::PermissionDenied => "권한이 없습니다",
        K::AlreadyExists => "이미 있습니다",
        K::IsADirectory => "디렉터리입니다",
        K::NotADirectory => "디렉터리가 아닙니다",
        K::ReadOnlyFilesystem => "읽기 전용 파일 시스템입니다",
        K::StorageFull => "저장 공간이 가득 찼습니다",
        _ => return None,
    })
}

/// An OS error (as a message's value) in `lang`: the common kinds in Korean, the code
/// kept for a search.
pub fn os_error(lang: Lang, e: &OsError) -> String {
    let kind = |c| std::io::Error::from_raw_os_error(c).kind();
    match (lang, e.code.and_then(|c| Some((c, korean_kind(kind(c))?)))) {
        (Lang::Ko, Some((code, ko))) => format!("{ko} (os error {code})"),
        _ => e.text.clone(),
    }
}

/// An I/O error in `lang`: a message of nsdojo's own inside it (`io::Error::new(kind, Msg)`)
/// is rendered from its variant; an OS error by its kind.
pub fn io_error(lang: Lang, e: &std::io::Error) -> String {
    if let Some(m) = e.get_ref().and_then(|inner| inner.downcast_ref::<Msg>()) {
        return msg(lang, m);
    }
    match (lang, korean_kind(e.kind()), e.raw_os_error()) {
        (Lang::Ko, Some(ko), Some(code)) => format!("{ko} (os error {code})"),
        (Lang::Ko, Some(ko), None) => ko.to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Msg as M, TEXTS};

    fn os() -> OsError {
        OsError { code: Some(2), text: "No such file or directory (os error 2)".into() }
    }

    /// One of each variant. `parts` matches without a wildcard, so a new variant needs a
    /// key; `every_text_is_used` then fails until it is listed here with its texts.
    fn every() -> Vec<Msg> {
        let s = || "eth9".to_string();
        vec![
            M::NoProgram,
            M::Background,
            M::ExitedAtOnce,
            M::ExitStatus(1),
            M::MissingTool { tool: "ip".into(), package: "iproute2".into() },
            M::StoppedByCtrlC,
            M::KilledAfter { secs: 5 },
            M::SpawnExited { cmd: "nc".into(), status: 1 },
            M::VethLeavesHost,
            M::VethEndsTogether,
            M::RouteWhenUp,
            M::BoundToCable,
            M::ConnectRefused { times: 3, secs: "1.0".into() },
            M::VethNotOurs(s()),
            M::VethExists(s()),
            M::VethNotOurPeer(s()),
            M::VethRouted { net: "192.0.2.0/24".into(), dev: s() },
            M::VethUnreachable("192.0.2.9".into()),
            M::VethNotDocumentation("10.0.0.1/24".into()),
            M::NotUrl("ftp://x".into()),
            M::RecordIface { name: s(), error: os() },
            M::Failed { call: "unshare".into(), errno: libc::EPERM },
            M::CallError { what: "link-up eth9".into(), errno: libc::ENODEV },
            M::IoError { what: "spawn nc".into(), error: os() },
            M::HostNamespace { what: "mount".into(), ns: "mnt".into() },
            M::PrivatePropagation,
            M::CapsDropped,
            M::NoNewPrivs,
            M::Interrupted,
            M::MountTargetMissing("/x".into()),
            M::YouStillInHostNs { ns: "uts".into(), flag: "-u".into() },
            M::YouNsOwnedElsewhere { ns: "uts".into(), flag: "-u".into() },
            M::YouLackCap { cap: "CAP_SYS_ADMIN".into(), uid: 1000 },
            M::YouNoProgram("/bin/bash".into()),
            M::YouNotInstalled("/bin/bash".into()),
            M::YouCgroupValue,
            M::YouCgroupBusy,
            M::YouLinkExists,
            M::YouUserNsInChroot,
            M::PivotShared,
            M::PivotNotMountPoint,
            M::PivotNotDir,
            M::PivotMissing,
            M::PidNsChild,
            M::IdMapOnce,
            M::MapOnlyOnce,
            M::StressForks,
            M::BusyLoop,
            M::StressWorkerKilled,
            M::AlreadyThere,
            M::NetnsBindKeeps,
            M::NetnsDirLeft,
            M::NetnsAfterUnshareMnt,
            M::IfNameTooLong(s()),
            M::NoInterface { name: s(), errno: libc::ENODEV },
            M::NotIfName(s()),
            M::NotCidr("x".into()),
            M::MemoryLocked { mib: 64 },
            M::MemoryAllocated { mib: 64, code: 0 },
            M::MemoryOomKilled { signal: "SIGKILL".into(), mib: 64 },
            M::WaitStatus("None".into()),
            M::ProcessesStarted(10),
            M::PidsMaxReached,
            M::StressNotStarted(os()),
            M::BurnerNotStarted(os()),
            M::ThreadedFork(2),
            M::CopySummary { files: 6, dirs: 10, symlinks: 2, bytes: "18 B".into(), skipped: 1, mount_points: 1 },
            M::CopySkipped(1),
            M::CopyMountPoints(1),
            M::FilesystemFull,
            M::RootfsNoSpace("/x".into()),
            M::RootfsIo { op: "open".into(), path: "/x".into(), error: os() },
            M::Rootfs("/bin/sh -> x: dangling link inside the rootfs".into()),
            M::CgroupV1Bound,
            M::NoInternalProcesses,
            M::NoSuchProcess,
            M::LeavesOnly,
            M::QuotaRange,
            M::CpuMaxNeedsCpu,
            M::GroupExists,
            M::GroupBusy,
            M::AlreadyGone,
            M::ShortWrite,
            M::NoMemsw,
            M::MemswSameLimit,
            M::SyscallFailed { call: "rmdir(\"/g\")".into(), errno: libc::EBUSY, note: None },
            M::SyscallFailed { call: "rmdir(\"/g\")".into(), errno: libc::EBUSY, note: Some(Box::new(M::GroupBusy)) },
            M::NoCgroupFs("none in mountinfo".into()),
            M::V2ControllerMissing { parent: "/sys/fs/cgroup".into(), controller: "cpu".into(), listed: "pids".into() },
            M::V1ControllerMissing { controller: "cpu".into(), mounted: "pids".into() },
            M::NotInGroup { group: "g".into(), controller: "cpu".into() },
            M::CannotRead { path: "/proc/1/stat".into(), error: os() },
            M::CannotReadProc("/proc/1/cgroup: No such process".into()),
            M::CannotParse { path: "cpu.stat".into(), detail: "no usage_usec".into() },
            M::GroupVanished("/sys/fs/cgroup/g".into()),
            M::Invalid("cpu quota 0".into()),
            M::RefusedCleanup { path: "/sys/fs/cgroup".into(), why: "root".into() },
            M::NotOnHost("Mkdir(\"/x\")".into()),
            M::SandboxStopped,
            M::NoGroupYet,
            M::NoSandboxYet,
            M::GroupMade,
            M::RecordGroup(os()),
            M::NoBurner,
            M::MeasureStopped(Box::new(M::GroupVanished("/g".into()))),
            M::UsernsApparmor,
            M::UsernsApparmorCreate,
            M::UsernsCloneOff,
            M::UsernsMaxZero,
            M::ClassBack,
            M::ClassOffline(Box::new(M::ClassNotAck)),
            M::ClassUnreachable { url: "http://h:1".into(), why: "connection refused".into() },
            M::ClassRefused { status: 500, text: "oops".into() },
            M::ClassNotAck,
            M::ClassEncode("bad".into()),
            M::Symlink,
            M::OtherOwner,
            M::HardLinks,
            M::NotRegular,
        ]
    }

    fn hangul(s: &str) -> bool {
        s.chars().any(|c| ('\u{ac00}'..='\u{d7a3}').contains(&c))
    }

    /// The longest run of English words (letters only, three or more, outside backticks
    /// and the message's own values) in `ko`: an untranslated sentence shows up as one.
    fn english_run(ko: &str, values: &[String]) -> usize {
        let mut rest = ko.to_string();
        for v in values {
            rest = rest.replace(v.as_str(), " ");
        }
        let unquoted: String = rest.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        let (mut run, mut longest) = (0, 0);
        for word in unquoted.split(|c: char| c.is_whitespace() || ",.;:()".contains(c)).filter(|w| !w.is_empty()) {
            let english = word.len() >= 3 && word.chars().all(|c| c.is_ascii_lowercase());
            run = if english { run + 1 } else { 0 };
            longest = longest.max(run);
        }
        longest
    }

    #[test]
    fn every_message_renders_in_korean_not_english() {
        for m in every() {
            let (en, ko) = (msg(Lang::En, &m), msg(Lang::Ko, &m));
            assert_ne!(en, ko, "{m:?}: the Korean is the English");
            assert!(hangul(&ko), "{m:?}: no Hangul in {ko:?}");
            // The values a variant carries are shown as they are (names, numbers, OS text).
            let values: Vec<String> = m
                .parts()
                .1
                .into_iter()
                .filter_map(|a| match a {
                    crate::msg::Arg::Text(t) => Some(t),
                    _ => None,
                })
                .filter(|t| !t.is_empty())
                .collect();
            assert!(english_run(&ko, &values) < 3, "{m:?}: an English sentence in {ko:?}");
        }
    }

    #[test]
    fn every_text_is_used_and_keys_are_unique() {
        let used: Vec<&str> = every().iter().map(|m| m.parts().0).collect();
        for (i, (key, en, ko)) in TEXTS.iter().enumerate() {
            assert!(used.contains(key), "{key}: no variant in every() uses it");
            assert!(!TEXTS[i + 1..].iter().any(|(k, _, _)| k == key), "{key} twice");
            assert!(
                !crate::i18n::CATALOG.iter().any(|(k, _, _)| k == key),
                "{key} is also a catalog key: `t` would find the catalog's"
            );
            let holes = |s: &str| (0..6).filter(|n| s.contains(&format!("{{{n}}}"))).collect::<Vec<_>>();
            assert_eq!(holes(en), holes(ko), "{key}: the two languages take different values");
        }
        for key in used {
            assert!(TEXTS.iter().any(|(k, _, _)| *k == key), "{key}: no texts");
        }
    }

    #[test]
    fn english_is_what_the_code_said_before() {
        assert_eq!(M::ExitStatus(1).to_string(), "exit status 1");
        assert_eq!(msg(Lang::Ko, &M::ExitStatus(1)), "종료 상태 1");
        assert_eq!(
            M::Failed { call: "unshare".into(), errno: libc::EPERM }.to_string(),
            "unshare failed: Operation not permitted (EPERM)"
        );
        assert_eq!(
            msg(Lang::Ko, &M::HostNamespace { what: "mount".into(), ns: "mnt".into() }),
            "호스트의 mnt 네임스페이스에서는 mount 작업을 거부합니다 (호스트가 바뀝니다). 먼저 `unshare mnt` 액션을 실행하세요"
        );
        assert_eq!(
            msg(Lang::Ko, &M::MountTargetMissing("/x".into())),
            "여기에는 /x 경로가 없습니다. 먼저 mkdir로 만드세요"
        );
        let summary =
            M::CopySummary { files: 6, dirs: 10, symlinks: 2, bytes: "18 B".into(), skipped: 1, mount_points: 0 };
        assert_eq!(summary.to_string(), "6 files, 10 dirs, 2 symlinks, 18 B; skipped 1 device nodes/fifos/sockets");
        assert_eq!(
            msg(
                Lang::Ko,
                &M::ClassOffline(Box::new(M::ClassUnreachable { url: "http://h".into(), why: "refused".into() }))
            ),
            "수업: http://h의 수업 서버가 응답하지 않습니다 (refused). 진행 상황은 보관했다가 서버가 돌아오면 보냅니다"
        );
    }

    #[test]
    fn messages_cross_the_wire() {
        for m in every() {
            let back: Msg = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            assert_eq!(back, m);
        }
    }

    #[test]
    fn os_errors() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_error(Lang::Ko, &e), "파일이나 디렉터리가 없습니다 (os error 2)");
        assert_eq!(io_error(Lang::En, &e), e.to_string());
        let own = std::io::Error::new(std::io::ErrorKind::PermissionDenied, M::Symlink);
        assert_eq!(io_error(Lang::Ko, &own), "심볼릭 링크입니다");
        assert_eq!(io_error(Lang::En, &own), "is a symbolic link");
    }
}
