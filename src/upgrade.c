/*
 * upgrade: HTTP/1.1 request-head parser and RFC 6455 §4.2.1 checks.
 *
 * The parser is picohttpparser-shaped: (buf, len) in, the head's length,
 * -2 (incomplete) or -1 (refused, with req->status) out. It re-reads the
 * head from byte 0 on every call, so it keeps no state between calls; the
 * head is bounded by max_head, which bounds that work too.
 *
 * Order of refusals when several things are wrong, so that answers do not
 * depend on header order: 431 (size, header count) > 400 (syntax of the
 * request line and header lines) > 400 (HTTP/1.0 upgrade) > 405 (method)
 * > 400 (missing, duplicate or bad WebSocket headers) > 426
 * (Sec-WebSocket-Version not 13).
 *
 * Plain requests: a well-formed head that does not ask for WebSocket (no
 * Upgrade header listing "websocket", no Sec-WebSocket-Key, -Version or
 * -Protocol header) is not judged by §4.2.1. A GET or HEAD of that kind
 * is UPGRADE_PLAIN, for the static web root; other methods are a 405.
 * Any sign of a WebSocket handshake keeps the request on the WebSocket
 * path, so a broken handshake still gets its 400/426 and never a file.
 * Connection: upgrade alone is not such a sign: curl's h2c upgrade
 * (Upgrade: h2c) is a plain request whose upgrade we ignore (RFC 7230
 * §6.7).
 * An incomplete head is refused early when the bytes seen so far cannot
 * start a valid request (garbage, a TLS ClientHello, bare LF, NUL), so
 * such peers do not sit until the handshake timeout.
 *
 * Choices made here (strict where a client that follows the RFCs never
 * notices):
 * - Line endings must be CRLF (RFC 7230 §3.5 lets us be strict); bare LF
 *   and bare CR are a 400, and so are empty lines before the request line.
 * - Targets are origin-form or absolute-form (RFC 9112 §3.2.1, §3.2.2: a
 *   server MUST accept the latter) with an http, https, ws or wss scheme;
 *   the absolute URI's authority is then the request's host, in place of
 *   Host, which must still be present (HTTP/1.1), single and valid (§3.2).
 *   Userinfo and an empty host are a 400 (RFC 9110 §4.2.1, §4.2.4).
 *   authority-form and asterisk-form are a 400 (CONNECT and OPTIONS only).
 *   '#' is refused too (RFC 6455 §3: no fragments in WebSocket URIs).
 * - The key must be 22 base64 characters followed by "==" (the RFC 4648
 *   §4 form of 16 bytes). The 4 padding bits of the 22nd character are
 *   not checked (RFC 4648 §3.5 lets decoders ignore them): the key is only
 *   hashed, and sloppy client encoders still connect.
 * - Host must be one non-empty uri-host [":" port] (RFC 7230 §5.4 says
 *   an invalid Host is a 400); Sec-WebSocket-Version must be one header
 *   with the value 13, a repeated one is a 426 too.
 * - A request body is refused (Transfer-Encoding, Content-Length other
 *   than 0): bytes after the head are WebSocket frames, and a body would
 *   be mistaken for them.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "upgrade.h"

#define UPGRADE_MAX_HEADERS	100	/* header lines; more is a 431 */
#define UPGRADE_KEY_LEN		24	/* base64 of 16 bytes */

static const char upgrade_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/*
 * What the header lines said, gathered while reading them and judged once
 * the head is complete (see the order of refusals above).
 */
struct upgrade_hdrs {
	unsigned	 nhosts;
	unsigned	 nupgrades;
	unsigned	 nconnections;
	unsigned	 nkeys;
	unsigned	 norigins;
	unsigned	 nversions;
	unsigned	 nheaders;
	bool		 upgrade_websocket;	/* Upgrade lists "websocket" */
	bool		 connection_upgrade;	/* Connection lists "upgrade" */
	bool		 has_body;		/* TE or Content-Length != 0 */
	bool		 http10;		/* HTTP/1.0 request line */
	unsigned	 nprotoheaders;		/* Sec-WebSocket-Protocol lines */
	struct upgrade_slice version;
	const char	*proto_error;		/* bad Sec-WebSocket-Protocol */
	struct upgrade_slice authority;		/* absolute-form target's host */
};

static int
upgrade_fail(struct upgrade_req *req, int status, const char *error)
{
	req->status = status;
	req->error = error;
	return -1;
}

/*
 * Byte classes, one table lookup per byte instead of range tests and a
 * strchr() per punctuation byte (the parser's inner loops; ~1,000
 * instructions per handshake under callgrind). Each class is written
 * once below as a predicate on the byte value; the table is those
 * predicates evaluated at compile time, so it cannot drift from them.
 */
#define UPGRADE_C_TCHAR		0x01	/* RFC 7230 §3.2.6 tchar */
#define UPGRADE_C_HOST		0x02	/* uri-host [":" port], see below */
#define UPGRADE_C_B64		0x04	/* RFC 4648 §4 alphabet, no pad */
#define UPGRADE_C_VCHAR		0x08	/* field-vchar: VCHAR / obs-text */
#define UPGRADE_C_TARGET	0x10	/* request-target byte, see below */

#define UPGRADE_ALNUM(c)	(((c) >= 'a' && (c) <= 'z') || \
	((c) >= 'A' && (c) <= 'Z') || ((c) >= '0' && (c) <= '9'))
/* tchar: ALPHA / DIGIT / "!#$%&'*+-.^_`|~" */
#define UPGRADE_TCHAR(c)	(UPGRADE_ALNUM(c) || (c) == '!' || \
	(c) == '#' || (c) == '$' || (c) == '%' || (c) == '&' || \
	(c) == '\'' || (c) == '*' || (c) == '+' || (c) == '-' || \
	(c) == '.' || (c) == '^' || (c) == '_' || (c) == '`' || \
	(c) == '|' || (c) == '~')
