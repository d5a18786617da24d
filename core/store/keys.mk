# core/store: API keys (api_keys) and their usage (api_usage).
core_libsscore_a_SOURCES += \
	core/store/keys.c core/store/keys.h \
	core/store/usage.c core/store/usage.h
