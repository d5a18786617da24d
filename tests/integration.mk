# Integration tests: the real responder behind a real web server on loopback.
noinst_LIBRARIES += tests/integration/libsstest.a
tests_integration_libsstest_a_SOURCES = tests/integration/harness.c tests/integration/harness.h \
	tests/integration/fcgi_client.c tests/integration/fcgi_client.h
tests_integration_libsstest_a_CFLAGS = $(TEST_CFLAGS)
IT_LIBS = tests/integration/libsstest.a $(TEST_LIBS)

check_PROGRAMS += tests/integration/check_server
TESTS += tests/integration/check_server
tests_integration_check_server_SOURCES = tests/integration/check_server.c
tests_integration_check_server_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_server_LDADD = $(IT_LIBS)

# The HTTP API end to end: every endpoint, client field contracts, caching, admission, fetch guards.
check_PROGRAMS += tests/integration/check_api
TESTS += tests/integration/check_api
tests_integration_check_api_SOURCES = tests/integration/check_api.c
tests_integration_check_api_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_api_LDADD = $(IT_LIBS)

# Storage faults: a locked database, a full disk, a read-only file system, a deleted or overwritten database
# file, and usage rows against the quota after SIGKILLed responders.
check_PROGRAMS += tests/integration/check_store_faults
TESTS += tests/integration/check_store_faults
tests_integration_check_store_faults_SOURCES = tests/integration/check_store_faults.c
tests_integration_check_store_faults_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_store_faults_LDADD = $(IT_LIBS)
