#!/bin/sh
# The Debian package installed for real: a throwaway Debian 12 (bookworm) root made with mmdebstrap from Debian's
# archive, the package installed into it with apt (which pulls its dependencies from the archive), then, inside
# that root: the songscope user and /var/lib/songscope exist, songscope.service is enabled and nothing was
# started, and `songscope.fcgi --check-config` and `songscope-admin db check` succeed as the songscope user.
# Needs root, network access to the archive, mmdebstrap; takes a few minutes (too slow for make check, which
# runs tests/check_debian.sh instead).
# Usage: tools/deb-install-test.sh [songscope_VERSION_ARCH.deb]   (without: builds it from this source tree)
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
fail() {
	echo "deb-install-test: FAIL: $*" >&2
	exit 1
}
[ "$(id -u)" -eq 0 ] || fail "run as root (mmdebstrap and chroot)"
command -v mmdebstrap >/dev/null 2>&1 || fail "mmdebstrap is not installed (apt-get install mmdebstrap)"
mirror=${SS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

deb=${1:-}
if [ -z "$deb" ]; then
	echo "building the package from $here ..."
	mkdir "$tmp/src"
	(cd "$here" && tar --exclude=./build --exclude=./.git --exclude=./debian/build --exclude=./debian/songscope \
		--exclude=./debian/.debhelper -cf - .) | (cd "$tmp/src" && tar xf -)
	(cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck parallel=2" dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1 ||
		{ tail -40 "$tmp/build.log" >&2; fail "dpkg-buildpackage failed"; }
	deb=$(ls "$tmp"/songscope_*_*.deb)
fi
[ -f "$deb" ] || fail "no package $deb"
cp "$deb" "$tmp/songscope.deb"

# Everything below runs inside the new root ($1 in mmdebstrap's hooks), as the songscope user where it says so.
cat >"$tmp/inside.sh" <<'INSIDE'
#!/bin/sh
set -eu
fail() { echo "inside: FAIL: $*" >&2; exit 1; }
as_songscope() { setpriv --reuid=songscope --regid=songscope --init-groups "$@"; }
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends /tmp/songscope.deb
echo "--- installed: $(dpkg-query -W -f='${Package} ${Version} ${Status}' songscope)"
getent passwd songscope || fail "no songscope user"
[ "$(stat -c %U:%G:%a /var/lib/songscope)" = songscope:songscope:750 ] ||
	fail "/var/lib/songscope is $(stat -c %U:%G:%a /var/lib/songscope)"
[ -L /etc/systemd/system/multi-user.target.wants/songscope.service ] || fail "songscope.service is not enabled"
! pgrep -x songscope.fcgi >/dev/null 2>&1 || fail "songscope.fcgi was started by the installation"
echo "--- songscope.fcgi --check-config (as songscope)"
as_songscope /usr/sbin/songscope.fcgi --config /etc/songscope/songscope.conf --check-config
echo "--- songscope-admin db check (as songscope)"
as_songscope /usr/bin/songscope-admin --config /etc/songscope/songscope.conf db check
[ "$(stat -c %U /var/lib/songscope/songscope.db)" = songscope ] || fail "the database is not the songscope user's"
echo "--- songscope-analyze --help"
/usr/bin/songscope-analyze --help >/dev/null
echo "--- purge"
apt-get purge -y songscope >/dev/null
[ ! -e /var/lib/songscope ] || fail "/var/lib/songscope survived the purge"
[ ! -e /etc/songscope/songscope.conf ] || fail "/etc/songscope/songscope.conf survived the purge"
echo "inside: all good"
INSIDE
chmod +x "$tmp/inside.sh"

echo "mmdebstrap bookworm from $mirror ..."
mmdebstrap --variant=apt --include=procps --mode=root \
	--customize-hook="copy-in $tmp/songscope.deb $tmp/inside.sh /tmp" \
	--customize-hook='chroot "$1" /tmp/inside.sh' \
	bookworm "$tmp/root" "deb $mirror bookworm main" "deb $mirror bookworm-updates main" 2>&1 | tee "$tmp/mmdebstrap.log" |
	grep -E '^(---|inside:|songscope|/var/lib|[A-Za-z/]*songscope.db|.*FAIL)' || :
grep -q '^inside: all good' "$tmp/mmdebstrap.log" || { tail -30 "$tmp/mmdebstrap.log" >&2; fail "see above"; }
echo "deb-install-test: ok ($(basename "$deb") installed, checked and purged in a Debian 12 root)"