/*
 * RFC 7230 §5.4 / RFC 3986 §3.2.2: Host is uri-host [":" port]; allow
 * the characters of reg-name, IP-literal and port, nothing else (no
 * space, '/', '@' or obs-text on the way into routing and logs):
 * ALPHA / DIGIT / "-._~!$&'()*+,;=%:[]".
 */
#define UPGRADE_HOSTCH(c)	(UPGRADE_ALNUM(c) || (c) == '-' || \
	(c) == '.' || (c) == '_' || (c) == '~' || (c) == '!' || \
	(c) == '$' || (c) == '&' || (c) == '\'' || (c) == '(' || \
	(c) == ')' || (c) == '*' || (c) == '+' || (c) == ',' || \
	(c) == ';' || (c) == '=' || (c) == '%' || (c) == ':' || \
	(c) == '[' || (c) == ']')
#define UPGRADE_B64CH(c)	(UPGRADE_ALNUM(c) || (c) == '+' || (c) == '/')
/* RFC 7230 §3.2: field-vchar = VCHAR / obs-text (not SP, HTAB, CTL). */
#define UPGRADE_VCHARCH(c)	(((c) > 0x20 && (c) < 0x7f) || (c) >= 0x80)
/* Visible ASCII but '#' (RFC 9112 §3.2; no fragment, RFC 6455 §3). */
#define UPGRADE_TARGETCH(c)	((c) > 0x20 && (c) < 0x7f && (c) != '#')
#define UPGRADE_CLASS(c)	( \
	(UPGRADE_TCHAR(c) ? UPGRADE_C_TCHAR : 0) | \
	(UPGRADE_HOSTCH(c) ? UPGRADE_C_HOST : 0) | \
	(UPGRADE_B64CH(c) ? UPGRADE_C_B64 : 0) | \
	(UPGRADE_VCHARCH(c) ? UPGRADE_C_VCHAR : 0) | \
	(UPGRADE_TARGETCH(c) ? UPGRADE_C_TARGET : 0))
#define UPGRADE_C4(c)	UPGRADE_CLASS(c), UPGRADE_CLASS((c) + 1), \
	UPGRADE_CLASS((c) + 2), UPGRADE_CLASS((c) + 3)
#define UPGRADE_C16(c)	UPGRADE_C4(c), UPGRADE_C4((c) + 4), \
	UPGRADE_C4((c) + 8), UPGRADE_C4((c) + 12)
#define UPGRADE_C64(c)	UPGRADE_C16(c), UPGRADE_C16((c) + 16), \
	UPGRADE_C16((c) + 32), UPGRADE_C16((c) + 48)

static const unsigned char upgrade_class[256] = {
	UPGRADE_C64(0), UPGRADE_C64(64), UPGRADE_C64(128), UPGRADE_C64(192)
};

static bool
upgrade_is(unsigned char c, unsigned char cls)
{
	return (upgrade_class[c] & cls) != 0;
}

static bool
upgrade_is_tchar(unsigned char c)
{
	return upgrade_is(c, UPGRADE_C_TCHAR);
}

static bool
upgrade_is_token(const char *p, size_t len)
{
	size_t	i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++)
		if (!upgrade_is_tchar((unsigned char)p[i]))
			return false;
	return true;
}

/* Host (or an absolute target's authority): see UPGRADE_HOSTCH. */
static bool
upgrade_host_valid(const struct upgrade_slice *v)
{
	size_t	i;

	if (v->len == 0)
		return false;
	for (i = 0; i < v->len; i++)
		if (!upgrade_is((unsigned char)v->p[i], UPGRADE_C_HOST))
			return false;
	return true;
}

static unsigned char
upgrade_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* A string literal and its length, for the comparisons below. */
#define UPGRADE_LIT(s)	(s), (sizeof(s) - 1)

/*
 * ASCII case-insensitive comparison of p[0..len) with s[0..slen), which
 * holds only lowercase letters, digits and "-/:". p is a header name
 * (tchar), a list element of a header value (field-vchar, SP, HTAB) or
 * a request target (visible ASCII): OR-ing 0x20 lowercases a letter, and
 * maps no other byte of those onto one of s's (only CTLs would: 0x0d to
 * '-', 0x0f to '/', 0x10-0x1a to digits and ':'; HTAB becomes ')').
 * Eight and four bytes at a time: header names are most of what the
 * parser compares.
 */
static bool
upgrade_ieqn(const char *p, size_t len, const char *s, size_t slen)
{
	uint64_t	a, b;
	size_t		i = 0;

	if (len != slen)
		return false;
	for (; len - i >= 8; i += 8) {
		memcpy(&a, p + i, 8);
		memcpy(&b, s + i, 8);
		if ((a | UINT64_C(0x2020202020202020)) != b)
			return false;
	}
	if (len - i >= 4) {
		uint32_t	c, d;

		memcpy(&c, p + i, 4);
		memcpy(&d, s + i, 4);
		if ((c | UINT32_C(0x20202020)) != d)
			return false;
		i += 4;
	}
	for (; i < len; i++)
		if (((unsigned char)p[i] | 0x20) != (unsigned char)s[i])
			return false;
	return true;
}

static bool
upgrade_is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Step through a comma-separated list (RFC 7230 §7: #rule, OWS around
 * the commas, empty elements allowed and skipped). *pos starts at 0.
 * Returns true with the next trimmed, non-empty element in *elem, or
 * false at the end of the list.
 */
static bool
upgrade_list_next(const struct upgrade_slice *v, size_t *pos,
    struct upgrade_slice *elem)
{
	size_t	i = *pos, start, end;

