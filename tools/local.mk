# tools/: songscope-admin, songscope-analyze, setup and benchmark scripts.
include tools/analyze.mk
include tools/admin.mk
include tools/bench.mk
