//! "Did you mean …?" for commands, actions and lesson ids.

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(&word, c), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3) && *d < c.len().max(word.len()))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn typos_and_strangers() {
        assert_eq!(nearest("nxt", &["next", "back"]), Some("next"));
        assert_eq!(nearest("lesons", &["lessons", "lesson"]), Some("lessons"));
        assert_eq!(nearest("xyzzy", &["next", "back"]), None);
    }
}
