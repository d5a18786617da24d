# tests/util
