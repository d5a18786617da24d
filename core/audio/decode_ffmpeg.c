/* FFmpeg decoder for MP4/M4A (AAC, ALAC) and ADTS AAC over an in-memory buffer (custom AVIOContext). Only the
 * "mov" and "aac" demuxers and the AAC/ALAC decoders are allowed, whatever the bytes claim to be. FFmpeg is
 * called through the table ffmpeg_dl.c loads on first use (`ff->name` is FFmpeg's `name`), so no program
 * links it. */
#include "core/audio/decode.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/audio/ffmpeg_dl.h"
#include "core/audio/sink.h"

#define AVIO_BUF_SIZE 32768
#define MAX_FRAME_SAMPLES 65536 /* per channel per decoded frame; AAC uses 1024/2048, ALAC at most 4096*... */
#define MAX_DECODE_ERRORS 64    /* packets the decoder may reject before the stream counts as corrupt */

#if LIBAVUTIL_VERSION_INT >= AV_VERSION_INT(57, 24, 100)
#define SS_CH_COUNT(x) ((x)->ch_layout.nb_channels)
#else
#define SS_CH_COUNT(x) ((x)->channels)
#endif

typedef struct membuf {
	const uint8_t *data;
	int64_t len, pos;
} membuf;

static int io_read(void *opaque, uint8_t *buf, int size)
{
	membuf *m = opaque;
	if (m->pos >= m->len)
		return AVERROR_EOF;
	int64_t n = m->len - m->pos;
	if (n > size)
		n = size;
	memcpy(buf, m->data + m->pos, (size_t)n);
	m->pos += n;
	return (int)n;
}

static int64_t io_seek(void *opaque, int64_t off, int whence)
{
	membuf *m = opaque;
	if (whence & AVSEEK_SIZE)
		return m->len;
	int64_t base;
	switch (whence & ~AVSEEK_FORCE) {
	case SEEK_SET: base = 0; break;
	case SEEK_CUR: base = m->pos; break;
	case SEEK_END: base = m->len; break;
	default: return AVERROR(EINVAL);
	}
	if ((off > 0 && base > m->len - off) || base + off < 0)
		return AVERROR(EINVAL);
	m->pos = base + off;
	return m->pos;
}

/* Convert one decoded frame to interleaved float in dst (nb_samples * ch floats). Returns 0 or -1 for a
 * sample format we do not handle. */
static int to_interleaved(const AVFrame *f, int ch, float *dst)
{
	const int n = f->nb_samples;
	switch (f->format) {
	case AV_SAMPLE_FMT_FLTP:
		if (ch == 2) { /* stereo AAC, the usual preview: both planes in one sequential pass */
			const float *l = (const float *)f->extended_data[0], *r = (const float *)f->extended_data[1];
			for (int i = 0; i < n; i++) {
				dst[2 * (size_t)i] = l[i];
				dst[2 * (size_t)i + 1] = r[i];
			}
			return 0;
		}
		for (int c = 0; c < ch; c++) {
			const float *s = (const float *)f->extended_data[c];
			for (int i = 0; i < n; i++)
				dst[(size_t)i * ch + c] = s[i];
		}
		return 0;
	case AV_SAMPLE_FMT_FLT:
		memcpy(dst, f->extended_data[0], (size_t)n * (size_t)ch * sizeof *dst);
		return 0;
	case AV_SAMPLE_FMT_S16P:
		for (int c = 0; c < ch; c++) {
			const int16_t *s = (const int16_t *)f->extended_data[c];
			for (int i = 0; i < n; i++)
				dst[(size_t)i * ch + c] = (float)s[i] * (1.0f / 32768.0f);
		}
		return 0;
	case AV_SAMPLE_FMT_S16: {
		const int16_t *s = (const int16_t *)f->extended_data[0];
		for (size_t i = 0; i < (size_t)n * (size_t)ch; i++)
			dst[i] = (float)s[i] * (1.0f / 32768.0f);
		return 0;
	}
	case AV_SAMPLE_FMT_S32P:
		for (int c = 0; c < ch; c++) {
			const int32_t *s = (const int32_t *)f->extended_data[c];
			for (int i = 0; i < n; i++)
				dst[(size_t)i * ch + c] = (float)((double)s[i] * (1.0 / 2147483648.0));
		}
		return 0;
	case AV_SAMPLE_FMT_S32: {
		const int32_t *s = (const int32_t *)f->extended_data[0];
		for (size_t i = 0; i < (size_t)n * (size_t)ch; i++)
			dst[i] = (float)((double)s[i] * (1.0 / 2147483648.0));
		return 0;
	}
	case AV_SAMPLE_FMT_DBLP:
		for (int c = 0; c < ch; c++) {
			const double *s = (const double *)f->extended_data[c];
			for (int i = 0; i < n; i++)
				dst[(size_t)i * ch + c] = (float)s[i];
		}
		return 0;
	case AV_SAMPLE_FMT_DBL: {
		const double *s = (const double *)f->extended_data[0];
		for (size_t i = 0; i < (size_t)n * (size_t)ch; i++)
			dst[i] = (float)s[i];
		return 0;
	}
	default:
		return -1;
	}
}

