#!/bin/sh
# make check's wrapper around every test (LOG_COMPILER, tests/local.mk): run one test program with TMPDIR set to
# a fresh folder of its own, so that whatever it leaves behind (a failed Check assertion ends a test without its
# teardown) is in that folder and nowhere else. After a pass or a skip (exit 0 or 77) the folder is removed; after
# anything else it is kept and its path printed into the test's log.
#   Usage: with-scratch.sh COMMAND... TEST   (the last argument names the test; all of them are run)
# The folder is $SS_SCRATCH_BASE/TEST.XXXXXX (make check: BUILDDIR/test-tmp, which make clean removes), or
# songscope-TEST.XXXXXX in $TMPDIR or /tmp when that path is too long for the unix sockets the tests make under
# it or, as root, cannot be reached by the users some tests run servers as (postgres, www-data, nobody).
set -u

if [ $# -eq 0 ]; then
	echo "usage: with-scratch.sh COMMAND... TEST" >&2
	exit 99
fi
for name; do :; done
name=${name##*/}

# How many characters the longest unix socket path a test makes is longer than its TMPDIR (sun_path holds 107 and
# a NUL), as measured: 36 for TMPDIR/ss-quickstart-XXXXXX/songscope.sock (the harness's own are at most 34:
# TMPDIR/ss-it-XXXXXX/lighttpd-fcgi.sock-N), and 62 for the browser's Chromium:
# TMPDIR/ss-wd-XXXXXX/tmp/org.chromium.Chromium.XXXXXX/SingletonSocket (tests/integration/webdriver.c).
case $name in
check_browser) socket_tail=62 ;;
*) socket_tail=36 ;;
esac
longest=$((107 - socket_tail))

# True when, as root, others may search every folder on the path to the folder $1 (as anyone else, true).
reachable() {
	[ "$(id -u)" = 0 ] || return 0
	r=$(cd "$1" && pwd -P) || return 1
	while :; do
		case $(ls -ld "$r" 2>/dev/null) in
		?????????[xt]*) ;;
		*) return 1 ;;
		esac
		[ "$r" != / ] || return 0
		r=$(dirname "$r")
	done
}

# Make the folder $1/$2 ($2 a mktemp template), its path in dir, when $1 is a folder and the path is short enough
# and reachable.
try() {
	[ -n "$1" ] && [ -d "$1" ] || return 1
	t="$1/$2"
	[ ${#t} -le $longest ] && reachable "$1" || return 1
	dir=$(mktemp -d "$t" 2>/dev/null)
}

base=${SS_SCRATCH_BASE:-}
if [ -n "$base" ] && [ ! -d "$base" ]; then
	mkdir -p "$base" && chmod 755 "$base"
fi
dir=
try "$base" "$name.XXXXXX" ||
	try "${TMPDIR:-}" "songscope-$name.XXXXXX" || try "${TMPDIR:-}" "songscope.XXXXXX" ||
	try /tmp "songscope-$name.XXXXXX" || try /tmp "songscope.XXXXXX" || {
	echo "with-scratch: cannot make a scratch folder for $name" >&2
	exit 99
}
# Servers that some tests start as another user find their files through it.
chmod 755 "$dir"

TMPDIR=$dir
export TMPDIR
"$@"
status=$?
case $status in
0 | 77)
	chmod -R u+rwX "$dir" 2>/dev/null # a test may leave a read-only folder behind
	rm -rf "$dir" || echo "with-scratch: could not remove $dir"
	;;
*)
	echo "with-scratch: $name exited with status $status; its scratch files are kept in $dir"
	;;
esac
exit $status
