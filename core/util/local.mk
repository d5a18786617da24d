core_libsscore_a_SOURCES += \
	core/util/error.c core/util/error.h \
	core/util/buf.c core/util/buf.h \
	core/util/bigmem.c core/util/bigmem.h \
	core/util/strnum.c core/util/strnum.h \
	core/util/log.c core/util/log.h \
	core/util/timefmt.c core/util/timefmt.h \
	core/util/jsonutil.c core/util/jsonutil.h \
	core/util/base62.c core/util/base62.h \
	core/util/render.c core/util/render.h \
	core/util/utf8.c core/util/utf8.h \
	core/util/mapguard.c core/util/mapguard.h
