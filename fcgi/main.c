/* songscope.fcgi: the FastCGI responder. Serves fd 0 (spawn-fcgi, lighttpd bin-path, mod_fcgid) or, with
 * --listen/--workers, runs its own master that preforks and supervises responders. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "core/audio/decode.h"
#include "core/config/config.h"
#include "core/store/store.h"
#include "core/util/log.h"
#include "core/util/strnum.h"
#include "core/util/timefmt.h"
#include "fcgi/context.h"
#include "fcgi/datadir.h"
#include "fcgi/listen.h"
#include "fcgi/master.h"
#include "fcgi/privileges.h"
#include "fcgi/responder.h"

#define DEFAULT_CONFIG SS_SYSCONFDIR "/songscope/songscope.conf"

static void usage(FILE *f)
{
	static ss_config defaults;
	ss_config_defaults(&defaults);
	fprintf(f,
		"usage: songscope.fcgi [--config FILE] [--listen PATH|HOST:PORT] [--workers N]\n"
		"                      [--allow-root] [--check-config] [--version] [--help]\n"
		"\n"
		"  --config FILE     configuration file (default " DEFAULT_CONFIG " when it exists)\n"
		"  --listen SPEC     open this FastCGI socket (unix path, mode 0660, or HOST:PORT) and run a\n"
		"                    master that preforks and supervises responders\n"
		"  --workers N       number of responders (default: `workers` from the config); implies the\n"
		"                    master, on the socket inherited on fd 0 when --listen is not given\n"
		"  --allow-root      run as root when the configuration sets no `user` to drop to\n"
		"                    (refused otherwise)\n"
		"  --check-config    validate the configuration and check that the database and state file\n"
		"                    can be used (their directories exist or can be created, and are writable\n"
		"                    by the user the service runs as), then exit (0 usable, 2 not)\n"
		"  --version         print the version and exit\n"
		"  --help            print this help and exit\n"
		"\n"
		"Built-in defaults (when the configuration does not set them):\n"
		"  database          %s\n"
		"  state_file        %s\n"
		"  ui_dir            %s\n"
		"\n"
		"Without --listen or --workers, serves the FastCGI socket inherited on fd 0 as one responder\n"
		"(spawn-fcgi, lighttpd bin-path, Apache mod_fcgid).\n"
		"Signals: TERM/INT stop gracefully, HUP re-reads the configuration and replaces the responders.\n",
		defaults.database, defaults.state_file, defaults.ui_dir);
}

/* Logged once per process: the first AAC/M4A file (or the preload) that finds FFmpeg missing. Children forked
 * after a failed preload inherit the failure and do not try again. */
static void ffmpeg_load_failed(const char *reason)
{
	ss_log_warn("AAC/M4A decoding is unavailable (uploads of it are answered 415): cannot load FFmpeg: %s",
		    reason);
}

/* preload_ffmpeg: load FFmpeg now, before any fork, so every responder shares the mapped libraries instead of
 * each loading them at its first AAC/M4A file. auto: when this build has FFmpeg, and go on without it if it
 * cannot be loaded; yes: the same but refuse to start; no: each responder loads it at its first AAC/M4A file.
 * Returns 0, or -1 when the service must not start. */
static int preload_ffmpeg(const ss_config *cfg)
{
	ss_audio_ffmpeg_on_load_failure(ffmpeg_load_failed);
	if (strcmp(cfg->preload_ffmpeg, "no") == 0)
		return 0;
	ss_error err;
	ss_error_clear(&err);
	int rc = ss_audio_ffmpeg_preload(&err);
	if (rc == 1 && strcmp(cfg->preload_ffmpeg, "yes") == 0) {
		ss_log_error("preload_ffmpeg = yes, but this build has no FFmpeg (configured --with-ffmpeg=no or without "
			     "its development files); refusing to start");
		return -1;
	}
	if (rc < 0 && strcmp(cfg->preload_ffmpeg, "yes") == 0) {
		ss_log_error("preload_ffmpeg = yes and FFmpeg cannot be loaded; refusing to start");
		return -1;
	}
	if (rc == 0)
		ss_log_debug("FFmpeg loaded for AAC/M4A before the responders start");
	return 0;
}

/* Is the configured store backend one this build has? Checked at start, so that a responder never starts
 * only to fail (and be restarted) for it. Connects to nothing. Returns 0 or -1 with err. */
