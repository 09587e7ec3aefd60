#!/usr/bin/env bash
# The test command (README, .ci/run): install what the tests need on a fresh
# Debian/Ubuntu machine, then lint and run every test as root. A root test
# that would be skipped fails instead (NSDOJO_REQUIRE_ROOT=1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "scripts/test.sh: the tests create namespaces and mounts: run  sudo env \"PATH=\$PATH\" bash scripts/test.sh" >&2
  exit 2
fi
need=()
for pkg in busybox-static stress iproute2 util-linux procps shellcheck; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
export NSDOJO_REQUIRE_ROOT=1
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# One test at a time: the cgroup lessons measure CPU shares (an unlimited burner must get
# > 80 % of a CPU), which busy tests on other threads of the same run would disturb.
cargo test --locked -- --test-threads=1
# The second kernel: cgroup v2 only and / shared, under qemu (see tests/kernel/). It reuses the
# debug binary cargo test just built, and fails the run if a lesson fails there.
NSDOJO_VM_BIN=target/debug/nsdojo bash scripts/vm-test.sh
