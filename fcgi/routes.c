/* The route table: every endpoint of API.md, its methods, the key scope it needs, and its handler. */
#include "fcgi/handlers.h"
#include "fcgi/router.h"

const ss_route ss_routes[] = {
	{"/health", SS_M_GET, SS_SCOPE_NONE, ss_handle_health, "health"},
};

const unsigned ss_route_count = sizeof ss_routes / sizeof ss_routes[0];
