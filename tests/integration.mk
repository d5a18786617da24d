# Integration tests: the real responder behind a real web server on loopback.
noinst_LIBRARIES += tests/integration/libsstest.a
tests_integration_libsstest_a_SOURCES = tests/integration/harness.c tests/integration/harness.h \
	tests/integration/fcgi_client.c tests/integration/fcgi_client.h tests/integration/redis_server.c \
	tests/integration/redis_server.h tests/integration/webdriver.c tests/integration/webdriver.h \
	tests/integration/pg_server.h
if HAVE_LIBPQ
tests_integration_libsstest_a_SOURCES += tests/integration/pg_server.c
endif
tests_integration_libsstest_a_CFLAGS = $(TEST_CFLAGS)
IT_LIBS = tests/integration/libsstest.a $(TEST_LIBS)

check_PROGRAMS += tests/integration/check_server
TESTS += tests/integration/check_server
tests_integration_check_server_SOURCES = tests/integration/check_server.c
tests_integration_check_server_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_server_LDADD = $(IT_LIBS)

# The HTTP API end to end: every endpoint, client field contracts, caching, admission, fetch guards.
check_PROGRAMS += tests/integration/check_api
TESTS += tests/integration/check_api
tests_integration_check_api_SOURCES = tests/integration/check_api.c
tests_integration_check_api_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_api_LDADD = $(IT_LIBS)

# Faults in the shared state file (corrupted lock bytes, a stopped lock holder, truncation) on the real stack.
check_PROGRAMS += tests/integration/check_state_faults
TESTS += tests/integration/check_state_faults
tests_integration_check_state_faults_SOURCES = tests/integration/check_state_faults.c
tests_integration_check_state_faults_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_state_faults_LDADD = $(IT_LIBS)

# Slow upstreams: downloads hold no analysis slot, identical slow requests share one fetch, own deadlines,
# the minimum transfer rate.
check_PROGRAMS += tests/integration/check_fetch_faults
TESTS += tests/integration/check_fetch_faults
tests_integration_check_fetch_faults_SOURCES = tests/integration/check_fetch_faults.c
tests_integration_check_fetch_faults_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_fetch_faults_LDADD = $(IT_LIBS)

# The web servers' own errors (bad request lines, limits, methods, versions, responders down) are JSON on every
# front in conf/, provoked with raw requests.
check_PROGRAMS += tests/integration/check_front_errors
TESTS += tests/integration/check_front_errors
tests_integration_check_front_errors_SOURCES = tests/integration/check_front_errors.c
tests_integration_check_front_errors_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_front_errors_LDADD = $(IT_LIBS)

# Storage faults: a locked database, a full disk, a read-only file system, a deleted or overwritten database
# file, and usage rows against the quota after SIGKILLed responders.
check_PROGRAMS += tests/integration/check_store_faults
TESTS += tests/integration/check_store_faults
tests_integration_check_store_faults_SOURCES = tests/integration/check_store_faults.c
tests_integration_check_store_faults_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_store_faults_LDADD = $(IT_LIBS)

# Limits that cannot be turned against users and process hygiene: failed-key throttle vs valid keys, the
# per-minute burst, refused JSON NULs, privilege drop and --allow-root, file modes, loopback-only listening.
check_PROGRAMS += tests/integration/check_hygiene
TESTS += tests/integration/check_hygiene
tests_integration_check_hygiene_SOURCES = tests/integration/check_hygiene.c
tests_integration_check_hygiene_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_hygiene_LDADD = $(IT_LIBS)

# Misses queue for an analysis slot (bounded), metrics_allow CIDR ranges and Bearer keys, status reason
# phrases, anonymous_networks.
check_PROGRAMS += tests/integration/check_queue
TESTS += tests/integration/check_queue
tests_integration_check_queue_SOURCES = tests/integration/check_queue.c tests/fixtures/synth.c tests/fixtures/synth.h
tests_integration_check_queue_CFLAGS = $(TEST_CFLAGS)
# $(FFMPEG_LIBS): the fixtures (synth.c) encode M4A/AAC with FFmpeg.
tests_integration_check_queue_LDADD = $(IT_LIBS) $(FFMPEG_LIBS)

# Moving from the original server (import-legacy of each schema version, then the original clients' requests
# replayed and decoded), keys import, db backup under writes, restore, and a backup copied over the live file.
check_PROGRAMS += tests/integration/check_legacy
TESTS += tests/integration/check_legacy
tests_integration_check_legacy_SOURCES = tests/integration/check_legacy.c
tests_integration_check_legacy_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_legacy_LDADD = $(IT_LIBS)

# tools/quickstart.sh run for real with this build: a port in use is reported, a second run says how to make a
# key.
check_PROGRAMS += tests/integration/check_quickstart
TESTS += tests/integration/check_quickstart
tests_integration_check_quickstart_SOURCES = tests/integration/check_quickstart.c
tests_integration_check_quickstart_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_quickstart_LDADD = $(IT_LIBS)

# FFmpeg in the service: preloaded in the master before fork (preload_ffmpeg), not mapped at all for WAV with
# preload_ffmpeg = no, a JSON 415 logged once when it cannot be loaded.
check_PROGRAMS += tests/integration/check_ffmpeg
TESTS += tests/integration/check_ffmpeg
tests_integration_check_ffmpeg_SOURCES = tests/integration/check_ffmpeg.c
tests_integration_check_ffmpeg_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_ffmpeg_LDADD = $(IT_LIBS)

