# tests/tempo
