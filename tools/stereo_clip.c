#include "tools/stereo_clip.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "core/audio/decode.h"

#define STEREO_DELAY 6     /* samples at 44.1 kHz */
#define STEREO_RATE 44100.0

/* A growable in-memory file for libsndfile's virtual I/O (it seeks back to finish headers). */
typedef struct memfile {
	unsigned char *b;
	sf_count_t len, pos, cap;
	int failed;
} memfile;

static sf_count_t mf_len(void *u)
{
	return ((memfile *)u)->len;
}

static sf_count_t mf_seek(sf_count_t off, int whence, void *u)
{
	memfile *m = u;
	sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
	if (base + off < 0)
		return -1;
	m->pos = base + off;
	return m->pos;
}

static sf_count_t mf_read(void *ptr, sf_count_t count, void *u)
{
	memfile *m = u;
	if (count <= 0 || m->pos >= m->len)
		return 0;
	sf_count_t n = m->len - m->pos < count ? m->len - m->pos : count;
	memcpy(ptr, m->b + m->pos, (size_t)n);
	m->pos += n;
	return n;
}

static sf_count_t mf_write(const void *ptr, sf_count_t count, void *u)
{
	memfile *m = u;
	if (count <= 0)
		return 0;
	if (m->pos + count > m->cap) {
		sf_count_t cap = m->cap ? m->cap : 1 << 20;
		while (cap < m->pos + count)
			cap *= 2;
		unsigned char *nb = realloc(m->b, (size_t)cap);
		if (nb == NULL) {
			m->failed = 1;
			return 0;
		}
		m->b = nb;
		m->cap = cap;
	}
	if (m->pos > m->len) /* a seek past the end: the gap reads as zeros */
		memset(m->b + m->len, 0, (size_t)(m->pos - m->len));
	memcpy(m->b + m->pos, ptr, (size_t)count);
	m->pos += count;
	if (m->pos > m->len)
		m->len = m->pos;
	return count;
}

static sf_count_t mf_tell(void *u)
{
	return ((memfile *)u)->pos;
}

/* The libsndfile format that writes a container ss_audio names, and the rate it takes; 0 if none. */
static int format_for(const char *container, double *rate)
{
	*rate = STEREO_RATE;
	if (strcmp(container, "wav") == 0)
		return SF_FORMAT_WAV | SF_FORMAT_PCM_16;
	if (strcmp(container, "aiff") == 0)
		return SF_FORMAT_AIFF | SF_FORMAT_PCM_16;
	if (strcmp(container, "flac") == 0)
		return SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
	if (strcmp(container, "ogg/vorbis") == 0)
		return SF_FORMAT_OGG | SF_FORMAT_VORBIS;
	if (strcmp(container, "mp3") == 0)
		return SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
	if (strcmp(container, "ogg/opus") == 0) {
		*rate = 48000.0;
		return SF_FORMAT_OGG | SF_FORMAT_OPUS;
	}
	return 0;
}

unsigned char *tool_stereo_clip(const unsigned char *data, size_t len, double max_seconds, size_t *out_len,
				const char **why)
{
	*out_len = 0;
	ss_audio a;
	ss_audio_init(&a);
	ss_error err;
	ss_audio_opts probe = {.max_seconds = 1.0, .out_rate = STEREO_RATE};
	if (ss_audio_decode(data, len, &probe, &a, &err) != 0) {
		*why = "cannot decode the clip";
		return NULL;
	}
	double rate;
	int format = format_for(a.container, &rate);
	ss_audio_free(&a);
	if (format == 0) {
		*why = "no libsndfile encoder for this container";
		return NULL;
	}
	ss_audio_opts ao = {.max_seconds = max_seconds, .out_rate = rate};
	ss_audio_init(&a);
	if (ss_audio_decode(data, len, &ao, &a, &err) != 0) {
		*why = "cannot decode the clip";
		return NULL;
	}
	float *st = malloc(a.n * 2 * sizeof *st);
	if (st == NULL) {
		ss_audio_free(&a);
		*why = "out of memory";
		return NULL;
	}
	for (size_t i = 0; i < a.n; i++) {
		float d = i >= STEREO_DELAY ? a.x[i - STEREO_DELAY] : 0.0f;
		st[2 * i] = a.x[i];
		st[2 * i + 1] = 0.25f * a.x[i] + 0.65f * d;
	}
	memfile m = {0};
	SF_VIRTUAL_IO vio = {mf_len, mf_seek, mf_read, mf_write, mf_tell};
	SF_INFO info = {.samplerate = (int)rate, .channels = 2, .format = format};
	SNDFILE *sf = sf_open_virtual(&vio, SFM_WRITE, &info, &m);
	int ok = sf != NULL;
	if (ok)
		ok = sf_writef_float(sf, st, (sf_count_t)a.n) == (sf_count_t)a.n;
	if (sf != NULL && sf_close(sf) != 0)
		ok = 0;
	free(st);
	ss_audio_free(&a);
	if (!ok || m.failed || m.len == 0) {
		free(m.b);
		*why = "libsndfile could not encode the stereo clip";
		return NULL;
	}
	*out_len = (size_t)m.len;
	return m.b;
}
