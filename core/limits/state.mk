# core/limits: the shared-memory file (shm: mapping, robust lock, repair) and the tables in it (state: per-key
# GCRA limiter and daily quota, per-address failed-key limiter, key-change generation, named counters, live
# responders); the limiter interface (limiter.h) with its backends: local (the state file) and redis (hiredis).
core_libsscore_a_SOURCES += core/limits/shm.c core/limits/shm.h core/limits/state.c core/limits/state.h \
	core/limits/limiter.c core/limits/limiter.h core/limits/limiter_backend.h core/limits/local_limiter.c \
	core/limits/redis_limiter.c
