#!/bin/sh
# Build songscope and run it locally: responders on a unix socket behind nginx on 127.0.0.1:8080,
# SQLite and the state file under ./data. Ctrl-C stops everything.
# Usage: tools/quickstart.sh [--port N] [--data DIR] [--workers N]
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
port=8080
data="$top/data"
workers=2
while [ $# -gt 0 ]; do
	case "$1" in
	--port) port=$2; shift 2 ;;
	--data) data=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	-h|--help) sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart: unknown option $1" >&2; exit 2 ;;
	esac
done

"$top/tools/install-deps.sh" --runtime-only

build="$top/build/quickstart"
# A tree already configured in place cannot also be built out of tree: use that build.
[ -f "$top/config.status" ] && build="$top"
if [ ! -x "$build/fcgi/songscope.fcgi" ] || [ -n "$(find "$top/core" "$top/fcgi" "$top/tools" -newer "$build/fcgi/songscope.fcgi" -name '*.[ch]' 2>/dev/null | head -1)" ]; then
	echo "quickstart: building (this takes a minute the first time)"
	[ -x "$top/configure" ] || (cd "$top" && ./autogen.sh >/dev/null 2>&1)
	mkdir -p "$build"
	if [ ! -f "$build/Makefile" ] && [ "$build" != "$top" ]; then
		(cd "$build" && "$top/configure" --quiet --prefix="$build/prefix" >/dev/null)
	fi
	make -C "$build" -j"$(nproc)" >/dev/null
fi

mkdir -p "$data" "$data/nginx"
data=$(cd "$data" && pwd)
sock="$data/songscope.sock"
conf="$data/songscope.conf"
if [ ! -f "$conf" ]; then
	cat >"$conf" <<CONF
# Local development configuration written by tools/quickstart.sh.
database = $data/songscope.db
state_file = $data/songscope.state
auth = required
workers = $workers
log_level = info
CONF
fi

# nginx: the shipped site, pointed at this data dir and port.
sed -e "s#127.0.0.1:8080#127.0.0.1:$port#" -e "s#/run/songscope/songscope.sock#$sock#" \
	"$top/conf/nginx/songscope.conf" >"$data/nginx/site.conf"
cp /etc/nginx/fastcgi_params "$data/nginx/fastcgi_params"
user=""
[ "$(id -u)" -eq 0 ] && user="user root root;"
cat >"$data/nginx/nginx.conf" <<NGINX
$user
daemon off;
worker_processes 1;
pid $data/nginx/nginx.pid;
error_log $data/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log $data/nginx/access.log;
    client_body_temp_path $data/nginx/body;
    fastcgi_temp_path $data/nginx/fastcgi;
    proxy_temp_path $data/nginx/proxy;
    uwsgi_temp_path $data/nginx/uwsgi;
    scgi_temp_path $data/nginx/scgi;
    include $data/nginx/site.conf;
}
NGINX

pids=""
cleanup() {
	trap - INT TERM EXIT
	for p in $pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	echo "quickstart: stopped"
}
trap cleanup INT TERM EXIT

# As root (a container, a fresh VM) songscope refuses to start without a `user` to drop to; this is a
# local try-out, so allow it.
allow_root=""
[ "$(id -u)" = 0 ] && allow_root="--allow-root"
"$build/fcgi/songscope.fcgi" --config "$conf" --listen "$sock" $allow_root 2>>"$data/songscope.log" &
pids="$!"
nginx -e "$data/nginx/error.log" -p "$data/nginx" -c "$data/nginx/nginx.conf" &
pids="$pids $!"

# Wait until nginx answers /health (bounded).
i=0
until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "quickstart: the service did not come up; see $data/songscope.log and $data/nginx/error.log" >&2
		exit 1
	fi
	sleep 0.1
done

key_line=""
admin="$build/tools/songscope-admin"
if [ -x "$admin" ] && [ ! -f "$data/admin-key-created" ]; then
	key=$("$admin" --config "$conf" keys create quickstart-admin --scope admin --json |
		sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
	if [ -n "$key" ]; then
		touch "$data/admin-key-created"
		echo
		echo "  Admin API key (shown once; keep it): $key"
		key_line=" -H 'X-API-Key: $key'"
	fi
fi

cat <<EOT

  songscope is running on http://127.0.0.1:$port  (data in $data)
  Try:
    curl -s http://127.0.0.1:$port/health
    curl -s$key_line -X POST --data-binary @song.mp3 http://127.0.0.1:$port/analyze_data
  Logs: $data/songscope.log   Ctrl-C stops everything.

EOT
wait
