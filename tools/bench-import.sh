#!/bin/sh
# import-legacy benchmark: builds an original-server (V4+ schema) database with N synthetic cache rows (URL
# rows, a tenth uploads keyed by artist/title, a hundredth verified with overrides, 10 namespaces) and 100 API
# keys with the sqlite3 shell, then times `songscope-admin import-legacy` into a new songscope database, and a
# second run (everything already present). Prints a markdown table; run it on an otherwise idle machine.
# Usage: tools/bench-import.sh [--builddir DIR] [--rows N] [--batch N] [--keep]
set -eu

build=$(pwd)
rows=1000000
batch=""
keep=0
while [ $# -gt 0 ]; do
	case "$1" in
	--builddir) build=$(cd "$2" && pwd); shift 2 ;;
	--rows) rows=$2; shift 2 ;;
	--batch) batch=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-import: unknown option $1" >&2; exit 2 ;;
	esac
done
admin="$build/tools/songscope-admin"
[ -x "$admin" ] || { echo "bench-import: no $admin (give --builddir)" >&2; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench-import: needs the sqlite3 shell (apt-get install sqlite3)" >&2; exit 1; }
case "$rows" in ''|*[!0-9]*) echo "bench-import: --rows needs a number" >&2; exit 2 ;; esac

d=$(mktemp -d "${TMPDIR:-/tmp}/bench-import.XXXXXX")
[ "$keep" = 1 ] || trap 'rm -rf "$d"' EXIT
printf 'database = %s/songscope.db\nstate_file = %s/state\n' "$d" "$d" > "$d/songscope.conf"

t0=$(date +%s.%N)
sqlite3 "$d/old.db" > /dev/null <<SQL
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
CREATE TABLE analysis_cache (id INTEGER PRIMARY KEY AUTOINCREMENT, preview_url_hash TEXT UNIQUE NOT NULL,
 title TEXT NOT NULL, artist TEXT NOT NULL, preview_url TEXT NOT NULL, cache_namespace TEXT DEFAULT 'default',
 bpm REAL, bpm_confidence REAL, key TEXT, key_confidence REAL, energy REAL, danceability REAL, acousticness REAL,
 spectral_centroid REAL, analyzed_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, analysis_duration REAL,
 user_verified INTEGER DEFAULT 0, manual_bpm REAL, manual_key TEXT, bpm_notes TEXT, time_signature TEXT,
 valence REAL, mood TEXT, loudness REAL, dynamic_range REAL, silence_ratio REAL, key_details TEXT,
 chunk_analysis TEXT, analysis_timing TEXT, dynamic_complexity REAL, tonal_strength REAL, spectral_complexity REAL,
 zero_crossing_rate REAL, spectral_flux REAL, percussive_energy_ratio REAL, harmonic_energy_ratio REAL);
CREATE INDEX idx_artist_title ON analysis_cache(artist, title);
CREATE INDEX idx_namespace_analyzed ON analysis_cache(cache_namespace, analyzed_at);
CREATE TABLE server_stats (id INTEGER PRIMARY KEY AUTOINCREMENT, total_analyses INTEGER DEFAULT 0,
 cache_hits INTEGER DEFAULT 0, cache_misses INTEGER DEFAULT 0, last_updated TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT UNIQUE NOT NULL, name TEXT NOT NULL,
 email TEXT, active INTEGER DEFAULT 1, daily_limit INTEGER DEFAULT 1000, created_at TIMESTAMP DEFAULT
 CURRENT_TIMESTAMP, last_used TIMESTAMP);
INSERT INTO server_stats (total_analyses, cache_hits, cache_misses) VALUES ($rows * 3, $rows * 2, $rows);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
 INSERT INTO api_keys (key, name, daily_limit) SELECT 'legacy-key-' || printf('%032d', i), 'key ' || i, 1000 FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $rows)
 INSERT INTO analysis_cache (preview_url_hash, title, artist, preview_url, cache_namespace, bpm, bpm_confidence,
  key, key_confidence, energy, danceability, acousticness, spectral_centroid, analyzed_at, analysis_duration,
  user_verified, manual_bpm, bpm_notes, time_signature, valence, mood, loudness, dynamic_range, silence_ratio,
  key_details, analysis_timing, zero_crossing_rate, spectral_flux)
 SELECT printf('%064d', i), 'Title ' || i, 'Artist ' || (i % 5000),
  CASE WHEN i % 10 = 0 THEN 'audiodata://Artist ' || (i % 5000) || '/Title ' || i
       ELSE 'https://audio-ssl.itunes.apple.com/itunes-assets/preview/' || i || '.m4a' END,
  CASE WHEN i % 10 = 3 THEN 'ns' || (i % 7) ELSE 'default' END,
  60 + (i % 1200) / 10.0, 0.5 + (i % 50) / 100.0,
  CASE i % 3 WHEN 0 THEN 'C Major' WHEN 1 THEN 'F# Minor' ELSE 'A# Major' END, 1.0, 0.5, 0.6, 0.2,
  1500 + i % 2000, datetime('2025-11-18 00:00:00', '+' || (i % 86400) || ' seconds'), 9.3,
  i % 100 = 0, CASE WHEN i % 100 = 0 THEN 120.0 END, CASE WHEN i % 100 = 0 THEN 'tapped' END, '6/8',
  0.55, 'neutral', -9.0, 11.0, 0.01, '{"key":"C Major","confidence":1.0}', '{"analysis_total":9.1}', 0.05, 0.2
 FROM n;
SQL
t1=$(date +%s.%N)
size=$(du -m "$d/old.db" | cut -f1)

run() {
	s=$(date +%s.%N)
	if [ -n "$batch" ]; then
		"$admin" --config "$d/songscope.conf" import-legacy "$d/old.db" --batch "$batch" > "$d/out" 2> "$d/err"
	else
		"$admin" --config "$d/songscope.conf" import-legacy "$d/old.db" > "$d/out" 2> "$d/err"
	fi
	e=$(date +%s.%N)
	echo "$s $e" | awk '{ printf "%.1f", $2 - $1 }'
}
first=$(run)
new=$(sed -n 's/^cache rows: *\([0-9]*\) new.*/\1/p' "$d/out")
second=$(run)
again=$(sed -n 's/^cache rows: *\([0-9]*\) new.*/\1/p' "$d/out")
echo "$t0 $t1" | awk '{ printf "building the original database: %.1f s\n", $2 - $1 }' >&2
echo "| rows | original db (MiB) | first import (s) | rows/s | new rows | second import (s) | new rows |"
echo "|---|---|---|---|---|---|---|"
echo "$rows $size $first $new $second $again" |
	awk '{ printf "| %d | %d | %s | %.0f | %d | %s | %d |\n", $1, $2, $3, ($3 > 0 ? $1 / $3 : 0), $4, $5, $6 }'
