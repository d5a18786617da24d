# conf/: the documented configuration, the web-server and service configurations (the integration tests
# use them), and the man pages. `make install` puts the examples under $(sysconfdir)/songscope with the
# configured paths filled in; it creates nothing outside the prefix (systemd units are examples to copy).
CONF_EXAMPLES = \
	conf/nginx/songscope.conf \
	conf/lighttpd/songscope.conf conf/lighttpd/songscope-spawn.conf \
	conf/apache/songscope-proxy-fcgi.conf conf/apache/songscope-fcgid.conf \
	conf/spawn-fcgi/songscope-spawn-fcgi.service \
	conf/systemd/songscope.service conf/systemd/songscope.socket conf/systemd/songscope-activated.service
CONF_ERRORS = \
	conf/errors/status-400.html conf/errors/status-403.html conf/errors/status-404.html \
	conf/errors/status-405.html conf/errors/status-408.html conf/errors/status-411.html \
	conf/errors/status-413.html conf/errors/status-414.html conf/errors/status-417.html \
	conf/errors/status-431.html conf/errors/status-500.html \
	conf/errors/status-501.html conf/errors/status-502.html conf/errors/status-503.html \
	conf/errors/status-504.html conf/errors/status-505.html
EXTRA_DIST += conf/songscope.conf $(CONF_EXAMPLES) $(CONF_ERRORS) man/BENCHMARKS.md

dist_man_MANS += man/songscope.fcgi.8 man/songscope-admin.1 man/songscope-analyze.1 man/songscope.conf.5

songscopeconfdir = $(sysconfdir)/songscope
# The files name the default /usr/local paths; install them with this build's paths instead.
conf_subst = $(SED) -e 's|/usr/local/sbin|$(sbindir)|g' -e 's|/usr/local/bin|$(bindir)|g' \
	-e 's|/usr/local/etc|$(sysconfdir)|g'

install-data-local: install-conf-examples
install-conf-examples:
	$(MKDIR_P) '$(DESTDIR)$(songscopeconfdir)/errors'
	for f in $(CONF_EXAMPLES); do \
	  d='$(DESTDIR)$(songscopeconfdir)/'`echo $$f | $(SED) -e 's|^conf/||' -e 's|/[^/]*$$||'`; \
	  $(MKDIR_P) "$$d" && \
	  $(conf_subst) '$(srcdir)/'$$f > "$$d/`basename $$f`.tmp" && \
	  chmod 644 "$$d/`basename $$f`.tmp" && mv -f "$$d/`basename $$f`.tmp" "$$d/`basename $$f`" || exit 1; \
	done
	for f in $(CONF_ERRORS); do \
	  $(INSTALL_DATA) '$(srcdir)/'$$f '$(DESTDIR)$(songscopeconfdir)/errors/' || exit 1; \
	done
# Never overwrite an operator's songscope.conf: the shipped one (all defaults) goes in only when absent.
	if test -f '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; then \
	  echo "keeping existing $(DESTDIR)$(songscopeconfdir)/songscope.conf"; \
	else \
	  $(INSTALL_DATA) '$(srcdir)/conf/songscope.conf' '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; \
	fi

uninstall-local:
	for f in $(CONF_EXAMPLES); do \
	  rm -f '$(DESTDIR)$(songscopeconfdir)/'`echo $$f | $(SED) -e 's|^conf/||'`; \
	done
	for f in $(CONF_ERRORS); do rm -f '$(DESTDIR)$(songscopeconfdir)/errors/'`basename $$f`; done
# songscope.conf goes only when it is still the shipped file (an edited one is the operator's).
	if cmp -s '$(srcdir)/conf/songscope.conf' '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; then \
	  rm -f '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; fi
	for d in errors nginx lighttpd apache spawn-fcgi systemd; do \
	  rmdir '$(DESTDIR)$(songscopeconfdir)/'$$d 2>/dev/null || :; done
	rmdir '$(DESTDIR)$(songscopeconfdir)' 2>/dev/null || :

.PHONY: install-conf-examples
