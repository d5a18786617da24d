# tests/limits: shared state file, API keys, key cache, usage.
check_PROGRAMS += tests/check_state tests/check_keys
TESTS += tests/check_state tests/check_keys
tests_check_state_SOURCES = tests/check_state.c
tests_check_state_CFLAGS = $(TEST_CFLAGS)
tests_check_state_LDADD = $(TEST_LIBS)
tests_check_keys_SOURCES = tests/check_keys.c
tests_check_keys_CFLAGS = $(TEST_CFLAGS)
tests_check_keys_LDADD = $(TEST_LIBS)

# Integration: keys, limits and quotas through nginx with 4 responders (needs tools/songscope-admin).
check_PROGRAMS += tests/integration/check_auth
TESTS += tests/integration/check_auth
tests_integration_check_auth_SOURCES = tests/integration/check_auth.c
tests_integration_check_auth_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_auth_LDADD = $(IT_LIBS)
