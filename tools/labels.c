#include "tools/labels.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/analysis/result.h"

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* Split line in place at commas into at most max fields. Returns the count. */
static int split(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;
	while (n < max) {
		f[n++] = p;
		char *c = strchr(p, ',');
		if (c == NULL)
			break;
		*c = '\0';
		p = c + 1;
	}
	for (int i = 0; i < n; i++)
		f[i] = trim(f[i]);
	return n;
}

int tool_labels_load(const char *dir, tool_labels *out, char *why, size_t whylen)
{
	memset(out, 0, sizeof *out);
	char path[4096];
	snprintf(path, sizeof path, "%s/labels.csv", dir);
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(why, whylen, "cannot open %s", path);
		return -1;
	}
	char line[4096];
	char *f[32];
	int c_file = -1, c_bpm = -1, c_key = -1, c_kind = -1, c_metre = -1;
	if (fgets(line, sizeof line, fp) == NULL) {
		fclose(fp);
		snprintf(why, whylen, "%s is empty", path);
		return -1;
	}
	int nf = split(line, f, 32);
	for (int i = 0; i < nf; i++) {
		if (strcasecmp(f[i], "file") == 0)
			c_file = i;
		else if (strcasecmp(f[i], "bpm") == 0)
			c_bpm = i;
		else if (strcasecmp(f[i], "key") == 0)
			c_key = i;
		else if (strcasecmp(f[i], "kind") == 0)
			c_kind = i;
		else if (strcasecmp(f[i], "time_signature") == 0)
			c_metre = i;
	}
	if (c_file < 0 || c_bpm < 0 || c_key < 0) {
		fclose(fp);
		snprintf(why, whylen, "%s: the header must name file, bpm and key", path);
		return -1;
	}
	size_t cap = 0;
	while (fgets(line, sizeof line, fp) != NULL) {
		nf = split(line, f, 32);
		if (nf <= c_file || f[c_file][0] == '\0')
			continue;
		if (out->n == cap) {
			cap = cap ? cap * 2 : 64;
			tool_label *v = realloc(out->v, cap * sizeof *v);
			if (v == NULL) {
				fclose(fp);
				snprintf(why, whylen, "out of memory");
				return -1;
			}
			out->v = v;
		}
		tool_label *l = &out->v[out->n];
		l->file = strdup(f[c_file]);
		l->kind = strdup(nf > c_kind && c_kind >= 0 ? f[c_kind] : "");
		l->metre = strdup(nf > c_metre && c_metre >= 0 ? f[c_metre] : "");
		if (l->file == NULL || l->kind == NULL || l->metre == NULL) {
			free(l->file);
			free(l->kind);
			free(l->metre);
			fclose(fp);
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		l->bpm = NAN;
		if (nf > c_bpm && f[c_bpm][0] != '\0') {
			char *end;
			double b = strtod(f[c_bpm], &end);
			if (end != f[c_bpm] && b > 0)
				l->bpm = b;
		}
		l->key_index = l->mode = -1;
		if (nf > c_key && f[c_key][0] != '\0' && ss_key_parse(f[c_key], &l->key_index, &l->mode) != 0)
			l->key_index = l->mode = -1;
		out->n++;
	}
	fclose(fp);
	return 0;
}

void tool_labels_free(tool_labels *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].file);
		free(l->v[i].kind);
		free(l->v[i].metre);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

static int is_audio_name(const char *name)
{
	static const char *const ext[] = {"wav", "aif", "aiff", "flac", "ogg", "oga", "opus", "mp3", "m4a", "mp4", "aac"};
	const char *dot = strrchr(name, '.');
	if (dot == NULL || name[0] == '.')
		return 0;
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
		if (strcasecmp(dot + 1, ext[i]) == 0)
			return 1;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int tool_list_audio(const char *dir, char ***files, size_t *n)
{
	*files = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	size_t cap = 16, cnt = 0;
	char **v = calloc(cap + 1, sizeof *v);
	if (v == NULL) {
		closedir(d);
		return -1;
	}
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (!is_audio_name(e->d_name))
			continue;
		if (cnt == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof *nv);
			if (nv == NULL)
				goto fail;
			v = nv;
			cap *= 2;
		}
		size_t len = strlen(dir) + strlen(e->d_name) + 2;
		v[cnt] = malloc(len);
		if (v[cnt] == NULL)
			goto fail;
		snprintf(v[cnt], len, "%s/%s", dir, e->d_name);
		cnt++;
		v[cnt] = NULL;
	}
	closedir(d);
	qsort(v, cnt, sizeof *v, cmp_str);
	*files = v;
	*n = cnt;
	return 0;
fail:
	closedir(d);
	v[cnt] = NULL;
	tool_files_free(v);
	return -1;
}

void tool_files_free(char **files)
{
	if (files == NULL)
		return;
	for (size_t i = 0; files[i] != NULL; i++)
		free(files[i]);
	free(files);
}
