# core/limits: state file, limiter
