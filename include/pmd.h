/*
 * pmd: permessage-deflate (RFC 7692) negotiation: read the client's
 * Sec-WebSocket-Extensions offers, pick the first one we can accept, and
 * write the response header value.
 *
 * Pure: no allocation, no I/O, no zlib (that is zstream.c). The header
 * grammar is RFC 6455 §9.1 (extension-list with token or quoted-string
 * parameter values, RFC 7230 §3.2.6 and §7 for tokens, quoted strings and
 * empty list elements); the parameters are RFC 7692 §7.1.
 */
#ifndef PMD_H
#define PMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PMD_RESPONSE_MAX	160	/* longest pmd_render() output + NUL */

/* What we want, from the route. */
struct pmd_policy {
	/* LZ77 window of our compressor, 9..15 (8 is refused: zlib's raw
	 * deflate widens 8 to 9, RFC 7692 §7.1.2.1 would be broken). */
	uint8_t		server_max_window_bits;
	/* Window we ask the client to compress with, 8..15; 15 = no ask. */
	uint8_t		client_max_window_bits;
	/* Ask for no context takeover both ways, so that no zlib state
	 * outlives a message (the idle-session memory budget). */
	bool		no_context_takeover;
};

/* The agreed parameters (RFC 7692 §7.1) and what the response says. */
struct pmd_params {
	bool		server_no_context_takeover;	/* we reset per message */
	bool		client_no_context_takeover;	/* client resets */
	uint8_t		server_max_window_bits;	/* our deflate window, 9..15 */
	uint8_t		client_max_window_bits;	/* client's window, 8..15 */
	bool		send_server_bits;	/* response names ours */
	bool		send_client_bits;	/* response names the client's */
};

/* Results of pmd_negotiate(). */
enum pmd_result {
	PMD_NONE = 0,		/* no permessage-deflate offer we accept */
	PMD_ACCEPTED = 1,	/* *out holds the agreed parameters */
	PMD_MALFORMED = -1,	/* a header value breaks the grammar */
};

/*
 * Read the Sec-WebSocket-Extensions header values vals[i] (lens[i] bytes
 * each, not NUL-terminated, in the order received: several headers are one
 * list, RFC 7230 §3.2.2) and pick the first permessage-deflate offer that
 * is valid and acceptable under pol (RFC 7692 §5: offers are in the
 * client's order of preference). An offer with an unknown parameter, a
 * repeated one, or a bad value is declined (§7.1); other extensions are
 * ignored. Returns PMD_ACCEPTED with *out filled, PMD_NONE, or
 * PMD_MALFORMED when a value is not an extension-list (*out cleared;
 * the caller may go on without the extension). Nothing is kept.
 */
enum pmd_result pmd_negotiate(const char *const *vals, const size_t *lens,
	    size_t nvals, const struct pmd_policy *pol, struct pmd_params *out);

/*
 * Write the response value for p ("permessage-deflate; ..."), NUL-
 * terminated, into buf (capacity cap; PMD_RESPONSE_MAX is always enough).
 * Returns its length, or -1 if it does not fit.
 */
int	pmd_render(const struct pmd_params *p, char *buf, size_t cap);

/* The default policy: window 15 both ways, no context takeover. */
void	pmd_policy_default(struct pmd_policy *pol);

#endif
