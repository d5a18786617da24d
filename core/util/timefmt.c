#include "core/util/timefmt.h"

#include <stdio.h>

void ss_time_format_utc(time_t t, char out[SS_TIME_STR_LEN])
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL || strftime(out, SS_TIME_STR_LEN, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, SS_TIME_STR_LEN, "1970-01-01 00:00:00");
}

int ss_time_parse_utc(const char *s, time_t *out)
{
	int y, mo, d, h, mi, se, n = -1;
	if (s == NULL || sscanf(s, "%4d-%2d-%2d %2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &se, &n) != 6 || n != 19 ||
	    s[n] != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60 ||
	    h < 0 || mi < 0 || se < 0)
		return -1;
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = se};
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	*out = t;
	return 0;
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
