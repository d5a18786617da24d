check_PROGRAMS += tests/check_fcgi
TESTS += tests/check_fcgi
tests_check_fcgi_SOURCES = tests/check_fcgi.c
tests_check_fcgi_CFLAGS = $(TEST_CFLAGS)
tests_check_fcgi_LDADD = $(FCGI_APP_LIBS) $(CHECK_LIBS)

# Out of memory at every allocation in turn, in the audio-analysis timeline and Spotify's objects: clean failures,
# nothing leaked (this program replaces malloc for its whole process; the sanitizer build skips it).
check_PROGRAMS += tests/check_nomem
TESTS += tests/check_nomem
tests_check_nomem_SOURCES = tests/check_nomem.c
tests_check_nomem_CFLAGS = $(TEST_CFLAGS)
tests_check_nomem_LDADD = $(FCGI_APP_LIBS) $(CHECK_LIBS)
