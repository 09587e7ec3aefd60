//! nsdojo: "containers without Docker" as an interactive lab.
//!
//! See ARCHITECTURE.md for the picture: the host process (this crate's
//! `repl`, `lab`, `render`) drives a sandbox agent (`sandbox`) through
//! lessons (`lesson`, pure data) and observes both sides with the same code
//! (`observe`). `hostguard` keeps the host as it was.

pub mod bench;
pub mod cgroup;
pub mod class;
pub mod doctor;
pub mod hostguard;
pub mod i18n;
pub mod lab;
pub mod lesson;
pub mod machine;
pub mod msg;
pub(crate) mod narrate;
pub(crate) mod netlink;
pub mod observe;
pub(crate) mod process;
pub(crate) mod progress;
pub mod render;
pub mod repl;
pub mod rootfs;
pub mod sandbox;
pub mod suggest;
pub(crate) mod trace;
pub(crate) mod userfile;

#[cfg(test)]
mod layering;
