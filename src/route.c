/*
 * route: (path, origin) -> route and backend choice over an immutable
 * struct config.
 *
 * Paths are compared byte for byte, as sent: no percent-decoding, no
 * dot-segment removal, case-sensitive. A prefix route stores its path
 * without the "/\*" (config.h), so "/a/\*" is ("/a", prefix) and the
 * catch-all "/\*" is ("", prefix).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "route.h"

/*
 * Does prefix route r cover path[0..len)? "/a" covers "/a" itself and
 * anything under "/a/", never "/ab". The empty path ("/\*") covers all.
 * Returns the stored path length on a match, -1 otherwise.
 */
static long
route_prefix_len(const struct config_route *r, const char *path, size_t len)
{
	size_t	plen = strlen(r->path);

	if (plen == 0)
		return 0;
	if (len < plen || memcmp(path, r->path, plen) != 0)
		return -1;
	if (len > plen && path[plen] != '/')
		return -1;
	return (long)plen;
}

const struct config_route *
route_match(const struct config *cfg, const char *path, size_t len)
{
	const struct config_route	*r, *best = NULL;
	long				 plen, best_len = -1;
	size_t				 i;

	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		if (!r->prefix) {
			if (strlen(r->path) == len &&
			    memcmp(r->path, path, len) == 0)
				return r;
			continue;
		}
		plen = route_prefix_len(r, path, len);
		if (plen > best_len) {
			best = r;
			best_len = plen;
		}
	}
	return best;
}

/* ASCII case-insensitive equality of a[0..n) and b[0..n), locale-free. */
static bool
route_ascii_eq(const char *a, const char *b, size_t n)
{
	unsigned char	x, y;
	size_t		i;

	for (i = 0; i < n; i++) {
		x = (unsigned char)a[i];
		y = (unsigned char)b[i];
		if (x >= 'A' && x <= 'Z')
			x += 'a' - 'A';
		if (y >= 'A' && y <= 'Z')
			y += 'a' - 'A';
		if (x != y)
			return false;
	}
	return true;
}

bool
route_origin_allowed(const struct config_route *r, const char *origin,
    size_t len)
{
	const char	*o;
	size_t		 i;

	/* RFC 6455 §10.2: Origin protects browsers; others send none. */
	if (r->norigins == 0 || len == 0)
		return true;
	for (i = 0; i < r->norigins; i++) {
		o = r->origins[i];
		if (strcmp(o, "*") == 0)
			return true;
		if (strlen(o) == len && route_ascii_eq(o, origin, len))
			return true;
	}
	return false;
}

const struct config_addr *
route_backend(const struct config_route *r, uint64_t seq, size_t attempt)
{
	size_t	n = r->nbackends;

	if (n == 0 || attempt >= n)
		return NULL;
	/* seq % n first: seq + attempt must not wrap. */
	return &r->backends[((size_t)(seq % n) + attempt) % n];
}
