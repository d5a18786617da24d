core_libsscore_a_SOURCES += core/config/config.c core/config/config.h