	while (i < v->len) {
		while (i < v->len && (upgrade_is_ows(v->p[i]) || v->p[i] == ','))
			i++;
		start = i;
		while (i < v->len && v->p[i] != ',')
			i++;
		end = i;
		while (end > start && upgrade_is_ows(v->p[end - 1]))
			end--;
		if (end > start) {
			elem->p = v->p + start;
			elem->len = end - start;
			*pos = i;
			return true;
		}
	}
	*pos = i;
	return false;
}

/* Does the list v contain an element equal (case-insensitively) to s? */
static bool
upgrade_list_has(const struct upgrade_slice *v, const char *s, size_t slen)
{
	struct upgrade_slice	e;
	size_t			pos = 0;

	/* The common case first: the whole value is that one token. */
	if (upgrade_ieqn(v->p, v->len, s, slen))
		return true;
	while (upgrade_list_next(v, &pos, &e))
		if (upgrade_ieqn(e.p, e.len, s, slen))
			return true;
	return false;
}

/*
 * Length of the head in buf (through the first CRLF CRLF), if that ends
 * within max_head bytes; 0 if it does not (yet).
 */
static size_t
upgrade_find_end(const char *buf, size_t len, size_t max_head)
{
	const char	*p, *end;
	size_t		 n = len < max_head ? len : max_head;

	end = buf + n;
	for (p = buf; n >= 4 && p <= end - 4; p++) {
		p = memchr(p, '\r', (size_t)(end - 3 - p));
		if (p == NULL)
			break;
		if (p[1] == '\n' && p[2] == '\r' && p[3] == '\n')
			return (size_t)(p + 4 - buf);
	}
	return 0;
}

