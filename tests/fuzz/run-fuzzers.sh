#!/bin/sh
# Run libFuzzer targets, JOBS at a time, each for SECONDS on seeds written by make_seeds plus the corpus it
# grew in earlier runs. Prints one line per target (executions, exec/s, corpus) and, for a finding, the
# target, the input that triggered it and the end of its log; exits 1 when any target found something.
# Usage: run-fuzzers.sh DIR SECONDS JOBS TARGET...   (DIR holds fuzz_TARGET and make_seeds; called by make fuzz)
set -u

dir=$1
secs=$2
jobs=$3
shift 3
[ $# -gt 0 ] || { echo "run-fuzzers: no targets" >&2; exit 2; }

# libFuzzer options per target: the decoder target takes whole audio files and slower runs.
opts() {
	case $1 in
	analyze) echo "-max_len=131072 -timeout=20 -rss_limit_mb=1536" ;;
	body | request) echo "-max_len=16384 -timeout=10 -rss_limit_mb=1024" ;;
	*) echo "-max_len=4096 -timeout=10 -rss_limit_mb=1024" ;;
	esac
}

mkdir -p "$dir/seeds" "$dir/corpus" "$dir/logs" "$dir/findings" || exit 2
for t in "$@"; do
	[ -x "$dir/fuzz_$t" ] || { echo "run-fuzzers: $dir/fuzz_$t is not built" >&2; exit 2; }
	rm -rf "$dir/seeds/$t" "$dir/findings/$t"
	mkdir -p "$dir/seeds/$t" "$dir/corpus/$t" "$dir/findings/$t" || exit 2
	"$dir/make_seeds" "$t" "$dir/seeds/$t" || { echo "run-fuzzers: make_seeds $t failed" >&2; exit 2; }
done

run_one() {
	t=$1
	# shellcheck disable=SC2046 # opts are words
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		"$dir/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 $(opts "$t") \
		-artifact_prefix="$dir/findings/$t/" "$dir/corpus/$t" "$dir/seeds/$t" >"$dir/logs/$t.log" 2>&1
	echo $? >"$dir/logs/$t.rc"
}

start=$(date +%s)
count=$#
batch=
while [ $# -gt 0 ]; do
	pids=
	n=0
	while [ $# -gt 0 ] && [ $n -lt "$jobs" ]; do
		run_one "$1" &
		pids="$pids $!"
		n=$((n + 1))
		batch="$batch $1"
		shift
	done
	for p in $pids; do wait "$p"; done
done

status=0
printf '%-10s %10s %8s %8s  %s\n' target execs exec/s corpus result
for t in $batch; do
	log="$dir/logs/$t.log"
	rc=$(cat "$dir/logs/$t.rc" 2>/dev/null || echo 99)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	corp=$(ls "$dir/corpus/$t" | wc -l)
	if [ "$rc" = 0 ]; then
		res=ok
	else
		res="FINDING (exit $rc)"
		status=1
	fi
	printf '%-10s %10s %8s %8s  %s\n' "$t" "${execs:-?}" "${eps:-?}" "$corp" "$res"
done
for t in $batch; do
	[ "$(cat "$dir/logs/$t.rc" 2>/dev/null || echo 99)" = 0 ] && continue
	echo "==== fuzz_$t: finding; log $dir/logs/$t.log"
	for f in "$dir/findings/$t"/*; do
		[ -f "$f" ] && echo "input: $f (reproduce: $dir/fuzz_$t $f)"
	done
	grep -E 'ERROR|SUMMARY|runtime error|FUZZ-ASSERT|deadly signal|Test unit written' "$dir/logs/$t.log" |
		head -20
	tail -30 "$dir/logs/$t.log"
done
echo "fuzz: $count targets, $secs s each, $jobs at a time: $(($(date +%s) - start)) s"
exit $status
