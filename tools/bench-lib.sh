# Shared setup of the HTTP and memory benchmarks (sourced, not run): a private temp dir, songscope's master
# on a unix socket with auth on and a real key, the hello-world ceiling, and one nginx built from
# conf/nginx/songscope.conf serving songscope, the hello-world and a static copy of the clip on free
# loopback ports. Everything started here is stopped by the EXIT trap.

bench_top=$(cd "$(dirname "$0")/.." && pwd)
bench_build=$bench_top
bench_pids=""

bench_die() {
	echo "$(basename "$0"): $*" >&2
	exit 2
}

bench_cleanup() {
	for p in $bench_pids; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $bench_pids; do wait "$p" 2>/dev/null || true; done
	[ -n "${bench_dir:-}" ] && rm -rf "$bench_dir"
}

bench_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_setup WORKERS EXTRA_CONF: temp dir, config, key ($bench_key), songscope master, hello, nginx.
bench_setup() {
	workers=$1
	extra=$2
	for b in fcgi/songscope.fcgi tools/songscope-admin tools/songscope-hello; do
		[ -x "$bench_build/$b" ] || bench_die "$bench_build/$b is not built (make)"
	done
	command -v wrk >/dev/null || bench_die "wrk is needed"
	command -v curl >/dev/null || bench_die "curl is needed"
	bench_nginx=$(command -v nginx || echo /usr/sbin/nginx)
	[ -x "$bench_nginx" ] || bench_die "nginx is needed"

	bench_dir=$(mktemp -d "${TMPDIR:-/tmp}/songscope-bench.XXXXXX")
	chmod 755 "$bench_dir"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	mkdir "$bench_dir/www"
	bench_port=$(bench_free_port)
	bench_hello_port=$(bench_free_port)
	bench_static_port=$(bench_free_port)
	bench_url="http://127.0.0.1:$bench_port"
	bench_hello_url="http://127.0.0.1:$bench_hello_port"

	cat >"$bench_dir/songscope.conf" <<CONF
database = $bench_dir/songscope.db
state_file = $bench_dir/songscope.state
auth = required
workers = $workers
log_level = error
rate_limit_per_minute = 1000000
auth_failures_per_minute = 1000000
fetch_allow_private = true
$extra
CONF
	bench_key=$("$bench_build/tools/songscope-admin" --config "$bench_dir/songscope.conf" --json \
		keys create bench --daily-limit 0 | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p')
	[ -n "$bench_key" ] || bench_die "could not create a key"

	bench_allow_root=""
	[ "$(id -u)" = 0 ] && bench_allow_root="--allow-root" # a benchmark machine run as root
	"$bench_build/fcgi/songscope.fcgi" --config "$bench_dir/songscope.conf" \
		--listen "$bench_dir/songscope.sock" $bench_allow_root 2>>"$bench_dir/songscope.log" &
	bench_master=$!
	bench_pids="$bench_pids $bench_master"
	"$bench_build/tools/songscope-hello" --listen "$bench_dir/hello.sock" --workers "$workers" &
	bench_pids="$bench_pids $!"

	sed -e "s#127.0.0.1:8080#127.0.0.1:$bench_port#" -e "s#/run/songscope/songscope.sock#$bench_dir/songscope.sock#" \
		"$bench_top/conf/nginx/songscope.conf" >"$bench_dir/site.conf"
	# The ceiling: the very same site, upstream the hello-world responder.
	sed -e "s#127.0.0.1:8080#127.0.0.1:$bench_hello_port#" -e "s#/run/songscope/songscope.sock#$bench_dir/hello.sock#" \
		-e "s#upstream songscope#upstream hello#" -e "s#fastcgi_pass songscope#fastcgi_pass hello#" \
		"$bench_top/conf/nginx/songscope.conf" >"$bench_dir/hello-site.conf"
	cp /etc/nginx/fastcgi_params "$bench_dir/fastcgi_params"
	user=""
	[ "$(id -u)" -eq 0 ] && user="user root root;"
	cat >"$bench_dir/nginx.conf" <<NGINX
$user
daemon off;
worker_processes 1;
pid $bench_dir/nginx.pid;
error_log $bench_dir/nginx-error.log error;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/octet-stream;
  client_body_temp_path $bench_dir/tmp-body;
  fastcgi_temp_path $bench_dir/tmp-fcgi;
  proxy_temp_path $bench_dir/tmp-proxy;
  uwsgi_temp_path $bench_dir/tmp-uwsgi;
  scgi_temp_path $bench_dir/tmp-scgi;
  include $bench_dir/site.conf;
  include $bench_dir/hello-site.conf;
  server { listen 127.0.0.1:$bench_static_port; root $bench_dir/www; }
}
NGINX
	"$bench_nginx" -p "$bench_dir" -e "$bench_dir/nginx-error.log" -c "$bench_dir/nginx.conf" &
	bench_pids="$bench_pids $!"

	i=0
	until curl -sf -o /dev/null "$bench_url/health" && curl -sf -o /dev/null "$bench_hello_url/"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$bench_dir/songscope.log" "$bench_dir/nginx-error.log" >&2; bench_die "servers did not start"; }
		sleep 0.1
	done
}

# bench_small_clip FILE: 8 s of generated 22.05 kHz mono WAV (a tone with a click every half second), for the
# benchmarks that only need a cache hit to aim at.
bench_small_clip() {
	python3 - "$1" <<'PY'
import math, struct, sys, wave
rate = 22050
w = wave.open(sys.argv[1], "wb")
w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)) + (12000 if (i % (rate // 2)) < 200 else 0)) for i in range(rate * 8)))
w.close()
PY
}

# Responder pids (children of the master).
bench_responders() {
	pgrep -P "$bench_master" || true
}

# bench_lua FILE METHOD BODYFILE HEADER...: write a wrk script sending one fixed request and printing
# "RESULT req/s p50_ms p99_ms non2xx requests socket_errors" when done.
bench_lua() {
	out=$1 method=$2 bodyfile=$3
	shift 3
	{
		echo "wrk.method = \"$method\""
		if [ -n "$bodyfile" ]; then
			echo "local f = assert(io.open(\"$bodyfile\", \"rb\")); wrk.body = f:read(\"*a\"); f:close()"
		fi
		for h in "$@"; do
			echo "wrk.headers[\"${h%%:*}\"] = \"$(echo "${h#*: }" | sed 's/"/\\"/g')\""
		done
		cat <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.1f %.3f %.3f %d %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, e.status, summary.requests,
    e.connect + e.read + e.write + e.timeout))
end
LUA
	} >"$out"
}

# bench_wrk URL LUA CONNECTIONS SECONDS: prints the RESULT fields.
bench_wrk() {
	threads=2
	[ "$3" -ge 2 ] || threads=1
	wrk -t"$threads" -c"$3" -d"$4s" -s "$2" "$1" 2>&1 | sed -n 's/^RESULT //p'
}
