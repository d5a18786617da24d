/* Writes the seed corpus of one fuzz target into a directory: short audio clips in every container we decode
 * for fuzz_analyze, and for the others the inputs their header comments describe (requests, JSON bodies,
 * query strings, URLs and addresses, key names, config files, export rows). Nothing here is committed as a
 * binary: every seed is made by this program. Usage: make_seeds TARGET DIR */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sndfile.h>

#include "tests/fixtures/synth.h"

static const char *dir;
static int count;

static int put(const char *name, const void *b, size_t len)
{
	char path[1024];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	int ok = f != NULL && fwrite(b, 1, len, f) == len;
	if (f != NULL && fclose(f) != 0)
		ok = 0;
	if (!ok)
		fprintf(stderr, "make_seeds: cannot write %s\n", path);
	count++;
	return ok ? 0 : -1;
}

/* A string seed; the name is its index. */
static int put_text(const char *s, size_t len)
{
	char name[32];
	snprintf(name, sizeof name, "seed-%03d", count);
	return put(name, s, len);
}

#define TEXT(s) put_text((s), sizeof(s) - 1)

/* b and *len come from one generator call (pass &n, not n: argument evaluation order is unspecified). */
static int put_audio(const char *name, unsigned char *b, const size_t *lenp)
{
	if (b == NULL)
		return 0; /* this libsndfile/FFmpeg cannot write it: no seed */
	int rc = put(name, b, *lenp);
	free(b);
	return rc;
}

/* Clips of 2.2 s: the fuzz build analyses at most 2 s (tests/fuzz.mk). */
static int analyze_seeds(void)
{
	size_t n = 0;
	int rc = 0;
	const double s = 2.2;
	rc |= put_audio("music.wav", synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_16, 8000, 1, s, synth_music, &n), &n);
	rc |= put_audio("music-float.wav", synth_file(SF_FORMAT_WAV | SF_FORMAT_FLOAT, 8000, 2, s, synth_music, &n), &n);
	rc |= put_audio("music.aiff", synth_file(SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 11025, 1, s, synth_music, &n), &n);
	rc |= put_audio("music.flac", synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 22050, 2, s, synth_music, &n), &n);
	rc |= put_audio("music.ogg", synth_file(SF_FORMAT_OGG | SF_FORMAT_VORBIS, 22050, 2, s, synth_music, &n), &n);
	rc |= put_audio("music.opus", synth_file(SF_FORMAT_OGG | SF_FORMAT_OPUS, 48000, 1, s, synth_music, &n), &n);
	rc |= put_audio("music.mp3", synth_file(SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 22050, 1, s, synth_music, &n), &n);
	rc |= put_audio("tone.wav", synth_file(SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 8000, 1, s, synth_sine440, &n), &n);
	rc |= put_audio("silence.flac", synth_file(SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 8000, 1, s, synth_silence, &n), &n);
	rc |= put_audio("music.m4a", synth_m4a(22050, 2, s, synth_music, &n), &n);
	return rc;
}

