# tests/limits
