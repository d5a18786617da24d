#!/usr/bin/python3
"""Build clips whose metre changes, for tools/bench-timeline.sh --metre: an MMA groove in three (the library's
Time 3) for 8 bars and then one in four for 10 bars at one tempo, or one in four for 6 bars and then one in three,
rendered with the FluidR3 General MIDI soundfont, the first 30 s as 22.05 kHz mono FLAC.

    tools/make-metre-changes.py [--seed N] [--count N] OUTDIR

Writes OUTDIR/labels.csv: file, bpm, ts_a, ts_b (the metres before and after), cut (the second where the second
groove starts: its first beat), groove_a, groove_b. The grooves, tempi (90-140 BPM) and order come from the seed.
Needs: mma, fluidsynth, fluid-soundfont-gm, ffmpeg (apt-get install mma fluidsynth fluid-soundfont-gm ffmpeg)."""
import argparse
import importlib.util
import os
import random
import shutil
import subprocess
import sys

SOUNDFONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"


def eval_set_module():
    """tools/make-eval-set.py, for its list of MMA grooves."""
    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("make_eval_set", os.path.join(here, "make-eval-set.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--count", type=int, default=24)
    ap.add_argument("outdir")
    a = ap.parse_args()
    missing = [c for c in ("mma", "fluidsynth", "ffmpeg") if shutil.which(c) is None]
    if missing or not os.path.exists(SOUNDFONT):
        sys.exit("make-metre-changes: missing " + ", ".join(missing or [SOUNDFONT]) +
                 "\n(apt-get install mma fluidsynth fluid-soundfont-gm ffmpeg)")
    grooves = eval_set_module().mma_grooves()
    threes = [g for g in grooves if g[2] == "3"]
    fours = [g for g in grooves if g[2] == "4"]
    rnd = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    work = os.path.join(a.outdir, "work")
    os.makedirs(work, exist_ok=True)
    rows = []
    for i in range(a.count):
        three, four = rnd.choice(threes), rnd.choice(fours)
        tempo = rnd.randint(90, 140)
        (first, bars1), second = ((four, 6), three) if i % 2 else ((three, 8), four)
        src = os.path.join(work, "m%03d.mma" % i)
        mid, wav = src[:-4] + ".mid", src[:-4] + ".wav"
        with open(src, "w") as fp:
            fp.write("Tempo %d\nGroove %s\n" % (tempo, first[1]))
            for bar in range(1, bars1 + 1):
                fp.write("%d C\n" % bar)
            fp.write("Groove %s\n" % second[1])
            for bar in range(bars1 + 1, bars1 + 11):
                fp.write("%d F\n" % bar)
        try:
            subprocess.run(["mma", "-f", mid, src], cwd=work, check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            subprocess.run(["fluidsynth", "-ni", "-q", "-F", wav, "-r", "44100", SOUNDFONT, mid], check=True,
                           stdout=subprocess.DEVNULL)
        except subprocess.CalledProcessError:
            continue
        name = "metre%03d.flac" % i
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-t", "30", "-i", wav, "-ac", "1", "-ar", "22050",
                        os.path.join(a.outdir, name)], check=True)
        cut = bars1 * int(first[2]) * 60.0 / tempo
        rows.append("%s,%d,%s/4,%s/4,%.3f,%s,%s" % (name, tempo, first[2], second[2], cut, first[1], second[1]))
        os.unlink(wav)
    shutil.rmtree(work)
    with open(os.path.join(a.outdir, "labels.csv"), "w") as fp:
        fp.write("file,bpm,ts_a,ts_b,cut,groove_a,groove_b\n" + "\n".join(rows) + "\n")
    print("%d clips in %s" % (len(rows), a.outdir))


if __name__ == "__main__":
    main()
