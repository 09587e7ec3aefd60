//! The rootfs of a session: prepared once, on first need (a lesson with
//! `rootfs = true`), from what the command line chose.

use std::path::PathBuf;

use super::{default_cache_dir, prepare, Rootfs, RootfsError, Source};

pub struct Provider {
    pub source: Source,
    ready: Option<Rootfs>,
}

impl Provider {
    pub fn new(source: Source) -> Provider {
        Provider { source, ready: None }
    }

    /// The prepared tree (built or unpacked on first call, then reused).
    pub fn get(&mut self) -> Result<&Rootfs, RootfsError> {
        if self.ready.is_none() {
            self.ready = Some(prepare(&self.source, &default_cache_dir())?);
        }
        Ok(self.ready.as_ref().expect("just set"))
    }

    pub fn path(&mut self) -> Result<PathBuf, RootfsError> {
        Ok(self.get()?.path.clone())
    }

    /// One line for the banner and `doctor`.
    pub fn describe(&mut self, lang: crate::lesson::Lang) -> String {
        use crate::i18n::{t, tf};
        match self.get() {
            Ok(r) => {
                let how = match r.built_in {
                    Some(d) => tf(lang, "rootfs_built_in", &[&format!("{:.1}", d.as_secs_f64() * 1000.0)]),
                    None => t(lang, "rootfs_cached").to_string(),
                };
                tf(lang, "rootfs_describe", &[&r.origin.localized(lang), &r.files, &(r.bytes / 1024), &how])
            }
            Err(e) => tf(lang, "rootfs_unavailable", &[&e.localized(lang)]),
        }
    }
}
