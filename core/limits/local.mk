# core/limits: shared state file, rate limiter and quotas (state.mk); analysis admission control (admission.mk).
include core/limits/state.mk
include core/limits/admission.mk
