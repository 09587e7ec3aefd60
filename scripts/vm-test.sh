#!/usr/bin/env bash
# Run nsdojo on a second, real kernel: a stock Debian kernel under qemu, booted with cgroup v2
# only (cgroup_no_v1=all) and `/` rshared, as systemd machines have it. See
# /work/shared/reference/second-kernel.md for how and why.
#
#   scripts/vm-test.sh [--arch ARCH] [--layout LAYOUT] [--keep] [--timeout SECS] [-- PAYLOAD [ARG...]]
#
# PAYLOAD is a file on this machine (copied in and run) or a command that exists inside the VM
# (`nsdojo`, a busybox applet). The scripts in tests/kernel/ are copied to /payload/ inside,
# nsdojo to /bin/nsdojo, tests/kernel/mountwatch.c (built here) to /bin/mountwatch. Without a payload: tests/kernel/payload.sh, then tests/kernel/payload-must-fail.sh,
# each in a fresh VM; the stage fails if either fails.
#
#   --arch ARCH     x86_64 (default, or NSDOJO_VM_ARCH): Debian's amd64 kernel, KVM if the CPU
#                   has it, else emulated, with this machine's busybox-static, dash as /bin/sh,
#                   bash and the lessons' host tools (X86_HOST_TOOLS); aarch64: Debian's arm64
#                   kernel on qemu's `virt` board, emulated (TCG), with arm64 busybox, dash and
#                   some of the lessons' host tools (scripts/vm-aarch64.sh)
#   --layout LAYOUT v2 (default, or NSDOJO_VM_LAYOUT): cgroup v2 only, as above. bionic: Ubuntu
#                   18.04's cgroup v1 as its systemd mounts it (cpu,cpuacct co-mounted with
#                   cpu and cpuacct as symlinks, memory, pids and the others apart, name=systemd,
#                   cgroup2 on unified); `/` rshared. Not 18.04's missing swap accounting:
#                   Linux 6.1 ignores swapaccount=0 (deprecated there), so memory.memsw.* exist.
#                   x86_64 only. Without a payload, only tests/kernel/payload.sh (the must-fail
#                   run tests v2's cpu.max).
#   --keep          keep the work directory (initramfs, console logs) and print its path
#   --timeout SECS  time limit for all VM runs together (default 300, or
#                   NSDOJO_VM_TIMEOUT)
#
# Environment: NSDOJO_VM_CACHE (default /var/cache/nsdojo-vm: kernels, tools),
# NSDOJO_VM_BIN (an nsdojo binary to use instead of building target/release/nsdojo, or for
# aarch64 target/aarch64-unknown-linux-musl/release/nsdojo).
#
# Exit codes: 0 every payload passed; 1 a payload failed (its code is printed); 2 usage or
# setup error; 3 the VM did not boot or gave no exit marker (never a pass); 4 time limit.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

