# core/analysis/key
