# man/openapi.yaml is checked against every answer the integration tests get: the harness logs them into
# tests/integration/responses/ and tests/check_openapi.test validates them once every integration test is done
# (its .log depends on theirs). A response the document does not describe fails the check.
AM_TESTS_ENVIRONMENT += SS_IT_RESPONSE_LOG='$(abs_top_builddir)/tests/integration/responses'; \
	export SS_IT_RESPONSE_LOG;
TESTS += tests/check_openapi.test
EXTRA_DIST += tests/check_openapi.test tests/openapi-check.py man/openapi.yaml
tests/check_openapi.log: tests/integration/check_server.log tests/integration/check_api.log \
	tests/integration/check_state_faults.log tests/integration/check_fetch_faults.log \
	tests/integration/check_front_errors.log tests/integration/check_store_faults.log \
	tests/integration/check_hygiene.log tests/integration/check_queue.log tests/integration/check_legacy.log \
	tests/integration/check_quickstart.log tests/integration/check_ffmpeg.log tests/integration/check_audio_features.log \
	tests/integration/check_web.log \
	tests/integration/check_browser.log tests/integration/check_deploy.log tests/integration/check_auth.log \
	tests/integration/check_limiter.log tests/integration/check_redis_limits.log tests/integration/check_auth_redis.sh.log \
	tests/integration/check_web_redis.sh.log
clean-local: clean-response-log
clean-response-log:
	rm -rf tests/integration/responses
.PHONY: clean-response-log
