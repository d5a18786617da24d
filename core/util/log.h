/* One line per event, to stderr or syslog, filtered by level, tagged with the process id. Under systemd
 * with stderr connected to the journal, lines carry sd-daemon priorities instead of a timestamp. */
#ifndef SS_UTIL_LOG_H
#define SS_UTIL_LOG_H

#include <stdbool.h>

typedef enum ss_log_level {
	SS_LOG_ERROR = 0,
	SS_LOG_WARN,
	SS_LOG_INFO,
	SS_LOG_DEBUG
} ss_log_level;

/* Set the threshold: events above it are dropped. Default SS_LOG_INFO. */
void ss_log_set_level(ss_log_level level);

/* Send events to syslog (facility daemon, ident "songscope") instead of stderr. */
void ss_log_use_syslog(bool on);

/* Look at JOURNAL_STREAM: when it names the device and inode of standard error (systemd connected it to the
 * journal), events are written as "<N>level: message" with sd-daemon(3) priorities (3 error, 4 warn, 6 info,
 * 7 debug) and no timestamp or pid of their own, which the journal records; otherwise as
 * "TIME songscope[PID] level: message". Done by the first ss_log; call it again after redirecting stderr.
 * Returns whether lines go to the journal. */
bool ss_log_detect_journal(void);

/* Parse "error|warn|info|debug". Returns 0 and sets *out, or -1. */
int ss_log_level_parse(const char *s, ss_log_level *out);

/* Current threshold. */
ss_log_level ss_log_get_level(void);

/* Log one event (at most 1023 bytes; control characters become spaces). The message must never contain a full
 * API key: log its display prefix instead. */
void ss_log(ss_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ss_log_error(...) ss_log(SS_LOG_ERROR, __VA_ARGS__)
#define ss_log_warn(...) ss_log(SS_LOG_WARN, __VA_ARGS__)
#define ss_log_info(...) ss_log(SS_LOG_INFO, __VA_ARGS__)
#define ss_log_debug(...) ss_log(SS_LOG_DEBUG, __VA_ARGS__)

#endif
