# core/analysis/tempo
