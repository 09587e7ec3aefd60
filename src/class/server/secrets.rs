//! The join code (what students type) and the instructor's token (what opens the dashboard),
//! kept in the state file so a restarted server keeps both: the slide with the join line stays
//! right, and the projector's dashboard tab reconnects by itself.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// No 0/O, 1/I/L: a code read off a projector from the back of the room is typed right.
const ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
pub(crate) const CODE_LEN: usize = 6;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("the system's random source failed: {0}")]
    Random(getrandom::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a class state file ({source}); move it away or pick another --state")]
    Parse { path: PathBuf, source: serde_json::Error },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Secrets {
    pub(crate) code: String,
    pub(crate) token: String,
}

fn random<const N: usize>() -> Result<[u8; N], SecretsError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(SecretsError::Random)?;
    Ok(b)
}

impl Secrets {
    pub(crate) fn generate() -> Result<Secrets, SecretsError> {
        // 256 is not a multiple of 31: reject the top bytes so every letter is equally likely.
        let limit = (256 / ALPHABET.len() * ALPHABET.len()) as u8;
        let mut code = String::new();
        while code.len() < CODE_LEN {
            for b in random::<16>()? {
                if b < limit && code.len() < CODE_LEN {
                    code.push(ALPHABET[b as usize % ALPHABET.len()] as char);
                }
            }
        }
        let token = random::<16>()?.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Secrets { code, token })
    }

    /// A new class (`serve --new-class`): a new join code, so no sender still holding events
    /// of the old class (an outbox is per join code) reports into the new one; the token stays,
    /// so the instructor's dashboard link still opens.
    pub(crate) fn new_class(path: &Path) -> Result<Secrets, SecretsError> {
        let old = Secrets::load_or_create(path)?;
        let mut s = Secrets::generate()?;
        while s.code == old.code {
            s = Secrets::generate()?;
        }
        s.token = old.token;
        s.save(path)?;
        Ok(s)
    }

    /// Writes the secrets to `path` atomically (0600: the token opens the dashboard).
    fn save(&self, path: &Path) -> Result<(), SecretsError> {
        let io = |source| SecretsError::Io { path: path.to_path_buf(), source };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        }
        let tmp = path.with_extension("tmp");
        let mut f =
            std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(io)?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| io(e.into()))?;
        f.write_all(&json).and_then(|_| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The secrets in `path`, or new ones written there (0600: the token opens the dashboard).
    pub(crate) fn load_or_create(path: &Path) -> Result<Secrets, SecretsError> {
        let io = |source| SecretsError::Io { path: path.to_path_buf(), source };
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|source| SecretsError::Parse { path: path.to_path_buf(), source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let s = Secrets::generate()?;
                s.save(path)?;
                Ok(s)
            }
            Err(e) => Err(io(e)),
        }
    }
}

/// Compares a presented secret without stopping at the first differing byte, so the time a
/// wrong guess takes does not tell how much of it was right.
pub(crate) fn same(given: &str, secret: &str) -> bool {
    given.len() == secret.len() && given.bytes().zip(secret.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_letters_and_tokens_are_128_bits() {
        for _ in 0..50 {
            let s = Secrets::generate().unwrap();
            assert_eq!(s.code.len(), CODE_LEN);
            assert!(s.code.bytes().all(|b| ALPHABET.contains(&b)), "{}", s.code);
            assert!(!s.code.contains(['0', 'O', '1', 'I']));
            assert_eq!(s.token.len(), 32);
            assert!(s.token.bytes().all(|b| b.is_ascii_hexdigit()));
        }
    }

    #[test]
    fn a_restart_keeps_the_same_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/class.json");
        let a = Secrets::load_or_create(&path).unwrap();
        let b = Secrets::load_or_create(&path).unwrap();
        assert_eq!(a, b);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abd", "abc"));
        assert!(!same("ab", "abc"));
    }
}
