# tests/store: analysis cache, overrides, export, counters, migrations
check_PROGRAMS += tests/check_store
TESTS += tests/check_store
tests_check_store_SOURCES = tests/check_store.c
tests_check_store_CFLAGS = $(TEST_CFLAGS)
tests_check_store_LDADD = fcgi/libssfcgi.a $(TEST_LIBS) $(FCGI_LIBS)

# Admission control (core/limits/admission.c) guards the cache's misses; its suite lives here with it.
check_PROGRAMS += tests/check_admission
TESTS += tests/check_admission
tests_check_admission_SOURCES = tests/check_admission.c
tests_check_admission_CFLAGS = $(TEST_CFLAGS)
tests_check_admission_LDADD = $(TEST_LIBS)

# Store side of import-legacy and keys import, and the identity stamp that tells an overwritten database.
check_PROGRAMS += tests/check_import
TESTS += tests/check_import
tests_check_import_SOURCES = tests/check_import.c
tests_check_import_CFLAGS = $(TEST_CFLAGS)
tests_check_import_LDADD = fcgi/libssfcgi.a $(TEST_LIBS) $(FCGI_LIBS)

# The PostgreSQL store backend against a real server the suite starts (skips with 77 without postgresql-15).
if HAVE_LIBPQ
check_PROGRAMS += tests/check_store_pg
TESTS += tests/check_store_pg
endif
tests_check_store_pg_SOURCES = tests/check_store_pg.c
tests_check_store_pg_CFLAGS = $(TEST_CFLAGS)
tests_check_store_pg_LDADD = tests/integration/libsstest.a $(TEST_LIBS)

# The "analyse a song" flow (core/song) on a real store, admission file and generated audio.
check_PROGRAMS += tests/check_song
TESTS += tests/check_song
tests_check_song_SOURCES = tests/check_song.c tests/fixtures/synth.c tests/fixtures/synth.h
tests_check_song_CFLAGS = $(TEST_CFLAGS)
tests_check_song_LDADD = $(TEST_LIBS) $(FFMPEG_LIBS)
