#!/bin/sh
# Runs inside the test VM (scripts/vm-test.sh). Proves that payload.sh's propagation check can
# fail: with NSDOJO_DEBUG_KEEP_PROPAGATION=1 nsdojo leaves `/` shared after unshare(CLONE_NEWNS),
# so on this kernel (`/` rshared) the mnt lesson's tmpfs appears in the init mount namespace.
# The lesson's own umount then propagates too, so the table after the run equals the one before:
# only the watch during the run can see the leak. Then a broken v2 path: with
# NSDOJO_DEBUG_BREAK_CPU_MAX=1 nsdojo writes cpu.max with quota and period swapped, and the
# cgroup-cpu lesson's 30 % check must fail. Exits 0 only if both were detected.
set -u
# shellcheck source=tests/kernel/lib.sh
. "$(dirname "$0")/lib.sh"

echo "== propagation of /: $(grep ' / / ' /proc/self/mountinfo)"
tmp=$(mktemp -d /root/payload.XXXXXX)
mount_snapshot /proc/1/mountinfo >"$tmp/before"
echo "== NSDOJO_DEBUG_KEEP_PROPAGATION=1 nsdojo run mnt --check (expected to leak)"
NSDOJO_DEBUG_KEEP_PROPAGATION=1 mountwatch "$tmp/watch" /proc/1/mountinfo -- nsdojo run mnt --check
echo "== nsdojo exited $? (its own checks)"
mount_snapshot /proc/1/mountinfo >"$tmp/after"
during=$(watch_changes "$tmp/before" "$tmp/watch")
after=$(mount_changes "$tmp/before" "$tmp/after")
echo "== init mount namespace: $(watch_count "$tmp/watch") change(s) during the run"
echo "== before/after snapshot alone: ${after:-no difference}"
if [ -z "$during" ]; then
  echo "payload-must-fail: FAIL: the propagation check did not see the leak"
  exit 1
fi
echo "payload-must-fail: OK: the propagation check caught the leak: $(echo "$during" | tr '\n' ';')"

echo "== NSDOJO_DEBUG_BREAK_CPU_MAX=1 nsdojo run cgroup-cpu --check (expected to fail)"
out=$(NSDOJO_DEBUG_BREAK_CPU_MAX=1 nsdojo --no-color run cgroup-cpu --check 2>&1)
rc=$?
echo "$out" | grep -E 'cpu.max|average|✘' | sed 's/^/   /'
if [ "$rc" -eq 1 ] && echo "$out" | grep -q '✘ step.cpu <= 35'; then
  echo "payload-must-fail: OK: the broken cpu.max was caught by the 30 % check"
  exit 0
fi
echo "payload-must-fail: FAIL: a swapped cpu.max passed the lesson (exit $rc)"
exit 1
