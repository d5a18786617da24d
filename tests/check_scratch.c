/* The scratch directory of the tests (tests/fixtures/scratch.h): $TMPDIR when set and not empty, else /tmp, and
 * paths in it that do not fit are refused. With SS_SCRATCH_PROBE_FAIL set, the probe test fails an assertion
 * after making a folder in it, so its checked teardown does not run (Check forks each test): the way a failing
 * test leaves files behind, which tests/check_scratch.sh runs through make check's wrapper. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void write_file(const char *path)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs("scratch\n", f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

/* ss_scratch_remove removes a whole tree whatever its names hold (a quote ended the shell's `rm -rf '%s'` the
 * tests used before), removes symbolic links without following them, and counts a missing path as removed. */
START_TEST(remove_takes_the_tree_and_nothing_else)
{
	char top[512], outside[512], p[700];
	ck_assert_int_eq(ss_scratch_path(top, sizeof top, "ss-rm-it's \"quoted\" $(x)-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(top));
	ck_assert_int_eq(ss_scratch_path(outside, sizeof outside, "ss-rm-outside-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(outside));
	snprintf(p, sizeof p, "%s/kept", outside);
	write_file(p);
	snprintf(p, sizeof p, "%s/a'b", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/a'b/c d", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	snprintf(p, sizeof p, "%s/a'b/c d/file", top);
	write_file(p);
	snprintf(p, sizeof p, "%s/link-out", top); /* a link to a folder outside: removed, not followed */
	ck_assert_int_eq(symlink(outside, p), 0);
	snprintf(p, sizeof p, "%s/dangling", top);
	ck_assert_int_eq(symlink("/nonexistent/nothing", p), 0);
	snprintf(p, sizeof p, "%s/a'b/empty", top);
	ck_assert_int_eq(mkdir(p, 0700), 0);

	ck_assert_int_eq(ss_scratch_remove(top), 0);
	struct stat st;
	ck_assert_msg(lstat(top, &st) != 0 && errno == ENOENT, "%s is still there", top);
	snprintf(p, sizeof p, "%s/kept", outside);
	ck_assert_msg(stat(p, &st) == 0, "the link's target %s was removed", p);
	ck_assert_int_eq(ss_scratch_remove(top), 0); /* already gone */
	ck_assert_int_eq(ss_scratch_remove(p), 0);   /* a plain file */
	ck_assert_int_ne(stat(p, &st), 0);
	ck_assert_int_eq(ss_scratch_remove(outside), 0);
	ck_assert_int_ne(stat(outside, &st), 0);
	errno = 0;
	ck_assert_int_eq(ss_scratch_remove(""), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static char probe[512];

static void probe_setup(void)
{
	ck_assert_int_eq(ss_scratch_path(probe, sizeof probe, "ss-probe-XXXXXX"), 0);
	ck_assert_ptr_nonnull(mkdtemp(probe));
}

static void probe_teardown(void)
{
	char path[600];
	snprintf(path, sizeof path, "%s/data", probe);
	unlink(path);
	ck_assert_int_eq(rmdir(probe), 0);
}

/* Writes a file into its folder, which the teardown removes; fails first when SS_SCRATCH_PROBE_FAIL is set. */
START_TEST(probe_leaves_nothing_when_it_passes)
{
	char path[600];
	snprintf(path, sizeof path, "%s/data", probe);
	write_file(path);
	ck_assert_msg(getenv("SS_SCRATCH_PROBE_FAIL") == NULL, "failing on purpose (SS_SCRATCH_PROBE_FAIL): %s kept",
		      probe);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("scratch");
	TCase *tc = tcase_create("dir");
	tcase_add_test(tc, dir_is_tmpdir_else_tmp);
	tcase_add_test(tc, path_fits_or_is_refused);
	tcase_add_test(tc, remove_takes_the_tree_and_nothing_else);
	suite_add_tcase(s, tc);
	tc = tcase_create("probe");
	tcase_add_checked_fixture(tc, probe_setup, probe_teardown);
	tcase_add_test(tc, probe_leaves_nothing_when_it_passes);
	suite_add_tcase(s, tc);
	/* Forking, as make check runs every suite: the environment changes stay in their test's process, and a
	 * failed assertion ends the test's process before its teardown. */
	return ss_check_run_forking(s, CK_FORK);
}
