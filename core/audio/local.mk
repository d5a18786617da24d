# core/audio: decoding from memory (libsndfile virtual I/O, FFmpeg custom I/O; FFmpeg is dlopened on first use), downmix, soxr resampling,
# EBU R 128 loudness of the source.
core_libsscore_a_SOURCES += \
	core/audio/audio.c core/audio/audio.h \
	core/audio/decode.c core/audio/decode.h \
	core/audio/decode_sndfile.c \
	core/audio/loudness.c core/audio/loudness.h \
	core/audio/resample.c core/audio/resample.h \
	core/audio/sink.c core/audio/sink.h
if HAVE_FFMPEG
core_libsscore_a_SOURCES += core/audio/decode_ffmpeg.c core/audio/ffmpeg_dl.c core/audio/ffmpeg_dl.h
endif
