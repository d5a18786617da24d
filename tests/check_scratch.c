/* The scratch directory of the tests (tests/fixtures/scratch.h): $TMPDIR when set and not empty, else /tmp, and
 * paths in it that do not fit are refused. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check_main.h"
#include "tests/fixtures/scratch.h"

START_TEST(dir_is_tmpdir_else_tmp)
{
	ck_assert_int_eq(unsetenv("TMPDIR"), 0);
	ck_assert_str_eq(ss_scratch_dir(), "/tmp");
	ck_assert_int_eq(setenv("TMPDIR", "", 1), 0);
	ck_assert_str_eq(ss_scratch_dir(), "/tmp");
	ck_assert_int_eq(setenv("TMPDIR", "/var/tmp/x y", 1), 0);
	ck_assert_str_eq(ss_scratch_dir(), "/var/tmp/x y");
}
END_TEST

START_TEST(path_fits_or_is_refused)
{
	ck_assert_int_eq(setenv("TMPDIR", "/scratch", 1), 0);
	char out[32];
	ck_assert_int_eq(ss_scratch_path(out, sizeof out, "ss-t-XXXXXX"), 0);
	ck_assert_str_eq(out, "/scratch/ss-t-XXXXXX");
	/* "/scratch/" and 22 characters fill out[32] with its NUL; one more does not fit */
	ck_assert_int_eq(ss_scratch_path(out, sizeof out, "0123456789012345678901"), 0);
	ck_assert_int_eq(ss_scratch_path(out, sizeof out, "01234567890123456789012"), -1);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(mkstemp(out), -1); /* what a caller that did not check would get */
	ck_assert_int_eq(ss_scratch_path(out, 0, "x"), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scratch");
	TCase *tc = tcase_create("dir");
	tcase_add_test(tc, dir_is_tmpdir_else_tmp);
	tcase_add_test(tc, path_fits_or_is_refused);
	suite_add_tcase(s, tc);
	/* Forking: the environment changes stay in their test's process. */
	return ss_check_run_forking(s, CK_FORK);
}
