#!/bin/sh
# The scripts in tools/ and the build files answer as documented, without starting anything:
# * tools/run-tests.sh --help prints its usage and exits 0 (it must not start a build and test run);
#   an unknown option is an error (exit 2);
# * tools/quickstart.sh --help names --port;
# * configure's compile and link tests do not `rm -f core` (our core/ directory made each of them print
#   "rm: cannot remove 'core'"), and m4/ (AC_CONFIG_MACRO_DIR) exists so aclocal does not warn;
# * every systemd unit in conf/ that has systemd create a StateDirectory= names the User= (and Group=) it is
#   for: without one the directory is root's and the service, once it drops to songscope, cannot write it;
# * every Markdown link to a .md file in README.md and man/*.md, and every mention of the project's own
#   documents (DESIGN.md, API.md, HACKING.md, BENCHMARKS.md), resolves to a file in the repository.
set -eu

src=${SS_TOP_SRCDIR:?run through make check}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# run-tests.sh runs install-deps.sh and the builds first thing: with --help nothing may run, so run it with
# a PATH where make, apt-get and dpkg-query fail loudly.
mkdir "$tmp/bin"
for t in make apt-get dpkg-query sudo; do
	printf '#!/bin/sh\necho "%s must not run" >&2\nexit 99\n' "$t" >"$tmp/bin/$t"
	chmod +x "$tmp/bin/$t"
done
st=0
PATH="$tmp/bin:$PATH" sh "$src/tools/run-tests.sh" --help >"$tmp/out" 2>&1 || st=$?
[ $st -eq 0 ] || fail "run-tests.sh --help exited $st: $(cat "$tmp/out")"
grep -q "^Usage: tools/run-tests.sh" "$tmp/out" || fail "run-tests.sh --help printed no usage: $(cat "$tmp/out")"
grep -q "must not run" "$tmp/out" && fail "run-tests.sh --help started the run: $(cat "$tmp/out")"
st=0
PATH="$tmp/bin:$PATH" sh "$src/tools/run-tests.sh" --frobnicate >"$tmp/out" 2>&1 || st=$?
[ $st -eq 2 ] || fail "run-tests.sh --frobnicate exited $st (expected 2): $(cat "$tmp/out")"
grep -q "must not run" "$tmp/out" && fail "run-tests.sh --frobnicate started the run"

st=0
sh "$src/tools/quickstart.sh" --help >"$tmp/out" 2>&1 || st=$?
[ $st -eq 0 ] || fail "quickstart.sh --help exited $st"
grep -q -- "--port" "$tmp/out" || fail "quickstart.sh --help does not name --port"

if [ -f "$src/configure" ]; then
	n=$(grep -c "rm -f core conftest" "$src/configure" || true)
	[ "$n" -eq 0 ] || fail "configure runs 'rm -f core conftest...' $n times (prints 'cannot remove core')"
fi
[ -d "$src/m4" ] || fail "m4/ (AC_CONFIG_MACRO_DIR) is missing: aclocal warns"
for unit in $(find "$src/conf" -name '*.service'); do
	grep -q '^StateDirectory=' "$unit" || continue
	grep -q '^User=songscope$' "$unit" || fail "$unit creates a StateDirectory without User=songscope"
	grep -q '^Group=songscope$' "$unit" || fail "$unit creates a StateDirectory without Group=songscope"
done
for doc in "$src/README.md" "$src"/man/*.md; do
	d=$(dirname "$doc")
	# Links, and the project's own documents named in the text (the original server's are not ours).
	for cited in $({
		grep -o '](\([A-Za-z_/.-]*\.md\))' "$doc" | sed 's/^](\(.*\))$/\1/'
		grep -o '\(DESIGN\|API\|HACKING\|BENCHMARKS\)\.md' "$doc"
	} | sort -u); do
		[ -f "$d/$cited" ] || [ -f "$src/$cited" ] || [ -f "$src/man/$cited" ] || fail "$doc cites $cited, which is not in the repository"
	done
done
echo "PASS: tools and build files"
