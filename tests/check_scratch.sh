#!/bin/sh
# make check's wrapper (tests/with-scratch.sh) around tests/check_scratch, whose probe test fails on purpose with
# SS_SCRATCH_PROBE_FAIL set (a failed Check assertion skips the teardown, so its folder stays):
# * after a pass, or a skip (77), the test's scratch folder is gone; after a failure it is kept, named in the
#   log, with what the test left in it;
# * the test's files are in that folder only: nothing named ss-* appears in the TMPDIR the wrapper was started
#   with (make check's /tmp);
# * a base whose paths would be too long for the tests' unix sockets is not used: the folder is then made in
#   that TMPDIR (songscope-TEST.XXXXXX), removed or kept the same way.
# The wrapper runs here with relative, short TMPDIR and base paths (o and b in a folder of this test's own), so
# that it takes the same way wherever this test runs.
set -eu

src=${SS_TOP_SRCDIR:?run through make check}
b=${SS_TOP_BUILDDIR:?run through make check}
wrap="$src/tests/with-scratch.sh"
probe="$b/tests/check_scratch"
tmp=$(mktemp -d)
trap 'chmod -R u+rwX "$tmp"; rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # as root the wrapper uses only folders others can reach
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
cd "$tmp"
mkdir o
long=$(printf 'd%.0s' $(seq 1 90))
mkdir "$long"

# run NAME BASE [ENV...]: the probe through the wrapper (TMPDIR=o, SS_SCRATCH_BASE=BASE), output in NAME.log;
# its exit status in st
run() {
	name=$1
	base=$2
	shift 2
	st=0
	env TMPDIR=o SS_SCRATCH_BASE="$base" "$@" sh "$wrap" "$probe" >"$name.log" 2>&1 || st=$?
}
# nothing named ss-* in o
clean_parent() {
	left=$(ls -A o | grep '^ss-' || :)
	[ -z "$left" ] || fail "$1: $left in the wrapper's TMPDIR"
}
# the folder the wrapper says it kept, in the variable kept
kept_in() {
	kept=$(sed -n 's/^with-scratch: .* its scratch files are kept in //p' "$1.log")
	[ -n "$kept" ] || fail "$1: no kept folder named in the log: $(cat "$1.log")"
	[ -d "$kept" ] || fail "$1: $kept is not a folder"
	ls "$kept"/ss-probe-*/data >/dev/null 2>&1 || fail "$1: the probe's file is not in $kept: $(ls -R "$kept")"
}

run pass b
[ $st -eq 0 ] || fail "the probe failed: $(cat pass.log)"
[ -d b ] || fail "the wrapper did not make its base"
[ -z "$(ls -A b)" ] || fail "left in the base after a pass: $(ls -A b)"
[ -z "$(ls -A o)" ] || fail "left in the wrapper's TMPDIR after a pass: $(ls -A o)"

run failed b SS_SCRATCH_PROBE_FAIL=1
[ $st -ne 0 ] && [ $st -ne 77 ] || fail "the failing probe exited $st: $(cat failed.log)"
grep -q 'failing on purpose' failed.log || fail "the probe did not fail where expected: $(cat failed.log)"
kept_in failed
case $kept in
b/check_scratch.*) ;;
*) fail "kept in $kept, not in the base" ;;
esac
clean_parent failed
rm -rf "$kept"

printf 'touch "$TMPDIR/ss-skipped"\nexit 77\n' >skip.sh
st=0
TMPDIR=o SS_SCRATCH_BASE=b sh "$wrap" sh skip.sh >skip.log 2>&1 || st=$?
[ $st -eq 77 ] || fail "a skip exited $st: $(cat skip.log)"
[ -z "$(ls -A b)" ] || fail "left in the base after a skip: $(ls -A b)"

# A base too long for sockets: the folder goes into the wrapper's TMPDIR instead.
run fallback "$long"
[ $st -eq 0 ] || fail "the probe failed with a long base: $(cat fallback.log)"
[ -z "$(ls -A "$long")" ] || fail "a base too long for sockets was used: $(ls -A "$long")"
[ -z "$(ls -A o)" ] || fail "left in the wrapper's TMPDIR after a pass: $(ls -A o)"

run fallback-failed "$long" SS_SCRATCH_PROBE_FAIL=1
[ $st -ne 0 ] || fail "the failing probe passed with a long base"
kept_in fallback-failed
case $kept in
o/songscope-check_scratch.*) ;;
*) fail "with a long base, kept in $kept" ;;
esac
clean_parent fallback-failed
exit 0