typedef struct dec_state {
	const ss_ffmpeg *ff;
	AVCodecContext *cc;
	AVFrame *frame;
	ss_audio_sink *sink;
	float *scratch;
	size_t scratch_cap; /* floats */
	int channels, rate;
	int done; /* sink is full or the stream changed format */
	const ss_audio_opts *o;
} dec_state;

/* Drain decoded frames into the sink. Returns 0 or -1 with err. */
static int drain(dec_state *d, ss_error *err)
{
	const ss_ffmpeg *ff = d->ff;
	for (;;) {
		int r = ff->avcodec_receive_frame(d->cc, d->frame);
		if (r == AVERROR(EAGAIN) || r == AVERROR_EOF)
			return 0;
		if (r < 0)
			return 0; /* a decode error on this frame; counted by the caller through send errors */
		const AVFrame *f = d->frame;
		int ch = SS_CH_COUNT(f);
		if (d->done || f->nb_samples <= 0) {
			ff->av_frame_unref(d->frame);
			continue;
		}
		if (d->sink == NULL) {
			d->channels = ch;
			d->rate = f->sample_rate;
			d->sink = ss_audio_sink_new(ch, (double)f->sample_rate, d->o, err);
			if (d->sink == NULL) {
				ff->av_frame_unref(d->frame);
				return -1;
			}
		} else if (ch != d->channels || f->sample_rate != d->rate) {
			d->done = 1; /* the stream changed format mid-way: analyse what came before */
			ff->av_frame_unref(d->frame);
			continue;
		}
		if (f->nb_samples > MAX_FRAME_SAMPLES) {
			ff->av_frame_unref(d->frame);
			return ss_error_set(err, SS_ERR_UNPROCESSABLE, "the AAC stream is corrupt (oversized frame)");
		}
		size_t need = (size_t)f->nb_samples * (size_t)ch;
		if (need > d->scratch_cap) {
			float *p = realloc(d->scratch, need * sizeof *p);
			if (p == NULL) {
				ff->av_frame_unref(d->frame);
				return ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
			}
			d->scratch = p;
			d->scratch_cap = need;
		}
		if (to_interleaved(f, ch, d->scratch) != 0) {
			ff->av_frame_unref(d->frame);
			return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "unsupported decoded sample format");
		}
		int s = ss_audio_sink_push(d->sink, d->scratch, (size_t)f->nb_samples, err);
		ff->av_frame_unref(d->frame);
		if (s < 0)
			return -1;
		if (s > 0)
			d->done = 1;
	}
}

