/* API usage on SQLite: table api_usage, keys' last_used, and the usage journal marks (usage_journal). */
#include "core/store/sqlite/sqlite.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/util/timefmt.h"

static const char SQL_INSERT[] =
	"INSERT INTO api_usage (api_key_id, endpoint, status, timestamp)"
	" SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM api_keys WHERE id = ?1)";
static const char SQL_LAST_USED[] =
	"UPDATE api_keys SET last_used = ?2 WHERE id = ?1 AND (last_used IS NULL OR last_used < ?2)";
static const char SQL_MARK[] =
	"INSERT INTO usage_journal (journal_id, last_seq) VALUES (?1, ?2) ON CONFLICT (journal_id) DO UPDATE SET"
	" last_seq = max(last_seq, excluded.last_seq), updated_at = excluded.updated_at";
static const char SQL_MARK_GET[] = "SELECT last_seq FROM usage_journal WHERE journal_id = ?1";
static const char SQL_DAY_COUNTS[] =
	"SELECT api_key_id, count(*) FROM api_usage WHERE timestamp >= ?1 AND timestamp < ?2 AND status <> 429"
	" GROUP BY api_key_id";
static const char SQL_KEY_STATS[] =
	"SELECT count(*), coalesce(sum(status < 400), 0), coalesce(sum(timestamp >= ?2 AND timestamp < ?3), 0)"
	" FROM api_usage WHERE api_key_id = ?1";
static const char SQL_RECENT[] =
	"SELECT endpoint, status, timestamp FROM api_usage WHERE api_key_id = ?1 ORDER BY id DESC LIMIT ?2";
static const char SQL_SUMMARY[] =
	"SELECT k.id, k.name, k.prefix, count(*), coalesce(sum(u.status < 400), 0)"
	" FROM api_usage u JOIN api_keys k ON k.id = u.api_key_id WHERE u.timestamp >= ?1"
	" GROUP BY k.id ORDER BY k.id";

#define db_fail ss_sqlite_fail

static void day_bounds(int64_t day, char from[SS_TIME_STR_LEN], char to[SS_TIME_STR_LEN])
{
	ss_time_format_utc((time_t)(day * 86400), from);
	ss_time_format_utc((time_t)((day + 1) * 86400), to);
}

int ss_sqlite_usage_write(ss_store *s, const ss_usage_row *rows, size_t n, int64_t journal_id, int64_t last_seq,
			  ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	if (n == 0 && journal_id == 0)
		return 0;
	if (ss_db_begin(db, err) != 0)
		return -1;
	char ts[SS_TIME_STR_LEN];
	for (size_t i = 0; i < n; i++) {
		const ss_usage_row *r = &rows[i];
		sqlite3_stmt *st = ss_db_prepare(db, SQL_INSERT);
		if (st == NULL)
			goto fail;
		ss_time_format_utc((time_t)r->time_s, ts);
		sqlite3_bind_int64(st, 1, r->key_id);
		sqlite3_bind_text(st, 2, r->endpoint, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, r->status);
		sqlite3_bind_text(st, 4, ts, -1, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	/* last_used: the newest row per key (rows are in time order, so the last one of each key wins). */
	for (size_t i = 0; i < n; i++) {
		bool newer_follows = false;
		for (size_t j = i + 1; j < n && !newer_follows; j++)
			newer_follows = rows[j].key_id == rows[i].key_id;
		if (newer_follows)
			continue;
		sqlite3_stmt *st = ss_db_prepare(db, SQL_LAST_USED);
		if (st == NULL)
			goto fail;
		ss_time_format_utc((time_t)rows[i].time_s, ts);
		sqlite3_bind_int64(st, 1, rows[i].key_id);
		sqlite3_bind_text(st, 2, ts, -1, SQLITE_TRANSIENT);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (journal_id != 0) {
		sqlite3_stmt *st = ss_db_prepare(db, SQL_MARK);
		if (st == NULL)
			goto fail;
		sqlite3_bind_int64(st, 1, journal_id);
		sqlite3_bind_int64(st, 2, last_seq);
		int rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE)
			goto fail;
	}
	if (ss_db_commit(db, err) != 0) {
		ss_db_rollback(db);
		return -1;
	}
	return 0;
fail:
	db_fail(db, err, "Cannot write API usage");
	ss_db_rollback(db);
	return -1;
}

int ss_sqlite_usage_journal_prune(ss_store *s, int days, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	char sql[160];
	snprintf(sql, sizeof sql,
		 "DELETE FROM usage_journal WHERE updated_at < strftime('%%Y-%%m-%%d %%H:%%M:%%S', 'now', '-%d days')",
		 days < 1 ? 1 : days);
	return ss_db_exec(db, sql, err);
}

int ss_sqlite_usage_journal_mark(ss_store *s, int64_t journal_id, int64_t *seq, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	*seq = 0;
	sqlite3_stmt *st = ss_db_prepare(db, SQL_MARK_GET);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the usage journal mark");
	sqlite3_bind_int64(st, 1, journal_id);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(db, err, "Cannot read the usage journal mark");
}

int ss_sqlite_usage_day_counts(ss_store *s, int64_t day, int (*fn)(void *arg, int64_t key_id, int64_t count),
			       void *arg, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	char from[SS_TIME_STR_LEN], to[SS_TIME_STR_LEN];
	day_bounds(day, from, to);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_DAY_COUNTS);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the usage count");
	sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, to, -1, SQLITE_TRANSIENT);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (fn(arg, sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1)) != 0) {
			sqlite3_reset(st);
			return -2;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, err, "Cannot count today's usage");
}

