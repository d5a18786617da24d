#!/bin/sh
# tests/integration/check_deploy with the store on PostgreSQL and the limits on Redis (skips with 77 when either
# is not installed).
exec "${SS_TOP_SRCDIR:?run through make check}/tests/integration/on_pg_redis.sh" check_deploy
