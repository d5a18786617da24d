# core/analysis/tempo: onset novelty, tempo, DP beat tracking, metre.
core_libsscore_a_SOURCES += \
	core/analysis/onset.c core/analysis/onset.h \
	core/analysis/beats.c core/analysis/beats.h \
	core/analysis/meter.c core/analysis/meter.h \
	core/analysis/chord_change.c core/analysis/chord_change.h \
	core/analysis/tempo.c
