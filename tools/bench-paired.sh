#!/bin/sh
# Paired comparison of songscope-analyze builds on one run, for a noisy shared host: the programs run in turns,
# each turn `perf stat -r 5` of each program, and every program is reported against the first one of the same
# turn, so a burst of load that slows a turn slows all programs in it alike. Prints a markdown row per program:
# the median over turns of its wall and CPU (task-clock) per run, and the median of its per-turn ratios to the
# first program. Needs perf (Debian: linux-perf). ARGS is one word list passed to every program.
#   tools/bench-paired.sh [--turns N] [--args "ARGS"] PROGRAM...
# e.g. tools/bench-paired.sh --turns 30 --args clip.flac old/songscope-analyze build/tools/songscope-analyze
#      chrt -f 10 tools/bench-paired.sh --args "-j1 -r DIR" old new   (the two cores to the programs: real-time)
set -eu

turns=30
args=
while [ $# -gt 0 ]; do
	case $1 in
	--turns) turns=$2; shift 2 ;;
	--args) args=$2; shift 2 ;;
	--help)
		sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	--) shift; break ;;
	-*) echo "bench-paired.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ $# -lt 1 ] || [ -z "$args" ]; then
	echo "usage: tools/bench-paired.sh [--turns N] --args \"ARGS\" PROGRAM..." >&2
	exit 2
fi
command -v perf >/dev/null 2>&1 || { echo "bench-paired.sh: perf is not installed (Debian: linux-perf)" >&2; exit 2; }
for p in "$@"; do
	[ -x "$p" ] || { echo "bench-paired.sh: $p is not executable" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

i=0
while [ "$i" -lt "$turns" ]; do
	k=0
	for p in "$@"; do
		k=$((k + 1))
		# shellcheck disable=SC2086
		perf stat -r 5 "$p" $args 2>&1 >/dev/null | awk -v f="$tmp/$k" '
			/task-clock/ { cpu = $1 }
			/seconds time elapsed/ { wall = $1 * 1000 }
			END { if (cpu == "" || wall == "") exit 1; print wall, cpu >> f }' ||
			{ echo "bench-paired.sh: perf stat failed for $p" >&2; exit 1; }
	done
	i=$((i + 1))
done

median() { # column $1 of file $2
	sort -g -k"$1" "$2" | awk -v c="$1" '{ a[NR] = $c } END { print a[int((NR + 1) / 2)] }'
}
echo "| program | wall ms | wall ratio | CPU ms | CPU ratio | turns |"
echo "|---|---:|---:|---:|---:|---:|"
k=0
for p in "$@"; do
	k=$((k + 1))
	paste -d' ' "$tmp/1" "$tmp/$k" | awk '{ print $3, $4, $3 / $1, $4 / $2 }' >"$tmp/r"
	printf '| %s | %.1f | %.3f | %.1f | %.3f | %d |\n' "$p" "$(median 1 "$tmp/r")" "$(median 3 "$tmp/r")" \
		"$(median 2 "$tmp/r")" "$(median 4 "$tmp/r")" "$turns"
done
