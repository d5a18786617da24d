#!/bin/sh
# The Debian package, at CI speed: debian/ builds songscope_<version>_<arch>.deb with dpkg-buildpackage (from a
# copy of the source tree, its own tests skipped: make check runs them), and the package is checked without
# installing it: the programs, man pages, /etc/songscope conffiles, the web-server configurations and the page
# under /usr/share/songscope, songscope.service where systemd looks, no /usr/local path anywhere, maintainer
# scripts that create the songscope user and /var/lib/songscope and enable the service without starting it,
# and lintian without errors. tools/deb-install-test.sh installs it for real into a Debian 12 chroot.
set -eu
src=${SS_TOP_SRCDIR:?run through make check}
for t in dpkg-buildpackage dh dpkg-deb fakeroot; do
	if ! command -v "$t" >/dev/null 2>&1; then
		echo "skipped: $t is not installed (apt-get install dpkg-dev debhelper fakeroot)"
		exit 77
	fi
done
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A clean copy: no build trees, no earlier package build.
mkdir "$tmp/songscope"
(cd "$src" && tar --exclude=./build --exclude=./.git --exclude=./debian/build --exclude=./debian/songscope \
	--exclude=./debian/.debhelper --exclude=./autom4te.cache -cf - .) | (cd "$tmp/songscope" && tar xf -)
chmod -R u+w "$tmp/songscope"
if ! (cd "$tmp/songscope" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) \
	>"$tmp/build.log" 2>&1; then
	tail -40 "$tmp/build.log" >&2
	fail "dpkg-buildpackage -us -uc -b failed"
fi
version=$(sed -n '1s/.*(\(.*\)).*/\1/p' "$src/debian/changelog")
deb="$tmp/songscope_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || fail "no $(basename "$deb") was built: $(ls "$tmp")"
echo "built $(basename "$deb") ($(wc -c <"$deb") bytes)"

dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/files"
for f in /usr/sbin/songscope.fcgi /usr/bin/songscope-admin /usr/bin/songscope-analyze \
	/usr/share/man/man8/songscope.fcgi.8.gz /usr/share/man/man5/songscope.conf.5.gz \
	/usr/share/man/man1/songscope-admin.1.gz /usr/share/man/man1/songscope-analyze.1.gz \
	/etc/songscope/songscope.conf /etc/songscope/errors/status-503.html \
	/usr/share/songscope/nginx/songscope.conf /usr/share/songscope/lighttpd/songscope.conf \
	/usr/share/songscope/lighttpd/songscope-spawn.conf /usr/share/songscope/apache/songscope-proxy-fcgi.conf \
	/usr/share/songscope/apache/songscope-fcgid.conf /usr/share/songscope/systemd/songscope.socket \
	/usr/share/songscope/ui/index.html /usr/share/songscope/ui/try.js /usr/share/songscope/ui/dashboard.js \
	/lib/systemd/system/songscope.service /usr/share/doc/songscope/openapi.yaml /usr/share/doc/songscope/copyright; do
	grep -qx "$f" "$tmp/files" || fail "the package has no $f"
done
! grep -q '^/usr/local' "$tmp/files" || fail "the package installs under /usr/local: $(grep '^/usr/local' "$tmp/files")"
! grep -q '^/etc/songscope/\(nginx\|lighttpd\|apache\|systemd\)' "$tmp/files" ||
	fail "web-server configurations belong under /usr/share/songscope, not /etc/songscope"

mkdir "$tmp/x" "$tmp/ctl"
dpkg-deb -x "$deb" "$tmp/x"
dpkg-deb -e "$deb" "$tmp/ctl"
if grep -rl '/usr/local' "$tmp/x/etc" "$tmp/x/usr/share/songscope" "$tmp/x/lib" "$tmp/x/usr/share/man" 2>/dev/null |
	grep -v '\.gz$' >"$tmp/local"; then
	fail "files still name /usr/local: $(cat "$tmp/local")"
fi
grep -q 'ExecStart=/usr/sbin/songscope.fcgi --config /etc/songscope/songscope.conf' \
	"$tmp/x/lib/systemd/system/songscope.service" || fail "songscope.service does not run /usr/sbin/songscope.fcgi"
grep -q '^User=songscope' "$tmp/x/lib/systemd/system/songscope.service" || fail "songscope.service is not run as songscope"
help=$("$tmp/x/usr/sbin/songscope.fcgi" --help 2>&1) || fail "the packaged songscope.fcgi does not run here"
printf '%s\n' "$help" | grep -q '^  ui_dir  *\/usr\/share\/songscope\/ui$' || fail "songscope.fcgi's ui_dir is not /usr/share/songscope/ui: $help"
printf '%s\n' "$help" | grep -q '^  database  *\/var\/lib\/songscope\/songscope.db$' || fail "songscope.fcgi's database is not in /var/lib/songscope"
printf '%s\n' "$help" | grep -q 'default /etc/songscope/songscope.conf' || fail "songscope.fcgi's configuration is not /etc/songscope/songscope.conf"

# Control data: conffiles, dependencies, maintainer scripts.
grep -qx '/etc/songscope/songscope.conf' "$tmp/ctl/conffiles" || fail "songscope.conf is not a conffile"
grep -qx '/etc/songscope/errors/status-503.html' "$tmp/ctl/conffiles" || fail "the error bodies are not conffiles"
grep -q '^Depends:.*adduser' "$tmp/ctl/control" || fail "no Depends on adduser"
grep -q '^Depends:.*libsqlite3' "$tmp/ctl/control" || fail "shared library dependencies missing: $(grep Depends "$tmp/ctl/control")"
for s in postinst postrm; do
	[ -f "$tmp/ctl/$s" ] || fail "no $s"
done
for s in preinst postinst prerm postrm; do
	[ ! -f "$tmp/ctl/$s" ] || sh -n "$tmp/ctl/$s" || fail "$s is not valid sh"
done
grep -q 'adduser --system --group --home /var/lib/songscope' "$tmp/ctl/postinst" || fail "postinst creates no songscope user"
grep -q 'install -d -o songscope -g songscope -m 0750 /var/lib/songscope' "$tmp/ctl/postinst" ||
	fail "postinst does not create /var/lib/songscope for songscope"
grep -q 'deb-systemd-helper.* enable .*songscope.service\|deb-systemd-helper enable .*songscope.service' "$tmp/ctl/postinst" ||
	fail "postinst does not enable songscope.service"
! grep -q 'deb-systemd-invoke .*start' "$tmp/ctl/postinst" || fail "postinst starts the service (it must only enable it)"
grep -q 'rm -rf /var/lib/songscope' "$tmp/ctl/postrm" || fail "postrm purge keeps /var/lib/songscope"

if command -v lintian >/dev/null 2>&1; then
	root=
	[ "$(id -u)" -ne 0 ] || root=--allow-root
	# its temporary files in ours (removed on exit): lintian leaves some in /tmp otherwise
	TMPDIR=$tmp lintian $root --tag-display-limit 0 "$deb" >"$tmp/lintian" 2>&1 || :
	if [ -s "$tmp/lintian" ]; then cat "$tmp/lintian"; else echo "lintian: no tags"; fi
	! grep -q '^E:' "$tmp/lintian" || fail "lintian reports errors"
else
	echo "lintian is not installed: not run"
fi
echo "ok: $(wc -l <"$tmp/files") paths in the package"
