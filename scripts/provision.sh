#!/usr/bin/env bash
# Provision a workshop machine for nsdojo. The Vagrant VMs (see Vagrantfile) run it as root; on a
# bare Debian or Ubuntu machine, `sudo bash scripts/provision.sh` does the same.
#
#   scripts/provision.sh [--dry-run]
#
# Four parts, each guarded, so a second run changes nothing:
#   1. packages  apt-get install what nsdojo uses (only the missing ones)
#   2. rust      keep a Rust that is new enough; else the distribution's if it is new enough;
#                else rustup (stable, minimal, with rustfmt and clippy for the tests) in NSDOJO_RUST_HOME
#   3. build     cargo build --release --locked from the source tree (cargo skips what is built)
#   4. install   /usr/local/bin/nsdojo, only if it differs from the build
#
# Environment:
#   NSDOJO_PROVISION_DRY=1  (or --dry-run) print what would be done: no root, no network, no writes
#   NSDOJO_SRC              nsdojo's source tree (default: the tree holding this script, else /vagrant)
#   NSDOJO_TARGET_DIR       cargo's target dir (default /var/cache/nsdojo-build/target: off the synced
#                           folder, which is slow and shared with the host's own target/)
#   NSDOJO_RUST_HOME        where rustup installs (default /opt/rust)
#   NSDOJO_RUST_MIN         the least rustc version (default below)
#   NSDOJO_BIN              where to install (default /usr/local/bin/nsdojo: on sudo's PATH)
#
# Exit codes: 0 done (or dry run); 1 a part failed; 2 usage (not root, no apt-get, no source tree).
set -euo pipefail

# Cargo.toml's rust-version covers nsdojo's own code; the crates pinned in Cargo.lock need more
# (textwrap 0.16.4 and the icu_* crates: 1.88). tests/it/docs.rs compares this with `cargo metadata`.
RUST_MIN=${NSDOJO_RUST_MIN:-1.88}
PACKAGES=(build-essential curl busybox-static stress iproute2 util-linux procps)
BIN=${NSDOJO_BIN:-/usr/local/bin/nsdojo}
RUST_HOME=${NSDOJO_RUST_HOME:-/opt/rust}
TARGET_DIR=${NSDOJO_TARGET_DIR:-/var/cache/nsdojo-build/target}
PROFILE_D=/etc/profile.d/nsdojo-rust.sh

dry=0
case ${NSDOJO_PROVISION_DRY:-0} in 0|'') ;; *) dry=1 ;; esac
for arg in "$@"; do
  case $arg in
    --dry-run|-n) dry=1 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "provision: unknown argument \`$arg\` (usage: scripts/provision.sh [--dry-run])" >&2; exit 2 ;;
  esac
done

say() { echo "provision: $*"; }
die() { echo "provision: $*" >&2; exit "${2:-1}"; }
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

# -------------------------------------------------------------------------------- 4. install ----
built=$TARGET_DIR/release/nsdojo
if [ -f "$built" ] && cmp -s "$built" "$BIN"; then
  say "install: $BIN is up to date"
else
  run install -m 0755 "$built" "$BIN"
fi

if [ "$dry" = 1 ]; then
  say "would run: $BIN check; $BIN doctor"
  say "dry run done"
else
  "$BIN" check
  "$BIN" --no-color doctor
  say "done: start the lab with  sudo nsdojo"
fi