/* Header lines in a complete head: its LFs less request and blank line. */
static size_t
upgrade_count_lines(const char *buf, size_t head_len)
{
	const char	*p = buf, *end = buf + head_len, *lf;
	size_t		 n = 0;

	while ((lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p = lf + 1;
	}
	return n >= 2 ? n - 2 : 0;
}

/* Refuse the byte c, found where a line's syntax does not allow it. */
static int
upgrade_bad_byte(struct upgrade_req *req, unsigned char c, const char *what)
{
	if (c == '\0')
		return upgrade_fail(req, 400, "NUL byte in request head");
	if (c == '\n')
		return upgrade_fail(req, 400, "bare LF in request head");
	return upgrade_fail(req, 400, what);
}

/*
 * Expect CRLF at buf[*i]. Returns 0 past it, -2 if buf ends first, or -1
 * (400) if another byte stands there.
 */
static int
upgrade_crlf(const char *buf, size_t n, size_t *i, struct upgrade_req *req,
    const char *what)
{
	if (*i == n)
		return -2;
	if (buf[*i] != '\r')
		return upgrade_bad_byte(req, (unsigned char)buf[*i], what);
	if (*i + 1 == n)
		return -2;
	if (buf[*i + 1] != '\n')
		return upgrade_fail(req, 400, "bare CR in request head");
	*i += 2;
	return 0;
}

static bool
upgrade_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Schemes of an absolute-form target, each with its "://". */
static const char *const upgrade_schemes[] = {
	"http://", "https://", "ws://", "wss://"
};

/* Could p[0..len), the start of a target, begin one of upgrade_schemes? */
static bool
upgrade_scheme_prefix(const char *p, size_t len)
{
	size_t	i, k, n;

	for (i = 0; i < sizeof(upgrade_schemes) / sizeof(upgrade_schemes[0]);
	    i++) {
		n = strlen(upgrade_schemes[i]);
		for (k = 0; k < len && k < n; k++)
			if (upgrade_lower((unsigned char)p[k]) !=
			    (unsigned char)upgrade_schemes[i][k])
				break;
		if (k == len || k == n)
			return true;
	}
	return false;
}

/*
 * An absolute-form target (RFC 9112 §3.2.2), req->target: scheme "://"
 * authority path-abempty [ "?" query ]. The schemes are http and https
 * (RFC 9110 §4.2) and ws and wss (RFC 6455 §3), in any case (RFC 3986
 * §3.1). On 0, *rest is the target from the path on (it may be empty, or
 * start with '?') and *authority is host [":" port]: the host the request
 * is for, in place of Host (§3.2.2). The byte before the authority is
 * always '/', which the caller uses as the path "/" when none is given.
 * Returns -1 (400) when it is not such a URI.
 */
static int
upgrade_absolute_form(struct upgrade_req *req, struct upgrade_slice *rest,
    struct upgrade_slice *authority)
{
	const char	*t = req->target.p, *end = t + req->target.len, *a, *p;
	size_t		 i, slen;

	for (p = t; p < end && (upgrade_is_alpha(*p) || (*p >= '0' &&
	    *p <= '9') || *p == '+' || *p == '-' || *p == '.'); p++)
		;
	slen = (size_t)(p - t);
	if (end - p < 3 || memcmp(p, "://", 3) != 0)
		return upgrade_fail(req, 400,
		    "request-target is not origin-form or absolute-form");
	for (i = 0; i < sizeof(upgrade_schemes) / sizeof(upgrade_schemes[0]);
	    i++)
		if (upgrade_ieqn(t, slen + 3, upgrade_schemes[i],
		    strlen(upgrade_schemes[i])))
			break;
	if (i == sizeof(upgrade_schemes) / sizeof(upgrade_schemes[0]))
		return upgrade_fail(req, 400, "request-target scheme is not "
		    "http, https, ws or wss");
	a = p + 3;
	for (p = a; p < end && *p != '/' && *p != '?'; p++)
		;
	authority->p = a;
	authority->len = (size_t)(p - a);
	/* RFC 9110 §4.2.4: userinfo is an error; §4.2.1: a host is needed. */
	if (memchr(a, '@', authority->len) != NULL)
		return upgrade_fail(req, 400, "userinfo in request-target");
	if (!upgrade_host_valid(authority) || authority->p[0] == ':')
		return upgrade_fail(req, 400,
		    "request-target has no valid host");
	rest->p = p;
	rest->len = (size_t)(end - p);
	return 0;
}

/*
 * The request line (RFC 7230 §3.1.1): method SP request-target SP
 * HTTP-version CRLF. On 0, *off is past its CRLF, req->method, target,
 * path and query are set and h->http10 says HTTP/1.0. -2: buf ends inside
 * it and what is there is a valid start. -1: refused (400).
 */
static int
upgrade_request_line(const char *buf, size_t n, size_t *off,
    struct upgrade_req *req, struct upgrade_hdrs *h)
{
	static const char	 proto[] = "HTTP/1.";
	const char		*q;
	size_t			 i = 0, start, k;

	/* A TLS record (ClientHello) sent to a plain-text listener. */
	if (n > 0 && buf[0] == 0x16)
		return upgrade_fail(req, 400, "TLS handshake on a plain listener");
	while (i < n && upgrade_is_tchar((unsigned char)buf[i]))
		i++;
	if (i == n)
		return -2;
	if (i == 0 || buf[i] != ' ')
		return upgrade_bad_byte(req, (unsigned char)buf[i],
		    "malformed request method");
	req->method.p = buf;
	req->method.len = i;

	/*
	 * RFC 9112 §3.2: origin-form, or absolute-form (a scheme starts with
	 * ALPHA); visible ASCII; no fragment (RFC 6455 §3).
	 */
	start = ++i;
	if (i < n && buf[i] != '/' && !upgrade_is_alpha(buf[i]))
		return upgrade_bad_byte(req, (unsigned char)buf[i],
		    "request-target is not origin-form or absolute-form");
	while (i < n && upgrade_is((unsigned char)buf[i], UPGRADE_C_TARGET))
		i++;
	if (i == n) {
		/* Refuse early what cannot become one of our schemes. */
		if (start < n && buf[start] != '/' &&
		    !upgrade_scheme_prefix(buf + start, n - start))
			return upgrade_fail(req, 400, "request-target is not "
			    "origin-form or absolute-form");
		return -2;
	}
	if (buf[i] != ' ')
		return upgrade_bad_byte(req, (unsigned char)buf[i],
		    "malformed request-target");
	req->target.p = buf + start;
	req->target.len = i - start;
	req->path = req->target;
	if (buf[start] != '/' &&
	    upgrade_absolute_form(req, &req->path, &h->authority) == -1)
		return -1;
	if ((q = memchr(req->path.p, '?', req->path.len)) != NULL) {
		req->query.p = q + 1;
		req->query.len = req->path.len - (size_t)(q - req->path.p) - 1;
		req->path.len = (size_t)(q - req->path.p);
	}
	/* An empty path is "/" (RFC 9110 §4.2.3); see upgrade_absolute_form. */
	if (req->path.len == 0 && h->authority.len > 0) {
		req->path.p = h->authority.p - 1;
		req->path.len = 1;
	}

	/*
	 * RFC 6455 §4.1: HTTP/1.1 or higher; we take HTTP/1.1 to HTTP/1.9.
	 * HTTP/1.0 passes here for plain requests; upgrade_check refuses
	 * it for a WebSocket handshake.
	 */
	i++;
	for (k = 0; k < sizeof(proto) - 1; k++, i++) {
		if (i == n)
			return -2;
		if (buf[i] != proto[k])
			return upgrade_bad_byte(req, (unsigned char)buf[i],
			    "unsupported HTTP version");
	}
	if (i == n)
		return -2;
	if (buf[i] < '0' || buf[i] > '9')
		return upgrade_bad_byte(req, (unsigned char)buf[i],
		    "HTTP/1.1 or later required");
	h->http10 = buf[i] == '0';
	i++;
	*off = i;
	return upgrade_crlf(buf, n, off, req, "malformed request line");
}

/* Record one Sec-WebSocket-Protocol header's tokens (RFC 6455 §4.1). */
static void
upgrade_protocols(struct upgrade_req *req, struct upgrade_hdrs *h,
    const struct upgrade_slice *v)
{
	struct upgrade_slice	e;
	size_t			pos = 0;

	while (upgrade_list_next(v, &pos, &e)) {
		if (!upgrade_is_token(e.p, e.len)) {
			if (h->proto_error == NULL)
				h->proto_error =
				    "Sec-WebSocket-Protocol element is not a token";
			continue;
		}
		if (req->nprotocols == UPGRADE_MAX_PROTOCOLS) {
			if (h->proto_error == NULL)
				h->proto_error = "too many subprotocols offered";
			continue;
		}
		req->protocols[req->nprotocols++] = e;
	}
}

/* Note what one header (name, trimmed value) says; judged later. */
static void
upgrade_header(struct upgrade_req *req, struct upgrade_hdrs *h,
    const char *name, size_t nlen, const struct upgrade_slice *v)
{
	if (upgrade_ieqn(name, nlen, UPGRADE_LIT("host"))) {
		h->nhosts++;
		req->host = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("upgrade"))) {
		h->nupgrades++;
		if (upgrade_list_has(v, UPGRADE_LIT("websocket")))
			h->upgrade_websocket = true;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("connection"))) {
		/* A list header: several lines combine (RFC 7230 §3.2.2). */
		h->nconnections++;
		if (upgrade_list_has(v, UPGRADE_LIT("upgrade")))
			h->connection_upgrade = true;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("sec-websocket-key"))) {
		h->nkeys++;
		req->key = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("sec-websocket-version"))) {
		h->nversions++;
		h->version = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("origin"))) {
		h->norigins++;
		req->origin = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("sec-websocket-protocol"))) {
		h->nprotoheaders++;
		upgrade_protocols(req, h, v);
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("x-forwarded-for"))) {
		/* Repeated lines are one list (RFC 9110 §5.3): keep them all,
		 * or the last UPGRADE_MAX_FORWARDED (read from the right). */
		if (req->nforwarded_for == UPGRADE_MAX_FORWARDED) {
			memmove(req->forwarded_for, req->forwarded_for + 1,
			    sizeof(req->forwarded_for[0]) *
			    (UPGRADE_MAX_FORWARDED - 1));
			req->nforwarded_for--;
		}
		req->forwarded_for[req->nforwarded_for++] = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("authorization"))) {
		req->authorization = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("transfer-encoding"))) {
		h->has_body = true;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("content-length"))) {
		if (v->len != 1 || v->p[0] != '0')
			h->has_body = true;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("if-none-match"))) {
		req->if_none_match = *v;
	} else if (upgrade_ieqn(name, nlen, UPGRADE_LIT("if-modified-since"))) {
		req->if_modified_since = *v;
	}
}

