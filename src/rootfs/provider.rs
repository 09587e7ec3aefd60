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
    pub fn describe(&mut self) -> String {
        match self.get() {
            Ok(r) => format!(
                "{} — {} files, {} KiB{}",
                r.origin,
                r.files,
                r.bytes / 1024,
                r.built_in
                    .map(|d| format!(", built in {:.1} ms", d.as_secs_f64() * 1000.0))
                    .unwrap_or_else(|| ", cached".into())
            ),
            Err(e) => format!("unavailable: {e}"),
        }
    }
}
