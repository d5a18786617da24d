/* Config file parsing: defaults, every value type, and errors that name the line. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config/config.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

static int parse(ss_config *c, const char *text, ss_error *err)
{
	ss_config_defaults(c);
	ss_error_clear(err);
	return ss_config_parse(c, text, strlen(text), "test.conf", err);
}

START_TEST(defaults_are_documented_values)
{
	ss_config c;
	ss_config_defaults(&c);
	ck_assert_int_eq(c.auth, SS_AUTH_REQUIRED);
	ck_assert_int_eq(c.workers, 2);
	ck_assert_int_eq(c.max_requests, 10000);
	ck_assert_str_eq(c.log_level, "info");
	ck_assert_int_eq(c.key_cache_ttl, 300);
	ck_assert_int_eq(c.rate_limit_per_minute, 60);
	ck_assert_int_eq(c.fetch_max_redirects, 3);
	ck_assert(c.max_analysis_seconds == 30.0);
	ck_assert(!c.fetch_allow_private);
	ck_assert_int_eq(ss_config_analysis_slots(&c), 1);
	ck_assert_int_eq(ss_config_validate(&c, NULL), 0);
}
END_TEST

START_TEST(parses_every_type_comments_and_quotes)
{
	ss_config c;
	ss_error err;
	const char *text = "# a comment\n"
			   "\n"
			   "database = /var/lib/x/db.sqlite   # trailing comment\n"
			   "  state_file=\"/var/lib/x/state file\"\n"
			   "auth = off\r\n"
			   "workers = 8\n"
			   "max_requests = 500\n"
			   "log_level = debug\n"
			   "max_analysis_seconds = 12.5\n"
			   "fetch_allow_private = yes\n"
			   "fetch_max_bytes = 1048576\n"
			   "metrics_allow = 127.0.0.1, ::1\n";
	ck_assert_int_eq(parse(&c, text, &err), 0);
	ck_assert_str_eq(c.database, "/var/lib/x/db.sqlite");
	ck_assert_str_eq(c.state_file, "/var/lib/x/state file");
	ck_assert_int_eq(c.auth, SS_AUTH_OFF);
	ck_assert_int_eq(c.workers, 8);
	ck_assert_int_eq(c.max_requests, 500);
	ck_assert_str_eq(c.log_level, "debug");
	ck_assert(c.max_analysis_seconds == 12.5);
	ck_assert(c.fetch_allow_private);
	ck_assert_int_eq(c.fetch_max_bytes, 1048576);
	ck_assert_str_eq(c.metrics_allow, "127.0.0.1, ::1");
	ck_assert_int_eq(ss_config_analysis_slots(&c), 7);
}
END_TEST

START_TEST(quoted_values_keep_hash_and_spaces)
{
	/* Inside double quotes '#' is text even after a space; the comment starts only outside quotes. */
	ss_config c;
	ss_error err;
	const char *text = "database = \"/srv/a #1/db\"   # the database\n"
			   "state_file = \"/srv/b # 2\"#no space before this comment\n"
			   "metrics_allow = \"10.0.0.1 ::1\" # a comment\n";
	ck_assert_msg(parse(&c, text, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(c.database, "/srv/a #1/db");
	ck_assert_str_eq(c.state_file, "/srv/b # 2");
	ck_assert_str_eq(c.metrics_allow, "10.0.0.1 ::1");
	/* Unquoted values keep the old rule: a comment needs whitespace before '#'. */
	ck_assert_int_eq(parse(&c, "database = /srv/x#1 # comment\n", &err), 0);
	ck_assert_str_eq(c.database, "/srv/x#1");
}
END_TEST

static void expect_error(const char *text, const char *fragment)
{
	ss_config c;
	ss_error err;
	ck_assert_int_eq(parse(&c, text, &err), -1);
	ck_assert_int_eq(err.code, SS_ERR_CONFIG);
	ck_assert_msg(strstr(err.msg, fragment) != NULL, "message '%s' lacks '%s'", err.msg, fragment);
}

START_TEST(errors_name_the_line)
{
	expect_error("workers = 2\nbogus = 1\n", "test.conf:2: unknown key 'bogus'");
	expect_error("\n\nworkers = many\n", "test.conf:3: bad value for 'workers'");
	expect_error("workers = 0\n", "test.conf:1: bad value for 'workers'");
	expect_error("workers = 257\n", "bad value for 'workers'");
	expect_error("workers = 2x\n", "bad value");
	expect_error("workers = -1\n", "bad value");
	expect_error("auth = maybe\n", "expected 'required' or 'off'");
	expect_error("log_level = loud\n", "expected one of error|warn|info|debug");
	expect_error("fetch_allow_private = perhaps\n", "expected true or false");
	expect_error("max_analysis_seconds = nan\n", "bad value");
	expect_error("max_analysis_seconds = 1e999\n", "bad value");
	expect_error("database =\n", "empty path");
	expect_error("just some words\n", "test.conf:1: expected 'key = value'");
	expect_error("database = \"/srv/a #1/db\n", "test.conf:1: bad value for 'database': no closing quote");
	expect_error("database = \"/srv/a\" trailing\n", "text after the closing quote");
}
END_TEST

START_TEST(rate_limit_burst_count_or_percentage)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	/* Default 10% of the key's rate, rounded down. */
	ck_assert_int_eq(ss_config_rate_burst(&c, 60), 6);
	ck_assert_int_eq(ss_config_rate_burst(&c, 30), 3);
	ck_assert_int_eq(ss_config_rate_burst(&c, 19), 1);
	ck_assert_int_eq(ss_config_rate_burst(&c, 2), 0);
	ck_assert_int_eq(parse(&c, "rate_limit_burst = 3\n", &err), 0);
	ck_assert_int_eq(ss_config_rate_burst(&c, 2), 3);
	ck_assert_int_eq(ss_config_rate_burst(&c, 1000), 3);
	ck_assert_int_eq(parse(&c, "rate_limit_burst = 0\n", &err), 0);
	ck_assert_int_eq(ss_config_rate_burst(&c, 1000), 0);
	ck_assert_int_eq(parse(&c, "rate_limit_burst = 150%\n", &err), 0);
	ck_assert_int_eq(ss_config_rate_burst(&c, 7), 10);
	ck_assert_int_eq(parse(&c, "rate_limit_burst = \"25%\"  # quoted\n", &err), 0);
	ck_assert_int_eq(ss_config_rate_burst(&c, 100000), 25000);
	expect_error("rate_limit_burst = -1\n", "bad value for 'rate_limit_burst'");
	expect_error("rate_limit_burst = 10 %\n", "bad value");
	expect_error("rate_limit_burst = %\n", "bad value");
	expect_error("rate_limit_burst = 1001%\n", "bad value");
	expect_error("rate_limit_burst = 5x\n", "bad value");
}
END_TEST

