//! The classroom: students' nsdojo sessions report their progress to one class server
//! (`nsdojo serve`, on the instructor's laptop), which shows it live on a dashboard.
//! `protocol` is all the two sides share.

pub mod protocol;
mod report;
pub mod sender;
pub mod server;

pub use sender::{ClassError, ClassLink};
