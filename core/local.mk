# core/: one fragment per concern; each appends to core_libsscore_a_SOURCES.
include core/util/local.mk
include core/config/local.mk
include core/audio/local.mk
include core/analysis/local.mk
include core/store/local.mk
include core/limits/local.mk
include core/net/local.mk
include core/auth/local.mk
include core/song/local.mk
