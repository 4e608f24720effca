/*
 * route: (path, origin) -> route and backend choice over an immutable
 * struct config.
 *
 * Pure: no allocation, no I/O.
 */
#ifndef ROUTE_H
#define ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/*
 * Find the route for a request path (without the query; not NUL-terminated).
 * An exact route wins; else the longest prefix route ("/a/\*" matches "/a",
 * "/a/" and everything under "/a/"; "/\*" matches every path). Returns the
 * route inside cfg, or NULL (404).
 */
const struct config_route *route_match(const struct config *cfg,
	    const char *path, size_t len);

/*
 * May a browser from this Origin use route r? A route without an origins
 * list allows any origin; an empty origin (len 0: a non-browser client
 * sent none) is allowed, since Origin only guards browsers (RFC 6455
 * §10.2). Otherwise the origin must equal a listed one, ASCII
 * case-insensitively, or the list holds "*".
 */
bool	route_origin_allowed(const struct config_route *r, const char *origin,
	    size_t len);

/*
 * Backend for attempt number attempt (0 first, then failovers) of a
 * session whose round-robin ticket is seq: backends are tried in turn
 * starting at seq % n. Returns NULL once every backend has been tried.
 */
const struct config_addr *route_backend(const struct config_route *r,
	    uint64_t seq, size_t attempt);

#endif
