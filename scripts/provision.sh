#!/usr/bin/env bash
# Provision a workshop machine for nsdojo. The Vagrant VMs (see Vagrantfile) and the Lima VM
# (contrib/lima/nsdojo.yaml) run it as root; on a bare Debian or Ubuntu machine,
# `sudo bash scripts/provision.sh` does the same.
#
#   scripts/provision.sh [--dry-run]
#
# First it looks for a release binary for this machine's CPU (uname -m: x86_64 or aarch64) in
# the source tree: dist/nsdojo-VERSION-ARCH-unknown-linux-musl (scripts/release.sh), or the one
# in an unpacked offline kit (dist/nsdojo-kit-*/ or nsdojo-kit-*/, scripts/offline-kit.sh). Its
# VERSION must be the source's; it is checked against the SHA256SUMS next to it when there is
# one (a mismatch stops here). With it, Rust and the build are skipped. Else, four parts, each
# guarded, so a second run changes nothing (then, either way, a fifth):
#   1. packages  apt-get install what nsdojo uses (only the missing ones; with a release
#                binary, not the compiler and curl)
#   2. rust      keep a Rust that is new enough; else the distribution's if it is new enough;
#                else rustup (stable, minimal, with rustfmt and clippy for the tests) in NSDOJO_RUST_HOME
#   3. build     cargo build --release --locked from the source tree (cargo skips what is built)
#   4. install   /usr/local/bin/nsdojo, only if it differs from the build (or the release binary)
#   5. userns    where the kernel has Ubuntu's AppArmor restriction on unprivileged user
#                namespaces (on by default on 24.04), turn it off on this throwaway machine, now
#                and in /etc/sysctl.d, so the rootless lesson's ordinary user can use the
#                capabilities its user namespace gives (docs/instructors.md says why)
#
# Environment:
#   NSDOJO_PROVISION_DRY=1  (or --dry-run) print what would be done: no root, no network, no writes
#   NSDOJO_SRC              nsdojo's source tree (default: the tree holding this script, else /vagrant)
#   NSDOJO_FROM_SOURCE=1    build from source even when a release binary is there
#   NSDOJO_TARGET_DIR       cargo's target dir (default /var/cache/nsdojo-build/target: off the synced
#                           folder, which is slow and shared with the host's own target/)
#   NSDOJO_RUST_HOME        where rustup installs (default /opt/rust)
#   NSDOJO_RUST_MIN         the least rustc version (default below)
#   NSDOJO_BIN              where to install (default /usr/local/bin/nsdojo: on sudo's PATH)
#   NSDOJO_KEEP_USERNS_RESTRICTION=1  leave kernel.apparmor_restrict_unprivileged_userns as it is
#                           (the rootless lesson then shows AppArmor refusing, steps 2 and 3)
#   NSDOJO_PROC_SYS, NSDOJO_SYSCTL_D  /proc/sys and /etc/sysctl.d (other directories: the tests)
#
# Exit codes: 0 done (or dry run); 1 a part failed (or a release binary does not match its
# SHA256SUMS); 2 usage (not root, no apt-get, no source tree).
set -euo pipefail

# Cargo.toml's rust-version covers nsdojo's own code; the crates pinned in Cargo.lock need more
# (textwrap 0.16.4 and the icu_* crates: 1.88). tests/it/docs.rs compares this with `cargo metadata`.
RUST_MIN=${NSDOJO_RUST_MIN:-1.88}
# What building needs (not with a release binary), and what the lessons use.
BUILD_PACKAGES=(build-essential curl)
RUN_PACKAGES=(busybox-static stress iproute2 util-linux procps curl)
PACKAGES=("${BUILD_PACKAGES[@]}" "${RUN_PACKAGES[@]}")
BIN=${NSDOJO_BIN:-/usr/local/bin/nsdojo}
RUST_HOME=${NSDOJO_RUST_HOME:-/opt/rust}
TARGET_DIR=${NSDOJO_TARGET_DIR:-/var/cache/nsdojo-build/target}
PROFILE_D=/etc/profile.d/nsdojo-rust.sh

dry=0
case ${NSDOJO_PROVISION_DRY:-0} in 0|'') ;; *) dry=1 ;; esac
for arg in "$@"; do
  case $arg in
    --dry-run|-n) dry=1 ;;
    -h|--help) sed -n '2,39p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "provision: unknown argument \`$arg\` (usage: scripts/provision.sh [--dry-run])" >&2; exit 2 ;;
  esac
done

