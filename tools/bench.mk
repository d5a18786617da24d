# tools/bench: benchmark tools (scripts print markdown tables; results go to man/BENCHMARKS.md).
# songscope-hello: a bare libfcgi responder, the ceiling the HTTP benchmark compares against.
# songscope-bench-db: the original server's database micro-benchmarks beside songscope's key path, ns/op.
noinst_PROGRAMS += tools/songscope-hello tools/songscope-bench-db
# songscope-bench-search [--like] [N ...]: /cache/search and the deepest /cache page at N cached songs.
noinst_PROGRAMS += tools/songscope-bench-search
tools_songscope_bench_search_SOURCES = tools/bench-search.c
tools_songscope_bench_search_LDADD = $(FCGI_APP_LIBS)
tools_songscope_hello_SOURCES = tools/hello-fcgi.c
tools_songscope_hello_LDADD = $(FCGI_LIBS)
tools_songscope_bench_db_SOURCES = tools/bench-db.c
tools_songscope_bench_db_LDADD = $(CORE_LIBS)
dist_noinst_SCRIPTS += tools/bench-import.sh tools/bench-lib.sh tools/bench-http.sh tools/bench-mem.sh tools/bench-queue.sh tools/soak.sh
# bench-startup.sh: start-up and one-clip wall time of songscope-analyze builds, run in turns.
dist_noinst_SCRIPTS += tools/bench-startup.sh
# bench-timeline.sh: segments per second, sections per clip and their stored size over a folder of clips, and
# with --keys the sections' own keys against labels.
dist_noinst_SCRIPTS += tools/bench-timeline.sh
# make-splices.sh DIR OUT: two key-labelled clips of DIR joined half way, for bench-timeline.sh --change --keys.
dist_noinst_SCRIPTS += tools/make-splices.sh
# make-metre-changes.py OUTDIR: MMA grooves in three then four (or the reverse) at one tempo, for
# bench-timeline.sh --metre.
dist_noinst_SCRIPTS += tools/make-metre-changes.py
# make-drum-set.py OUTDIR: Hydrogen's demo songs through its drum kits, tempo-labelled, for songscope-score.
dist_noinst_SCRIPTS += tools/make-drum-set.py
# bench-paired.sh --args ARGS PROGRAM...: wall and CPU of builds in turns, each against the first (perf stat).
dist_noinst_SCRIPTS += tools/bench-paired.sh
# bench-callgrind.sh PROGRAM... -- CLIP...: instructions of one analysis and of its stages (callgrind), per build.
dist_noinst_SCRIPTS += tools/bench-callgrind.sh
# bench-analyze-jobs.sh FOLDER: files/s of songscope-analyze -r with --jobs 1 and 2, and the speed-up.
dist_noinst_SCRIPTS += tools/bench-analyze-jobs.sh
# features-evidence.py MUSIC_DIR: labelled speech, sung stand-in and crowd audio built with espeak-ng and sox;
# fits (--fit) and reports speechiness, instrumentalness and liveness (man/BENCHMARKS.md).
dist_noinst_SCRIPTS += tools/features-evidence.py
# songscope-content FILE...: speech, voice and audience features and scores per file, and their time
# (tools/features-evidence.py fits and checks the scores with it).
noinst_PROGRAMS += tools/songscope-content
tools_songscope_content_SOURCES = tools/content.c
tools_songscope_content_LDADD = $(CORE_LIBS)
# bench-limiter.sh: cached POST /analyze with limits = local and limits = redis in one run, Redis round trips.
dist_noinst_SCRIPTS += tools/bench-limiter.sh
# bench-invariance.sh DIR: tempo, key and the three voice and audience scores of the clips re-encoded at other rates,
# gains, channels and codecs (MP3 and AAC previews too).
dist_noinst_SCRIPTS += tools/bench-invariance.sh
# make-eval-set.py OUTDIR: labelled clips (tempo, key, metre) of other Debian material than the development
# set (MMA grooves, Freedoom's music, ABC examples) for songscope-score; generated, never committed.
dist_noinst_SCRIPTS += tools/make-eval-set.py
