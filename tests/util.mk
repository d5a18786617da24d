check_PROGRAMS += tests/check_config tests/check_util
TESTS += tests/check_config tests/check_util
tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(TEST_CFLAGS)
tests_check_config_LDADD = $(TEST_LIBS)
tests_check_util_SOURCES = tests/check_util.c
tests_check_util_CFLAGS = $(TEST_CFLAGS)
tests_check_util_LDADD = $(TEST_LIBS)

# The tests' scratch directory (tests/fixtures/scratch.h), and make check's wrapper that gives each test program
# its own, removed after a pass and kept after a failure (tests/with-scratch.sh): check_scratch.sh runs
# check_scratch through it, once made to fail.
check_PROGRAMS += tests/check_scratch
TESTS += tests/check_scratch tests/check_scratch.sh
tests_check_scratch_SOURCES = tests/check_scratch.c tests/fixtures/scratch.h
tests_check_scratch_CFLAGS = $(TEST_CFLAGS)
tests_check_scratch_LDADD = $(CHECK_LIBS)
EXTRA_DIST += tests/check_scratch.sh
