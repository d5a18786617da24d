# core/store: store.h is the interface every caller uses, backend.h what each backend implements; store.c
# dispatches. The rest of this folder is backend-independent (cache names, key rules, usage batches and
# journals, the service counters file).
core_libsscore_a_SOURCES += \
	core/store/store.c core/store/store.h core/store/backend.h \
	core/store/cache.c core/store/cache.h \
	core/store/keys.c \
	core/store/usage.c core/store/usage.h \
	core/store/usage_journal.c core/store/usage_journal.h \
	core/store/stats.c core/store/stats.h \
	core/store/copy.c core/store/copy.h
# core/store/sqlite: the SQLite backend (the only place, with the tools that read an SQLite file on purpose,
# that includes sqlite3.h), and the reader of the original server's database (import-legacy).
core_libsscore_a_SOURCES += \
	core/store/sqlite/sqlite.h core/store/sqlite/backend.c \
	core/store/sqlite/db.c core/store/sqlite/db.h \
	core/store/sqlite/schema.c core/store/sqlite/schema.h \
	core/store/sqlite/cache.c core/store/sqlite/export.c core/store/sqlite/overrides.c \
	core/store/sqlite/keys.c core/store/sqlite/usage.c core/store/sqlite/stats.c \
	core/store/sqlite/legacy.c core/store/sqlite/legacy.h
# core/store/postgresql: the PostgreSQL backend (the only place that includes libpq-fe.h).
include core/store/postgresql/local.mk