START_TEST(user_group_and_listen_allow_remote)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_str_eq(c.user, "");
	ck_assert_str_eq(c.group, "");
	ck_assert(!c.listen_allow_remote);
	ck_assert_int_eq(parse(&c, "user = songscope\ngroup = www-data\nlisten_allow_remote = true\n", &err), 0);
	ck_assert_str_eq(c.user, "songscope");
	ck_assert_str_eq(c.group, "www-data");
	ck_assert(c.listen_allow_remote);
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	ck_assert_int_eq(parse(&c, "user = 65534\n", &err), 0);
	expect_error("user = a b\n", "expected a user or group name");
	expect_error("user = -root\n", "expected a user or group name");
	expect_error("group = x/y\n", "expected a user or group name");
	/* A group alone means nothing: songscope only switches ids when it has a user to become. */
	ck_assert_int_eq(parse(&c, "group = nogroup\n", &err), 0);
	ck_assert_int_eq(ss_config_validate(&c, &err), -1);
	ck_assert(strstr(err.msg, "'group' needs 'user'") != NULL);
}
END_TEST

START_TEST(preload_ffmpeg_choices)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_str_eq(c.preload_ffmpeg, "auto");
	ck_assert_int_eq(parse(&c, "preload_ffmpeg = no\n", &err), 0);
	ck_assert_str_eq(c.preload_ffmpeg, "no");
	ck_assert_int_eq(parse(&c, "preload_ffmpeg = yes\n", &err), 0);
	ck_assert_str_eq(c.preload_ffmpeg, "yes");
	expect_error("preload_ffmpeg = maybe\n", "bad value for 'preload_ffmpeg'");
	expect_error("preload_ffmpeg = true\n", "bad value for 'preload_ffmpeg'");
}
END_TEST

