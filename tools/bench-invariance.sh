#!/bin/sh
# Invariance of tempo, key and the voice and audience scores: every clip sox can read in DIR (Ogg Vorbis, FLAC,
# WAV) is re-encoded at other sample rates, gains, channel counts and codecs (and as the lossy previews music
# apps send, 128 kbit/s MP3 and AAC, when lame and ffmpeg are installed), and songscope-analyze should give each
# copy the tempo (within 1 %) and the key of the original, and keep speechiness, instrumentalness and liveness
# on the same side of their documented thresholds (0.33 and 0.66, 0.5, 0.8). Prints a markdown table per
# variant and the clips that differ.
#   tools/bench-invariance.sh [--analyze PROGRAM] DIR
# DIR holds the clips and labels.csv (file first); PROGRAM defaults to the songscope-analyze next to this
# script's build (tools/songscope-analyze from the current directory). Needs sox and python3.
set -eu

analyze=tools/songscope-analyze
while [ $# -gt 0 ]; do
	case $1 in
	--analyze) analyze=$2; shift 2 ;;
	--help)
		sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	--) shift; break ;;
	-*) echo "bench-invariance.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -eq 1 ] || { echo "usage: tools/bench-invariance.sh [--analyze PROGRAM] DIR" >&2; exit 2; }
dir=$1
[ -f "$dir/labels.csv" ] || { echo "bench-invariance.sh: no $dir/labels.csv" >&2; exit 2; }
[ -x "$analyze" ] || { echo "bench-invariance.sh: $analyze is not executable" >&2; exit 2; }
command -v sox >/dev/null || { echo "bench-invariance.sh: needs sox" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Variants: name and the sox output options/effects that make it (the output extension picks the codec).
variants="orig rate48k rate32k gain-12 gain+norm stereo44k flac16 vorbis-q3"
command -v lame >/dev/null && variants="$variants mp3-128k"
command -v ffmpeg >/dev/null && variants="$variants aac-128k"
for v in $variants; do
	mkdir -p "$tmp/$v"
done
tail -n +2 "$dir/labels.csv" | cut -d, -f1 | while read -r f; do
	case $f in
	*.ogg | *.flac | *.wav) ;;
	*) continue ;;
	esac
	base=${f%.*}
	src=$dir/$f
	sox -q -V1 "$src" -b 24 "$tmp/orig/$base.wav"
	sox -q -V1 "$src" -b 24 "$tmp/rate48k/$base.wav" rate -v 48000
	sox -q -V1 "$src" -b 16 "$tmp/rate32k/$base.flac" rate -v 32000
	sox -q -V1 "$src" -b 24 "$tmp/gain-12/$base.wav" gain -12
	sox -q -V1 "$src" -b 24 "$tmp/gain+norm/$base.wav" gain -n -0.1
	sox -q -V1 "$src" -b 16 "$tmp/stereo44k/$base.wav" rate -v 44100 channels 2
	sox -q -V1 "$src" -b 16 "$tmp/flac16/$base.flac"
	sox -q -V1 "$src" -C 3 "$tmp/vorbis-q3/$base.ogg"
	if [ -d "$tmp/mp3-128k" ] || [ -d "$tmp/aac-128k" ]; then
		sox -q -V1 "$src" -b 16 "$tmp/preview.wav" rate -v 44100 channels 2
		[ ! -d "$tmp/mp3-128k" ] || lame --quiet -b 128 "$tmp/preview.wav" "$tmp/mp3-128k/$base.mp3"
		[ ! -d "$tmp/aac-128k" ] || ffmpeg -nostdin -loglevel error -i "$tmp/preview.wav" -c:a aac -b:a 128k \
			"$tmp/aac-128k/$base.m4a"
		rm -f "$tmp/preview.wav"
	fi
done
for v in $variants; do
	"$analyze" -r "$tmp/$v" >"$tmp/$v.jsonl" 2>/dev/null || true
done
python3 - "$tmp" $variants <<'PY'
import json, os, sys
tmp, variants = sys.argv[1], sys.argv[2:]
def load(v):
    out = {}
    for line in open(os.path.join(tmp, v + ".jsonl")):
        d = json.loads(line)
        out[os.path.splitext(os.path.basename(d["file"]))[0]] = d
    return out
ref = load("orig")
# The documented thresholds: which side of them a score is on.
SIDES = {"speechiness": (0.33, 0.66), "instrumentalness": (0.5,), "liveness": (0.8,)}
def side(d, k):
    v = d.get(k)
    return None if v is None else sum(v > t for t in SIDES[k])
print("| variant | clips | same tempo (within 1 %) | same key | same speechiness side | same instrumentalness side"
      " | same liveness side |")
print("|---|---:|---:|---:|---:|---:|---:|")
diffs = []
for v in variants[1:]:
    got = load(v)
    n = st = sk = 0
    ss = {k: 0 for k in SIDES}
    for name, r in sorted(ref.items()):
        g = got.get(name)
        if g is None or "error" in r or "error" in g:
            continue
        n += 1
        b0, b1 = r.get("bpm") or 0, g.get("bpm") or 0
        same_t = (b0 == 0 and b1 == 0) or (b0 > 0 and abs(b1 - b0) / b0 <= 0.01)
        same_k = r.get("key") == g.get("key")
        st += same_t
        sk += same_k
        moved = [k for k in SIDES if side(r, k) != side(g, k)]
        for k in SIDES:
            ss[k] += k not in moved
        if not (same_t and same_k) or moved:
            scores = ", ".join("%s %.2f -> %.2f" % (k, r[k], g[k]) for k in moved)
            diffs.append(f"| {v} | {name} | {b0} | {b1} | {r.get('key')} | {g.get('key')} | {scores} |")
    print(f"| {v} | {n} | {st} | {sk} | {ss['speechiness']} | {ss['instrumentalness']} | {ss['liveness']} |")
if diffs:
    print("\n| variant | clip | bpm | bpm of the copy | key | key of the copy | scores across a threshold |"
          "\n|---|---|---:|---:|---|---|---|")
    print("\n".join(diffs))
PY
