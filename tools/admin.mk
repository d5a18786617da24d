# tools/admin: songscope-admin (API keys, usage, database check and migration).
bin_PROGRAMS += tools/songscope-admin
tools_songscope_admin_SOURCES = tools/songscope-admin.c
tools_songscope_admin_LDADD = $(CORE_LIBS)
