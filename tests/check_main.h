/* The body every Check suite's main() shares. */
#ifndef SS_TESTS_CHECK_MAIN_H
#define SS_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdlib.h>

/* Run suite s (fork mode, normal output) and return the process exit status: EXIT_SUCCESS when every
 * test passed. Takes ownership of s. */
static inline int ss_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
