/* libsndfile decoder over an in-memory buffer (virtual I/O: no temporary file). */
#include "core/audio/decode.h"

#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
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
	sf_count_t limit;          /* no read starts at or after this frame (SF_COUNT_MAX: read to the end) */
	sf_count_t pos;            /* frames read so far (decoder thread's until joined) */
	int ended;                 /* a read returned nothing: the sequential path would stop there too */
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
			if (q->pos >= q->limit) { /* every read has the full size, so the limit ends the same blocks */
				end = 1;
				break;
			}
			float *at = q->buf + ((size_t)tail * READAHEAD_READS + (size_t)n) * q->block_len;
			sf_count_t got = sf_readf_float(q->sf, at, SNDFILE_BLOCK_FRAMES);
			if (got <= 0) {
				q->ended = 1;
				end = 1;
				break;
			}
			q->pos += got;
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

/* As decode_sequential with the decoding on a second thread, up to the first read that would start at or after
 * frame `limit` (SF_COUNT_MAX: to the end). Returns 1 without having read anything when the thread or its buffers
 * cannot be had (the caller then decodes sequentially), else 0 or -1 with err. On 0, *pos is the frames read from
 * sf, *ended is 1 when a read returned nothing (the sequential path stops there) and *done 1 when the sink asked
 * for no more. */
static int decode_threaded(SNDFILE *sf, int channels, ss_audio_sink *sink, sf_count_t limit, sf_count_t *pos,
			   int *ended, int *done, ss_error *err)
{
	readahead q;
	memset(&q, 0, sizeof q);
	q.sf = sf;
	q.limit = limit;
	*pos = 0;
	*ended = *done = 0;
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
			if (r != 0) {
				*done = 1;
				break;
			}
		}
		pthread_join(th, NULL);
		*pos = q.pos;
		*ended = q.ended;
	}
	pthread_cond_destroy(&q.freed);
	pthread_cond_destroy(&q.filled);
	pthread_mutex_destroy(&q.mu);
	free(q.buf);
	return rc;
}

/* Split decoding of a seekable lossless file: a second handle over the same bytes seeks to frame `from` (a multiple
 * of SNDFILE_BLOCK_FRAMES) and decodes [from, to) into a buffer on its own thread while the read-ahead thread
 * decodes [0, from) and the calling thread sinks it; then the sink takes the buffered blocks. Every block has the
 * size sequential reads give it (SNDFILE_BLOCK_FRAMES, the last one up to the end of the stream), so the sink sees
 * the same blocks in the same order. The buffered part is used only when both handles decoded their part with no
 * error reported and every read had its full size; otherwise the first handle, which stands exactly where the
 * sequential path would stand, goes on reading, and the buffered part is dropped. */
#define SPLIT_MIN_FRAMES ((sf_count_t)16 * SNDFILE_BLOCK_FRAMES) /* shorter: one handle (about 1.5 s at 44.1 kHz) */
#define SPLIT_MAX_BYTES ((sf_count_t)64 * 1024 * 1024) /* the buffered part's floats; beyond, the first part grows */
#define SPLIT_FIRST_NUM 1 /* share of the frames the first handle decodes: SPLIT_FIRST_NUM / SPLIT_FIRST_DEN */
#define SPLIT_FIRST_DEN 2

#ifdef SS_TEST_HOOKS
static atomic_ulong split_used, split_dropped;
static atomic_int split_fault;

void ss_audio_split_counts(unsigned long *used, unsigned long *dropped)
{
	*used = atomic_load(&split_used);
	*dropped = atomic_load(&split_dropped);
}

void ss_audio_split_fault(int step)
{
	atomic_store(&split_fault, step);
}
#define SPLIT_FAULT(step) (atomic_load(&split_fault) == (step))
#define SPLIT_COUNT(counter) atomic_fetch_add(&(counter), 1)
#else
#define SPLIT_FAULT(step) 0
#define SPLIT_COUNT(counter) ((void)0)
#endif

typedef struct second_part {
	membuf m;              /* the second handle's own read position over the same bytes */
	SF_INFO want;          /* what the first handle found: the second must find the same */
	sf_count_t from, to;   /* frames to decode: reads start at from, from + block, ... while below to */
	int channels;
	float *buf;            /* blocks * SNDFILE_BLOCK_FRAMES * channels floats */
	sf_count_t blocks;
	sf_count_t frames;     /* frames decoded into buf */
	int ok;                /* 1: [from, to) decoded in full-size reads with no error reported */
	atomic_int stop;       /* set by the sink's thread when the part will not be used */
} second_part;

/* The frames a sequential read of SNDFILE_BLOCK_FRAMES at `pos` gives in a stream of `total` frames. */
static sf_count_t full_read(sf_count_t pos, sf_count_t total)
{
	return total - pos < SNDFILE_BLOCK_FRAMES ? total - pos : SNDFILE_BLOCK_FRAMES;
}

static void *second_part_main(void *arg)
{
	second_part *p = arg;
	SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
	SF_INFO info;
	memset(&info, 0, sizeof info);
	SNDFILE *sf = SPLIT_FAULT(1) ? NULL : sf_open_virtual(&vio, SFM_READ, &info, &p->m);
	if (sf == NULL)
		return NULL;
	if (info.format != p->want.format || info.channels != p->want.channels ||
	    info.samplerate != p->want.samplerate || info.frames != p->want.frames || SPLIT_FAULT(2) ||
	    sf_seek(sf, p->from, SEEK_SET) != p->from) {
		sf_close(sf);
		return NULL;
	}
	sf_count_t pos = p->from;
	int ok = 1;
	for (sf_count_t k = 0; pos < p->to && ok; k++) {
		if (atomic_load_explicit(&p->stop, memory_order_relaxed)) {
			ok = 0;
			break;
		}
		sf_count_t want = full_read(pos, info.frames);
		sf_count_t got = sf_readf_float(sf, p->buf + (size_t)k * SNDFILE_BLOCK_FRAMES * (size_t)p->channels,
						SNDFILE_BLOCK_FRAMES);
		ok = got == want && sf_error(sf) == SF_ERR_NO_ERROR;
		pos += got > 0 ? got : 0;
	}
	p->frames = pos - p->from;
	p->ok = ok && sf_error(sf) == SF_ERR_NO_ERROR;
	sf_close(sf);
	return NULL;
}

