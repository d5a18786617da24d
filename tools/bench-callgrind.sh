#!/bin/sh
# Where the work of one analysis goes, in instructions (valgrind's callgrind): unlike wall time, instruction
# counts do not depend on what else the machine is doing. For each clip and each songscope-analyze given,
# prints a markdown row: the instructions of the process that analysed the clip, and of its stages
# (inclusive counts: decode = codec + downmix + resampling + loudness; STFT = every spectrogram, also those
# inside tempo and key; tempo and key include their own STFTs and the onset stage).
#   tools/bench-callgrind.sh [--beats] PROGRAM... -- CLIP...
# e.g. tools/bench-callgrind.sh old/songscope-analyze build/tools/songscope-analyze -- a.flac b.mp3
set -eu

progs=
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
	case $1 in
	--help)
		sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	*) progs="$progs $1"; shift ;;
	esac
done
[ $# -gt 0 ] && shift
[ -n "$progs" ] && [ $# -ge 1 ] || { echo "usage: tools/bench-callgrind.sh PROGRAM... -- CLIP..." >&2; exit 2; }
command -v valgrind >/dev/null 2>&1 || { echo "bench-callgrind.sh: valgrind is not installed" >&2; exit 2; }
for p in $progs; do
	[ -x "$p" ] || { echo "bench-callgrind.sh: $p is not executable" >&2; exit 2; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Inclusive instructions of function $2 in annotated profile $1 (0 when absent), in millions.
fn() {
	awk -v f="$2" '
		$0 ~ ":" f " \\[" && $1 ~ /^[0-9,]+$/ { gsub(",", "", $1); if ($1 + 0 > best) best = $1 + 0 }
		END { printf "%.1f", best / 1e6 }' "$1"
}

echo "| clip | program | total M | decode M | resample M | loudness M | analysis M | STFT M | tempo M | key M | descriptors M |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for clip in "$@"; do
	for p in $progs; do
		rm -f "$tmp"/cg.*
		# -j1: one worker process analyses the clip; its profile is the largest file written
		valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$tmp/cg.%p" "$p" -j1 "$clip" \
			>/dev/null 2>"$tmp/log" || { echo "bench-callgrind.sh: $p failed on $clip" >&2; cat "$tmp/log" >&2; exit 1; }
		prof=$(ls -S "$tmp"/cg.* | head -1)
		callgrind_annotate --inclusive=yes --threshold=100 "$prof" >"$tmp/ann" 2>/dev/null
		total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); printf "%.1f", $1 / 1e6; exit }' "$tmp/ann")
		dec=$(fn "$tmp/ann" ss_audio_decode)
		all=$(fn "$tmp/ann" ss_analyze_buffer)
		rs=$(fn "$tmp/ann" ss_resampler_process)
		ld=$(fn "$tmp/ann" ss_loudness_measure)
		stm=$(fn "$tmp/ann" ss_stft_magnitude)
		stp=$(fn "$tmp/ann" ss_stft_power)
		tw=$(fn "$tmp/ann" ss_onset_work_signal)
		te=$(fn "$tmp/ann" ss_tempo_analyze_work)
		# the key: ss_key_analyze, or ss_key_analyze_frames where the pipeline keeps the frames (the larger)
		ke=$(fn "$tmp/ann" ss_key_analyze)
		kf=$(fn "$tmp/ann" ss_key_analyze_frames)
		ke=$(awk -v a="$ke" -v b="$kf" 'BEGIN { printf "%.1f", (a + 0 > b + 0) ? a : b }')
		d1=$(fn "$tmp/ann" ss_content_features_compute)
		d2=$(fn "$tmp/ann" ss_spectral_stats_compute)
		d3=$(fn "$tmp/ann" ss_hpss_energy)
		d4=$(fn "$tmp/ann" ss_frame_stats_compute)
		awk -v c="$(basename "$clip")" -v p="$p" -v t="$total" -v dec="$dec" -v all="$all" -v rs="$rs" -v ld="$ld" \
			-v stm="$stm" -v stp="$stp" -v tw="$tw" -v te="$te" -v ke="$ke" -v d1="$d1" -v d2="$d2" -v d3="$d3" \
			-v d4="$d4" 'BEGIN {
			printf "| %s | %s | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f |\n", c, p, t, dec, rs, ld,
				all - dec, stm + stp, tw + te, ke, d1 + d2 + d3 + d4 }'
	done
done
