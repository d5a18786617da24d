#!/bin/sh
# Throughput and latency of the API through nginx with wrk: cached POST /analyze (the hot path), cached
# POST /analyze_data, GET /stats and GET /health. Starts a private stack (songscope master + nginx on free
# loopback ports, a generated WAV served by nginx), primes the cache, prints a table, stops everything.
# Usage: tools/bench-api.sh [--builddir DIR] [--workers N] [--seconds S] [--connections "8 32"]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top
workers=4
seconds=10
conns="8 32"
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) build=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	-h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-api: unknown option $1" >&2; exit 2 ;;
	esac
done
bin="$build/fcgi/songscope.fcgi"
[ -x "$bin" ] || { echo "bench-api: build first ($bin missing)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench-api: wrk not found" >&2; exit 1; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/ss-bench-XXXXXX")
port=$(free_port)
port2=$(free_port)
pids=""
cleanup() {
	trap - INT TERM EXIT
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup INT TERM EXIT

mkdir -p "$dir/www"
python3 - "$dir/www/clip.wav" <<'PY'
import math, random, struct, sys, wave
sr, n = 44100, 44100 * 10
random.seed(1)
frames = bytearray()
for i in range(n):
    t = i / sr
    x = 0.1 * (math.sin(2 * math.pi * 220 * t) + math.sin(2 * math.pi * 277.2 * t) + math.sin(2 * math.pi * 329.6 * t))
    ph = (t - 0.1) % 0.5
    if t > 0.1 and ph < 0.02:
        x += 0.5 * math.exp(-ph / 0.004) * (random.random() * 2 - 1)
    frames += struct.pack('<h', int(max(-1, min(1, x)) * 32000))
w = wave.open(sys.argv[1], 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr); w.writeframes(bytes(frames)); w.close()
PY

cat >"$dir/songscope.conf" <<CONF
database = $dir/songscope.db
state_file = $dir/songscope.state
auth = off
workers = $workers
log_level = warn
fetch_allow_private = true
max_requests = 100000000
CONF
sed -e "s#127.0.0.1:8080#127.0.0.1:$port#" -e "s#/run/songscope/songscope.sock#$dir/fcgi.sock#" \
	"$top/conf/nginx/songscope.conf" >"$dir/site.conf"
cp /etc/nginx/fastcgi_params "$dir/fastcgi_params"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat >"$dir/nginx.conf" <<NGINX
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    fastcgi_temp_path $dir/fastcgi;
    proxy_temp_path $dir/proxy;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/site.conf;
    server { listen 127.0.0.1:$port2; root $dir/www; }
}
NGINX

"$bin" --config "$dir/songscope.conf" --listen "$dir/fcgi.sock" --workers "$workers" 2>"$dir/songscope.log" &
master=$!
pids="$pids $master"
"$nginx" -e "$dir/nginx-error.log" -p "$dir" -c "$dir/nginx.conf" &
pids="$pids $!"
base="http://127.0.0.1:$port"
i=0
until curl -fs "$base/health" >/dev/null 2>&1; do
	i=$((i + 1)); [ $i -lt 100 ] || { echo "bench-api: stack did not start" >&2; cat "$dir/songscope.log" >&2; exit 1; }
	sleep 0.1
done

body="{\"url\":\"http://127.0.0.1:$port2/clip.wav\",\"title\":\"Bench\",\"artist\":\"Bench\"}"
curl -fs -X POST -d "$body" "$base/analyze" >/dev/null
curl -fs -X POST --data-binary @"$dir/www/clip.wav" "$base/analyze_data" >/dev/null
cached=$(curl -fs -X POST -d "$body" "$base/analyze" | python3 -c 'import json,sys; print(json.load(sys.stdin)["cached"])')
[ "$cached" = "True" ] || { echo "bench-api: priming the cache failed" >&2; exit 1; }

cat >"$dir/analyze.lua" <<LUA
wrk.method = "POST"
wrk.body = '$body'
wrk.headers["Content-Type"] = "application/json"
LUA
python3 - "$dir/www/clip.wav" "$dir/upload.lua" <<'PY'
import sys
data = open(sys.argv[1], 'rb').read()
esc = ''.join('\\%03d' % b if (b < 32 or b > 126 or chr(b) in '\\"') else chr(b) for b in data)
open(sys.argv[2], 'w').write('wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = "audio/wav"\n' % esc)
PY

rss() { # resident KiB of every responder of the master, space separated
	for c in $(cat /proc/"$master"/task/*/children 2>/dev/null); do
		awk '/^VmRSS/ {printf "%s ", $2}' /proc/"$c"/status 2>/dev/null
	done
}
served() { curl -fs "$base/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests_served"])'; }
rss_before=$(rss)
served_before=$(served)

run() { # name path script conns
	out=$(wrk -t2 -c"$4" -d"${seconds}s" --latency ${3:+-s "$3"} "$base$2" 2>&1)
	rps=$(printf '%s\n' "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(printf '%s\n' "$out" | awk '$1 == "50%" {print $2}')
	p99=$(printf '%s\n' "$out" | awk '$1 == "99%" {print $2}')
	errs=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print "non-2xx:" $5} /Socket errors/ {print "sock"}' | tr '\n' ' ')
	printf '%-36s %5s %12s %10s %10s  %s\n' "$1" "$4" "$rps" "$p50" "$p99" "${errs:-}"
}
printf 'songscope API through nginx: %s responders, %s s per run, %s cores\n' "$workers" "$seconds" "$(nproc)"
printf '%-36s %5s %12s %10s %10s  %s\n' endpoint conns req/s p50 p99 errors
for c in $conns; do
	run "POST /analyze (cached)" /analyze "$dir/analyze.lua" "$c"
done
for c in $conns; do
	run "GET /health" /health "" "$c"
done
run "GET /stats" /stats "" "$(echo $conns | awk '{print $1}')"
run "POST /analyze_data (cached, 880 KB)" /analyze_data "$dir/upload.lua" 2
served_after=$(served)
printf '\nresponder RSS (KiB) before: %s\nresponder RSS (KiB) after:  %s (over %s requests)\n' "$rss_before" "$(rss)" \
	"$((served_after - served_before))"
