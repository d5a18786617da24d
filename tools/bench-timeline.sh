#!/bin/sh
# What the audio-analysis timeline gives and costs to store: segments per second, sections per clip and the
# bytes of beats, downbeats, segments and sections as compact JSON (what the cache stores per row in beats_json,
# within a few per cent: the cache writes beats with three decimals),
# over every audio file given or found below the folders given. Runs `songscope-analyze --beats --timeline`
# and prints a markdown table. Needs python3.
# --change S (clips made of two pieces spliced at S seconds): also how far the nearest section start is from S.
# --keys LABELS (a labels.csv: file, key; with --change, key_a and key_b, the keys before and after S): also how
#   well the sections' own keys match the label (MIREX score: 1 same, 0.5 a fifth above, 0.3 relative, 0.2
#   parallel; weighted by the time of each section the label covers), beside the track's key on every section.
# --metre LABELS (a labels.csv: file, time_signature; or file, ts_a, ts_b, cut: the metre before and after cut
#   seconds): also how well the sections' own time signatures match the label (the share of section time whose
#   beats per bar equal the label's, and whose bars are in threes (3/4, 6/8) or fours alike), beside the track's.
# --tempo LABELS (a labels.csv: file, bpm; with --change S, bpm_a and bpm_b, the tempi before and after S): how
#   often each section's tempo (its own where stored, else the track's) is within 4% of its label (Acc1) or of
#   2, 3, 1/2 or 1/3 times it (Acc2), beside the track's on every section, and how well the sections'
#   tempo_confidence tells those whose tempo is right (Acc2) from the others (medians, and the share of such pairs
#   ordered right), beside the track's confidence on every section.
#   tools/bench-timeline.sh [--program PATH] [--max-seconds N] [--change S] [--keys LABELS] [--metre LABELS]
#   [--tempo LABELS] FILE|DIR...
# e.g. tools/bench-timeline.sh --program build/tools/songscope-analyze TESTDATA
set -eu

prog=songscope-analyze
maxs=30
change=
keys=
metre=
tconf=
while [ $# -gt 0 ]; do
	case $1 in
	--program) prog=$2; shift 2 ;;
	--max-seconds) maxs=$2; shift 2 ;;
	--change) change=$2; shift 2 ;;
	--keys) keys=$2; shift 2 ;;
	--metre) metre=$2; shift 2 ;;
	--tempo) tconf=$2; shift 2 ;;
	--help)
		sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'
		exit 0 ;;
	--) shift; break ;;
	-*) echo "bench-timeline.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || { echo "usage: tools/bench-timeline.sh [--program PATH] [--max-seconds N] FILE|DIR..." >&2; exit 2; }
command -v python3 >/dev/null 2>&1 || { echo "bench-timeline.sh: python3 is needed" >&2; exit 2; }
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$prog" --beats --timeline --max-seconds "$maxs" -r "$@" >"$tmp" || true
python3 - "$tmp" "$change" "$keys" "$metre" "$tconf" <<'PY'
import csv, json, os, sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
ok = [r for r in rows if "segments" in r]
if not ok:
    sys.exit("bench-timeline.sh: no file was analysed")

def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]

def line(name, v, fmt):
    print("| %s | %s | %s | %s | %s | %s |" % (name, *(fmt % q(v, p) for p in (0, 0.1, 0.5, 0.9, 1))))

rate = [len(r["segments"]) / r["signal_duration"] for r in ok]
seglen = [g[1] for r in ok for g in r["segments"]]
secs = [len(r["sections"]) for r in ok]
seclen = [s[1] for r in ok for s in r["sections"]]
stored = [len(json.dumps({k: r[k] for k in ("beats", "downbeats", "segments", "sections")}, separators=(",", ":")))
          for r in ok]
print("%d files analysed (%d failed), %.0f s of audio" % (len(ok), len(rows) - len(ok), sum(r["signal_duration"] for r in ok)))
print()
print("| per file | min | p10 | median | p90 | max |")
print("|---|---:|---:|---:|---:|---:|")
line("segments per second", rate, "%.2f")
line("segment length, s (every segment)", seglen, "%.3f")
line("sections", secs, "%d")
line("section length, s (every section)", seclen, "%.1f")
line("timeline as compact JSON, bytes", stored, "%d")
if sys.argv[2]:
    at = float(sys.argv[2])
    off = [min(abs(s[0] - at) for s in r["sections"]) for r in ok]
    line("nearest section start to the change, s away", off, "%.1f")
    print()
    print("%d of %d files have a section start within 1 s of %g s" % (sum(o <= 1.0 for o in off), len(ok), at))
if sys.argv[3]:
    names = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
    flats = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B"}

    def parse(text):
        """(tonic, 1 major / 0 minor) of "A minor", or None."""
        try:
            tonic, mode = text.split()
            return names.index(flats.get(tonic, tonic)), 1 if mode.lower() == "major" else 0
        except ValueError:
            return None

    def mirex(est, lab):
        if est is None:
            return 0.0
        if est == lab:
            return 1.0
        (et, em), (lt, lm) = est, lab
        if em == lm:
            return 0.5 if (et - lt) % 12 == 7 else 0.0
        if et == lt:
            return 0.2
        return 0.3 if et == (lt + (9 if lm else 3)) % 12 else 0.0

    labels = {r["file"]: r for r in csv.DictReader(open(sys.argv[3]))}
    at = float(sys.argv[2]) if sys.argv[2] else None
    own = track = covered = 0.0
    files = 0
    for r in ok:
        lab_row = labels.get(os.path.basename(r["file"]))
        if lab_row is None or r.get("key_index", -1) < 0:
            continue
        sides = [(0.0, 1e9, parse(lab_row.get("key", "")))] if at is None else \
            [(0.0, at, parse(lab_row.get("key_a", ""))), (at, 1e9, parse(lab_row.get("key_b", "")))]
        if all(lab is None for _, _, lab in sides):
            continue
        tk = (r["key_index"], r["mode"])
        files += 1
        for s in r["sections"]:
            for a, b, lab in sides:
                t = max(0.0, min(b, s[0] + s[1]) - max(a, s[0]))
                if lab is None or t <= 0.0:
                    continue
                sk = (s[4], s[5]) if len(s) >= 7 and s[4] >= 0 else None
                own += t * mirex(sk, lab)
                track += t * mirex(tk, lab)
                covered += t
    print()
    if covered > 0:
        print("section keys against the labels (%d files, %.0f s labelled): sections' own keys %.3f, the track's key "
              "on every section %.3f" % (files, covered, own / covered, track / covered))
    else:
        print("no labelled file with a key")
