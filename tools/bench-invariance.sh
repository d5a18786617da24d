#!/bin/sh
# Invariance of tempo and key: every clip sox can read in DIR (Ogg Vorbis, FLAC, WAV) is re-encoded at other
# sample rates, gains, channel counts and codecs, and songscope-analyze must give each copy the tempo (within
# 1 %) and the key of the original. Prints a markdown table per variant and the clips that differ.
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
	sox -q "$src" -b 24 "$tmp/orig/$base.wav"
	sox -q "$src" -b 24 "$tmp/rate48k/$base.wav" rate -v 48000
	sox -q "$src" -b 16 "$tmp/rate32k/$base.flac" rate -v 32000
	sox -q "$src" -b 24 "$tmp/gain-12/$base.wav" gain -12
	sox -q "$src" -b 24 "$tmp/gain+norm/$base.wav" gain -n -0.1
	sox -q "$src" -b 16 "$tmp/stereo44k/$base.wav" rate -v 44100 channels 2
	sox -q "$src" -b 16 "$tmp/flac16/$base.flac"
	sox -q "$src" -C 3 "$tmp/vorbis-q3/$base.ogg"
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
print("| variant | clips | same tempo (within 1 %) | same key |")
print("|---|---:|---:|---:|")
diffs = []
for v in variants[1:]:
    got = load(v)
    n = st = sk = 0
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
        if not (same_t and same_k):
            diffs.append(f"| {v} | {name} | {b0} | {b1} | {r.get('key')} | {g.get('key')} |")
    print(f"| {v} | {n} | {st} | {sk} |")
if diffs:
    print("\n| variant | clip | bpm | bpm of the copy | key | key of the copy |\n|---|---|---:|---:|---|---|")
    print("\n".join(diffs))
PY
