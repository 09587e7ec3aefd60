#!/usr/bin/env bash
# The classroom load benchmark (issue 19), no root needed: `nsdojo serve` on loopback and 300
# simulated students, each sending 2 events/s for 60 s from an address of its own (127.0.x.y),
# plus one dashboard reading the live stream. Prints p50/p99 event-to-dashboard latency, events
# lost, the server's CPU time (/proc/PID/stat utime+stime) and peak RSS (VmHWM).
# Usage: bash scripts/bench-class.sh [STUDENTS [SECONDS]]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked -q
# Each student keeps one connection; the dashboard, the server and the harness need a few more.
ulimit -n "$(( $(ulimit -Hn) < 4096 ? $(ulimit -Hn) : 4096 ))"
exec ./target/release/nsdojo bench class --students "${1:-300}" --seconds "${2:-60}"