say() { echo "provision: $*"; }
die() { echo "provision: $1" >&2; exit "${2:-1}"; }
# Run a command, or in a dry run only say it.
run() {
  if [ "$dry" = 1 ]; then
    say "would run: $*"
  else
    say "run: $*"
    "$@"
  fi
}

# version_ge A B: A >= B, for dotted versions (1.88.0 >= 1.88).
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]; }
# The dotted number at the start of a version string: 1:1.75.0+dfsg0ubuntu1-0ubuntu7 -> 1.75.0.
leading_version() { echo "${1#*:}" | sed -nE 's/^([0-9]+(\.[0-9]+)*).*/\1/p'; }

# Where the source tree is: NSDOJO_SRC, the tree holding this script, or the synced folder.
here=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd) || here=""
if [ -n "${NSDOJO_SRC:-}" ]; then
  SRC=$NSDOJO_SRC
elif [ -n "$here" ] && grep -qs '^name = "nsdojo"' "$here/Cargo.toml"; then
  SRC=$here
else
  SRC=/vagrant
fi

if [ "$dry" = 1 ]; then
  say "dry run: nothing is installed, downloaded or written"
else
  [ "$(id -u)" -eq 0 ] || die "run as root: sudo bash $0 (or NSDOJO_PROVISION_DRY=1 to see what it would do)" 2
  # Older sudo (Ubuntu 18.04) keeps the caller's HOME: cargo and rustup would then write root-owned
  # files into /home/vagrant. Root's own home is where they belong.
  HOME=$(getent passwd 0 | cut -d: -f6) || true
  export HOME=${HOME:-/root}
  command -v apt-get >/dev/null || die "this script knows Debian and Ubuntu (apt-get); install by hand: ${PACKAGES[*]}, Rust >= $RUST_MIN" 2
fi
grep -qs '^name = "nsdojo"' "$SRC/Cargo.toml" || {
  [ "$dry" = 1 ] || die "no nsdojo source tree at $SRC (set NSDOJO_SRC)" 2
  say "no nsdojo source tree at $SRC (set NSDOJO_SRC)"
}
say "source: $SRC"

# ------------------------------------------------------------------------- release binary ----
# A static release binary for this CPU, of the source's own version: then no Rust and no build
# (minutes and a gigabyte less on a student's laptop). A binary of another version is left
# alone: after a `git pull` it would be stale.
case $(uname -m) in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) arch=$(uname -m) ;;
esac
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$SRC/Cargo.toml" 2>/dev/null | head -n 1)
name=nsdojo-$version-$arch-unknown-linux-musl
# Where scripts/release.sh puts it, and where an unpacked offline kit has it.
places=("$SRC/dist/$name" "$SRC"/dist/nsdojo-kit-*/bin/"$name" "$SRC"/nsdojo-kit-*/bin/"$name")
release=""
if [ "${NSDOJO_FROM_SOURCE:-0}" != 0 ]; then
  say "release binary: not looked for (NSDOJO_FROM_SOURCE=${NSDOJO_FROM_SOURCE})"
else
  for f in "${places[@]}"; do
    if [ -f "$f" ]; then
      release=$f
      break
    fi
  done
  if [ -z "$release" ]; then
    for f in "$SRC"/dist/nsdojo-*-"$arch"-unknown-linux-musl "$SRC"/dist/nsdojo-kit-*/bin/nsdojo-*-"$arch"-unknown-linux-musl; do
      [ -f "$f" ] && say "release binary: $f is not version $version: ignored"
    done
    say "release binary: none for $arch, version $version: build from source"
  fi
fi
# verify_release FILE: 0 its sha256 is the one SHA256SUMS lists, 1 it is not (or not listed),
# 2 there is no SHA256SUMS. release.sh writes the sums beside the binaries; a kit one level up,
# naming bin/FILE. Sets `sums`.
sums=""
verify_release() {
  local dir entry want got
  dir=$(dirname "$1")
  if [ -f "$dir/SHA256SUMS" ]; then
    sums=$dir/SHA256SUMS entry=$(basename "$1")
  elif [ "$(basename "$dir")" = bin ] && [ -f "$dir/../SHA256SUMS" ]; then
    sums=$(dirname "$dir")/SHA256SUMS entry=bin/$(basename "$1")
  else
    return 2
  fi
  want=$(awk -v f="$entry" '$2 == f || $2 == "*" f { print $1; exit }' "$sums")
  got=$(sha256sum "$1" | cut -d ' ' -f 1)
  [ -n "$want" ] && [ "$want" = "$got" ]
}
if [ -n "$release" ]; then
  rc=0
  verify_release "$release" || rc=$?
  case $rc in
    0) say "release binary: $release (sha256 as in $sums): no Rust, no build" ;;
    2) say "release binary: $release (no SHA256SUMS beside it: not verified): no Rust, no build" ;;
    *) die "release binary: $release does not match $sums: make it again (bash scripts/release.sh), or delete it to build from source" 1 ;;
  esac
  PACKAGES=("${RUN_PACKAGES[@]}")
