#!/bin/sh
# tests/integration/check_audio_features with the store on PostgreSQL and the limits on Redis: the Spotify
# endpoints (track ids by prefix, the stored segments and sections) on the scale-out backends (skips with 77 when
# either is not installed).
exec "${SS_TOP_SRCDIR:?run through make check}/tests/integration/on_pg_redis.sh" check_audio_features