EXIT_PAYLOAD=1 EXIT_SETUP=2 EXIT_NOBOOT=3 EXIT_TIMEOUT=4
say() { echo "vm-test: $*" >&2; }
die() { say "$*"; exit "$EXIT_SETUP"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

keep=0
arch=${NSDOJO_VM_ARCH:-x86_64}
layout=${NSDOJO_VM_LAYOUT:-v2}
timeout_s=${NSDOJO_VM_TIMEOUT:-}
while [ $# -gt 0 ]; do
  case $1 in
    --keep) keep=1 ;;
    --arch) [ $# -ge 2 ] || die "--arch needs x86_64 or aarch64"; arch=$2; shift ;;
    --arch=*) arch=${1#--arch=} ;;
    --layout) [ $# -ge 2 ] || die "--layout needs v2 or bionic"; layout=$2; shift ;;
    --layout=*) layout=${1#--layout=} ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs a number of seconds"; timeout_s=$2; shift ;;
    --timeout=*) timeout_s=${1#--timeout=} ;;
    --) shift; break ;;
    -h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument \`$1\` (usage: scripts/vm-test.sh [--arch ARCH] [--layout LAYOUT] [--keep] [--timeout SECS] [-- PAYLOAD [ARG...]])" ;;
  esac
  shift
done
case $arch in
  x86_64) timeout_s=${timeout_s:-300} ;;
  aarch64) timeout_s=${timeout_s:-300} ;;
  *) die "--arch wants x86_64 or aarch64, not \`$arch\`" ;;
esac
case $arch:$layout in
  *:v2 | x86_64:bionic) ;;
  *:bionic) die "--layout bionic is for x86_64 only" ;;
  *) die "--layout wants v2 or bionic, not \`$layout\`" ;;
esac
# The kernel command line that makes the layout: v2 only, or v1 (its hierarchies are mounted
# by /init).
case $layout in
  v2) layout_cmdline="cgroup_no_v1=all" ;;
  bionic) layout_cmdline="vmtest_layout=bionic" ;;
esac
case $timeout_s in ''|*[!0-9]*) die "--timeout wants whole seconds, not \`$timeout_s\`" ;; esac
stage_start=$(now)

# ---------------------------------------------------------------- packages ----
# cc builds tests/kernel/mountwatch.c for the guest: a cross compiler for aarch64, linking
# statically (the guest's glibc is whatever libraries the lessons' tools need, no more).
case $arch in
  x86_64) qemu_bin=qemu-system-x86_64 qemu_pkg=qemu-system-x86 cc=gcc cc_pkgs=(gcc libc6-dev) ;;
  aarch64) qemu_bin=qemu-system-aarch64 qemu_pkg=qemu-system-arm cc=aarch64-linux-gnu-gcc cc_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
esac
# The x86_64 guest's host tools (program:package), copied from this machine (see the initramfs).
X86_HOST_TOOLS=(bash:bash dash:dash unshare:util-linux nsenter:util-linux lsns:util-linux
  setpriv:util-linux ipcmk:util-linux ipcs:util-linux ip:iproute2 stress:stress curl:curl
  pkill:procps pgrep:procps)
need=()
if [ "$arch" = x86_64 ]; then
  [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
  for pair in "${X86_HOST_TOOLS[@]}"; do
    command -v "${pair%%:*}" >/dev/null || need+=("${pair#*:}")
  done
fi
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
command -v "$cc" >/dev/null || need+=("${cc_pkgs[@]}")
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || die "missing ${need[*]}: run as root to install them, or install them yourself"
  say "installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove "${need[@]}" >/dev/null
fi
if [ "$arch" = x86_64 ]; then
  ldd /bin/busybox >/dev/null 2>&1 && die "/bin/busybox is dynamically linked: install busybox-static"
fi

# ------------------------------------------------------------------ kernel ----
# Cached: the stock kernel's vmlinuz and config, and vmlinux (the uncompressed ELF inside
# vmlinuz: qemu boots it directly via PVH, ~3 s faster under TCG than decompressing in the guest).
cache=${NSDOJO_VM_CACHE:-/var/cache/nsdojo-vm}
mkdir -p "$cache" || die "cannot create the kernel cache $cache (run as root, or set NSDOJO_VM_CACHE)"
exec 9>"$cache/.lock"
flock 9

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

# qemu: installed as usual where apt can without removing anything. Where it cannot (on this
# project's machines a qemu-utils from backports Breaks Debian's own qemu-system-common, and a
# plain `apt-get install -y` would remove it), the package is unpacked into the cache instead,
# with the libraries it links installed as usual: nothing installed here is removed.
qemu=$(command -v "$qemu_bin" || true)
qemu_opts=()
private=$cache/$qemu_pkg
if [ -z "$qemu" ] && [ ! -x "$private/usr/bin/$qemu_bin" ]; then
  [ "$(id -u)" -eq 0 ] || die "$qemu_bin is missing: run as root to install $qemu_pkg, or install it yourself"
  say "installing $qemu_pkg"
  apt-get update -qq
  if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove --no-install-recommends "$qemu_pkg" \
    >/dev/null 2>"$cache/apt.err"; then
    qemu=$(command -v "$qemu_bin") || die "$qemu_pkg installed no $qemu_bin"
  else
    say "apt-get cannot install $qemu_pkg here without removing a package ($(grep -m 1 'Breaks:\|^E:' "$cache/apt.err" | sed 's/^ *//')):"
    say "unpacking it into $private instead"
    dl=$(mktemp -d /tmp/vm-test-qemu.XXXXXX)
    chmod 755 "$dl"
    # qemu-system-common for the modules qemu loads (x86_64's TCG is one); its own libraries
    # serve the modules this script never uses (spice, audio), so they are not installed.
    (cd "$dl" && apt-get download "$qemu_pkg" qemu-system-common qemu-system-data >/dev/null 2>&1) ||
      die "apt-get download $qemu_pkg qemu-system-common qemu-system-data failed"
    libs=()
    for dep in $(dpkg-deb -f "$dl/$qemu_pkg"_*.deb Depends | sed 's/([^)]*)//g; s/|[^,]*//g' | tr ',' '\n' | tr -d ' '); do
      case $dep in qemu-*|'') ;; *) installed "$dep" || libs+=("$dep") ;; esac
    done
    if [ ${#libs[@]} -gt 0 ]; then
      say "installing what $qemu_pkg links: ${libs[*]}"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-remove --no-install-recommends "${libs[@]}" >/dev/null ||
        die "apt-get install ${libs[*]} failed"
    fi
    rm -rf "$private.tmp"
    for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$private.tmp" || die "cannot unpack $deb"; done
    rm -rf "$private" "$dl"
    mv "$private.tmp" "$private"
  fi
fi
if [ -z "$qemu" ]; then
  qemu=$private/usr/bin/$qemu_bin
  # Its own data directory, and the firmware packages installed above (seabios, ipxe-qemu):
  # qemu looks for its default paths relative to where its binary is, here in the cache.
  qemu_opts=(-L "$private/usr/share/qemu")
  for dir in /usr/share/seabios /usr/lib/ipxe/qemu; do [ -d "$dir" ] && qemu_opts+=(-L "$dir"); done
  # Its modules (accel-tcg-x86_64.so) from the same build, not from where qemu was built to look.
  for dir in "$private"/usr/lib/*/qemu; do [ -d "$dir" ] && export QEMU_MODULE_DIR=$dir; done
  missing_libs=$(ldd "$qemu" | sed -n 's/^\t*\([^ ]*\) => not found/\1/p' | tr '\n' ' ')
  [ -z "$missing_libs" ] || die "$qemu needs libraries that are missing: $missing_libs(delete $private to install them)"
fi

# The vmlinux inside a vmlinuz, as the kernel's scripts/extract-vmlinux does: try every offset
# where a compressed stream's magic appears and keep the first that decompresses to an ELF.
# LC_ALL=C: the byte search must not be read as UTF-8.
extract_vmlinux() { # vmlinuz out
  local spec magic tool pat i off
  for spec in 'fd377a585a00:xz -dc' '1f8b08:gzip -dc' '28b52ffd:zstd -dc'; do
    magic=${spec%%:*} tool=${spec#*:} pat=''
    command -v "${tool%% *}" >/dev/null || continue
    for ((i = 0; i < ${#magic}; i += 2)); do pat+="\\x${magic:i:2}"; done
    while read -r off; do
      # Trailing data after the stream makes the tool complain; the ELF check decides.
      tail -c "+$((off + 1))" "$1" | $tool >"$2" 2>/dev/null || true
      if [ "$(head -c 4 "$2" | od -An -c | tr -d ' ')" = '177ELF' ]; then
        return 0
      fi
    done < <(LC_ALL=C grep -obUaP "$pat" "$1" | cut -d: -f1)
  done
  rm -f "$2"
  return 1
}

if [ "$arch" = x86_64 ] && { [ ! -s "$cache/vmlinuz" ] || [ ! -s "$cache/release" ]; }; then
  [ "$(id -u)" -eq 0 ] || die "the kernel is not cached in $cache yet: run once as root"
  dl=$(mktemp -d /tmp/vm-test-kernel.XXXXXX)
  chmod 755 "$dl"
  say "fetching the stock kernel (linux-image-amd64) into $cache"
  if ! (cd "$dl" && apt-get download linux-image-amd64 >/dev/null 2>&1); then
    apt-get update -qq
    (cd "$dl" && apt-get download linux-image-amd64 >/dev/null 2>&1) || die "apt-get download linux-image-amd64 failed"
  fi
  # The metapackage depends on the real, versioned one: linux-image-6.1.0-57-amd64 (= 6.1.192-3).
  real=$(dpkg-deb -f "$dl"/linux-image-amd64_*.deb Depends | sed 's/[,|]/\n/g' | sed -n 's/^ *\(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
  [ -n "$real" ] || die "linux-image-amd64 names no versioned kernel package in its Depends"
  (cd "$dl" && apt-get download "$real" >/dev/null 2>&1) || die "apt-get download $real failed"
  # Only /boot is needed (the initramfs carries everything else; no modules are loaded).
  mkdir "$dl/x"
  dpkg-deb --fsys-tarfile "$dl/$real"_*.deb | tar -x -C "$dl/x" ./boot
  kver=${real#linux-image-}
  [ -s "$dl/x/boot/vmlinuz-$kver" ] || die "$real has no /boot/vmlinuz-$kver"
  mv "$dl/x/boot/vmlinuz-$kver" "$cache/vmlinuz"
  mv "$dl/x/boot/config-$kver" "$cache/config"
  rm -f "$cache/vmlinux"
  echo "$real $(dpkg-deb -f "$dl/$real"_*.deb Version)" >"$cache/release"
  rm -rf "$dl"
fi
if [ "$arch" = x86_64 ] && [ ! -s "$cache/vmlinux" ] && [ ! -e "$cache/vmlinux.none" ]; then
  if extract_vmlinux "$cache/vmlinuz" "$cache/vmlinux.tmp"; then
    mv "$cache/vmlinux.tmp" "$cache/vmlinux"
  else
    say "no vmlinux found inside vmlinuz: booting the compressed kernel (~3 s slower)"
    : >"$cache/vmlinux.none"
  fi
fi
# veth is a module in the stock kernel (CONFIG_VETH=m): the veth lesson needs it, from the same
# package as the kernel (same build, so its symbol versions match; signature checking is not
# enforced there).
if [ "$arch" = x86_64 ] && [ ! -s "$cache/veth.ko" ]; then
  [ "$(id -u)" -eq 0 ] || die "veth.ko is not cached in $cache yet: run once as root"
  real=$(cut -d' ' -f1 "$cache/release")
  kver=${real#linux-image-}
  dl=$(mktemp -d /tmp/vm-test-kernel.XXXXXX)
  chmod 755 "$dl"
  say "fetching veth.ko from $real into $cache"
  (cd "$dl" && apt-get download "$real" >/dev/null 2>&1) || die "apt-get download $real failed"
  mkdir "$dl/x"
  dpkg-deb --fsys-tarfile "$dl/$real"_*.deb | tar -x -C "$dl/x" "./lib/modules/$kver/kernel/drivers/net/veth.ko" ||
    die "$real has no drivers/net/veth.ko"
  mv "$dl/x/lib/modules/$kver/kernel/drivers/net/veth.ko" "$cache/veth.ko"
  rm -rf "$dl"
fi
if [ "$arch" = x86_64 ]; then
  kernel=$cache/vmlinuz
  [ -s "$cache/vmlinux" ] && kernel=$cache/vmlinux
  release=$cache/release
else
  # shellcheck disable=SC1091 # checked on its own
  . "$repo/scripts/vm-aarch64.sh"
  fetch_aarch64_guest "$cache/aarch64"
  kernel=$cache/aarch64/Image
  release=$cache/aarch64/release
fi
flock -u 9

# ------------------------------------------------------------------ nsdojo ----
if [ -n "${NSDOJO_VM_BIN:-}" ]; then
  bin=$NSDOJO_VM_BIN
else
  # cargo rebuilds only what changed: a stale binary would test old code.
  if [ "$arch" = x86_64 ]; then
    bin=$repo/target/release/nsdojo
    cargo build --release --locked --quiet || die "cargo build --release --locked failed"
  else
    # Static, linked with rust-lld, as scripts/release.sh builds it.
    bin=$repo/target/aarch64-unknown-linux-musl/release/nsdojo
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_MUSL_LINKER=rust-lld \
      cargo build --release --locked --quiet --target aarch64-unknown-linux-musl ||
      die "cargo build --release --target aarch64-unknown-linux-musl failed (rustup target add aarch64-unknown-linux-musl)"
  fi
fi
[ -x "$bin" ] || die "no nsdojo binary at $bin"

# --------------------------------------------------------------- initramfs ----
work=$(mktemp -d /tmp/vm-test.XXXXXX)
qemu_pid=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$qemu_pid" ]; then kill "$qemu_pid" 2>/dev/null || true; fi
  if [ "$keep" -eq 1 ]; then say "kept $work (initramfs.cpio, console-*.log, status-*)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,root,etc,tmp,payload,lib,lib64,usr}
chmod 1777 "$root/tmp"
ln -s bin "$root/sbin"
# As on every distribution: iproute2 looks for named netns in /var/run/netns.
mkdir -p "$root/var" && ln -s ../run "$root/var/run"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"
# Without debug info (a debug build is ~60 MB of it): a smaller initramfs boots faster.
strip --strip-debug -o "$root/bin/nsdojo" "$bin" 2>/dev/null || cp "$bin" "$root/bin/nsdojo"
# mountwatch records every change to the VM's own mount table during a run (tests/kernel/lib.sh).
mkdir -p "$root/lib/modules"
if [ "$arch" = x86_64 ]; then
  cp /bin/busybox "$root/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
  done
  gcc -O2 -Wall -Werror -o "$root/bin/mountwatch" tests/kernel/mountwatch.c || die "cannot build tests/kernel/mountwatch.c"
  # A stock Ubuntu host's own tools where the lessons' lab lines use them (check --solve types
  # those lines into a real shell) and busybox lacks them or its applets differ: bash; dash as
  # /bin/sh, as on Debian and Ubuntu (Debian's busybox-static runs its own applets before it
  # searches PATH, so with busybox as sh a line's `ip netns` or `unshare -C` would run
  # busybox's); util-linux's unshare, nsenter, lsns, setpriv, ipcmk and ipcs; iproute2's ip;
  # stress (the deck's, which scripts/provision.sh installs) and curl. Copied from this machine
  # with their libraries, as on a workshop laptop; everything else stays busybox's.
  extra=()
  for pair in "${X86_HOST_TOOLS[@]}"; do
    prog=${pair%%:*}
    path=$(command -v "$prog") || die "$prog is missing here: apt-get install ${pair#*:}"
    rm -f "$root/bin/$prog"
    cp -L "$path" "$root/bin/$prog"
    extra+=("$root/bin/$prog")
  done
  ln -sf dash "$root/bin/sh"
  # The libraries ldd names and the dynamic loader, at the paths the binaries ask for.
  ldd "$bin" "$root/bin/mountwatch" "${extra[@]}" | awk '/=> \//{ print $3 } /^\t\//{ print $1 }' | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
  cp "$cache/veth.ko" "$root/lib/modules/veth.ko"
  echo veth.ko >"$root/lib/modules/load"
else
  # Debian's arm64 busybox, dash as /bin/sh, the lessons' tools and their libraries
  # (scripts/vm-aarch64.sh); the applet links are made inside (/init), where busybox runs.
  cp -a "$cache/aarch64/root/." "$root/"
  cp "$cache/aarch64/modules/"* "$root/lib/modules/"
  "$cc" -O2 -Wall -Werror -static -o "$root/bin/mountwatch" tests/kernel/mountwatch.c ||
    die "cannot build tests/kernel/mountwatch.c for aarch64"
fi
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
cp tests/kernel/*.sh "$root/payload/"

# What to run: one file per run, selected on the kernel command line (vmtest_run=N) so every run
# boots the same initramfs. Arguments are single-quoted for busybox sh's eval.
quote() { local a out=''; for a in "$@"; do out+="'${a//\'/\'\\\'\'}' "; done; printf '%s\n' "$out"; }
runs=()
add_run() { # label, command...
  local label=$1 n=$((${#runs[@]} + 1))
  shift
  runs+=("$label")
  quote "$@" >"$root/payload/.run-$n"
}
if [ $# -eq 0 ]; then
  add_run payload.sh /payload/payload.sh
  [ "$layout" = bionic ] || add_run payload-must-fail.sh /payload/payload-must-fail.sh
elif [ -f "$1" ]; then
  cp "$1" "$root/payload/.arg-$(basename "$1")"
  chmod 755 "$root/payload/.arg-$(basename "$1")"
  p=/payload/.arg-$(basename "$1")
  shift
  add_run "$(basename "$p" | sed 's/^\.arg-//')" "$p" "$@"
else
  add_run "$1" "$@"
fi

cat >"$root/init" <<'INIT'
#!/bin/sh
# /init of the nsdojo test VM, written by scripts/vm-test.sh. The host reads the status port
# ($vmtest_status: /dev/ttyS1, or on aarch64 the virtio console /dev/hvc0): BOOTED once set up,
# then EXIT <code> or TIMEOUT <seconds>.
export PATH=/bin HOME=/root TERM=dumb NO_COLOR=1 COLUMNS=100 LC_ALL=C
if [ ! -e /.stage2 ]; then
  # Stage 1, in the initramfs: pivot_root cannot run from there, so copy everything into a
  # real tmpfs and switch_root into it (switch_root wants /init to exist in the new root).
  if [ ! -e /bin/mount ]; then
    # The applet links, made by the guest's own busybox (it may not run on the host); the files
    # already here (the real ip, lsns, nsenter, unshare; dash as sh) are kept.
    /bin/busybox mount -t proc proc /proc && /bin/busybox --install -s /bin && /bin/busybox umount /proc
  fi
  mount -t devtmpfs dev /dev
  exec </dev/console >/dev/console 2>&1
  mkdir /newroot
  mount -t tmpfs -o mode=0755 root /newroot
  for e in /*; do
    case $e in /newroot|/dev|/proc|/sys) ;; *) cp -a "$e" /newroot/ ;; esac
  done
  mkdir -p /newroot/dev /newroot/proc /newroot/sys
  mount --move /dev /newroot/dev
  : >/newroot/.stage2
  exec switch_root /newroot /init
fi
# Stage 2: PID 1 on a tmpfs root (/tmp included: nsdojo's work dirs live on the shared root).
exec </dev/null >/dev/console 2>&1
status_port=${vmtest_status:-/dev/ttyS1}
status() { echo "$*" >"$status_port"; }
# A virtio console's writes reach qemu from a kernel thread, after `echo` returns: give the
# last one time to get out before the power goes.
drain() { case $status_port in /dev/hvc*) sleep 0.5 ;; esac; }
fail() { echo "vm-init: $*"; status "SETUPFAIL $*"; drain; sync; poweroff -f; exit 1; }
mount -t proc proc /proc || fail "mount proc"
mount -t sysfs sys /sys || fail "mount sysfs"
mkdir -p /sys/fs/cgroup /dev/pts /dev/shm /dev/mqueue
if [ "${vmtest_layout:-v2}" = bionic ]; then
  # As Ubuntu 18.04's systemd 237 mounts them: a tmpfs, one v1 hierarchy per controller the
  # kernel has but cpu,cpuacct and net_cls,net_prio co-mounted (the single names are symlinks),
  # its own name=systemd hierarchy, and cgroup2 (no controllers) on unified.
  mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup || fail "mount the cgroup tmpfs"
  for h in cpuset cpu,cpuacct blkio memory devices freezer net_cls,net_prio perf_event hugetlb pids rdma; do
    first=${h%%,*}
    grep -q "^$first[[:space:]]" /proc/cgroups || continue
    mkdir "/sys/fs/cgroup/$h"
    mount -t cgroup -o "$h" cgroup "/sys/fs/cgroup/$h" || fail "mount the $h hierarchy"
    if [ "$first" != "$h" ]; then
      ln -s "$h" "/sys/fs/cgroup/$first"
      ln -s "$h" "/sys/fs/cgroup/${h#*,}"
    fi
  done
  mkdir /sys/fs/cgroup/unified /sys/fs/cgroup/systemd
  mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified || fail "mount cgroup2 on unified"
  mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd || fail "mount name=systemd"
else
  mount -t cgroup2 cgroup2 /sys/fs/cgroup || fail "mount cgroup2"
fi
mount -t devpts devpts /dev/pts
mount -t tmpfs shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs run /run
if [ "${vmtest_layout:-v2}" = v2 ]; then
  echo "+cpu +memory +pids" >/sys/fs/cgroup/cgroup.subtree_control || fail "enable +cpu +memory +pids"
fi
mount --make-rshared / || fail "mount --make-rshared /"
hostname nsdojo-vm
ip link set lo up 2>/dev/null
for module in $(cat /lib/modules/load); do
  insmod "/lib/modules/$module" || fail "insmod $module"
done
# A virtio console appears once its driver has probed the device.
i=0
while [ ! -e "$status_port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
status BOOTED
limit=${vmtest_timeout:-170}
eval "set -- $(cat "/payload/.run-${vmtest_run:-1}")"
echo "vm-init: running $* (limit ${limit} s)"
start=$(date +%s)
(cd /root && timeout -s KILL "$limit" "$@")
rc=$?
took=$(($(date +%s) - start))
if [ "$rc" -eq 137 ] && [ "$took" -ge "$limit" ]; then
  echo "vm-init: the payload ran out of time after ${took} s"
  status "TIMEOUT $took"
else
  echo "vm-init: the payload exited $rc after ${took} s"
  status "EXIT $rc"
fi
drain
sync
poweroff -f
INIT
chmod 755 "$root/init"
(cd "$root" && find . | cpio -o -H newc -R 0:0 --quiet) >"$work/initramfs.cpio"

# --------------------------------------------------------------------- run ----
if [ "$arch" = x86_64 ]; then
  accel=(-accel tcg -cpu qemu64)
  accel_name=TCG
  if grep -qE '^flags.*\b(vmx|svm)\b' /proc/cpuinfo && [ -w /dev/kvm ]; then
    accel=(-accel kvm -cpu host)
    accel_name=KVM
  fi
  # Two serial ports: the console, then the status port.
  machine=(-M pc -serial "file:@CON@" -serial "file:@ST@")
  cmdline="console=ttyS0"
else
  # Emulated: `max` has every feature qemu emulates; pauth-impdef: pointer authentication with
  # qemu's cheap algorithm instead of the architected QARMA one (the same instructions, much
  # faster under TCG). The `virt` board has one UART, the console: the status port is a virtio
  # console (/dev/hvc0 once /init loads virtio_mmio and virtio_console).
  accel=(-accel tcg -cpu "max,pauth-impdef=on")
  accel_name=TCG
  machine=(-M virt -serial "file:@CON@" -device virtio-serial-device
    -chardev "file,id=status,path=@ST@" -device "virtconsole,chardev=status")
  cmdline="console=ttyAMA0 vmtest_status=/dev/hvc0"
fi
budget_end=$(awk -v a="$(now)" -v t="$timeout_s" 'BEGIN { printf "%d", a + t }')

# One boot; sets rc_of_run. Prints the console as it comes.
run_vm() { # n label
  local n=$1 label=$2 con=$work/console-$1.log st=$work/status-$1 left inner t0 qpid qrc=0 tailpid
  left=$((budget_end - $(date +%s)))
  if [ "$left" -le 5 ]; then
    say "$label: no time left of the ${timeout_s} s limit"
    rc_of_run=$EXIT_TIMEOUT
    return
  fi
  : >"$con"
  : >"$st"
  say "$label: booting $(cut -d' ' -f1 "$release") ($arch, $accel_name, 2 CPUs, 1 GiB, limit ${left} s)"
  # The payload's own limit inside, so a hung payload is told apart from a hung VM.
  inner=$((left > 30 ? left - 10 : left * 2 / 3))
  t0=$(now)
  local m=("${machine[@]//@CON@/$con}")
  m=("${m[@]//@ST@/$st}")
  timeout -k 5 "$left" "$qemu" "${qemu_opts[@]}" "${accel[@]}" "${m[@]}" -smp 2 -m 1024 \
    -nodefaults -display none -no-reboot \
    -kernel "$kernel" -initrd "$work/initramfs.cpio" \
    -append "$cmdline quiet panic=-1 rdinit=/init $layout_cmdline vmtest_run=$n vmtest_timeout=$inner" \
    </dev/null >"$work/qemu-$n.err" 2>&1 &
  qpid=$!
  qemu_pid=$qpid
  # The serial line ends lines with CR LF; a bare CR is a live meter redrawing its line.
  tail -n +1 -s 0.2 -f --pid="$qpid" "$con" | sed -u 's/\r$//; s/\r/\n/g' &
  tailpid=$!
  wait "$qpid" || qrc=$?
  qemu_pid=''
  wait "$tailpid" || true
  local took status results
  took=$(since "$t0")
  status=$(tr -d '\r' <"$st")
  say "$label: the VM ran ${took} s"
  # The payload's own count, where it gives one (tests/kernel/payload.sh).
  results=$(tr -d '\r' <"$con" | sed -n 's/^== \(lessons: .*\)/\1/p' | tail -n 1)
  [ -z "$results" ] || say "$label: $arch: $results"
  results=$(tr -d '\r' <"$con" | sed -n 's/^== solve: \(..*\)/\1/p' | tail -n 1)
  [ -z "$results" ] || say "$label: $arch: check --solve: $results"
  if [ "$qrc" -eq 124 ] || [ "$qrc" -eq 137 ]; then
    if grep -q '^BOOTED' <<<"$status"; then
      say "$label: TIMEOUT: the ${left} s limit passed with the payload still running; qemu killed"
    else
      say "$label: TIMEOUT: the VM was still booting after ${left} s; qemu killed"
    fi
    rc_of_run=$EXIT_TIMEOUT
  elif grep -q '^TIMEOUT' <<<"$status"; then
    say "$label: TIMEOUT: the payload was killed inside the VM after $(sed -n 's/^TIMEOUT //p' <<<"$status") s"
    rc_of_run=$EXIT_TIMEOUT
  elif grep -q '^EXIT ' <<<"$status"; then
    local code
    code=$(sed -n 's/^EXIT //p' <<<"$status" | tail -n 1)
    if [ "$code" = 0 ]; then
      say "$label: PASS"
      rc_of_run=0
    else
      say "$label: FAIL: the payload exited $code"
      rc_of_run=$EXIT_PAYLOAD
    fi
  else
    local why
    if grep -q '^SETUPFAIL' <<<"$status"; then
      why="its /init failed: $(sed -n 's/^SETUPFAIL //p' <<<"$status")"
    elif grep -q '^BOOTED' <<<"$status"; then
      why="it booted but gave no exit marker (qemu exit code $qrc)"
    else
      why="no boot marker on the status port (qemu exit code $qrc)"
    fi
    say "the VM did not boot: $why ($label)"
    if [ -s "$work/qemu-$n.err" ]; then sed 's/^/  qemu: /' "$work/qemu-$n.err" >&2; fi
    rc_of_run=$EXIT_NOBOOT
  fi
}

worst=0
summary=()
for i in "${!runs[@]}"; do
  rc_of_run=0
  run_vm "$((i + 1))" "${runs[$i]}"
  summary+=("${runs[$i]}=$rc_of_run")
  # Severity: did not boot (3) > timeout (4) > payload failed (1) > pass.
  case "$worst:$rc_of_run" in
    3:*) ;;
    *:3) worst=3 ;;
    4:*) ;;
    *:4) worst=4 ;;
    *:1) worst=1 ;;
  esac
done
say "$arch stage took $(since "$stage_start") s (${summary[*]}); exit $worst"
exit "$worst"
