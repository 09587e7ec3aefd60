# shellcheck shell=bash
# Sourced by scripts/vm-test.sh for `--arch aarch64`: fetch what an arm64 guest needs from
# Debian's arm64 packages, without touching this machine's apt configuration (a private package
# list, arm64 as the only architecture, in a temporary directory), and cache it in
# $cache/aarch64/:
#
#   Image     the kernel (Debian's arm64 vmlinuz is an uncompressed Image; qemu boots it as is)
#   config    its config;  release  "<package> <version>", written last (the cache is complete),
#             with layout: AARCH64_LAYOUT, so a cache of an older layout is fetched anew
#   modules/  the .ko files the guest loads, and `load`: their names in load order (dependencies
#             first): virtio_mmio and virtio_console (the status port), veth (the veth lesson)
#   root/     files copied into the guest's root as they are: busybox (busybox-static), dash and
#             /bin/sh -> dash (as on Debian), the lessons' host tools, what a stock Debian or
#             Ubuntu arm64 VM has for the printed lab lines (check --solve): bash, util-linux's
#             lsns, nsenter, unshare, setpriv, ipcmk and ipcs, iproute2's ip, stress, curl and
#             procps's pkill and pgrep; and exactly the libraries they need, with the dynamic loader
#
# Why dash: Debian's busybox-static runs its own applets (ip, nsenter, unshare) before it
# searches PATH, so with busybox as /bin/sh a lesson's `nsenter ...` would run busybox's. With
# dash, as on a Debian or Ubuntu arm64 VM, PATH decides, and PATH has the real tools.
#
# Needs: apt-get and dpkg-deb (Debian/Ubuntu), readelf (binutils), root for the first fetch.

AARCH64_LAYOUT=5
AARCH64_MODULES=(drivers/virtio/virtio_mmio drivers/char/virtio_console drivers/net/veth)
AARCH64_TOOLS=(usr/bin/lsns usr/bin/nsenter usr/bin/unshare usr/bin/setpriv usr/bin/ipcmk usr/bin/ipcs bin/ip
  bin/bash usr/bin/stress usr/bin/curl usr/bin/pkill usr/bin/pgrep)

# `apt-get` that sees arm64 packages only, with its lists and cache under $1.
apt_arm64() { # dir apt-get-args...
  local dir=$1
  shift
  apt-get -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::status=/dev/null "$@"
}
apt_cache_arm64() { # dir apt-cache-args...
  local dir=$1
  shift
  apt-cache -o APT::Architecture=arm64 -o APT::Architectures=arm64 \
    -o Dir::State::Lists="$dir/lists" -o Dir::Cache="$dir/cache" -o Dir::State::status=/dev/null "$@"
}

# The shared libraries an ELF file asks for (DT_NEEDED), one a line.
elf_needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]$/\1/p'; }

# A module's own dependencies, from the depends= field of its .modinfo section (the package
# ships no modules.dep: depmod makes it at install time).
module_deps() { tr '\0' '\n' <"$1" | sed -n 's/^depends=//p' | tr ',' '\n' | sed '/^$/d'; }

