#!/bin/sh
# songscope-analyze over many files (--jobs, -r), as songscope-analyze(1) says:
# * with --jobs > 1 the lines come out in the order the files were named (files of different lengths, so
#   later ones finish first), equal to --jobs 1's; nothing on stderr when it is not a terminal;
# * -r finds the audio files in nested folders, in byte order of their paths, leaves out hidden and
#   non-audio files, and does not follow a symbolic link back up (a note on stderr, not a failure);
# * a damaged file prints an error line in its place, the others are analysed, the exit status is 1;
# * a worker process killed in the middle of a file: that file gets an error line, a new worker analyses
#   the rest, the run completes (exit status 1);
# * - (standard input) is analysed in its place among files; a second - finds standard input used up;
# * on a terminal, the progress line ends with the final counts;
# * --jobs outside 1..256 and a folder without -r are refused.
set -eu

b=${SS_TOP_BUILDDIR:?run through make check}
analyze=$b/tools/songscope-analyze
tmp=$(mktemp -d)
pid=""
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# wav FILE SECONDS_X10: mono 16-bit 22.05 kHz noise, SECONDS_X10 tenths of a second long.
le32() { printf "\\$(printf %03o $(($1 & 255)))\\$(printf %03o $((($1 >> 8) & 255)))\\$(printf %03o $((($1 >> 16) & 255)))\\$(printf %03o $((($1 >> 24) & 255)))"; }
wav() {
	n=$((22050 * 2 * $2 / 10))
	{
		printf 'RIFF'
		le32 $((n + 36))
		printf 'WAVEfmt \020\000\000\000\001\000\001\000\042\126\000\000\104\254\000\000\002\000\020\000data'
		le32 $n
		head -c $n /dev/urandom
	} >"$1"
}
# files OUT: the "file" of each line of OUT, one per line.
files() { sed -n 's/^{"file":"\([^"]*\)".*/\1/p' "$1"; }
# same OUT: the lines without their timing, which differs from run to run.
same() { sed -e 's/"analysis_duration":[0-9.e+-]*//' "$1"; }

# --- order: long files first, so with 3 workers the short ones after them finish earlier.
set --
i=0
for tenths in 300 40 250 35 120 60 35 200 45; do
	i=$((i + 1))
	wav "$tmp/n$i.wav" $tenths
	set -- "$@" "$tmp/n$i.wav"