static int check_store_backend(const ss_config *cfg, ss_error *err)
{
	ss_store_params sp;
	ss_store_params_from_config(cfg, &sp);
	ss_store *s = NULL;
	if (ss_store_new(&sp, &s, err) != 0)
		return -1;
	ss_store_close(s);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'}, {"listen", required_argument, NULL, 'l'},
		{"workers", required_argument, NULL, 'w'}, {"check-config", no_argument, NULL, 'C'},
		{"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'},
		{"allow-root", no_argument, NULL, 'R'},   {NULL, 0, NULL, 0}};
	const char *config_path = NULL;
	const char *listen = NULL;
	int workers = 0;
	int check_only = 0;
	bool allow_root = false;
	int c;

	while ((c = getopt_long(argc, argv, "c:l:w:CVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 'w': {
			int64_t v;
			if (ss_parse_i64(optarg, 1, 256, &v) != 0) {
				fprintf(stderr, "songscope.fcgi: --workers expects a number from 1 to 256\n");
				return 2;
			}
			workers = (int)v;
			break;
		}
		case 'C':
			check_only = 1;
			break;
		case 'R':
			allow_root = true;
			break;
		case 'V':
			printf("songscope.fcgi %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "songscope.fcgi: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	static ss_config cfg;
	ss_error err;
	ss_error_clear(&err);
	ss_config_defaults(&cfg);
	if (config_path == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
		config_path = DEFAULT_CONFIG;
	if ((config_path != NULL && ss_config_load(&cfg, config_path, &err) != 0) ||
	    ss_config_validate(&cfg, &err) != 0 || check_store_backend(&cfg, &err) != 0) {
		fprintf(stderr, "songscope.fcgi: %s\n", err.msg);
		return 2;
	}
	ss_priv priv;
	if (check_only) {
		/* The data files as the service will use them: as `user` when started as root with one. Root without
		 * one is checked as root (whether it may run so is --allow-root's business at start-up). */
		memset(&priv, 0, sizeof priv);
		if ((cfg.user[0] != '\0' && ss_priv_plan(&cfg, true, &priv, &err) != 0) ||
		    ss_datadir_check(&priv, &cfg, false, &err) != 0) {
			fprintf(stderr, "songscope.fcgi: %s\n", err.msg);
			return 2;
		}
		printf("%s: configuration is valid; database %s and state file %s are usable\n",
		       config_path ? config_path : "built-in defaults", cfg.database, cfg.state_file);
		return 0;
	}

	ss_log_level lvl = SS_LOG_INFO;
	ss_log_level_parse(cfg.log_level, &lvl);
	ss_log_set_level(lvl);
	if (strcmp(cfg.log_target, "syslog") == 0)
		ss_log_use_syslog(true);
	if (cfg.auth == SS_AUTH_OFF)
		ss_log_warn("auth = off: every endpoint is open without an API key; use this for local development only");

	/* Never decode untrusted audio as root by accident: drop to `user`, or refuse without --allow-root. */
	if (ss_priv_plan(&cfg, allow_root, &priv, &err) != 0) {
		ss_log_error("%s", err.msg);
		return 2;
	}
	/* Before any socket, file or READY=1: a database or state file that cannot be used stops the service
	 * here with the reason, instead of a ready master whose responders all fail. */
	if (ss_datadir_check(&priv, &cfg, true, &err) != 0) {
		ss_log_error("%s", err.msg);
		return 1;
	}

	if (preload_ffmpeg(&cfg) != 0)
		return 1;

	if (listen != NULL || workers > 0) {
		ss_master_opts mo = {.config_path = config_path, .listen = listen, .workers = workers, .priv = &priv};
		return ss_master_run(&mo, &cfg);
	}

	if (!ss_fd_is_listening_socket(0)) {
		fprintf(stderr, "songscope.fcgi: no FastCGI socket on standard input; run it from a web server or\n"
				"spawn-fcgi, or use --listen PATH to run standalone (see --help)\n");
		return 2;
	}
	char why[256];
	if (!cfg.listen_allow_remote && !ss_listen_fd_is_local(0, why, sizeof why)) {
		ss_log_error("%s; refusing: listen on a unix socket or 127.0.0.1, or set listen_allow_remote = true", why);
		return 2;
	}
	if (ss_priv_prepare_files(&priv, &cfg, NULL, &err) != 0 || ss_priv_drop(&priv, &cfg, &err) != 0) {
		ss_log_error("%s", err.msg);
		return 1;
	}
	ss_ctx_params cp = {.cfg = &cfg, .config_path = config_path, .service_started_at = ss_time_now(), .master_pid = 0};
	return ss_responder_run(&cp, 0, cfg.max_requests);
}
