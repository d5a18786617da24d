#!/bin/sh
# Clips that change key (and usually texture) half way, for tools/bench-timeline.sh --change S --keys: the first
# S seconds of one key-labelled clip followed by the first S seconds of the next (rows of DIR/labels.csv with a
# key, taken two by two in order; a pair in the same key is skipped), as 22.05 kHz mono WAV, and OUT/labels.csv
# with file,key_a,key_b. Needs ffmpeg and sox.
#   tools/make-splices.sh [--seconds S] DIR OUT
set -eu

secs=15
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) secs=$2; shift 2 ;;
	--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "make-splices.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { echo "usage: tools/make-splices.sh [--seconds S] DIR OUT" >&2; exit 2; }
dir=$1
out=$2
for t in ffmpeg sox; do
	command -v $t >/dev/null 2>&1 || { echo "make-splices.sh: $t is needed" >&2; exit 2; }
done
[ -f "$dir/labels.csv" ] || { echo "make-splices.sh: no $dir/labels.csv" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'file,key_a,key_b\n' >"$out/labels.csv"
# file and key of each row with a key (the key is the third column; labels have no quoted commas)
awk -F, 'NR > 1 && $3 != "" { print $1 "," $3 }' "$dir/labels.csv" >"$tmp/keyed"
n=0
while IFS=, read -r fa ka && IFS=, read -r fb kb; do
	[ "$ka" != "$kb" ] || continue
	name=$(printf 'splice%03d.wav' "$n")
	ffmpeg -nostdin -v error -y -t "$secs" -i "$dir/$fa" -ar 22050 -ac 1 "$tmp/a.wav"
	ffmpeg -nostdin -v error -y -t "$secs" -i "$dir/$fb" -ar 22050 -ac 1 "$tmp/b.wav"
	sox "$tmp/a.wav" "$tmp/b.wav" "$out/$name"
	printf '%s,%s,%s\n' "$name" "$ka" "$kb" >>"$out/labels.csv"
	n=$((n + 1))
done <"$tmp/keyed"
echo "$n splices in $out"
