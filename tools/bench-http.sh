#!/bin/sh
# HTTP benchmark: wrk on loopback against songscope behind nginx (conf/nginx/songscope.conf, auth on, a real
# key) and, in the same run and behind the same nginx, a bare libfcgi hello-world responder as the ceiling.
# Rows: hello-world, GET /health, GET /stats, cached POST /analyze, Spotify's audio-features and
# audio-analysis objects of that song (GET by its track_id), and a cache-miss POST /analyze_data of a clip
# (X-Force-Reanalyze: 1, one connection). Endpoints the tree does not have yet are skipped.
# Prints markdown tables; run it on an otherwise idle machine.
# With --postgresql CONNINFO songscope runs with store = postgresql on that database (give it one of its own),
# and the store transactions per cached POST /analyze are counted from the server's statistics (needs psql).
# Usage: tools/bench-http.sh [--builddir DIR] [--workers N] [--seconds S] [--connections C] [--clip FILE]
#        [--postgresql CONNINFO]
set -eu
. "$(dirname "$0")/bench-lib.sh"

workers=2
seconds=10
conns=32
clip=""
pg=""
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) bench_build=$(cd "$2" && pwd); shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--clip) clip=$2; shift 2 ;;
	--postgresql) pg=$2; shift 2 ;;
	-h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
done

extra=""
[ -z "$pg" ] || extra="store = postgresql
postgresql = $pg"
bench_setup "$workers" "$extra"
d=$bench_dir

