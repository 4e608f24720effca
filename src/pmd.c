/*
 * pmd: permessage-deflate negotiation (RFC 7692 §5, §7.1).
 *
 * The header value is walked once per call with a small cursor: an
 * extension-list (RFC 6455 §9.1) is 1#extension, an extension a token
 * followed by ";"-separated parameters, a parameter a token with an
 * optional "=" and a token or quoted-string value. Empty list elements
 * and optional whitespace around separators are allowed (RFC 7230 §7).
 */
#include <stdio.h>
#include <string.h>

#include "pmd.h"

#define PMD_NAME	"permessage-deflate"

/* One offer as read. bits: 0 = absent, 0xff = present without value. */
struct pmd_offer {
	bool		ok;		/* every parameter known and valid */
	bool		snct, cnct;	/* *_no_context_takeover */
	uint8_t		sbits, cbits;	/* *_max_window_bits */
};

struct pmd_cur {
	const char	*p, *end;
};

/* RFC 7230 §3.2.6 tchar. */
static bool
pmd_istchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static void
pmd_ows(struct pmd_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
		c->p++;
}

/* A token at the cursor; its length (0: none). */
static size_t
pmd_token(struct pmd_cur *c, const char **tok)
{
	const char	*s = c->p;

	while (c->p < c->end && pmd_istchar((unsigned char)*c->p))
		c->p++;
	*tok = s;
	return (size_t)(c->p - s);
}

/*
 * A parameter value: token or quoted-string (§3.2.6, with quoted-pair).
 * RFC 7692 §7.1 wants the unquoted text to be a token too, so it is copied
 * into buf (capacity cap) unescaped; a longer value is cut, which only
 * ever makes it invalid. Returns its length, or -1 on a syntax error.
 */
static int
pmd_value(struct pmd_cur *c, char *buf, size_t cap)
{
	const char	*tok;
	size_t		 n = 0, len;
	unsigned char	 ch;

	if (c->p < c->end && *c->p == '"') {
		for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
			if (*c->p == '\\' && ++c->p == c->end)
				return -1;
			ch = (unsigned char)*c->p;
			/* qdtext / quoted-pair: HTAB, SP, VCHAR, obs-text */
			if (ch < 0x20 && ch != '\t')
				return -1;
			if (ch == 0x7f)
				return -1;
			if (n < cap)
				buf[n] = (char)ch;
			n++;
		}
		if (c->p == c->end)
			return -1;
		c->p++;
		for (len = 0; len < n && len < cap; len++)
			if (!pmd_istchar((unsigned char)buf[len]))
				return (int)(cap + 1);	/* not a token */
		return n > cap ? (int)cap + 1 : (int)n;
	}
	if ((len = pmd_token(c, &tok)) == 0)
		return -1;
	n = len < cap ? len : cap;
	memcpy(buf, tok, n);
	return len > cap ? (int)cap + 1 : (int)len;
}