/* fuzz_request: control byte, CGI parameters, empty line, body. */
static int request_seeds(void)
{
	int rc = 0;
	rc |= TEXT("\x25REQUEST_METHOD=POST\nPATH_INFO=/analyze\nCONTENT_LENGTH=5\nCONTENT_TYPE=application/json\n"
		   "HTTP_X_API_KEY=ss_abc\nREMOTE_ADDR=127.0.0.1\n\nhello");
	rc |= TEXT("\x41REQUEST_METHOD=GET\nDOCUMENT_URI=/cache/12\nQUERY_STRING=limit=5&offset=10\n\n");
	rc |= TEXT("\x13REQUEST_METHOD=DELETE\nSCRIPT_NAME=/cache/000123456789012345\n\n");
	rc |= TEXT("\x30REQUEST_METHOD=GET\nREQUEST_URI=/health/?x=1#frag\n\n");
	rc |= TEXT("\x52REQUEST_METHOD=TRACE\nPATH_INFO=/verify//\nHTTP_X_FORCE_REANALYZE=yes\n\nbody");
	rc |= TEXT("\x66REQUEST_METHOD=POST\nPATH_INFO=/analyze_data\nCONTENT_LENGTH=99999999999999999999\n\nabc");
	rc |= TEXT("\x70REQUEST_METHOD=PUT\nPATH_INFO=/cache/export\nCONTENT_LENGTH=+3\n\nabcdef");
	rc |= TEXT("\x07REQUEST_METHOD=POST\nPATH_INFO=relative\nREQUEST_URI=/analyze_batch?beats=1\n\n[]");
	rc |= TEXT("\x11REQUEST_METHOD=HEAD\nPATH_INFO=\nDOCUMENT_URI=/metrics\nHTTP_X_CACHE_NAMESPACE=ns\n\n");
	rc |= TEXT("\x22REQUEST_METHOD=OPTIONS\nPATH_INFO=/auth/key\nCONTENT_LENGTH=\n\n0123456789abcdef");
	rc |= TEXT("\x31REQUEST_METHOD=GET\nPATH_INFO=/metrics\nREMOTE_ADDR=::1\nSS_LIST=127.0.0.1, ::1\t10.0.0.1,,\n"
		   "HTTP_X_API_KEY=ssk_0123456789abcdefghij\n\n");
	rc |= TEXT("\x21REQUEST_METHOD=OPTIONS\nPATH_INFO=/analyze_data\nSS_CORS=https://a.example, http://b.example:8\n"
		   "HTTP_ORIGIN=https://a.example\nHTTP_ACCESS_CONTROL_REQUEST_METHOD=POST\n\n");
	rc |= TEXT("\x21REQUEST_METHOD=OPTIONS\nPATH_INFO=/cache/7\nSS_CORS=https://a.example\n"
		   "HTTP_ORIGIN=https://a.example.evil\nHTTP_ACCESS_CONTROL_REQUEST_METHOD=DELETE\n\n");
	return rc;
}

/* fuzz_body: control byte (low three bits: 0 /analyze, 1 /analyze_data, 2 /analyze_batch, 3 /verify, 4 and 7
 * /cache, 5 /cache/search, 6 /cache/export), CGI parameters, empty line, body. */
