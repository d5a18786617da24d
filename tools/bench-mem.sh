#!/bin/sh
# Memory benchmark: RSS of each songscope responder before and after 100k mixed requests through nginx
# (GET /health, GET /stats, cached POST /analyze, an unknown path, a wrong key; what the tree serves), with
# recycling off (max_requests above the run) so the same processes serve every request. The target is flat
# within 5%. Prints a markdown table.
# Usage: tools/bench-mem.sh [--builddir DIR] [--workers N] [--requests N] [--connections C]
set -eu
. "$(dirname "$0")/bench-lib.sh"

workers=2
requests=100000
conns=16
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) bench_build=$(cd "$2" && pwd); shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--requests) requests=$2; shift 2 ;;
	--connections) conns=$2; shift 2 ;;
	-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
done

bench_setup "$workers" "max_requests = 100000000"
d=$bench_dir

# A small generated clip served statically, so cached /analyze has something to hit.
bench_small_clip "$d/www/clip.wav"
body=$(printf '{"url": "http://127.0.0.1:%s/clip.wav", "title": "Mem", "artist": "Bench"}' "$bench_static_port")
code() { curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $bench_key" "$@"; }

# Lua entries: method, path, body, key header. Only endpoints this tree serves are mixed in.
entries="{\"GET\", \"/health\", nil, false}, {\"GET\", \"/no-such-endpoint\", nil, true}, {\"GET\", \"/stats\", nil, \"wrong-key\"}"
mix="GET /health, GET /no-such-endpoint (404), GET /stats with a wrong key"
if [ "$(code "$bench_url/stats")" = 200 ]; then
	entries="$entries, {\"GET\", \"/stats\", nil, true}"
	mix="$mix, GET /stats"
fi
if [ "$(code -X POST -H 'Content-Type: application/json' --data "$body" "$bench_url/analyze")" = 200 ]; then
	entries="$entries, {\"POST\", \"/analyze\", '$body', true}"
	mix="$mix, cached POST /analyze"
fi

cat >"$d/mix.lua" <<LUA
local entries = { $entries }
local key = "$bench_key"
local i = 0
request = function()
  i = i + 1
  local e = entries[(i % #entries) + 1]
  local h = {}
  if e[4] == true then h["X-API-Key"] = key elseif e[4] then h["X-API-Key"] = e[4] end
  if e[3] then h["Content-Type"] = "application/json" end
  return wrk.format(e[1], e[2], h, e[3])
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT %d\n", summary.requests))
end
LUA

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
pids=$(bench_responders | sort -n)
[ -n "$pids" ] || bench_die "no responders found"

# Warm-up: every responder has served each kind of request, caches and statements are in place.
bench_wrk "$bench_url/" "$d/mix.lua" "$conns" 2 >/dev/null || true
for p in $pids; do echo "$p $(rss "$p")"; done >"$d/before"

done_n=0
while [ "$done_n" -lt "$requests" ]; do
	n=$(wrk -t2 -c"$conns" -d5s -s "$d/mix.lua" "$bench_url/" 2>&1 | sed -n 's/^RESULT //p')
	[ -n "$n" ] || bench_die "wrk failed"
	done_n=$((done_n + n))
done
after_pids=$(bench_responders | sort -n)

echo "Memory benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $(uname -sr)"
echo "$done_n mixed requests ($mix) through nginx with wrk -c$conns after a 2 s warm-up;"
echo "$workers responders, max_requests above the run (no recycling), auth = required."
[ "$pids" = "$after_pids" ] || echo "WARNING: the responders changed during the run (before: $pids; after: $after_pids)"
echo
echo "| responder | RSS before (KiB) | RSS after (KiB) | change |"
echo "|---|---:|---:|---:|"
while read -r p before; do
	after=$(rss "$p")
	awk -v p="$p" -v b="$before" -v a="$after" 'BEGIN { printf "| pid %s | %d | %d | %+.1f%% |\n", p, b, a, (b > 0) ? 100 * (a - b) / b : 0 }'
done <"$d/before"
