# Speech, voice and audience features and the speechiness, instrumentalness and liveness scores (content.h).
core_libsscore_a_SOURCES += core/analysis/content.c core/analysis/content.h
