#include "tools/walk.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#define WALK_MAX_DEPTH 256

bool tool_is_audio_name(const char *name)
{
	static const char *const ext[] = {"wav",  "wave", "aif", "aiff", "aifc", "flac", "ogg",
					  "oga",  "opus", "mp3", "m4a",  "mp4",  "aac"};
	const char *dot = strrchr(name, '.');
	if (dot == NULL || name[0] == '.')
		return false;
	for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
		if (strcasecmp(dot + 1, ext[i]) == 0)
			return true;
	return false;
}

int tool_walk_list_add(tool_walk_list *l, tool_walk_kind kind, const char *path, const char *message)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		tool_walk_item *nv = realloc(l->v, ncap * sizeof *nv);
		if (nv == NULL)
			return -1;
		l->v = nv;
		l->cap = ncap;
	}
	tool_walk_item *it = &l->v[l->n];
	it->kind = kind;
	it->path = strdup(path);
	it->message = message ? strdup(message) : NULL;
	if (it->path == NULL || (message != NULL && it->message == NULL)) {
		free(it->path);
		free(it->message);
		return -1;
	}
	l->n++;
	return 0;
}

void tool_walk_list_free(tool_walk_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].message);
	}
	free(l->v);
	memset(l, 0, sizeof *l);
}

/* The folders from the root down to the one being read, by identity, to recognise a link back up. */
typedef struct walk_dir_id {
	dev_t dev;
	ino_t ino;
} walk_dir_id;

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const tool_walk_item *)a)->path, ((const tool_walk_item *)b)->path);
}

static char *join(const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool slash = dl > 0 && dir[dl - 1] == '/';
	char *p = malloc(dl + nl + 2);
	if (p == NULL)
		return NULL;
	memcpy(p, dir, dl);
	if (!slash)
		p[dl++] = '/';
	memcpy(p + dl, name, nl + 1);
	return p;
}

/* The names in dir but "." and ".." and hidden ones, sorted; NULL-terminated in *names (free each and the
 * array). Returns 0, -1 with errno when the folder cannot be read, -2 when memory runs out. */
