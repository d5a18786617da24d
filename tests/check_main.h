/* The body every Check suite's main() shares. */
#ifndef SS_TESTS_CHECK_MAIN_H
#define SS_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* Run suite s with normal output, in the given fork mode (CK_FORK_GETENV: as the CK_FORK environment
 * variable says, Check's default), and return the process exit status: EXIT_SUCCESS when every test passed.
 * Takes ownership of s. */
static inline int ss_check_run_forking(Suite *s, enum fork_status fork)
{
	SRunner *sr = srunner_create(s);
	srunner_set_fork_status(sr, fork);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ss_check_run_forking in Check's default fork mode. */
static inline int ss_check_run(Suite *s)
{
	return ss_check_run_forking(s, CK_FORK_GETENV);
}

#endif
