#!/usr/bin/env bash
# Benchmarks (issue 8): nsdojo side by side with util-linux, in one run, ratios from the same
# run. Writes BENCHMARKS.md (figures, the commands that reproduce them, the machine).
# Usage: sudo env "PATH=$PATH" bash bench/run.sh        (NSDOJO_BENCH_QUICK=1 for fewer runs;
#        NSDOJO_BENCH_BASE=OLD_BINARY adds an A/B of that build against this one, bench/ab.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "bench/run.sh: needs root (namespaces, mounts, cgroups)" >&2; exit 2; }
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
command -v busybox >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; }
cargo build --release --locked -q
N=$PWD/target/release/nsdojo
Q=${NSDOJO_BENCH_QUICK:-0}
runs() { if [ "$Q" = 1 ]; then echo "$2"; else echo "$1"; fi; }
tmp=$(mktemp -d)
trap 'if [ -n "${target:-}" ]; then kill "$target" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
md=$tmp/figures.md
h() { printf '\n## %s\n\n' "$1" >>"$md"; }
# hyperfine's JSON → "median ms (min–max)" per command, plus the ratio of the first to the second.
summary() {
  python3 - "$1" <<'PY' >>"$md"
import json, statistics, sys
r = json.load(open(sys.argv[1]))["results"]
rows = []
for x in r:
    t = sorted(x["times"]); med = statistics.median(t) * 1000
    rows.append((x["command"], med, t[0] * 1000, t[-1] * 1000, len(t)))
print("| command | median | min–max | runs |\n|---|---|---|---|")
for c, m, lo, hi, n in rows:
    print(f"| `{c}` | {m:.2f} ms | {lo:.2f}–{hi:.2f} ms | {n} |")
if len(rows) == 2:
    print(f"\nratio: `{rows[1][0]}` / `{rows[0][0]}` = **{rows[1][1] / rows[0][1]:.1f}×**")
PY
}

# 1. The namespace view of one process.
unshare -m -u -i -n sleep 600 & target=$!
sleep 0.2
h "1. Namespace view of one process: nsdojo ns vs lsns -p (target: nsdojo ≥ 10× faster)"
hyperfine -N -w 10 -r "$(runs 300 50)" --export-json "$tmp/b1.json" "$N ns $target" "lsns -p $target" >/dev/null
summary "$tmp/b1.json"
echo '`hyperfine -N -w 10 -r 300 "nsdojo ns PID" "lsns -p PID"` (PID: a `sleep` in new mnt, uts, ipc, net namespaces)' >>"$md"
kill "$target"; target=

# 2. One step over its own syscalls.
h "2. One step's overhead over its own syscalls (target: ≤ 1 ms)"
echo '```text' >>"$md"
"$N" bench step -n "$(runs 300 40)" >>"$md"
echo '```' >>"$md"
echo 'The step: `unshare mnt`, `mkdir`, `mount tmpfs`, with before/after snapshots of both sides, three checks and the rendered tables. `nsdojo bench step -n 300`.' >>"$md"

# 3. A whole lesson vs the same lab as a util-linux script.
h "3. The mnt and uts lessons: nsdojo run vs the same lab as util-linux commands (target: ≥ 5× faster)"
hyperfine -w 2 -r "$(runs 30 5)" --export-json "$tmp/b3.json" "$N run mnt uts" "sh bench/lab-mnt-uts.sh" >/dev/null
summary "$tmp/b3.json"
echo '`hyperfine -w 2 -r 30 "nsdojo run mnt uts" "sh bench/lab-mnt-uts.sh"` — the script makes the same observations (namespace inodes, the mount and the hostname, each from both sides, with nsenter/findmnt/readlink).' >>"$md"