START_TEST(validate_rejects_same_file_for_db_and_state)
{
	ss_config c;
	ss_error err;
	ck_assert_int_eq(parse(&c, "database = /x\nstate_file = /x\n", &err), 0);
	ck_assert_int_eq(ss_config_validate(&c, &err), -1);
	ck_assert(strstr(err.msg, "different") != NULL);
}
END_TEST

START_TEST(store_backend_keys)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_str_eq(c.store, "sqlite");
	ck_assert_str_eq(c.postgresql, "");
	ck_assert_int_eq(parse(&c, "store = postgresql\npostgresql = \"host=/run/postgresql dbname=songscope\"\n", &err), 0);
	ck_assert_str_eq(c.store, "postgresql");
	ck_assert_str_eq(c.postgresql, "host=/run/postgresql dbname=songscope");
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	ck_assert_int_eq(parse(&c, "store = postgresql\n", &err), 0);
	ck_assert_int_eq(ss_config_validate(&c, &err), -1);
	ck_assert_msg(strstr(err.msg, "needs 'postgresql'") != NULL, "%s", err.msg);
	expect_error("store = mysql\n", "bad value for 'store'");
}
END_TEST

START_TEST(load_reads_a_file_and_reports_missing_ones)
{
	char path[512];
	ck_assert_int_eq(ss_scratch_path(path, sizeof path, "ss-config-XXXXXX"), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	const char *text = "workers = 3\nauth = required\n";
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_int_eq(ss_config_load(&c, path, &err), 0);
	ck_assert_int_eq(c.workers, 3);
	unlink(path);
	ck_assert_int_eq(ss_config_load(&c, path, &err), -1);
	ck_assert(strstr(err.msg, "cannot open") != NULL);
}
END_TEST

START_TEST(shipped_config_file_is_valid)
{
	const char *top = getenv("SS_TOP_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/conf/songscope.conf", top ? top : ".");
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_msg(ss_config_load(&c, path, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	/* The shipped file documents the defaults: loading it must not change them. */
	ss_config d;
	ss_config_defaults(&d);
	ck_assert_int_eq(c.workers, d.workers);
	ck_assert_int_eq(c.auth, d.auth);
	ck_assert_int_eq(c.max_requests, d.max_requests);
	ck_assert_int_eq(c.rate_limit_per_minute, d.rate_limit_per_minute);
	ck_assert_int_eq(c.rate_limit_burst, d.rate_limit_burst);
	ck_assert(c.rate_limit_burst_percent == d.rate_limit_burst_percent);
	ck_assert_int_eq(c.fetch_max_bytes, d.fetch_max_bytes);
}
END_TEST

/* The slow-upstream keys: documented defaults, 0 turns the minimum rate off, bounds are enforced. */
START_TEST(fetch_rate_and_wait_keys)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_int_eq(c.fetch_low_speed_bytes_per_second, 1024);
	ck_assert_int_eq(c.fetch_low_speed_seconds, 5);
	ck_assert_int_eq(c.dedup_wait_seconds, 30);
	ck_assert_int_eq(c.max_concurrent_downloads, 0);
	ck_assert_int_eq(ss_config_download_slots(&c), 1); /* 2 workers - 1 */
	c.workers = 8;
	ck_assert_int_eq(ss_config_download_slots(&c), 7);
	c.max_concurrent_downloads = 3;
	ck_assert_int_eq(ss_config_download_slots(&c), 3);
	ck_assert_int_eq(parse(&c, "fetch_low_speed_bytes_per_second = 0\nfetch_low_speed_seconds = 0\n"
				   "dedup_wait_seconds = 600\n", &err), 0);
	ck_assert_int_eq(c.fetch_low_speed_bytes_per_second, 0);
	ck_assert_int_eq(c.fetch_low_speed_seconds, 0);
	ck_assert_int_eq(c.dedup_wait_seconds, 600);
	ck_assert_int_eq(parse(&c, "dedup_wait_seconds = 0\n", &err), -1);
	ck_assert_int_eq(parse(&c, "fetch_low_speed_seconds = 601\n", &err), -1);
	ck_assert_int_eq(parse(&c, "fetch_low_speed_bytes_per_second = -1\n", &err), -1);
}
END_TEST

/* Address lists take addresses and CIDR ranges (IPv4, IPv6) and refuse anything else at load, naming the line;
 * a host name is refused with the ranges to write instead. */
START_TEST(address_lists_are_cidr_ranges)
{
	ss_config c;
	ss_error err;
	ck_assert_int_eq(parse(&c, "metrics_allow = 127.0.0.0/8, ::1 10.1.2.3 fd00::/8\n", &err), 0);
	ck_assert_int_eq(parse(&c, "anonymous_networks = 192.168.0.0/16\nanonymous_key = \"iOS app\"\n", &err), 0);
	ck_assert_str_eq(c.anonymous_networks, "192.168.0.0/16");
	ck_assert_str_eq(c.anonymous_key, "iOS app");
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	expect_error("workers = 2\nmetrics_allow = localhost\n", "test.conf:2: bad value for 'metrics_allow'");
	expect_error("metrics_allow = localhost\n", "127.0.0.1/8 and ::1");
	expect_error("metrics_allow = 127.0.0.0/33\n", "'127.0.0.0/33' is not an address or CIDR range");
	expect_error("metrics_allow = 10.0.0.1, 10.0.0.0/\n", "'10.0.0.0/' is not");
	expect_error("metrics_allow = ::1/129\n", "bad value");
	expect_error("metrics_allow = 300.1.1.1\n", "bad value");
	expect_error("anonymous_networks = example.org\n", "test.conf:1: bad value for 'anonymous_networks'");
	/* Networks without the key their requests act as: refused. */
	ss_config_defaults(&c);
	ck_assert_int_eq(parse(&c, "anonymous_networks = 10.0.0.0/8\n", &err), 0);
	ck_assert_int_eq(ss_config_validate(&c, &err), -1);
	ck_assert_msg(strstr(err.msg, "anonymous_key") != NULL, "%s", err.msg);
}
END_TEST

/* cors_origins: none by default; web origins only, refused at load with the line otherwise. */
START_TEST(cors_origins_are_origins)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_str_eq(c.cors_origins, "");
	ck_assert_int_eq(parse(&c, "cors_origins = https://app.example.org, http://localhost:3000\n", &err), 0);
	ck_assert_str_eq(c.cors_origins, "https://app.example.org, http://localhost:3000");
	expect_error("cors_origins = *\n", "test.conf:1: bad value for 'cors_origins'");
	expect_error("cors_origins = https://app.example.org/\n", "no path or trailing '/'");
	expect_error("workers = 2\ncors_origins = app.example.org\n", "test.conf:2: bad value for 'cors_origins'");
}
END_TEST

/* analysis_queue_timeout: how long a miss waits for an analysis slot; 0 refuses at once. The queue has
 * workers - slots - 1 seats (so a responder stays free), at least 1. */
START_TEST(analysis_queue_keys)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert(c.analysis_queue_timeout > 0 && c.analysis_queue_timeout < 30);
	ck_assert_int_eq(ss_config_queue_seats(&c), 1); /* 2 workers, 1 slot */
	c.workers = 8;
	ck_assert_int_eq(ss_config_queue_seats(&c), 1); /* 7 slots */
	c.max_concurrent_analyses = 4;
	ck_assert_int_eq(ss_config_queue_seats(&c), 3);
	ck_assert_int_eq(parse(&c, "analysis_queue_timeout = 0.25\n", &err), 0);
	ck_assert(c.analysis_queue_timeout == 0.25);
	ck_assert_int_eq(parse(&c, "analysis_queue_timeout = 0\n", &err), 0);
	ck_assert_int_eq(parse(&c, "analysis_queue_timeout = -1\n", &err), -1);
	ck_assert_int_eq(parse(&c, "analysis_queue_timeout = 601\n", &err), -1);
}
END_TEST

