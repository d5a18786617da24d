check_PROGRAMS += tests/check_fcgi
TESTS += tests/check_fcgi
tests_check_fcgi_SOURCES = tests/check_fcgi.c
tests_check_fcgi_CFLAGS = $(TEST_CFLAGS)
tests_check_fcgi_LDADD = $(FCGI_APP_LIBS) $(CHECK_LIBS)
