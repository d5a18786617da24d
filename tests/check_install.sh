#!/bin/sh
# `make install` into scratch DESTDIRs: what is installed names the paths the binaries use.
# 1. This build's own install: the installed man pages and songscope.conf name the database, state file and
#    configuration paths that `songscope.fcgi --help` reports as its built-in defaults; with the usual
#    prefixes (/usr/local, /usr) and no --localstatedir, the data lives in /var/lib/songscope.
# 2. A packager's install (prefix=/usr sysconfdir=/etc localstatedir=/var runstatedir=/run given to make):
#    no /usr/local path is left in any installed man page, configuration or unit.
# Nothing is installed outside the scratch directories, which are removed at the end.
set -eu

b=${SS_TOP_BUILDDIR:?run through make check}
make=${SS_MAKE:-make}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# --- 1: this build's install --------------------------------------------------------------------------
# The environment's MAKEFLAGS (-j, jobserver) is fine; the output is only shown on failure.
"$make" -C "$b" install DESTDIR="$tmp/own" >"$tmp/own.out" 2>&1 || {
	cat "$tmp/own.out" >&2
	fail "make install DESTDIR=$tmp/own"
}
help=$("$b/fcgi/songscope.fcgi" --help) || fail "songscope.fcgi --help exited $?"
db=$(printf '%s\n' "$help" | sed -n 's/^ *database  *\(\/[^ ]*\).*/\1/p')
state=$(printf '%s\n' "$help" | sed -n 's/^ *state_file  *\(\/[^ ]*\).*/\1/p')
conf=$(printf '%s\n' "$help" | sed -n 's/.*(default \(\/[^ ]*\) when it exists).*/\1/p')
[ -n "$db" ] && [ -n "$state" ] && [ -n "$conf" ] ||
	fail "songscope.fcgi --help does not name its default database, state_file and config: $help"
echo "defaults: database $db, state_file $state, config $conf"

# With the usual prefixes and no explicit --localstatedir, the data directory is the FHS one every document
# and the systemd unit (StateDirectory=songscope) assume.
prefix=$(sed -n "s/^prefix = //p" "$b/Makefile")
if ! "$b/config.status" --config | grep -q -- "--localstatedir" &&
	{ [ "$prefix" = /usr/local ] || [ "$prefix" = /usr ]; }; then
	[ "$db" = /var/lib/songscope/songscope.db ] || fail "prefix $prefix: default database is $db"
	[ "$state" = /var/lib/songscope/songscope.state ] || fail "prefix $prefix: default state_file is $state"
fi

man=$(find "$tmp/own" -name songscope.fcgi.8)
[ -n "$man" ] || fail "songscope.fcgi.8 not installed"
mandir=$(dirname "$(dirname "$man")")
for page in man8/songscope.fcgi.8 man5/songscope.conf.5 man1/songscope-admin.1 man1/songscope-analyze.1; do
	[ -f "$mandir/$page" ] || fail "$page not installed"
done
grep -qF "$db" "$mandir/man8/songscope.fcgi.8" || fail "songscope.fcgi.8 does not name the database $db"
grep -qF "$state" "$mandir/man8/songscope.fcgi.8" || fail "songscope.fcgi.8 does not name the state file $state"
grep -qF "$conf" "$mandir/man8/songscope.fcgi.8" || fail "songscope.fcgi.8 does not name the config $conf"
grep -qF "$db" "$mandir/man5/songscope.conf.5" || fail "songscope.conf.5 does not name the database $db"
grep -qF "$conf" "$mandir/man5/songscope.conf.5" || fail "songscope.conf.5 does not name the config $conf"
grep -qF "$conf" "$mandir/man1/songscope-admin.1" || fail "songscope-admin.1 does not name the config $conf"
installed_conf=$(find "$tmp/own" -path "*/songscope/songscope.conf" -type f)
[ -n "$installed_conf" ] || fail "songscope.conf not installed"
grep -qF "#database = $db" "$installed_conf" || fail "installed songscope.conf does not name the database $db"
grep -qF "#state_file = $state" "$installed_conf" || fail "installed songscope.conf does not name $state"

# --- 2: a packager's install ------------------------------------------------------------------------------
dirs="prefix=/usr sysconfdir=/etc localstatedir=/var runstatedir=/run"
# shellcheck disable=SC2086
"$make" -C "$b" install DESTDIR="$tmp/pkg" $dirs >"$tmp/pkg.out" 2>&1 || {
	cat "$tmp/pkg.out" >&2
	fail "make install DESTDIR=$tmp/pkg $dirs"
}
p=$tmp/pkg
for f in usr/sbin/songscope.fcgi usr/bin/songscope-admin usr/share/man/man8/songscope.fcgi.8 \
	usr/share/man/man5/songscope.conf.5 etc/songscope/songscope.conf etc/songscope/systemd/songscope.service; do
	[ -f "$p/$f" ] || fail "$dirs: /$f not installed"
done
left=$(grep -rl "/usr/local" "$p/usr/share/man" "$p/etc" || true)
[ -z "$left" ] || fail "$dirs: /usr/local is still named in: $left"
grep -qF "/etc/songscope/songscope.conf" "$p/usr/share/man/man8/songscope.fcgi.8" || fail "fcgi.8 lacks /etc"
grep -qF "/var/lib/songscope/songscope.db" "$p/usr/share/man/man5/songscope.conf.5" || fail "conf.5 lacks /var"
grep -qF "/run/songscope/songscope.sock" "$p/usr/share/man/man8/songscope.fcgi.8" || fail "fcgi.8 lacks /run"
grep -qF "ExecStart=/usr/sbin/songscope.fcgi --config /etc/songscope/songscope.conf" \
	"$p/etc/songscope/systemd/songscope.service" || fail "songscope.service does not start /usr/sbin/songscope.fcgi"
echo "PASS: installed files name this installation's paths"
