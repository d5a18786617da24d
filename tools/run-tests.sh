#!/bin/sh
# Build songscope and run every test: the Check suites and the integration tests (real responder behind a
# real nginx on loopback), once with warnings as errors (then every fuzz target for 30 s) and once under
# ASan+UBSan.
# Usage: tools/run-tests.sh [--quick]   (--quick: skip the sanitizer build)
set -eu

usage() {
	cat <<USAGE
Usage: tools/run-tests.sh [--quick] [--help]
Install missing build dependencies (tools/install-deps.sh), then build songscope out of tree and run every
test: build/werror (warnings as errors, make check, make distcheck, then every fuzz target for 30 s) and
build/sanitizers (ASan+UBSan).
  --quick   skip the sanitizer build
  --help    print this help and exit
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
quick=0
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "run-tests: unknown option '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
	shift
done

"$top/tools/install-deps.sh"

if [ -f "$top/config.status" ]; then
	echo "run-tests: the source tree has an in-tree build; run 'make distclean' there first" >&2
	exit 2
fi
[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
jobs=$(nproc)

run_build() { # name, configure flags...
	name=$1
	shift
	dir="$top/build/$name"
	mkdir -p "$dir"
	echo "== $name build: configure $*"
	(cd "$dir" && "$top/configure" --quiet "$@" >"$dir/configure.out" 2>&1) || { tail -20 "$dir/configure.out"; return 1; }
	make -C "$dir" -j"$jobs" >"$dir/build.out" 2>&1 || { tail -30 "$dir/build.out"; return 1; }
	echo "== $name build: make check"
	if ! make -C "$dir" -j"$jobs" check >"$dir/check.out" 2>&1; then
		grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$dir/check.out" || true
		for log in $(grep -lE '^(FAIL|ERROR)' $(find "$dir/tests" -name '*.log') 2>/dev/null); do
			echo "---- $log"
			tail -40 "$log"
		done
		sed -n '/^====/,$p' "$dir/check.out" | grep -E '^#' || true
		return 1
	fi
	grep -E '^(PASS|FAIL|ERROR|SKIP|XFAIL|XPASS):' "$dir/check.out"
	return 0
}

status=0
run_build werror --enable-werror --enable-test-hooks || status=1
if [ $status -eq 0 ]; then
	echo "== werror build: make distcheck"
	if ! make -C "$top/build/werror" -j"$jobs" distcheck >"$top/build/werror/distcheck.out" 2>&1; then
		tail -40 "$top/build/werror/distcheck.out"
		echo "FAIL: distcheck" >>"$top/build/werror/check.out"
		status=1
	fi
fi
# Every libFuzzer target (tests/fuzz.mk) for 30 s, two at a time: a finding fails the run and is named with its
# input. Needs clang (configure finds it); the whole step takes under 5 minutes on two cores.
if [ $status -eq 0 ]; then
	echo "== werror build: make fuzz FUZZ_SECONDS=30"
	if make -C "$top/build/werror" fuzz FUZZ_SECONDS=30 FUZZ_JOBS=2 >"$top/build/werror/fuzz.out" 2>&1; then
		if grep -q '^target ' "$top/build/werror/fuzz.out"; then
			sed -n '/^target /,/^fuzz: /p' "$top/build/werror/fuzz.out"
			echo "PASS: fuzz" >>"$top/build/werror/check.out"
		else # configure found no clang: say so instead of counting a pass
			tail -3 "$top/build/werror/fuzz.out"
			echo "SKIP: fuzz" >>"$top/build/werror/check.out"
		fi
	else
		if grep -q '^target ' "$top/build/werror/fuzz.out"; then
			sed -n '/^target /,/^fuzz: /p' "$top/build/werror/fuzz.out" | head -150
		else
			tail -30 "$top/build/werror/fuzz.out"
		fi
		echo "FAIL: fuzz" >>"$top/build/werror/check.out"
		status=1
	fi
fi
if [ $quick -eq 0 ]; then
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_build sanitizers --enable-werror --enable-sanitizers --enable-test-hooks || status=1
fi

# The closing summary counts every test of every build.
pass=0
fail=0
for out in "$top"/build/werror/check.out "$top"/build/sanitizers/check.out; do
	[ -f "$out" ] || continue
	[ $quick -eq 1 ] && [ "$out" = "$top/build/sanitizers/check.out" ] && continue
	p=$(grep -cE '^PASS:' "$out" || true)
	f=$(grep -cE '^(FAIL|ERROR|XPASS):' "$out" || true)
	pass=$((pass + p))
	fail=$((fail + f))
done
[ $status -ne 0 ] && [ $fail -eq 0 ] && fail=1
echo "$pass passed, $fail failed"
exit $status