static int body_seeds(void)
{
	int rc = 0;
	rc |= TEXT("\x00\n{\"url\":\"https://example.com/a.m4a\",\"title\":\"T\",\"artist\":\"A\"}");
	rc |= TEXT("\x10HTTP_X_CACHE_NAMESPACE=ios\n\n{\"audio_url\":\"http://x/y\",\"force_reanalyze\":\"yes\","
		   "\"cache_namespace\":\"n1\"}");
	rc |= TEXT("\x20QUERY_STRING=beats=1\n\n{\"url\":\"https://e.com/\\u00e9\",\"bypass_cache\":1,\"title\":null}");
	rc |= TEXT("\x30\n{\"url\":\"https://e.com/x\\u0000y\"}");
	rc |= TEXT("\x40\n{\"url\":12,\"title\":[1,2]}");
	rc |= TEXT("\x01HTTP_X_SONG_TITLE=Song\nHTTP_X_SONG_ARTIST=Band\nCONTENT_LENGTH=4\n\nRIFF");
	rc |= TEXT("\x11HTTP_X_CACHE_NAMESPACE=bad name!\n\nabc");
	rc |= TEXT("\x02\n[{\"audio_data\":\"UklGRg==\",\"title\":\"a\",\"artist\":\"b\"},{\"audio_data\":\"!!\"},"
		   "{\"audio_data\":\"\"},{},7]");
	rc |= TEXT("\x12QUERY_STRING=beats=true\n\n[{\"audio_data\":\"UklG\\nRg==\"},{\"audio_data\":\"QUJD RA==\"}]");
	rc |= TEXT("\x22\n[{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},"
		   "{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},"
		   "{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"},{\"audio_data\":\"AAAA\"}]");
	rc |= TEXT("\x03\n{\"url\":\"https://e.com/a\",\"manual_bpm\":128.5,\"manual_key\":\"C# Minor\","
		   "\"bpm_notes\":\"double time\"}");
	rc |= TEXT("\x13\n{\"content_sha256\":\"E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855\","
		   "\"namespace\":\"x\",\"manual_bpm\":null,\"manual_key\":null,\"bpm_notes\":null}");
	rc |= TEXT("\x23\n{\"url\":\"u\",\"content_sha256\":\"00\",\"manual_bpm\":-1,\"manual_key\":\"H major\"}");
	rc |= TEXT("\x33\n{\"url\":\"https://e.com/a\",\"manual_bpm\":1e308,\"manual_key\":\"bb minor\",\"cache_namespace\":"
		   "\"all\"}");
	rc |= TEXT("\x0b\n{\"url\":\"https://e.com/b\",\"manual_bpm\":99,\"manual_key\":\"Db Major\",\"bpm_notes\":\"=1+1\"}");
	rc |= TEXT("\x04QUERY_STRING=limit=2&offset=1&namespace=all\n\n");
	rc |= TEXT("\x0cQUERY_STRING=limit=0\nHTTP_X_CACHE_NAMESPACE=other\n\n");
	rc |= TEXT("\x05QUERY_STRING=q=100%25&namespace=*\n\n");
	rc |= TEXT("\x0dQUERY_STRING=q=_\n\n");
	rc |= TEXT("\x15QUERY_STRING=q=CAF%C3%A9\n\n");
	rc |= TEXT("\x15QUERY_STRING=q=CAF%e3%A9\n\n"); /* not UTF-8: once matched "caf\u00e9" loosely */
	rc |= TEXT("\x06QUERY_STRING=format=csv&namespace=default\n\n");
	rc |= TEXT("\x0eQUERY_STRING=format=json\n\n");
	rc |= TEXT("\x16QUERY_STRING=format=xml&namespace=%ZZ\n\n");
	rc |= TEXT("\x07QUERY_STRING=offset=-1&limit=500\n\n");
	return rc;
}

/* fuzz_query: control byte (output size), then lines: parameter name, raw query string, CONTENT_LENGTH value,
 * and tab-separated key/value pairs that the target percent-encodes and looks up again. */
static int query_seeds(void)
{
	int rc = 0;
	rc |= TEXT("\x40" "beats\nbeats=1&limit=10\n123\nbeats\t1\tq\thello world");
	rc |= TEXT("\x08" "q\nq=a%20b+c&q=second\n0\nq\t%&=+\x01\xff");
	rc |= TEXT("\x10" "limit\nlimit=%ZZ&limit=5\n18446744073709551615\nlimit\t99");
	rc |= TEXT("\x03" "a b\na+b=%00x&a%20b=ok\n18446744073709551616\na b\tc");
	rc |= TEXT("\x20" "namespace\n=&&namespace&x=%41%42\n-1\n\t\tname\t");
	return rc;
}

/* fuzz_url: a URL (also tried as an address literal; its first bytes as raw IPv4/IPv6 addresses). */
static int url_seeds(void)
{
	int rc = 0;
	rc |= TEXT("https://audio-ssl.itunes.apple.com/itunes-assets/preview.m4a?x=1");
	rc |= TEXT("http://127.0.0.1:8080/a.mp3");
	rc |= TEXT("HTTP://user:pass@example.com/");
	rc |= TEXT("ftp://example.com/file");
	rc |= TEXT("http://[::ffff:10.0.0.1]/x");
	rc |= TEXT("https://[2002:c0a8:0101::1]:443/");
	rc |= TEXT("http:///path-only");
	rc |= TEXT("https://xn--nxasmq6b.example/%E2%82%AC");
	rc |= TEXT("64:ff9b::8.8.8.8");
	rc |= TEXT("169.254.169.254");
	rc |= TEXT("fe80::1%eth0");
	rc |= TEXT("\xc0\xa8\x01\x01\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x01");
	return rc;
}

