#!/usr/bin/env bash
# Static release binaries: x86_64 and aarch64, linked against musl with rust-lld (no C
# toolchain for the other architecture is needed), stripped (profile.release), with SHA-256
# sums, in dist/ (or the directory given). `nsdojo --version` names version, commit, target.
#
#   bash scripts/release.sh [DIR]
#
# Needs rustup (for the two musl targets; added here if missing). Exit: 0 built, 1 failed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
command -v rustup >/dev/null || { echo "release.sh: rustup is needed for the musl targets (https://rustup.rs)" >&2; exit 1; }
installed=$(rustup target list --installed)
for t in "${targets[@]}"; do
  grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
mkdir -p "$out"
rm -f "$out"/nsdojo-* "$out/SHA256SUMS"
for t in "${targets[@]}"; do
  # rust-lld links both: the musl targets ship their own crt objects and libc.
  linker_var="CARGO_TARGET_$(echo "$t" | tr 'a-z-' 'A-Z_')_LINKER"
  env "$linker_var=rust-lld" cargo build --release --locked --target "$t"
  cp "target/$t/release/nsdojo" "$out/nsdojo-$version-$t"
done
(cd "$out" && sha256sum nsdojo-* >SHA256SUMS)
for f in "$out"/nsdojo-*; do
  kind=$(file -b "$f")
  case $kind in
    *"statically linked"* | *"static-pie linked"*) ;;
    *) echo "release.sh: $f is not statically linked: $kind" >&2; exit 1 ;;
  esac
  printf '%-52s %8s KiB  %s\n' "$f" "$(($(stat -c %s "$f") / 1024))" "${kind%%,*}"
done
echo "sums: $out/SHA256SUMS"
