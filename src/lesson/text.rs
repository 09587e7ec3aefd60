//! Texts in two languages.
//!
//! Workshops run in Korean or English. Every lesson text carries `en` and
//! may carry `ko`; a missing translation falls back to English *visibly*
//! (prefixed with `[en]`) so an instructor notices the gap instead of
//! silently projecting the wrong language.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Ko,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s.to_ascii_lowercase().as_str() {
            "en" | "english" => Some(Lang::En),
            "ko" | "kr" | "korean" | "한국어" => Some(Lang::Ko),
            _ => None,
        }
    }

    /// The language the environment asks for: LC_ALL, then LC_MESSAGES, then LANG.
    pub fn from_env() -> Lang {
        for var in ["LC_ALL", "LC_MESSAGES", "LANG"] {
            if let Ok(v) = std::env::var(var) {
                if v.is_empty() {
                    continue;
                }
                return if v.starts_with("ko") { Lang::Ko } else { Lang::En };
            }
        }
        Lang::En
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ko => "ko",
        }
    }
}

/// A text with an English original and an optional Korean translation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub en: String,
    #[serde(default)]
    pub ko: Option<String>,
}

impl Text {
    pub fn get(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en.trim_end().to_string(),
            Lang::Ko => match &self.ko {
                Some(ko) => ko.trim_end().to_string(),
                None => format!("[en] {}", self.en.trim_end()),
            },
        }
    }

    pub fn is_empty(&self) -> bool {
        self.en.trim().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn korean_falls_back_to_english_visibly() {
        let t = Text { en: "Hello".into(), ko: None };
        assert_eq!(t.get(Lang::Ko), "[en] Hello");
        let t = Text { en: "Hello".into(), ko: Some("안녕".into()) };
        assert_eq!(t.get(Lang::Ko), "안녕");
        assert_eq!(t.get(Lang::En), "Hello");
    }

    #[test]
    fn lang_parses_codes() {
        assert_eq!(Lang::parse("KO"), Some(Lang::Ko));
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("fr"), None);
    }
}
