#!/usr/bin/env python3
"""features-evidence: labelled audio for speechiness, instrumentalness and liveness, built from Debian packages,
and how often each score lands on the right side of its documented threshold.

Usage: tools/features-evidence.py [--build DIR] [--work DIR] [--keep] [--fit] [--cv] [--seeds S,S,...]
                                  [--voice-features F,F,...] MUSIC_DIR

MUSIC_DIR holds music clips (any format songscope decodes; the development clips in TESTDATA). Everything is
generated into --work (default: a new temporary directory, removed at the end unless --keep):

  music     each clip of MUSIC_DIR, decoded to mono 22050 Hz, first 30 s                   (label: music, dry)
  speech    espeak-ng voices (several English accents, German, French, Spanish, Italian; male and
            female variants; three speeds) reading our own paragraphs, looped to 30 s      (spoken word)
  mix       that speech over a music clip, speech-to-music level +6, 0 or -6 dB            (speech over music)
  sung      a STAND-IN for singing: espeak-ng says each word at a pitch that follows a
            melody, stretched (sox tempo) to long notes, with 5.5 Hz +-35 cent vibrato added
            here, over a music clip at 0 or -6 dB. It is synthetic speech on a melody, not a
            singer: it shows that a voice with held, vibrating pitch over music is found; it
            does not show how real singing is scored                                   (vocals)
  sung      festival's singing mode (text2wave -mode singing, the kal and ked diphone voices) singing our
            texts, one word per note, on melodies made here (a random walk on a major or minor scale in a
            random key, phrases of 4-8 notes, 60-110 BPM), some shifted up 3, 7 or 10 semitones (sox pitch),
            vibrato of 4.5-7.5 Hz and +-20-90 cents added here (15% with none or +-10 cents), over a music
            clip at +3..-9 dB. Synthetic singing (diphones on score pitches), not a singer   (vocals)
  vowels    the same with "ooh", "aah", "ah", "oh" on long legato notes, -3..-12 dB under the music:
            wordless singing, which Spotify counts as instrumental                          (no vocals)
  live      a music clip in a room (sox reverb) with a SYNTHESISED crowd under it: murmur
            (band-limited noise with a slow level walk) and applause (dense random claps:
            short decaying noise bursts) at the start, the end and now and then, through a
            room reverberation, crowd level -8, -14 or -20 dB under the music; the dry
            original is the music class. Not a recorded audience: no Debian package ships
            applause or crowd recordings                                                  (live)

Clips are split into two halves by source (music clip, text, song): the calibration half fits the weights (--fit
prints them as C initialisers for core/analysis/content.c; --cv cross-validates the VOICE features inside it, 4 folds
by source, once per fold seed of --seeds, and stops before the report half), the report half is analysed with
songscope-analyze and reported. Output: markdown tables on stdout.
Needs: espeak-ng, sox, python3, festival with festvox-kallpc16k and festvox-kdlpc16k (without them the
festival and ooh/aah classes are left out), and a build with tools/songscope-content and tools/songscope-analyze."""

import argparse
import array
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import wave

SR = 22050
SECONDS = 30.0
N = int(SR * SECONDS)
FEATURES = ["low_energy", "mod4", "flux_sd", "centroid_sd", "stay", "glide", "wobble", "floor_db", "floor_flat",
            "burst", "vibrato", "syllable", "attack", "fluct", "fluct_coh"]
SPEECH_FEATURES = FEATURES[:10]  # the v4 fit of SPEECH and LIVE reads these ten
VOICE_FEATURES = FEATURES[:15]  # the twelve of analysis v5, attack, and the fluctogram's two

