#!/bin/sh
# No program links FFmpeg: songscope.fcgi, songscope-analyze and songscope-admin have no NEEDED entry for
# libavformat, libavcodec, libavutil or libswresample (core/audio/ffmpeg_dl.c dlopens them when a file needs
# them), and the dynamic loader maps none of them for `songscope-analyze --help`.
set -eu

build=${SS_TOP_BUILDDIR:?run through make check}
fail() {
	echo "FAIL: $*" >&2
	exit 1
}
command -v readelf >/dev/null 2>&1 || { echo "SKIP: readelf not installed"; exit 77; }

for p in fcgi/songscope.fcgi tools/songscope-analyze tools/songscope-admin; do
	[ -x "$build/$p" ] || fail "$p was not built"
	needed=$(readelf -d "$build/$p" | grep '(NEEDED)') || fail "readelf -d $p lists no NEEDED entries"
	if echo "$needed" | grep -E 'lib(avformat|avcodec|avutil|swresample|swscale|avfilter|avdevice)\.so' >&2; then
		fail "$p links FFmpeg (NEEDED above)"
	fi
done

# What the loader maps at start-up: LD_DEBUG=libs names every library it opens (glibc).
out=$(LD_DEBUG=libs "$build/tools/songscope-analyze" --help 2>&1 >/dev/null) || fail "songscope-analyze --help failed"
if echo "$out" | grep -q 'calling init'; then
	if echo "$out" | grep -E 'calling init: .*lib(avformat|avcodec|avutil)\.so' >&2; then
		fail "songscope-analyze --help loads FFmpeg"
	fi
fi
echo "PASS: no program links FFmpeg"
