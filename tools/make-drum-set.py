#!/usr/bin/python3
"""Build a labelled set of drum-machine clips for tools/songscope-score: Hydrogen's demo songs (hydrogen-data),
rendered by Hydrogen's command line (h2cli) through their own drum kit and through the other kits of
hydrogen-drumkits, at the song's own tempo and at tempi drawn from slow (55-80), middle (81-169) and fast
(170-200) quarter notes per minute; each render looped to 32 s, normalised to -3 dBFS, 44.1 kHz mono FLAC.

    tools/make-drum-set.py [--seed N] [--jobs N] OUTDIR

Writes OUTDIR/labels.csv (file, bpm, key (empty), kind, package, license, time_signature (4/4: every demo
pattern is 192 ticks of 48 a quarter), source (the song), soundfont (the kit)). kind is "drum machine" for a
song through its own kit and "drum machine (other kit)" through another (whose instrument slots need not hold a
kick and a snare where the song's kit does: the rhythm heard is then a subset of the song's). A render that is
not music is left out and counted: isolated full-scale clicks (an RMS of about half the peak, which some kits
give under h2cli) or mostly silence (more than half of its seconds below -50 dBFS: a kit that sounds only one
of the song's instruments).
Needs: hydrogen, hydrogen-data, hydrogen-drumkits, sox (apt-get install hydrogen hydrogen-data hydrogen-drumkits
sox). h2cli takes about 25 s per render whatever its length (it waits for an audio driver), so renders run in
parallel (--jobs, default 8)."""
import argparse
import concurrent.futures as cf
import glob
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

DATA = "/usr/share/hydrogen/data"


def render(song, bpm, kit, out):
    """Render song at bpm through kit (None: its own) into out; False when h2cli or sox fails."""
    tmp = tempfile.mkdtemp()
    try:
        text = open(song, encoding="utf-8").read()
        with open(os.path.join(tmp, "s.h2song"), "w", encoding="utf-8") as fp:
            fp.write(re.sub(r"<bpm>[^<]*</bpm>", "<bpm>%d</bpm>" % bpm, text, count=1))
        cmd = ["h2cli", "-s", os.path.join(tmp, "s.h2song"), "-o", os.path.join(tmp, "a.wav"), "-r", "44100"]
        if kit:
            cmd[1:1] = ["-k", kit]
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
        a, m = os.path.join(tmp, "a.wav"), os.path.join(tmp, "m.wav")
        if not os.path.exists(a):
            return False
        subprocess.run(["sox", a, "-c", "1", m], check=True)
        subprocess.run(["sox", m, m, m, m, m, m, os.path.join(tmp, "l.wav")], check=True)
        subprocess.run(["sox", os.path.join(tmp, "l.wav"), out, "trim", "0", "32", "gain", "-n", "-3"], check=True)
        return True
    except (subprocess.SubprocessError, OSError):
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def stat(path, *trim):
    """(RMS, peak) amplitude of path (or of a trim of it) from sox's stat."""
    r = subprocess.run(["sox", path, "-n"] + (["trim"] + [str(t) for t in trim] if trim else []) + ["stat"],
                       stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    v = {}
    for line in r.stderr.splitlines():
        k, _, x = line.partition(":")
        try:
            v[k.strip()] = float(x)
        except ValueError:
            pass
    return v.get("RMS     amplitude", 0.0), v.get("Maximum amplitude", 0.0)


def is_music(path):
    rms, peak = stat(path)
    if peak <= 0.0 or rms / peak > 0.4:
        return False
    quiet = sum(stat(path, s, 1)[0] < 10 ** (-50 / 20) for s in range(32))
    return quiet <= 16


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("outdir")
    a = ap.parse_args()
    missing = [c for c in ("h2cli", "sox") if shutil.which(c) is None]
    songs = sorted(glob.glob(os.path.join(DATA, "demo_songs", "*.h2song")))
    kits = sorted(os.listdir(os.path.join(DATA, "drumkits"))) if os.path.isdir(os.path.join(DATA, "drumkits")) else []
    if missing or not songs or len(kits) < 2:
        sys.exit("make-drum-set: needs h2cli, sox, Hydrogen's demo songs and drum kits\n"
                 "(apt-get install hydrogen hydrogen-data hydrogen-drumkits sox)")
    rnd = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)
    jobs = []
    for song in songs:
        text = open(song, encoding="utf-8").read()
        own = re.search(r"<drumkit>([^<]*)</drumkit>", text)
        own = own.group(1) if own else ""
        bpm = round(float(re.search(r"<bpm>([^<]*)</bpm>", text).group(1)))
        for kit in [None] + [k for k in kits if k != own]:
            band = rnd.choice(["slow", "mid", "fast"])
            drawn = {"slow": rnd.randint(55, 80), "mid": rnd.randint(81, 169), "fast": rnd.randint(170, 200)}[band]
            for tempo in (bpm, drawn):
                jobs.append((song, tempo, kit, own))
    rows, dropped = [], 0
    with cf.ThreadPoolExecutor(a.jobs) as ex:
        names = ["drum%03d.flac" % (i + 1) for i in range(len(jobs))]
        done = ex.map(lambda j: render(j[0][0], j[0][1], j[0][2], os.path.join(a.outdir, j[1])), zip(jobs, names))
        for (song, tempo, kit, own), name, ok in zip(jobs, names, done):
            path = os.path.join(a.outdir, name)
            if not ok or not is_music(path):
                dropped += 1
                if os.path.exists(path):
                    os.unlink(path)
                continue
            rows.append("%s,%d.00,,%s,hydrogen-data,GPL-2+,4/4,%s,%s" % (
                name, tempo, "drum machine" if kit is None else "drum machine (other kit)", os.path.basename(song),
                kit or own))
    with open(os.path.join(a.outdir, "labels.csv"), "w") as fp:
        fp.write("file,bpm,key,kind,package,license,time_signature,source,soundfont\n" + "\n".join(rows) + "\n")
    print("%d clips in %s (%d renders left out: not music)" % (len(rows), a.outdir, dropped))


if __name__ == "__main__":
    main()
