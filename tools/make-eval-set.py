#!/usr/bin/python3
"""Build a labelled evaluation set of about 30 s clips from Debian packages, for tools/songscope-score.

    tools/make-eval-set.py [--seed N] [--mma N] [--paired] [--harmonic-rhythm bar|mixed|half] [--tempo LO-HI]
                           [--exclude LABELS.csv ...] [--renders freedoom-abc|dev-packages|all|none]
                           [--windows K[,K...]] OUTDIR

Writes OUTDIR/labels.csv (file, bpm, key, kind, package, license, time_signature, source, soundfont,
harmonic_rhythm) and the
clips (mono, 22.05 or 44.1 kHz, Ogg Vorbis / MP3 / M4A / FLAC / WAV in turn). Nothing it writes belongs in
the repository. Deterministic for a seed and the same package versions.

Two kinds, of the same sorts as the development clips but not the same material:
* "MMA groove": a random choice (fixed seed) of MMA's grooves from every library it ships (stdlib, yamaha,
  casio, kara, pflib, zoom), each in a random key and mode over a I-vi-IV-V or i-iv-V-i progression, at a
  tempo drawn from slow (55-80), middle (81-169) or fast (170-200) quarter notes per minute. Labels: the tempo
  and metre MMA writes into its MIDI file, the key of the progression.
* "rendered MIDI": the music of Freedoom (the MIDI lumps of its two WAD files) and the ABC examples shipped
  with abcmidi and abcm2ps (through abc2midi); with --renders dev-packages instead, the MIDI files of the
  packages the development set's renders come from (simutrans-data, openttd-openmsx, pianobooster,
  planetblupi-music-midi, freedink-data, faust-common, mma), less any whose package and tempo label match a
  render of an --exclude set that names no source (the development set names no MIDI file). Labelled as the
  development set's README says: tempo from the tempo events over a 30 s window where tempo and metre are
  constant (clips start at that window); key from the key-signature event only where a Krumhansl-Kessler
  estimate over the window's notes agrees; without such a signature, from the notes where three estimates over
  the window's notes (Krumhansl-Kessler, Temperley's Kostka-Payne and Aarden's Essen profiles) name the same
  key, each by a correlation margin of at least 0.05 over its runner-up (kind "rendered MIDI (key from
  notes)"); else empty.
  MIDI converted from Doom's MUS format gets no tempo label (its tempo event is the MUS tick rate).
  The seed does not change the renders (their windows come from the files, and with the same --mma the same
  soundfonts and containers): --renders none leaves them out, for a held-out set of grooves only; --renders all
  takes both groups of files.
  --windows K[,K...] (default 0) takes the window K places after the first instead (0 the first, 1 the 30 s
  after it, ...), each labelled from its own notes, where the file's tempo and metre stay constant that long:
  --windows 1,2 makes renders that no set of first windows holds, of the same files (a held-out check for rules
  fitted on first windows).
Renders alternate between two General MIDI soundfonts (FluidR3 and TimGM6mb: two productions).

--paired builds development material for comparing the two soundfonts instead: MMA grooves only (the MIDI of
the other kind is all in the evaluation set), each rendered with BOTH soundfonts from the same MIDI file, in the
same container and rate (pairNNNa.EXT FluidR3, pairNNNb.EXT TimGM6mb, one row each with a "pair" column).
--harmonic-rhythm mixed (either mode) draws for each MMA groove how often its chords change: once a bar (the
default for every groove), twice a bar (grooves in four) or every two bars, and writes it to the harmonic_rhythm
column (empty for renders), so that metrical rules that read chord changes are not judged only on material
whose chords change once a bar by construction. The grooves, keys and tempi drawn for a seed are the same.
--harmonic-rhythm half changes the chords of every groove in four twice a bar (others once a bar), and --tempo
LO-HI draws every MMA tempo from LO-HI instead of the three bands: together they build the case a chord-change
rule must not double (music at 80-105 BPM whose chords change every half bar). Example:
tools/make-eval-set.py --paired --harmonic-rhythm half --tempo 80-105 --seed 4242 --mma 24 OUT
--exclude (either mode) skips the grooves named in the "source" column of other sets' labels.csv (e.g. the
evaluation set), so with a seed of its own the material is new. Example:
tools/make-eval-set.py --paired --seed 1603 --mma 40 --exclude EVALSET/labels.csv PAIRDIR

Needs: mma, fluidsynth, fluid-soundfont-gm, timgm6mb-soundfont, ffmpeg, freedoom, abcmidi, abcm2ps,
python3-mido (apt-get install mma fluidsynth fluid-soundfont-gm timgm6mb-soundfont ffmpeg freedoom abcmidi
abcm2ps python3-mido); --renders dev-packages also reads simutrans-data, openttd-openmsx, pianobooster,
planetblupi-music-midi, freedink-data and faust-common (a package not installed is left out, with a note).
"""
import argparse
import functools
import glob
import math
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile

