//! The undo lines of `try` and the guard, in English, translated where they are shown
//! by matching the English. What is left of the old table of machine texts: notes and
//! errors are typed (`crate::msg`) now, and these lines become a typed `HostChange`
//! (hostguard) next, which deletes this file.

use crate::lesson::Lang;

/// (English, Korean); `{0}`, `{1}` match any text in the English and are put back in the Korean.
pub const MACHINE: &[(&str, &str)] = &[
    // `try`: what the student's shell changed on the host, put back (undo.rs).
    (
        "the host's hostname was changed to {0}; put back to {1} — make a UTS namespace first (`unshare -u`)",
        "호스트의 호스트 이름이 {0}(으)로 바뀌었습니다. {1}(으)로 되돌렸습니다 — 먼저 UTS 네임스페이스를 만드세요 (`unshare -u`)",
    ),
    (
        "the host's hostname was changed to {0} and could not be put back — make a UTS namespace first (`unshare -u`)",
        "호스트의 호스트 이름이 {0}(으)로 바뀌었고 되돌리지 못했습니다 — 먼저 UTS 네임스페이스를 만드세요 (`unshare -u`)",
    ),
    (
        "{0} was mounted on the host; unmounted — make a mount namespace first (`unshare -m`)",
        "{0} 경로가 호스트에 마운트되었습니다. 마운트를 해제했습니다 — 먼저 마운트 네임스페이스를 만드세요 (`unshare -m`)",
    ),
    (
        "{0} was mounted on the host and could not be unmounted — make a mount namespace first (`unshare -m`)",
        "{0} 경로가 호스트에 마운트되었고 해제하지 못했습니다 — 먼저 마운트 네임스페이스를 만드세요 (`unshare -m`)",
    ),
    (
        "a message queue (key {0}) was made on the host; removed — make an IPC namespace first (`unshare -i`)",
        "호스트에 메시지 큐(key {0})가 만들어졌습니다. 지웠습니다 — 먼저 IPC 네임스페이스를 만드세요 (`unshare -i`)",
    ),
    (
        "a message queue (key {0}) was made on the host and could not be removed — make an IPC namespace first (`unshare -i`)",
        "호스트에 메시지 큐(key {0})가 만들어졌고 지우지 못했습니다 — 먼저 IPC 네임스페이스를 만드세요 (`unshare -i`)",
    ),
    (
        "the interface {0} was made on the host; deleted — make it inside terminal #1's network namespace",
        "호스트에 인터페이스 {0}이(가) 만들어졌습니다. 지웠습니다 — 터미널 #1의 네트워크 네임스페이스 안에서 만드세요",
    ),
    (
        "the interface {0} was made on the host and could not be deleted — make it inside terminal #1's network namespace",
        "호스트에 인터페이스 {0}이(가) 만들어졌고 지우지 못했습니다 — 터미널 #1의 네트워크 네임스페이스 안에서 만드세요",
    ),
    (
        "the named network namespace {0} was left on the host; removed (`ip netns delete` removes it)",
        "이름이 붙은 네트워크 네임스페이스 {0}이(가) 호스트에 남아 있었습니다. 지웠습니다 (`ip netns delete`로 지울 수 있습니다)",
    ),
    (
        "the named network namespace {0} was left on the host and could not be removed (`ip netns delete` removes it)",
        "이름이 붙은 네트워크 네임스페이스 {0}이(가) 호스트에 남아 있었고 지우지 못했습니다 (`ip netns delete`로 지울 수 있습니다)",
    ),
    (
        "the cgroup {0} was left on the host; removed — nsdojo makes the lesson's group itself",
        "cgroup {0}이(가) 호스트에 남아 있었습니다. 지웠습니다 — 레슨의 그룹은 nsdojo가 직접 만듭니다",
    ),
    (
        "the {0} controller was enabled in {1}; disabled again — nsdojo enables it for the lesson's group itself",
        "{1}에서 {0} 컨트롤러가 켜져 있었습니다. 다시 껐습니다 — 레슨의 그룹에는 nsdojo가 직접 켭니다",
    ),
    (
        "the {0} controller was enabled in {1} and could not be disabled ({2})",
        "{1}에서 {0} 컨트롤러가 켜져 있었고 끄지 못했습니다 ({2})",
    ),
    (
        "the cgroup {0} was left on the host and could not be removed ({1})",
        "cgroup {0}이(가) 호스트에 남아 있었고 지우지 못했습니다 ({1})",
    ),
    (
        "a process the try shell left running ({0} {1}) was stopped — it would have kept running on the host",
        "try 셸이 실행해 둔 프로세스({0} {1})를 멈췄습니다 — 그대로 두면 호스트에서 계속 돌았을 것입니다",
    ),
    ("process {0} of the try shell stopped", "try 셸의 프로세스 {0}을(를) 멈췄습니다"),
    (
        "not undone: {0} (a try began {1} min ago; others may have changed the host since)",
        "되돌리지 않음: {0} (try가 {1}분 전에 시작되어, 그 사이 다른 누군가가 호스트를 바꿨을 수 있습니다)",
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
        let en = "the interface veth9 was made on the host; deleted — make it inside terminal #1's network namespace";
        assert_eq!(
            machine_text(Lang::Ko, en),
            "호스트에 인터페이스 veth9이(가) 만들어졌습니다. 지웠습니다 — 터미널 #1의 네트워크 네임스페이스 안에서 만드세요"
        );
        assert_eq!(machine_text(Lang::En, en), en);
        assert_eq!(machine_text(Lang::Ko, "something new"), "something new");
    }
}
