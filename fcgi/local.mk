# fcgi/: the responder. Its pieces are a small library so the Check suites can link them.
noinst_LIBRARIES += fcgi/libssfcgi.a
fcgi_libssfcgi_a_SOURCES = \
	fcgi/context.h fcgi/setup.c fcgi/setup.h \
	fcgi/request.c fcgi/request.h \
	fcgi/response.c fcgi/response.h \
	fcgi/router.c fcgi/router.h \
	fcgi/cors.c fcgi/cors.h \
	fcgi/routes.c fcgi/handlers.h \
	fcgi/present.c fcgi/present.h \
	fcgi/spotify.c fcgi/spotify.h \
	fcgi/auth.c fcgi/auth.h \
	fcgi/responder.c fcgi/responder.h \
	fcgi/master.c fcgi/master.h \
	fcgi/listen.c fcgi/listen.h \
	fcgi/privileges.c fcgi/privileges.h \
	fcgi/datadir.c fcgi/datadir.h \
	fcgi/notify.c fcgi/notify.h \
	fcgi/shared_counters.c fcgi/shared_counters.h \
	fcgi/handlers/health.c \
	fcgi/handlers/common.c \
	fcgi/handlers/analyze.c \
	fcgi/handlers/audio_features.c \
	fcgi/handlers/cache.c \
	fcgi/handlers/verify.c \
	fcgi/handlers/service.c \
	fcgi/handlers/auth_info.c \
	fcgi/handlers/keys.c \
	fcgi/handlers/ui.c
FCGI_APP_LIBS = fcgi/libssfcgi.a $(CORE_LIBS) $(FCGI_LIBS)

sbin_PROGRAMS += fcgi/songscope.fcgi
fcgi_songscope_fcgi_SOURCES = fcgi/main.c
fcgi_songscope_fcgi_LDADD = $(FCGI_APP_LIBS)