SOUNDFONTS = [("/usr/share/sounds/sf2/FluidR3_GM.sf2", "FluidR3_GM", "fluid-soundfont-gm"),
              ("/usr/share/sounds/sf2/TimGM6mb.sf2", "TimGM6mb", "timgm6mb-soundfont")]
WADS = ["/usr/share/games/doom/freedoom1.wad", "/usr/share/games/doom/freedoom2.wad"]
ABC_DIRS = ["/usr/share/doc/abcmidi/examples", "/usr/share/doc/abcm2ps/examples"]
MMA_LIB = "/usr/share/mma/lib"
LICENSES = {"mma": "GPL-2+", "freedoom": "BSD-3-clause", "abcmidi": "GPL-2+", "abcm2ps": "GPL-3+",
            "simutrans-data": "Artistic-1.0", "openttd-openmsx": "GPL-2.0", "pianobooster": "GPL-3+",
            "planetblupi-music-midi": "GPL-3+", "freedink-data": "see /usr/share/doc/freedink-data/copyright",
            "faust-common": "STK-4.3"}
# The packages whose MIDI files the development set renders (its labels.csv's package column)
DEV_MIDI_PACKAGES = ["simutrans-data", "openttd-openmsx", "pianobooster", "planetblupi-music-midi", "freedink-data",
                     "faust-common", "mma"]
CLIP_S = 30.0
NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
MMA_FLAT = ["C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"]
# Krumhansl-Kessler probe-tone profiles
KK_MAJOR = [6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88]
KK_MINOR = [6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17]
# Temperley (2007), the Kostka-Payne corpus profiles, and Aarden (2003), the Essen folksong profiles: with
# Krumhansl-Kessler, the three note-based estimates whose agreement labels a render without a usable key signature
TKP_MAJOR = [0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400]
TKP_MINOR = [0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330]
AARDEN_MAJOR = [17.7661, 0.145624, 14.9265, 0.160186, 19.8049, 11.3587, 0.291248, 22.062, 0.145624, 8.15494,
                0.232998, 4.95122]
AARDEN_MINOR = [18.2648, 0.737619, 14.0499, 16.8599, 0.702494, 14.4362, 0.702494, 18.6161, 4.56621, 1.93186,
                7.37619, 1.75623]
KEY_MARGIN = 0.05  # each estimate's best key correlates at least this much more than its runner-up
FORMATS = [("ogg", ["-c:a", "libvorbis", "-q:a", "4"]), ("mp3", ["-c:a", "libmp3lame", "-b:a", "160k"]),
           ("m4a", ["-c:a", "aac", "-b:a", "128k"]), ("flac", ["-c:a", "flac"]), ("wav", ["-c:a", "pcm_s16le"])]


def need():
    missing = [c for c in ("mma", "fluidsynth", "ffmpeg", "abc2midi") if shutil.which(c) is None]
    missing += [p for p, _, _ in SOUNDFONTS if not os.path.exists(p)]
    missing += [w for w in WADS if not os.path.exists(w)]
    try:
        import mido  # noqa: F401
    except ImportError:
        missing.append("python3-mido")
    if missing:
        sys.exit("make-eval-set: missing " + ", ".join(missing) + "\n(apt-get install mma fluidsynth "
                 "fluid-soundfont-gm timgm6mb-soundfont ffmpeg freedoom abcmidi abcm2ps python3-mido)")