fi

# ------------------------------------------------------------------------------- 1. packages ----
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
missing=()
for p in "${PACKAGES[@]}"; do
  if installed "$p"; then
    say "package $p: installed"
  else
    say "package $p: missing"
    missing+=("$p")
  fi
done
apt_opts=(-y -q -o DPkg::Lock::Timeout=300)
if [ ${#missing[@]} -gt 0 ]; then
  run apt-get -q -o DPkg::Lock::Timeout=300 update
  run env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" "${missing[@]}"
else
  say "packages: nothing to install"
fi

if [ -n "$release" ]; then
  say "rust: not needed (release binary)"
  say "build: skipped (release binary)"
else
  # ----------------------------------------------------------------------------------- 2. rust ----
  # ask_version DIR TOOL: "1.88.0" from `DIR/TOOL --version`; rustup's proxies in RUST_HOME are
  # told where their toolchains are.
  ask_version() {
    if [ "$1" = "$RUST_HOME/cargo/bin" ]; then
      RUSTUP_HOME=$RUST_HOME/rustup "$1/$2" --version 2>/dev/null | awk '{print $2}'
    else
      "$1/$2" --version 2>/dev/null | awk '{print $2}'
    fi
  }
  # rust_version DIR: the version of DIR/rustc and DIR/cargo, the lower of the two ("" if absent).
  rust_version() {
    local r c
    [ -x "$1/rustc" ] && [ -x "$1/cargo" ] || return 0
    r=$(ask_version "$1" rustc); c=$(ask_version "$1" cargo)
    r=$(leading_version "$r"); c=$(leading_version "$c")
    [ -n "$r" ] && [ -n "$c" ] || return 0
    if version_ge "$r" "$c"; then echo "$c"; else echo "$r"; fi
  }
  # The candidates, ours first: rustup's in RUST_HOME, then whatever PATH has.
  rust_bin=""
  candidates=("$RUST_HOME/cargo/bin")
  if command -v rustc >/dev/null; then candidates+=("$(dirname "$(command -v rustc)")"); fi
  for dir in "${candidates[@]}"; do
    v=$(rust_version "$dir")
    if [ -z "$v" ]; then
      continue
    elif version_ge "$v" "$RUST_MIN"; then
      say "rust: $v in $dir (>= $RUST_MIN): keep"
      rust_bin=$dir
      break
    else
      say "rust: $v in $dir is older than $RUST_MIN"
    fi
  done
  if [ -z "$rust_bin" ]; then
    distro=""
    if command -v apt-cache >/dev/null; then
      distro=$(leading_version "$(apt-cache policy rustc 2>/dev/null | awk '/Candidate:/ {print $2}')")
    fi
    if [ -n "$distro" ] && version_ge "$distro" "$RUST_MIN"; then
      say "rust: the distribution's rustc $distro is new enough"
      run env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" rustc cargo
      rust_bin=/usr/bin
    else
      say "rust: the distribution's rustc (${distro:-none}) is older than $RUST_MIN: rustup into $RUST_HOME"
      if [ -x "$RUST_HOME/cargo/bin/rustup" ]; then
        run env RUSTUP_HOME="$RUST_HOME/rustup" CARGO_HOME="$RUST_HOME/cargo" \
          "$RUST_HOME/cargo/bin/rustup" toolchain install stable --profile minimal -c rustfmt -c clippy
        run env RUSTUP_HOME="$RUST_HOME/rustup" "$RUST_HOME/cargo/bin/rustup" default stable
      elif [ "$dry" = 1 ]; then
        say "would run: curl https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt -c clippy --default-toolchain stable --no-modify-path (RUSTUP_HOME=$RUST_HOME/rustup CARGO_HOME=$RUST_HOME/cargo)"
      else
        say "run: rustup-init (stable, minimal profile) into $RUST_HOME"
        curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
          RUSTUP_HOME="$RUST_HOME/rustup" CARGO_HOME="$RUST_HOME/cargo" \
            sh -s -- -y -q --profile minimal -c rustfmt -c clippy --default-toolchain stable --no-modify-path
      fi
      rust_bin=$RUST_HOME/cargo/bin
    fi
  fi
  if [ "$rust_bin" = "$RUST_HOME/cargo/bin" ]; then
    # So that students can use cargo in the VM too (login shells: vagrant ssh).
    profile="export RUSTUP_HOME=$RUST_HOME/rustup
case \":\$PATH:\" in *:$RUST_HOME/cargo/bin:*) ;; *) PATH=$RUST_HOME/cargo/bin:\$PATH ;; esac"
    if [ "$(cat "$PROFILE_D" 2>/dev/null)" = "$profile" ]; then
      say "rust: $PROFILE_D is up to date"
    elif [ "$dry" = 1 ]; then
      say "would write $PROFILE_D (RUSTUP_HOME, PATH)"
    else
      say "write $PROFILE_D"
      printf '%s\n' "$profile" >"$PROFILE_D"
    fi
    export RUSTUP_HOME=$RUST_HOME/rustup CARGO_HOME=$RUST_HOME/cargo
  fi
  if [ "$dry" = 0 ]; then
    v=$(rust_version "$rust_bin")
    if [ -z "$v" ] || ! version_ge "$v" "$RUST_MIN"; then
      die "rust: no rustc/cargo >= $RUST_MIN in $rust_bin after installing"
    fi
  fi

  # ---------------------------------------------------------------------------------- 3. build ----
  # cargo is its own guard: a second build with nothing changed does nothing.
  export PATH="$rust_bin:$PATH"
  run "$rust_bin/cargo" build --release --locked --manifest-path "$SRC/Cargo.toml" --target-dir "$TARGET_DIR"
fi

# -------------------------------------------------------------------------------- 4. install ----
built=${release:-$TARGET_DIR/release/nsdojo}
if [ -f "$built" ] && cmp -s "$built" "$BIN"; then
  say "install: $BIN is up to date"
else
  run install -m 0755 "$built" "$BIN"
fi

# ------------------------------------------------------------------------------ 5. userns ----
# Ubuntu 23.10+ lets an ordinary user make a user namespace but, with this sysctl at 1 (24.04's
# default), AppArmor refuses every capability in it: the rootless lesson would stop at EPERM.
# The workshop VM is a throwaway single-user machine: the lesson as designed wins there; the
# restriction itself is shown by turning it back on (docs/instructors.md). Elsewhere nothing.
PROC_SYS=${NSDOJO_PROC_SYS:-/proc/sys}
SYSCTL_D=${NSDOJO_SYSCTL_D:-/etc/sysctl.d}
knob=$PROC_SYS/kernel/apparmor_restrict_unprivileged_userns
userns_conf=$SYSCTL_D/99-nsdojo-userns.conf
userns_line="kernel.apparmor_restrict_unprivileged_userns = 0"
if [ ! -e "$knob" ]; then
  say "userns: this kernel has no AppArmor restriction on user namespaces: nothing to change"
elif [ "${NSDOJO_KEEP_USERNS_RESTRICTION:-0}" != 0 ]; then
  say "userns: AppArmor restriction kept at $(cat "$knob") (NSDOJO_KEEP_USERNS_RESTRICTION): the rootless lesson shows it refusing (nsdojo doctor explains)"
elif [ "$(cat "$knob")" = 0 ] && [ "$(tail -n 1 "$userns_conf" 2>/dev/null)" = "$userns_line" ]; then
  say "userns: AppArmor restriction off already ($userns_conf)"
elif [ "$dry" = 1 ]; then
  say "userns: AppArmor's restriction on unprivileged user namespaces is $(cat "$knob"): would write $userns_conf ($userns_line) and set it now, for the rootless lesson"
else
  say "userns: this throwaway VM turns off AppArmor's restriction on unprivileged user namespaces (was $(cat "$knob")), for the rootless lesson: write $userns_conf and set it now (undo: rm $userns_conf; sysctl -w kernel.apparmor_restrict_unprivileged_userns=1)"
  mkdir -p "$SYSCTL_D"
  printf '%s\n' "# scripts/provision.sh: nsdojo's rootless lesson needs an ordinary user's capabilities in its" \
    "# own user namespace, which AppArmor refuses while this is 1; this is a throwaway workshop VM." \
    "$userns_line" >"$userns_conf"
  echo 0 >"$knob"
fi

if [ "$dry" = 1 ]; then
  say "would run: $BIN check; $BIN doctor"
  say "dry run done"
else
  "$BIN" check
  "$BIN" --no-color doctor
  say "done: start the lab with  sudo nsdojo"
fi
