//! A step's lab command as the lines a student types, each with the terminal it belongs to.
//! `dojo solve`, the printed `lab command:` and `nsdojo check --solve` (which types them into
//! a real try shell and a host shell) read the same lines, so what is printed is what is
//! proved to pass.
//!
//! For now the lines come from the `shell` text: one command per line, and a line ending in
//! `# terminal #2` is typed into the second terminal (the host). Reading them here keeps that
//! convention in one place while the lesson format grows a field of its own for it.

use super::Shell;

/// Where a lab line is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Terminal {
    /// Terminal #1: the student's shell, the one `try` opens.
    One,
    /// Terminal #2: a root shell on the host.
    Two,
}

/// One line of a lab command, without its terminal marker.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LabLine {
    pub terminal: Terminal,
    pub text: String,
}

/// What marks a line as terminal #2's.
const TERMINAL_2: &str = "# terminal #2";

impl Shell {
    /// The lines for this machine's cgroup layout, in the order they are typed.
    pub fn lines(&self, cgroup_v2: bool) -> Vec<LabLine> {
        self.pick(cgroup_v2)
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.strip_suffix(TERMINAL_2) {
                Some(text) => LabLine { terminal: Terminal::Two, text: text.trim_end().to_string() },
                None => LabLine { terminal: Terminal::One, text: l.to_string() },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_marked_line_is_terminal_twos_and_loses_its_marker() {
        let s = Shell::Any("unshare -U /bin/sh\necho '0 1000 1' > /proc/$PID/uid_map   # terminal #2\n\nid -u".into());
        let lines = s.lines(false);
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], LabLine { terminal: Terminal::One, text: "unshare -U /bin/sh".into() });
        assert_eq!(lines[1], LabLine { terminal: Terminal::Two, text: "echo '0 1000 1' > /proc/$PID/uid_map".into() });
        assert_eq!(lines[2].terminal, Terminal::One);
    }
}
