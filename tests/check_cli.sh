#!/bin/sh
# The command-line programs do what their man pages say:
# * songscope-admin's exit status is 0 on success, 1 when the operation failed (no key with that id, a
#   database that cannot be opened), 2 for a usage error or a configuration that does not validate; each
#   message on standard error ends with a newline;
# * `songscope-analyze -` reads the audio from standard input;
# * songscope.fcgi --help lists every option it accepts;
# * the man pages render without broken lines (groff, when installed).
set -eu

b=${SS_TOP_BUILDDIR:?run through make check}
src=${SS_TOP_SRCDIR:?run through make check}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
admin=$b/tools/songscope-admin
printf 'database = %s/db.sqlite\nstate_file = %s/state\n' "$tmp" "$tmp" >"$tmp/ok.conf"
printf 'frobnicate = 1\n' >"$tmp/bad.conf"

# expect STATUS ARGS...: run songscope-admin, check the exit status and that stderr ends with a newline.
expect() {
	want=$1
	shift
	st=0
	"$admin" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null || st=$?
	[ "$st" -eq "$want" ] || fail "songscope-admin $*: exit $st, the man page says $want ($(cat "$tmp/err"))"
	if [ -s "$tmp/err" ] && [ "$(tail -c 1 "$tmp/err" | od -An -c | tr -d ' ')" != '\n' ]; then
		fail "songscope-admin $*: the message on stderr does not end with a newline: $(cat "$tmp/err")"
	fi
}
expect 0 --config "$tmp/ok.conf" keys create first
expect 0 --config "$tmp/ok.conf" keys list
expect 0 --config "$tmp/ok.conf" keys show 1
expect 1 --config "$tmp/ok.conf" keys show 99
expect 1 --config "$tmp/ok.conf" keys activate 99
expect 1 --config "$tmp/ok.conf" keys limit 99 5
expect 1 --config "$tmp/ok.conf" keys rotate 99
expect 1 --config "$tmp/ok.conf" keys delete 99 --yes
expect 2 --config "$tmp/ok.conf" keys delete 1
expect 2 --config "$tmp/ok.conf" keys show abc
expect 2 --config "$tmp/ok.conf" keys frob
expect 2 --config "$tmp/ok.conf" frob
expect 2 --config "$tmp/ok.conf" --frob keys list
expect 2 --config "$tmp/ok.conf"
expect 2 --config "$tmp/bad.conf" keys list
grep -q "bad.conf:1: unknown key 'frobnicate'" "$tmp/err" || fail "refused config: $(cat "$tmp/err")"
expect 2 --config "$tmp/missing.conf" keys list
printf 'database = %s/no/such/dir/db.sqlite\nstate_file = %s/state\n' "$tmp" "$tmp" >"$tmp/nodb.conf"
expect 1 --config "$tmp/nodb.conf" keys list

# Key names are printable: a control character is refused, and one an earlier release stored reaches the
# operator's terminal as a space, never as an escape sequence or a forged line.
esc=$(printf '\033')
expect 2 --config "$tmp/ok.conf" keys create "$(printf 'evil\033[2Jname')"
grep -q 'printable' "$tmp/err" || fail "keys create with ESC: $(cat "$tmp/err")"
expect 2 --config "$tmp/ok.conf" keys create "$(printf 'two\nlines')"
if command -v python3 >/dev/null 2>&1; then
	python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("UPDATE api_keys SET name = ?, email = ? WHERE id = 1", ("old\x1b[31mkey\nforged row", "a\tb@x.org")); c.commit()' "$tmp/db.sqlite"
	for cmd in "keys list" "keys show 1"; do
		# shellcheck disable=SC2086
		expect 0 --config "$tmp/ok.conf" $cmd
		if grep -q "$esc" "$tmp/out" || grep -q '^forged' "$tmp/out"; then
			fail "songscope-admin $cmd printed a control character: $(od -c "$tmp/out" | head -5)"
		fi
		grep -q 'old \[31mkey forged row' "$tmp/out" || fail "songscope-admin $cmd: $(cat "$tmp/out")"
	done
	expect 0 --config "$tmp/ok.conf" keys show 1 --json
	grep -q 'old\\u001b\[31mkey\\nforged row' "$tmp/out" || fail "keys show --json: $(cat "$tmp/out")"
fi

# songscope-analyze -: a 5 s mono 16-bit WAV of noise, from a file and from standard input.
n=441000
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 24) & 255)))"; }
{
	printf 'RIFF'
	le32 $((n + 36))
	printf 'WAVEfmt \020\000\000\000\001\000\001\000\104\254\000\000\210\130\001\000\002\000\020\000data'
	le32 $n
	head -c $n /dev/urandom
} >"$tmp/noise.wav"
"$b/tools/songscope-analyze" "$tmp/noise.wav" >"$tmp/file.json" || fail "songscope-analyze FILE: $(cat "$tmp/file.json")"
st=0
"$b/tools/songscope-analyze" - <"$tmp/noise.wav" >"$tmp/stdin.json" || st=$?
[ $st -eq 0 ] || fail "songscope-analyze - exited $st: $(cat "$tmp/stdin.json")"
grep -q '^{"file":"-","bpm":' "$tmp/stdin.json" || fail "songscope-analyze -: $(cat "$tmp/stdin.json")"
# The same result but for "file" and the timing.
same() { sed -e 's/^{"file":"[^"]*",//' -e 's/"analysis_duration":[0-9.e+-]*//' "$1"; }
[ "$(same "$tmp/stdin.json")" = "$(same "$tmp/file.json")" ] ||
	fail "songscope-analyze - differs from the file's result"

# songscope.fcgi --help: every long option main.c accepts.
"$b/fcgi/songscope.fcgi" --help >"$tmp/help" || fail "songscope.fcgi --help exited $?"
for opt in $(grep -o '{"[a-z-]*", \(no\|required\)_argument' "$src/fcgi/main.c" | sed 's/{"\([a-z-]*\)".*/\1/'); do
	grep -q -- "^  --$opt " "$tmp/help" || fail "songscope.fcgi --help does not describe --$opt"
done

# Man pages: a .TP tag is one line; `usage [--days n]` once broke across two.
if command -v groff >/dev/null 2>&1; then
	for page in "$src"/man/*.[158]; do
		groff -man -Tutf8 -P-cbou -ww "$page" >"$tmp/page" 2>"$tmp/warn" || fail "groff $page"
		[ -s "$tmp/warn" ] && fail "groff warns about $page: $(cat "$tmp/warn")"
	done
	groff -man -Tutf8 -P-cbou "$src/man/songscope-admin.1" | grep -q 'usage \[--days n\]' ||
		fail "songscope-admin(1) does not render 'usage [--days n]' on one line"
fi
echo "PASS: command-line programs agree with their man pages"