def run(cmd, **kw):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def key_ranking(weights, major=KK_MAJOR, minor=KK_MINOR):
    """The 24 keys as [(correlation, tonic, mode 1/0)], best first (Krumhansl-Schmuckler with the given
    profiles), or None without notes."""
    if sum(weights) <= 0:
        return None

    def corr(a, b):
        ma, mb = sum(a) / 12, sum(b) / 12
        num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
        den = math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))
        return num / den if den > 0 else -1
    return sorted(((corr(weights, [prof[(i - t) % 12] for i in range(12)]), t, mode)
                   for t in range(12) for mode, prof in ((1, major), (0, minor))), reverse=True)


def key_estimate(weights):
    """Krumhansl-Kessler: (tonic, mode 1/0) with the best correlation, or None without notes."""
    r = key_ranking(weights)
    return None if r is None else r[0][1:]


def key_from_notes(weights):
    """(tonic, mode) when the Krumhansl-Kessler, Kostka-Payne and Aarden-Essen estimates over the notes all name
    it, each by a margin of at least KEY_MARGIN over its runner-up, else None."""
    picks = set()
    for major, minor in ((KK_MAJOR, KK_MINOR), (TKP_MAJOR, TKP_MINOR), (AARDEN_MAJOR, AARDEN_MINOR)):
        r = key_ranking(weights, major, minor)
        if r is None or r[0][0] - r[1][0] < KEY_MARGIN:
            return None
        picks.add(r[0][1:])
    return picks.pop() if len(picks) == 1 else None


@functools.lru_cache(maxsize=4)
def midi_segments(path):
    """Events of a MIDI file in seconds: (tempo changes [(t, bpm)], metre changes [(t, 'n/d')], key
    signatures [(t, name)], notes [(t_on, t_off, pitch)] outside the drum channel, length). Kept for the last few
    files read, as each window of a file (--windows) reads the same file; callers must not change the lists."""
    import mido
    m = mido.MidiFile(path)
    tempos, metres, keys, notes, on = [], [], [], [], {}
    t = 0.0
    for msg in m:  # merged tracks, times in seconds
        t += msg.time
        if msg.type == "set_tempo":
            tempos.append((t, 60e6 / msg.tempo))
        elif msg.type == "time_signature":
            metres.append((t, "%d/%d" % (msg.numerator, msg.denominator)))
        elif msg.type == "key_signature":
            keys.append((t, msg.key))
        elif msg.type in ("note_on", "note_off") and msg.channel != 9:
            k = (msg.channel, msg.note)
            if msg.type == "note_on" and msg.velocity > 0:
                on.setdefault(k, t)
            elif k in on:
                notes.append((on.pop(k), t, msg.note))
    return tempos or [(0.0, 120.0)], metres or [(0.0, "4/4")], keys, notes, t


def value_at(changes, t):
    v = changes[0][1]
    for ct, cv in changes:
        if ct <= t + 1e-6:
            v = cv
    return v


def label_window(path, lead=2.0, window=0):
    """(start s, bpm, metre, key or '', key source: 'signature', 'notes' or '') of the first window of CLIP_S s
    from `lead` s after the music starts with constant tempo and metre and notes throughout, or of the one `window`
    windows after it in the same stretch of constant tempo and metre; None if there is none."""
    tempos, metres, keys, notes, length = midi_segments(path)
    if not notes:
        return None
    first = min(n[0] for n in notes)
    last = max(n[1] for n in notes)
    cuts = sorted({0.0, length} | {t for t, _ in tempos} | {t for t, _ in metres})
    for a, b in zip(cuts, cuts[1:]):
        start = max(a, first + lead if a <= first + lead else a)
        if start + CLIP_S > min(b, last):
            continue
        start += window * CLIP_S
        if start + CLIP_S > min(b, last):
            return None
        bpm = value_at(tempos, start)
        if not (30.0 <= bpm <= 300.0):
            continue
        metre = value_at(metres, start)
        w = [0.0] * 12
        for on, off, p in notes:
            d = min(off, start + CLIP_S) - max(on, start)
            if d > 0:
                w[p % 12] += d
        key, key_src = "", ""
        sig = [k for t, k in keys if t <= start + CLIP_S]
        if sig and len({k for _, k in keys}) == 1:
            s = sig[-1]
            minor = s.endswith("m")
            tonic = s[:-1] if minor else s
            flats = {"Db": "C#", "Eb": "D#", "Gb": "F#", "Ab": "G#", "Bb": "A#", "Cb": "B"}
            tonic = flats.get(tonic, tonic)
            est = key_estimate(w)
            if tonic in NAMES and est is not None and est == (NAMES.index(tonic), 0 if minor else 1):
                key, key_src = "%s %s" % (tonic, "minor" if minor else "major"), "signature"
        if not key:
            est = key_from_notes(w)
            if est is not None:
                key, key_src = "%s %s" % (NAMES[est[0]], "major" if est[1] else "minor"), "notes"
        if mus_converted(path):
            bpm = None  # the tempo event is the MUS tick rate, not the music's beat: no tempo label
        return start, bpm, metre, key, key_src
    return None


