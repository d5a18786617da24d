#!/bin/sh
# Measure the keyed hot path through nginx: GET /health (no key) against GET /auth/key with a valid key
# (key cache hit + shared-state limiter, no SQLite) and with an invalid key (negative cache hit + the
# per-address failure limiter). Uses an already built tree; prints a table. Run on an idle machine.
# Usage: tools/bench-auth.sh [--builddir DIR] [--workers N] [--seconds S] [--connections C]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top
workers=2
seconds=10
conns=32
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) build=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	-h|--help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-auth: unknown option $1" >&2; exit 2 ;;
	esac
done
for b in "$build/fcgi/songscope.fcgi" "$build/tools/songscope-admin"; do
	[ -x "$b" ] || { echo "bench-auth: $b is not built" >&2; exit 2; }
done
command -v wrk >/dev/null || { echo "bench-auth: wrk is needed" >&2; exit 2; }
nginx=$(command -v nginx || echo /usr/sbin/nginx)

dir=$(mktemp -d "${TMPDIR:-/tmp}/songscope-bench.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup INT TERM EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$dir/songscope.conf" <<CONF
database = $dir/songscope.db
state_file = $dir/songscope.state
auth = required
workers = $workers
log_level = error
rate_limit_per_minute = 1000000
auth_failures_per_minute = 1000000
CONF
key=$("$build/tools/songscope-admin" --config "$dir/songscope.conf" --json keys create bench |
	sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
[ -n "$key" ] || { echo "bench-auth: could not create a key" >&2; exit 1; }

sed -e "s#127.0.0.1:8080#127.0.0.1:$port#" -e "s#/run/songscope/songscope.sock#$dir/songscope.sock#" \
	"$top/conf/nginx/songscope.conf" >"$dir/site.conf"
cp /etc/nginx/fastcgi_params "$dir/fastcgi_params"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat >"$dir/nginx.conf" <<NGINX
$user
daemon off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $dir/body;
    fastcgi_temp_path $dir/fastcgi;
    proxy_temp_path $dir/proxy;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/site.conf;
}
NGINX

"$build/fcgi/songscope.fcgi" --config "$dir/songscope.conf" --listen "$dir/songscope.sock" 2>"$dir/songscope.log" &
pids="$pids $!"
"$nginx" -c "$dir/nginx.conf" -p "$dir" 2>>"$dir/error.log" &
pids="$pids $!"
i=0
until curl -fs "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "bench-auth: service did not come up" >&2; cat "$dir/songscope.log" "$dir/error.log" >&2; exit 1; }
	sleep 0.1
done

run() { # name, header or "", path
	if [ -n "$2" ]; then
		out=$(wrk -t2 -c"$conns" -d"${seconds}s" -H "$2" "http://127.0.0.1:$port$3")
	else
		out=$(wrk -t2 -c"$conns" -d"${seconds}s" "http://127.0.0.1:$port$3")
	fi
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	lat=$(echo "$out" | awk '/Latency/ {print $2}')
	non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
	printf '%-28s %12s %10s %10s\n' "$1" "$rps" "$lat" "${non2xx:-0}"
}
printf 'workers=%s connections=%s seconds=%s\n' "$workers" "$conns" "$seconds"
printf '%-28s %12s %10s %10s\n' "request" "req/s" "latency" "non-2xx"
run "GET /health (no key)" "" /health
run "GET /auth/key (valid key)" "X-API-Key: $key" /auth/key
run "GET /auth/key (invalid key)" "X-API-Key: ssk_invalid" /auth/key
