#!/usr/bin/env bash
# An A/B of two nsdojo builds in one run (issue 26): startup to prompt, `ns` beside `lsns -p`,
# the first step of a fresh sandbox, and the whole curriculum — the old build and the new one
# side by side, each pair in the same minute, so the machine's drift cancels out.
#   sudo bash bench/ab.sh OLD NEW >> figures.md      (bench/run.sh calls it with NSDOJO_BENCH_BASE)
set -euo pipefail
if [ $# -ne 2 ] || [ ! -x "$1" ] || [ ! -x "$2" ]; then
  echo "usage: bench/ab.sh OLD_NSDOJO NEW_NSDOJO" >&2
  exit 2
fi
old=$1 new=$2
tmp=$(mktemp -d)
trap 'if [ -n "${target:-}" ]; then kill "$target" 2>/dev/null || true; fi; rm -rf "$tmp"' EXIT
med() { # hyperfine JSON → one table row per command: median, min–max
  python3 - "$1" <<'PY'
import json, statistics, sys
for x in json.load(open(sys.argv[1]))["results"]:
    t = sorted(x["times"])
    print(f"| `{x['command']}` | {statistics.median(t) * 1000:.2f} ms | {t[0] * 1000:.2f}–{t[-1] * 1000:.2f} ms | {len(t)} |")
PY
}
echo "| command | median | min–max | runs |"
echo "|---|---|---|---|"
hyperfine -N -w 5 -r 40 --export-json "$tmp/start.json" \
  "env NSDOJO_HISTORY=$tmp/h $old" "env NSDOJO_HISTORY=$tmp/h $new" </dev/null >/dev/null
med "$tmp/start.json"
unshare -m -u -i -n sleep 600 & target=$!
sleep 0.2
hyperfine -N -w 10 -r 200 --export-json "$tmp/ns.json" "$old ns $target" "$new ns $target" "lsns -p $target" /bin/true >/dev/null
med "$tmp/ns.json"
kill "$target"; target=
burns=$(( $(grep -ho '"burn [0-9]*s' lessons/*.toml | grep -o '[0-9]*' | paste -sd+) ))
hyperfine -i -r 3 --export-json "$tmp/all.json" "$old run --all --check" "$new run --all --check" >/dev/null
python3 - "$tmp/start.json" "$tmp/ns.json" "$tmp/all.json" "$burns" <<'PY'
import json, statistics, sys
m = lambda f: [statistics.median(x["times"]) for x in json.load(open(f))["results"]]
start, ns, alls, burns = m(sys.argv[1]), m(sys.argv[2]), m(sys.argv[3]), int(sys.argv[4])
print()
print(f"- startup to prompt and back: old {start[0]*1000:.2f} ms, new {start[1]*1000:.2f} ms")
print(f"- `ns` against `lsns -p`: old **{ns[2]/ns[0]:.1f}×**, new **{ns[2]/ns[1]:.1f}×** "
      f"(`/bin/true`, a process that does nothing: {ns[2]/ns[3]:.1f}×)")
print(f"- curriculum minus its {burns} s of burn windows: old {alls[0]-burns:.2f} s, new **{alls[1]-burns:.2f} s**")
PY
echo
echo '```text'
for b in "$old" "$new"; do
  echo "# $b bench step -n 200"
  "$b" bench step -n 200 | grep -iE 'first|later' || true
done
echo '```'
