/*
 * auth_json: see include/auth_json.h (and why it is not jansson).
 */
#include <string.h>

#include "auth_json.h"
#include "ws_utf8.h"

static void
auth_json_ws(struct auth_json *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
	    *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

bool
auth_json_at(const struct auth_json *j, char c)
{
	return j->p < j->end && *j->p == c;
}

static int
auth_json_hex4(const char *p, const char *end, uint32_t *v)
{
	int	 i, d;

	if (end - p < 4)
		return -1;
	for (*v = 0, i = 0; i < 4; i++) {
		if (p[i] >= '0' && p[i] <= '9')
			d = p[i] - '0';
		else if ((p[i] | 0x20) >= 'a' && (p[i] | 0x20) <= 'f')
			d = (p[i] | 0x20) - 'a' + 10;
		else
			return -1;
		*v = (*v << 4) | (uint32_t)d;
	}
	return 0;
}

/*
 * A \u escape of four hex digits (r after the 'u'), with a following low
 * surrogate if needed.
 */
static int
auth_json_uescape(char **rp, const char *end, uint32_t *cp)
{
	char		*r = *rp;
	uint32_t	 lo;

	if (auth_json_hex4(r, end, cp) == -1)
		return -1;
	r += 4;
	if (*cp >= 0xDC00 && *cp <= 0xDFFF)
		return -1;			/* lone low surrogate */
	if (*cp >= 0xD800 && *cp <= 0xDBFF) {
		if (end - r < 6 || r[0] != '\\' || r[1] != 'u' ||
		    auth_json_hex4(r + 2, end, &lo) == -1 ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return -1;
		*cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
		r += 6;
	}
	*rp = r;
	return 0;
}

static char *
auth_json_utf8_put(char *w, uint32_t cp)
{
	if (cp < 0x80) {
		*w++ = (char)cp;
	} else if (cp < 0x800) {
		*w++ = (char)(0xC0 | (cp >> 6));
		*w++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*w++ = (char)(0xE0 | (cp >> 12));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*w++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*w++ = (char)(0xF0 | (cp >> 18));
		*w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
		*w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
		*w++ = (char)(0x80 | (cp & 0x3F));
	}
	return w;
}

/*
 * The string at j->p (at its '"'), decoded in place: *s and *len are the
 * decoded bytes (may hold NUL from \u0000; compare with lengths).
 */
int
auth_json_string(struct auth_json *j, const char **s, size_t *len)
{
	char		*r, *w;
	uint32_t	 cp;

	if (!auth_json_at(j, '"'))
		return -1;
	r = w = j->p + 1;
	*s = w;
	while (r < j->end && *r != '"') {
		unsigned char c = (unsigned char)*r;

		if (c < 0x20) {
			return -1;
		} else if (c < 0x80 && c != '\\') {
			*w++ = *r++;
		} else if (c >= 0x80) {
			*w++ = *r++;	/* UTF-8, checked by auth_json_parse */
		} else if (++r == j->end) {
			return -1;
		} else {
			switch (*r++) {
			case '"':	*w++ = '"'; break;
			case '\\':	*w++ = '\\'; break;
			case '/':	*w++ = '/'; break;
			case 'b':	*w++ = '\b'; break;
			case 'f':	*w++ = '\f'; break;
			case 'n':	*w++ = '\n'; break;
			case 'r':	*w++ = '\r'; break;
			case 't':	*w++ = '\t'; break;
			case 'u':
				if (auth_json_uescape(&r, j->end, &cp) == -1)
					return -1;
				w = auth_json_utf8_put(w, cp);
				break;
			default:
				return -1;
			}
		}
	}
	if (r == j->end)
		return -1;
	*len = (size_t)(w - *s);
	j->p = r + 1;
	return 0;
}

static bool
auth_json_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * A number (RFC 8259 §6). *v is its value rounded up to a whole number
 * (NumericDate semantics: "now >= 10.5" is "now >= 11"); *usable is false
 * when it has an exponent or too many integer digits for that.
 */
static int
auth_json_number(struct auth_json *j, int64_t *v, bool *usable)
{
	const char	*p = j->p, *e = j->end;
	bool		 neg = false, frac = false;
	int64_t		 n = 0;
	int		 digits = 0;

	*usable = true;
	if (p < e && *p == '-')
		neg = true, p++;
	if (p == e || !auth_json_isdigit(*p))
		return -1;
	if (*p == '0')
		p++;
	else
		for (; p < e && auth_json_isdigit(*p); p++)
			if (++digits > AUTH_NUMDATE_DIGITS)
				*usable = false;
			else
				n = n * 10 + (*p - '0');
	if (p < e && *p == '.') {
		if (++p == e || !auth_json_isdigit(*p))
			return -1;
		for (; p < e && auth_json_isdigit(*p); p++)
			frac |= *p != '0';
	}
	if (p < e && (*p == 'e' || *p == 'E')) {
		*usable = false;
		if (++p < e && (*p == '+' || *p == '-'))
			p++;
		if (p == e || !auth_json_isdigit(*p))
			return -1;
		while (p < e && auth_json_isdigit(*p))
			p++;
	}
	*v = neg ? -n : n + (frac ? 1 : 0);
	j->p += p - j->p;
	return 0;
}

/* An object at j->p ('{'); cb reads each value, NULL skips them. */
static int
auth_json_object(struct auth_json *j, auth_json_member_cb *cb, void *arg)
{
	struct {
		const char	*p;
		size_t		 len;
	}		 keys[AUTH_JSON_MAX_MEMBERS];
	const char	*k;
	size_t		 klen, i, n = 0;

	if (!auth_json_at(j, '{') || ++j->depth > AUTH_JSON_MAX_DEPTH)
		return -1;
	j->p++;
	auth_json_ws(j);
	if (!auth_json_at(j, '}')) {
		for (;;) {
			auth_json_ws(j);
			if (n == AUTH_JSON_MAX_MEMBERS ||
			    auth_json_string(j, &k, &klen) == -1)
				return -1;
			for (i = 0; i < n; i++)
				if (keys[i].len == klen &&
				    memcmp(keys[i].p, k, klen) == 0)
					return -1;	/* duplicate name */
			keys[n].p = k;
			keys[n++].len = klen;
			auth_json_ws(j);
			if (!auth_json_at(j, ':'))
				return -1;
			j->p++;
			auth_json_ws(j);
			if ((cb != NULL ? cb(arg, j, k, klen) :
			    auth_json_skip(j)) == -1)
				return -1;
			auth_json_ws(j);
			if (auth_json_at(j, '}'))
				break;
			if (!auth_json_at(j, ','))
				return -1;
			j->p++;
		}
	}
	j->p++;
	j->depth--;
	return 0;
}

/* An array at j->p ('['); cb reads each element, NULL skips them. */
int
auth_json_array(struct auth_json *j, auth_json_elem_cb *cb, void *arg)
{
	if (!auth_json_at(j, '[') || ++j->depth > AUTH_JSON_MAX_DEPTH)
		return -1;
	j->p++;
	auth_json_ws(j);
	if (!auth_json_at(j, ']')) {
		for (;;) {
			auth_json_ws(j);
			if ((cb != NULL ? cb(arg, j) : auth_json_skip(j)) == -1)
				return -1;
			auth_json_ws(j);
			if (auth_json_at(j, ']'))
				break;
			if (!auth_json_at(j, ','))
				return -1;
			j->p++;
		}
	}
	j->p++;
	j->depth--;
	return 0;
}

static int
auth_json_literal(struct auth_json *j, const char *lit)
{
	size_t	 n = strlen(lit);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

/* Any value at j->p, read for syntax and dropped. */
int
auth_json_skip(struct auth_json *j)
{
	const char	*s;
	size_t		 len;
	int64_t		 v;
	bool		 usable;

	if (j->p == j->end)
		return -1;
	switch (*j->p) {
	case '"':	return auth_json_string(j, &s, &len);
	case '{':	return auth_json_object(j, NULL, NULL);
	case '[':	return auth_json_array(j, NULL, NULL);
	case 't':	return auth_json_literal(j, "true");
	case 'f':	return auth_json_literal(j, "false");
	case 'n':	return auth_json_literal(j, "null");
	default:	return auth_json_number(j, &v, &usable);
	}
}

/* A NumericDate value (RFC 7519 §2), or -1 if it is anything else. */
int
auth_json_numdate(struct auth_json *j, int64_t *v)
{
	bool	 usable;

	if (j->p == j->end || (*j->p != '-' && !auth_json_isdigit(*j->p)) ||
	    auth_json_number(j, v, &usable) == -1 || !usable)
		return -1;
	return 0;
}

/* The document doc[0..len) must be one object; it is decoded in place. */
int
auth_json_parse(char *doc, size_t len, auth_json_member_cb *cb, void *arg)
{
	struct auth_json j = { doc, doc + len, 0 };

	/* RFC 8259 §8.1: JSON text is UTF-8, all of it; checked once here
	 * by the frame layer's validator, so strings copy bytes through. */
	if (!ws_utf8_valid((const uint8_t *)doc, len))
		return -1;
	auth_json_ws(&j);
	if (auth_json_object(&j, cb, arg) == -1)
		return -1;
	auth_json_ws(&j);
	return j.p == j.end ? 0 : -1;
}
