# tools/analyze