TEXTS = [
    "The morning train was late again, so the station filled with people who checked their watches, read the "
    "boards and told each other that it would surely come within the next few minutes. Nobody believed it. "
    "A child counted the pigeons on the roof, and an old man explained the timetable to anyone who would listen.",
    "To make good bread you need patience more than skill. Mix the flour with water and let it rest for an hour. "
    "Then add salt and a little yeast, fold the dough every half hour, and leave it overnight in a cool place. "
    "In the morning shape it gently, let it rise once more, and bake it in a very hot oven.",
    "The committee met on Thursday to discuss the new budget. After a long debate about the roads and the "
    "library, the members agreed to spend a little more on schools and a little less on parking. The mayor "
    "thanked everyone for their work and promised a full report before the end of the month.",
    "Far out in the ocean the water is as blue as a cornflower and as clear as glass, but it is very deep, so "
    "deep that no anchor could reach the bottom. Many steeples would have to be piled one upon another to reach "
    "from the ground to the surface of the sea, and down there live the sea folk.",
    "Welcome back to the programme. Today we are talking about gardens in small cities, about balconies full "
    "of tomatoes and roofs covered with bees. My first guest has grown vegetables on a fire escape for twenty "
    "years, and she says the secret is simple: good soil, enough water, and a lot of stubbornness.",
    "Please listen carefully, as our menu options have changed. If you are calling about an existing order, "
    "press one. If you would like to speak to someone about a delivery, press two. For all other questions, "
    "stay on the line and the next available person will be with you shortly. Thank you for waiting.",
    "The history of the river is the history of the town. Boats carried wool down to the coast and brought back "
    "salt, wine and news. When the railway came the wharves fell quiet, the warehouses became flats, and now "
    "only rowing clubs and a few swans remember the busy years.",
    "Let me tell you what happened at the football match. The first half was dull, nobody could keep the ball, "
    "and the rain would not stop. Then in the last ten minutes our side scored twice, the crowd went wild, and "
    "the coach danced along the touchline as if he were twenty years younger.",
]
VOICES = ["en-us", "en-gb", "en-gb-scotland+f2", "en-gb-x-rp+m3", "en-us+f3", "de", "fr+f4", "es",
          "en-029+m2", "it+f1", "en-gb-x-gbclan", "en-us+m7"]
SPEEDS = [140, 165, 190]
N_FESTIVAL = 112  # festival-sung clips over music
N_VOWELS = 40     # "ooh"/"aah" over music (instrumental, as Spotify counts them)
MELODY = [0, 2, 4, 5, 7, 5, 4, 2, 0, 4, 7, 9, 7, 4, 2, 0]  # semitones


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise RuntimeError("%s: %s" % (" ".join(cmd), r.stderr.decode(errors="replace")[-400:]))
    return r.stdout


def read_wav(path):
    """Mono float samples of a 16-bit WAV at SR (converted by sox when it is not)."""
    with wave.open(path) as w:
        ok = w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2
    if not ok:
        tmp = path + ".conv.wav"
        run(["sox", path, "-b", "16", "-c", "1", "-r", str(SR), tmp])
        path = tmp
    with wave.open(path) as w:
        a = array.array("h", w.readframes(w.getnframes()))
    if sys.byteorder == "big":
        a.byteswap()
    return array.array("f", (v / 32768.0 for v in a))


def write_wav(path, x):
    peak = max(1e-9, max(abs(v) for v in x))
    g = 0.9 / peak if peak > 0.9 else 1.0
    a = array.array("h", (int(max(-32767, min(32767, round(v * g * 32767)))) for v in x))
    if sys.byteorder == "big":
        a.byteswap()
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(a.tobytes())


def rms(x):
    return math.sqrt(sum(v * v for v in x) / max(1, len(x))) or 1e-9


def loop_to(x, n, gap=int(0.4 * SR)):
    out = array.array("f")
    while len(out) < n:
        out.extend(x)
        out.extend(array.array("f", bytes(4 * gap)))
    return out[:n]


def fit_len(x, n=N):
    return array.array("f", x[:n]) + array.array("f", bytes(4 * max(0, n - len(x))))


def mix(fg, bg, level_db):
    """fg over bg, fg's RMS level_db above bg's."""
    g = rms(bg) / rms(fg) * 10 ** (level_db / 20.0)
    return array.array("f", (a * g + b for a, b in zip(fg, bg)))


def speak(work, name, voice, speed, text, pitch=50):
    out = os.path.join(work, name)
    run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", out, text])
    return out


def vibrato(x, rate, cents, rng, n=N):
    """x read through a sinusoidally modulated delay: a pitch vibrato of +-cents at rate Hz, the rate wandering
    by a few percent as a singer's does (Prame 1994 and 1997 report 5.5-7.5 Hz and +-30-150 cents for sung vibrato)."""
    dev = 2.0 ** (cents / 1200.0) - 1.0
    y = array.array("f", bytes(4 * n))
    phase = 0.0
    r = rate
    for i in range(n):
        if i % 2205 == 0:
            r = rate * rng.uniform(0.94, 1.06)
        phase += 2 * math.pi * r / SR
        d = dev / (2 * math.pi * r) * SR * (1.0 + math.sin(phase)) + 2.0
        pos = i - d
        k = int(pos)
        fr = pos - k
        if 0 <= k and k + 1 < len(x):
            y[i] = x[k] + (x[k + 1] - x[k]) * fr
    return y


