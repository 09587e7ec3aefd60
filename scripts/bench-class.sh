#!/usr/bin/env bash
# The classroom load benchmark (issue 19), no root needed: `nsdojo serve` on loopback and 300
# simulated students, each sending 2 events/s for 60 s from an address of its own (127.0.x.y),
# plus one dashboard reading the live stream, and (issue 27) one hostile laptop at 127.0.0.1
# holding 1,500 half-sent requests (reopened as the server closes them) against a server at
# 1,024 descriptors (prlimit), with a probe timing /api/class from 127.0.200.1 meanwhile.
# Prints p50/p99 event-to-dashboard latency, events lost, the server's CPU time (/proc/PID/stat
# utime+stime) and peak RSS (VmHWM), what the server held of the flood and what the probe saw.
# Usage: bash scripts/bench-class.sh [STUDENTS [SECONDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
# Each student keeps one connection, the flood 1,500; the dashboard and the harness a few more.
ulimit -n "$(( $(ulimit -Hn) < 4096 ? $(ulimit -Hn) : 4096 ))"
exec ./target/release/nsdojo bench class --students "${1:-300}" --seconds "${2:-60}"
