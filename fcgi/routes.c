/* The route table: every endpoint of API.md, its methods, the key scope it needs, and its handler. */
#include "fcgi/handlers.h"
#include "fcgi/router.h"

const ss_route ss_routes[] = {
	{"/health", SS_M_GET, SS_SCOPE_NONE, ss_handle_health, "health"},
	{"/auth/key", SS_M_GET, SS_SCOPE_CLIENT, ss_handle_auth_key, "auth_key"},
	{"/auth/usage", SS_M_GET, SS_SCOPE_ADMIN, ss_handle_auth_usage, "auth_usage"},
};

const unsigned ss_route_count = sizeof ss_routes / sizeof ss_routes[0];