/*
 * One header line at buf[*off] (RFC 7230 §3.2): field-name ":" OWS
 * field-value OWS CRLF. Returns 0 past it, -2 if buf ends inside it with
 * a valid start, -1 if refused (400).
 */
static int
upgrade_header_line(const char *buf, size_t n, size_t *off,
    struct upgrade_req *req, struct upgrade_hdrs *h)
{
	struct upgrade_slice	v;
	size_t			i = *off, start = *off, nlen;
	unsigned char		c;
	int			rc;

	/* §3.2.4: obs-fold is refused, as a server that does not unfold. */
	if (upgrade_is_ows(buf[i]))
		return upgrade_fail(req, 400, "obsolete header line folding");
	while (i < n && upgrade_is_tchar((unsigned char)buf[i]))
		i++;
	if (i == n)
		return -2;
	if (buf[i] != ':') {
		/* §3.2.4: whitespace before the colon MUST be a 400. */
		if (i > start && upgrade_is_ows(buf[i]))
			return upgrade_fail(req, 400,
			    "whitespace between header name and colon");
		return upgrade_bad_byte(req, (unsigned char)buf[i],
		    "malformed header line");
	}
	if (i == start)
		return upgrade_fail(req, 400, "empty header name");
	nlen = i - start;

	/* Value: field-vchar (VCHAR / obs-text) with SP and HTAB inside. */
	i++;
	while (i < n && upgrade_is_ows(buf[i]))
		i++;
	v.p = buf + i;
	v.len = 0;
	while (i < n) {
		c = (unsigned char)buf[i];
		if (upgrade_is(c, UPGRADE_C_VCHAR)) {
			/* A run of field-vchar; the value ends after it
			 * unless more follows the OWS behind it. */
			while (++i < n &&
			    upgrade_is((unsigned char)buf[i], UPGRADE_C_VCHAR))
				;
			v.len = (size_t)(buf + i - v.p);
			continue;
		}
		if (c == '\r')
			break;
		if (!upgrade_is_ows((char)c))
			return upgrade_bad_byte(req, c,
			    "control character in header value");
		i++;
	}
	*off = i;
	if ((rc = upgrade_crlf(buf, n, off, req, "malformed header line")) != 0)
		return rc;
	upgrade_header(req, h, buf + start, nlen, &v);
	return 0;
}

/*
 * Syntax of the head in buf[0..n): the request line, then header lines
 * up to the blank line. Returns 0 at the blank line (and, if end is not
 * NULL, the head's length through it in *end), -2 if buf ends first (and
 * all of it could still start a valid head), -1 if refused.
 */
static int
upgrade_scan(const char *buf, size_t n, struct upgrade_req *req,
    struct upgrade_hdrs *h, size_t *end)
{
	size_t	off = 0;
	int	rc;

	if ((rc = upgrade_request_line(buf, n, &off, req, h)) != 0)
		return rc;
	for (;;) {
		if (off == n)
			return -2;
		if (buf[off] == '\r') {
			if (off + 1 == n)
				return -2;
			if (buf[off + 1] != '\n')
				return upgrade_fail(req, 400,
				    "bare CR in request head");
			if (end != NULL)
				*end = off + 2;
			return 0;
		}
		if (++h->nheaders > UPGRADE_MAX_HEADERS)
			return upgrade_fail(req, 431, "too many header lines");
		if ((rc = upgrade_header_line(buf, n, &off, req, h)) != 0)
			return rc;
	}
}

static bool
upgrade_method_is(const struct upgrade_req *req, const char *m)
{
	return req->method.len == strlen(m) &&
	    memcmp(req->method.p, m, req->method.len) == 0;
}

/*
 * A complete, well-formed head that shows no sign of a WebSocket
 * handshake: GET or HEAD is UPGRADE_PLAIN, anything else a 405.
 */
static int
upgrade_check_plain(struct upgrade_req *req, const struct upgrade_hdrs *h)
{
	/* Methods are case-sensitive (RFC 7231 §4.1). */
	req->head = upgrade_method_is(req, "HEAD");
	if (!req->head && !upgrade_method_is(req, "GET"))
		return upgrade_fail(req, 405, "method is not GET or HEAD");
	/* RFC 7230 §5.4: HTTP/1.1 needs one Host; 1.0 may omit it. */
	if (h->nhosts == 0 && !h->http10)
		return upgrade_fail(req, 400, "missing Host header");
	if (h->nhosts > 1)
		return upgrade_fail(req, 400, "duplicate Host header");
	if (h->nhosts == 1 && !upgrade_host_valid(&req->host))
		return upgrade_fail(req, 400, "invalid Host header");
	/* GET and HEAD carry no body here: bytes after the head are junk. */
	if (h->has_body)
		return upgrade_fail(req, 400, "request body not allowed");
	return UPGRADE_PLAIN;
}

/*
 * The §4.2.1 checks on a complete, well-formed head; or, if it does not
 * ask for WebSocket at all, the plain request checks. Returns 0 (valid
 * upgrade), UPGRADE_PLAIN or -1.
 */
