core_libsscore_a_SOURCES += \
	core/store/db.c core/store/db.h \
	core/store/schema.c core/store/schema.h
