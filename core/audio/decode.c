#include "core/audio/decode.h"

#include <string.h>

#ifdef SS_HAVE_FFMPEG
#include "core/audio/ffmpeg_dl.h"
#endif

ss_audio_kind ss_audio_sniff(const void *data, size_t len)
{
	const unsigned char *b = data;
	if (len >= 12 && (memcmp(b, "RIFF", 4) == 0 || memcmp(b, "RF64", 4) == 0) && memcmp(b + 8, "WAVE", 4) == 0)
		return SS_AUDIO_KIND_SNDFILE;
	if (len >= 12 && memcmp(b, "FORM", 4) == 0 && (memcmp(b + 8, "AIFF", 4) == 0 || memcmp(b + 8, "AIFC", 4) == 0))
		return SS_AUDIO_KIND_SNDFILE;
	if (len >= 4 && (memcmp(b, "fLaC", 4) == 0 || memcmp(b, "OggS", 4) == 0))
		return SS_AUDIO_KIND_SNDFILE;
	if (len >= 12 && memcmp(b + 4, "ftyp", 4) == 0)
		return SS_AUDIO_KIND_MP4;
	if (len >= 3 && memcmp(b, "ID3", 3) == 0)
		return SS_AUDIO_KIND_SNDFILE;
	if (len >= 4 && b[0] == 0xFF && (b[1] & 0xE0) == 0xE0) {
		int layer = (b[1] >> 1) & 3;
		if (layer == 0 && (b[1] & 0xF0) == 0xF0)
			return SS_AUDIO_KIND_ADTS; /* ADTS: 12-bit sync, layer 00 */
		if (layer != 0 && ((b[1] >> 3) & 3) != 1 && (b[2] >> 4) != 0xF && ((b[2] >> 2) & 3) != 3)
			return SS_AUDIO_KIND_SNDFILE; /* MPEG audio frame: valid version, layer, bitrate, rate */
	}
	return SS_AUDIO_KIND_UNKNOWN;
}

const char *ss_audio_decoders(void)
{
#ifdef SS_HAVE_FFMPEG
	return "libsndfile (wav, aiff, flac, ogg/vorbis, ogg/opus, mp3), ffmpeg (m4a/aac, alac, adts aac; loaded when "
	       "needed)";
#else
	return "libsndfile (wav, aiff, flac, ogg/vorbis, ogg/opus, mp3)";
#endif
}

int ss_audio_ffmpeg_preload(ss_error *err)
{
#ifdef SS_HAVE_FFMPEG
	return ss_ffmpeg_load(err) != NULL ? 0 : -1;
#else
	return 1;
#endif
}

bool ss_audio_ffmpeg_loaded(void)
{
#ifdef SS_HAVE_FFMPEG
	return ss_ffmpeg_loaded();
#else
	return false;
#endif
}

const char *ss_audio_ffmpeg_load_error(void)
{
#ifdef SS_HAVE_FFMPEG
	return ss_ffmpeg_load_error();
#else
	return "";
#endif
}

void ss_audio_ffmpeg_on_load_failure(void (*fn)(const char *reason))
{
#ifdef SS_HAVE_FFMPEG
	ss_ffmpeg_on_load_failure(fn);
#else
	(void)fn;
#endif
}

int ss_audio_decode(const void *data, size_t len, const ss_audio_opts *o, ss_audio *out, ss_error *err)
{
	if (data == NULL || len == 0)
		return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA, "empty input is not audio");
	switch (ss_audio_sniff(data, len)) {
	case SS_AUDIO_KIND_SNDFILE:
		return ss_audio_decode_sndfile(data, len, o, out, err);
	case SS_AUDIO_KIND_MP4:
	case SS_AUDIO_KIND_ADTS:
#ifdef SS_HAVE_FFMPEG
		return ss_audio_decode_ffmpeg(data, len, o, out, err);
#else
		return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA,
				    "AAC/M4A is not supported by this build (compiled without FFmpeg)");
#endif
	case SS_AUDIO_KIND_UNKNOWN:
	default:
		break;
	}
	return ss_error_set(err, SS_ERR_UNSUPPORTED_MEDIA,
			    "not a supported audio format (WAV, AIFF, FLAC, Ogg Vorbis/Opus, MP3%s)",
#ifdef SS_HAVE_FFMPEG
			    ", AAC/M4A"
#else
			    ""
#endif
	);
}