static int read_names(const char *dir, char ***names, size_t *count)
{
	DIR *d = opendir(dir);
	if (d == NULL)
		return -1;
	size_t n = 0, cap = 16;
	char **v = malloc(cap * sizeof *v);
	int rc = 0;
	if (v == NULL) {
		closedir(d);
		return -2;
	}
	for (;;) {
		errno = 0;
		struct dirent *e = readdir(d);
		if (e == NULL) {
			if (errno != 0)
				rc = -1;
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		if (n + 1 == cap) {
			char **nv = realloc(v, cap * 2 * sizeof *nv);
			if (nv == NULL) {
				rc = -2;
				break;
			}
			v = nv;
			cap *= 2;
		}
		if ((v[n] = strdup(e->d_name)) == NULL) {
			rc = -2;
			break;
		}
		n++;
	}
	int saved = errno;
	closedir(d);
	if (rc != 0) {
		for (size_t i = 0; i < n; i++)
			free(v[i]);
		free(v);
		errno = saved;
		return rc;
	}
	qsort(v, n, sizeof *v, cmp_name);
	v[n] = NULL;
	*names = v;
	*count = n;
	return 0;
}

/* Walk dir, whose identity is stack[depth - 1]; stack[0..base) are the folders that hold the root. Returns 0,
 * or -1 when memory runs out. */
static int walk_dir(const char *dir, walk_dir_id *stack, size_t depth, size_t base, tool_walk_list *out)
{
	assert(depth > base && depth - base <= WALK_MAX_DEPTH);
	char **names = NULL;
	size_t n = 0;
	int rc = read_names(dir, &names, &n);
	if (rc == -2)
		return -1;
	if (rc == -1) {
		char msg[160];
		snprintf(msg, sizeof msg, "cannot read the folder: %s", strerror(errno));
		return tool_walk_list_add(out, TOOL_WALK_ERROR, dir, msg);
	}
	int ret = 0;
	for (size_t i = 0; i < n && ret == 0; i++) {
		char *path = join(dir, names[i]);
		if (path == NULL) {
			ret = -1;
			break;
		}
		struct stat st;
		if (stat(path, &st) != 0) {
			/* A dangling link or a file that vanished: analysed, so its error line says why. */
			if (tool_is_audio_name(names[i]))
				ret = tool_walk_list_add(out, TOOL_WALK_FILE, path, NULL);
		} else if (S_ISDIR(st.st_mode)) {
			bool loop = false;
			for (size_t k = 0; k < depth && !loop; k++)
				loop = stack[k].dev == st.st_dev && stack[k].ino == st.st_ino;
			if (loop) {
				ret = tool_walk_list_add(out, TOOL_WALK_NOTE, path,
							 "not entered: a symbolic link to a folder above it (a loop)");
			} else if (depth - base == WALK_MAX_DEPTH) {
				ret = tool_walk_list_add(out, TOOL_WALK_ERROR, path, "not entered: more than 256 folders deep");
			} else {
				stack[depth].dev = st.st_dev;
				stack[depth].ino = st.st_ino;
				ret = walk_dir(path, stack, depth + 1, base, out);
			}
		} else if (S_ISREG(st.st_mode) && tool_is_audio_name(names[i])) {
			/* Pipes, sockets and devices are left out even with an audio name: reading one could block. */
			ret = tool_walk_list_add(out, TOOL_WALK_FILE, path, NULL);
		}
		free(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

/* Room for the folders above any path: at most one per two bytes of it. */
#define WALK_MAX_ANCESTORS (PATH_MAX / 2 + 1)

/* The folders that hold dir, from "/" down, into stack (room for WALK_MAX_ANCESTORS): a link back to one of
 * them is a loop as much as a link back to a folder met during the walk. Returns how many, or 0 when they
 * cannot be found (then only the loops within the walk are recognised). */
static size_t real_ancestors(const char *dir, walk_dir_id *stack)
{
	char *real = realpath(dir, NULL);
	if (real == NULL)
		return 0;
	size_t n = 0, len = strlen(real);
	struct stat st;
	if (stat("/", &st) == 0) {
		stack[n].dev = st.st_dev;
		stack[n++].ino = st.st_ino;
	}
	for (size_t i = 1; i < len && n < WALK_MAX_ANCESTORS; i++) {
		if (real[i] != '/')
			continue;
		real[i] = '\0';
		if (stat(real, &st) == 0) {
			stack[n].dev = st.st_dev;
			stack[n++].ino = st.st_ino;
		}
		real[i] = '/';
	}
	free(real);
	return n;
}

int tool_walk(const char *root, tool_walk_list *out)
{
	size_t first = out->n;
	walk_dir_id *stack = malloc((WALK_MAX_ANCESTORS + WALK_MAX_DEPTH) * sizeof *stack);
	if (stack == NULL)
		return -1;
	int rc = 0;
	struct stat st;
	int st_rc = stat(root, &st);
	if (st_rc != 0 || !S_ISDIR(st.st_mode)) {
		char msg[160];
		snprintf(msg, sizeof msg, "cannot read the folder: %s", st_rc != 0 ? strerror(errno) : "not a folder");
		rc = tool_walk_list_add(out, TOOL_WALK_ERROR, root, msg);
	} else {
		size_t base = real_ancestors(root, stack);
		stack[base].dev = st.st_dev;
		stack[base].ino = st.st_ino;
		rc = walk_dir(root, stack, base + 1, base, out);
	}
	free(stack);
	if (rc != 0) {
		while (out->n > first) {
			out->n--;
			free(out->v[out->n].path);
			free(out->v[out->n].message);
		}
		return -1;
	}
	if (out->n - first > 1)
		qsort(out->v + first, out->n - first, sizeof *out->v, cmp_item);
	return 0;
}
