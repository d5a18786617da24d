# tests/key
