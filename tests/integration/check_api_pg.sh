#!/bin/sh
# tests/integration/check_api with the store on PostgreSQL (skips with 77 when it is not installed).
exec "${SS_TOP_SRCDIR:?run through make check}/tests/integration/on_postgresql.sh" check_api
