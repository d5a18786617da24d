# tests/: each area adds its Check suites and integration tests through its own fragment.
TEST_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
TEST_LIBS = $(CORE_LIBS) $(CHECK_LIBS)
EXTRA_DIST += tests/check_main.h tests/store_fixture.h
AM_TESTS_ENVIRONMENT = SS_TOP_SRCDIR='$(abs_top_srcdir)' SS_TOP_BUILDDIR='$(abs_top_builddir)' \
	SS_NGINX='$(NGINX)' SS_PG_BINDIR='$(PG_TEST_BINDIR)' LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp$${LSAN_OPTIONS:+:$$LSAN_OPTIONS}"; \
	export SS_TOP_SRCDIR SS_TOP_BUILDDIR SS_NGINX SS_PG_BINDIR LSAN_OPTIONS;
EXTRA_DIST += tests/lsan.supp
# Each test program runs with TMPDIR set to a folder of its own under test-tmp/, removed after a pass and kept
# (its path in the test's log) after a failure (tests/with-scratch.sh); make clean removes what was kept.
AM_TESTS_ENVIRONMENT += SS_SCRATCH_BASE='$(abs_top_builddir)/test-tmp'; export SS_SCRATCH_BASE;
LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/with-scratch.sh
TEST_LOG_COMPILER = $(LOG_COMPILER)
EXTRA_DIST += tests/with-scratch.sh
clean-local: clean-test-tmp
clean-test-tmp:
	if test -d test-tmp; then chmod -R u+rwX test-tmp; fi
	rm -rf test-tmp
.PHONY: clean-test-tmp
# The PostgreSQL server the tests start; "none" when the build has no PostgreSQL backend (those tests skip).
if HAVE_LIBPQ
PG_TEST_BINDIR = $(PG_BINDIR)
else
PG_TEST_BINDIR = none
endif
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