done
"$analyze" --jobs 1 "$@" >"$tmp/j1" 2>"$tmp/j1.err" || fail "--jobs 1 exited $?: $(cat "$tmp/j1.err")"
"$analyze" --jobs 3 "$@" >"$tmp/j3" 2>"$tmp/j3.err" || fail "--jobs 3 exited $?: $(cat "$tmp/j3.err")"
printf '%s\n' "$@" >"$tmp/named"
files "$tmp/j3" | cmp -s - "$tmp/named" || fail "--jobs 3 changed the order: $(files "$tmp/j3")"
[ "$(grep -c '"bpm":' "$tmp/j3")" -eq $# ] || fail "--jobs 3 did not analyse every file: $(cat "$tmp/j3")"
same "$tmp/j1" >"$tmp/j1.s"
same "$tmp/j3" | cmp -s - "$tmp/j1.s" || fail "--jobs 3 gives other results than --jobs 1"
[ -s "$tmp/j3.err" ] && fail "--jobs 3 wrote to stderr, which is not a terminal: $(cat "$tmp/j3.err")"
# --timeline: segments and sections as the cache stores them, the same with one worker or two.
"$analyze" --jobs 1 --timeline "$tmp/n2.wav" "$tmp/n4.wav" >"$tmp/t1" || fail "--timeline exited $?"
"$analyze" --jobs 2 --timeline "$tmp/n2.wav" "$tmp/n4.wav" >"$tmp/t2" || fail "--timeline --jobs 2 exited $?"
same "$tmp/t2" >"$tmp/t2.same"
same "$tmp/t1" | cmp -s - "$tmp/t2.same" || fail "--timeline differs between --jobs 1 and 2"
[ "$(grep -c '"segments":\[\[0,.*\]\],"sections":\[\[0,[^]]*\]' "$tmp/t1")" -eq 2 ] ||
	fail "--timeline: no segments and sections from 0: $(head -c 300 "$tmp/t1")"
grep -q '"segments"' "$tmp/j1" && fail "segments without --timeline"

# More workers than files.
"$analyze" --jobs 16 "$tmp/n2.wav" "$tmp/n4.wav" >"$tmp/j16" || fail "--jobs 16 with 2 files exited $?"
[ "$(files "$tmp/j16" | tr '\n' ' ')" = "$tmp/n2.wav $tmp/n4.wav " ] || fail "--jobs 16: $(cat "$tmp/j16")"

# --- -r: nested folders, sorted by path in byte order ('.' before '/', capitals first).
lib=$tmp/lib
mkdir -p "$lib/a" "$lib/b/c" "$lib/.hidden" "$lib/empty"
cp "$tmp/n2.wav" "$lib/a.wav"
cp "$tmp/n4.wav" "$lib/a/x.WAV"
cp "$tmp/n6.wav" "$lib/B.wav"
cp "$tmp/n9.wav" "$lib/b/c/d.wav"
cp "$tmp/n2.wav" "$lib/b/c/e.flac.txt"
cp "$tmp/n2.wav" "$lib/.hidden/h.wav"
cp "$tmp/n2.wav" "$lib/b/.dot.wav"
echo notes >"$lib/notes.txt"
ln -s ../.. "$lib/b/c/up"
mkfifo "$lib/b/pipe.wav"
"$analyze" --jobs 2 -r "$lib" >"$tmp/r" 2>"$tmp/r.err" || fail "-r exited $?: $(cat "$tmp/r" "$tmp/r.err")"
printf '%s\n' "$lib/B.wav" "$lib/a.wav" "$lib/a/x.WAV" "$lib/b/c/d.wav" >"$tmp/r.want"
files "$tmp/r" | cmp -s - "$tmp/r.want" || fail "-r found, in this order: $(files "$tmp/r" | tr '\n' ' ')"
grep -q "$lib/b/c/up: not entered: a symbolic link to a folder above it" "$tmp/r.err" ||
	fail "-r did not note the link loop: $(cat "$tmp/r.err")"
# A folder whose name holds terminal control sequences: the notes about it reach the terminal with them folded
# to spaces (a name could clear the screen or forge a line), while the JSON lines keep the name, escaped.
esc=$(printf '\033[2J\033]0;x\007\302\233')
mkdir -p "$lib/b/n$esc"
ln -s ../.. "$lib/b/n$esc/up"
touch "$lib/empty/z$esc"
"$analyze" -r "$lib/b" "$lib/empty" >"$tmp/r3" 2>"$tmp/r3.err" || true
LC_ALL=C grep -q "$(printf '[\001-\037\177]\|\302[\200-\237]')" "$tmp/r3.err" &&
	fail "-r wrote control characters to stderr: $(od -c "$tmp/r3.err" | head -5)"
grep -q "/n \[2J ]0;x  /up: not entered" "$tmp/r3.err" || fail "-r did not note the folded name: $(cat "$tmp/r3.err")"
rm -rf "$lib/b/n$esc" "$lib/empty/z$esc"
# The same with a trailing slash on the folder, and a file named beside it.
"$analyze" -r "$lib/b/" "$tmp/n2.wav" >"$tmp/r2" 2>/dev/null || fail "-r DIR/ FILE exited $?"
[ "$(files "$tmp/r2" | tr '\n' ' ')" = "$lib/b/c/d.wav $tmp/n2.wav " ] || fail "-r DIR/ FILE: $(files "$tmp/r2")"

# --- damaged files among good ones: error lines in their places, exit status 1.
{
	printf 'RIFF'
	le32 441036
	printf 'WAVEfmt \020\000\000\000\001\000\001\000\042\126\000\000\104\254\000\000\002\000\020\000data'
	le32 441000
	head -c 100 /dev/urandom
} >"$tmp/truncated.wav"
head -c 50000 /dev/zero | tr '\000' x >"$tmp/garbage.mp3"
st=0
"$analyze" --jobs 2 "$tmp/n1.wav" "$tmp/truncated.wav" "$tmp/n2.wav" "$tmp/garbage.mp3" "$tmp/n3.wav" \
	>"$tmp/d" 2>"$tmp/d.err" || st=$?
[ $st -eq 1 ] || fail "damaged files: exit status $st, not 1: $(cat "$tmp/d" "$tmp/d.err")"
printf '%s\n' "$tmp/n1.wav" "$tmp/truncated.wav" "$tmp/n2.wav" "$tmp/garbage.mp3" "$tmp/n3.wav" >"$tmp/d.want"
files "$tmp/d" | cmp -s - "$tmp/d.want" || fail "damaged files: lines $(files "$tmp/d" | tr '\n' ' ')"
for f in truncated.wav garbage.mp3; do
	grep -q "^{\"file\":\"$tmp/$f\",\"error\":\"[a-z_]*\",\"message\":\"[^\"]" "$tmp/d" ||
		fail "no error line for $f: $(cat "$tmp/d")"
done
[ "$(grep -c '"bpm":' "$tmp/d")" -eq 3 ] || fail "the good files among damaged ones: $(cat "$tmp/d")"

# --- a worker killed in the middle of a file. The file is a pipe the test holds open for writing, so a worker
# that reads it waits there; the test finds that worker (a child of songscope-analyze with the pipe open),
# kills it with SIGKILL and closes the pipe.
# kill_reader PID FIFO: wait (bounded) for a child of PID to have FIFO open, then SIGKILL it.
kill_reader() {
	tries=0
	while :; do
		for p in /proc/[0-9]*; do
			[ "$(cut -d ' ' -f 4 "$p/stat" 2>/dev/null)" = "$1" ] || continue
			for fd in "$p"/fd/*; do
				if [ "$(readlink "$fd" 2>/dev/null)" = "$2" ]; then
					kill -KILL "${p#/proc/}"
					return 0
				fi
			done
		done
		tries=$((tries + 1))
		[ $tries -lt 600 ] || fail "no worker of $1 opened $2"
		sleep 0.1
	done
}
for jobs in 1 2; do
	rm -f "$tmp/stall.wav"
	mkfifo "$tmp/stall.wav"
	exec 3<>"$tmp/stall.wav"
	# With one worker, the files after the pipe can only be analysed by the worker started to replace it.
	"$analyze" --jobs $jobs "$tmp/n2.wav" "$tmp/stall.wav" "$tmp/n4.wav" "$tmp/n5.wav" >"$tmp/k" 2>"$tmp/k.err" 3>&- &
	pid=$!
	kill_reader $pid "$tmp/stall.wav"
	exec 3>&-
	st=0
	wait $pid || st=$?
	pid=""
	[ $st -eq 1 ] || fail "--jobs $jobs, worker killed: exit status $st, not 1: $(cat "$tmp/k" "$tmp/k.err")"
	printf '%s\n' "$tmp/n2.wav" "$tmp/stall.wav" "$tmp/n4.wav" "$tmp/n5.wav" >"$tmp/k.want"
	files "$tmp/k" | cmp -s - "$tmp/k.want" || fail "--jobs $jobs, worker killed: lines $(files "$tmp/k" | tr '\n' ' ')"
	grep -q "^{\"file\":\"$tmp/stall.wav\",\"error\":\"internal\",\"message\":\"the analysis process was killed by signal 9" \
		"$tmp/k" || fail "--jobs $jobs: no error line for the file whose worker was killed: $(cat "$tmp/k")"
	[ "$(grep -c '"bpm":' "$tmp/k")" -eq 3 ] || fail "--jobs $jobs: the other files after a kill: $(cat "$tmp/k")"
done

# --- standard input among files; a second - finds it used up.
st=0
"$analyze" --jobs 2 "$tmp/n2.wav" - "$tmp/n4.wav" - <"$tmp/n5.wav" >"$tmp/s" 2>"$tmp/s.err" || st=$?
[ $st -eq 1 ] || fail "a second -: exit status $st, not 1: $(cat "$tmp/s" "$tmp/s.err")"
[ "$(files "$tmp/s" | tr '\n' ' ')" = "$tmp/n2.wav - $tmp/n4.wav - " ] || fail "- among files: $(files "$tmp/s")"
sed -n 2p "$tmp/s" | sed 's/^{"file":"-",//' | same /dev/stdin >"$tmp/s.got"
sed -n 5p "$tmp/j1" | sed 's/^{"file":"[^"]*",//' | same /dev/stdin >"$tmp/s.want"
cmp -s "$tmp/s.got" "$tmp/s.want" || fail "- differs from the same file's result: $(cat "$tmp/s")"
sed -n 4p "$tmp/s" | grep -q '^{"file":"-","error":"' || fail "a second - is not an error: $(cat "$tmp/s")"

# --- progress on a terminal (script(1) gives the program one).
if command -v script >/dev/null 2>&1; then
	script -qec "'$analyze' --jobs 2 '$tmp/n2.wav' '$tmp/garbage.mp3' '$tmp/n4.wav' >/dev/null" /dev/null \
		>"$tmp/p" 2>&1 </dev/null || true
	tr '\r' '\n' <"$tmp/p" | grep -v '^$' | tail -n 1 | grep -q '^3/3 files, 1 failed' ||
		fail "no final progress line on a terminal: $(od -c "$tmp/p" | head -20)"
else
	echo "SKIP: progress line (no script(1))"
fi

# --- usage errors and a folder without -r.
for bad in 0 257 x 1.5 -1; do
	st=0
	"$analyze" --jobs "$bad" "$tmp/n2.wav" >/dev/null 2>&1 || st=$?
	[ $st -eq 2 ] || fail "--jobs $bad: exit status $st, not 2"
done
st=0
"$analyze" "$lib" >"$tmp/f" 2>/dev/null || st=$?
[ $st -eq 1 ] || fail "a folder without -r: exit status $st, not 1"
grep -q "^{\"file\":\"$lib\",\"error\":\"not_found\",\"message\":\"is a folder (-r" "$tmp/f" ||
	fail "a folder without -r: $(cat "$tmp/f")"
echo "PASS: songscope-analyze --jobs and -r"
