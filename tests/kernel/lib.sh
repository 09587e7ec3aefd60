# Shared by the payloads in tests/kernel/ (/bin/sh inside the test VM: dash, as on Debian and
# Ubuntu; see scripts/vm-test.sh).

# A mountinfo line as "mount-point fstype propagation" (propagation: the optional fields, e.g.
# shared:1 or master:3, or "private"). Used on /proc/1/mountinfo: PID 1 of the VM lives in the
# init mount namespace, the one a leak would reach.
# shellcheck disable=SC2016 # an awk program: $5 is awk's, not the shell's
MOUNT_FMT='function fmt(   i, tags) {
  tags = ""
  for (i = 7; i <= NF && $i != "-"; i++) tags = tags (tags == "" ? "" : ",") $i
  return $5 " " $(i + 1) " " (tags == "" ? "private" : tags)
}'

mount_snapshot() { # mountinfo > snapshot
  awk "$MOUNT_FMT"' { print fmt() }' "$1" | sort
}

# Lines added to (+) or removed from (-) the table between two snapshots; empty when equal.
mount_changes() { # before after
  diff -U0 "$1" "$2" | sed -n 's/^\([+-]\)\([^+-]\)/\1 \2/p'
}

# Every addition (+) or removal (-) against the snapshot BEFORE that any table in a mountwatch
# log showed, once each: catches a leak that was undone before the run ended.
watch_changes() { # before mountwatch-log
  awk "$MOUNT_FMT"'
    FNR == NR { before[$0] = 1; next }
    function close_dump(   b) {
      if (!open) return
      for (b in before) if (!(b in now)) print "- " b
      delete now
    }
    /^# change / { close_dump(); open = 1; next }
    /^#/ { next }
    { line = fmt(); now[line] = 1; if (!(line in before)) print "+ " line }
    END { close_dump() }
  ' "$1" "$2" | sort -u
}

# How many times the table changed while mountwatch ran.
watch_count() { # mountwatch-log
  sed -n 's/^# changes //p' "$1"
}

# What a session may leave on the host if it did not clean up.
leftovers() {
  ls -d /tmp/nsdojo-* /run/nsdojo/* /sys/fs/cgroup/nsdojo* /sys/fs/cgroup/*/nsdojo* /run/netns/nsdojo* 2>/dev/null
}
