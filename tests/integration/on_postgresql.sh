#!/bin/sh
# Run an integration suite again with the store on PostgreSQL: the harness (tests/integration/harness.c) starts a
# PostgreSQL server of its own for every songscope it starts when SS_IT_STORE=postgresql.
# Usage (from a wrapper): on_postgresql.sh SUITE   e.g. check_api
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
SS_IT_STORE=postgresql
export SS_IT_STORE
exec "$b/tests/integration/$1"
