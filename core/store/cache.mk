# core/store: analysis cache, overrides, export, service counters
core_libsscore_a_SOURCES += \
	core/store/cache.c core/store/cache.h \
	core/store/overrides.c core/store/overrides.h \
	core/store/export.c core/store/export.h \
	core/store/render.c core/store/render.h \
	core/store/stats.c core/store/stats.h
