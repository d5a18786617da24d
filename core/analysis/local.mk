core_libsscore_a_SOURCES += \
	core/analysis/result.c core/analysis/result.h \
	core/analysis/result_json.h \
	core/analysis/pipeline.h
