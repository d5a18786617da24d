#!/bin/sh
# The key endpoints of check_web again with limits = redis: a key deactivated over HTTP is refused at once by
# every responder when key changes travel through Redis (the harness starts a redis-server for the test).
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || {
	echo "SKIP: redis-server is not installed (tools/install-deps.sh installs it)"
	exit 77
}
SS_IT_LIMITS=redis
CK_RUN_CASE=keys
export SS_IT_LIMITS CK_RUN_CASE
exec "${SS_TOP_BUILDDIR:-.}/tests/integration/check_web"
