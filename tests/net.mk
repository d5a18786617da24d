# tests/net: address filter and fetcher
check_PROGRAMS += tests/check_net
TESTS += tests/check_net
tests_check_net_SOURCES = tests/check_net.c
tests_check_net_CFLAGS = $(TEST_CFLAGS)
tests_check_net_LDADD = $(TEST_LIBS)