# The store on PostgreSQL (a real server the harness starts): the server stopped under load (503s, /health,
# the same responders, recovery by itself, then integrity: db check, the rows, one usage row per keyed answer)
# and two hosts sharing one cache. check_api, check_auth, check_deploy and check_audio_features
# run a second time in the scale-out configuration (store = postgresql, limits = redis) through on_pg_redis.sh.
# All skip (77) without postgresql-15 (and redis-server for the scale-out runs).
if HAVE_LIBPQ
check_PROGRAMS += tests/integration/check_store_pg
TESTS += tests/integration/check_store_pg
endif
tests_integration_check_store_pg_SOURCES = tests/integration/check_store_pg.c
tests_integration_check_store_pg_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_store_pg_LDADD = $(IT_LIBS)
TESTS += tests/integration/check_api_pg_redis.sh tests/integration/check_auth_pg_redis.sh \
	tests/integration/check_deploy_pg_redis.sh tests/integration/check_audio_features_pg_redis.sh
EXTRA_DIST += tests/integration/on_pg_redis.sh tests/integration/check_api_pg_redis.sh \
	tests/integration/check_auth_pg_redis.sh tests/integration/check_deploy_pg_redis.sh \
	tests/integration/check_audio_features_pg_redis.sh

# Two hosts on (postgresql, redis) behind ONE nginx whose upstream lists both hosts' sockets: two masters with
# their own state files, one PostgreSQL, one Redis; every assertion also checks that both hosts answered. 8 racing
# clients get exactly the daily and per-minute limits, a deactivated key is refused by both, the cache is shared,
# one host's master SIGKILLed leaves nginx answering through the other, and after a Redis outage the store and
# the day's counts are intact. Skips (77) without PostgreSQL or Redis.
if HAVE_LIBPQ
check_PROGRAMS += tests/integration/check_two_hosts
TESTS += tests/integration/check_two_hosts
endif
tests_integration_check_two_hosts_SOURCES = tests/integration/check_two_hosts.c
tests_integration_check_two_hosts_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_two_hosts_LDADD = $(IT_LIBS)

# The Spotify-compatible view: POST /v1/audio-features (bytes and URL), the object's schema, stable ids, ids= with
# 100 ids, key -1 on noise, and auth, limits and errors exactly as the rest of the API.
check_PROGRAMS += tests/integration/check_audio_features
TESTS += tests/integration/check_audio_features
tests_integration_check_audio_features_SOURCES = tests/integration/check_audio_features.c
tests_integration_check_audio_features_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_audio_features_LDADD = $(IT_LIBS)

# The limiter interface against a real redis-server on a unix socket (skips with 77 without redis-server).
check_PROGRAMS += tests/integration/check_limiter
TESTS += tests/integration/check_limiter
tests_integration_check_limiter_SOURCES = tests/integration/check_limiter.c
tests_integration_check_limiter_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_limiter_LDADD = $(IT_LIBS)

# limits = redis: a Redis that hangs (SIGSTOP) does not hold up the master (respawn, SIGTERM), publishing resumes.
check_PROGRAMS += tests/integration/check_counter_publish
TESTS += tests/integration/check_counter_publish
tests_integration_check_counter_publish_SOURCES = tests/integration/check_counter_publish.c
tests_integration_check_counter_publish_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_counter_publish_LDADD = $(IT_LIBS)

# limits = redis on the real stack: Redis stopped and restarted under a running service, fail closed and open.
check_PROGRAMS += tests/integration/check_redis_limits
TESTS += tests/integration/check_redis_limits
tests_integration_check_redis_limits_SOURCES = tests/integration/check_redis_limits.c
tests_integration_check_redis_limits_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_redis_limits_LDADD = $(IT_LIBS)

# The auth suite a second time, with limits = redis.
TESTS += tests/integration/check_auth_redis.sh
EXTRA_DIST += tests/integration/check_auth_redis.sh

# What browsers meet behind every front: CORS for the origins in cors_origins (preflights included).
check_PROGRAMS += tests/integration/check_web
TESTS += tests/integration/check_web
tests_integration_check_web_SOURCES = tests/integration/check_web.c
tests_integration_check_web_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_web_LDADD = $(IT_LIBS)
# Its key endpoints again with limits = redis.
TESTS += tests/integration/check_web_redis.sh
EXTRA_DIST += tests/integration/check_web_redis.sh

# The page in Debian's headless Chromium (chromedriver): a dropped clip shows the API's tempo, key and beats; the
# dashboard opens for an admin key only. Screenshots in tests/integration/browser-artifacts/.
check_PROGRAMS += tests/integration/check_browser
TESTS += tests/integration/check_browser
tests_integration_check_browser_SOURCES = tests/integration/check_browser.c tests/fixtures/synth.c tests/fixtures/synth.h
tests_integration_check_browser_CFLAGS = $(TEST_CFLAGS)
tests_integration_check_browser_LDADD = $(IT_LIBS) $(FFMPEG_LIBS)
clean-local: clean-browser-artifacts
clean-browser-artifacts:
	rm -rf tests/integration/browser-artifacts
.PHONY: clean-browser-artifacts
# Their answers are checked against man/openapi.yaml too (tests/openapi.mk): once they are done.
if HAVE_LIBPQ
PG_OPENAPI_LOGS = tests/integration/check_store_pg.log tests/integration/check_two_hosts.log
else
PG_OPENAPI_LOGS =
endif
tests/check_openapi.log: tests/integration/check_api_pg_redis.sh.log tests/integration/check_auth_pg_redis.sh.log \
	tests/integration/check_deploy_pg_redis.sh.log tests/integration/check_audio_features_pg_redis.sh.log \
	$(PG_OPENAPI_LOGS)
