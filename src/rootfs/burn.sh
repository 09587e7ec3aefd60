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
	sh -c 'while :; do :; done' &
	loop=$!
	sleep "$1"
	kill "$loop"
	wait "$loop" 2>/dev/null
	exit 0
fi
while :; do :; done
