/* A small W3C WebDriver client for the browser tests: Debian's chromedriver driving Debian's headless
 * Chromium, on a free loopback port, spoken to with libcurl and json-c. Every call aborts the test (ck_abort)
 * when the driver answers with an error, with the driver's message. */
#ifndef SS_TESTS_WEBDRIVER_H
#define SS_TESTS_WEBDRIVER_H

#include <stdbool.h>
#include <sys/types.h>

#include <json-c/json.h>

typedef struct ss_wd {
	pid_t driver_pid;     /* chromedriver, 0 when not running */
	int port;             /* its loopback port */
	char sid[128];        /* the WebDriver sessionId of the browser */
	char profile[256];    /* Chromium's throwaway profile directory (removed by ss_wd_stop) */
	char log[320];        /* chromedriver's log file, in the profile's parent temp dir */
} ss_wd;

/* Paths of the Chromium and chromedriver binaries ($SS_CHROMIUM, $SS_CHROMEDRIVER, else /usr/bin/chromium and
 * /usr/bin/chromedriver), or NULL when the file is not executable. */
const char *ss_wd_chromium(void);
const char *ss_wd_chromedriver(void);

/* Start chromedriver and a headless Chromium (window width x height). Aborts the test on failure. */
void ss_wd_start(ss_wd *wd, int width, int height);

/* Close the browser, stop chromedriver (SIGTERM, bounded wait, SIGKILL) and remove the profile. */
void ss_wd_stop(ss_wd *wd);

/* Load url and wait for the document to be loaded. */
void ss_wd_navigate(ss_wd *wd, const char *url);

/* Run script (a function body; `arguments` holds args, a JSON array or NULL) and return its value (caller
 * puts; NULL for null/undefined). */
json_object *ss_wd_exec(ss_wd *wd, const char *script, json_object *args);

/* The same for a script returning a string (copied into out) or a number. */
void ss_wd_exec_string(ss_wd *wd, const char *script, char *out, size_t outlen);
double ss_wd_exec_number(ss_wd *wd, const char *script);

/* Poll (bounded: timeout_s seconds, short pauses between looks) until script returns true. Returns true when
 * it did, false on timeout. */
bool ss_wd_wait(ss_wd *wd, const char *script, double timeout_s);

/* Type text into the element matching the CSS selector (for a file input: a file path to pick). */
void ss_wd_type(ss_wd *wd, const char *css, const char *text);

/* Click the element matching the CSS selector. */
void ss_wd_click(ss_wd *wd, const char *css);

/* The browser console's entries since the last call: an array of {level, message, timestamp} (caller puts). */
json_object *ss_wd_console(ss_wd *wd);

/* Save a PNG screenshot of the page to path. */
void ss_wd_screenshot(ss_wd *wd, const char *path);

#endif
