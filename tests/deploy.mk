# Deployment tests: the same API checks through nginx, lighttpd, Apache and spawn-fcgi (configs from conf/).
AM_TESTS_ENVIRONMENT += SS_LIGHTTPD='$(LIGHTTPD)' SS_APACHE2='$(APACHE2)' SS_SPAWN_FCGI='$(SPAWN_FCGI)'; \
	export SS_LIGHTTPD SS_APACHE2 SS_SPAWN_FCGI;

check_PROGRAMS += tests/integration/check_deploy
TESTS += tests/integration/check_deploy
tests_integration_check_deploy_SOURCES = tests/integration/check_deploy.c
tests_integration_check_deploy_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_deploy_LDADD = $(IT_LIBS)

# `make install` into scratch DESTDIRs: installed man pages, configuration and units name the configured
# paths, the same the binaries use as their defaults.
AM_TESTS_ENVIRONMENT += SS_MAKE='$(MAKE)'; export SS_MAKE;
TESTS += tests/check_install.sh
EXTRA_DIST += tests/check_install.sh

# tools/ scripts' options (run-tests.sh --help, quickstart.sh --help) and configure's cleanups.
TESTS += tests/check_tools.sh
EXTRA_DIST += tests/check_tools.sh m4/.gitkeep

# songscope-admin, songscope-analyze and songscope.fcgi against their man pages (exit codes, stdin, --help).
TESTS += tests/check_cli.sh
EXTRA_DIST += tests/check_cli.sh

# The Debian package built from debian/ and checked without installing it (contents, conffiles, maintainer
# scripts, lintian); tools/deb-install-test.sh does the full install into a Debian 12 chroot.
TESTS += tests/check_debian.sh
EXTRA_DIST += tests/check_debian.sh tools/deb-install-test.sh debian/changelog debian/control debian/copyright \
	debian/rules debian/source/format debian/songscope.postinst debian/songscope.postrm debian/.gitignore
