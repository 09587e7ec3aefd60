#!/bin/sh
# nsdojo offline kit: install without network and without a compiler.
#   sudo sh install.sh                 # nsdojo to /usr/local/bin, and busybox-static / stress
#   sh install.sh --prefix DIR         # only the binary, into DIR (no root needed, no packages)
# Checks every file against SHA256SUMS first; installs the .deb packages only where dpkg exists
# and the package is missing.
set -eu
cd "$(dirname "$0")"
prefix=/usr/local/bin
packages=1
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; packages=0; shift 2 ;;
    --no-packages) packages=0; shift ;;
    *) echo "install.sh: unknown option $1 (--prefix DIR, --no-packages)" >&2; exit 2 ;;
  esac
done
sha256sum -c --quiet SHA256SUMS || { echo "install.sh: the kit is damaged (SHA256SUMS do not match)" >&2; exit 1; }
case $(uname -m) in
  x86_64 | amd64) arch=x86_64 ;;
  aarch64 | arm64) arch=aarch64 ;;
  *) echo "install.sh: no nsdojo binary for $(uname -m) in this kit (x86_64, aarch64)" >&2; exit 1 ;;
esac
bin=$(ls bin/nsdojo-*-"$arch"-unknown-linux-musl)
mkdir -p "$prefix"
cp "$bin" "$prefix/nsdojo.new" && chmod 755 "$prefix/nsdojo.new" && mv "$prefix/nsdojo.new" "$prefix/nsdojo"
echo "installed $prefix/nsdojo ($("$prefix/nsdojo" --version))"
if [ "$packages" -eq 1 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: not root, so no packages; busybox-static and stress make the lab complete" >&2
  elif command -v dpkg >/dev/null 2>&1; then
    for deb in debs/"$arch"/*.deb; do
      [ -e "$deb" ] || continue
      name=$(dpkg-deb -f "$deb" Package)
      if dpkg -s "$name" >/dev/null 2>&1; then
        echo "$name: already installed"
      elif dpkg -i "$deb" >/dev/null 2>&1; then
        echo "$name: installed from the kit"
      else
        echo "install.sh: $name from the kit does not install here (nsdojo works without it: see doctor)" >&2
        dpkg --remove "$name" >/dev/null 2>&1 || true
      fi
    done
  else
    echo "install.sh: no dpkg here: install busybox (static) and stress with your package manager" >&2
  fi
fi
echo "next: sudo nsdojo   (or: sudo nsdojo doctor)"
