#!/bin/sh
# burn [SECONDS]: keep one CPU busy, as the deck's `stress -c 1` does (busybox has no stress).
# With SECONDS it stops by itself; without, Ctrl-C stops it.
case "${1:-}" in
'' | *[!0-9]*)
	if [ -n "${1:-}" ]; then
		if [ "${NSDOJO_TRY_LANG:-}" = ko ]; then echo "사용법: burn [초]" >&2; else echo "usage: burn [SECONDS]" >&2; fi
		exit 2
	fi
	;;
esac
if [ -n "${1:-}" ]; then
	# A pipeline, not `&`: a script's background job reads /dev/null, which a new root
	# made by `cp -a` of the rootfs (the container lesson) does not have, and then never
	# starts. The loop says its PID; the timer stops it (quietly: it traps TERM).
	sh -c 'echo $$; trap "exit 0" TERM; while :; do :; done' | {
		read -r loop
		sleep "$1"
		kill "$loop"
	}
	exit 0
fi
while :; do :; done
