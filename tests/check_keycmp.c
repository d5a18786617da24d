/* The key relations of songscope-score (tools/keycmp.c) against mir_eval's definitions, over all 24 x 24
 * pairs of labelled and estimated keys. */
#include <check.h>
#include <stdlib.h>

#include "tools/keycmp.h"
#include "tests/check_main.h"

/* Every pair: the relation follows from the interval and the modes alone, each label has exactly one
 * estimate in each named relation, and the weights are mir_eval's. */
START_TEST(test_all_pairs)
{
	for (int rk = 0; rk < 12; rk++)
		for (int rm = 0; rm <= 1; rm++) {
			int count[TOOL_KEY_NREL] = {0};
			for (int ek = 0; ek < 12; ek++)
				for (int em = 0; em <= 1; em++) {
					tool_key_rel rel = tool_key_relation(ek, em, rk, rm);
					int up = (ek - rk + 12) % 12;
					tool_key_rel want = TOOL_KEY_OTHER;
					if (em == rm && up == 0)
						want = TOOL_KEY_SAME;
					else if (em == rm && up == 7)
						want = TOOL_KEY_FIFTH;
					else if (em == rm && up == 5)
						want = TOOL_KEY_FOURTH;
					else if (rm == 1 && em == 0 && up == 9)
						want = TOOL_KEY_RELATIVE;
					else if (rm == 0 && em == 1 && up == 3)
						want = TOOL_KEY_RELATIVE;
					else if (em != rm && up == 0)
						want = TOOL_KEY_PARALLEL;
					ck_assert_msg(rel == want, "label %d/%d estimate %d/%d: %s, want %s", rk, rm, ek, em,
						      tool_key_rel_name(rel), tool_key_rel_name(want));
					count[rel]++;
				}
			for (int k = 0; k < TOOL_KEY_OTHER; k++)
				ck_assert_int_eq(count[k], 1);
			ck_assert_int_eq(count[TOOL_KEY_OTHER], 24 - TOOL_KEY_OTHER);
		}
}
END_TEST

/* Named cases (1 major, 0 minor; C = 0). */
START_TEST(test_named)
{
	enum { C = 0, D = 2, E = 4, F = 5, G = 7, A = 9, B = 11 };
	ck_assert_int_eq(tool_key_relation(C, 1, C, 1), TOOL_KEY_SAME);
	ck_assert_int_eq(tool_key_relation(G, 1, C, 1), TOOL_KEY_FIFTH);     /* C major read as G major */
	ck_assert_int_eq(tool_key_relation(F, 1, C, 1), TOOL_KEY_FOURTH);    /* C major read as F major */
	ck_assert_int_eq(tool_key_relation(A, 0, C, 1), TOOL_KEY_RELATIVE);  /* C major read as A minor */
	ck_assert_int_eq(tool_key_relation(C, 1, A, 0), TOOL_KEY_RELATIVE);  /* A minor read as C major */
	ck_assert_int_eq(tool_key_relation(C, 0, C, 1), TOOL_KEY_PARALLEL);  /* C major read as C minor */
	ck_assert_int_eq(tool_key_relation(E, 0, A, 0), TOOL_KEY_FIFTH);     /* A minor read as E minor */
	ck_assert_int_eq(tool_key_relation(D, 0, A, 0), TOOL_KEY_FOURTH);    /* A minor read as D minor */
	ck_assert_int_eq(tool_key_relation(E, 0, C, 1), TOOL_KEY_OTHER);     /* mediant minor */
	ck_assert_int_eq(tool_key_relation(G, 0, C, 1), TOOL_KEY_OTHER);     /* the dominant's other mode */
	ck_assert_int_eq(tool_key_relation(B, 1, C, 1), TOOL_KEY_OTHER);
	ck_assert_int_eq(tool_key_relation(C, 1, B, 0), TOOL_KEY_OTHER);     /* Neapolitan-ish, not relative */
	ck_assert_int_eq(tool_key_relation(-1, -1, C, 1), TOOL_KEY_OTHER);   /* no estimate */
	ck_assert_int_eq(tool_key_relation(12, 1, C, 1), TOOL_KEY_OTHER);
	ck_assert_int_eq(tool_key_relation(C, 2, C, 1), TOOL_KEY_OTHER);
	/* wrap-around: B major's fifth is F# major, its fourth E major */
	ck_assert_int_eq(tool_key_relation(6, 1, B, 1), TOOL_KEY_FIFTH);
	ck_assert_int_eq(tool_key_relation(E, 1, B, 1), TOOL_KEY_FOURTH);
	/* mir_eval's weights */
	ck_assert(tool_key_weight(TOOL_KEY_SAME) == 1.0);
	ck_assert(tool_key_weight(TOOL_KEY_FIFTH) == 0.5);
	ck_assert(tool_key_weight(TOOL_KEY_FOURTH) == 0.0);
	ck_assert(tool_key_weight(TOOL_KEY_RELATIVE) == 0.3);
	ck_assert(tool_key_weight(TOOL_KEY_PARALLEL) == 0.2);
	ck_assert(tool_key_weight(TOOL_KEY_OTHER) == 0.0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("keycmp");
	TCase *tc = tcase_create("relations");
	tcase_add_test(tc, test_all_pairs);
	tcase_add_test(tc, test_named);
	suite_add_tcase(s, tc);
	return ss_check_run(s);
}
