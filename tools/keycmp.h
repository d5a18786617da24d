/* How an estimated key relates to a labelled one, as mir_eval's key evaluation sees it (weighted score:
 * 1 same, 0.5 a perfect fifth above in the same mode, 0.3 relative, 0.2 parallel, else 0), plus the fourth
 * (the estimate a perfect fifth below, the subdominant), which scores 0 but is worth counting apart. */
#ifndef SS_TOOLS_KEYCMP_H
#define SS_TOOLS_KEYCMP_H

typedef enum tool_key_rel {
	TOOL_KEY_SAME,     /* same tonic, same mode */
	TOOL_KEY_FIFTH,    /* same mode, estimate's tonic 7 semitones above the label's (C major read as G major) */
	TOOL_KEY_FOURTH,   /* same mode, estimate's tonic 5 semitones above the label's (C major read as F major) */
	TOOL_KEY_RELATIVE, /* major label read as its relative minor (tonic 9 up) or minor as relative major (3 up) */
	TOOL_KEY_PARALLEL, /* same tonic, other mode */
	TOOL_KEY_OTHER,    /* anything else, including no estimate */
	TOOL_KEY_NREL
} tool_key_rel;

/* Relation of estimate (ek 0..11 from C, em 1 major / 0 minor, as in result.h) to label (rk, rm). A negative or
 * out-of-range estimate is TOOL_KEY_OTHER; the label must be valid (asserted). */
tool_key_rel tool_key_relation(int ek, int em, int rk, int rm);

/* mir_eval's weight of a relation: 1, 0.5, 0, 0.3, 0.2, 0 in enum order. */
double tool_key_weight(tool_key_rel rel);

/* Short static name of a relation: "same", "fifth", "fourth", "relative", "parallel", "other". */
const char *tool_key_rel_name(tool_key_rel rel);

#endif
