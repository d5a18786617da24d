# core/limits
