#include "core/util/timefmt.h"

#include <stdio.h>

void ss_time_format_utc(time_t t, char out[SS_TIME_STR_LEN])
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, SS_TIME_STR_LEN, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, SS_TIME_STR_LEN, "1970-01-01 00:00:00");
}

double ss_time_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double ss_time_mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int64_t ss_time_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}