if sys.argv[4]:
    def beats(ts):
        try:
            return int(ts.split("/")[0])
        except (ValueError, AttributeError):
            return None

    def threes(n):
        return 3 if n in (3, 6) else n

    labels = {r["file"]: r for r in csv.DictReader(open(sys.argv[4]))}
    own = track = own3 = track3 = covered = 0.0
    files = departed = departed_right = 0
    for r in ok:
        row = labels.get(os.path.basename(r["file"]))
        if row is None or not r.get("time_signature"):
            continue
        if row.get("cut"):
            cut = float(row["cut"])
            sides = [(0.0, cut, beats(row.get("ts_a"))), (cut, 1e9, beats(row.get("ts_b")))]
        else:
            sides = [(0.0, 1e9, beats(row.get("time_signature")))]
        if all(lab is None for _, _, lab in sides):
            continue
        whole = beats(r["time_signature"])
        files += 1
        for s in r["sections"]:
            own_ts = s[7] if len(s) >= 9 else whole
            if own_ts != whole:
                departed += 1
            for a, b, lab in sides:
                t = max(0.0, min(b, s[0] + s[1]) - max(a, s[0]))
                if lab is None or t <= 0.0:
                    continue
                if own_ts != whole and 2 * t >= s[1]:
                    departed_right += own_ts == lab
                own += t * (own_ts == lab)
                track += t * (whole == lab)
                own3 += t * (threes(own_ts) == threes(lab))
                track3 += t * (threes(whole) == threes(lab))
                covered += t
    print()
    if covered > 0:
        print("section metres against the labels (%d files, %.0f s labelled; %d sections left the track's metre, %d "
              "of them rightly): beats per bar, sections' own %.3f, the track's on every section %.3f; bars in threes "
              "or fours, sections' own %.3f, the track's %.3f" % (files, covered, departed, departed_right,
                                                                   own / covered, track / covered, own3 / covered,
                                                                   track3 / covered))
    else:
        print("no labelled file with a time signature")
if sys.argv[5]:
    def fits(bpm, label, levels=(1.0, 2.0, 3.0, 0.5, 1.0 / 3.0)):
        return any(abs(bpm / label / k - 1.0) < 0.04 for k in levels)

    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if v else float("nan")

    def ordered(p, q):
        """Share of pairs (x of p, y of q) with x above y, ties counting half."""
        return sum((x > y) + 0.5 * (x == y) for x in p for y in q) / (len(p) * len(q)) if p and q else float("nan")

    labels = {r["file"]: r for r in csv.DictReader(open(sys.argv[5]))}
    at = float(sys.argv[2]) if sys.argv[2] else None
    own = {True: [], False: []}
    track = {True: [], False: []}
    n = own1 = own2 = trk1 = trk2 = moved = moved_right = 0
    for r in ok:
        row = labels.get(os.path.basename(r["file"]))
        if row is None or not r.get("bpm"):
            continue
        for s in r["sections"]:
            if at is None:
                if not row.get("bpm"):
                    continue
                label = float(row["bpm"])
            else:
                before = max(0.0, min(s[0] + s[1], at) - s[0])
                after = max(0.0, s[0] + s[1] - max(s[0], at))
                if min(before, after) > 0.2 * s[1]:
                    continue  # a section that spans the change
                label = float(row["bpm_a"] if before >= after else row["bpm_b"])
            tempo = s[10] if len(s) >= 11 and s[10] > 0 else r["bpm"]
            own[fits(tempo, label)].append(s[9] if len(s) >= 10 else r["bpm_confidence"])
            track[fits(r["bpm"], label)].append(r["bpm_confidence"])
            n += 1
            own1 += fits(tempo, label, (1.0,))
            own2 += fits(tempo, label)
            trk1 += fits(r["bpm"], label, (1.0,))
            trk2 += fits(r["bpm"], label)
            if tempo != r["bpm"]:
                moved += 1
                moved_right += fits(tempo, label)
    print()
    if n:
        print("section tempi (%d sections; %d with a tempo of their own, %d of them within Acc2): Acc1 %.3f, Acc2 %.3f; "
              "the track's on every section: Acc1 %.3f, Acc2 %.3f" % (n, moved, moved_right, own1 / n, own2 / n,
                                                                     trk1 / n, trk2 / n))
        print("section tempo confidence: %d sections with a right tempo (Acc2), median %.3f; %d with a wrong one, median "
              "%.3f; pairs ordered right %.3f (the track's tempo and confidence on every section: %d right, %d wrong, "
              "%.3f)" % (len(own[True]), median(own[True]), len(own[False]), median(own[False]),
                         ordered(own[True], own[False]), len(track[True]), len(track[False]),
                         ordered(track[True], track[False])))
PY