fetch_aarch64_guest() { # cache-dir
  local out=$1 dl a real kver ex tool lib name found todo seen mod path m
  [ -s "$out/release" ] && [ "$(cat "$out/layout" 2>/dev/null)" = "$AARCH64_LAYOUT" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "the arm64 guest is not cached in $out yet: run once as root"
  command -v readelf >/dev/null || die "readelf is missing: apt-get install binutils"
  dl=$(mktemp -d /tmp/vm-test-arm64.XXXXXX)
  # apt downloads as the _apt user: it must be able to write here.
  chmod 755 "$dl"
  mkdir -p "$dl/lists/partial" "$dl/cache/archives/partial" "$dl/deb" "$dl/x"
  say "fetching Debian's arm64 packages (kernel, busybox-static, dash, bash, stress, util-linux, iproute2, curl, procps) into $out"
  apt_arm64 "$dl" update -qq >/dev/null || die "apt-get update (arm64 package lists) failed"
  real=$(apt_cache_arm64 "$dl" depends linux-image-arm64 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\).*/\1/p' | head -n 1)
  [ -n "$real" ] || die "linux-image-arm64 names no versioned kernel package in its Depends"
  # Every library package the tools could need, recursively (what is not needed is not copied).
  local libs
  libs=$(apt_cache_arm64 "$dl" depends --recurse --no-recommends --no-suggests --no-conflicts \
    --no-breaks --no-replaces --no-enhances util-linux iproute2 dash bash stress curl procps |
    grep -E '^(lib|zlib)[^ ]*$' | sort -u)
  # shellcheck disable=SC2086 # $libs: one package name a word
  (cd "$dl/deb" && apt_arm64 "$dl" download "$real" busybox-static dash bash stress util-linux iproute2 curl procps $libs >/dev/null 2>&1) ||
    die "apt-get download of the arm64 packages failed"
  for a in "$dl"/deb/*.deb; do
    case $(basename "$a") in
      linux-image-*) ;;
      *) dpkg-deb -x "$a" "$dl/x" || die "cannot unpack $a" ;;
    esac
  done
  kver=${real#linux-image-}
  mkdir -p "$dl/k"
  dpkg-deb -x "$dl/deb/$real"_*.deb "$dl/k" || die "cannot unpack $real"
  [ -s "$dl/k/boot/vmlinuz-$kver" ] || die "$real has no /boot/vmlinuz-$kver"

  rm -rf "$out"
  mkdir -p "$out/modules" "$out/root/bin" "$out/root/lib/aarch64-linux-gnu"
  cp "$dl/k/boot/vmlinuz-$kver" "$out/Image"
  cp "$dl/k/boot/config-$kver" "$out/config"
  # Modules in load order: each after the modules it depends on.
  : >"$out/modules/load"
  todo=()
  for m in "${AARCH64_MODULES[@]}"; do todo+=("$dl/k/lib/modules/$kver/kernel/$m.ko"); done
  seen=' '
  add_module() { # path
    local p=$1 d dp n
    n=$(basename "$p")
    case $seen in *" $n "*) return ;; esac
    [ -s "$p" ] || die "$real has no ${p#"$dl/k/"} (compressed modules are not handled)"
    for d in $(module_deps "$p"); do
      dp=$(find "$dl/k/lib/modules/$kver/kernel" \( -name "$d.ko" -o -name "${d//_/-}.ko" \) | head -n 1)
      [ -n "$dp" ] || die "$n depends on $d, which $real does not ship as a module"
      add_module "$dp"
    done
    seen+="$n "
    cp "$p" "$out/modules/$n"
    echo "$n" >>"$out/modules/load"
  }
  for mod in "${todo[@]}"; do add_module "$mod"; done

  cp "$dl/x/bin/busybox" "$out/root/bin/busybox"
  cp "$dl/x/bin/dash" "$out/root/bin/dash"
  ln -s dash "$out/root/bin/sh"
  for tool in "${AARCH64_TOOLS[@]}"; do
    [ -s "$dl/x/$tool" ] || die "the arm64 packages have no /$tool"
    cp "$dl/x/$tool" "$out/root/bin/"
  done
  # The libraries, transitively, found where Debian's packages put them; the loader at the path
  # every binary names as its interpreter.
  todo=("$out/root/bin/dash")
  for tool in "${AARCH64_TOOLS[@]}"; do todo+=("$out/root/bin/$(basename "$tool")"); done
  seen=' '
  while [ ${#todo[@]} -gt 0 ]; do
    ex=${todo[0]}
    todo=("${todo[@]:1}")
    for lib in $(elf_needed "$ex"); do
      case $seen in *" $lib "*) continue ;; esac
      seen+="$lib "
      found=''
      for path in "$dl/x/lib/aarch64-linux-gnu/$lib" "$dl/x/usr/lib/aarch64-linux-gnu/$lib"; do
        [ -e "$path" ] && found=$path && break
      done
      [ -n "$found" ] || die "no arm64 package fetched gives $lib (needed by $(basename "$ex"))"
      cp -L "$found" "$out/root/lib/aarch64-linux-gnu/$lib"
      todo+=("$out/root/lib/aarch64-linux-gnu/$lib")
    done
  done
  name=ld-linux-aarch64.so.1
  [ -e "$out/root/lib/aarch64-linux-gnu/$name" ] || die "libc6 (arm64) gave no $name"
  cp -L "$out/root/lib/aarch64-linux-gnu/$name" "$out/root/lib/$name"
  echo "$AARCH64_LAYOUT" >"$out/layout"
  echo "$real $(dpkg-deb -f "$dl/deb/$real"_*.deb Version)" >"$out/release"
  rm -rf "$dl"
}
