#!/bin/sh
# Clips that change key (and usually texture) half way, for tools/bench-timeline.sh --change S --keys: the first
# S seconds of one key-labelled clip followed by the first S seconds of the next (rows of DIR/labels.csv with a
# key, taken two by two in order; a pair in the same key is skipped), as 22.05 kHz mono WAV, and OUT/labels.csv
# with file,key_a,key_b. With --tempo, clips that change tempo instead, for bench-timeline.sh --change S
# --tempo: each tempo-labelled row joined with the next unused one whose tempo is unrelated (not within
# 8% of 1, 2, 3, 1/2, 1/3, 3/2, 2/3, 4/3 or 3/4 times it), and OUT/labels.csv with file,bpm_a,bpm_b. Needs ffmpeg
# and sox.
#   tools/make-splices.sh [--seconds S] [--tempo] DIR OUT
set -eu

secs=15
tempo=
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) secs=$2; shift 2 ;;
	--tempo) tempo=1; shift ;;
	--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) echo "make-splices.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 2 ] || { echo "usage: tools/make-splices.sh [--seconds S] [--tempo] DIR OUT" >&2; exit 2; }
dir=$1
out=$2
for t in ffmpeg sox; do
	command -v $t >/dev/null 2>&1 || { echo "make-splices.sh: $t is needed" >&2; exit 2; }
done
[ -f "$dir/labels.csv" ] || { echo "make-splices.sh: no $dir/labels.csv" >&2; exit 2; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ -n "$tempo" ]; then
	printf 'file,bpm_a,bpm_b\n' >"$out/labels.csv"
	# pairs of rows with a tempo (the second column) whose tempi are unrelated, one pair a line
	awk -F, 'NR > 1 && $2 + 0 > 0 { f[++n] = $1; b[n] = $2 + 0 }
	function related(x, y,  i, r) {
		split("1 2 3 0.5 0.333333 1.5 0.666667 1.333333 0.75", r, " ")
		for (i in r) if (x / y / r[i] > 0.92 && x / y / r[i] < 1.08) return 1
		return 0
	}
	END {
		for (i = 1; i <= n; i++) {
			if (used[i]) continue
			for (j = i + 1; j <= n; j++)
				if (!used[j] && !related(b[i], b[j])) {
					used[i] = used[j] = 1
					print f[i] "," b[i] "\n" f[j] "," b[j]
					break
				}
		}
	}' "$dir/labels.csv" >"$tmp/keyed"
else
	printf 'file,key_a,key_b\n' >"$out/labels.csv"
	# file and key of each row with a key (the key is the third column; labels have no quoted commas)
	awk -F, 'NR > 1 && $3 != "" { print $1 "," $3 }' "$dir/labels.csv" >"$tmp/keyed"
fi
n=0
while IFS=, read -r fa ka && IFS=, read -r fb kb; do
	[ -n "$tempo" ] || [ "$ka" != "$kb" ] || continue
	name=$(printf 'splice%03d.wav' "$n")
	ffmpeg -nostdin -v error -y -t "$secs" -i "$dir/$fa" -ar 22050 -ac 1 "$tmp/a.wav"
	ffmpeg -nostdin -v error -y -t "$secs" -i "$dir/$fb" -ar 22050 -ac 1 "$tmp/b.wav"
	sox "$tmp/a.wav" "$tmp/b.wav" "$out/$name"
	printf '%s,%s,%s\n' "$name" "$ka" "$kb" >>"$out/labels.csv"
	n=$((n + 1))
done <"$tmp/keyed"
echo "$n splices in $out"
