/* The route table: every endpoint of API.md, its methods, the key scope it needs, and its handler. */
#include "fcgi/handlers.h"
#include "fcgi/router.h"

const ss_route ss_routes[] = {
	{"/health", SS_M_GET, SS_SCOPE_NONE, ss_handle_health, "health"},
	{"/analyze", SS_M_POST, SS_SCOPE_CLIENT, ss_handle_analyze, "analyze"},
	{"/analyze_data", SS_M_POST, SS_SCOPE_CLIENT, ss_handle_analyze_data, "analyze_data"},
	{"/analyze_batch", SS_M_POST, SS_SCOPE_CLIENT, ss_handle_analyze_batch, "analyze_batch"},
	{"/v1/audio-features", SS_M_POST, SS_SCOPE_CLIENT, ss_handle_audio_features_post, "audio_features_post"},
	{"/v1/audio-features", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_audio_features_list, "audio_features_list"},
	{"/v1/audio-features/{key}", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_audio_features_get, "audio_features_get"},
	{"/v1/audio-analysis/{key}", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_audio_analysis, "audio_analysis"},
	{"/cache", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_cache_list, "cache_list"},
	{"/cache/search", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_cache_search, "cache_search"},
	{"/cache/export", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_cache_export, "cache_export"},
	{"/cache/clear", SS_M_POST, SS_SCOPE_ADMIN, ss_handle_cache_clear, "cache_clear"},
	{"/cache/{id}", SS_M_DELETE, SS_SCOPE_ADMIN, ss_handle_cache_delete, "cache_delete"},
	{"/verify", SS_M_POST, SS_SCOPE_ADMIN, ss_handle_verify, "verify"},
	{"/stats", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_stats, "stats"},
	{"/diagnostics", SS_M_GET, SS_SCOPE_ADMIN, ss_handle_diagnostics, "diagnostics"},
	/* Admin key; addresses in metrics_allow are let through by the authoriser (fcgi/auth.c). */
	{"/metrics", SS_M_GET, SS_SCOPE_ADMIN, ss_handle_metrics, "metrics"},
	{"/shutdown", SS_M_POST, SS_SCOPE_ADMIN, ss_handle_shutdown, "shutdown"},
	{"/auth/key", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_auth_key, "auth_key"},
	{"/auth/usage", SS_M_GET, SS_SCOPE_ADMIN, ss_handle_auth_usage, "auth_usage"},
	{"/auth/keys", SS_M_GET, SS_SCOPE_ADMIN, ss_handle_keys_list, "keys_list"},
	{"/auth/keys", SS_M_POST, SS_SCOPE_ADMIN, ss_handle_keys_create, "keys_create"},
	{"/auth/keys/{id}", SS_M_DELETE, SS_SCOPE_ADMIN, ss_handle_keys_deactivate, "keys_deactivate"},
	/* The web page: no key to load it; it asks for one and sends it as any client does. */
	{"/ui", SS_M_GET, SS_SCOPE_NONE, ss_handle_ui, "ui"},
	{"/ui/{file}", SS_M_GET, SS_SCOPE_NONE, ss_handle_ui, "ui"},
};

const unsigned ss_route_count = sizeof ss_routes / sizeof ss_routes[0];
