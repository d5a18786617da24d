# core/analysis/pipeline: the pipeline, the descriptors it computes itself and the result encoder.
core_libsscore_a_SOURCES += \
	core/analysis/pipeline.c \
	core/analysis/result_json.c \
	core/analysis/descriptors.c core/analysis/descriptors.h \
	core/analysis/frames.c core/analysis/frames.h \
	core/analysis/segments.c core/analysis/segments.h \
	core/analysis/sections.c core/analysis/sections.h \
	core/analysis/hpss.c core/analysis/hpss.h \
	core/analysis/mood.c core/analysis/mood.h