int ss_sqlite_usage_key_stats(ss_store *s, int64_t key_id, int64_t day, ss_usage_stats *out, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	char from[SS_TIME_STR_LEN], to[SS_TIME_STR_LEN];
	day_bounds(day, from, to);
	memset(out, 0, sizeof *out);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_KEY_STATS);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the usage statistics");
	sqlite3_bind_int64(st, 1, key_id);
	sqlite3_bind_text(st, 2, from, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, to, -1, SQLITE_TRANSIENT);
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->total = sqlite3_column_int64(st, 0);
		out->successful = sqlite3_column_int64(st, 1);
		out->requests_today = sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : db_fail(db, err, "Cannot read the usage statistics");
}

int ss_sqlite_usage_recent(ss_store *s, int64_t key_id, int limit,
			   int (*fn)(void *arg, const char *endpoint, int status, const char *timestamp), void *arg,
			   ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	sqlite3_stmt *st = ss_db_prepare(db, SQL_RECENT);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the recent usage query");
	sqlite3_bind_int64(st, 1, key_id);
	sqlite3_bind_int(st, 2, limit);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *e = sqlite3_column_text(st, 0), *t = sqlite3_column_text(st, 2);
		if (fn(arg, e ? (const char *)e : "", sqlite3_column_int(st, 1), t ? (const char *)t : "") != 0) {
			sqlite3_reset(st);
			return -2;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, err, "Cannot read recent usage");
}

int ss_sqlite_usage_summary(ss_store *s, int days,
			    int (*fn)(void *arg, int64_t key_id, const char *name, const char *prefix, int64_t total,
				      int64_t successful),
			    void *arg, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	if (days < 1)
		days = 1;
	int64_t today = (int64_t)(time(NULL) / 86400);
	char from[SS_TIME_STR_LEN];
	ss_time_format_utc((time_t)((today - days + 1) * 86400), from);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_SUMMARY);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the usage summary");
	sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *n = sqlite3_column_text(st, 1), *p = sqlite3_column_text(st, 2);
		if (fn(arg, sqlite3_column_int64(st, 0), n ? (const char *)n : "", p ? (const char *)p : "",
		       sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4)) != 0) {
			sqlite3_reset(st);
			return -2;
		}
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_fail(db, err, "Cannot summarise usage");
}

static const char SQL_ROWS[] =
	"SELECT api_key_id, endpoint, status, CAST(strftime('%s', timestamp) AS INTEGER) FROM api_usage"
	" WHERE timestamp >= ?1 ORDER BY id";

long long ss_sqlite_usage_rows(ss_store *s, int64_t from_s, int (*fn)(void *arg, const ss_usage_row *row),
			       void *arg, ss_error *err)
{
	ss_db *db = ss_sqlite_of(s)->db;
	char from[SS_TIME_STR_LEN];
	ss_time_format_utc((time_t)from_s, from);
	sqlite3_stmt *st = ss_db_prepare(db, SQL_ROWS);
	if (st == NULL)
		return db_fail(db, err, "Cannot prepare the usage rows query");
	sqlite3_bind_text(st, 1, from, -1, SQLITE_TRANSIENT);
	long long n = 0;
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		ss_usage_row r = {.key_id = sqlite3_column_int64(st, 0), .status = sqlite3_column_int(st, 2),
				  .time_s = sqlite3_column_int64(st, 3)};
		const char *e = ss_sqlite_col_text(st, 1);
		snprintf(r.endpoint, sizeof r.endpoint, "%s", e != NULL ? e : "");
		if (fn(arg, &r) != 0) {
			sqlite3_reset(st);
			return -2;
		}
		n++;
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? n : db_fail(db, err, "Cannot read the usage rows");
}
