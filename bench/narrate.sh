#!/usr/bin/env bash
# What narration costs (issue 25): the same work untraced and in a narrated shell
# (`nsdojo attach --host`, the tracer `try` uses), side by side in one run.
#   sudo bash bench/narrate.sh [NSDOJO] >> figures.md
# Rows: the fixed cost (`true`); 1,000 fork+exec of /bin/true (every fork is followed, no call is narrated); 20 tars of
# the busybox rootfs (no taught call at all); 200 `hostname` calls in a UTS namespace of
# their own (each is an execve and a sethostname said as a line): its extra time per call is
# the most a line can lag behind its call, since the tracee waits until its line is written.
set -euo pipefail
nsdojo=${1:-target/release/nsdojo}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rootfs=$(ls -d /var/cache/nsdojo/busybox-* 2>/dev/null | head -1 || true)
[ -n "$rootfs" ] || { echo "no cached busybox rootfs: run nsdojo once" >&2; exit 2; }
forks='for i in $(seq 1000); do /bin/true; done'
tar="for i in \$(seq 20); do tar cf /dev/null -C $rootfs .; done"
names='for i in $(seq 200); do hostname h$i; done'
run() { # name, shell code
  hyperfine -N -w 2 -r 10 --export-json "$tmp/$1.json" \
    "sh -c '$2'" "$nsdojo attach --host -- sh -c '$2'" >/dev/null 2>&1
}
hyperfine -N -w 3 -r 20 --export-json "$tmp/start.json" "true" "$nsdojo attach --host -- true" >/dev/null 2>&1
run forks "$forks"
# The same on one CPU: what is left when no stop needs a wakeup on another CPU.
hyperfine -N -w 2 -r 10 --export-json "$tmp/pinned.json" \
  "taskset -c 0 sh -c '$forks'" "taskset -c 0 $nsdojo attach --host -- sh -c '$forks'" >/dev/null 2>&1
run tar "$tar"
hyperfine -N -w 2 -r 10 --export-json "$tmp/names.json" \
  "unshare -u sh -c '$names'" "$nsdojo attach --host -- unshare -u sh -c '$names'" >/dev/null 2>"$tmp/said"
python3 - "$tmp" <<'PY'
import json, statistics, sys
tmp = sys.argv[1]
print("| work | untraced (median) | narrated (median) | ratio |")
print("|---|---|---|---|")
for name, label, calls in [("start", "nothing (`true`): the fixed cost of starting a narrated shell", 0), ("forks", "1,000 × fork+exec /bin/true", 0),
                           ("pinned", "the same, everything on CPU 0 (taskset -c 0)", 0), ("tar", "20 × tar of the busybox rootfs", 0),
                           ("names", "200 × hostname (execve + sethostname said)", 200)]:
    plain, traced = [sorted(r["times"]) for r in json.load(open(f"{tmp}/{name}.json"))["results"]]
    a, b = statistics.median(plain), statistics.median(traced)
    print(f"| {label} | {a * 1000:.1f} ms | {b * 1000:.1f} ms | {b / a:.2f}× |")
    if calls:
        per = [(t - statistics.median(plain)) / calls * 1000 for t in traced]
        print(f"\nper narrated call: median {statistics.median(per):.3f} ms, worst run {max(per):.3f} ms "
              f"(the line is written before the call's process runs on)")
PY
