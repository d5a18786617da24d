# core/store: analysis cache, overrides, stats