# 4. The whole curriculum minus the burn windows (fixed by the lessons: `burn Ns` in a `do` line).
burns=$(( $(grep -ho '"burn [0-9]*s' lessons/*.toml | grep -o '[0-9]*' | paste -sd+) ))
h "4. The whole curriculum, run --all --check, minus the ${burns} s of burn windows (target: ≤ 1 s)"
hyperfine -i -r "$(runs 5 2)" --export-json "$tmp/b4.json" "$N run --all --check" >/dev/null
python3 - "$tmp/b4.json" "$burns" <<'PY' >>"$md"
import json, statistics, sys
t = sorted(json.load(open(sys.argv[1]))["results"][0]["times"])
m = statistics.median(t)
burns = int(sys.argv[2])
print(f"`nsdojo run --all --check`: median {m:.2f} s (min {t[0]:.2f}, max {t[-1]:.2f}); minus the lessons' fixed burn windows ({burns} s, every `burn Ns`): **{m - burns:.2f} s**")
PY

# 5. Startup, memory, size.
h "5. Startup to prompt, peak RSS, binary size (targets: ≤ 20 ms, ≤ 15 MB)"
hyperfine -w 5 -r "$(runs 50 10)" --export-json "$tmp/b5.json" "NSDOJO_HISTORY=$tmp/h $N </dev/null" >/dev/null
summary "$tmp/b5.json"
echo 'The REPL started with stdin at end of file: banner, rootfs check, session record, watchdog, prompt, then quit — startup to prompt and back.' >>"$md"
python3 - "$N" "$tmp" <<'PY' >>"$md"
import resource, subprocess, sys, os
n, tmp = sys.argv[1], sys.argv[2]
def peak(args, **kw):
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
repl = peak([n], stdin=subprocess.DEVNULL, env=dict(os.environ, NSDOJO_HISTORY=tmp + '/h'))
# Lessons without cgroup-memory, whose child deliberately allocates 64 MiB (counted as a child).
lessons = peak([n, 'run', 'chroot', 'escape', 'pivot_root', 'mnt', 'uts', 'ipc', 'pid', 'net', 'user', 'cgroupns'])
print(f"\npeak RSS (ru_maxrss, MiB): REPL start {repl:.1f}; `run` of the ten namespace lessons {lessons:.1f} "
      "(cgroup-memory is left out: its child allocates 64 MiB on purpose)")
print(f"\nbinary size: {os.path.getsize(n) / 1e6:.2f} MB (release, thin LTO)")
PY

# 6. Rootfs build and copy vs cp -a.
h "6. Rootfs build, and copying it into a tmpfs vs cp -a (targets: busybox build ≤ 20 ms, copy ≤ 2× cp -a)"
echo '```text' >>"$md"
echo "# on tmpfs (/dev/shm)" >>"$md"
NSDOJO_BENCH_DIR=/dev/shm "$N" bench rootfs -n "$(runs 30 5)" >>"$md"
echo "# on the disk (/var/tmp)" >>"$md"
NSDOJO_BENCH_DIR=/var/tmp "$N" bench rootfs -n "$(runs 30 5)" >>"$md"
echo '```' >>"$md"
echo '`NSDOJO_BENCH_DIR=/dev/shm nsdojo bench rootfs -n 30` (a fresh cache each run; `cp -a` of the same tree, spawned, in the same loop).' >>"$md"

# 7. Meter accuracy: an independent sampler of the burner's /proc/PID/stat.
h "7. CPU meter vs an independent sampler (target: within ±2 points)"
python3 - "$N" <<'PY' >>"$md"
import os, re, subprocess, sys, time
n = sys.argv[1]
clk = os.sysconf("SC_CLK_TCK")
def comm(p):
    return open(f"/proc/{p}/comm").read().strip()
def burner():  # nsdojo's own loop, or the worker of `stress -c 1` (a stress whose parent is stress)
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                s = open(f"/proc/{p}/stat").read(); ppid = s[s.rfind(")") + 2:].split()[1]
                if comm(p) == "nsdojo-burner" or (comm(p) == "stress" and comm(ppid) == "stress"): return int(p)
            except (OSError, IndexError): pass
def ticks(p):
    s = open(f"/proc/{p}/stat").read(); f = s[s.rfind(")") + 2:].split()
    return int(f[11]) + int(f[12])
print("| run | meter unlimited | sampler | meter at 30 % | sampler |\n|---|---|---|---|---|")
worst = 0
for run in range(3):
    proc = subprocess.Popen([n, "--no-color", "run", "cgroup-cpu"], stdout=subprocess.PIPE, text=True)
    ours, cur = [], None
    while proc.poll() is None:
        p = burner()
        try:
            if p and cur and p == cur[0]: cur = (p, cur[1], cur[2], time.monotonic(), ticks(p))
            elif p: 
                if cur: ours.append((cur[4] - cur[2]) / clk / (cur[3] - cur[1]) * 100)
                cur = (p, time.monotonic(), ticks(p), time.monotonic(), ticks(p))
            elif cur:
                ours.append((cur[4] - cur[2]) / clk / (cur[3] - cur[1]) * 100); cur = None
        except (OSError, ZeroDivisionError): pass
        time.sleep(0.02)
    if cur:  # the last burner ends just before nsdojo exits
        ours.append((cur[4] - cur[2]) / clk / (cur[3] - cur[1]) * 100)
    out = proc.stdout.read()
    meter = [float(x) for x in re.findall(r"average ([\d.]+)% CPU", out)]
    if len(meter) == 2 and len(ours) == 2:
        worst = max(worst, abs(meter[0] - ours[0]), abs(meter[1] - ours[1]))
        print(f"| {run + 1} | {meter[0]:.1f} % | {ours[0]:.1f} % | {meter[1]:.1f} % | {ours[1]:.1f} % |")
print(f"\nlargest difference: **{worst:.1f} points**")
PY

# 8. An A/B against an older build, in this same run (NSDOJO_BENCH_BASE=/path/to/old/nsdojo).
if [ -n "${NSDOJO_BENCH_BASE:-}" ]; then
  h "A/B: $(basename "$NSDOJO_BENCH_BASE") (old) against this build (new), side by side"
  echo "Each pair measured in the same minute (\`sudo bash bench/ab.sh OLD NEW\`); old is \`$("$NSDOJO_BENCH_BASE" --version)\`." >>"$md"
  echo >>"$md"
  bash bench/ab.sh "$NSDOJO_BENCH_BASE" "$N" >>"$md"
fi

host=$(uname -r); cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); cores=$(nproc)
mem=$(free -g | awk '/Mem:/ {print $2}'); load=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "# Benchmarks"
  echo
  cat bench/summary.md
  echo
  echo "## The run"
  echo
  echo "Generated by \`sudo env \"PATH=\$PATH\" bash bench/run.sh\` on $(date -u +%Y-%m-%d): Linux $host, $cpu, $cores cores, ${mem} GiB,"
  echo "$(host_layout=$("$N" doctor | grep -E '^cgroups' | cut -d: -f2-); echo "cgroups:$host_layout"), load average $load after the run."
  echo "Machines are noisy: compare the ratios measured in the same run, not absolute times across runs."
  echo "Each section says the command that reproduces it. Targets come from issue 8."
  cat "$md"
  # The class server's figures come from scripts/bench-class.sh (no root), kept as written.
  cat bench/class.md
} >BENCHMARKS.md
echo "bench/run.sh: wrote BENCHMARKS.md"