/* "8".."15", no sign, no leading zero (§7.1.2.1: 1*DIGIT, %x31-39 first). */
static uint8_t
pmd_bits(const char *v, int n)
{
	if (n == 1 && v[0] == '8')
		return 8;
	if (n == 1 && v[0] == '9')
		return 9;
	if (n == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5')
		return (uint8_t)(10 + (v[1] - '0'));
	return 0;
}

static bool
pmd_is(const char *tok, size_t n, const char *name)
{
	/* Exact match: RFC 7692 names are lower case and §9.1 folds
	 * neither extension nor parameter names. */
	return n == strlen(name) && memcmp(tok, name, n) == 0;
}

/* Apply one parameter to o; a bad or repeated one makes o not ok. */
static void
pmd_param(struct pmd_offer *o, const char *name, size_t nlen, bool has_val,
    const char *val, int vlen)
{
	uint8_t	b;

	if (pmd_is(name, nlen, "server_no_context_takeover")) {
		if (has_val || o->snct)
			o->ok = false;
		o->snct = true;
	} else if (pmd_is(name, nlen, "client_no_context_takeover")) {
		if (has_val || o->cnct)
			o->ok = false;
		o->cnct = true;
	} else if (pmd_is(name, nlen, "server_max_window_bits")) {
		b = has_val ? pmd_bits(val, vlen) : 0;
		if (b == 0 || o->sbits != 0)
			o->ok = false;
		o->sbits = b != 0 ? b : 0xff;
	} else if (pmd_is(name, nlen, "client_max_window_bits")) {
		b = has_val ? pmd_bits(val, vlen) : 0xff;
		if (b == 0 || o->cbits != 0)
			o->ok = false;
		o->cbits = b != 0 ? b : 0xfe;
	} else
		o->ok = false;
}

/*
 * Read one extension at the cursor (after OWS), up to and including the
 * "," that ends it. *is_pmd says whether it is ours. Returns 0, 1 for an
 * empty list element, -1 on a syntax error.
 */
static int
pmd_extension(struct pmd_cur *c, bool *is_pmd, struct pmd_offer *o)
{
	const char	*name, *pname;
	size_t		 nlen, plen;
	char		 val[8] = "";
	int		 vlen;
	bool		 has_val;

	memset(o, 0, sizeof(*o));
	o->ok = true;
	pmd_ows(c);
	if (c->p == c->end || *c->p == ',') {
		if (c->p < c->end)
			c->p++;
		return 1;
	}
	if ((nlen = pmd_token(c, &name)) == 0)
		return -1;
	*is_pmd = pmd_is(name, nlen, PMD_NAME);
	for (;;) {
		pmd_ows(c);
		if (c->p == c->end)
			return 0;
		if (*c->p == ',') {
			c->p++;
			return 0;
		}
		if (*c->p != ';')
			return -1;
		c->p++;
		pmd_ows(c);
		if ((plen = pmd_token(c, &pname)) == 0)
			return -1;
		pmd_ows(c);
		has_val = c->p < c->end && *c->p == '=';
		vlen = 0;
		if (has_val) {
			c->p++;
			pmd_ows(c);
			if ((vlen = pmd_value(c, val, sizeof(val))) < 0)
				return -1;
		}
		pmd_param(o, pname, plen, has_val, val, vlen);
	}
}

/* Decide on a valid offer o under pol; true and *out if acceptable. */
static bool
pmd_accept(const struct pmd_offer *o, const struct pmd_policy *pol,
    struct pmd_params *out)
{
	uint8_t	sb = pol->server_max_window_bits;

	if (sb < 9 || sb > 15)
		sb = 15;
	memset(out, 0, sizeof(*out));
	/* §7.1.2.1: we must not use a larger window than the client asks
	 * for; 8 we cannot honour with zlib (see pmd.h), so decline. */
	if (o->sbits == 8)
		return false;
	if (o->sbits != 0 && o->sbits < sb)
		sb = o->sbits;
	out->server_max_window_bits = sb;
	/* §7.1.2.1: the server may name it even when not offered. */
	out->send_server_bits = o->sbits != 0 || sb < 15;
	/* §7.1.2.2: client_max_window_bits may be answered only when
	 * offered, with a value no larger than the offered one. */
	out->client_max_window_bits = 15;
	if (o->cbits != 0) {
		uint8_t cb = pol->client_max_window_bits;

		if (cb < 8 || cb > 15)
			cb = 15;
		if (o->cbits <= 15 && o->cbits < cb)
			cb = o->cbits;
		out->client_max_window_bits = cb;
		out->send_client_bits = cb < 15 || o->cbits <= 15;
	}
	/* §7.1.1.1, §7.1.1.2: either may be added by the server. */
	out->server_no_context_takeover = o->snct || pol->no_context_takeover;
	out->client_no_context_takeover = pol->no_context_takeover;
	return true;
}

enum pmd_result
pmd_negotiate(const char *const *vals, const size_t *lens, size_t nvals,
    const struct pmd_policy *pol, struct pmd_params *out)
{
	struct pmd_offer	 o;
	struct pmd_cur		 c;
	struct pmd_params	 pick;
	bool			 is_pmd, found = false;
	size_t			 i;
	int			 r;

	memset(out, 0, sizeof(*out));
	/* Every value is read to its end, so a malformed header is
	 * refused even after an acceptable offer. */
	for (i = 0; i < nvals; i++) {
		c.p = vals[i];
		c.end = vals[i] + lens[i];
		while (c.p < c.end) {
			is_pmd = false;
			if ((r = pmd_extension(&c, &is_pmd, &o)) < 0)
				return PMD_MALFORMED;
			if (r == 0 && is_pmd && o.ok && !found &&
			    pmd_accept(&o, pol, &pick))
				found = true;
		}
	}
	if (!found)
		return PMD_NONE;
	*out = pick;
	return PMD_ACCEPTED;
}

int
pmd_render(const struct pmd_params *p, char *buf, size_t cap)
{
	char	sb[32] = "", cb[32] = "";
	int	n;

	if (p->send_server_bits)
		snprintf(sb, sizeof(sb), "; server_max_window_bits=%u",
		    (unsigned)p->server_max_window_bits);
	if (p->send_client_bits)
		snprintf(cb, sizeof(cb), "; client_max_window_bits=%u",
		    (unsigned)p->client_max_window_bits);
	n = snprintf(buf, cap, "%s%s%s%s%s", PMD_NAME,
	    p->server_no_context_takeover ? "; server_no_context_takeover" : "",
	    p->client_no_context_takeover ? "; client_no_context_takeover" : "",
	    sb, cb);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

void
pmd_policy_default(struct pmd_policy *pol)
{
	pol->server_max_window_bits = 15;
	pol->client_max_window_bits = 15;
	pol->no_context_takeover = true;
}
