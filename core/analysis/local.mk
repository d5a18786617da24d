# core/analysis: shared pieces here; pipeline.mk (pipeline and descriptors), tempo.mk and key.mk add theirs.
core_libsscore_a_SOURCES += \
	core/analysis/result.c core/analysis/result.h \
	core/analysis/result_json.h \
	core/analysis/pipeline.h \
	core/analysis/stft.c core/analysis/stft.h \
	core/analysis/signal.c core/analysis/signal.h \
	core/analysis/tempo.h core/analysis/key.h
include core/analysis/pipeline.mk
include core/analysis/tempo.mk
include core/analysis/key.mk
include core/analysis/content.mk
