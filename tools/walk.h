/* songscope-analyze -r: the audio files under a folder, in a deterministic order, without looping on links. */
#ifndef SS_TOOLS_WALK_H
#define SS_TOOLS_WALK_H

#include <stdbool.h>
#include <stddef.h>

typedef enum tool_walk_kind {
	TOOL_WALK_FILE,  /* an audio file to analyse (a regular file, or a link whose target cannot be read) */
	TOOL_WALK_ERROR, /* a folder that cannot be read: a failure, reason in message */
	TOOL_WALK_NOTE,  /* a folder skipped on purpose (a symbolic link back to a folder above it): not a failure */
} tool_walk_kind;

typedef struct tool_walk_item {
	tool_walk_kind kind;
	char *path;    /* the root joined with the names below it by '/' */
	char *message; /* NULL for TOOL_WALK_FILE; else one sentence without the path */
} tool_walk_item;

typedef struct tool_walk_list {
	tool_walk_item *v;
	size_t n, cap;
} tool_walk_list;

/* True when name (a file name, not a path) ends in an audio extension, compared without case: wav wave aif aiff
 * aifc flac ogg oga opus mp3 m4a mp4 aac. Names beginning with '.' (hidden files, "._x" resource forks) are not
 * audio. */
bool tool_is_audio_name(const char *name);

/* Append to *out the audio files below the folder root, following symbolic links, skipping hidden entries
 * (names beginning with '.') and every file whose name is not tool_is_audio_name; then sort what was appended,
 * and only that, by path in byte order (strcmp, the order of `LC_ALL=C sort`). A link to a folder that is
 * the folder itself or one above it (on the way from "/" to it) is a loop: not entered, recorded as TOOL_WALK_NOTE.
 * A folder that cannot be opened or read is a TOOL_WALK_ERROR item; the walk goes on with the rest.
 * Deeper than 256 folders is a TOOL_WALK_ERROR too. *out starts zeroed ({0}) and is freed with
 * tool_walk_list_free. Returns 0, or -1 when memory runs out (*out then holds what it held before). */
int tool_walk(const char *root, tool_walk_list *out);

/* Append one item (path and message are copied; message may be NULL). Returns 0 or -1 (out of memory). */
int tool_walk_list_add(tool_walk_list *l, tool_walk_kind kind, const char *path, const char *message);

/* Free every item and the array; accepts an empty list. */
void tool_walk_list_free(tool_walk_list *l);

#endif
