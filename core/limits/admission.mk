# core/limits: analysis admission control (slots, de-duplication of identical misses, live responders)
core_libsscore_a_SOURCES += core/limits/admission.c core/limits/admission.h
