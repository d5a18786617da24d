#!/bin/sh
# Run an integration suite again in the scale-out configuration: the store on PostgreSQL and the limits on Redis
# (store = postgresql, limits = redis). The harness (tests/integration/harness.c) starts a PostgreSQL server and a
# redis-server of its own for every songscope it starts when SS_IT_STORE=postgresql and SS_IT_LIMITS=redis.
# Usage (from a wrapper): on_pg_redis.sh SUITE   e.g. check_api
set -eu
b=${SS_TOP_BUILDDIR:?run through make check}
bindir=${SS_PG_BINDIR:-/usr/lib/postgresql/15/bin}
if [ "$bindir" = none ]; then
	echo "SKIP: this build has no PostgreSQL store backend (configure found no libpq)"
	exit 77
fi
if [ ! -x "$bindir/initdb" ] || [ ! -x "$bindir/pg_ctl" ]; then
	echo "SKIP: PostgreSQL is not installed (no $bindir/initdb; tools/install-deps.sh installs postgresql-15)"
	exit 77
fi
if ! command -v "${SS_REDIS_SERVER:-redis-server}" >/dev/null 2>&1; then
	echo "SKIP: redis-server is not installed (tools/install-deps.sh installs it)"
	exit 77
fi
SS_IT_STORE=postgresql
SS_IT_LIMITS=redis
export SS_IT_STORE SS_IT_LIMITS
exec "$b/tests/integration/$1"
