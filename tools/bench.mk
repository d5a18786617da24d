# tools/bench
