# core/analysis/pipeline
