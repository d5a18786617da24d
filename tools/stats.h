/* Small statistics the measuring tools share. */
#ifndef SS_TOOLS_STATS_H
#define SS_TOOLS_STATS_H

#include <stddef.h>

/* The median of v[0..n) (the mean of the middle two for even n), sorting v in place; NaN when n is 0. */
double tool_median(double *v, size_t n);

/* The q-quantile (0..1) of v[0..n) by the nearest rank (the ceil(q * n)-th smallest), sorting v in place; NaN when n
 * is 0. */
double tool_quantile(double *v, size_t n, double q);

#endif
