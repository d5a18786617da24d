# core/limits: admission