static int key_seeds(void)
{
	int rc = 0;
	rc |= TEXT("C Major");
	rc |= TEXT("  f# minor  ");
	rc |= TEXT("Bb MAJOR");
	rc |= TEXT("Cb minor");
	rc |= TEXT("E#major");
	rc |= TEXT("H minor");
	rc |= TEXT("A minorr");
	return rc;
}

static int config_seeds(void)
{
	int rc = 0;
	rc |= TEXT("# songscope.conf\ndatabase = /var/lib/songscope/songscope.db\nstate_file = \"/run/s.state\"\n"
		   "auth = required\nworkers = 4\nmax_requests = 10000\nlog_level = info\nlog_target = syslog\n");
	rc |= TEXT("shutdown_timeout=30\nmax_body_bytes = 52428800 # bytes\nmax_analysis_seconds = 29.5\n"
		   "max_concurrent_analyses = 0\nfetch_timeout_seconds = 30\r\nfetch_max_bytes = 1024\n");
	rc |= TEXT("fetch_max_redirects = 3\nfetch_allow_private = true\nkey_cache_ttl = 300\nkey_cache_size = 4096\n"
		   "rate_limit_per_minute = 60\nauth_failures_per_minute = 20\nmetrics_allow = 127.0.0.1, ::1\n");
	rc |= TEXT("\t  auth = off\nworkers = 0\n");
	rc |= TEXT("database = \"/tmp/a#b\"\nstate_file = /tmp/x # comment\n");
	rc |= TEXT("unknown_key = 1\n");
	rc |= TEXT("max_analysis_seconds = nan\n");
	return rc;
}

/* fuzz_render: four doubles (32 bytes, native order), then newline-separated text fields. */
static int render_seeds(void)
{
	int rc = 0;
	unsigned char b[512];
	const double nums[][4] = {{120.0, 0.5, 128.25, -7.5}, {NAN, INFINITY, -0.0, 1e-300}, {1e308, -1e-7, 0, 42}};
	const char *texts[] = {"Song\nArtist\nhttps://e.com/a.m4a\nC Major\ndefault\nnotes\nA minor\n2024-01-01 00:00:00",
			       "=cmd|' /C calc'!A0\n+1,2\n\"quoted\"\n-x\n@sum\n\ttab\n\r\nline\nbreak",
			       "caf\xc3\xa9 \xe2\x82\xac\n\xff\xfe invalid\n\x01\x1f\x7f\nx\"y\\z\n\n,\n\"\n"};
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		memcpy(b, nums[i], 32);
		size_t n = strlen(texts[i]);
		memcpy(b + 32, texts[i], n);
		rc |= put_text((const char *)b, 32 + n);
	}
	return rc;
}