def mus_converted(path):
    """True for a MIDI file converted from id Software's MUS format (Freedoom's own music is partly MUS):
    MUS has no tempo, its events are at 140 ticks a second, and the usual converters write 89 ticks a quarter
    at 631,578 us a quarter (95.0 BPM) so that 89 ticks last 140 ticks' time. The notes then lie on a grid
    that has nothing to do with 95 BPM (e.g. eighths of 21 ticks: a beat at 201 or 100.6 BPM)."""
    import mido
    m = mido.MidiFile(path)
    if m.ticks_per_beat != 89:
        return False
    tempos = {msg.tempo for tr in m.tracks for msg in tr if msg.type == "set_tempo"}
    return tempos <= {631578, 631579}


def mma_grooves():
    """[(library, groove name, beats per bar as the library sets it)] of every groove MMA's libraries define
    (no intros, endings, fills), sorted."""
    out = set()
    for f in sorted(glob.glob(os.path.join(MMA_LIB, "*", "*.mma"))):
        lib = os.path.basename(os.path.dirname(f))
        beats = "4"
        with open(f, encoding="latin-1") as fp:
            for line in fp:
                mt = re.match(r"\s*Time\s+(\d+)", line, re.I)
                if mt:
                    beats = mt.group(1)
                mt = re.match(r"\s*DefGroove\s+(\S+)", line, re.I)
                if mt and not re.search(r"(intro|end|fill|sus|break)", mt.group(1), re.I):
                    out.add((lib, mt.group(1), beats))
    return sorted(out)


PROG_MAJOR = [(0, ""), (9, "m"), (5, ""), (7, "7")]
PROG_MINOR = [(0, "m"), (5, "m"), (7, "7"), (0, "m")]


