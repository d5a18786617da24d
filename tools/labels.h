/* Shared by the score and bench tools: labels.csv of a clip folder, and listing the audio files of a folder. */
#ifndef SS_TOOLS_LABELS_H
#define SS_TOOLS_LABELS_H

#include <stddef.h>

typedef struct tool_label {
	char *file;     /* file name relative to the folder */
	double bpm;     /* NaN when empty */
	int key_index;  /* -1 when empty or unparsable */
	int mode;       /* -1 when unknown */
	char *kind;     /* the "kind" column or "" */
	char *metre;    /* the "time_signature" column ("3/4", ...) or "" */
} tool_label;

typedef struct tool_labels {
	tool_label *v;
	size_t n;
} tool_labels;

/* Read dir/labels.csv: a header naming at least the columns file, bpm, key (any order; kind and
 * time_signature optional), then
 * one row per clip, comma-separated, no quoting. Returns 0, or -1 with a message in why. */
int tool_labels_load(const char *dir, tool_labels *out, char *why, size_t whylen);

/* Free what tool_labels_load allocated. */
void tool_labels_free(tool_labels *l);

/* The audio files of dir (by extension: wav aif aiff flac ogg oga opus mp3 m4a mp4 aac), sorted by name.
 * *files is a NULL-terminated array of full paths; free with tool_files_free. Returns 0 or -1. */
int tool_list_audio(const char *dir, char ***files, size_t *n);

void tool_files_free(char **files);

#endif
