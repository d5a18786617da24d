# fcgi/ui/: the web page songscope serves under /ui/ (plain HTML, CSS and JavaScript: no build step, nothing
# fetched from elsewhere). Installed under $(pkgdatadir)/ui, where ui_dir points by default.
uidir = $(pkgdatadir)/ui
dist_ui_DATA = \
	fcgi/ui/index.html \
	fcgi/ui/style.css \
	fcgi/ui/common.js \
	fcgi/ui/try.js \
	fcgi/ui/dashboard.js \
	fcgi/ui/favicon.svg
