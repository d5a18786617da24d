#!/bin/sh
# Limiter benchmark: cached POST /analyze through nginx with limits = local (the state file) and, in the same
# run, behind the same nginx, with the same database and key, limits = redis (a redis-server on a unix socket
# started here); prints req/s of both, their ratio, and the Redis round trips per request (commands counted
# seen by MONITOR over 200 more requests, script-internal commands not counted).
# With --postgresql CONNINFO (a database of its own; needs psql) a third row runs the two shared backends,
# store = postgresql (the SQLite installation moved there with songscope-admin db copy) and limits = redis,
# against the first (sqlite, local), with the store transactions per cached request counted from the server's
# statistics over the same sequential requests.
# Prints markdown tables; run it on an otherwise idle machine.
# Usage: tools/bench-limiter.sh [--builddir DIR] [--workers N] [--seconds S] [--connections C]
#        [--postgresql CONNINFO]
set -eu
. "$(dirname "$0")/bench-lib.sh"

workers=2
seconds=10
conns=32
pg=""
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) bench_build=$(cd "$2" && pwd); shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	--postgresql) pg=$2; shift 2 ;;
	-h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
done
redis_server=$(command -v redis-server || echo /usr/bin/redis-server)
[ -x "$redis_server" ] || bench_die "redis-server is needed (tools/install-deps.sh)"
command -v redis-cli >/dev/null || bench_die "redis-cli is needed (package redis-tools)"
[ -z "$pg" ] || command -v psql >/dev/null || bench_die "psql is needed with --postgresql (package postgresql-client)"

bench_setup "$workers" ""
d=$bench_dir

# Redis for the second half, started now so that its pid is stopped by the EXIT trap.
"$redis_server" --port 0 --unixsocket "$d/redis.sock" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$d" --logfile "$d/redis.log" &
bench_pids="$bench_pids $!"
i=0
until [ "$(redis-cli -s "$d/redis.sock" PING 2>/dev/null)" = PONG ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$d/redis.log" >&2; bench_die "redis-server did not start"; }
	sleep 0.1
done

bench_small_clip "$d/www/clip.wav"
printf '{"url": "http://127.0.0.1:%s/clip.wav", "title": "Bench Song", "artist": "Bench Artist"}' \
	"$bench_static_port" >"$d/analyze.json"
bench_lua "$d/analyze.lua" POST "$d/analyze.json" "X-API-Key: $bench_key" "Content-Type: application/json"

cached() { # warm the cache (and the key cache of every responder), then check it is a hit
	for n in 1 2 3 4 5 6; do
		curl -s -o "$d/last.json" -H "X-API-Key: $bench_key" -H 'Content-Type: application/json' \
			--data-binary @"$d/analyze.json" "$bench_url/analyze"
	done
	grep -q '"cached": *true' "$d/last.json" || bench_die "no cache hit: $(head -c 200 "$d/last.json")"
}

# Restart the master with the config as it is now.
restart() {
	kill -TERM "$bench_master"
	wait "$bench_master" 2>/dev/null || true
	"$bench_build/fcgi/songscope.fcgi" --config "$d/songscope.conf" --listen "$d/songscope.sock" \
		$bench_allow_root 2>>"$d/songscope.log" &
	bench_master=$!
	bench_pids="$bench_pids $bench_master"
	i=0
	until curl -sf -o /dev/null "$bench_url/health"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { tail -20 "$d/songscope.log" >&2; bench_die "songscope did not restart"; }
		sleep 0.1
	done
}

# Round trips per request: the commands clients sent (MONITOR shows them with their client's address; the
# commands a script runs inside the server show as "lua" and are not round trips) over N sequential cached
# requests. MONITOR slows the server down, so this runs apart from the timed run.
round_trips() {
	n=200
	redis-cli -s "$d/redis.sock" MONITOR >"$d/monitor.txt" &
	mon=$!
	i=0
	until grep -q '^OK' "$d/monitor.txt" 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 100 ] || bench_die "redis-cli MONITOR did not start"
		sleep 0.05
	done
	k=0
	while [ $k -lt $n ]; do
		curl -s -o /dev/null -H "X-API-Key: $bench_key" -H 'Content-Type: application/json' \
			--data-binary @"$d/analyze.json" "$bench_url/analyze"
		k=$((k + 1))
	done
	i=0 # MONITOR's last lines may reach the file just after the replies do
	until [ "$(grep -v ' lua\]' "$d/monitor.txt" | grep -Ec '"(EVALSHA|EVAL|evalsha|eval)"')" -ge $n ] || [ $i -ge 40 ]; do
		i=$((i + 1))
		sleep 0.05
	done
	kill "$mon" 2>/dev/null || true
	wait "$mon" 2>/dev/null || true
	top=$(grep -v '^OK' "$d/monitor.txt" | grep -vc ' lua\]' || true)
	evals=$(grep -v ' lua\]' "$d/monitor.txt" | grep -Ec '"(EVALSHA|EVAL|evalsha|eval)"' || true)
	echo "$top $evals $n"
}