/* Whether sf_seek lands on the exact frame and decoding from there gives the same samples as decoding through:
 * uncompressed PCM or float in WAV/AIFF, and native FLAC (libFLAC seeks to the sample). */
static int split_eligible(const SF_INFO *info)
{
	int major = info->format & SF_FORMAT_TYPEMASK, sub = info->format & SF_FORMAT_SUBMASK;
	if (!info->seekable)
		return 0;
	switch (major) {
	case SF_FORMAT_WAV:
	case SF_FORMAT_WAVEX:
	case SF_FORMAT_RF64:
	case SF_FORMAT_AIFF:
		return sub == SF_FORMAT_PCM_S8 || sub == SF_FORMAT_PCM_U8 || sub == SF_FORMAT_PCM_16 ||
		       sub == SF_FORMAT_PCM_24 || sub == SF_FORMAT_PCM_32 || sub == SF_FORMAT_FLOAT ||
		       sub == SF_FORMAT_DOUBLE;
	case SF_FORMAT_FLAC:
		return sub == SF_FORMAT_PCM_S8 || sub == SF_FORMAT_PCM_16 || sub == SF_FORMAT_PCM_24;
	default:
		return 0;
	}
}

/* Decode sf (opened over data[0..len) with info) through the sink in two parts (see above). Returns 1 without
 * having read anything when the split does not apply or cannot be set up (the caller decodes another way), else
 * 0 or -1 with err, exactly as decode_sequential would return. */
static int decode_split(const void *data, size_t len, SNDFILE *sf, const SF_INFO *info, const ss_audio_opts *o,
			ss_audio_sink *sink, ss_error *err)
{
	if (!split_eligible(info) || info->frames <= 0 || info->frames >= SF_COUNT_MAX / 4)
		return 1;
	/* the sink stops at max_in frames: reads past the block that reaches it are never used */
	double max_in = floor(o->max_seconds * (double)info->samplerate);
	sf_count_t to = (double)info->frames < max_in ? info->frames : (sf_count_t)max_in;
	if (to < SPLIT_MIN_FRAMES)
		return 1;
	const sf_count_t B = SNDFILE_BLOCK_FRAMES;
	sf_count_t from = to / SPLIT_FIRST_DEN * SPLIT_FIRST_NUM / B * B;
	sf_count_t cap = SPLIT_MAX_BYTES / ((sf_count_t)sizeof(float) * info->channels) / B * B;
	if (to - from > cap) /* bounded memory: the first handle takes the rest */
		from = (to - cap + B - 1) / B * B;
	assert(from > 0 && from % B == 0 && from < to);
	second_part *p = calloc(1, sizeof *p);
	if (p == NULL)
		return 1;
	p->m = (membuf){.data = data, .len = (sf_count_t)len, .pos = 0};
	p->want = *info;
	p->from = from;
	p->to = to;
	p->channels = info->channels;
	p->blocks = (to - from + B - 1) / B;
	atomic_init(&p->stop, 0);
	p->buf = SPLIT_FAULT(3) ? NULL : ss_bigmem_alloc((size_t)p->blocks * (size_t)B * (size_t)info->channels * sizeof(float));
	pthread_t th;
	if (p->buf == NULL || pthread_create(&th, NULL, second_part_main, p) != 0) {
		free(p->buf);
		free(p);
		return 1;
	}
	sf_count_t pos;
	int ended, done;
	int rc = decode_threaded(sf, info->channels, sink, from, &pos, &ended, &done, err);
	if (rc != 0 || ended || done)
		atomic_store(&p->stop, 1); /* the second part will not be used */
	pthread_join(th, NULL);
	if (rc == 0 && !ended && !done) {
		if (pos == from && p->ok && sf_error(sf) == SF_ERR_NO_ERROR) {
			SPLIT_COUNT(split_used);
			sf_count_t at = from;
			for (sf_count_t k = 0; k < p->blocks; k++) {
				sf_count_t n = full_read(at, info->frames);
				int r = ss_audio_sink_push(sink, p->buf + (size_t)k * (size_t)B * (size_t)info->channels,
							   (size_t)n, err);
				at += n;
				if (r < 0)
					rc = -1;
				if (r != 0)
					break;
			}
			/* Past `to` the sink has stopped, or the stream ended there; a sequential read would find the
			 * end too (libsndfile reads nothing at info->frames). */
		} else {
			SPLIT_COUNT(split_dropped);
			rc = decode_sequential(sf, info->channels, sink, err);
		}
	}
	free(p->buf);
	free(p);
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
	int rc = 1;
	if (o->threads > 1) {
		rc = decode_split(data, len, sf, &info, o, sink, err);
		if (rc > 0) {
			sf_count_t pos;
			int ended, done;
			rc = decode_threaded(sf, info.channels, sink, SF_COUNT_MAX, &pos, &ended, &done, err);
		}
	}
	if (rc > 0)
		rc = decode_sequential(sf, info.channels, sink, err);
	sf_close(sf);
	if (rc == 0)
		rc = ss_audio_sink_finish(sink, name, out, err);
	ss_audio_sink_free(sink);
	return rc;
}
