# tools/admin: songscope-admin (API keys, usage, database check, migration and backup, import of an original
# server's database). One file per command group under tools/admin/.
bin_PROGRAMS += tools/songscope-admin
tools_songscope_admin_SOURCES = tools/songscope-admin.c tools/admin/admin.h \
	tools/admin/keys.c tools/admin/usage.c tools/admin/db.c tools/admin/state.c \
	tools/admin/legacy.c tools/admin/backup.c tools/admin/copy.c tools/admin/output.c
tools_songscope_admin_LDADD = $(CORE_LIBS)
