# tests/key: key detection suite.
check_PROGRAMS += tests/check_key
TESTS += tests/check_key
tests_check_key_SOURCES = tests/check_key.c
tests_check_key_CFLAGS = $(TEST_CFLAGS)
tests_check_key_LDADD = $(TEST_LIBS)

# tests/keycmp: the key relations songscope-score counts (same, fifth, fourth, relative, parallel, other).
check_PROGRAMS += tests/check_keycmp
TESTS += tests/check_keycmp
tests_check_keycmp_SOURCES = tests/check_keycmp.c tools/keycmp.c tools/keycmp.h
tests_check_keycmp_CFLAGS = $(TEST_CFLAGS)
tests_check_keycmp_LDADD = $(CHECK_LIBS)
