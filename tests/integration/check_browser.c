/* The page in a real browser: Debian's headless Chromium driven by chromedriver loads /ui/ through nginx, a
 * clip is dropped on it, and what it shows (tempo, key, one marker per beat and downbeat) must equal the API's
 * own answer for those bytes; the dashboard opens with an admin key and refuses a client key. Screenshots go to
 * tests/integration/browser-artifacts/ in the build tree. Skipped (77) only when Chromium or chromedriver is
 * not installed. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sndfile.h>
#include <sodium.h>

#include "tests/check_main.h"
#include "tests/fixtures/synth.h"
#include "tests/integration/harness.h"
#include "tests/integration/webdriver.h"

static char artifacts[1024];

static void artifact(ss_wd *wd, const char *name)
{
	char path[1200];
	snprintf(path, sizeof path, "%s/%s", artifacts, name);
	ss_wd_screenshot(wd, path);
	fprintf(stderr, "screenshot: %s\n", path);
}

/* Drop a file on #drop as a person would: a DragEvent whose DataTransfer carries a File with these bytes. */
static void drop_file(ss_wd *wd, const unsigned char *data, size_t len, const char *name)
{
	size_t b64len = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64len);
	ck_assert_ptr_nonnull(b64);
	sodium_bin2base64(b64, b64len, data, len, sodium_base64_VARIANT_ORIGINAL);
	json_object *args = json_object_new_array();
	json_object_array_add(args, json_object_new_string(b64));
	json_object_array_add(args, json_object_new_string(name));
	free(b64);
	json_object_put(ss_wd_exec(wd,
				   "const bin = atob(arguments[0]); const u = new Uint8Array(bin.length);"
				   "for (let i = 0; i < bin.length; i++) u[i] = bin.charCodeAt(i);"
				   "const dt = new DataTransfer();"
				   "dt.items.add(new File([u], arguments[1], {type: 'audio/wav'}));"
				   "const d = document.getElementById('drop');"
				   "const init = {dataTransfer: dt, bubbles: true, cancelable: true};"
				   "d.dispatchEvent(new DragEvent('dragover', init));"
				   "d.dispatchEvent(new DragEvent('drop', init));"
				   "return true;",
				   args));
}

/* Nothing went wrong in the page: no console error (a script error, a load refused by the Content-Security-Policy,
 * a failed request other than the expected refusal `allowed`, e.g. " 403 " or NULL). */
static void console_clean(ss_wd *wd, const char *when, const char *allowed)
{
	json_object *log = ss_wd_console(wd);
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		json_object *e = json_object_array_get_idx(log, i), *lv, *msg;
		if (!json_object_object_get_ex(e, "level", &lv) || !json_object_object_get_ex(e, "message", &msg))
			continue;
		const char *m = json_object_get_string(msg);
		fprintf(stderr, "console (%s): %s %s\n", when, json_object_get_string(lv), m);
		ck_assert_msg(strstr(m, "Content Security Policy") == NULL, "%s: CSP violation: %s", when, m);
		if (strcmp(json_object_get_string(lv), "SEVERE") == 0)
			ck_assert_msg(allowed != NULL && strstr(m, allowed) != NULL, "%s: console error: %s", when, m);
	}
	json_object_put(log);
}

static void use_key(ss_wd *wd, const char *key)
{
	ss_wd_type(wd, "#api-key", key);
	ss_wd_click(wd, "#key-form button[type=submit]");
}

static const char *text_of(ss_wd *wd, const char *id, char *out, size_t outlen)
{
	char script[256];
	snprintf(script, sizeof script, "return document.getElementById('%s').textContent;", id);
	ss_wd_exec_string(wd, script, out, outlen);
	return out;
}