static int
upgrade_check(struct upgrade_req *req, const struct upgrade_hdrs *h)
{
	size_t	i;

	if (!h->upgrade_websocket && h->nkeys == 0 && h->nversions == 0 &&
	    h->nprotoheaders == 0)
		return upgrade_check_plain(req, h);
	/* RFC 6455 §4.1: the handshake needs HTTP/1.1 or later. */
	if (h->http10)
		return upgrade_fail(req, 400, "HTTP/1.1 or later required");
	/* §4.2.1 item 1: the method MUST be GET (case-sensitive, §3.1.1). */
	if (req->method.len != 3 || memcmp(req->method.p, "GET", 3) != 0)
		return upgrade_fail(req, 405, "method is not GET");
	/* Item 2 and RFC 7230 §5.4: exactly one Host. */
	if (h->nhosts == 0)
		return upgrade_fail(req, 400, "missing Host header");
	if (h->nhosts > 1)
		return upgrade_fail(req, 400, "duplicate Host header");
	if (!upgrade_host_valid(&req->host))
		return upgrade_fail(req, 400, "invalid Host header");
	/* Item 3: Upgrade includes "websocket", case-insensitively. */
	if (h->nupgrades == 0)
		return upgrade_fail(req, 400, "missing Upgrade header");
	if (h->nupgrades > 1)
		return upgrade_fail(req, 400, "duplicate Upgrade header");
	if (!h->upgrade_websocket)
		return upgrade_fail(req, 400,
		    "Upgrade header does not offer websocket");
	/* Item 4: Connection includes "Upgrade", case-insensitively. */
	if (h->nconnections == 0)
		return upgrade_fail(req, 400, "missing Connection header");
	if (!h->connection_upgrade)
		return upgrade_fail(req, 400,
		    "Connection header lacks the upgrade option");
	/* Item 5: a key that is base64 of 16 bytes (22 chars and "=="). */
	if (h->nkeys == 0)
		return upgrade_fail(req, 400, "missing Sec-WebSocket-Key header");
	if (h->nkeys > 1)
		return upgrade_fail(req, 400,
		    "duplicate Sec-WebSocket-Key header");
	if (req->key.len != UPGRADE_KEY_LEN || req->key.p[22] != '=' ||
	    req->key.p[23] != '=')
		goto badkey;
	for (i = 0; i < UPGRADE_KEY_LEN - 2; i++)
		if (!upgrade_is((unsigned char)req->key.p[i], UPGRADE_C_B64))
			goto badkey;
	/* Item 7: Origin is optional, but one only. */
	if (h->norigins > 1)
		return upgrade_fail(req, 400, "duplicate Origin header");
	/* Item 8: subprotocols are tokens (§4.1). */
	if (h->proto_error != NULL)
		return upgrade_fail(req, 400, h->proto_error);
	if (h->has_body)
		return upgrade_fail(req, 400, "request body not allowed");
	/* Item 6 and §4.4: version 13, or 426 naming the one we speak. */
	if (h->nversions == 0)
		return upgrade_fail(req, 400,
		    "missing Sec-WebSocket-Version header");
	if (h->nversions > 1 || h->version.len != 2 ||
	    memcmp(h->version.p, "13", 2) != 0)
		return upgrade_fail(req, 426,
		    "Sec-WebSocket-Version must be 13");
	return 0;
badkey:
	return upgrade_fail(req, 400,
	    "Sec-WebSocket-Key is not base64 of 16 bytes");
}

/* A head of head_len bytes scanned clean: judge it (upgrade_check). */
static int
upgrade_finish(struct upgrade_req *req, const struct upgrade_hdrs *h,
    size_t head_len)
{
	int	rc = upgrade_check(req, h);

	/* RFC 9112 §3.2.2: an absolute-form target's authority is the host,
	 * whatever Host said (which still had to be one and valid, §3.2). */
	if ((rc == 0 || rc == UPGRADE_PLAIN) && h->authority.len > 0)
		req->host = h->authority;
	if (rc != 0)
		return rc;
	return (int)head_len;
}

int
upgrade_parse(const char *buf, size_t len, size_t max_head,
    struct upgrade_req *req)
{
	struct upgrade_hdrs	h;
	size_t			head_len;
	int			rc;

	memset(req, 0, sizeof(*req));
	memset(&h, 0, sizeof(h));
	if (max_head == 0)
		max_head = UPGRADE_DEFAULT_MAX_HEAD;
	if (max_head > INT_MAX)
		max_head = INT_MAX;

	/*
	 * The usual case in one pass: a head that scans clean within
	 * max_head. Its end is then the first CRLF CRLF (an earlier one
	 * would have been the blank line) and it has every line ending in
	 * CRLF, so nheaders is what upgrade_count_lines() would say and the
	 * scan's own 431 past UPGRADE_MAX_HEADERS is the one it would give.
	 * Anything else (incomplete, refused) takes the full path below,
	 * which judges the size and the line count before the syntax.
	 */
	head_len = len < max_head ? len : max_head;
	if (upgrade_scan(buf, head_len, req, &h, &head_len) == 0)
		return upgrade_finish(req, &h, head_len);
	memset(req, 0, sizeof(*req));
	memset(&h, 0, sizeof(h));

	/* Size first (431 outranks everything): relayd's 413, RFC 6585 §5. */
	head_len = upgrade_find_end(buf, len, max_head);
	if (head_len == 0) {
		if (len >= max_head)
			return upgrade_fail(req, 431, "request head too large");
		/* Incomplete: refuse early if it cannot become valid. */
		rc = upgrade_scan(buf, len, req, &h, NULL);
		if (rc == -1)
			return -1;
		memset(req, 0, sizeof(*req));
		return -2;
	}
	if (upgrade_count_lines(buf, head_len) > UPGRADE_MAX_HEADERS)
		return upgrade_fail(req, 431, "too many header lines");
	if ((rc = upgrade_scan(buf, head_len, req, &h, NULL)) != 0)
		return rc == -2 ? upgrade_fail(req, 400,
		    "malformed request head") : -1;
	return upgrade_finish(req, &h, head_len);
}

