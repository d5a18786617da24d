/* Clocks and the API's time format. */
#ifndef SS_UTIL_TIMEFMT_H
#define SS_UTIL_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define SS_TIME_STR_LEN 20 /* "YYYY-MM-DD HH:MM:SS" + NUL */

/* Format t as UTC "YYYY-MM-DD HH:MM:SS" into out (at least SS_TIME_STR_LEN bytes). */
void ss_time_format_utc(time_t t, char out[SS_TIME_STR_LEN]);

/* Parse UTC "YYYY-MM-DD HH:MM:SS", as ss_time_format_utc writes it (nothing before or after it). Returns 0 with
 * *out the seconds since the epoch, or -1 for any other text or a field out of its range. */
int ss_time_parse_utc(const char *s, time_t *out);

/* Seconds since the epoch, as a double (CLOCK_REALTIME). */
double ss_time_now(void);

/* Monotonic seconds (CLOCK_MONOTONIC), for durations. */
double ss_time_mono(void);

/* Nanoseconds since the epoch (CLOCK_REALTIME). */
int64_t ss_time_now_ns(void);

#endif
