#include "core/util/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static ss_log_level log_level = SS_LOG_INFO;
static bool log_syslog;
static int log_journal = -1; /* -1: not looked yet */

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void ss_log_set_level(ss_log_level level)
{
	log_level = level;
}

ss_log_level ss_log_get_level(void)
{
	return log_level;
}

void ss_log_use_syslog(bool on)
{
	if (on && !log_syslog)
		openlog("songscope", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = on;
}

bool ss_log_detect_journal(void)
{
	/* systemd.exec(5): JOURNAL_STREAM is "DEVICE:INODE" of the stream it connected; a child whose stderr
	 * went elsewhere inherits the variable, hence the comparison. */
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	char tail;
	struct stat st;
	log_journal = v != NULL && sscanf(v, "%llu:%llu%c", &dev, &ino, &tail) == 2 && fstat(STDERR_FILENO, &st) == 0 &&
		      (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	return log_journal == 1;
}

int ss_log_level_parse(const char *s, ss_log_level *out)
{
	for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (ss_log_level)i;
			return 0;
		}
	}
	return -1;
}

void ss_log(ss_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* One event per line, and nothing a terminal would act on: fold every control character a caller let
	 * through (a newline, an escape sequence from a client's header) to a space. */
	for (char *p = msg; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7F)
			*p = ' ';

	if (log_syslog) {
		static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
		syslog(prio[level], "%s: %s", level_names[level], msg);
		return;
	}
	if (log_journal < 0)
		ss_log_detect_journal();
	if (log_journal) {
		/* sd-daemon(3) prefixes: the journal records time, pid and priority itself. */
		static const int prio[] = {3, 4, 6, 7};
		fprintf(stderr, "<%d>%s: %s\n", prio[level], level_names[level], msg);
		return;
	}
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ songscope[%ld] %s: %s\n", when, ts.tv_nsec / 1000000L, (long)getpid(),
		level_names[level], msg);
}
