#!/bin/sh
# Crash-injection soak: mixed load through nginx against songscope's master on loopback while a responder is
# SIGKILLed every few seconds and, once, a responder is SIGSTOPped while it holds the shared state file's lock.
# Afterwards it checks what must hold and prints a markdown table:
#   * the database passes PRAGMA integrity_check;
#   * a key with a daily limit got at most that many 200s, and the state file counted exactly the limit;
#   * usage rows (api_usage) against the state file's day counts, per key: rows lost <= requests in flight
#     in the killed responders (one each: a responder serves one request at a time);
#   * failed requests (connection errors and 5xx) against the kills;
#   * the master's open fds and RSS, before and after; the responders' at the end against the start.
# Everything listens on 127.0.0.1 or a unix socket; the run is bounded by --seconds and stops by itself.
# Usage: tools/soak.sh [--builddir DIR] [--seconds N] [--workers N] [--kill-every S] [--daily-limit N]
set -eu
. "$(dirname "$0")/bench-lib.sh"

seconds=60
workers=4
kill_every=2
daily=3000
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) bench_build=$(cd "$2" && pwd); shift 2 ;;
	--seconds) seconds=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--kill-every) kill_every=$2; shift 2 ;;
	--daily-limit) daily=$2; shift 2 ;;
	-h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) bench_die "unknown option $1" ;;
	esac
done
command -v sqlite3 >/dev/null || bench_die "sqlite3 is needed"
[ "$seconds" -ge 10 ] && [ "$seconds" -le 3600 ] || bench_die "--seconds must be 10..3600"

# The trigger file of the lock-holding test hook (test-hook builds only), outside the server's temp dir
# because the master's environment is set before that dir exists.
hold_trigger=$(mktemp -u "${TMPDIR:-/tmp}/songscope-soak-hold.XXXXXX")
export SONGSCOPE_TEST_HOLD_LOCK="$hold_trigger"
bench_setup "$workers" "max_requests = 100000000
shutdown_timeout = 10"
d=$bench_dir
trap 'bench_cleanup; rm -f "$hold_trigger" "$hold_trigger".*' EXIT
conf=$d/songscope.conf
admin() { "$bench_build/tools/songscope-admin" --config "$conf" "$@"; }
newkey() { admin --json keys create "$@" | sed -n 's/.*"key" *: *"\([^"]*\)".*/\1/p'; }
admin_key=$(newkey soak-admin --scope admin --daily-limit 0)
quota_key=$(newkey soak-quota --daily-limit "$daily" --rate-limit 1000000)
[ -n "$admin_key" ] && [ -n "$quota_key" ] || bench_die "could not create keys"

# A generated clip served statically: the load's /analyze calls are cache hits after the first.
bench_small_clip "$d/www/clip.wav"
body=$(printf '{"url": "http://127.0.0.1:%s/clip.wav", "title": "Soak", "artist": "Bench"}' "$bench_static_port")
status=$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $bench_key" -H 'Content-Type: application/json' \
	--data "$body" "$bench_url/analyze")
[ "$status" = 200 ] || bench_die "the first analysis answered $status"

