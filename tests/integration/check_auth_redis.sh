#!/bin/sh
# The auth integration suite again with limits = redis (the harness starts a redis-server for each test).
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || {
	echo "SKIP: redis-server is not installed (tools/install-deps.sh installs it)"
	exit 77
}
SS_IT_LIMITS=redis
export SS_IT_LIMITS
exec "${SS_TOP_BUILDDIR:-.}/tests/integration/check_auth"
