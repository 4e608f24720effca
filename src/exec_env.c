/*
 * exec_env: environment and argv of a process backend (see exec_env.h).
 *
 * Both results are packed into one allocation (pointer array, then the
 * strings), so the child setup and the session free them with one free().
 * Entries are collected first in a growing buffer of NUL-separated
 * strings, then packed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "exec_env.h"
#include "pct.h"

#define EXEC_ENV_DEFAULT_PATH	"PATH=/usr/local/bin:/usr/bin:/bin"

/* NUL-separated strings being collected. */
struct exec_strs {
	char	*buf;
	size_t	 len, cap;
	size_t	 n;		/* strings in buf */
	int	 oom;
};

static void
exec_strs_grow(struct exec_strs *s, size_t more)
{
	char	*nb;
	size_t	 ncap;

	if (s->oom || s->len + more <= s->cap)
		return;
	ncap = s->cap > 0 ? s->cap : 1024;
	while (ncap < s->len + more)
		ncap *= 2;
	if ((nb = realloc(s->buf, ncap)) == NULL) {
		s->oom = 1;
		return;
	}
	s->buf = nb;
	s->cap = ncap;
}

/* Append n bytes to the string being built (not yet ended). */
static void
exec_strs_put(struct exec_strs *s, const char *p, size_t n)
{
	exec_strs_grow(s, n);
	if (s->oom)
		return;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/*
 * Append a value: NUL, CR and LF become blanks (websocketd does the same
 * with CR and LF; upgrade_parse() lets none of them through anyway, but a
 * NUL here would split the vector).
 */
static void
exec_strs_value(struct exec_strs *s, const char *p, size_t n)
{
	size_t	i, start;

	for (i = start = 0; i < n; i++)
		if (p[i] == '\0' || p[i] == '\r' || p[i] == '\n') {
			exec_strs_put(s, p + start, i - start);
			exec_strs_put(s, " ", 1);
			start = i + 1;
		}
	exec_strs_put(s, p + start, n - start);
}

static void
exec_strs_end(struct exec_strs *s)
{
	exec_strs_put(s, "", 1);
	if (!s->oom)
		s->n++;
}

/* Append "NAME=VALUE" as one string. */
static void
exec_strs_var(struct exec_strs *s, const char *name, const char *v,
    size_t vlen)
{
	exec_strs_put(s, name, strlen(name));
	exec_strs_put(s, "=", 1);
	exec_strs_value(s, v, vlen);
	exec_strs_end(s);
}

/* Pack s into a NULL-terminated vector in one allocation; frees s. */
static char **
exec_strs_pack(struct exec_strs *s)
{
	char	**v, *p;
	size_t	 i, hdr;

	if (s->oom || s->n > (SIZE_MAX / sizeof(char *)) - 1) {
		free(s->buf);
		return NULL;
	}
	hdr = (s->n + 1) * sizeof(char *);
	if ((v = malloc(hdr + s->len + 1)) == NULL) {
		free(s->buf);
		return NULL;
	}
	p = (char *)v + hdr;
	if (s->len > 0)
		memcpy(p, s->buf, s->len);
	for (i = 0; i < s->n; i++) {
		v[i] = p;
		p += strlen(p) + 1;
	}
	v[s->n] = NULL;
	free(s->buf);
	return v;
}

/* Is "NAME=" (name of nlen bytes) among the strings collected so far? */
static int
exec_strs_has(const struct exec_strs *s, const char *name, size_t nlen)
{
	size_t	off = 0, l;

	while (off < s->len) {
		l = strlen(s->buf + off);
		if (l > nlen && s->buf[off + nlen] == '=' &&
		    memcmp(s->buf + off, name, nlen) == 0)
			return 1;
		off += l + 1;
	}
	return 0;
}

size_t
exec_vec_len(char *const *v)
{
	size_t	n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

/* Append p[0..n) %XX-decoded; %00 and malformed escapes stay as sent (a
 * NUL would cut the variable short). */
static void
exec_put_decoded(struct exec_strs *s, const char *p, size_t n)
{
	size_t	i;
	int	b;
	char	c;

	for (i = 0; i < n; i++) {
		if ((b = pct_byte(p + i, n - i)) > 0) {
			c = (char)b;
			exec_strs_value(s, &c, 1);
			i += 2;
		} else
			exec_strs_value(s, p + i, 1);
	}
}

/* A header line of the head at *off: name and value (trimmed). Returns 0,
 * or -1 at the blank line or the end. */
static int
exec_next_header(const char *head, size_t len, size_t *off, const char **name,
    size_t *nlen, const char **val, size_t *vlen)
{
	const char	*line = head + *off, *end = head + len, *eol, *colon;

	eol = memchr(line, '\n', (size_t)(end - line));
	if (eol == NULL)
		return -1;
	*off = (size_t)(eol - head) + 1;
	if (eol > line && eol[-1] == '\r')
		eol--;
	if (eol == line)
		return -1;
	if ((colon = memchr(line, ':', (size_t)(eol - line))) == NULL) {
		*nlen = 0;	/* not a header line: skipped by the caller */
		return 0;
	}
	*name = line;
	*nlen = (size_t)(colon - line);
	for (colon++; colon < eol && (*colon == ' ' || *colon == '\t');
	    colon++)
		;
	while (eol > colon && (eol[-1] == ' ' || eol[-1] == '\t'))
		eol--;
	*val = colon;
	*vlen = (size_t)(eol - colon);
	return 0;
}

/* Letters, digits and '-' only, and not "Proxy" (see exec_env.h). */
static int
exec_header_ok(const char *n, size_t len)
{
	size_t	i;

	if (len == 0 || (len == 5 && strncasecmp(n, "proxy", 5) == 0))
		return 0;
	for (i = 0; i < len; i++)
		if (!((n[i] >= 'a' && n[i] <= 'z') ||
		    (n[i] >= 'A' && n[i] <= 'Z') ||
		    (n[i] >= '0' && n[i] <= '9') || n[i] == '-'))
			return 0;
	return 1;
}

static int
exec_name_eq(const char *a, const char *b, size_t n)
{
	return strncasecmp(a, b, n) == 0;
}

/* HTTP_<NAME> for each header; repeats of one name joined by ", ". */
static void
exec_env_headers(struct exec_strs *s, const char *head, size_t len)
{
	const char	*name, *val, *n2, *v2;
	size_t		 off, off2, nlen, vlen, n2len, v2len, i, first;
	char		 c;

	/* Skip the request line. */
	if ((val = memchr(head, '\n', len)) == NULL)
		return;
	first = (size_t)(val - head) + 1;
	for (off = first; exec_next_header(head, len, &off, &name, &nlen,
	    &val, &vlen) == 0; ) {
		if (!exec_header_ok(name, nlen))
			continue;
		/* Only the first of a name makes the variable. */
		for (off2 = first; off2 < off; ) {
			if (exec_next_header(head, len, &off2, &n2, &n2len, &v2,
			    &v2len) == -1 || off2 >= off)
				break;
			if (n2len == nlen && exec_name_eq(n2, name, nlen))
				break;
		}
		if (off2 < off)
			continue;
		exec_strs_put(s, "HTTP_", 5);
		for (i = 0; i < nlen; i++) {
			c = name[i] == '-' ? '_' : name[i];
			if (c >= 'a' && c <= 'z')
				c = (char)(c - 'a' + 'A');
			exec_strs_put(s, &c, 1);
		}
		exec_strs_put(s, "=", 1);
		exec_strs_value(s, val, vlen);
		for (off2 = off; exec_next_header(head, len, &off2, &n2,
		    &n2len, &v2, &v2len) == 0; ) {
			if (n2len != nlen || !exec_name_eq(n2, name, nlen))
				continue;
			exec_strs_put(s, ", ", 2);
			exec_strs_value(s, v2, v2len);
		}
		exec_strs_end(s);
	}
}

/* SERVER_NAME and SERVER_PORT from the Host header. */
static void
exec_env_host(struct exec_strs *s, const struct exec_env_req *req)
{
	const char	*name, *val = NULL, *h = NULL, *port = NULL, *p;
	size_t		 off, nlen, vlen, hlen = 0, plen = 0;

	if ((p = memchr(req->head, '\n', req->head_len)) != NULL)
		for (off = (size_t)(p - req->head) + 1;
		    exec_next_header(req->head, req->head_len, &off, &name,
		    &nlen, &val, &vlen) == 0; )
			if (nlen == 4 && exec_name_eq(name, "host", 4)) {
				h = val;
				hlen = vlen;
				break;
			}
	if (h != NULL) {
		addr_authority_split(h, hlen, &h, &hlen, &port, &plen);
		/* [v6]: the brackets go, as websocketd drops them */
		if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
			h++;
			hlen -= 2;
		}
	}
	exec_strs_var(s, "SERVER_NAME", h != NULL ? h : "", hlen);
	if (port != NULL && plen > 0)
		exec_strs_var(s, "SERVER_PORT", port, plen);
	else
		exec_strs_var(s, "SERVER_PORT", req->https ? "443" : "80",
		    req->https ? 3 : 2);
}

/* The variables of the request (everything but headers and spec). */
static void
exec_env_request(struct exec_strs *s, const struct exec_env_req *req)
{
	const char	*q, *path = req->target;
	size_t		 plen, slen = strlen(req->script_name);

	q = memchr(req->target, '?', req->target_len);
	plen = q != NULL ? (size_t)(q - req->target) : req->target_len;
#define EXEC_VAR(n, v)	exec_strs_var(s, (n), (v), strlen(v))
	EXEC_VAR("SERVER_SOFTWARE", req->software);
	EXEC_VAR("GATEWAY_INTERFACE", "CGI/1.1");
	EXEC_VAR("SERVER_PROTOCOL", "HTTP/1.1");
	EXEC_VAR("REQUEST_METHOD", "GET");
	exec_env_host(s, req);
	EXEC_VAR("REMOTE_ADDR", req->remote_addr);
	EXEC_VAR("REMOTE_HOST", req->remote_addr);
	EXEC_VAR("REMOTE_PORT", req->remote_port);
	exec_strs_var(s, "REQUEST_URI", req->target, req->target_len);
	EXEC_VAR("SCRIPT_NAME", req->script_name);
	exec_strs_put(s, "PATH_INFO=", 10);
	if (plen >= slen && memcmp(path, req->script_name, slen) == 0)
		exec_put_decoded(s, path + slen, plen - slen);
	exec_strs_end(s);
	exec_strs_put(s, "PATH_TRANSLATED=", 16);
	exec_put_decoded(s, path, plen);
	exec_strs_end(s);
	if (q != NULL)
		exec_strs_var(s, "QUERY_STRING", q + 1,
		    req->target_len - plen - 1);
	else
		EXEC_VAR("QUERY_STRING", "");
	EXEC_VAR("UNIQUE_ID", req->unique_id);
	if (req->https)
		EXEC_VAR("HTTPS", "on");
	EXEC_VAR("AUTH_TYPE", "");
	EXEC_VAR("CONTENT_LENGTH", "");
	EXEC_VAR("CONTENT_TYPE", "");
	EXEC_VAR("REMOTE_IDENT", "");
	EXEC_VAR("REMOTE_USER", "");
#undef EXEC_VAR
}

char **
exec_env_build(const struct exec_env_req *req, const char *const *spec,
    size_t nspec, const char *const *parent)
{
	struct exec_strs s = { 0 };
	const char	*eq, *const *pp;
	size_t		 i, nlen;

	exec_env_request(&s, req);
	exec_env_headers(&s, req->head, req->head_len);
	for (i = 0; i < nspec; i++) {
		eq = strchr(spec[i], '=');
		nlen = eq != NULL ? (size_t)(eq - spec[i]) : strlen(spec[i]);
		if (nlen == 0 || exec_strs_has(&s, spec[i], nlen))
			continue;
		if (eq != NULL) {
			exec_strs_put(&s, spec[i], strlen(spec[i]));
			exec_strs_end(&s);
			continue;
		}
		for (pp = parent; pp != NULL && *pp != NULL; pp++)
			if (strncmp(*pp, spec[i], nlen) == 0 &&
			    (*pp)[nlen] == '=') {
				exec_strs_put(&s, *pp, strlen(*pp));
				exec_strs_end(&s);
				break;
			}
	}
	if (!exec_strs_has(&s, "PATH", 4)) {
		exec_strs_put(&s, EXEC_ENV_DEFAULT_PATH,
		    strlen(EXEC_ENV_DEFAULT_PATH));
		exec_strs_end(&s);
	}
	return exec_strs_pack(&s);
}

char **
exec_argv_parse(const char *s, char *err, size_t errlen)
{
	struct exec_strs st = { 0 };
	const char	*p = s;
	char		 q;
	int		 inword;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (inword = 1; inword && *p != '\0'; ) {
			if (*p == ' ' || *p == '\t') {
				inword = 0;
			} else if (*p == '\'' || *p == '"') {
				q = *p++;
				while (*p != '\0' && *p != q) {
					if (q == '"' && *p == '\\' &&
					    (p[1] == '"' || p[1] == '\\'))
						p++;
					exec_strs_put(&st, p++, 1);
				}
				if (*p == '\0') {
					snprintf(err, errlen, "unterminated "
					    "%c quote", q);
					free(st.buf);
					return NULL;
				}
				p++;
			} else
				exec_strs_put(&st, p++, 1);
		}
		exec_strs_end(&st);
	}
	if (st.n == 0) {
		snprintf(err, errlen, "no program");
		free(st.buf);
		return NULL;
	}
	if (st.buf[0] != '/') {
		snprintf(err, errlen, "program '%.200s' is not an absolute "
		    "path", st.buf);
		free(st.buf);
		return NULL;
	}
	if (st.oom)
		snprintf(err, errlen, "out of memory");
	return exec_strs_pack(&st);
}
