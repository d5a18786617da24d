# conf/: the documented configuration, the web-server and service configurations (the integration tests
# use them), and the man pages. `make install` puts the examples under $(sysconfdir)/songscope and the man
# pages under $(mandir), with the configured paths filled in; it creates nothing outside the prefix (systemd
# units are examples to copy).
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

# The man pages are templates like the files above: installed by install-man-pages with this build's paths.
SS_MAN_PAGES = man/songscope.fcgi.8 man/songscope-admin.1 man/songscope-analyze.1 man/songscope.conf.5
EXTRA_DIST += $(SS_MAN_PAGES)

songscopeconfdir = $(sysconfdir)/songscope
# The files name the paths of the default installation (/usr/local/sbin, /usr/local/bin, /usr/local/etc,
# /var/lib/songscope, /run/songscope); install them with this build's paths instead. Applied when
# installing, so `make install prefix=/usr sysconfdir=/etc ...` gets them right as well.
conf_subst = $(SED) -e 's|/usr/local/sbin|$(sbindir)|g' -e 's|/usr/local/bin|$(bindir)|g' \
	-e 's|/usr/local/share/songscope|$(pkgdatadir)|g' \
	-e 's|/usr/local/etc|$(sysconfdir)|g' -e 's|/var/lib/songscope|$(songscopestatedir)|g' \
	-e 's|/run/songscope|$(runstatedir)/songscope|g'

install-data-local: install-conf-examples install-man-pages
install-man-pages:
	for f in $(SS_MAN_PAGES); do \
	  d='$(DESTDIR)$(mandir)/man'`echo $$f | $(SED) -e 's|.*\.||'`; b=`basename $$f`; \
	  $(MKDIR_P) "$$d" && \
	  $(conf_subst) '$(srcdir)/'$$f > "$$d/$$b.tmp" && chmod 644 "$$d/$$b.tmp" && mv -f "$$d/$$b.tmp" "$$d/$$b" \
	  || exit 1; \
	done
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
	  $(conf_subst) '$(srcdir)/conf/songscope.conf' > '$(DESTDIR)$(songscopeconfdir)/songscope.conf.tmp' && \
	  chmod 644 '$(DESTDIR)$(songscopeconfdir)/songscope.conf.tmp' && \
	  mv -f '$(DESTDIR)$(songscopeconfdir)/songscope.conf.tmp' '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; \
	fi

uninstall-local:
	for f in $(SS_MAN_PAGES); do \
	  rm -f '$(DESTDIR)$(mandir)/man'`echo $$f | $(SED) -e 's|.*\.||'`/`basename $$f`; \
	done
	for f in $(CONF_EXAMPLES); do \
	  rm -f '$(DESTDIR)$(songscopeconfdir)/'`echo $$f | $(SED) -e 's|^conf/||'`; \
	done
	for f in $(CONF_ERRORS); do rm -f '$(DESTDIR)$(songscopeconfdir)/errors/'`basename $$f`; done
# songscope.conf goes only when it is still the shipped file (an edited one is the operator's).
	if $(conf_subst) '$(srcdir)/conf/songscope.conf' | cmp -s - '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; then \
	  rm -f '$(DESTDIR)$(songscopeconfdir)/songscope.conf'; fi
	for d in errors nginx lighttpd apache spawn-fcgi systemd; do \
	  rmdir '$(DESTDIR)$(songscopeconfdir)/'$$d 2>/dev/null || :; done
	rmdir '$(DESTDIR)$(songscopeconfdir)' 2>/dev/null || :

.PHONY: install-conf-examples install-man-pages
