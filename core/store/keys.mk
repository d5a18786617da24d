# core/store: API keys (api_keys), their usage (api_usage) and the per-responder usage journals.
core_libsscore_a_SOURCES += \
	core/store/keys.c core/store/keys.h \
	core/store/usage.c core/store/usage.h \
	core/store/usage_journal.c core/store/usage_journal.h
