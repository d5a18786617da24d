# tools/: songscope-admin, songscope-analyze, setup and benchmark scripts.
EXTRA_DIST += tools/install-deps.sh tools/quickstart.sh tools/run-tests.sh .ci/run man/API.md man/HACKING.md man/DESIGN.md
include tools/analyze.mk
include tools/admin.mk
include tools/bench.mk