/*
 * OpenSSL 3 looks the digest up in its provider store on every
 * EVP_DigestInit_ex(ctx, EVP_sha1(), ...) ("implicit fetch"): about 2,800
 * instructions per handshake under callgrind, more than SHA-1 of 60 bytes
 * itself. One explicit fetch per process instead; the reference is held
 * for the life of the process (an immutable, thread-safe object).
 *
 * The digest context is kept too, one per thread (a context is not
 * shared between threads): a new one per handshake cost ~580
 * instructions more (EVP_MD_CTX_new, its SHA-1 state allocated and
 * freed, EVP_MD_CTX_free). The thread's key destructor frees it when a
 * worker thread ends; a thread that never ends (the main one) keeps it,
 * reachable through its thread-specific data, for the life of the
 * process.
 */
static EVP_MD		*upgrade_sha1;
static EVP_MD_CTX	*upgrade_sha1_start;	/* initialised, never fed */
static pthread_key_t	 upgrade_ctx_key;
static bool		 upgrade_ctx_keyed;
static pthread_once_t	 upgrade_sha1_once = PTHREAD_ONCE_INIT;

static void
upgrade_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
upgrade_sha1_fetch(void)
{
	upgrade_sha1 = EVP_MD_fetch(NULL, "SHA1", NULL);
	/* Copying this state costs less than EVP_DigestInit_ex (~130
	 * instructions: no engine query, no state freed and allocated). */
	if (upgrade_sha1 != NULL &&
	    (upgrade_sha1_start = EVP_MD_CTX_new()) != NULL &&
	    EVP_DigestInit_ex(upgrade_sha1_start, upgrade_sha1, NULL) != 1) {
		EVP_MD_CTX_free(upgrade_sha1_start);
		upgrade_sha1_start = NULL;
	}
	upgrade_ctx_keyed = pthread_key_create(&upgrade_ctx_key,
	    upgrade_ctx_free) == 0;
}

/*
 * This thread's digest context, made on first use; NULL when out of
 * memory or without a key (then *fresh says the caller owns and frees
 * a new one).
 */
static EVP_MD_CTX *
upgrade_ctx_get(bool *fresh)
{
	EVP_MD_CTX	*ctx;

	*fresh = false;
	if (upgrade_ctx_keyed &&
	    (ctx = pthread_getspecific(upgrade_ctx_key)) != NULL)
		return ctx;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return NULL;
	if (!upgrade_ctx_keyed ||
	    pthread_setspecific(upgrade_ctx_key, ctx) != 0)
		*fresh = true;
	return ctx;
}

