# The PostgreSQL store backend (store = postgresql): the only code that includes libpq-fe.h. Built when configure
# finds libpq (--with-postgresql).
if HAVE_LIBPQ
core_libsscore_a_SOURCES += \
	core/store/postgresql/pg_conn.c core/store/postgresql/pg_conn.h \
	core/store/postgresql/pg_schema.c core/store/postgresql/pg_schema.h \
	core/store/postgresql/pg_store.c core/store/postgresql/pg_store.h \
	core/store/postgresql/pg_cache.c core/store/postgresql/pg_keys.c
endif
