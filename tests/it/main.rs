//! Integration tests: they run the built `nsdojo` binary (never fork from
//! this multithreaded harness), as root, and compare the host before and
//! after. As a normal user they report a skip with the reason; with
//! NSDOJO_REQUIRE_ROOT=1 (CI) a skip is a failure.

mod harness;

mod adversarial;
mod bad_input;
mod cgroup;
mod chaos;
mod class;
mod docs;
mod escape_tool;
mod fuzz_corpus;
mod guard;
mod korean;
mod lessons;
mod malformed;
mod narrate;
mod provision;
mod repl;
mod rootfs;
mod run;
mod solve;
mod try_step;
mod vagrant;
mod workshop;