cached
local_r=$(bench_wrk "$bench_url/analyze" "$d/analyze.lua" "$conns" "$seconds")
[ -n "$local_r" ] || bench_die "wrk gave no result (local)"

printf 'limits = redis\nredis = unix:%s\n' "$d/redis.sock" >>"$d/songscope.conf"
restart
cached
redis_r=$(bench_wrk "$bench_url/analyze" "$d/analyze.lua" "$conns" "$seconds")
[ -n "$redis_r" ] || bench_die "wrk gave no result (redis)"
trips=$(round_trips)

# Both shared backends: the installation moved to PostgreSQL (keys and cache), limits still on Redis.
# The server's committed transactions around the sequential requests of round_trips (its statistics reach the
# view when the backends are idle: at most 10 s later) are the store round trips per cached hit.
pg_commits() { psql -XAtq "$pg" -c "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"; }
if [ -n "$pg" ]; then
	printf 'store = postgresql\npostgresql = %s\n' "$pg" >>"$d/songscope.conf"
	"$bench_build/tools/songscope-admin" --config "$d/songscope.conf" db copy --to postgresql >"$d/copy.txt" 2>&1 ||
		{ cat "$d/copy.txt" >&2; bench_die "db copy --to postgresql failed"; }
	restart
	cached
	both_r=$(bench_wrk "$bench_url/analyze" "$d/analyze.lua" "$conns" "$seconds")
	[ -n "$both_r" ] || bench_die "wrk gave no result (postgresql, redis)"
	sleep 11
	c0=$(pg_commits)
	both_trips=$(round_trips)
	sleep 11
	c1=$(pg_commits)
	pg_per_hit=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", (b - a - 1) / 200 }') # - 1: the query itself
fi

cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
echo "Limiter benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs ($cpu); $(uname -sr)"
echo "wrk -t2 -c$conns -d${seconds}s on loopback, cached POST /analyze, nginx $("$bench_nginx" -v 2>&1 | sed 's#.*/##'),"
echo "$workers songscope responders, auth = required with a real key, SQLite store; Redis $("$redis_server" --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on a unix socket."
echo
echo "| limits | req/s | p50 ms | p99 ms | non-2xx | requests | socket errors |"
echo "|---|---:|---:|---:|---:|---:|---:|"
echo "local|$local_r" | awk -F'|' '{ split($2, r, " "); printf "| %s | %.0f | %.2f | %.2f | %d | %d | %d |\n", $1, r[1], r[2], r[3], r[4], r[5], r[6] }'
echo "redis|$redis_r" | awk -F'|' '{ split($2, r, " "); printf "| %s | %.0f | %.2f | %.2f | %d | %d | %d |\n", $1, r[1], r[2], r[3], r[4], r[5], r[6] }'
[ -z "$pg" ] || echo "postgresql + redis|$both_r" | awk -F'|' '{ split($2, r, " "); printf "| %s | %.0f | %.2f | %.2f | %d | %d | %d |\n", $1, r[1], r[2], r[3], r[4], r[5], r[6] }'
echo
echo "$local_r|$redis_r|$trips" | awk -F'|' '{
	split($1, l, " "); split($2, r, " "); split($3, t, " ")
	printf "redis / local: %.0f%% of the req/s (target: at least 50%%)\n", (l[1] > 0) ? 100 * r[1] / l[1] : 0
	printf "Redis round trips per cached request: %.2f (%d commands sent for %d requests, %d of them EVALSHA/EVAL)\n",
		t[1] / t[3], t[1], t[3], t[2]
}'
if [ -n "$pg" ]; then
	echo "$local_r|$both_r|$both_trips" | awk -F'|' '{
		split($1, l, " "); split($2, r, " "); split($3, t, " ")
		printf "(postgresql, redis) / (sqlite, local): %.0f%% of the req/s (target: at least 50%%)\n", (l[1] > 0) ? 100 * r[1] / l[1] : 0
		printf "with PostgreSQL: Redis round trips per cached request %.2f (%d commands for %d requests, %d EVALSHA/EVAL)\n",
			t[1] / t[3], t[1], t[3], t[2]
	}'
	echo "PostgreSQL $(psql -XAtq "$pg" -c 'SHOW server_version' 2>/dev/null || echo '?'): store transactions per cached request: $pg_per_hit"
fi
