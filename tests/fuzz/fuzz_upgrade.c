/* libFuzzer driver for upgrade_parse(): invariants, then the 101 text. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "upgrade.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*b = (const char *)data;
	struct upgrade_req	 req;
	char			 out[1024];
	size_t			 i, n = 7;
	int			 rc = upgrade_parse(b, size, 512, &req);
	const struct upgrade_slice *s[7 + UPGRADE_MAX_PROTOCOLS +
	    UPGRADE_MAX_FORWARDED] = { &req.method, &req.target, &req.path,
	    &req.query, &req.host, &req.origin, &req.key };

	if (rc == 0 || rc < UPGRADE_PLAIN || (rc > 0 && (size_t)rc > size) ||
	    (rc == -1) != (req.status != 0 && req.error != NULL))
		abort();
	if (rc == UPGRADE_PLAIN) {
		/* A plain GET/HEAD: slices inside the input, no key. */
		if (req.key.len != 0 || req.head != (req.method.len == 4) ||
		    (req.if_none_match.len > 0 && (req.if_none_match.p < b ||
		    req.if_none_match.p + req.if_none_match.len > b + size)) ||
		    req.path.p < b || req.path.p + req.path.len > b + size)
			abort();
		return 0;
	}
	if (rc < 0)
		return 0;
	for (i = 0; i < req.nprotocols; i++)
		s[n++] = &req.protocols[i];
	for (i = 0; i < req.nforwarded_for; i++)
		s[n++] = &req.forwarded_for[i];
	for (i = 0; i < n; i++)
		if (s[i]->len > 0 && (s[i]->p < b ||
		    s[i]->p + s[i]->len > b + rc))
			abort();
	/* The head alone parses the same (its end is its first CRLF CRLF,
	 * whether the one-pass scan or the full path found it). */
	if (upgrade_parse(b, (size_t)rc, 512, &req) != rc)
		abort();
	/* The answer is exactly as long as its size helper says. */
	if (upgrade_response_101(out, sizeof(out), &req, req.nprotocols > 0 ?
	    &req.protocols[0] : NULL) != (int)upgrade_response_101_size(
	    req.nprotocols > 0 ? &req.protocols[0] : NULL) ||
	    upgrade_parse(b, (size_t)rc - 1, 512, &req) != -2)
		abort();
	return 0;
}
