# core/limits: shared state file (per-key GCRA limiter and daily quota, per-address failed-key limiter,
# key-change generation, named counters, live responders).
core_libsscore_a_SOURCES += core/limits/state.c core/limits/state.h
