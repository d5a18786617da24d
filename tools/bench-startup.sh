#!/bin/sh
# Start-up cost of songscope-analyze: wall time of `--help` and of one-clip runs, for one or more builds of
# the program, run in turns (A B A B ...) so a busy host slows them alike. Prints a markdown table: median,
# 10th and 90th percentile in ms over --runs runs, and the shared libraries the loader initialises for
# `--help` (LD_DEBUG=libs, glibc). --many DIR adds runs of `-j1 -r DIR` (every clip in DIR analysed by one
# worker process), reported per clip: the in-process cost of a clip without the start-up.
#   tools/bench-startup.sh [--runs N] [--clip FILE]... [--many DIR]... PROGRAM...
# e.g. tools/bench-startup.sh --runs 101 --clip a.flac --clip b.m4a old/songscope-analyze build/tools/songscope-analyze
set -eu

runs=101
clips=
many=
div=1
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--clip) clips="$clips $2"; shift 2 ;;
	--many) many="$many $2"; shift 2 ;;
	--help)
		sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	--) shift; break ;;
	-*) echo "bench-startup.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: tools/bench-startup.sh [--runs N] [--clip FILE]... PROGRAM..." >&2; exit 2; }
for p in "$@"; do
	[ -x "$p" ] || { echo "bench-startup.sh: $p is not executable" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

now_us() {
	t=$(date +%s%N)
	echo $((t / 1000))
}

# One case: $1 = label; the programs run in turns, each with the arguments in $case_args.
measure() {
	label=$1
	shift
	i=0
	while [ $i -lt "$runs" ]; do
		k=0
		for p in "$@"; do
			k=$((k + 1))
			s=$(now_us)
			# shellcheck disable=SC2086
			"$p" $case_args >/dev/null 2>&1 || true
			e=$(now_us)
			echo $((e - s)) >>"$tmp/$k"
		done
		i=$((i + 1))
	done
	k=0
	for p in "$@"; do
		k=$((k + 1))
		libs=-
		if [ "$case_args" = "--help" ]; then
			libs=$(LD_DEBUG=libs "$p" --help 2>&1 >/dev/null | grep -c 'calling init:' || true)
		fi
		sort -n "$tmp/$k" | awk -v prog="$p" -v what="$label" -v libs="$libs" -v div="$div" '
			{ a[NR] = $1 / div }
			END {
				p10 = a[int(NR * 0.1) + 1]; p50 = a[int((NR + 1) / 2)]; p90 = a[int(NR * 0.9) > 0 ? int(NR * 0.9) : 1]
				printf "| %s | %s | %.1f | %.1f | %.1f | %d | %s |\n", prog, what, p50 / 1000, p10 / 1000, p90 / 1000, NR, libs
			}'
		rm -f "$tmp/$k"
	done
}

echo "| program | run | median ms | p10 ms | p90 ms | runs | libraries initialised |"
echo "|---|---|---:|---:|---:|---:|---:|"
case_args=--help
measure "--help" "$@"
for c in $clips; do
	case_args=$c
	measure "one clip: $(basename "$c")" "$@"
done
for d in $many; do
	case_args="-j1 -r $d"
	# shellcheck disable=SC2086
	div=$("$1" $case_args 2>/dev/null | grep -c '^{' || true)
	[ "$div" -gt 0 ] || { echo "bench-startup.sh: no audio files under $d" >&2; exit 2; }
	measure "per clip, $div clips in one process: $(basename "$d")" "$@"
	div=1
done
