check_PROGRAMS += tests/check_config tests/check_util
TESTS += tests/check_config tests/check_util
tests_check_config_SOURCES = tests/check_config.c
tests_check_config_CFLAGS = $(TEST_CFLAGS)
tests_check_config_LDADD = $(TEST_LIBS)
tests_check_util_SOURCES = tests/check_util.c
tests_check_util_CFLAGS = $(TEST_CFLAGS)
tests_check_util_LDADD = $(TEST_LIBS)
