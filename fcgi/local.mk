sbin_PROGRAMS += fcgi/songscope.fcgi
fcgi_songscope_fcgi_SOURCES = fcgi/main.c
fcgi_songscope_fcgi_LDADD = $(CORE_LIBS) $(FCGI_LIBS)