def sung(work, voice, text, rng):
    """Words on melody notes, stretched, with vibrato; see the module text for what this stands for."""
    words = [w.strip(",.:;") for w in text.split() if w.strip(",.:;")]
    out = array.array("f")
    base = rng.choice([30, 40, 50])
    i = 0
    while len(out) < N + SR:
        w = words[i % len(words)]
        note = MELODY[i % len(MELODY)]
        p = max(0, min(99, base + note * 4))
        raw = speak(work, "w.wav", voice, 110, w, p)
        held = os.path.join(work, "w2.wav")
        run(["sox", raw, "-r", str(SR), "-c", "1", "-b", "16", held, "silence", "1", "0.01", "1%", "reverse",
             "silence", "1", "0.01", "1%", "reverse", "tempo", "-s", str(rng.choice([0.45, 0.55]))])
        out.extend(read_wav(held))
        out.extend(array.array("f", bytes(4 * int(0.05 * SR))))
        i += 1
    return vibrato(out, 5.5, 35.0, rng)


NOTE_NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]
MAJOR = [0, 2, 4, 5, 7, 9, 11]
MINOR = [0, 2, 3, 5, 7, 8, 10]


def note_name(midi):
    return "%s%d" % (NOTE_NAMES[midi % 12], midi // 12 - 1)


def song_xml(words, rng, vowels=False):
    """A SINGING score (festival's singing mode): a melody of our own, a random walk on the degrees of a major or
    minor scale in a random key within a male voice's range (tonic MIDI 45-55, A2-G3), phrases of 4-8 notes that
    end on a long note and a rest, one note per word; vowels=True sings "ooh" and "aah" on long legato notes."""
    tonic = rng.randint(45, 55)
    scale = rng.choice([MAJOR, MINOR])
    bpm = rng.choice([60, 70, 80, 90, 100, 110])
    lines = ['<?xml version="1.0"?>',
             '<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" "Singing.v0_1.dtd" []>',
             '<SINGING BPM="%d">' % bpm]
    deg = rng.choice([0, 2, 4])
    i = 0
    total = 0.0
    while total < 60.0 * 1.2:  # beats at singing_bps = BPM / 50: long enough for 30 s at any tempo
        phrase = rng.randint(4, 8) if not vowels else rng.randint(2, 4)
        for j in range(phrase):
            deg = max(-3, min(9, deg + rng.choice([-2, -1, -1, 0, 1, 1, 2, 3, -3])))
            midi = tonic + 12 * (deg // 7) + scale[deg % 7]
            if vowels:
                w = rng.choice(["ooh", "aah", "ooh", "ah", "oh"])
                beats = rng.choice([1.5, 2.0, 3.0, 4.0])
            else:
                w = words[i % len(words)]
                beats = rng.choice([0.5, 0.5, 1.0, 1.0, 1.0, 1.5, 2.0]) if j < phrase - 1 else rng.choice([2.0, 3.0])
            i += 1
            lines.append('<DURATION BEATS="%.2f"><PITCH NOTE="%s">%s</PITCH></DURATION>' % (beats, note_name(midi), w))
            total += beats
        rest = rng.choice([0.5, 1.0, 1.0, 2.0])
        lines.append('<REST BEATS="%.1f"></REST>' % rest)
        total += rest
    lines.append("</SINGING>")
    return "\n".join(lines) + "\n"


def festival_sing(work, voice, words, rng, vowels=False, shift=0):
    """festival's singing mode (text2wave -mode singing) on a score of ours, resampled to SR, optionally shifted
    up by `shift` cents (sox pitch: a higher voice, formants moved too), looped to 30 s."""
    xml = os.path.join(work, "song.xml")
    with open(xml, "w") as f:
        f.write(song_xml(words, rng, vowels))
    raw = os.path.join(work, "song.wav")
    run(["text2wave", "-mode", "singing", "-eval", "(voice_%s_diphone)" % voice, xml, "-o", raw])
    conv = os.path.join(work, "song-sr.wav")
    cmd = ["sox", raw, "-r", str(SR), "-c", "1", "-b", "16", conv]
    if shift:
        cmd += ["pitch", str(shift)]
    run(cmd)
    return loop_to(read_wav(conv), N + SR, gap=int(0.3 * SR))


def crowd(rng):
    """Murmur and applause, before the room."""
    x = array.array("f", bytes(4 * N))
    # murmur: noise, band-limited by one-pole filters (about 250 Hz - 2.5 kHz), with a slow random level walk
    lp = hp = 0.0
    a_lp = math.exp(-2 * math.pi * 2500 / SR)
    a_hp = math.exp(-2 * math.pi * 250 / SR)
    lvl, target = 0.5, 0.5
    prev = 0.0
    for n in range(N):
        if n % 2205 == 0:
            target = rng.uniform(0.25, 1.0)
        lvl += (target - lvl) * 0.0005
        v = rng.gauss(0.0, 1.0)
        lp = (1 - a_lp) * v + a_lp * lp
        hp = a_hp * (hp + lp - prev)
        prev = lp
        x[n] = 0.3 * lvl * hp
    # applause: 4-7 s at the start and the end, short bursts now and then
    spans = [(0.0, rng.uniform(4, 7)), (SECONDS - rng.uniform(4, 7), SECONDS)]
    t = rng.uniform(8, 12)
    while t < SECONDS - 8:
        spans.append((t, t + rng.uniform(1.0, 2.5)))
        t += rng.uniform(5, 9)
    for a, b in spans:
        rate = rng.uniform(40, 90)  # claps per second from the whole audience
        t = a
        while t < b:
            t += rng.expovariate(rate)
            start = int(t * SR)
            g = rng.uniform(0.3, 1.0)
            tau = rng.uniform(0.002, 0.005) * SR
            lpf = 0.0
            c = rng.uniform(0.2, 0.6)  # clap colour: a little low-pass
            for j in range(int(0.02 * SR)):
                if start + j >= N:
                    break
                lpf = (1 - c) * rng.gauss(0.0, 1.0) + c * lpf
                x[start + j] += g * math.exp(-j / tau) * lpf
    return x


def note(msg):
    print("features-evidence: " + msg, file=sys.stderr, flush=True)


def build(args, work):
    clips = []  # dicts: file, kind, half
    mdir = os.path.join(work, "music")  # files already in --work are reused, so a rerun only re-measures
    os.makedirs(mdir, exist_ok=True)
    srcs = sorted(os.path.join(args.music, f) for f in os.listdir(args.music)
                  if f.rsplit(".", 1)[-1].lower() in ("wav", "flac", "ogg", "oga", "opus", "mp3", "m4a", "aiff"))
    note("decoding %d music clips" % len(srcs))
    for s in srcs:
        if os.path.exists(os.path.join(mdir, os.path.basename(s) + ".wav")):
            continue
        try:
            run([args.content, "--write-wav", mdir, s])
        except RuntimeError as e:
            print("skipped %s: %s" % (s, e), file=sys.stderr)
    music = sorted(os.path.join(mdir, f) for f in os.listdir(mdir))
    halves = {0: [], 1: []}
    for i, m in enumerate(music):
        halves[i % 2].append(m)
        clips.append({"file": m, "kind": "music", "half": i % 2, "group": "clip%d" % i})
    d = os.path.join(work, "gen")
    os.makedirs(d, exist_ok=True)
    cache = {}

    def music_x(path):
        if path not in cache:
            cache[path] = fit_len(read_wav(path))
        return cache[path]

    note("speech, speech over music and the sung stand-in (a few minutes)")
    levels_mix = [6, 0, -6]
    levels_live = [-8, -14, -20]
    k = 0
    for ti, text in enumerate(TEXTS):
        half = ti % 2
        for vi in range(3):
            voice = VOICES[(ti * 3 + vi) % len(VOICES)]
            speed = SPEEDS[(ti + vi) % len(SPEEDS)]
            f = os.path.join(d, "speech-%02d.wav" % k)
            if os.path.exists(f):
                sp = read_wav(f)
            else:
                sp = loop_to(read_wav(speak(d, "s.wav", voice, speed, text)), N)
                write_wav(f, sp)
            clips.append({"file": f, "kind": "speech", "half": half, "group": "text%d" % ti})
            for li, lv in enumerate(levels_mix[:2] if vi < 2 else levels_mix[2:]):
                bg = music_x(halves[half][(k * 2 + li) % len(halves[half])])
                f = os.path.join(d, "mix-%02d-%+d.wav" % (k, lv))
                if not os.path.exists(f):
                    write_wav(f, mix(sp, bg, lv))
                clips.append({"file": f, "kind": "mix", "half": half, "level": lv, "group": "text%d" % ti})
            k += 1
        for vi in range(2):
            voice = VOICES[(ti * 2 + vi + 5) % len(VOICES)].split("+")[0] + "+f2" if vi else "en-us"
            lv = [0, -6][vi]
            f = os.path.join(d, "sung-%d-%d.wav" % (ti, vi))
            if not os.path.exists(f):
                v = sung(d, voice, text, random.Random(ti * 2 + vi))
                bg = music_x(halves[half][(ti * 5 + vi * 3) % len(halves[half])])
                write_wav(f, mix(v, bg, lv))
            clips.append({"file": f, "kind": "sung", "half": half, "level": lv, "src": "espeak", "group": "text%d" % ti})
    if shutil.which("text2wave") is not None:
        note("festival singing over music, and ooh/aah (a few minutes)")
        for j in range(N_FESTIVAL + N_VOWELS):
            vowels = j >= N_FESTIVAL
            rng = random.Random(5000 + j)
            half = j % 2
            voice = ["kal", "ked"][(j // 2) % 2]
            shift = rng.choice([0, 0, 300, 700, 1000])
            rate = rng.uniform(4.5, 7.5)
            cents = rng.choice([0.0, 10.0]) if rng.random() < 0.15 else rng.uniform(20.0, 90.0)
            lv = rng.choice([-3, -6, -9, -12]) if vowels else rng.choice([3, 0, -3, -6, -9])
            kind = "vowels" if vowels else "sung"
            f = os.path.join(d, "%s-%03d%+d.wav" % (kind, j, lv))
            clips.append({"file": f, "kind": kind, "half": half, "level": lv, "src": "festival", "group": "song%d" % j})
            if os.path.exists(f):
                continue
            text = TEXTS[(j // 2) % len(TEXTS)]
            words = [w.strip(",.:;") for w in text.split() if w.strip(",.:;")]
            k0 = rng.randrange(len(words))
            v = festival_sing(d, voice, words[k0:] + words[:k0], rng, vowels, shift)
            if cents > 0.0:
                v = vibrato(v, rate, cents, rng)
            else:
                v = fit_len(v)
            bg = music_x(halves[half][rng.randrange(len(halves[half]))])
            write_wav(f, mix(v, bg, lv))
    else:
        note("festival is not installed (apt-get install festival festvox-kallpc16k festvox-kdlpc16k): "
             "no festival singing, no ooh/aah")
    note("live versions of %d clips (a few minutes)" % len(music))
    for i, m in enumerate(music):
        lv = levels_live[i % 3]
        f = os.path.join(d, "live-%03d%+d.wav" % (i, lv))
        clips.append({"file": f, "kind": "live", "half": i % 2, "level": lv, "group": "clip%d" % i})
        if os.path.exists(f):
            continue
        rng = random.Random(1000 + i)
        wet = os.path.join(d, "room.wav")
        run(["sox", m, wet, "reverb", "35", "50", "80", "pad", "0", "1"])
        x = fit_len(read_wav(wet))
        c = crowd(rng)
        cf = os.path.join(d, "crowd.wav")
        write_wav(cf, c)
        cw = os.path.join(d, "crowd-room.wav")
        run(["sox", cf, cw, "reverb", "60", "40", "100", "pad", "0", "1"])
        cx = fit_len(read_wav(cw))
        write_wav(f, mix(cx, x, lv))
    return clips


def measure(args, clips):
    out = run([args.content, "--reps", "5"] + [c["file"] for c in clips]).decode().splitlines()
    head = out[0].split("\t")
    rows = {}
    for line in out[1:]:
        f = line.split("\t")
        rows[f[0]] = dict(zip(head[1:], (float(v) for v in f[1:])))
    for c in clips:
        c.update(rows[c["file"]])


def analyze(args, clips):
    out = run([args.analyze] + [c["file"] for c in clips]).decode().splitlines()
    by = {}
    for line in out:
        o = json.loads(line)
        by[o["file"]] = o
    for c in clips:
        o = by[c["file"]]
        for k in ("speechiness", "instrumentalness", "liveness"):
            c["api_" + k] = o[k]


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def logit(p):
    return math.log(p / (1.0 - p))


def fit(rows, feats, ys, l2=0.002, iters=3000, lr=1.0):
    """Logistic regression on standardised features, class-balanced, L2: (bias, weights, means, sds). A NaN
    feature (e.g. no vibrato window to read) stands at the mean, as it contributes nothing in content.c."""
    mu = []
    for f in feats:
        vals = [r[f] for r in rows if not math.isnan(r[f])]
        mu.append(sum(vals) / len(vals) if vals else 0.0)
    val = lambda r, f, m: m if math.isnan(r[f]) else r[f]
    sd = [math.sqrt(sum((val(r, f, m) - m) ** 2 for r in rows) / len(rows)) or 1.0 for f, m in zip(feats, mu)]
    X = [[(val(r, f, m) - m) / s for f, m, s in zip(feats, mu, sd)] for r in rows]
    npos = sum(ys)
    wpos, wneg = len(ys) / (2.0 * max(1, npos)), len(ys) / (2.0 * max(1, len(ys) - npos))
    w = [0.0] * len(feats)
    b = 0.0
    for _ in range(iters):
        gw = [l2 * v for v in w]
        gb = 0.0
        for x, y in zip(X, ys):
            p = sigmoid(b + sum(a * c for a, c in zip(w, x)))
            e = (p - y) * (wpos if y else wneg) / len(ys)
            gb += e
            for j in range(len(w)):
                gw[j] += e * x[j]
        b -= lr * gb
        w = [a - lr * g for a, g in zip(w, gw)]
    return b, w, mu, sd


def zval(model, r, feats):
    b, w, mu, sd = model
    return b + sum(a * (r[f] - m) / s for a, f, m, s in zip(w, feats, mu, sd) if not math.isnan(r[f]))


def best_cut(neg, pos):
    """Threshold on z that maximises balanced accuracy (neg below, pos above)."""
    cands = sorted(set(neg + pos))
    best, bt = -1.0, 0.0
    for i in range(len(cands) - 1):
        t = 0.5 * (cands[i] + cands[i + 1])
        acc = 0.5 * (sum(v < t for v in neg) / len(neg) + sum(v > t for v in pos) / len(pos))
        if acc > best:
            best, bt = acc, t
    return bt


def c_model(name, bias, w, mu, sd):
    full_w = [0.0] * len(FEATURES)
    full_mu = [0.0] * len(FEATURES)
    full_sd = [1.0] * len(FEATURES)
    for f, a, m, s in zip(w[0], w[1], mu, sd):
        i = FEATURES.index(f)
        full_w[i], full_mu[i], full_sd[i] = a, m, s
    fmt = lambda v: ", ".join("%.4g" % x for x in v)
    return ("static const lin_model %s = {\n\t.bias = %.4g,\n\t.w = {%s},\n\t.mu = {%s},\n\t.sd = {%s},\n};"
            % (name, bias, fmt(full_w), fmt(full_mu), fmt(full_sd)))


VOCALS = ("speech", "mix", "sung")
NO_VOCALS = ("music", "live", "vowels")


def fit_voice(rows, feats):
    """The VOICE model (vocals against everything else) with its cut placed by balanced accuracy between dry
    and live music and the vocal classes: (bias, weights, means, sds), vocals where z > 0."""
    m = fit(rows, feats, [c["kind"] in VOCALS for c in rows])
    z = {c["file"]: zval(m, c, feats) for c in rows}
    cut = best_cut([z[c["file"]] for c in rows if c["kind"] in ("music", "live")],
                   [z[c["file"]] for c in rows if c["kind"] in VOCALS])
    return m[0] - cut, m[1], m[2], m[3]


def cross_validate(cal, feats, k=4, seed=7):
    """k-fold cross-validation of the VOICE model inside the calibration half, folds by source (a music clip
    and its live version, a text with its voices and mixes, a generated song stay in one fold): the share of
    held-out clips on the right side of 0.5, and that share per class."""
    groups = sorted(set(c["group"] for c in cal))
    random.Random(seed).shuffle(groups)
    fold = {g: i % k for i, g in enumerate(groups)}
    ok, per = {}, {}
    for i in range(k):
        m = fit_voice([c for c in cal if fold[c["group"]] != i], feats)
        for c in cal:
            if fold[c["group"]] == i and c["kind"] in VOCALS + NO_VOCALS:
                ok[c["file"]] = (zval(m, c, feats) > 0) == (c["kind"] in VOCALS)
                kind = c["kind"] + ("/" + c["src"] if "src" in c else "")
                per.setdefault(kind, []).append(ok[c["file"]])
    return sum(ok.values()) / len(ok), {kind: "%d/%d" % (sum(v), len(v)) for kind, v in sorted(per.items())}


def do_fit(cal):
    """Three logistic regressions on the calibration half, each against every other class (live music is
    music without speech or vocals; speech and sung clips are not live), thresholds placed at the documented
    values by balanced accuracy."""
    out = []
    rows = [c for c in cal if c["kind"] not in ("sung", "vowels")]  # sung audio is not labelled for speechiness
    m = fit(rows, SPEECH_FEATURES, [c["kind"] in ("speech", "mix") for c in rows])
    z = {c["file"]: zval(m, c, SPEECH_FEATURES) for c in rows}
    c1 = best_cut([z[c["file"]] for c in rows if c["kind"] in ("music", "live")],
                  [z[c["file"]] for c in rows if c["kind"] == "mix"])
    c2 = best_cut([z[c["file"]] for c in rows if c["kind"] == "mix"],
                  [z[c["file"]] for c in rows if c["kind"] == "speech"])
    if c2 <= c1 + 0.5:
        c2 = c1 + 0.5
    a = (logit(0.66) - logit(0.33)) / (c2 - c1)
    b = logit(0.33) - a * c1
    out.append(c_model("SPEECH", a * m[0] + b, (SPEECH_FEATURES, [a * v for v in m[1]]), m[2], m[3]))

    rows = cal
    m = fit_voice(rows, VOICE_FEATURES)
    out.append(c_model("VOICE", m[0], (VOICE_FEATURES, m[1]), m[2], m[3]))

    m = fit(rows, SPEECH_FEATURES, [c["kind"] == "live" for c in rows])
    z = {c["file"]: zval(m, c, SPEECH_FEATURES) for c in rows}
    cut = best_cut([z[c["file"]] for c in rows if c["kind"] != "live"],
                   [z[c["file"]] for c in rows if c["kind"] == "live"])
    out.append(c_model("LIVE", m[0] - cut + logit(0.8), (SPEECH_FEATURES, m[1]), m[2], m[3]))
    return "\n".join(out)


def table(rep):
    def share(sel, ok):
        n = len(sel)
        k = sum(1 for c in sel if ok(c))
        return "%d/%d (%.0f%%)" % (k, n, 100.0 * k / n) if n else "-"

    by = lambda kind: [c for c in rep if c["kind"] == kind]
    lines = ["| field | class | rule | right side |", "|---|---|---|---:|"]
    sp = lambda c: c["api_speechiness"]
    ins = lambda c: c["api_instrumentalness"]
    lv = lambda c: c["api_liveness"]
    lines.append("| speechiness | spoken word | > 0.66 | %s |" % share(by("speech"), lambda c: sp(c) > 0.66))
    lines.append("| speechiness | speech over music | 0.33..0.66 | %s |" %
                 share(by("mix"), lambda c: 0.33 <= sp(c) <= 0.66))
    lines.append("| speechiness | speech over music | > 0.33 | %s |" % share(by("mix"), lambda c: sp(c) > 0.33))
    lines.append("| speechiness | music | < 0.33 | %s |" % share(by("music"), lambda c: sp(c) < 0.33))
    lines.append("| speechiness | live music | < 0.33 | %s |" % share(by("live"), lambda c: sp(c) < 0.33))
    sp_all = by("speech") + by("mix") + by("music") + by("live")
    lines.append("| speechiness | all four | speech > 0.33, music < 0.33 | %s |" %
                 share(sp_all, lambda c: (sp(c) > 0.33) == (c["kind"] in ("speech", "mix"))))
    lines.append("| instrumentalness | music (no vocals) | > 0.5 | %s |" % share(by("music"), lambda c: ins(c) > 0.5))
    lines.append("| instrumentalness | live music (no vocals) | > 0.5 | %s |" % share(by("live"), lambda c: ins(c) > 0.5))
    lines.append("| instrumentalness | ooh/aah over music (no lyrics: instrumental) | > 0.5 | %s |" %
                 share(by("vowels"), lambda c: ins(c) > 0.5))
    sung_f = [c for c in by("sung") if c.get("src") == "festival"]
    sung_e = [c for c in by("sung") if c.get("src") == "espeak"]
    for sel, name in ((by("speech"), "spoken word"), (by("mix"), "speech over music"),
                      (sung_f, "festival singing over music"), (sung_e, "espeak words on a melody over music")):
        lines.append("| instrumentalness | %s | < 0.5 | %s |" % (name, share(sel, lambda c: ins(c) < 0.5)))
    instr = ("music", "live", "vowels")
    v_all = [c for c in rep if c["kind"] in instr + ("speech", "mix", "sung")]
    lines.append("| instrumentalness | all | vocals < 0.5, no vocals > 0.5 | %s |" %
                 share(v_all, lambda c: (ins(c) > 0.5) == (c["kind"] in instr)))
    v_songs = [c for c in rep if c["kind"] in instr + ("sung",)]
    lines.append("| instrumentalness | songs only (music, live, ooh/aah, sung) | vocals < 0.5, no vocals > 0.5 | %s |" %
                 share(v_songs, lambda c: (ins(c) > 0.5) == (c["kind"] in instr)))
    lines.append("| liveness | dry music | < 0.8 | %s |" % share(by("music"), lambda c: lv(c) < 0.8))
    lines.append("| liveness | speech, speech over music, sung, ooh/aah | < 0.8 | %s |" %
                 share(by("speech") + by("mix") + by("sung") + by("vowels"), lambda c: lv(c) < 0.8))
    for lvl in (-8, -14, -20):
        lines.append("| liveness | crowd %d dB under music | > 0.8 | %s |" %
                     (lvl, share([c for c in by("live") if c["level"] == lvl], lambda c: lv(c) > 0.8)))
    l_all = rep
    lines.append("| liveness | all | live > 0.8, dry < 0.8 | %s |" %
                 share(l_all, lambda c: (lv(c) > 0.8) == (c["kind"] == "live")))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("music")
    ap.add_argument("--build", default="build/dev")
    ap.add_argument("--work")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--fit", action="store_true", help="print the weights fitted on the calibration half")
    ap.add_argument("--voice-features", help="comma-separated features of the VOICE model (--fit, --cv); default: "
                    + ",".join(VOICE_FEATURES))
    ap.add_argument("--cv", action="store_true", help="cross-validate the VOICE model inside the calibration half "
                    "(4 folds by source) and stop: the report half is not analysed")
    ap.add_argument("--seeds", default="7,11,13", help="fold assignments of --cv, one run each (default 7,11,13)")
    args = ap.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            sys.exit("features-evidence: %s is not installed (apt-get install %s)" % (tool, tool))
    args.content = os.path.join(args.build, "tools", "songscope-content")
    args.analyze = os.path.join(args.build, "tools", "songscope-analyze")
    for t in (args.content, args.analyze):
        if not os.access(t, os.X_OK):
            sys.exit("features-evidence: %s not built" % t)
    work = args.work or tempfile.mkdtemp(prefix="features-evidence-")
    os.makedirs(work, exist_ok=True)
    try:
        clips = build(args, work)
        note("measuring %d clips" % len(clips))
        measure(args, clips)
        cal = [c for c in clips if c["half"] == 0]
        rep = [c for c in clips if c["half"] == 1]
        if args.voice_features:
            VOICE_FEATURES[:] = args.voice_features.split(",")
            unknown = [f for f in VOICE_FEATURES if f not in FEATURES]
            if unknown:
                sys.exit("features-evidence: unknown features: " + ",".join(unknown))
        if args.cv:
            accs = []
            for seed in (int(v) for v in args.seeds.split(",")):
                acc, per = cross_validate(cal, VOICE_FEATURES, seed=seed)
                accs.append(acc)
                print("VOICE on %s, fold seed %d: %.1f%% right in 4-fold cross-validation inside the calibration half"
                      " (%s)" % (",".join(VOICE_FEATURES), seed, 100.0 * acc, ", ".join("%s %s" % kv for kv in per.items())))
            print("mean over the %d fold seeds: %.1f%%" % (len(accs), 100.0 * sum(accs) / len(accs)))
            return
        if args.fit:
            print(do_fit(cal))
            print()
        analyze(args, rep)
        counts = {}
        for c in clips:
            counts[c["kind"]] = counts.get(c["kind"], 0) + 1
        print("Clips: %s; calibration half %d, report half %d (split by music clip, text and song)." %
              (", ".join("%s %d" % kv for kv in sorted(counts.items())), len(cal), len(rep)))
        print()
        print(table(rep))
        us = sorted(c["features_us"] for c in clips)
        print()
        print("Time of the three descriptors per 30 s clip (features and scores, on the shared STFT): median %.2f ms,"
              " 90th percentile %.2f ms, over %d clips." % (us[len(us) // 2] / 1000.0,
                                                         us[int(len(us) * 0.9)] / 1000.0, len(us)))
    finally:
        if not args.keep and not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
