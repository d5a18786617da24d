/* Key relations after mir_eval.key.weighted_score (without descending fifths, its default). */
#include "tools/keycmp.h"

#include <assert.h>

tool_key_rel tool_key_relation(int ek, int em, int rk, int rm)
{
	assert(rk >= 0 && rk < 12 && (rm == 0 || rm == 1));
	if (ek < 0 || ek >= 12 || (em != 0 && em != 1))
		return TOOL_KEY_OTHER;
	int up = (ek - rk + 12) % 12; /* semitones from the label's tonic up to the estimate's */
	if (em == rm) {
		if (up == 0)
			return TOOL_KEY_SAME;
		if (up == 7)
			return TOOL_KEY_FIFTH;
		if (up == 5)
			return TOOL_KEY_FOURTH;
		return TOOL_KEY_OTHER;
	}
	if ((rm == 1 && up == 9) || (rm == 0 && up == 3))
		return TOOL_KEY_RELATIVE;
	if (up == 0)
		return TOOL_KEY_PARALLEL;
	return TOOL_KEY_OTHER;
}

double tool_key_weight(tool_key_rel rel)
{
	static const double w[TOOL_KEY_NREL] = {1.0, 0.5, 0.0, 0.3, 0.2, 0.0};
	assert(rel >= 0 && rel < TOOL_KEY_NREL);
	return w[rel];
}

const char *tool_key_rel_name(tool_key_rel rel)
{
	static const char *const names[TOOL_KEY_NREL] = {"same", "fifth", "fourth", "relative", "parallel", "other"};
	assert(rel >= 0 && rel < TOOL_KEY_NREL);
	return names[rel];
}
