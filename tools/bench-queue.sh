#!/bin/sh
# Analysis queue: bursts of parallel cache-miss uploads (distinct 30 s clips, POST /analyze_data) through
# nginx to songscope with the given analysis_queue_timeout; per burst, how many got 200 and 503, the
# latency p50/max, and the longest any request waited in the queue for a slot (from the debug log).
# Prints a markdown table; run it on an otherwise idle machine.
# Usage: tools/bench-queue.sh [--builddir DIR] [--workers N] [--timeout SECONDS] [--bursts "4 16 64"]
set -eu
. "$(dirname "$0")/bench-lib.sh"

workers=2
timeout=10
bursts="4 16 64"
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) bench_build=$(cd "$2" && pwd); shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--timeout) timeout=$2; shift 2 ;;
	--bursts) bursts=$2; shift 2 ;;
	-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
done

bench_setup "$workers" "analysis_queue_timeout = $timeout
log_level = debug"
d=$bench_dir

# Distinct clips: 30 s of 44.1 kHz mono (tone and clicks at 120 BPM), the first sample differing per clip
# so that no two uploads share a cache key.
max=0
for n in $bursts; do [ "$n" -gt "$max" ] && max=$n; done
python3 - "$d/www" "$max" <<'PY'
import math, struct, sys
rate, secs = 44100, 30
out, n = sys.argv[1], int(sys.argv[2])
frames = bytearray()
for i in range(rate * secs):
    t = i / rate
    b = t % 0.5
    v = 0.2 * math.sin(2 * math.pi * 440 * t) + (0.6 * (1 - b / 0.01) if b < 0.01 else 0)
    frames += struct.pack("<h", int(max(-1, min(1, v)) * 32767))
head = b"RIFF" + struct.pack("<I", 36 + len(frames)) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) \
    + b"data" + struct.pack("<I", len(frames))
for k in range(n):
    frames[0:2] = struct.pack("<h", k)
    with open("%s/clip%d.wav" % (out, k), "wb") as f:
        f.write(head + frames)
PY

echo "| workers | analysis_queue_timeout | burst | 200 | 503 | p50 ms | max ms | longest queue wait ms |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|"
round=0
for n in $bursts; do
	: >"$d/songscope.log.round"
	before=$(wc -l <"$d/songscope.log")
	i=0
	pids=""
	while [ $i -lt "$n" ]; do
		curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -X POST -H "X-API-Key: $bench_key" \
			-H "Content-Type: audio/wav" -H "X-Cache-Namespace: r$round" --data-binary "@$d/www/clip$i.wav" \
			"$bench_url/analyze_data" >"$d/out.$i" &
		pids="$pids $!"
		i=$((i + 1))
	done
	for p in $pids; do wait "$p" || true; done
	cat "$d"/out.* >"$d/all"
	rm -f "$d"/out.*
	ok=$(grep -c '^200 ' "$d/all" || true)
	busy=$(grep -c '^503 ' "$d/all" || true)
	lat=$(awk '{print $2 * 1000}' "$d/all" | sort -n)
	p50=$(echo "$lat" | awk -v n="$n" 'NR == int((n + 1) / 2) {printf "%.0f", $1}')
	mx=$(echo "$lat" | tail -1 | awk '{printf "%.0f", $1}')
	wait_ms=$(tail -n +"$((before + 1))" "$d/songscope.log" | sed -n 's/.*waited \([0-9]*\) ms for an analysis slot.*/\1/p' |
		sort -n | tail -1)
	echo "| $workers | $timeout | $n | $ok | $busy | $p50 | $mx | ${wait_ms:--} |"
	round=$((round + 1))
done