/* RFC 4648 §4 base64 of the 20 bytes of a SHA-1: 28 characters. */
static void
upgrade_b64_sha1(const unsigned char md[20], char out[UPGRADE_ACCEPT_LEN])
{
	static const char	 a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";
	uint32_t		 v;
	size_t			 i, o = 0;

	for (i = 0; i + 3 <= 20; i += 3) {
		v = (uint32_t)md[i] << 16 | (uint32_t)md[i + 1] << 8 | md[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	/* 20 = 6 * 3 + 2: the last two bytes make three characters and
	 * one pad. */
	v = (uint32_t)md[18] << 16 | (uint32_t)md[19] << 8;
	out[o++] = a[v >> 18];
	out[o++] = a[(v >> 12) & 63];
	out[o++] = a[(v >> 6) & 63];
	out[o] = '=';
}

int
upgrade_accept_key(const char *key, size_t key_len,
    char out[UPGRADE_ACCEPT_LEN + 1])
{
	EVP_MD_CTX	*ctx;
	unsigned char	 md[EVP_MAX_MD_SIZE];
	char		 in[UPGRADE_KEY_LEN + sizeof(upgrade_guid)];
	unsigned int	 mdlen = 0;
	bool		 fresh;
	bool		 ok;

	/* §4.2.2 step 5.4: base64(SHA-1(key + GUID)). */
	out[0] = '\0';
	(void)pthread_once(&upgrade_sha1_once, upgrade_sha1_fetch);
	if ((ctx = upgrade_ctx_get(&fresh)) == NULL)
		return -1;
	ok = upgrade_sha1_start != NULL ?
	    EVP_MD_CTX_copy_ex(ctx, upgrade_sha1_start) == 1 :
	    EVP_DigestInit_ex(ctx, EVP_sha1(), NULL) == 1;
	if (ok && key_len <= UPGRADE_KEY_LEN) {
		/* The usual key: one update of key + GUID (one call less). */
		memcpy(in, key, key_len);
		memcpy(in + key_len, upgrade_guid, sizeof(upgrade_guid) - 1);
		ok = EVP_DigestUpdate(ctx, in, key_len +
		    sizeof(upgrade_guid) - 1) == 1;
	} else if (ok)
		ok = EVP_DigestUpdate(ctx, key, key_len) == 1 &&
		    EVP_DigestUpdate(ctx, upgrade_guid,
		    sizeof(upgrade_guid) - 1) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen == 20;
	if (fresh)
		EVP_MD_CTX_free(ctx);
	if (!ok)
		return -1;
	upgrade_b64_sha1(md, out);
	out[UPGRADE_ACCEPT_LEN] = '\0';
	return 0;
}

int
upgrade_pick_protocol(const struct upgrade_req *req,
    const char *const *allowed, size_t nallowed)
{
	size_t	i, j;

	for (i = 0; i < req->nprotocols; i++)
		for (j = 0; j < nallowed; j++)
			if (allowed[j] != NULL &&
			    strlen(allowed[j]) == req->protocols[i].len &&
			    memcmp(allowed[j], req->protocols[i].p,
			    req->protocols[i].len) == 0)
				return (int)i;
	return -1;
}

/*
 * An answer being written into a caller's buffer; overflow is sticky. len
 * counts every byte asked for, written or not, so the same writer run
 * over a NULL buffer of capacity 0 measures the answer.
 */
struct upgrade_out {
	char	*p;
	size_t	 cap;
	size_t	 len;
	bool	 overflow;
};

static void
upgrade_out_add(struct upgrade_out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->cap - o->len)
		o->overflow = true;
	else
		memcpy(o->p + o->len, s, n);
	o->len += n;
}

static void
upgrade_out_str(struct upgrade_out *o, const char *s)
{
	upgrade_out_add(o, s, strlen(s));
}

/* A string literal, its length known at compile time (no strlen). */
#define UPGRADE_OUT_LIT(o, lit)	upgrade_out_add((o), (lit), sizeof(lit) - 1)

/* Finish: NUL-terminate if there is room (not counted); length or -1. */
static int
upgrade_out_end(struct upgrade_out *o)
{
	if (o->overflow || o->len > INT_MAX)
		return -1;
	if (o->len < o->cap)
		o->p[o->len] = '\0';
	return (int)o->len;
}

/* The 101 (§4.2.2 step 5) with accept (UPGRADE_ACCEPT_LEN bytes). */
static void
upgrade_101_write(struct upgrade_out *o, const char *accept,
    const struct upgrade_slice *protocol)
{
	UPGRADE_OUT_LIT(o, "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: ");
	upgrade_out_add(o, accept, UPGRADE_ACCEPT_LEN);
	if (protocol != NULL) {
		UPGRADE_OUT_LIT(o, "\r\nSec-WebSocket-Protocol: ");
		upgrade_out_add(o, protocol->p, protocol->len);
	}
	UPGRADE_OUT_LIT(o, "\r\n\r\n");
}

size_t
upgrade_response_101_size(const struct upgrade_slice *protocol)
{
	static const char	accept[UPGRADE_ACCEPT_LEN + 1] =
	    "0000000000000000000000000000";
	struct upgrade_out	o = { NULL, 0, 0, false };

	if (protocol != NULL && protocol->len == 0)
		protocol = NULL;
	upgrade_101_write(&o, accept, protocol);
	return o.len;
}

int
upgrade_response_101(char *buf, size_t cap, const struct upgrade_req *req,
    const struct upgrade_slice *protocol)
{
	struct upgrade_out	o = { buf, cap, 0, false };
	char			accept[UPGRADE_ACCEPT_LEN + 1];

	if (upgrade_accept_key(req->key.p, req->key.len, accept) == -1)
		return -1;
	/* An empty slice means none; only a token may go out, so a bad
	 * slice cannot inject a header line. */
	if (protocol != NULL && protocol->len == 0)
		protocol = NULL;
	if (protocol != NULL && !upgrade_is_token(protocol->p, protocol->len))
		return -1;
	upgrade_101_write(&o, accept, protocol);
	return upgrade_out_end(&o);
}

/* An error answer; see upgrade_response_error_hdr() in upgrade.h. */
static void
upgrade_error_write(struct upgrade_out *o, int status, const char *detail,
    const char *header)
{
	const char	*reason = upgrade_status_text(status);
	char		 num[48];
	size_t		 body_len;

	/* Body: "<status> <reason>[: <detail>]\n"; status is 3 digits. */
	body_len = 3 + 1 + strlen(reason) + 1;
	if (detail != NULL)
		body_len += 2 + strlen(detail);

	snprintf(num, sizeof(num), "%d", status);
	upgrade_out_str(o, "HTTP/1.1 ");
	upgrade_out_str(o, num);
	upgrade_out_str(o, " ");
	upgrade_out_str(o, reason);
	upgrade_out_str(o, "\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: ");
	snprintf(num, sizeof(num), "%zu", body_len);
	upgrade_out_str(o, num);
	upgrade_out_str(o, "\r\nConnection: close\r\n");
	/* RFC 6455 §4.4: name the version we speak. */
	if (status == 426)
		upgrade_out_str(o, "Sec-WebSocket-Version: 13\r\n");
	/* RFC 7231 §6.5.5: a 405 MUST list the allowed methods. */
	if (status == 405)
		upgrade_out_str(o, "Allow: GET\r\n");
	if (header != NULL)
		upgrade_out_str(o, header);
	upgrade_out_str(o, "\r\n");

	snprintf(num, sizeof(num), "%d ", status);
	upgrade_out_str(o, num);
	upgrade_out_str(o, reason);
	if (detail != NULL) {
		upgrade_out_str(o, ": ");
		upgrade_out_str(o, detail);
	}
	upgrade_out_str(o, "\n");
}

size_t
upgrade_response_error_size(int status, const char *detail,
    const char *header)
{
	struct upgrade_out	o = { NULL, 0, 0, false };

	upgrade_error_write(&o, status, detail, header);
	return o.len;
}

int
upgrade_response_error_hdr(char *buf, size_t cap, int status,
    const char *detail, const char *header)
{
	struct upgrade_out	o = { buf, cap, 0, false };

	if (status < 100 || status > 599)
		return -1;
	upgrade_error_write(&o, status, detail, header);
	return upgrade_out_end(&o);
}

int
upgrade_response_error(char *buf, size_t cap, int status, const char *detail)
{
	return upgrade_response_error_hdr(buf, cap, status, detail, NULL);
}

const char *
upgrade_status_text(int status)
{
	switch (status) {
	case 101: return "Switching Protocols";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 426: return "Upgrade Required";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Error";
	}
}
