# tools/analyze: songscope-analyze (files -> JSON lines), and the accuracy and speed tools of the analysis.
bin_PROGRAMS += tools/songscope-analyze
tools_songscope_analyze_SOURCES = tools/analyze.c tools/pool.c tools/pool.h tools/walk.c tools/walk.h
tools_songscope_analyze_LDADD = $(CORE_LIBS)
# --jobs, -r, the order of the lines, damaged files and killed workers; the worker pool on its own.
TESTS += tests/check_analyze_jobs.sh tests/check_pool
EXTRA_DIST += tests/check_analyze_jobs.sh
check_PROGRAMS += tests/check_pool
tests_check_pool_SOURCES = tests/check_pool.c tools/pool.c tools/pool.h
tests_check_pool_CFLAGS = $(TEST_CFLAGS)
tests_check_pool_LDADD = $(TEST_LIBS)

# songscope-score DIR: tempo/key accuracy on a folder with labels.csv (markdown table).
# songscope-bench DIR|FILE...: median ms per clip, real-time factor and peak RSS of one analysis.
noinst_PROGRAMS += tools/songscope-score tools/songscope-bench
tools_songscope_score_SOURCES = tools/score.c tools/labels.c tools/labels.h tools/keycmp.c tools/keycmp.h \
	tools/stats.c tools/stats.h
tools_songscope_score_LDADD = $(CORE_LIBS)
tools_songscope_bench_SOURCES = tools/bench.c tools/labels.c tools/labels.h tools/stereo_clip.c tools/stereo_clip.h \
	tools/stats.c tools/stats.h
tools_songscope_bench_LDADD = $(CORE_LIBS)
