/* Spotify's objects from a stored songscope result (the object /analyze answers, as ss_present_cache_get renders
 * it, with its time series for the analysis): the audio-features object and the audio-analysis object, field
 * for field as Spotify documented them (API.md "Spotify-compatible audio features"). Pure functions of the
 * result's text: no request, no store; what the text holds is checked, never trusted. A manual override
 * (/verify) wins over the analysis for tempo, key and mode in both. */
#ifndef SS_FCGI_SPOTIFY_H
#define SS_FCGI_SPOTIFY_H

#include <stddef.h>

#include <json-c/json.h>

/* The audio-features object of the result text (len bytes) of the row whose cache key is cache_key (64 hex
 * digits: its first 128 bits, in base62, are the track id), with its URLs under base (e.g.
 * "https://music.example/api", no trailing slash). Returns a new object (caller puts it), or NULL when out of
 * memory or when text is not a JSON object or cache_key not hex. */
json_object *ss_spotify_features(const char *text, size_t len, const char *cache_key, const char *base);

/* The audio-analysis object of the result text (len bytes, with its time series: SS_SERIES_ALL): meta, track,
 * bars, beats and tatums as {start, duration, confidence} in seconds from the result's downbeats and beats
 * (tatums: each beat halved), and the sections and segments stored with the result (for a row analysed before
 * they existed: one section spanning the track, no segments). Returns a new object (caller puts it), or NULL
 * when out of memory or when text is not a JSON object. */
json_object *ss_spotify_analysis(const char *text, size_t len);

#endif