def make_mma(work, rnd, i, lib, groove, rhythm="bar", tempo_range=None):
    """rhythm: "bar" (one chord per bar), "half" (two per bar, 4/4 grooves only; else one) or "two" (one chord
    every two bars): how often the progression's chords change. tempo_range (lo, hi): the tempo is drawn there
    instead of from the bands."""
    tonic, mode = rnd.randrange(12), rnd.randrange(2)
    band = rnd.choice(["slow", "mid", "fast"])
    tempo = {"slow": rnd.randint(55, 80), "mid": rnd.randint(81, 169), "fast": rnd.randint(170, 200)}[band]
    if tempo_range is not None:
        tempo = rnd.randint(*tempo_range)
    prog = PROG_MAJOR if mode else PROG_MINOR
    src = os.path.join(work, "g%03d.mma" % i)
    mid = os.path.join(work, "g%03d.mid" % i)
    with open(src, "w") as fp:
        fp.write("Tempo %d\nGroove %s\nKeySig %s%s\n" % (tempo, groove, MMA_FLAT[tonic], "" if mode else " minor"))
        for bar in range(1, 41):  # 40 bars: at least 36 s at 55 BPM in 3/4 is more than a clip and its lead
            if rhythm == "half":  # one chord on beats 1-2, the next on 3-4 ("/" repeats the chord before it)
                (s1, q1), (s2, q2) = prog[(2 * bar - 2) % 4], prog[(2 * bar - 1) % 4]
                line = "%s%s / %s%s /" % (MMA_FLAT[(tonic + s1) % 12], q1, MMA_FLAT[(tonic + s2) % 12], q2)
            else:
                step, q = prog[((bar - 1) // 2 if rhythm == "two" else bar - 1) % 4]
                line = "%s%s" % (MMA_FLAT[(tonic + step) % 12], q)
            fp.write("%d %s\n" % (bar, line))
    try:
        run(["mma", "-f", mid, src], cwd=work)
    except subprocess.CalledProcessError:
        return None
    lab = label_window(mid, lead=2.0)
    if lab is None:
        return None
    start, bpm, metre = lab[:3]
    return mid, start, bpm, metre, "%s %s" % (NAMES[tonic], "major" if mode else "minor"), "%s/%s" % (lib, groove)


def harmonic_rhythm(a, rr, beats_per_bar):
    """The chord rhythm of the next groove: "bar" unless --harmonic-rhythm mixed, then drawn from rr (a generator
    of its own, so the grooves, keys and tempi drawn for a seed stay those of the default), "half" only for
    grooves in four."""
    if a.harmonic_rhythm == "half":
        return "half" if beats_per_bar == "4" else "bar"
    if a.harmonic_rhythm != "mixed":
        return "bar"
    return rr.choice(["bar", "half", "two"] if beats_per_bar == "4" else ["bar", "two"])


def draw_mma(a, rnd, work, skip):
    """The set's a.mma MMA grooves, made in work: a third from those in other metres than 4/4 (3/4, 6/8, 5/4, ...),
    the rest in 4/4, each group in an order shuffled by rnd, none whose source is in skip. Returns a list of
    (make_mma's tuple, chord rhythm)."""
    grooves = [g for g in mma_grooves() if "%s/%s" % (g[0], g[1]) not in skip]
    odd = [g for g in grooves if g[2] != "4"]
    even = [g for g in grooves if g[2] == "4"]
    rnd.shuffle(odd)
    rnd.shuffle(even)
    out = []
    rr = random.Random(a.seed + 1000003)
    for group, quota in ((odd, a.mma // 3), (even, a.mma - a.mma // 3)):
        got = 0
        for lib, g, bpb in group:
            if got >= quota:
                break
            rhythm = harmonic_rhythm(a, rr, bpb)
            r = make_mma(work, rnd, len(out), lib, g, rhythm, a.tempo)
            if r is not None:
                out.append((r, rhythm))
                got += 1
    return out


def wad_midis(work):
    out = []
    for w in WADS:
        d = open(w, "rb").read()
        _, n, off = struct.unpack("<4sii", d[:12])
        for i in range(n):
            o, s, name = struct.unpack("<ii8s", d[off + 16 * i:off + 16 * i + 16])
            name = name.rstrip(b"\0").decode("latin-1")
            if name.startswith("D_") and d[o:o + 4] == b"MThd":
                p = os.path.join(work, "%s-%s.mid" % (os.path.basename(w)[:-4], name))
                with open(p, "wb") as fp:
                    fp.write(d[o:o + s])
                out.append((p, "freedoom", "%s:%s" % (os.path.basename(w), name)))
    return out


def abc_midis(work):
    out = []
    for d in ABC_DIRS:
        pkg = "abcmidi" if "abcmidi" in d else "abcm2ps"
        for f in sorted(glob.glob(os.path.join(d, "*.abc"))):
            base = os.path.join(work, "%s-%s" % (pkg, os.path.basename(f)[:-4]))
            try:
                run(["abc2midi", f, "-o", base + ".mid"], cwd=work)
            except subprocess.CalledProcessError:
                pass
            # abc2midi writes one file per tune (NAME.mid, or NAME1.mid, NAME2.mid... for several)
            for m in sorted(glob.glob(base + "*.mid")):
                out.append((m, pkg, "%s:%s" % (os.path.basename(f), os.path.basename(m))))
    return out


def package_midis():
    """Every MIDI file of DEV_MIDI_PACKAGES (dpkg -L), each content once: [(path, package, "package:path")];
    packages not installed are left out (with a note)."""
    import hashlib
    out, seen = [], set()
    for pkg in DEV_MIDI_PACKAGES:
        r = subprocess.run(["dpkg", "-L", pkg], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if r.returncode != 0:
            print("make-eval-set: %s is not installed, its MIDI files left out" % pkg, file=sys.stderr)
            continue
        for f in sorted(r.stdout.split()):
            if f.lower().endswith((".mid", ".midi")) and os.path.isfile(f):
                with open(f, "rb") as fp:
                    h = hashlib.sha256(fp.read()).hexdigest()
                if h not in seen:  # the same file shipped in several places
                    seen.add(h)
                    out.append((f, pkg, "%s:%s" % (pkg, f)))
    return out


def render(mid, sf, start, out, fmt, rate):
    wav = mid[:-4] + "-" + os.path.basename(sf)[:-4] + ".wav"
    if not os.path.exists(wav):
        run(["fluidsynth", "-ni", "-q", "-F", wav, "-r", "44100", sf, mid])
    ext, codec = fmt
    run(["ffmpeg", "-v", "error", "-y", "-ss", "%.3f" % start, "-t", "%.1f" % CLIP_S, "-i", wav, "-ac", "1",
         "-ar", str(rate)] + codec + [out])
    # The synthesiser can stop before the window the MIDI events promise (a file whose events end early, or that
    # it reads otherwise): a clip much shorter than CLIP_S is not the labelled window.
    r = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", out],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        length = float(r.stdout.strip())
    except ValueError:
        length = 0.0
    if length < CLIP_S - 1.0:
        os.unlink(out)
        raise subprocess.CalledProcessError(1, "render", "the clip is %.1f s long" % length)


def excluded(paths):
    """What the labels.csv files given rule out: (the "source" column of each row, grooves as library/name; the
    (package, bpm label) of each rendered row without a source: the development set names no MIDI file, so a file
    whose window has the same package and tempo label as one of its renders might be that file)."""
    import csv
    sources, tempi = set(), set()
    for p in paths:
        with open(p, newline="") as fp:
            for row in csv.DictReader(fp):
                if row.get("source"):
                    sources.add(row["source"])
                elif row.get("kind", "").startswith("rendered MIDI") and row.get("bpm"):
                    tempi.add((row["package"], "%.2f" % float(row["bpm"])))
    return sources, tempi


def main_paired(a):
    need()
    os.makedirs(a.outdir, exist_ok=True)
    rnd = random.Random(a.seed)
    skip = excluded(a.exclude)[0]
    rows = []
    with tempfile.TemporaryDirectory(prefix="make-eval-set.") as work:
        jobs = [r + (rhythm,) for r, rhythm in draw_mma(a, rnd, work, skip)]
        for i, (mid, start, bpm, metre, key, src, rhythm) in enumerate(jobs):
            fmt = FORMATS[i % len(FORMATS)]
            rate = 22050 if (i // len(FORMATS)) % 2 else 44100
            made = []
            try:
                for (sf, sfname, _), tag in zip(SOUNDFONTS, "ab"):
                    name = "pair%03d%s.%s" % (i + 1, tag, fmt[0])
                    render(mid, sf, start, os.path.join(a.outdir, name), fmt, rate)
                    made.append((name, sfname))
            except subprocess.CalledProcessError:
                print("make-eval-set: could not render %s, left out" % src, file=sys.stderr)
                for name, _ in made:
                    os.unlink(os.path.join(a.outdir, name))
                continue
            for name, sfname in made:
                rows.append((name, "%.2f" % bpm, key, "MMA groove", "mma", LICENSES["mma"], metre, src, sfname,
                             "pair%03d" % (i + 1), rhythm))
                print("%s %s %s %s %s" % (name, rows[-1][1], key, metre, src), file=sys.stderr)
    with open(os.path.join(a.outdir, "labels.csv"), "w") as fp:
        fp.write("file,bpm,key,kind,package,license,time_signature,source,soundfont,pair,harmonic_rhythm\n")
        for r in rows:
            fp.write(",".join(r) + "\n")
    print("%d clips (%d pairs) in %s" % (len(rows), len(rows) // 2, a.outdir))


def windows_list(text):
    """--windows: comma-separated window numbers, each 0 or more."""
    try:
        ks = [int(t) for t in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError("expected K[,K...], e.g. 1,2")
    if not ks or min(ks) < 0:
        raise argparse.ArgumentTypeError("window numbers are 0 or more")
    return ks


def tempo_range(text):
    m = re.fullmatch(r"(\d+)-(\d+)", text)
    if m is None or not 30 <= int(m.group(1)) <= int(m.group(2)) <= 300:
        raise argparse.ArgumentTypeError("LO-HI, 30 <= LO <= HI <= 300")
    return int(m.group(1)), int(m.group(2))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--mma", type=int, default=80, help="MMA groove clips (default 80)")
    ap.add_argument("--paired", action="store_true",
                    help="MMA grooves only, each rendered with both soundfonts from the same MIDI")
    ap.add_argument("--harmonic-rhythm", choices=["bar", "mixed", "half"], default="bar",
                    help="MMA chord changes: one per bar (default); per groove, one per bar, two per bar (4/4) "
                         "or one every two bars (mixed); two per bar in grooves in four (half)")
    ap.add_argument("--tempo", type=tempo_range, metavar="LO-HI",
                    help="draw every MMA tempo from LO-HI BPM instead of the slow, middle and fast bands")
    ap.add_argument("--exclude", action="append", default=[], metavar="LABELS",
                    help="skip the grooves in this labels.csv's source column, and renders whose package and tempo "
                         "label match a row without a source (repeatable)")
    ap.add_argument("--renders", choices=["freedoom-abc", "dev-packages", "all", "none"], default="freedoom-abc",
                    help="the MIDI files rendered: Freedoom's music and the ABC examples (default), the other MIDI "
                         "files of the packages the development set's renders come from, both (all), or none "
                         "(grooves only)")
    ap.add_argument("--windows", type=windows_list, default=[0], metavar="K[,K...]",
                    help="the 30 s windows of each render: 0 the first (default), 1 the next, ...")
    a = ap.parse_args()
    if a.paired:
        return main_paired(a)
    need()
    os.makedirs(a.outdir, exist_ok=True)
    rnd = random.Random(a.seed)
    skip, skip_tempi = excluded(a.exclude)
    rows = []
    with tempfile.TemporaryDirectory(prefix="make-eval-set.") as work:
        jobs = [("MMA groove", "mma", r, rhythm) for r, rhythm in draw_mma(a, rnd, work, skip)]
        midis = {"dev-packages": package_midis, "none": list,
                 "freedoom-abc": lambda: wad_midis(work) + abc_midis(work),
                 "all": lambda: package_midis() + wad_midis(work) + abc_midis(work)}[a.renders]()
        for (mid, pkg, src), window in ((m, k) for m in midis for k in a.windows):
            try:
                lab = label_window(mid, window=window)
            except Exception as e:  # a file mido cannot read (the packages ship a few broken ones)
                print("make-eval-set: %s: %s, left out" % (src, e), file=sys.stderr)
                continue
            if window:
                src = "%s@%d" % (src, window)
            if window == 0 and lab is not None and lab[1] is not None and (pkg, "%.2f" % lab[1]) in skip_tempi:
                print("make-eval-set: %s has a development clip's package and tempo, left out" % src, file=sys.stderr)
                continue
            if lab is not None:
                start, bpm, metre, key, key_src = lab
                kind = "rendered MIDI (key from notes)" if key_src == "notes" else "rendered MIDI"
                jobs.append((kind, pkg, (mid, start, bpm, metre, key, src), ""))
        for i, (kind, pkg, (mid, start, bpm, metre, key, src), rhythm) in enumerate(jobs):
            sf, sfname, _ = SOUNDFONTS[i % 2]
            fmt = FORMATS[i % len(FORMATS)]
            rate = 22050 if (i // len(FORMATS)) % 2 else 44100
            name = "eval%03d.%s" % (i + 1, fmt[0])
            try:
                render(mid, sf, start, os.path.join(a.outdir, name), fmt, rate)
            except subprocess.CalledProcessError:
                print("make-eval-set: could not render %s, left out" % src, file=sys.stderr)
                continue
            rows.append((name, "" if bpm is None else "%.2f" % bpm, key, kind, pkg, LICENSES[pkg], metre, src, sfname,
                         rhythm))
            print("%s %s %s %s %s" % (name, rows[-1][1], key or "-", metre, src), file=sys.stderr)
    with open(os.path.join(a.outdir, "labels.csv"), "w") as fp:
        fp.write("file,bpm,key,kind,package,license,time_signature,source,soundfont,harmonic_rhythm\n")
        for r in rows:
            fp.write(",".join(r) + "\n")
    print("%d clips in %s" % (len(rows), a.outdir))


if __name__ == "__main__":
    main()
