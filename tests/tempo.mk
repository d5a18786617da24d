# tests/tempo: tempo, beats and metre on synthesised signals.
check_PROGRAMS += tests/check_tempo
TESTS += tests/check_tempo
tests_check_tempo_SOURCES = tests/check_tempo.c
tests_check_tempo_CFLAGS = $(TEST_CFLAGS)
tests_check_tempo_LDADD = $(TEST_LIBS)
