# core/limits: the shared-memory file (shm: mapping, robust lock, repair) and the tables in it (state: per-key GCRA limiter and daily quota, per-address failed-key limiter,
# key-change generation, named counters, live responders).
core_libsscore_a_SOURCES += core/limits/shm.c core/limits/shm.h core/limits/state.c core/limits/state.h
