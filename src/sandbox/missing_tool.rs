//! A lesson's command that fails because a host tool is not installed (exit 127, "ip: not
//! found") says which package to install, instead of leaving the student with failed checks
//! and an exit status. `doctor` lists the same tools, so the table is the one place that
//! knows where each comes from.

use super::ShellOutput;
use crate::msg::Msg;

/// The programs the lessons' `sh`/`host sh` lines and printed lab commands run on the host,
/// with the Debian/Ubuntu package that installs each (`scripts/provision.sh` installs these).
pub const HOST_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("nsenter", "util-linux"),
    ("unshare", "util-linux"),
    ("lsns", "util-linux"),
    ("setpriv", "util-linux"),
    ("ipcmk", "util-linux"),
    ("ps", "procps"),
    ("pkill", "procps"),
    ("curl", "curl"),
    ("stress", "stress"),
    ("busybox", "busybox-static"),
];

/// The known tool a command could not find, with its package: exit status 127 (the shell's
/// "command not found", or `nsenter`'s failed exec), and the tool named in stderr the way
/// dash, bash, busybox and util-linux name it.
pub fn missing_tool(out: &ShellOutput) -> Option<(&'static str, &'static str)> {
    if out.status != 127 || out.timed_out {
        return None;
    }
    HOST_TOOLS.iter().copied().find(|(tool, _)| names_missing(&out.stderr, tool))
}

/// Whether `stderr` says `tool` was not found: `ip: not found` (dash, busybox), `ip: command
/// not found` (bash), `failed to execute ip:` (util-linux), with `/sbin/ip` for `ip` and not
/// `zip` for `ip`.
fn names_missing(stderr: &str, tool: &str) -> bool {
    stderr.lines().any(|line| {
        let said = [format!("{tool}: not found"), format!("{tool}: command not found"), format!("execute {tool}:")];
        said.iter().any(|s| {
            line.match_indices(s.as_str()).any(|(at, m)| {
                let word_start = m.find(tool).map_or(at, |i| at + i);
                word_start == 0 || matches!(line.as_bytes()[word_start - 1], b' ' | b'/')
            })
        })
    })
}

/// The typed message for a missing tool, for the step's stop reason and the trace's note.
pub fn missing_tool_msg(out: &ShellOutput) -> Option<Msg> {
    missing_tool(out).map(|(tool, package)| Msg::MissingTool { tool: tool.into(), package: package.into() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(status: i32, stderr: &str) -> ShellOutput {
        ShellOutput { status, stderr: stderr.into(), ..Default::default() }
    }

    #[test]
    fn each_shell_s_words_for_a_missing_tool_name_its_package() {
        for stderr in ["sh: 1: ip: not found\n", "bash: ip: command not found\n", "sh: /sbin/ip: not found\n"] {
            assert_eq!(missing_tool(&failed(127, stderr)), Some(("ip", "iproute2")), "{stderr}");
        }
        let nsenter = "nsenter: failed to execute lsns: No such file or directory\n";
        assert_eq!(missing_tool(&failed(127, nsenter)), Some(("lsns", "util-linux")));
    }

    #[test]
    fn another_status_or_an_unknown_or_longer_name_is_not_a_missing_tool() {
        assert_eq!(missing_tool(&failed(1, "sh: 1: ip: not found")), None);
        assert_eq!(missing_tool(&failed(127, "sh: 1: zip: not found")), None);
        assert_eq!(missing_tool(&failed(127, "sh: 1: frobnicate: not found")), None);
        let timed_out = ShellOutput { timed_out: true, ..failed(127, "sh: 1: ip: not found") };
        assert_eq!(missing_tool(&timed_out), None);
    }

    #[test]
    fn the_message_names_tool_and_package_in_both_languages() {
        let m = missing_tool_msg(&failed(127, "sh: 1: nsenter: not found")).expect("a message");
        assert_eq!(m, Msg::MissingTool { tool: "nsenter".into(), package: "util-linux".into() });
        let (en, ko) = (crate::i18n::msg(crate::lesson::Lang::En, &m), crate::i18n::msg(crate::lesson::Lang::Ko, &m));
        assert!(en.contains("`nsenter`") && en.contains("apt-get install util-linux"), "{en}");
        assert!(ko.contains("`nsenter`") && ko.contains("util-linux") && ko.contains("패키지"), "{ko}");
    }
}
