/* Core utilities: capped buffer, strict number parsing, JSON helpers, error codes, key names, UTF-8. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/analysis/result.h"
#include "core/util/base62.h"
#include "core/util/bigmem.h"
#include "core/util/buf.h"
#include "core/util/error.h"
#include "core/util/jsonutil.h"
#include "core/util/log.h"
#include "core/util/strnum.h"
#include "core/util/timefmt.h"
#include "core/util/utf8.h"
#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

START_TEST(buf_grows_and_respects_its_limit)
{
	ss_buf b;
	ss_buf_init(&b, 1000);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(ss_buf_append(&b, "0123456789", 10), 0);
	ck_assert_uint_eq(b.len, 1000);
	ck_assert_int_eq(ss_buf_append(&b, "x", 1), -1);
	ck_assert_int_eq(errno, EFBIG);
	ck_assert_uint_eq(b.len, 1000);
	ck_assert_int_eq(b.data[1000], '\0');
	ss_buf_reset(&b);
	ck_assert_int_eq(ss_buf_printf(&b, "%s-%d", "abc", 42), 0);
	ck_assert_str_eq(b.data, "abc-42");
	size_t n;
	char *p = ss_buf_steal(&b, &n);
	ck_assert_uint_eq(n, 6);
	ck_assert_ptr_null(b.data);
	free(p);
	ss_buf_free(&b);
	ss_buf_free(&b);
}
END_TEST

/* Every byte of ss_bigmem_alloc blocks of the sizes around SS_BIGMEM_MIN and 2 MiB writable and kept, 2 MiB
 * aligned from SS_BIGMEM_MIN on when huge pages are on; freed with free(). */
static void bigmem_sizes(bool huge)
{
	static const size_t sizes[] = {1, 4096, SS_BIGMEM_MIN - 1, SS_BIGMEM_MIN, (2u << 20) - 1, 2u << 20,
				       (2u << 20) + 1, (5u << 20) + 123};
	ss_bigmem_use_huge_pages(huge);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t n = sizes[i];
		unsigned char *p = ss_bigmem_alloc(n);
		ck_assert_ptr_nonnull(p);
		if (huge && n >= SS_BIGMEM_MIN)
			ck_assert_uint_eq((uintptr_t)p % (2u << 20), 0);
		for (size_t k = 0; k < n; k++)
			p[k] = (unsigned char)(k * 7 + i);
		for (size_t k = 0; k < n; k += 4093)
			ck_assert_uint_eq(p[k], (unsigned char)(k * 7 + i));
		ck_assert_uint_eq(p[n - 1], (unsigned char)((n - 1) * 7 + i));
		free(p);
	}
	ck_assert_ptr_null(ss_bigmem_alloc(0));
}

/* Large buffers with huge pages on and off (the default); nothing for a size that cannot be rounded up. */
START_TEST(bigmem_blocks_are_usable_and_aligned)
{
	bigmem_sizes(true);
	ck_assert_ptr_null(ss_bigmem_alloc(SIZE_MAX - 16));
	bigmem_sizes(false);
}
END_TEST

