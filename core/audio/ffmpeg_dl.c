/* FFmpeg loaded with dlopen on first use (see ffmpeg_dl.h). */
#include "core/audio/ffmpeg_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SS_STR_(x) #x
#define SS_STR(x) SS_STR_(x)

/* The sonames of the libraries whose headers we compiled against: same major version, same ABI. */
#define SONAME_AVUTIL "libavutil.so." SS_STR(LIBAVUTIL_VERSION_MAJOR)
#define SONAME_AVCODEC "libavcodec.so." SS_STR(LIBAVCODEC_VERSION_MAJOR)
#define SONAME_AVFORMAT "libavformat.so." SS_STR(LIBAVFORMAT_VERSION_MAJOR)

/* Library code never prints: FFmpeg's logger is silenced once for the process. No single FFmpeg allocation
 * may exceed FFMPEG_MAX_ALLOC, whatever a hostile header asks for (decoding an M4A preview needs far less). */
#define FFMPEG_MAX_ALLOC (64u << 20)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static ss_ffmpeg api;
static bool loaded;
static char load_error[SS_ERROR_MSG_MAX];
static void (*failure_hook)(const char *reason);

static void silent_log(void *avcl, int level, const char *fmt, va_list vl)
{
}

/* dlopen one library by soname (or, in test builds, from the directory SS_TEST_FFMPEG_DIR names, so a test
 * can make loading fail). */
static void *open_lib(const char *soname)
{
	char path[1024];
	const char *name = soname;
#ifdef SS_TEST_HOOKS
	const char *dir = getenv("SS_TEST_FFMPEG_DIR");
	if (dir != NULL && dir[0] != '\0') {
		snprintf(path, sizeof path, "%s/%s", dir, soname);
		name = path;
	}
#else
	(void)path;
#endif
	void *h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		snprintf(load_error, sizeof load_error, "%s", e != NULL ? e : soname);
	}
	return h;
}

static int check_major(const char *soname, unsigned version, unsigned header_major)
{
	if (AV_VERSION_MAJOR(version) == header_major)
		return 0;
	snprintf(load_error, sizeof load_error, "%s is version %u, built for %u", soname, AV_VERSION_MAJOR(version),
		 header_major);
	return -1;
}

static void load(void)
{
	/* Dependencies first, so each dlopen finds the one before already mapped. */
	void *avutil = open_lib(SONAME_AVUTIL);
	void *avcodec = avutil != NULL ? open_lib(SONAME_AVCODEC) : NULL;
	void *avformat = avcodec != NULL ? open_lib(SONAME_AVFORMAT) : NULL;
	if (avformat == NULL)
		goto fail;
	ss_ffmpeg t;
	memset(&t, 0, sizeof t);
#define SS_FFMPEG_RESOLVE(lib, fn)                                                                               \
	*(void **)(&t.fn) = dlsym(lib, #fn);                                                                       \
	if (t.fn == NULL) {                                                                                        \
		snprintf(load_error, sizeof load_error, "%s has no %s", SS_STR(lib), #fn);                        \
		goto fail;                                                                                         \
	}
	SS_FFMPEG_FUNCTIONS(SS_FFMPEG_RESOLVE)
#undef SS_FFMPEG_RESOLVE
	if (check_major(SONAME_AVUTIL, t.avutil_version(), LIBAVUTIL_VERSION_MAJOR) != 0 ||
	    check_major(SONAME_AVCODEC, t.avcodec_version(), LIBAVCODEC_VERSION_MAJOR) != 0 ||
	    check_major(SONAME_AVFORMAT, t.avformat_version(), LIBAVFORMAT_VERSION_MAJOR) != 0)
		goto fail;
	t.av_log_set_callback(silent_log);
	t.av_max_alloc(FFMPEG_MAX_ALLOC);
	api = t;
	loaded = true;
	return;
fail:
	/* The handles stay open (nothing was called through them that could need undoing): a failure is final. */
	if (failure_hook != NULL)
		failure_hook(load_error);
}

const ss_ffmpeg *ss_ffmpeg_load(ss_error *err)
{
	pthread_once(&load_once, load);
	if (loaded)
		return &api;
	ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA,
		     "AAC/M4A decoding is unavailable on this server (its FFmpeg libraries could not be loaded)");
	return NULL;
}

bool ss_ffmpeg_loaded(void)
{
	return loaded;
}

const char *ss_ffmpeg_load_error(void)
{
	return loaded ? "" : load_error;
}

void ss_ffmpeg_on_load_failure(void (*fn)(const char *reason))
{
	failure_hook = fn;
}

const char *ss_ffmpeg_sonames(void)
{
	return SONAME_AVUTIL " " SONAME_AVCODEC " " SONAME_AVFORMAT;
}