# wrk scripts that count answers by class across threads: RESULT ok limited failed5xx other requests sockerr.
counting_lua() { # FILE ENTRIES KEY
	cat >"$1" <<LUA
local entries = { $2 }
local key = "$3"
local threads = {}
function setup(t) table.insert(threads, t) end
function init(args) ok = 0; limited = 0; failed = 0; other = 0; i = 0 end
request = function()
  i = i + 1
  local e = entries[(i % #entries) + 1]
  local h = {}
  if e[4] then h["X-API-Key"] = key end
  if e[3] then h["Content-Type"] = "application/json" end
  return wrk.format(e[1], e[2], h, e[3])
end
response = function(status, headers, body)
  if status == 200 then ok = ok + 1 elseif status == 429 then limited = limited + 1
  elseif status >= 500 then failed = failed + 1 else other = other + 1 end
end
done = function(summary, latency, requests)
  local a, b, c, o = 0, 0, 0, 0
  for _, t in ipairs(threads) do a = a + t:get("ok"); b = b + t:get("limited"); c = c + t:get("failed"); o = o + t:get("other") end
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d\n", a, b, c, o, summary.requests, e.connect + e.read + e.write + e.timeout))
end
LUA
}
counting_lua "$d/mix.lua" "{\"GET\", \"/health\", nil, false}, {\"GET\", \"/stats\", nil, true}, {\"POST\", \"/analyze\", '$body', true}, {\"GET\", \"/cache?limit=5\", nil, true}" "$bench_key"
counting_lua "$d/quota.lua" "{\"GET\", \"/auth/key\", nil, true}" "$quota_key"

fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
avg() { # "fds"|"rss" PIDS...: mean over the pids
	what=$1
	shift
	t=0 n=0
	for p in "$@"; do t=$((t + $($what "$p"))); n=$((n + 1)); done
	[ $n -gt 0 ] && echo $((t / n)) || echo 0
}
state_of() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null; }

# Warm-up, then the baseline.
wrk -t2 -c8 -d2s -s "$d/mix.lua" "$bench_url/" >/dev/null 2>&1 || true
master_fds0=$(fds "$bench_master") master_rss0=$(rss "$bench_master")
set -- $(bench_responders)
resp_fds0=$(avg fds "$@") resp_rss0=$(avg rss "$@")

# The killer: every kill_every s one responder gets SIGKILL; once, at a third of the run, one responder is
# stopped while it holds the state file's lock (found by stopping responders until the lock's recorded holder
# is a stopped one), and we wait for the master to notice and kill it.
killer() {
	kills=0 stops=0 stop_note="not tried"
	end=$(($(date +%s) + seconds))
	stop_at=$(($(date +%s) + seconds / 3))
	while [ "$(date +%s)" -lt "$end" ]; do
		sleep "$kill_every" # pacing of the fault injection, not synchronisation
		if [ $stops -eq 0 ] && [ "$(date +%s)" -ge "$stop_at" ]; then
			stops=1
			stop_note=$(stop_lock_holder)
			continue
		fi
		set -- $(bench_responders)
		[ $# -gt 0 ] || continue
		victim=$(shuf -n1 -e "$@")
		kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
	done
	echo "$kills" >"$d/kills"
	echo "$stop_note" >"$d/stop_note"
}

# Stop a responder while it holds the state file's lock, then wait (bounded) until the master has killed it.
# Prints what happened. A build configured with --enable-test-hooks does it exactly: touching the trigger file
# makes the next responder to serve a request take the lock and SIGSTOP itself. Other builds stop responders
# at random until `songscope-admin state` names a stopped one as the lock's holder (bounded tries).
stop_lock_holder() {
	victim=""
	tries=0
	if grep -q 'define SS_TEST_HOOKS 1' "$bench_build/config.h" 2>/dev/null; then
		: >"$hold_trigger"
		i=0
		while [ ! -s "$hold_trigger.held" ] && [ $i -lt 500 ]; do
			i=$((i + 1))
			sleep 0.01
		done
		victim=$(cat "$hold_trigger.held" 2>/dev/null || true)
		how="the test hook stopped $victim holding the lock"
	else
		end=$(($(date +%s) + 20))
		while [ -z "$victim" ] && [ $tries -lt 3000 ] && [ "$(date +%s)" -lt "$end" ]; do
			tries=$((tries + 1))
			v=$(bench_responders | shuf -n1)
			[ -n "$v" ] && kill -STOP "$v" 2>/dev/null || continue
			holder=$(admin --json state 2>/dev/null | sed -n 's/.*"lock_holder_pid" *: *\([0-9]*\).*/\1/p')
			if [ "$holder" = "$v" ]; then victim=$v; else kill -CONT "$v" 2>/dev/null || true; fi
		done
		how="caught $victim holding the lock after $tries random SIGSTOPs"
	fi
	if [ -z "$victim" ]; then
		echo "no responder was stopped holding the lock ($tries tries)"
		return 0
	fi
	t0=$(date +%s%N)
	i=0
	while [ -d "/proc/$victim" ] && [ "$(state_of "$victim")" != Z ] && [ $i -lt 1000 ]; do
		i=$((i + 1))
		sleep 0.01
	done
	t1=$(date +%s%N)
	if [ -d "/proc/$victim" ] && [ "$(state_of "$victim")" != Z ]; then
		kill -CONT "$victim" 2>/dev/null || true
		echo "$how; NOT killed by the master within 10 s"
	else
		echo "$how; the master killed it $(((t1 - t0) / 1000000)) ms later"
	fi
}

killer &
killer_pid=$!
bench_pids="$bench_pids $killer_pid"
wrk -t1 -c2 -d"${seconds}s" -s "$d/quota.lua" "$bench_url/" 2>&1 | sed -n 's/^RESULT //p' >"$d/quota.out" &
quota_pid=$!
wrk -t2 -c16 -d"${seconds}s" -s "$d/mix.lua" "$bench_url/" 2>&1 | sed -n 's/^RESULT //p' >"$d/mix.out"
wait "$quota_pid" || true
wait "$killer_pid" || true

# Settle: the master has replaced every killed responder.
i=0
while [ "$(bench_responders | wc -l)" -ne "$workers" ] && [ $i -lt 500 ]; do
	i=$((i + 1))
	sleep 0.02
done
set -- $(bench_responders)
resp_fds1=$(avg fds "$@") resp_rss1=$(avg rss "$@")
master_fds1=$(fds "$bench_master") master_rss1=$(rss "$bench_master")

# Flush every responder's pending usage rows: SIGHUP replaces them gracefully (they flush on the way out).
kill -HUP "$bench_master"
i=0
old="$*"
while [ $i -lt 500 ]; do
	now=$(bench_responders | tr '\n' ' ')
	left=0
	for p in $old; do case " $now " in *" $p "*) left=1 ;; esac; done
	[ $left -eq 0 ] && break
	i=$((i + 1))
	sleep 0.02
done

integrity=$(sqlite3 "$d/songscope.db" 'PRAGMA integrity_check;' 2>&1 | head -1)
# Quota-counted usage rows (status other than 429, the rule the state file is re-seeded by) and the state
# file's day count (songscope-admin keys show reads it), per key.
usage_rows() { sqlite3 "$d/songscope.db" "SELECT count(*) FROM api_usage u JOIN api_keys k ON k.id = u.api_key_id WHERE k.name = '$1' AND u.status <> 429 AND u.timestamp >= strftime('%Y-%m-%d 00:00:00','now');"; }
key_id() { sqlite3 "$d/songscope.db" "SELECT id FROM api_keys WHERE name = '$1';"; }
state_count() { admin --json keys show "$(key_id "$1")" | sed -n 's/.*"quota_used_today" *: *\([0-9]*\).*/\1/p'; }
bench_state=$(state_count bench)
quota_state=$(state_count soak-quota)
bench_rows=$(usage_rows bench)
quota_rows=$(usage_rows soak-quota)
kills=$(cat "$d/kills")
stop_note=$(cat "$d/stop_note")
set -- $(cat "$d/mix.out")
mix_ok=$1 mix_failed=$3 mix_other=$4 mix_total=$5 mix_sock=$6
set -- $(cat "$d/quota.out")
q_ok=$1 q_limited=$2 q_failed=$3 q_sock=$6

verdict() { if [ "$1" -eq 1 ]; then echo ok; else echo FAIL; fi; }
echo "Crash-injection soak, $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; $(uname -sr)"
echo "$seconds s of mixed load (wrk -c16: /health, /stats, cached POST /analyze, /cache) plus a quota key"
echo "(wrk -c2, GET /auth/key, daily limit $daily) through nginx; $workers responders; a SIGKILL every $kill_every s."
echo "Lock holder: $stop_note"
echo
echo "| check | measured | bound | |"
echo "|---|---:|---:|---|"
echo "| responders SIGKILLed | $kills | | |"
echo "| PRAGMA integrity_check | $integrity | ok | $(verdict $([ "$integrity" = ok ] && echo 1 || echo 0)) |"
echo "| mixed requests / failed (5xx + socket errors) | $mix_total / $((mix_failed + mix_sock)) | failed <= $((kills + 1)) kills (+1 stop) | $(verdict $([ $((mix_failed + mix_sock)) -le $((kills + 1)) ] && echo 1 || echo 0)) |"
echo "| mixed requests answered 4xx (none expected) | $mix_other | 0 | $(verdict $([ "$mix_other" -eq 0 ] && echo 1 || echo 0)) |"
echo "| quota key: 200s / daily limit | $q_ok / $daily | 200s <= limit | $(verdict $([ "$q_ok" -le "$daily" ] && echo 1 || echo 0)) |"
echo "| quota key: state file's day count | $quota_state | = $daily | $(verdict $([ "$quota_state" -eq "$daily" ] && echo 1 || echo 0)) |"
echo "| quota key: 429s / failed | $q_limited / $((q_failed + q_sock)) | | |"
echo "| load key: usage rows / state count | $bench_rows / $bench_state | lost <= $((kills + 1)) | $(verdict $([ $((bench_state - bench_rows)) -le "$((kills + 1))" ] && [ "$bench_rows" -le "$bench_state" ] && echo 1 || echo 0)) |"
echo "| quota key: usage rows / state count | $quota_rows / $quota_state | lost <= $((kills + 1)) | $(verdict $([ $((quota_state - quota_rows)) -le "$((kills + 1))" ] && [ "$quota_rows" -le "$quota_state" ] && echo 1 || echo 0)) |"
echo "| master fds before / after | $master_fds0 / $master_fds1 | equal | $(verdict $([ "$master_fds0" -eq "$master_fds1" ] && echo 1 || echo 0)) |"
echo "| master RSS KiB before / after | $master_rss0 / $master_rss1 | +5% | $(verdict $([ $((master_rss1 * 100)) -le $((master_rss0 * 105)) ] && echo 1 || echo 0)) |"
echo "| responder fds (mean) start / end | $resp_fds0 / $resp_fds1 | equal | $(verdict $([ "$resp_fds0" -eq "$resp_fds1" ] && echo 1 || echo 0)) |"
echo "| responder RSS KiB (mean) start / end | $resp_rss0 / $resp_rss1 | +5% | $(verdict $([ $((resp_rss1 * 100)) -le $((resp_rss0 * 105)) ] && echo 1 || echo 0)) |"
