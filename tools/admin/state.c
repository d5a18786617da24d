/* songscope-admin state: what the shared state file says now. */
#include <stdio.h>
#include <time.h>

#include "core/limits/state.h"
#include "core/util/jsonutil.h"
#include "core/util/timefmt.h"
#include "tools/admin/admin.h"

typedef admin_opts opts;

int admin_cmd_state(const admin_opts *o, const ss_config *cfg)
{
	if (o->npos != 1)
		return admin_usage_error("%s", "state takes no arguments");
	ss_state *st = NULL;
	ss_error err;
	if (ss_state_attach(cfg->state_file, &st, &err) != 0) {
		fprintf(stderr, "songscope-admin: %s\n", err.msg);
		return EXIT_FAIL;
	}
	pid_t holder = 0;
	int64_t held_ms = 0;
	bool held = ss_state_lock_holder(st, &holder, &held_ms);
	int64_t rebuilt_ns = 0;
	char reason[128] = "";
	bool rebuilt = ss_state_rebuild_info(st, &rebuilt_ns, reason, sizeof reason);
	long long alive = ss_state_responders_alive(st);
	unsigned long long repairs = (unsigned long long)ss_state_repairs(st);
	unsigned long long killed = (unsigned long long)ss_state_counter_get(st, SS_STATE_COUNTER_HOLDERS_KILLED);
	unsigned long long generation = (unsigned long long)ss_state_key_generation(st);
	bool usable = ss_state_is_usable(st);
	ss_state_close(st);
	char when[SS_TIME_STR_LEN] = "";
	if (rebuilt)
		ss_time_format_utc((time_t)(rebuilt_ns / 1000000000LL), when);
	if (o->json) {
		json_object *j = json_object_new_object();
		if (j == NULL || ss_json_add_string(j, "path", cfg->state_file) || ss_json_add_bool(j, "usable", usable) ||
		    ss_json_add_int(j, "responders_alive", alive) ||
		    ss_json_add_int(j, "lock_holder_pid", held ? (int64_t)holder : 0) ||
		    ss_json_add_int(j, "lock_held_ms", held ? held_ms : 0) ||
		    ss_json_add_int(j, "lock_repairs", (int64_t)repairs) ||
		    ss_json_add_int(j, "lock_holders_killed", (int64_t)killed) ||
		    ss_json_add_int(j, "key_generation", (int64_t)generation) ||
		    (rebuilt && (ss_json_add_string(j, "rebuilt_at", when) || ss_json_add_string(j, "rebuilt_reason", reason)))) {
			json_object_put(j);
			return EXIT_FAIL;
		}
		admin_print_json(j);
		return 0;
	}
	printf("path:                %s\n", cfg->state_file);
	printf("usable:              %s\n", usable ? "yes" : "no");
	printf("responders_alive:    %lld\n", alive);
	if (held)
		printf("lock_holder:         pid %ld for %lld ms\n", (long)holder, (long long)held_ms);
	else
		printf("lock_holder:         none\n");
	printf("lock_repairs:        %llu\n", repairs);
	printf("lock_holders_killed: %llu\n", killed);
	printf("key_generation:      %llu\n", generation);
	if (rebuilt)
		printf("rebuilt:             %s UTC (%s)\n", when, reason);
	return 0;
}