/* The limiter keys: documented defaults, choices, and redis needed (and well formed) with limits = redis. */
START_TEST(limits_keys)
{
	ss_config c;
	ss_error err;
	ss_config_defaults(&c);
	ck_assert_str_eq(c.limits, "local");
	ck_assert_str_eq(c.limits_fail, "closed");
	ck_assert_str_eq(c.redis, "");
	ck_assert_int_eq(c.redis_db, 0);
	ck_assert_int_eq(c.redis_timeout_ms, 500);
	ck_assert_int_eq(parse(&c, "limits = redis\nredis = unix:/run/redis/redis.sock\nlimits_fail = open\n"
				  "redis_password = \"s3cret #1\"\nredis_db = 2\nredis_timeout_ms = 50\n", &err), 0);
	ck_assert_str_eq(c.limits, "redis");
	ck_assert_str_eq(c.limits_fail, "open");
	ck_assert_str_eq(c.redis_password, "s3cret #1");
	ck_assert_int_eq(c.redis_db, 2);
	ck_assert_int_eq(c.redis_timeout_ms, 50);
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
	expect_error("limits = memcached\n", "bad value for 'limits'");
	expect_error("limits_fail = maybe\n", "bad value for 'limits_fail'");
	expect_error("redis_timeout_ms = 0\n", "bad value for 'redis_timeout_ms'");
	const char *bad[] = {"", "localhost", "localhost:0", "localhost:99999", ":6379", "unix:relative.sock", "unix:"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ss_config_defaults(&c);
		snprintf(c.limits, sizeof c.limits, "redis");
		snprintf(c.redis, sizeof c.redis, "%s", bad[i]);
		ck_assert_msg(ss_config_validate(&c, &err) == -1, "'%s' accepted", bad[i]);
		ck_assert_ptr_nonnull(strstr(err.msg, "redis"));
	}
	ss_config_defaults(&c);
	snprintf(c.limits, sizeof c.limits, "redis");
	snprintf(c.redis, sizeof c.redis, "redis.internal:6380");
	ck_assert_int_eq(ss_config_validate(&c, &err), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, defaults_are_documented_values);
	tcase_add_test(tc, limits_keys);
	tcase_add_test(tc, fetch_rate_and_wait_keys);
	tcase_add_test(tc, parses_every_type_comments_and_quotes);
	tcase_add_test(tc, errors_name_the_line);
	tcase_add_test(tc, quoted_values_keep_hash_and_spaces);
	tcase_add_test(tc, rate_limit_burst_count_or_percentage);
	tcase_add_test(tc, user_group_and_listen_allow_remote);
	tcase_add_test(tc, preload_ffmpeg_choices);
	tcase_add_test(tc, validate_rejects_same_file_for_db_and_state);
	tcase_add_test(tc, load_reads_a_file_and_reports_missing_ones);
	tcase_add_test(tc, shipped_config_file_is_valid);
	tcase_add_test(tc, address_lists_are_cidr_ranges);
	tcase_add_test(tc, cors_origins_are_origins);
	tcase_add_test(tc, analysis_queue_keys);
	tcase_add_test(tc, store_backend_keys);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
