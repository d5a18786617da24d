# core/store/store.h: the interface every caller uses; backend.h: what each backend implements.
core_libsscore_a_SOURCES += core/store/store.h core/store/backend.h
core_libsscore_a_SOURCES += \
	core/store/db.c core/store/db.h \
	core/store/schema.c core/store/schema.h \
	core/store/legacy.c core/store/legacy.h
# cache.mk: analysis cache, overrides and stats; keys.mk: API keys and usage.
include core/store/cache.mk
include core/store/keys.mk
include core/store/postgresql/local.mk
