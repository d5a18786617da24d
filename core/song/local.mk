# core/song: the "analyse a song" flow (cache, de-duplication, download, admission, analysis, store).
core_libsscore_a_SOURCES += core/song/song.c core/song/song.h
