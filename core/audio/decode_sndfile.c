/* libsndfile decoder over an in-memory buffer (virtual I/O: no temporary file). */
#include "core/audio/decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "core/audio/sink.h"

#define SNDFILE_BLOCK_FRAMES 4096

typedef struct membuf {
	const unsigned char *data;
	sf_count_t len, pos;
} membuf;

static sf_count_t vio_len(void *u)
{
	return ((membuf *)u)->len;
}

static sf_count_t vio_seek(sf_count_t off, int whence, void *u)
{
	membuf *m = u;
	sf_count_t base;
	switch (whence) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = m->pos; break;
	case SEEK_END: base = m->len; break;
	default: return -1;
	}
	if ((off > 0 && base > m->len - off) || base + off < 0)
		return -1;
	m->pos = base + off;
	return m->pos;
}

static sf_count_t vio_read(void *ptr, sf_count_t count, void *u)
{
	membuf *m = u;
	if (count <= 0 || m->pos >= m->len)
		return 0;
	sf_count_t n = m->len - m->pos;
	if (n > count)
		n = count;
	memcpy(ptr, m->data + m->pos, (size_t)n);
	m->pos += n;
	return n;
}

static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u)
{
	return 0; /* read-only */
}

static sf_count_t vio_tell(void *u)
{
	return ((membuf *)u)->pos;
}

/* The containers we accept from libsndfile, and their names. Anything else it might recognise is refused
 * before a sample is decoded. */
static const char *container_name(int format)
{
	int major = format & SF_FORMAT_TYPEMASK, sub = format & SF_FORMAT_SUBMASK;
	switch (major) {
	case SF_FORMAT_WAV:
	case SF_FORMAT_WAVEX:
	case SF_FORMAT_RF64:
		return "wav";
	case SF_FORMAT_AIFF:
		return "aiff";
	case SF_FORMAT_FLAC:
		return "flac";
	case SF_FORMAT_OGG:
		if (sub == SF_FORMAT_VORBIS)
			return "ogg/vorbis";
		if (sub == SF_FORMAT_OPUS)
			return "ogg/opus";
		if (sub == SF_FORMAT_FLAC)
			return "ogg/flac";
		return NULL;
	case SF_FORMAT_MPEG:
		return "mp3";
	default:
		return NULL;
	}
}

int ss_audio_decode_sndfile(const void *data, size_t len, const ss_audio_opts *o, ss_audio *out, ss_error *err)
{
	if (len > (size_t)INT64_MAX / 2)
		return ss_error_set(err, SS_ERR_TOO_LARGE, "input too large");
	membuf m = {.data = data, .len = (sf_count_t)len, .pos = 0};
	SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
	SF_INFO info;
	memset(&info, 0, sizeof info);
	SNDFILE *sf = sf_open_virtual(&vio, SFM_READ, &info, &m);
	if (sf == NULL) {
		int e = sf_error(NULL);
		if (e == SF_ERR_MALFORMED_FILE)
			return ss_error_set(err, SS_ERR_UNPROCESSABLE, "the audio file is corrupt or truncated");
		return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "unsupported or unrecognised audio encoding");
	}
	const char *name = container_name(info.format);
	if (name == NULL) {
		sf_close(sf);
		return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "unsupported audio container or encoding");
	}
	ss_audio_sink *sink = ss_audio_sink_new(info.channels, (double)info.samplerate, o, err);
	if (sink == NULL) {
		sf_close(sf);
		return -1;
	}
	/* The header's frame count is never trusted: read blocks until the decoder or the sink stops. */
	float *block = malloc((size_t)SNDFILE_BLOCK_FRAMES * (size_t)info.channels * sizeof *block);
	if (block == NULL) {
		ss_audio_sink_free(sink);
		sf_close(sf);
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
	}
	int rc = 0;
	for (;;) {
		sf_count_t got = sf_readf_float(sf, block, SNDFILE_BLOCK_FRAMES);
		if (got <= 0)
			break;
		int r = ss_audio_sink_push(sink, block, (size_t)got, err);
		if (r < 0) {
			rc = -1;
			break;
		}
		if (r > 0)
			break;
	}
	free(block);
	sf_close(sf);
	if (rc == 0)
		rc = ss_audio_sink_finish(sink, name, out, err);
	ss_audio_sink_free(sink);
	return rc;
}
