#!/bin/sh
# burn [SECONDS]: keep one CPU busy, as the deck's `stress -c 1` does (busybox has no stress).
# With SECONDS it stops by itself; without, Ctrl-C stops it.
case "${1:-}" in
'' | *[!0-9]*) [ -n "${1:-}" ] && { echo "usage: burn [SECONDS]" >&2; exit 2; } ;;
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