int ss_audio_decode_ffmpeg(const void *data, size_t len, const ss_audio_opts *o, ss_audio *out, ss_error *err)
{
	if (len > (size_t)INT64_MAX / 2)
		return ss_error_set(err, SS_ERR_TOO_LARGE, "input too large");
	const ss_ffmpeg *ff = ss_ffmpeg_load(err);
	if (ff == NULL)
		return -1;

	membuf m = {.data = data, .len = (int64_t)len, .pos = 0};
	AVFormatContext *fmt = NULL;
	AVIOContext *avio = NULL;
	AVPacket *pkt = NULL;
	AVDictionary *opts = NULL;
	dec_state d;
	memset(&d, 0, sizeof d);
	d.ff = ff;
	d.o = o;
	int rc = -1;

	uint8_t *iobuf = ff->av_malloc(AVIO_BUF_SIZE);
	if (iobuf == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
		goto out;
	}
	avio = ff->avio_alloc_context(iobuf, AVIO_BUF_SIZE, 0, &m, io_read, NULL, io_seek);
	if (avio == NULL) {
		ff->av_free(iobuf);
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
		goto out;
	}
	fmt = ff->avformat_alloc_context();
	if (fmt == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
		goto out;
	}
	fmt->pb = avio;
	fmt->flags |= AVFMT_FLAG_CUSTOM_IO;
	if (ff->av_dict_set(&opts, "format_whitelist", "mov,aac", 0) < 0 ||
	    ff->av_dict_set(&opts, "codec_whitelist", "aac,aac_fixed,alac", 0) < 0 ||
	    ff->av_dict_set(&opts, "max_streams", "16", 0) < 0) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
		goto out;
	}
	if (ff->avformat_open_input(&fmt, NULL, NULL, &opts) < 0) {
		/* avformat_open_input frees fmt on failure */
		fmt = NULL;
		/* the bytes looked like MP4 or ADTS (see ss_audio_sniff), so this is a damaged file */
		ss_error_set(err, SS_ERR_UNPROCESSABLE, "the MP4/M4A or AAC file is corrupt or truncated");
		goto out;
	}
	/* No avformat_find_stream_info: the mov and aac demuxers know the codec from the headers, the decoder
	 * reads its own configuration, and the sink takes rate and channels from the first decoded frame. Probing
	 * would decode and buffer packets a second time (time and megabytes for nothing). */
	if (fmt->nb_streams == 0) {
		ss_error_set(err, SS_ERR_UNPROCESSABLE, "the MP4/AAC file holds no stream");
		goto out;
	}
	/* The first audio stream (av_find_best_stream would want probed parameters). */
	int si = -1;
	for (unsigned i = 0; i < fmt->nb_streams && si < 0; i++)
		if (fmt->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_AUDIO)
			si = (int)i;
	if (si < 0) {
		ss_error_set(err, SS_ERR_UNPROCESSABLE, "the file holds no audio stream");
		goto out;
	}
	AVCodecParameters *par = fmt->streams[si]->codecpar;
	if (par->codec_id != AV_CODEC_ID_AAC && par->codec_id != AV_CODEC_ID_ALAC) {
		ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "unsupported codec in MP4 (only AAC and ALAC)");
		goto out;
	}
	int pch = SS_CH_COUNT(par);
	if (pch > SS_AUDIO_MAX_CHANNELS || (par->sample_rate != 0 &&
					    (par->sample_rate < SS_AUDIO_MIN_RATE || par->sample_rate > SS_AUDIO_MAX_RATE))) {
		ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "unsupported channel count or sample rate");
		goto out;
	}
	const AVCodec *codec = ff->avcodec_find_decoder(par->codec_id);
	if (codec == NULL) {
		ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "no decoder for this codec");
		goto out;
	}
	d.cc = ff->avcodec_alloc_context3(codec);
	d.frame = ff->av_frame_alloc();
	pkt = ff->av_packet_alloc();
	if (d.cc == NULL || d.frame == NULL || pkt == NULL) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
		goto out;
	}
	if (ff->avcodec_parameters_to_context(d.cc, par) < 0) {
		ss_error_set(err, SS_ERR_NOMEM, "out of memory for decoding");
		goto out;
	}
	d.cc->thread_count = 1; /* deterministic and within one analysis's CPU share */
	if (ff->avcodec_open2(d.cc, codec, NULL) < 0) {
		ss_error_set(err, SS_ERR_UNPROCESSABLE, "cannot open the audio decoder (corrupt codec setup)");
		goto out;
	}

	int errors = 0;
	while (!d.done) {
		int r = ff->av_read_frame(fmt, pkt);
		if (r < 0)
			break; /* end of file, or truncated: analyse what was decoded */
		if (pkt->stream_index == si) {
			if (ff->avcodec_send_packet(d.cc, pkt) < 0 && ++errors > MAX_DECODE_ERRORS) {
				ff->av_packet_unref(pkt);
				ss_error_set(err, SS_ERR_UNPROCESSABLE, "the audio stream is corrupt");
				goto out;
			}
			if (drain(&d, err) != 0) {
				ff->av_packet_unref(pkt);
				goto out;
			}
		}
		ff->av_packet_unref(pkt);
	}
	if (!d.done) {
		ff->avcodec_send_packet(d.cc, NULL);
		if (drain(&d, err) != 0)
			goto out;
	}
	if (d.sink == NULL) {
		ss_error_set(err, SS_ERR_UNPROCESSABLE, "no audio could be decoded");
		goto out;
	}
	rc = ss_audio_sink_finish(d.sink, par->codec_id == AV_CODEC_ID_ALAC ? "m4a/alac"
					  : strcmp(fmt->iformat->name, "aac") == 0 ? "aac" : "m4a/aac",
				  out, err);
out:
	ff->av_dict_free(&opts);
	ff->av_packet_free(&pkt);
	ff->av_frame_free(&d.frame);
	ff->avcodec_free_context(&d.cc);
	ss_audio_sink_free(d.sink);
	free(d.scratch);
	ff->avformat_close_input(&fmt);
	if (avio != NULL) {
		ff->av_freep(&avio->buffer);
		ff->avio_context_free(&avio);
	}
	return rc;
}
