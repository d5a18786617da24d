# core/analysis/key: key detection (tuning, chroma, key profiles).
core_libsscore_a_SOURCES += \
	core/analysis/key.c \
	core/analysis/key_profiles.c core/analysis/key_profiles.h \
	core/analysis/chroma.c core/analysis/chroma.h \
	core/analysis/tuning.c core/analysis/tuning.h