# The clip: the one given, or 30 s of generated 44.1 kHz stereo (tone and clicks at 120 BPM).
if [ -n "$clip" ]; then
	[ -r "$clip" ] || bench_die "cannot read $clip"
	ext=${clip##*.}
	cp "$clip" "$d/www/clip.$ext"
else
	ext=wav
	python3 - "$d/www/clip.wav" <<'PY'
import math, struct, sys, wave
rate, secs = 44100, 30
w = wave.open(sys.argv[1], "wb")
w.setnchannels(2); w.setsampwidth(2); w.setframerate(rate)
frames = bytearray()
for i in range(rate * secs):
    t = i / rate
    b = t % 0.5
    v = 0.2 * math.sin(2 * math.pi * 440 * t) + (0.6 * (1 - b / 0.01) if b < 0.01 else 0)
    s = int(max(-1, min(1, v)) * 32767)
    frames += struct.pack("<hh", s, s)
w.writeframes(bytes(frames))
w.close()
PY
fi
clip_bytes=$(wc -c <"$d/www/clip.$ext")
clip_url="http://127.0.0.1:$bench_static_port/clip.$ext"
printf '{"url": "%s", "title": "Bench Song", "artist": "Bench Artist"}' "$clip_url" >"$d/analyze.json"

status() { # METHOD PATH [curl args...]
	m=$1 p=$2
	shift 2
	curl -s -o "$d/last.json" -w '%{http_code}' -X "$m" -H "X-API-Key: $bench_key" "$@" "$bench_url$p"
}

# Warm up and find out what this tree serves.
have_stats=no; have_analyze=no; have_data=no
[ "$(status GET /stats)" = 200 ] && have_stats=yes
code=$(status POST /analyze -H 'Content-Type: application/json' --data-binary @"$d/analyze.json")
if [ "$code" = 200 ]; then
	code=$(status POST /analyze -H 'Content-Type: application/json' --data-binary @"$d/analyze.json")
	grep -q '"cached": *true' "$d/last.json" && have_analyze=yes
fi
[ "$have_analyze" = yes ] || echo "note: cached POST /analyze not available (status $code): $(head -c 200 "$d/last.json")" >&2
track=""
[ "$have_analyze" = yes ] && track=$(sed -n 's/.*"track_id": *"\([0-9A-Za-z]*\)".*/\1/p' "$d/last.json")
have_spotify=no
[ -n "$track" ] && [ "$(status GET "/v1/audio-analysis/$track")" = 200 ] && have_spotify=yes &&
	analysis_bytes=$(wc -c <"$d/last.json")
[ "$have_spotify" = yes ] || echo "note: GET /v1/audio-analysis/{id} not available" >&2
code=$(status POST /analyze_data -H 'X-Force-Reanalyze: 1' -H 'Content-Type: application/octet-stream' \
	--data-binary @"$d/www/clip.$ext")
[ "$code" = 200 ] && have_data=yes
[ "$have_data" = yes ] || echo "note: POST /analyze_data not available (status $code)" >&2

bench_lua "$d/hello.lua" GET ""
bench_lua "$d/health.lua" GET ""
bench_lua "$d/stats.lua" GET "" "X-API-Key: $bench_key"
bench_lua "$d/analyze.lua" POST "$d/analyze.json" "X-API-Key: $bench_key" "Content-Type: application/json"
bench_lua "$d/data.lua" POST "$d/www/clip.$ext" "X-API-Key: $bench_key" "Content-Type: application/octet-stream" \
	"X-Force-Reanalyze: 1"

results=$d/results
: >"$results"
run() { # NAME URL LUA CONNS
	r=$(bench_wrk "$2" "$3" "$4" "$seconds")
	[ -n "$r" ] || bench_die "wrk gave no result for $1"
	echo "$1|$4|$r" >>"$results"
}
run "hello-world (bare libfcgi, ceiling)" "$bench_hello_url/" "$d/hello.lua" "$conns"
run "GET /health" "$bench_url/health" "$d/health.lua" "$conns"
[ "$have_stats" = yes ] && run "GET /stats" "$bench_url/stats" "$d/stats.lua" "$conns"
# The server's committed transactions around the cached run (its statistics reach the view when the backends
# are idle: at most 10 s later): store statements per cached hit, each one a round trip.
pg_commits() { psql -XAtq "$pg" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
pg_per_hit=""
if [ "$have_analyze" = yes ]; then
	[ -n "$pg" ] && command -v psql >/dev/null && sleep 11 && c0=$(pg_commits)
	run "POST /analyze (cached)" "$bench_url/analyze" "$d/analyze.lua" "$conns"
	if [ -n "$pg" ] && command -v psql >/dev/null; then
		sleep 11
		c1=$(pg_commits)
		hits=$(awk -F'|' '$1 == "POST /analyze (cached)" { split($3, r, " "); print r[1] * '"$seconds"' }' "$results")
		pg_per_hit=$(awk -v a="$c0" -v b="$c1" -v h="$hits" 'BEGIN { printf "%.2f", (h > 0 ? (b - a) / h : 0) }')
	fi
fi
if [ "$have_spotify" = yes ]; then
	run "GET /v1/audio-features/{id}" "$bench_url/v1/audio-features/$track" "$d/stats.lua" "$conns"
	run "GET /v1/audio-analysis/{id} ($analysis_bytes-byte answer)" "$bench_url/v1/audio-analysis/$track" \
		"$d/stats.lua" "$conns"
fi
[ "$have_data" = yes ] && run "POST /analyze_data (miss, $clip_bytes-byte .$ext)" "$bench_url/analyze_data" "$d/data.lua" 1

cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
echo "HTTP benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($cpu); $(uname -sr)"
echo "wrk -t2 -c$conns -d${seconds}s on loopback (the miss row: 1 connection), nginx $("$bench_nginx" -v 2>&1 | sed 's#.*/##'), 1 nginx worker,"
echo "$workers songscope responders, auth = required with a real key; hello-world: $workers bare libfcgi processes."
[ -z "$pg" ] || echo "store = postgresql ($(psql -XAtq "$pg" -c 'SHOW server_version' 2>/dev/null || echo '?'), unix socket);" \
	"store transactions per cached POST /analyze: ${pg_per_hit:-not measured}"
echo
echo "| endpoint | connections | req/s | p50 ms | p99 ms | non-2xx | socket errors | % of hello-world |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
awk -F'|' '
	NR == 1 { split($3, h, " "); hello = h[1] }
	{ split($3, r, " ");
	  printf "| %s | %s | %.0f | %.2f | %.2f | %d | %d | %.0f%% |\n", $1, $2, r[1], r[2], r[3], r[4], r[6],
		(hello > 0) ? 100 * r[1] / hello : 0 }' "$results"
echo
echo "| target (DESIGN.md) | measured | met |"
echo "|---|---|---|"
awk -F'|' '
	{ split($3, r, " "); rps[$1] = r[1]; p99[$1] = r[3] }
	END {
		hello = rps["hello-world (bare libfcgi, ceiling)"]
		h = rps["GET /health"]
		printf "| /health >= 60%% of hello-world | %.0f%% | %s |\n", 100 * h / hello, (h >= 0.6 * hello) ? "yes" : "no"
		a = "POST /analyze (cached)"
		if (a in rps) {
			printf "| cached /analyze >= 50%% of hello-world | %.0f%% | %s |\n", 100 * rps[a] / hello, (rps[a] >= 0.5 * hello) ? "yes" : "no"
			printf "| cached /analyze >= 15x the original under gunicorn (750 req/s) = 11250 req/s | %.0f req/s (%.1fx) | %s |\n", rps[a], rps[a] / 750, (rps[a] >= 11250) ? "yes" : "no"
			printf "| cached /analyze p99 <= 10 ms | %.2f ms | %s |\n", p99[a], (p99[a] <= 10) ? "yes" : "no"
		} else {
			print "| cached /analyze | not measured: endpoint missing | - |"
		}
	}' "$results"
