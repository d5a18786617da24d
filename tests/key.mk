# tests/key: key detection suite.
check_PROGRAMS += tests/check_key
TESTS += tests/check_key
tests_check_key_SOURCES = tests/check_key.c
tests_check_key_CFLAGS = $(TEST_CFLAGS)
tests_check_key_LDADD = $(TEST_LIBS)
