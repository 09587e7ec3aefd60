#!/usr/bin/env bash
# One archive for a USB stick: both static binaries, the .deb packages the lab uses
# (busybox-static, stress; Debian's, for amd64 and arm64), the lessons, the instructors'
# guide, and an install.sh that needs no network and no compiler.
#   bash scripts/offline-kit.sh [OUT.tar.gz]      (default: dist/nsdojo-kit-VERSION.tar.gz)
# Needs network once, here: cargo (for the binaries) and apt (for the .debs).
set -euo pipefail
cd "$(dirname "$0")/.."
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
out=${1:-dist/nsdojo-kit-$version.tar.gz}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
kit=$work/nsdojo-kit-$version
mkdir -p "$kit/bin" "$kit/debs/x86_64" "$kit/debs/aarch64" "$kit/docs"
bash scripts/release.sh "$work/dist" >/dev/null
cp "$work"/dist/nsdojo-* "$kit/bin/"
# The Debian packages, fetched as files (apt-get download: nothing is installed here). Both
# architectures' indexes are read for this command only; the machine's apt setup is unchanged.
apt_archs=(-o APT::Architectures::=amd64 -o APT::Architectures::=arm64)
apt-get -qq "${apt_archs[@]}" update 2>/dev/null || true
for pair in x86_64:amd64 aarch64:arm64; do
  arch=${pair%%:*} deb_arch=${pair#*:}
  chmod 777 "$kit/debs/$arch" # apt's download user writes there
  (cd "$kit/debs/$arch" && apt-get -qq "${apt_archs[@]}" download "busybox-static:$deb_arch" "stress:$deb_arch" 2>/dev/null) ||
    echo "offline-kit.sh: could not download the $deb_arch packages; the kit goes without them" >&2
  chmod 755 "$kit/debs/$arch"
done
cp -r lessons "$kit/lessons"
cp docs/instructors.md docs/lessons.md README.md "$kit/docs/"
cp scripts/kit/install.sh "$kit/install.sh"
(cd "$kit" && find bin debs -type f -print0 | sort -z | xargs -0 sha256sum >SHA256SUMS)
mkdir -p "$(dirname "$out")"
tar -C "$work" -czf "$out" "nsdojo-kit-$version"
echo "$out: $(du -h "$out" | cut -f1)"
tar -tzf "$out" | sed 's/^/  /' | grep -v '/$' | head -n 40