START_TEST(page_shows_the_api_answer)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 2, .auth = "required", .extra_conf = "rate_limit_per_minute = 100000\n"};
	ss_it_start(&s, &o);
	char admin[128], client[128];
	ss_it_make_key(&s, "admin", admin, sizeof admin);
	ss_it_make_key(&s, "client", client, sizeof client);
	size_t len;
	unsigned char *wav = synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 22050, 1, 15.0, synth_music, &len);
	ck_assert_ptr_nonnull(wav);

	ss_wd wd;
	ss_wd_start(&wd, 1280, 1800);
	char url[128], text[4096];
	snprintf(url, sizeof url, "%s/ui/", s.base_url);
	ss_wd_navigate(&wd, url);
	ck_assert_msg(ss_wd_wait(&wd, "return typeof SS === 'object';", 10), "the page's scripts did not run");
	use_key(&wd, admin);
	text_of(&wd, "key-state", text, sizeof text);
	ck_assert_msg(strstr(text, "in use") != NULL, "key state: %s", text);

	/* Try a song: drop the clip and wait for the answer. */
	drop_file(&wd, wav, len, "click-track.wav");
	ck_assert_msg(ss_wd_wait(&wd,
				 "const s = document.getElementById('try-status');"
				 "return s.textContent.startsWith('Done') || s.classList.contains('error');",
				 120),
		      "no answer shown");
	text_of(&wd, "try-status", text, sizeof text);
	ck_assert_msg(strncmp(text, "Done", 4) == 0, "the page says: %s", text);
	artifact(&wd, "try-a-song.png");
	console_clean(&wd, "try a song", NULL);

	/* The API's answer for the same bytes (now cached). */
	char hdr[192];
	snprintf(hdr, sizeof hdr, "X-API-Key: %s", admin);
	const char *h[] = {hdr, "Content-Type: audio/wav", NULL};
	ss_it_resp r;
	ck_assert_int_eq(ss_it_request(&s, "POST", "/analyze_data?beats=1", h, wav, len, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_object *api = ss_it_json(&r), *v;
	ss_it_resp_free(&r);
	ck_assert(json_object_object_get_ex(api, "cached", &v) && json_object_get_boolean(v));

	ck_assert(json_object_object_get_ex(api, "bpm", &v));
	double bpm = json_object_get_double(v);
	text_of(&wd, "bpm", text, sizeof text);
	ck_assert_msg(strtod(text, NULL) == bpm, "page tempo %s, API %.17g", text, bpm);
	ck_assert(bpm > 100 && bpm < 140);

	ck_assert(json_object_object_get_ex(api, "key", &v));
	text_of(&wd, "key", text, sizeof text);
	ck_assert_str_eq(text, json_object_get_string(v));
	/* The wheel marks that key. */
	ss_wd_exec_string(&wd, "const c = document.querySelector('#wheel g.chosen'); return c ? c.dataset.key : '';",
			  text, sizeof text);
	ck_assert_str_eq(text, json_object_get_string(v));

	json_object *beats, *downbeats;
	ck_assert(json_object_object_get_ex(api, "beats", &beats));
	ck_assert(json_object_object_get_ex(api, "downbeats", &downbeats));
	size_t n_beats = json_object_array_length(beats), n_down = json_object_array_length(downbeats);
	ck_assert_uint_gt(n_beats, 10);
	double shown = ss_wd_exec_number(&wd, "return document.querySelectorAll('#wave line.beat').length;");
	ck_assert_msg(shown == (double)n_beats, "%g beat markers, %zu beats", shown, n_beats);
	shown = ss_wd_exec_number(&wd, "return document.querySelectorAll('#wave line.downbeat').length;");
	ck_assert_msg(shown == (double)n_down, "%g downbeat markers, %zu downbeats", shown, n_down);
	/* The waveform was decoded and drawn by the browser; features and the raw JSON are there. */
	ck_assert(ss_wd_exec_number(&wd, "return document.querySelectorAll('#wave path.signal').length;") == 1);
	ck_assert(ss_wd_exec_number(&wd, "return document.querySelectorAll('#features .feature').length;") >= 3);
	ss_wd_exec_string(&wd, "return JSON.parse(document.getElementById('raw').textContent).key;", text, sizeof text);
	ck_assert_str_eq(text, json_object_get_string(v));

	/* Under the waveform, the song's audio-analysis object: a band per section, a column of pitch cells per
	 * segment (none of them empty for this music) and one loudness line, as many as the API gives. */
	ck_assert(json_object_object_get_ex(api, "track_id", &v));
	char path[96];
	snprintf(path, sizeof path, "/v1/audio-analysis/%s", json_object_get_string(v));
	const char *hk[] = {hdr, NULL};
	ck_assert_int_eq(ss_it_request(&s, "GET", path, hk, NULL, 0, &r), 0);
	ck_assert_int_eq(r.status, 200);
	json_object *analysis = ss_it_json(&r), *sections, *segments;
	ss_it_resp_free(&r);
	ck_assert(json_object_object_get_ex(analysis, "sections", &sections));
	ck_assert(json_object_object_get_ex(analysis, "segments", &segments));
	ck_assert_uint_gt(json_object_array_length(segments), 10);
	ck_assert_msg(ss_wd_wait(&wd, "return document.getElementById('timeline-count').textContent !== '';", 30),
		      "the timeline was not drawn");
	shown = ss_wd_exec_number(&wd, "return document.querySelectorAll('#timeline rect.section').length;");
	ck_assert_msg(shown == (double)json_object_array_length(sections), "%g section bands, %zu sections", shown,
		      json_object_array_length(sections));
	/* each band names its section's own key */
	for (size_t i = 0; i < json_object_array_length(sections); i++) {
		static const char *const tonic[12] = {"C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"};
		json_object *sec = json_object_array_get_idx(sections, i), *k, *m;
		ck_assert(json_object_object_get_ex(sec, "key", &k) && json_object_object_get_ex(sec, "mode", &m));
		int key = json_object_get_int(k);
		char want[32], script[256];
		snprintf(want, sizeof want, "%c%s%s%s", 'A' + (int)(i % 26), key >= 0 ? " · " : "",
			 key >= 0 && key < 12 ? tonic[key] : "", key >= 0 && json_object_get_int(m) == 0 ? "m" : "");
		snprintf(script, sizeof script,
			 "return document.querySelectorAll('#timeline g.section-box > text')[%zu].textContent;", i);
		ss_wd_exec_string(&wd, script, text, sizeof text);
		ck_assert_msg(strcmp(text, want) == 0, "section %zu labelled '%s', not '%s'", i, text, want);
		/* and its title gives its own tempo, metre and their confidences */
		static const char *const metre[8] = {"4/4", "4/4", "4/4", "3/4", "4/4", "5/4", "6/8", "7/4"};
		json_object *ts, *tc, *tempo;
		ck_assert(json_object_object_get_ex(sec, "time_signature", &ts) &&
			  json_object_object_get_ex(sec, "tempo_confidence", &tc) &&
			  json_object_object_get_ex(sec, "tempo", &tempo));
		int per_bar = json_object_get_int(ts);
		char title[512], part[96];
		snprintf(script, sizeof script,
			 "return document.querySelectorAll('#timeline g.section-box > title')[%zu].textContent;", i);
		ss_wd_exec_string(&wd, script, title, sizeof title);
		/* the numbers as the page rounds them (JavaScript's toFixed: halves away from zero, unlike printf) */
		snprintf(script, sizeof script,
			 "return (%.17g).toFixed(1) + ' BPM (tempo confidence ' + (%.17g).toFixed(2) + ')';",
			 json_object_get_double(tempo), json_object_get_double(tc));
		ss_wd_exec_string(&wd, script, part, sizeof part);
		ck_assert_msg(strstr(title, part) != NULL, "section %zu title '%s' lacks '%s'", i, title, part);
		snprintf(part, sizeof part, ", %s (confidence ", metre[per_bar >= 3 && per_bar <= 7 ? per_bar : 4]);
		ck_assert_msg(strstr(title, part) != NULL, "section %zu title '%s' lacks '%s'", i, title, part);
	}
	shown = ss_wd_exec_number(&wd, "return document.querySelectorAll('#timeline g.segment').length;");
	ck_assert_msg(shown == (double)json_object_array_length(segments), "%g segment columns, %zu segments", shown,
		      json_object_array_length(segments));
	ck_assert(ss_wd_exec_number(&wd, "return document.querySelectorAll('#timeline g.segment:empty').length;") == 0);
	ck_assert(ss_wd_exec_number(&wd, "return document.querySelectorAll('#timeline path.loudness').length;") == 1);
	json_object_put(analysis);
	artifact(&wd, "try-a-song-timeline.png");
	console_clean(&wd, "the timeline", NULL);
	json_object_put(api);

	/* Picking the same file instead: the cached answer. */
	const char *clip = ss_it_write_file(&s, "click-track.wav", wav, len);
	ss_wd_exec(&wd, "document.getElementById('try-status').textContent = ''; return null;", NULL);
	ss_wd_type(&wd, "#file", clip);
	ck_assert_msg(
		ss_wd_wait(&wd, "return document.getElementById('try-status').textContent.startsWith('Done');", 60),
		"no answer for the picked file");
	text_of(&wd, "try-status", text, sizeof text);
	ck_assert_str_eq(text, "Done: from the cache.");

	/* Dashboard with the admin key. */
	ss_wd_click(&wd, "#tab-dashboard");
	ck_assert_msg(ss_wd_wait(&wd,
				 "const b = document.getElementById('dash-body');"
				 "return !b.hidden && b.dataset.ready === '1';",
				 30),
		      "the dashboard did not open with an admin key: %s",
		      text_of(&wd, "dash-error", text, sizeof text));
	text_of(&wd, "health-status", text, sizeof text);
	ck_assert_str_eq(text, "healthy");
	text_of(&wd, "cache-size", text, sizeof text);
	ck_assert_str_eq(text, "1");
	ck_assert(ss_wd_exec_number(&wd, "return document.querySelectorAll('#keys tbody tr').length;") == 2);
	ck_assert(ss_wd_exec_number(&wd, "return document.querySelectorAll('#recent tbody tr').length;") == 1);
	ss_wd_exec_string(&wd, "return document.querySelector('#recent tbody td:nth-child(2)').textContent;", text,
			  sizeof text);
	ck_assert_str_eq(text, "click-track");
	artifact(&wd, "dashboard-admin.png");
	console_clean(&wd, "dashboard", NULL);

	/* A client key: songscope refuses it and the page says why. */
	use_key(&wd, client);
	ck_assert_msg(ss_wd_wait(&wd,
				 "return !document.getElementById('dash-error').hidden && "
				 "document.getElementById('dash-body').hidden;",
				 30),
		      "the dashboard stayed open with a client key");
	text_of(&wd, "dash-error", text, sizeof text);
	ck_assert_msg(strstr(text, "admin scope") != NULL && strstr(text, "forbidden") != NULL, "%s", text);
	artifact(&wd, "dashboard-client-refused.png");
	console_clean(&wd, "dashboard refused", " 403 ");

	ss_wd_stop(&wd);
	free(wav);
	ss_it_stop(&s);
}
END_TEST

/* The dashboard opened with no key typed in: with auth = required it says an admin key is needed (songscope's
 * 401); with auth = off it opens, as songscope needs no key then. */
static void open_dashboard_without_key(const char *auth)
{
	ss_it_server s;
	ss_it_opts o = {.workers = 1, .auth = auth};
	ss_it_start(&s, &o);
	ss_wd wd;
	ss_wd_start(&wd, 1280, 1000);
	char url[128], text[1024];
	snprintf(url, sizeof url, "%s/ui/#dashboard", s.base_url);
	ss_wd_navigate(&wd, url);
	if (strcmp(auth, "required") == 0) {
		ck_assert_msg(ss_wd_wait(&wd, "return !document.getElementById('dash-error').hidden;", 30),
			      "no message without a key");
		text_of(&wd, "dash-error", text, sizeof text);
		ck_assert_msg(strstr(text, "admin key") != NULL && strstr(text, "missing_api_key") != NULL, "%s", text);
		ck_assert(ss_wd_exec_number(&wd, "return document.getElementById('dash-body').hidden ? 1 : 0;") == 1);
		console_clean(&wd, "dashboard without a key", " 401 ");
	} else {
		ck_assert_msg(ss_wd_wait(&wd, "return document.getElementById('dash-body').dataset.ready === '1';", 30),
			      "the dashboard did not open with auth off: %s", text_of(&wd, "dash-error", text, sizeof text));
		artifact(&wd, "dashboard-auth-off.png");
		console_clean(&wd, "dashboard with auth off", NULL);
	}
	ss_wd_stop(&wd);
	ss_it_stop(&s);
}

START_TEST(dashboard_without_key)
{
	open_dashboard_without_key("required");
	open_dashboard_without_key("off");
}
END_TEST

int main(void)
{
	if (ss_wd_chromium() == NULL || ss_wd_chromedriver() == NULL) {
		fprintf(stderr,
			"skipped: Chromium and chromedriver are needed (apt-get install chromium chromium-driver)\n");
		return 77;
	}
	if (!ss_it_have_nginx()) {
		fprintf(stderr, "skipped: nginx is not installed\n");
		return 77;
	}
	snprintf(artifacts, sizeof artifacts, "%s/tests/integration/browser-artifacts", ss_it_builddir());
	if (mkdir(artifacts, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "%s: %s\n", artifacts, strerror(errno));
		return 99;
	}
	Suite *su = suite_create("browser");
	TCase *tc = tcase_create("page");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, page_shows_the_api_answer);
	tcase_add_test(tc, dashboard_without_key);
	suite_add_tcase(su, tc);
	return ss_check_run(su);
}
