#!/bin/sh
# Build songscope and run it locally: responders on a unix socket behind nginx on 127.0.0.1:8080,
# SQLite and the state file under ./data. Ctrl-C stops everything.
# Usage: tools/quickstart.sh [--port N] [--data DIR] [--workers N] [--build DIR] [--no-deps]
#   --port N     nginx's port on 127.0.0.1 (default 8080; pick another when 8080 is taken)
#   --data DIR   database, state file, logs and the nginx files (default ./data)
#   --build DIR  use this configured and built tree as it is (default build/quickstart, built as needed)
#   --no-deps    do not check the Debian packages (tools/install-deps.sh)
set -eu

# Started with `&` from a script, this shell inherits SIGINT ignored, and a shell may not trap a signal that was
# ignored when it started: an interrupt would then leave everything running. Run once more with SIGINT restored
# (coreutils' env; where it cannot, go on as before).
if [ -z "${SS_QUICKSTART_SIGINT:-}" ] && env --default-signal=INT true 2>/dev/null; then
	SS_QUICKSTART_SIGINT=1 exec env --default-signal=INT /bin/sh "$0" "$@"
fi

top=$(cd "$(dirname "$0")/.." && pwd)
port=8080
data="$top/data"
workers=2
build=""
deps=1
need() { [ $# -ge 2 ] || { echo "quickstart: $1 needs a value" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
	case "$1" in
	--port) need "$@"; port=$2; shift 2 ;;
	--data) need "$@"; data=$2; shift 2 ;;
	--workers) need "$@"; workers=$2; shift 2 ;;
	--build) need "$@"; build=$2; shift 2 ;;
	--no-deps) deps=0; shift ;;
	-h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "quickstart: unknown option $1" >&2; exit 2 ;;
	esac
done
case "$port" in
''|*[!0-9]*) echo "quickstart: --port expects a number" >&2; exit 2 ;;
esac

# Something already listening on the port (another quickstart, a web server) would answer our health
# checks while our nginx fails to bind: refuse now, naming the port. curl exits 7 when nothing listens.
port_in_use() {
	rc=0
	curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$1/" 2>/dev/null || rc=$?
	[ "$rc" -ne 7 ]
}
port_taken() {
	echo "quickstart: port $port on 127.0.0.1 is already in use by another program;" \
		"choose a free one with --port N (e.g. --port $((port + 1)))" >&2
	exit 1
}
port_in_use "$port" && port_taken

[ $deps -eq 1 ] && "$top/tools/install-deps.sh" --runtime-only

if [ -n "$build" ]; then
	build=$(cd "$build" && pwd)
	[ -x "$build/fcgi/songscope.fcgi" ] || { echo "quickstart: $build has no fcgi/songscope.fcgi" >&2; exit 2; }
else
	build="$top/build/quickstart"
	# A tree already configured in place cannot also be built out of tree: use that build.
	[ -f "$top/config.status" ] && build="$top"
fi
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

songscope_pid=${pids%% *}
nginx_pid=${pids##* }
# Wait until our nginx answers /health (bounded). nginx retries a busy port for about two seconds and
# then exits: a dead nginx, or a bind error in its log, means the port was taken after all.
i=0
until curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && kill -0 "$nginx_pid" 2>/dev/null &&
	! grep -q "bind() to 127.0.0.1:$port failed" "$data/nginx/error.log" 2>/dev/null; do
	if grep -q "bind() to 127.0.0.1:$port failed" "$data/nginx/error.log" 2>/dev/null; then
		grep "bind() to 127.0.0.1:$port failed" "$data/nginx/error.log" | tail -1 >&2
		port_taken
	fi
	if ! kill -0 "$nginx_pid" 2>/dev/null; then
		echo "quickstart: nginx stopped; see $data/nginx/error.log:" >&2
		tail -5 "$data/nginx/error.log" >&2 || true
		exit 1
	fi
	if ! kill -0 "$songscope_pid" 2>/dev/null; then
		echo "quickstart: songscope.fcgi stopped; see $data/songscope.log:" >&2
		tail -5 "$data/songscope.log" >&2 || true
		exit 1
	fi
	i=$((i + 1))
	if [ $i -gt 300 ]; then
		echo "quickstart: the service did not come up; see $data/songscope.log and $data/nginx/error.log" >&2
		exit 1
	fi
	sleep 0.1
done

key_line=" -H \"X-API-Key: \$KEY\""
admin="$build/tools/songscope-admin"
make_key="$admin --config $conf keys create NAME --scope admin"
have_keys=$("$admin" --config "$conf" keys list --json 2>/dev/null | grep -c '"id"' || true)
if [ "${have_keys:-0}" -eq 0 ]; then
	key=$("$admin" --config "$conf" keys create quickstart-admin --scope admin --json |
		sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
	if [ -n "$key" ]; then
		echo
		echo "  Admin API key (shown once; keep it): $key"
		key_line=" -H 'X-API-Key: $key'"
	fi
else
	# Keys are shown only when made: say how to make another instead of a curl line that cannot work.
	cat <<EOT

  This database already has API keys (shown once when they were made). To make a new one:
    $make_key
  and set KEY to the key it prints.
EOT
fi

cat <<EOT

  songscope is running on http://127.0.0.1:$port  (data in $data)
  Try:
    curl -s http://127.0.0.1:$port/health
    curl -s$key_line -X POST --data-binary @song.mp3 http://127.0.0.1:$port/analyze_data
  Logs: $data/songscope.log   Ctrl-C stops everything.

EOT
wait
