# core/auth: API key secrets (generation, hashing, display prefix) and the per-responder key cache.
core_libsscore_a_SOURCES += \
	core/auth/apikey.c core/auth/apikey.h \
	core/auth/keycache.c core/auth/keycache.h
