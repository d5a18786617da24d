#!/bin/sh
# Install the Debian 12 packages songscope needs to build, run and test.
# Idempotent: installs only what is missing and prints nothing when all is there.
# Usage: tools/install-deps.sh [--runtime-only]
set -eu

BUILD_PKGS="build-essential autoconf automake libtool pkg-config
libfcgi-dev libsqlite3-dev libsndfile1-dev libkissfft-dev libjson-c-dev check
libcurl4-openssl-dev libsoxr-dev libebur128-dev libsodium-dev libhiredis-dev
libavformat-dev libavcodec-dev libavutil-dev libswresample-dev libpq-dev"
RUN_PKGS="nginx-light spawn-fcgi sqlite3 curl"
# espeak-ng, sox, festival + festvox-kallpc16k + festvox-kdlpc16k (its singing mode): the audio-features evidence
# (tools/features-evidence.py); chromium + chromium-driver: the page's browser test (tests/integration/
# check_browser); python3-yaml and python3-jsonschema: every response of the integration suite checked against
# man/openapi.yaml; debhelper, lintian, fakeroot, mmdebstrap: the Debian package (debian/,
# tools/deb-install-test.sh).
TEST_PKGS="lighttpd apache2 libapache2-mod-fcgid wrk clang libclang-rt-14-dev redis-server postgresql-15
espeak-ng sox festival festvox-kallpc16k festvox-kdlpc16k python3 chromium chromium-driver python3-yaml
python3-jsonschema
debhelper lintian fakeroot mmdebstrap"

want="$BUILD_PKGS $RUN_PKGS $TEST_PKGS"
[ "${1:-}" = "--runtime-only" ] && want="$BUILD_PKGS $RUN_PKGS"

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then SUDO=sudo; else
		echo "install-deps: missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
else
	SUDO=
fi

echo "install-deps: installing$missing" >&2
# Installing nginx/apache2/lighttpd would start their default sites on port 80:
# keep package scripts from starting services while we install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
	$SUDO chmod 755 "$policy"
	own_policy=1
fi
cleanup() { [ "$own_policy" -eq 1 ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT INT TERM

export DEBIAN_FRONTEND=noninteractive
# Another apt or dpkg (unattended-upgrades on a fresh machine, a second terminal) may hold the lock: wait
# for it, up to 10 minutes, instead of failing at once. dpkg-query above needs no lock.
apt="apt-get -o DPkg::Lock::Timeout=600"
if ! $SUDO $apt install -y -qq --no-install-recommends $missing >/dev/null; then
	$SUDO $apt update -qq >/dev/null
	$SUDO $apt install -y -qq --no-install-recommends $missing >/dev/null
fi