/* Stored result texts as /analyze writes them (beats, downbeats, overrides), and damaged ones. */
static int spotify_seeds(void)
{
	int rc = 0;
	rc |= TEXT("{\"bpm\":120,\"bpm_confidence\":0.8,\"key_index\":9,\"mode\":0,\"key_confidence\":0.5,"
		   "\"loudness\":-9.5,\"time_signature\":\"3/4\",\"signal_duration\":30,\"analyzed_at\":"
		   "\"2026-12-07 09:00:00\",\"analysis_duration\":0.05,\"beats\":[0.5,1.0,1.5,2.0,2.5],"
		   "\"downbeats\":[0.5,2.0],\"speechiness\":0.1,\"instrumentalness\":0.9,\"liveness\":0.2}");
	rc |= TEXT("{\"bpm\":98.5,\"manual_bpm\":197,\"manual_key\":\"D Major\",\"signal_duration\":3.2,"
		   "\"beats\":[0,1,2,3,3,-1,\"x\",1e308,null],\"downbeats\":[0,2,9],\"time_signature\":\"6/8\"}");
	rc |= TEXT("{\"bpm\":0,\"key_index\":null,\"beats\":[],\"downbeats\":[],\"signal_duration\":-4}");
	rc |= TEXT("{\"beats\":{},\"downbeats\":\"0.5\",\"key_index\":12,\"mode\":2,\"time_signature\":\"99/4\"}");
	rc |= TEXT("[1,2]");
	/* segments as the cache stores them, then damaged ones (out of order, overlapping, short, past the end) */
	rc |= TEXT("{\"signal_duration\":2,\"segments\":[[0,0.5,1,-20,0.1,-10,-30,[1,0.5,0,0,0,0,0,0,0,0,0,0.25],"
		   "[40,1.5,-2,0,0,0,0,0,0,0,0,3]],[0.5,1.5,0.3,-30,0.2,-12,-60,[0,0,0,0,0,0,0,0,0,1,0,0],"
		   "[30,-1,0,0,0,0,0,0,0,0,0,0]]]}");
	rc |= TEXT("{\"signal_duration\":2,\"segments\":[[1,5,9,-99,-1,9,0,[2,-1,0,0,0,0,0,0,0,0,0,0],"
		   "[1e308,0,0,0,0,0,0,0,0,0,0,0]],[0.5,1,0,0,0,0,0,[0],[0]],[1.5,0.1,0,0,0,0,0,"
		   "[0,0,0,0,0,0,0,0,0,0,0,0],[0,0,0,0,0,0,0,0,0,0,0,0]],[3,1,0,0,0,0,0,[],[]],7,null]}");
	rc |= TEXT("{\"signal_duration\":30,\"sections\":[[0,12,1,-20],[12,18,0.6,-15]]}");
	rc |= TEXT("{\"signal_duration\":30,\"key_index\":7,\"mode\":1,\"sections\":[[0,12,1,-20,2,0,0.8],"
		   "[12,6,0.6,-15,-1,-1,0],[18,6,0.5,-9,12,1,2],[24,6,0.5,-9,3.5,0,0.5]],"
		   "\"time_signature\":\"3/4\",\"time_signature_confidence\":1.7}");
	rc |= TEXT("{\"signal_duration\":30,\"sections\":[[5,1,9,-99],[2,1,0,0],[29,9,0,0],[30,1,0,0],[1],\"x\"]}");
	rc |= TEXT("{\"signal_duration\":30,\"time_signature\":\"4/4\",\"sections\":[[0,10,1,-20,2,0,0.8,3,0.75],"
		   "[10,5,1,-20,2,0,0.8,6,2,0.5],[15,5,1,-20,2,0,0.8,2,0.5,9],[20,5,1,-20,2,0,0.8,3],"
		   "[25,5,1,-20,-1,-1,0,7,-1,-0.5,1e300],[28,1,1,-20,-1,-1,0,4,0.5,0.5,99.5]],\"bpm\":120,"
		   "\"bpm_confidence\":3}");
	return rc;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: make_seeds TARGET DIR\n");
		return 2;
	}
	dir = argv[2];
	const char *t = argv[1];
	int rc;
	if (strcmp(t, "analyze") == 0)
		rc = analyze_seeds();
	else if (strcmp(t, "request") == 0)
		rc = request_seeds();
	else if (strcmp(t, "body") == 0)
		rc = body_seeds();
	else if (strcmp(t, "query") == 0)
		rc = query_seeds();
	else if (strcmp(t, "url") == 0)
		rc = url_seeds();
	else if (strcmp(t, "key") == 0)
		rc = key_seeds();
	else if (strcmp(t, "config") == 0)
		rc = config_seeds();
	else if (strcmp(t, "render") == 0)
		rc = render_seeds();
	else if (strcmp(t, "spotify") == 0)
		rc = spotify_seeds();
	else {
		fprintf(stderr, "make_seeds: unknown target %s\n", t);
		return 2;
	}
	return rc ? 1 : 0;
}
