#!/bin/sh
# The mnt and uts lessons done by hand with util-linux, with the same observations nsdojo
# makes (namespace inodes of both sides, the mount in question on both sides, the hostname on
# both sides), for the side-by-side benchmark in bench/run.sh.
set -e
W=$(mktemp -d /tmp/lab-bench.XXXXXX)
H=$$
export W H
# mnt: terminal #1 is a shell in a new mount namespace; terminal #2 looks in with nsenter, from this script's shell ($H).
unshare -m --propagation private sh -c '
  readlink /proc/$$/ns/mnt; readlink /proc/$H/ns/mnt
  mkdir "$W/mount_ns"; mount -t tmpfs -o size=1m tmpfs "$W/mount_ns"
  findmnt "$W/mount_ns"; nsenter -t "$H" -m findmnt "$W/mount_ns" || true
  echo hello > "$W/mount_ns/inside.txt"; ls "$W/mount_ns"; nsenter -t "$H" -m ls -la "$W/mount_ns"
  umount "$W/mount_ns"; findmnt "$W/mount_ns" || true; nsenter -t "$H" -m findmnt "$W/mount_ns" || true
' >/dev/null
# uts
unshare -u sh -c '
  readlink /proc/$$/ns/uts; readlink /proc/$H/ns/uts; hostname; nsenter -t "$H" -u hostname
  hostname container-test; hostname; nsenter -t "$H" -u hostname; uname -n
' >/dev/null
rm -rf "$W"
