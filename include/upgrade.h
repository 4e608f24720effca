/*
 * upgrade: HTTP/1.1 request-head parser and the RFC 6455 §4.2 opening
 * handshake checks; texts of the 101 and error answers.
 *
 * Pure: no allocation, no I/O. Parsed fields are (pointer, length) slices
 * of the caller's buffer, valid as long as it is.
 */
#ifndef UPGRADE_H
#define UPGRADE_H

#include <stdbool.h>
#include <stddef.h>

#define UPGRADE_MAX_PROTOCOLS	16	/* subprotocol tokens kept */
#define UPGRADE_ACCEPT_LEN	28	/* base64 of a SHA-1 */
#define UPGRADE_MAX_FORWARDED	16	/* X-Forwarded-For lines kept */
#define UPGRADE_DEFAULT_MAX_HEAD 8192

/* upgrade_parse: a complete plain GET/HEAD request, not an upgrade. */
#define UPGRADE_PLAIN		(-3)

struct upgrade_slice {
	const char	*p;
	size_t		 len;
};

struct upgrade_req {
	struct upgrade_slice method;
	struct upgrade_slice target;	/* request-target as sent */
	struct upgrade_slice path;	/* target's path, up to '?' (never
					 * empty: "/" for "http://h") */
	struct upgrade_slice query;	/* after '?', without it; len 0 if none */
	struct upgrade_slice host;	/* Host, or an absolute target's
					 * authority */
	struct upgrade_slice origin;	/* len 0: no Origin header */
	struct upgrade_slice key;	/* Sec-WebSocket-Key, trimmed */
	/* X-Forwarded-For field lines in the order received: one list
	 * (RFC 9110 §5.3). Past UPGRADE_MAX_FORWARDED lines the last ones
	 * are kept (the walk from the right needs those). */
	struct upgrade_slice forwarded_for[UPGRADE_MAX_FORWARDED];
	size_t		 nforwarded_for;
	struct upgrade_slice authorization; /* Authorization, if any */
	/* Plain requests (UPGRADE_PLAIN): validators for a 304, as sent
	 * (the last such header if repeated); len 0 if absent. */
	struct upgrade_slice if_none_match;
	struct upgrade_slice if_modified_since;
	bool		 head;		/* UPGRADE_PLAIN: method is HEAD */
	/* Sec-WebSocket-Protocol tokens in the order offered, across every
	 * such header; extra tokens past UPGRADE_MAX_PROTOCOLS are a 400. */
	struct upgrade_slice protocols[UPGRADE_MAX_PROTOCOLS];
	size_t		 nprotocols;
	/* on -1: HTTP status to answer (400, 405, 426, 431) and why */
	int		 status;
	const char	*error;
};

/*
 * Parse the request head in buf[0..len). max_head bounds the head (request
 * line, headers and the blank line); 0 means UPGRADE_DEFAULT_MAX_HEAD.
 * Returns:
 *   >0  the head is complete and a valid WebSocket upgrade; the value is
 *       the head's length (bytes after it are frame data to keep);
 *   -2  the head is incomplete and shorter than max_head: read more;
 *   -1  refused: req->status and req->error say why (400 malformed,
 *       405 not GET, 426 Sec-WebSocket-Version not 13, 431 head too big);
 *   UPGRADE_PLAIN (-3)  the head is complete and a well-formed plain
 *       HTTP/1.0 or 1.x GET or HEAD that does not ask for WebSocket:
 *       method, target, path, query, host (len 0 if an HTTP/1.0 request
 *       sent none), if_none_match, if_modified_since and head are set.
 * Checks (RFC 6455 §4.2.1): GET, HTTP/1.1 (or later 1.x), origin-form
 * or absolute-form target (http, https, ws, wss: path and query from it,
 * and host from its authority, RFC 9112 §3.2.2), one Host, Upgrade containing the token "websocket", Connection
 * containing the token "upgrade" (both case-insensitive lists), version
 * 13, and a key that is the base64 of exactly 16 bytes. Duplicate Host,
 * Upgrade, Sec-WebSocket-Key or Origin headers are a 400. Bare CR, NUL
 * and obs-fold are a 400. req is fully written in every case.
 * A request is judged as a handshake when it has an Upgrade header
 * listing "websocket" or any Sec-WebSocket-Key, -Version or -Protocol
 * header; otherwise it is plain: GET or HEAD (case-sensitive) with one
 * valid Host (optional in HTTP/1.0) and no body is UPGRADE_PLAIN, another
 * method a 405, a missing, repeated or bad Host or a body a 400.
 */
int	upgrade_parse(const char *buf, size_t len, size_t max_head,
	    struct upgrade_req *req);

/*
 * Compute Sec-WebSocket-Accept for key (SHA-1 of key + GUID, base64,
 * §4.2.2) into out, NUL-terminated. Returns 0, or -1 if hashing failed.
 */
int	upgrade_accept_key(const char *key, size_t key_len,
	    char out[UPGRADE_ACCEPT_LEN + 1]);

/*
 * Pick the subprotocol to answer with: the first one the client offered
 * that appears in allowed[0..nallowed) (exact, case-sensitive match, as
 * §4.2.2 says tokens are). Returns the index into req->protocols, or -1
 * when none matches (then no Sec-WebSocket-Protocol is sent).
 */
int	upgrade_pick_protocol(const struct upgrade_req *req,
	    const char *const *allowed, size_t nallowed);

/*
 * Write the 101 Switching Protocols answer into buf (capacity cap) for the
 * given client key; protocol may be NULL (none), else it must be a token
 * and is echoed in Sec-WebSocket-Protocol. Returns its length (exactly
 * upgrade_response_101_size(protocol)), or -1 if it does not fit, the
 * protocol is not a token or hashing failed.
 */
int	upgrade_response_101(char *buf, size_t cap, const struct upgrade_req *req,
	    const struct upgrade_slice *protocol);

/*
 * The exact length of the 101 upgrade_response_101() writes for protocol
 * (NULL or empty: none), without the NUL. The subprotocol is echoed, and a
 * "bearer.<JWT>" one can be as long as the head allows, so callers size
 * their buffer with this rather than with a constant.
 */
size_t	upgrade_response_101_size(const struct upgrade_slice *protocol);

/*
 * Write an HTTP error answer with status (100..599) into buf (capacity
 * cap): status line, Content-Type text/plain, Content-Length, Connection:
 * close, for 426 also Sec-WebSocket-Version: 13, for 405 Allow: GET, then
 * header (one or more complete header lines, each with its CRLF; NULL for
 * none; written as given, so never client input), the blank line, and a
 * one-line body "<status> <reason phrase>: <detail>\n" (detail may be
 * NULL). Returns its length, or -1 if it does not fit or status is out of
 * range. buf is NUL-terminated when there is room (not counted).
 */
int	upgrade_response_error_hdr(char *buf, size_t cap, int status,
	    const char *detail, const char *header);
/* The same with no extra header line. */
int	upgrade_response_error(char *buf, size_t cap, int status,
	    const char *detail);
/* The exact length upgrade_response_error_hdr() needs (without the NUL). */
size_t	upgrade_response_error_size(int status, const char *detail,
	    const char *header);

/* Reason phrase for an HTTP status ("Not Found"); "Error" if unknown. */
const char *upgrade_status_text(int status);

#endif