/* Prefaulting a file mapping (any part of it, any length) only maps pages: the bytes read are the file's. */
START_TEST(bigmem_prefault_keeps_file_bytes)
{
	char path[512];
	ck_assert_int_eq(ss_scratch_path(path, sizeof path, "ss-bigmem-XXXXXX"), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	size_t len = 3 * 4096 + 17;
	unsigned char *data = malloc(len);
	ck_assert_ptr_nonnull(data);
	for (size_t k = 0; k < len; k++)
		data[k] = (unsigned char)(k * 13);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	unsigned char *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	ck_assert(m != MAP_FAILED);
	close(fd);
	ss_bigmem_prefault(m, len);
	ss_bigmem_prefault(m + 5, 100);
	ss_bigmem_prefault(m, 0);
	ck_assert(memcmp(m, data, len) == 0);
	munmap(m, len);
	free(data);
}
END_TEST

START_TEST(strict_integers)
{
	int64_t v;
	uint64_t u;
	ck_assert_int_eq(ss_parse_i64("42", 0, 100, &v), 0);
	ck_assert_int_eq(v, 42);
	ck_assert_int_eq(ss_parse_i64("-5", -10, 10, &v), 0);
	ck_assert_int_eq(v, -5);
	ck_assert_int_eq(ss_parse_i64("-5", 0, 10, &v), -1);
	ck_assert_int_eq(ss_parse_i64("101", 0, 100, &v), -1);
	ck_assert_int_eq(ss_parse_i64("", 0, 100, &v), -1);
	ck_assert_int_eq(ss_parse_i64(" 1", 0, 100, &v), -1);
	ck_assert_int_eq(ss_parse_i64("+1", 0, 100, &v), -1);
	ck_assert_int_eq(ss_parse_i64("1 ", 0, 100, &v), -1);
	ck_assert_int_eq(ss_parse_i64("0x10", 0, 100, &v), -1);
	ck_assert_int_eq(ss_parse_u64("18446744073709551615", UINT64_MAX, &u), 0);
	ck_assert_int_eq(ss_parse_u64("18446744073709551616", UINT64_MAX, &u), -1);
	ck_assert_int_eq(ss_parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
	ck_assert(v == INT64_MIN);
	ck_assert_int_eq(ss_parse_i64("9223372036854775808", INT64_MIN, INT64_MAX, &v), -1);
}
END_TEST

START_TEST(strict_doubles_and_bools)
{
	double d;
	bool b;
	ck_assert_int_eq(ss_parse_double("1.5", 0, 2, &d), 0);
	ck_assert(d == 1.5);
	ck_assert_int_eq(ss_parse_double("inf", 0, 1e300, &d), -1);
	ck_assert_int_eq(ss_parse_double("nan", -1, 1, &d), -1);
	ck_assert_int_eq(ss_parse_double("3", 0, 2, &d), -1);
	ck_assert_int_eq(ss_parse_double("1.5x", 0, 2, &d), -1);
	ck_assert_int_eq(ss_parse_bool("Yes", &b), 0);
	ck_assert(b);
	ck_assert_int_eq(ss_parse_bool("off", &b), 0);
	ck_assert(!b);
	ck_assert_int_eq(ss_parse_bool("2", &b), -1);
}
END_TEST

START_TEST(json_never_emits_nan)
{
	json_object *o = json_object_new_object();
	ck_assert_int_eq(ss_json_add_double(o, "a", NAN), 0);
	ck_assert_int_eq(ss_json_add_double(o, "b", INFINITY), 0);
	ck_assert_int_eq(ss_json_add_double(o, "c", 0.25), 0);
	ck_assert_int_eq(ss_json_add_string(o, "d", NULL), 0);
	ck_assert_str_eq(ss_json_text(o, NULL), "{\"a\":null,\"b\":null,\"c\":0.25,\"d\":null}");
	json_object_put(o);
}
END_TEST

START_TEST(json_parse_is_strict)
{
	const char *good = "{\"url\": \"http://x/a\", \"n\": [1,2]}  \n";
	json_object *o = ss_json_parse(good, strlen(good), 8);
	ck_assert_ptr_nonnull(o);
	json_object_put(o);
	o = ss_json_parse("5", 1, 8);
	ck_assert_ptr_nonnull(o);
	ck_assert_int_eq(json_object_get_int(o), 5);
	json_object_put(o);
	const char *bad[] = {"{", "{\"a\":1} x", "\"\xff\"", "[1,]", "", "{\"a\":NaN}", "[[[[[[[[[[1]]]]]]]]]]"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(ss_json_parse(bad[i], strlen(bad[i]), 8) == NULL, "accepted %s", bad[i]);
	/* Embedded NUL inside the given length is not valid JSON text. */
	ck_assert_ptr_null(ss_json_parse("{}\0{}", 5, 8));
}
END_TEST

START_TEST(json_parse_refuses_embedded_nul)
{
	/* A \u0000 escape would silently cut the C string json-c hands out (a URL, a key): refused. */
	const char *bad[] = {"{\"url\": \"http://x/a\\u0000.mp3\"}", "[\"\\u0000\"]", "{\"u\\u0000rl\": \"x\"}",
			     "\"a\\u0000\"", "{\"t\": \"\\\\\\u0000\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		ck_assert_msg(ss_json_has_nul_escape(bad[i], strlen(bad[i])), "missed %s", bad[i]);
		ck_assert_msg(ss_json_parse(bad[i], strlen(bad[i]), 8) == NULL, "accepted %s", bad[i]);
	}
	/* An escaped backslash followed by the letters u0000 is no NUL; \u0001 and \u00000 are other text. */
	const char *good[] = {"[\"\\\\u0000\"]", "[\"\\u0001\"]", "[\"u0000\"]", "[\"\\\\\\\\u0000\"]"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		ck_assert_msg(!ss_json_has_nul_escape(good[i], strlen(good[i])), "false alarm on %s", good[i]);
		json_object *o = ss_json_parse(good[i], strlen(good[i]), 8);
		ck_assert_msg(o != NULL, "refused %s", good[i]);
		json_object_put(o);
	}
}
END_TEST

START_TEST(error_codes_map_to_api_names)
{
	ck_assert_str_eq(ss_code_name(SS_ERR_TOO_LARGE), "payload_too_large");
	ck_assert_int_eq(ss_code_http_status(SS_ERR_TOO_LARGE), 413);
	ck_assert_str_eq(ss_code_name(SS_ERR_MISSING_KEY), "missing_api_key");
	ck_assert_int_eq(ss_code_http_status(SS_ERR_MISSING_KEY), 401);
	ck_assert_int_eq(ss_code_http_status(SS_ERR_DAILY_LIMIT), 429);
	ck_assert_str_eq(ss_code_name(SS_ERR_NOMEM), "internal");
	ck_assert_str_eq(ss_code_name((ss_code)999), "internal");
	for (int c = 0; c < SS_CODE_COUNT; c++)
		ck_assert_ptr_nonnull(ss_code_name((ss_code)c));
	ss_error e;
	ck_assert_int_eq(ss_error_set(&e, SS_ERR_BAD_REQUEST, "x=%d", 3), -1);
	ck_assert_str_eq(e.msg, "x=3");
}
END_TEST

START_TEST(key_names_round_trip)
{
	char buf[16];
	for (int k = 0; k < 12; k++) {
		for (int m = 0; m < 2; m++) {
			int k2, m2;
			ss_key_name(k, m, buf, sizeof buf);
			ck_assert_int_eq(ss_key_parse(buf, &k2, &m2), 0);
			ck_assert_int_eq(k2, k);
			ck_assert_int_eq(m2, m);
		}
	}
	int k, m;
	ck_assert_str_eq(ss_key_name(1, 0, buf, sizeof buf), "C# Minor");
	ck_assert_int_eq(ss_key_parse("Bb minor", &k, &m), 0);
	ck_assert_int_eq(k, 10);
	ck_assert_int_eq(m, 0);
	ck_assert_int_eq(ss_key_parse("Cb major", &k, &m), 0);
	ck_assert_int_eq(k, 11);
	ck_assert_int_eq(ss_key_parse("H major", &k, &m), -1);
	ck_assert_int_eq(ss_key_parse("C dorian", &k, &m), -1);
	ck_assert_str_eq(ss_key_name(12, 1, buf, sizeof buf), "Unknown");
}
END_TEST

/* Point stderr at a fresh file, log one line per level with JOURNAL_STREAM set to `journal` ("dev:ino" or
 * NULL: unset; "@" means the file's own), and return what was written (static buffer). Runs in the test's
 * own process (Check forks one per test), so the logger sees this stderr first. */
static const char *log_through(const char *journal)
{
	char path[512];
	ck_assert_int_eq(ss_scratch_path(path, sizeof path, "ss-log-XXXXXX"), 0);
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	struct stat st;
	ck_assert_int_eq(fstat(fd, &st), 0);
	char env[64];
	if (journal != NULL && strcmp(journal, "@") == 0)
		snprintf(env, sizeof env, "%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
	else if (journal != NULL)
		snprintf(env, sizeof env, "%s", journal);
	if (journal != NULL)
		ck_assert_int_eq(setenv("JOURNAL_STREAM", env, 1), 0);
	else
		unsetenv("JOURNAL_STREAM");
	fflush(stderr);
	int saved = dup(2);
	ck_assert_int_eq(dup2(fd, 2), 2);
	ss_log_set_level(SS_LOG_DEBUG);
	ss_log_error("e %d", 1);
	ss_log_warn("w");
	ss_log_info("i");
	ss_log_debug("d\n\x1b" "x\t\x7f"); /* control characters (a newline, an escape) fold to spaces */
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	static char out[2048];
	ssize_t n = pread(fd, out, sizeof out - 1, 0);
	ck_assert_int_ge(n, 0);
	out[n] = '\0';
	close(fd);
	return out;
}

START_TEST(log_lines_for_the_journal_carry_priorities_and_no_timestamp)
{
	/* systemd connected stderr to the journal: sd-daemon priorities, no timestamp of our own. */
	const char *out = log_through("@");
	ck_assert_str_eq(out, "<3>error: e 1\n<4>warn: w\n<6>info: i\n<7>debug: d  x  \n");
}
END_TEST

START_TEST(log_lines_elsewhere_keep_their_timestamp)
{
	/* JOURNAL_STREAM inherited by a process whose stderr went elsewhere (a pipe, a file): plain lines. */
	const char *out = log_through("1:2");
	ck_assert_msg(out[0] != '<' && strstr(out, "Z songscope[") != NULL && strstr(out, "] warn: w\n") != NULL, "%s",
		      out);
	out = log_through(NULL);
	ck_assert_msg(out[0] != '<' && strstr(out, "Z songscope[") != NULL && strstr(out, "] error: e 1\n") != NULL,
		      "%s", out);
}
END_TEST

/* Track ids: 128 bits as 22 base62 characters, both ways, and everything that is not an id refused. */
START_TEST(base62_ids_round_trip)
{
	char id[SS_BASE62_ID_LEN + 1], hex[33];
	ck_assert_int_eq(ss_base62_from_hex128("00000000000000000000000000000000", id), 0);
	ck_assert_str_eq(id, "0000000000000000000000");
	ck_assert_int_eq(ss_base62_from_hex128("ffffffffffffffffffffffffffffffff", id), 0);
	ck_assert_str_eq(id, "7n42DGM5Tflk9n8mt7Fhc7");
	/* only the first 128 bits of a longer key count; either case */
	ck_assert_int_eq(ss_base62_from_hex128("0123456789ABCDEF0123456789abcdef99999999", id), 0);
	ck_assert_str_eq(id, "0296tiiBb3U904RIpygpjj");
	ck_assert_int_eq(ss_base62_to_hex128("0296tiiBb3U904RIpygpjj", hex), 0);
	ck_assert_str_eq(hex, "0123456789abcdef0123456789abcdef");
	ck_assert_int_eq(ss_base62_to_hex128("7n42DGM5Tflk9n8mt7Fhc7", hex), 0);
	ck_assert_str_eq(hex, "ffffffffffffffffffffffffffffffff");
	ck_assert_int_eq(ss_base62_to_hex128("7n42DGM5Tflk9n8mt7Fhc8", hex), -1); /* 2^128 */
	ck_assert_str_eq(hex, "");
	ck_assert_int_eq(ss_base62_to_hex128("zzzzzzzzzzzzzzzzzzzzzz", hex), -1);
	ck_assert_int_eq(ss_base62_to_hex128("0296tiiBb3U904RIpygpj", hex), -1);   /* 21 */
	ck_assert_int_eq(ss_base62_to_hex128("0296tiiBb3U904RIpygpjjj", hex), -1); /* 23 */
	ck_assert_int_eq(ss_base62_to_hex128("0296tiiBb3U904RIpygp-j", hex), -1);
	ck_assert_int_eq(ss_base62_to_hex128("", hex), -1);
	ck_assert_int_eq(ss_base62_from_hex128("0123456789abcdef0123456789abcde", id), -1); /* 31 digits */
	ck_assert_str_eq(id, "");
	ck_assert_int_eq(ss_base62_from_hex128("0123456789abcdef0123456789abcdeg", id), -1);
	/* a sweep of patterns survives the round trip */
	for (int v = 0; v < 256; v++) {
		char in[33];
		for (int i = 0; i < 32; i++)
			in[i] = "0123456789abcdef"[(v * (i + 3) + i * i) & 15];
		in[32] = '\0';
		ck_assert_int_eq(ss_base62_from_hex128(in, id), 0);
		ck_assert_int_eq(ss_base62_to_hex128(id, hex), 0);
		ck_assert_str_eq(hex, in);
	}
}
END_TEST

START_TEST(utf8_well_formedness)
{
	/* well formed: one to four bytes, at the edges of each length */
	static const char *const good[] = {"", "a", "caf\xc3\xa9", "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xed\x9f\xbf",
					   "\xee\x80\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf4\x8f\xbf\xbf"};
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ck_assert_msg(ss_utf8_valid(good[i]), "good[%zu] refused", i);
	/* not: stray continuation, overlong, surrogate, above U+10FFFF, cut short, invalid lead bytes */
	static const char *const bad[] = {"\x80",         "caf\xe3\xa9",     "\xc0\xaf",     "\xc1\xbf", "\xe0\x80\xaf",
					  "\xed\xa0\x80", "\xed\xbf\xbf", "\xf0\x80\x80\xaf", "\xf4\x90\x80\x80",
					  "\xf5\x80\x80\x80", "\xff", "a\xc3", "\xe2\x82", "\xf0\x9f\x98"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ck_assert_msg(!ss_utf8_valid(bad[i]), "bad[%zu] accepted", i);
	ck_assert_uint_eq(ss_utf8_seq_len("a"), 1);
	ck_assert_uint_eq(ss_utf8_seq_len("\xc3\xa9x"), 2);
	ck_assert_uint_eq(ss_utf8_seq_len("\xe2\x82\xac"), 3);
	ck_assert_uint_eq(ss_utf8_seq_len("\xf0\x9f\x98\x80"), 4);
	ck_assert_uint_eq(ss_utf8_seq_len("\xe3\xa9"), 0); /* cut short by the NUL */
}
END_TEST

START_TEST(text_of_unknown_encoding_becomes_utf8)
{
	char out[8];
	ck_assert_int_eq(ss_utf8_or_latin1("Caf\xc3\xa9", out, sizeof out), 5); /* UTF-8: as it is */
	ck_assert_str_eq(out, "Caf\xc3\xa9");
	ck_assert_int_eq(ss_utf8_or_latin1("Caf\xe9", out, sizeof out), 5); /* else ISO-8859-1 */
	ck_assert_str_eq(out, "Caf\xc3\xa9");
	ck_assert_int_eq(ss_utf8_or_latin1("\xc3\xa9\xff", out, sizeof out), 6); /* one bad byte: all of it */
	ck_assert_str_eq(out, "\xc3\x83\xc2\xa9\xc3\xbf");
	ck_assert_int_eq(ss_utf8_or_latin1("", out, sizeof out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ss_utf8_or_latin1("1234567", out, sizeof out), 7); /* fits exactly */
	ck_assert_int_eq(ss_utf8_or_latin1("12345678", out, sizeof out), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ss_utf8_or_latin1("123456\xe9", out, sizeof out), -1); /* 8 bytes once converted */
	ck_assert_str_eq(out, "");
	char clip[] = "ab\xc3\xa9\xe2\x82\xac";
	ss_utf8_clip(clip, 8); /* fits: unchanged */
	ck_assert_str_eq(clip, "ab\xc3\xa9\xe2\x82\xac");
	ss_utf8_clip(clip, 6); /* 5 bytes would end inside the euro sign */
	ck_assert_str_eq(clip, "ab\xc3\xa9");
	ss_utf8_clip(clip, 4);
	ck_assert_str_eq(clip, "ab");
}
END_TEST

/* Control characters (C0, DEL, C1) are found and folded to one space each; other text is left alone. */
START_TEST(control_characters_are_found_and_folded)
{
	static const char *const clean[] = {"", "plain", "J\xc3\xa4ger", "\xc2\xa0nbsp", "\xe2\x80\xa8", "~"};
	for (size_t i = 0; i < sizeof clean / sizeof clean[0]; i++) {
		ck_assert_msg(!ss_utf8_has_control(clean[i]), "%s", clean[i]);
		char b[32];
		snprintf(b, sizeof b, "%s", clean[i]);
		ss_utf8_fold_controls(b);
		ck_assert_str_eq(b, clean[i]);
	}
	static const char *const dirty[][2] = {{"a\tb", "a b"},
					       {"\x1b[2Jx", " [2Jx"},
					       {"l1\r\nl2", "l1  l2"},
					       {"del\x7f", "del "},
					       {"csi\xc2\x9b" "2J\xc2\x80", "csi 2J "},
					       {"\x01\xc3\xa4\x1f", " \xc3\xa4 "}};
	for (size_t i = 0; i < sizeof dirty / sizeof dirty[0]; i++) {
		ck_assert(ss_utf8_has_control(dirty[i][0]));
		char b[32];
		snprintf(b, sizeof b, "%s", dirty[i][0]);
		ss_utf8_fold_controls(b);
		ck_assert_str_eq(b, dirty[i][1]);
		ck_assert(!ss_utf8_has_control(b));
	}
}
END_TEST

/* UTC times read back as ss_time_format_utc writes them, and nothing else. */
START_TEST(utc_times_parse_as_they_are_written)
{
	time_t t = 0;
	char buf[SS_TIME_STR_LEN];
	static const time_t samples[] = {0, 951782400 /* 2000-02-29 */, 1796634000, 4102444799 /* 2099-12-31 */};
	for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
		ss_time_format_utc(samples[i], buf);
		ck_assert_int_eq(ss_time_parse_utc(buf, &t), 0);
		ck_assert_int_eq((long long)t, (long long)samples[i]);
	}
	static const char *const bad[] = {NULL, "", "2026-12-07", "2026-12-07 09:00:00 ", "2026-12-07T09:00:00",
					  "2026-13-07 09:00:00", "2026-12-07 24:00:00", "1969-12-31 23:59:59",
					  "2026-12-07 09:00:0", "+026-12-07 09:00:00", "2026-12-07 09:00:00Z"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		t = 7;
		ck_assert_msg(ss_time_parse_utc(bad[i], &t) == -1, "%s parsed", bad[i] ? bad[i] : "NULL");
		ck_assert_int_eq((long long)t, 7);
	}
}
END_TEST

/* Numbers as the API prints them (10 significant digits, no -0, null for NaN) and read back from objects. */
START_TEST(json_numbers_print_short_and_read_back)
{
	json_object *o = json_object_new_object();
	ck_assert_int_eq(ss_json_add_num(o, "a", 100.01), 0);
	ck_assert_int_eq(ss_json_add_num(o, "b", -0.0), 0);
	ck_assert_int_eq(ss_json_add_num(o, "c", NAN), 0);
	ck_assert_int_eq(ss_json_add_int(o, "d", 7), 0);
	ck_assert_int_eq(ss_json_add_string(o, "e", "x"), 0);
	ck_assert_str_eq(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
			 "{\"a\":100.01,\"b\":0,\"c\":null,\"d\":7,\"e\":\"x\"}");
	ck_assert_double_eq(ss_json_get_num(o, "a"), 100.01);
	ck_assert_double_eq(ss_json_get_num(o, "d"), 7.0);
	ck_assert(isnan(ss_json_get_num(o, "c")));
	ck_assert(isnan(ss_json_get_num(o, "e")));
	ck_assert(isnan(ss_json_get_num(o, "missing")));
	ck_assert_str_eq(ss_json_get_str(o, "e"), "x");
	ck_assert_ptr_null(ss_json_get_str(o, "a"));
	json_object_put(o);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("util");
	tcase_add_test(tc, buf_grows_and_respects_its_limit);
	tcase_add_test(tc, bigmem_blocks_are_usable_and_aligned);
	tcase_add_test(tc, bigmem_prefault_keeps_file_bytes);
	tcase_add_test(tc, strict_integers);
	tcase_add_test(tc, strict_doubles_and_bools);
	tcase_add_test(tc, json_never_emits_nan);
	tcase_add_test(tc, json_parse_is_strict);
	tcase_add_test(tc, json_parse_refuses_embedded_nul);
	tcase_add_test(tc, error_codes_map_to_api_names);
	tcase_add_test(tc, key_names_round_trip);
	tcase_add_test(tc, base62_ids_round_trip);
	tcase_add_test(tc, utf8_well_formedness);
	tcase_add_test(tc, text_of_unknown_encoding_becomes_utf8);
	tcase_add_test(tc, control_characters_are_found_and_folded);
	tcase_add_test(tc, log_lines_for_the_journal_carry_priorities_and_no_timestamp);
	tcase_add_test(tc, log_lines_elsewhere_keep_their_timestamp);
	tcase_add_test(tc, utc_times_parse_as_they_are_written);
	tcase_add_test(tc, json_numbers_print_short_and_read_back);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
