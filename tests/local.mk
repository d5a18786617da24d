# tests/: each area adds its Check suites and integration tests through its own fragment.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = $(CORE_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/check_main.h
AM_TESTS_ENVIRONMENT = SS_TOP_SRCDIR='$(abs_top_srcdir)' SS_TOP_BUILDDIR='$(abs_top_builddir)' \
	SS_NGINX='$(NGINX)' LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp$${LSAN_OPTIONS:+:$$LSAN_OPTIONS}"; \
	export SS_TOP_SRCDIR SS_TOP_BUILDDIR SS_NGINX LSAN_OPTIONS;
EXTRA_DIST += tests/lsan.supp
include tests/util.mk
include tests/analysis.mk
include tests/tempo.mk
include tests/key.mk
include tests/store.mk
include tests/limits.mk
include tests/net.mk
include tests/fcgi.mk
include tests/integration.mk
include tests/deploy.mk
include tests/fuzz.mk
include tests/openapi.mk
