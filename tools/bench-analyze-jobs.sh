#!/bin/sh
# songscope-analyze --jobs benchmark: analyses every audio file under DIR (-r) with --jobs 1 and with --jobs 2
# (or the counts given with --jobs), RUNS times each, the runs of the different counts interleaved so a busy
# spell on the machine falls on all of them, after one untimed run that brings the files into the page cache.
# Prints a markdown table: files, wall seconds (best and median), files/s and the speed-up over the first
# count. A last row is the control: for the largest count N, N separate `--jobs 1` processes started together,
# each given every N-th file, which is what the machine gives N processes at that moment without the pool
# (on a busy machine both fall short of N times one core alike). Run it on an otherwise idle machine; the
# load average before and after is printed with the table.
# Usage: tools/bench-analyze-jobs.sh [--builddir DIR] [--runs N] [--jobs "1 2"] [--repeat K] FOLDER
#   --repeat K  name FOLDER K times, so each run analyses K times as many files (longer, steadier runs)
set -eu

build=$(pwd)
runs=3
counts="1 2"
repeat=1
folder=""
usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) build=$(cd "$2" && pwd); shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--jobs) counts=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	-h|--help) usage; exit 0 ;;
	-*) echo "bench-analyze-jobs: unknown option $1" >&2; exit 2 ;;
	*) [ -z "$folder" ] || { echo "bench-analyze-jobs: one FOLDER only" >&2; exit 2; }; folder=$1; shift ;;
	esac
done
[ -n "$folder" ] || { usage >&2; exit 2; }
[ -d "$folder" ] || { echo "bench-analyze-jobs: $folder is not a folder" >&2; exit 2; }
for v in "$runs" "$repeat" $counts; do
	case "$v" in ''|*[!0-9]*|0) echo "bench-analyze-jobs: --runs, --repeat and --jobs take whole numbers >= 1" >&2; exit 2 ;; esac
done
analyze="$build/tools/songscope-analyze"
[ -x "$analyze" ] || { echo "bench-analyze-jobs: no $analyze (give --builddir)" >&2; exit 1; }

set --
i=0
while [ $i -lt "$repeat" ]; do
	set -- "$@" "$folder"
	i=$((i + 1))
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-analyze-jobs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# One untimed run: the page cache, and the number of files and failures.
st=0
"$analyze" --jobs 1 -r "$@" >"$tmp/out" 2>/dev/null || st=$?
files=$(wc -l <"$tmp/out")
failed=$(grep -c '"error":' "$tmp/out" || true)
[ "$files" -gt 0 ] || { echo "bench-analyze-jobs: no audio files under $folder" >&2; exit 1; }
[ $st -le 1 ] || { echo "bench-analyze-jobs: songscope-analyze exited $st" >&2; exit 1; }

# The control's file lists (paths as printed; one with a '"' or '\\' in it would be printed escaped).
maxj=$(for j in $counts; do echo "$j"; done | sort -n | tail -n 1)
sed -n 's/^{"file":"\([^"]*\)".*/\1/p' "$tmp/out" >"$tmp/list"
k=0
while [ $k -lt "$maxj" ]; do
	awk -v n="$maxj" -v k="$k" '(NR - 1) % n == k' "$tmp/list" >"$tmp/part$k"
	k=$((k + 1))
done

load_before=$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo "?")
r=0
while [ $r -lt "$runs" ]; do
	for j in $counts; do
		t0=$(date +%s.%N)
		"$analyze" --jobs "$j" -r "$@" >/dev/null 2>&1 || true
		t1=$(date +%s.%N)
		echo "$j $t0 $t1" >>"$tmp/times"
	done
	if [ "$maxj" -gt 1 ]; then
		t0=$(date +%s.%N)
		pids=""
		k=0
		while [ $k -lt "$maxj" ]; do
			if [ -s "$tmp/part$k" ]; then
				xargs -d '\n' "$analyze" --jobs 1 <"$tmp/part$k" >/dev/null 2>&1 &
				pids="$pids $!"
			fi
			k=$((k + 1))
		done
		for p in $pids; do wait "$p" || true; done
		t1=$(date +%s.%N)
		echo "sep $t0 $t1" >>"$tmp/times"
	fi
	r=$((r + 1))
done
load_after=$(cut -d ' ' -f 1-3 /proc/loadavg 2>/dev/null || echo "?")

echo "songscope-analyze -r over $files files ($failed of them error lines), $runs runs per --jobs, interleaved;"
echo "$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') processors online; load average $load_before before, $load_after after."
echo
echo "| --jobs | files | runs | best s | median s | files/s (best) | files/s (median) | speed-up (median) | speed-up (best) |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
first=""
rows=$counts
[ "$maxj" -gt 1 ] && rows="$rows sep"
for j in $rows; do
	awk -v j="$j" '$1 == j { printf "%.6f\n", $3 - $2 }' "$tmp/times" | sort -n >"$tmp/t$j"
	best=$(head -n 1 "$tmp/t$j")
	median=$(awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.6f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }' "$tmp/t$j")
	[ -n "$first" ] || { first=$j; best1=$best; median1=$median; }
	label=$j
	[ "$j" = sep ] && label="$maxj separate \`--jobs 1\` (control)"
	awk -v j="$label" -v n="$files" -v r="$runs" -v b="$best" -v m="$median" -v b1="$best1" -v m1="$median1" 'BEGIN {
		printf "| %s | %d | %d | %.2f | %.2f | %.1f | %.1f | %.2fx | %.2fx |\n", j, n, r, b, m, n / b, n / m, m1 / m, b1 / b }'
done
