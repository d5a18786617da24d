/* libsndfile decoder over an in-memory buffer (virtual I/O: no temporary file). */
#include "core/audio/decode.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "core/audio/sink.h"
#include "core/util/bigmem.h"

#define SNDFILE_BLOCK_FRAMES 4096
#define READAHEAD_SLOTS 4 /* slots the decoder thread may be ahead of the sink */
#define READAHEAD_READS 16 /* reads of SNDFILE_BLOCK_FRAMES per slot: one hand-over (a wake-up of the other thread,
			     * costly between the vCPUs of a virtual machine) per 16 blocks, not per block */

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

/* Read blocks until the decoder or the sink stops, pushing each into the sink. The header's frame count is never
 * trusted. Returns 0 or -1 with err. */
static int decode_sequential(SNDFILE *sf, int channels, ss_audio_sink *sink, ss_error *err)
{
	float *block = malloc((size_t)SNDFILE_BLOCK_FRAMES * (size_t)channels * sizeof *block);
	if (block == NULL)
		return ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
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
	return rc;
}

/* Read-ahead: a decoder thread fills a ring of READAHEAD_SLOTS slots, each with up to READAHEAD_READS blocks read
 * by sf_readf_float, while the calling thread pushes the blocks into the sink in the same order, so the sink sees
 * exactly the blocks decode_sequential would give it (a few more may be decoded and dropped when the sink stops
 * early). The decoder thread owns sf until it is joined; the ring is guarded by mu. */
typedef struct readahead {
	pthread_mutex_t mu;
	pthread_cond_t filled, freed;
	SNDFILE *sf;
	size_t block_len;          /* floats per block */
	float *buf;                /* READAHEAD_SLOTS * READAHEAD_READS * block_len */
	sf_count_t got[READAHEAD_SLOTS][READAHEAD_READS]; /* frames of each block read into a slot */
	int reads[READAHEAD_SLOTS];                        /* blocks in a slot (1..READAHEAD_READS) */
	size_t head, count;        /* oldest filled slot, filled slots (guarded by mu) */
	int eof;                   /* the decoder has stopped: no slot after the filled ones (guarded by mu) */
	int stop;                  /* the sink wants no more (guarded by mu) */
} readahead;

static void *readahead_main(void *arg)
{
	readahead *q = arg;
	size_t tail = 0;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (q->count == READAHEAD_SLOTS && !q->stop)
			pthread_cond_wait(&q->freed, &q->mu);
		int stop = q->stop;
		pthread_mutex_unlock(&q->mu);
		if (stop)
			break;
		/* slot tail is not visible to the reader until count says so */
		int n = 0, end = 0;
		while (n < READAHEAD_READS) {
			float *at = q->buf + ((size_t)tail * READAHEAD_READS + (size_t)n) * q->block_len;
			sf_count_t got = sf_readf_float(q->sf, at, SNDFILE_BLOCK_FRAMES);
			if (got <= 0) {
				end = 1;
				break;
			}
			q->got[tail][n++] = got;
		}
		pthread_mutex_lock(&q->mu);
		if (n > 0) {
			q->reads[tail] = n;
			q->count++;
		}
		if (end)
			q->eof = 1;
		pthread_cond_signal(&q->filled);
		pthread_mutex_unlock(&q->mu);
		if (end)
			break;
		tail = (tail + 1) % READAHEAD_SLOTS;
	}
	pthread_mutex_lock(&q->mu);
	q->eof = 1;
	pthread_cond_signal(&q->filled);
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

/* As decode_sequential with the decoding on a second thread. Returns 1 without having read anything when the
 * thread or its buffers cannot be had (the caller then decodes sequentially), else 0 or -1 with err. */
static int decode_threaded(SNDFILE *sf, int channels, ss_audio_sink *sink, ss_error *err)
{
	readahead q;
	memset(&q, 0, sizeof q);
	q.sf = sf;
	q.block_len = (size_t)SNDFILE_BLOCK_FRAMES * (size_t)channels;
	q.buf = ss_bigmem_alloc((size_t)READAHEAD_SLOTS * READAHEAD_READS * q.block_len * sizeof *q.buf);
	if (q.buf == NULL)
		return 1;
	if (pthread_mutex_init(&q.mu, NULL) != 0) {
		free(q.buf);
		return 1;
	}
	if (pthread_cond_init(&q.filled, NULL) != 0) {
		pthread_mutex_destroy(&q.mu);
		free(q.buf);
		return 1;
	}
	if (pthread_cond_init(&q.freed, NULL) != 0) {
		pthread_cond_destroy(&q.filled);
		pthread_mutex_destroy(&q.mu);
		free(q.buf);
		return 1;
	}
	pthread_t th;
	int rc = 1;
	if (pthread_create(&th, NULL, readahead_main, &q) == 0) {
		rc = 0;
		for (;;) {
			pthread_mutex_lock(&q.mu);
			while (q.count == 0 && !q.eof)
				pthread_cond_wait(&q.filled, &q.mu);
			if (q.count == 0) { /* eof and drained */
				pthread_mutex_unlock(&q.mu);
				break;
			}
			size_t slot = q.head;
			int reads = q.reads[slot];
			pthread_mutex_unlock(&q.mu);
			int r = 0;
			for (int k = 0; k < reads && r == 0; k++)
				r = ss_audio_sink_push(sink, q.buf + (slot * READAHEAD_READS + (size_t)k) * q.block_len,
						       (size_t)q.got[slot][k], err);
			pthread_mutex_lock(&q.mu);
			q.head = (q.head + 1) % READAHEAD_SLOTS;
			q.count--;
			if (r != 0)
				q.stop = 1;
			pthread_cond_signal(&q.freed);
			pthread_mutex_unlock(&q.mu);
			if (r < 0)
				rc = -1;
			if (r != 0)
				break;
		}
		pthread_join(th, NULL);
	}
	pthread_cond_destroy(&q.freed);
	pthread_cond_destroy(&q.filled);
	pthread_mutex_destroy(&q.mu);
	free(q.buf);
	return rc;
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
	int rc = (o->threads > 1 ? decode_threaded(sf, info.channels, sink, err) : 1);
	if (rc > 0)
		rc = decode_sequential(sf, info.channels, sink, err);
	sf_close(sf);
	if (rc == 0)
		rc = ss_audio_sink_finish(sink, name, out, err);
	ss_audio_sink_free(sink);
	return rc;
}
