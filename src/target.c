/*
 * target: token source values -> struct token_target, and allow_targets
 * rules. See include/target.h.
 */
#include <sys/socket.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "addr.h"
#include "target.h"
#include "token_file.h"

#define TARGET_MAX_RULE		300

static bool
target_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

void
target_clear(struct token_target *t)
{
	free(t->host);
	free(t->path);
	memset(t, 0, sizeof(*t));
}

/* {"host": "h:p"}, {"host": "h", "port": N | "N"}, {"unix_socket": p}. */
static int
target_parse_json(const char *s, size_t len, struct token_target *t,
    const char **why)
{
	json_error_t	 jerr;
	json_t		*o, *h, *p;
	const char	*host;
	char		 buf[TARGET_MAX_VALUE + 16];
	long long	 port = -1;
	int		 rc = -1, n;

	o = json_loadb(s, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL || !json_is_object(o)) {
		*why = "not a JSON object";
		goto out;
	}
	h = json_object_get(o, "unix_socket");
	if (json_is_string(h) && json_object_get(o, "host") == NULL) {
		host = json_string_value(h);
		n = snprintf(buf, sizeof(buf), "unix_socket:%s", host);
		if (n < 0 || (size_t)n >= sizeof(buf) ||
		    strlen(host) != json_string_length(h))
			*why = "bad JSON \"unix_socket\"";
		else
			rc = token_file_parse_target(buf, (size_t)n, t, why);
		goto out;
	}
	h = json_object_get(o, "host");
	p = json_object_get(o, "port");
	if (!json_is_string(h) || json_string_length(h) == 0 ||
	    strlen(json_string_value(h)) != json_string_length(h)) {
		*why = "JSON target without a \"host\" string";
		goto out;
	}
	host = json_string_value(h);
	if (p == NULL) {
		rc = token_file_parse_target(host, strlen(host), t, why);
		goto out;
	}
	if (json_is_integer(p))
		port = json_integer_value(p);
	else if (json_is_string(p) && json_string_length(p) > 0 &&
	    json_string_length(p) <= 5 &&
	    strspn(json_string_value(p), "0123456789") ==
	    json_string_length(p))
		port = atoll(json_string_value(p));
	if (port < 1 || port > 65535) {
		*why = "JSON \"port\" must be 1..65535";
		goto out;
	}
	/* An IPv6 host comes without brackets: add them for the parser. */
	n = snprintf(buf, sizeof(buf), strchr(host, ':') != NULL ?
	    "[%s]:%lld" : "%s:%lld", host, port);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		*why = "JSON \"host\" too long";
		goto out;
	}
	rc = token_file_parse_target(buf, (size_t)n, t, why);
out:
	json_decref(o);
	return rc;
}

int
target_parse_value(const char *s, size_t len, struct token_target *t,
    const char **why)
{
	memset(t, 0, sizeof(*t));
	while (len > 0 && target_blank(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && target_blank(s[len - 1]))
		len--;
	if (len == 0)
		return *why = "empty target", -1;
	if (len > TARGET_MAX_VALUE)
		return *why = "target value too long", -1;
	if (memchr(s, '\0', len) != NULL)
		return *why = "NUL byte in target", -1;
	if (s[0] == '{')
		return target_parse_json(s, len, t, why);
	return token_file_parse_target(s, len, t, why);
}

/* ---- allow_targets rules ---- */

/* A parsed rule's host part. */
struct target_host {
	bool		 is_net;	/* net is set; else name */
	struct addr_cidr net;
	const char	*name;		/* the name, or "*" */
	size_t		 namelen;
};

/* Split rule "HOST:PORTS" into h and the port range. 0 or -1. */
static int
target_rule_parse(const char *r, struct target_host *h, unsigned *lo,
    unsigned *hi, const char **why)
{
	const char	*colon, *end;
	size_t		 hlen;
	char		*e;
	unsigned long	 a, b;

	memset(h, 0, sizeof(*h));
	if (r[0] == '[') {
		if ((end = strchr(r, ']')) == NULL || end[1] != ':' ||
		    addr_cidr_parse(r + 1, (size_t)(end - r - 1), AF_INET6,
		    &h->net) == -1)
			return *why = "bad [IPv6] address or network", -1;
		h->is_net = true;
		colon = end + 1;
	} else {
		if ((colon = strrchr(r, ':')) == NULL)
			return *why = "expected HOST:PORTS", -1;
		hlen = (size_t)(colon - r);
		if (hlen == 1 && r[0] == '*') {
			h->name = r;
			h->namelen = 1;
		} else if (addr_cidr_parse(r, hlen, AF_INET, &h->net) == 0) {
			h->is_net = true;
		} else {
			if (!addr_name_ok(r, hlen))
				return *why = "bad host name, address or "
				    "network", -1;
			h->name = r;
			h->namelen = hlen;
		}
	}
	if (strcmp(colon + 1, "*") == 0) {
		*lo = 1;
		*hi = 65535;
		return 0;
	}
	if (colon[1] < '0' || colon[1] > '9')
		return *why = "ports must be *, N or N-M", -1;
	a = strtoul(colon + 1, &e, 10);
	b = a;
	if (*e == '-') {
		if (e[1] < '0' || e[1] > '9')
			return *why = "ports must be *, N or N-M", -1;
		b = strtoul(e + 1, &e, 10);
	}
	if (*e != '\0' || a < 1 || b > 65535 || a > b)
		return *why = "ports must be *, N or N-M within 1..65535", -1;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return 0;
}

int
target_rule_check(const char *rule, const char **why)
{
	struct target_host h;
	unsigned	 lo, hi;
	size_t		 len = strlen(rule);

	if (len == 0 || len > TARGET_MAX_RULE)
		return *why = "rule empty or too long", -1;
	if (strncmp(rule, "unix:", 5) == 0) {
		if (rule[5] != '/')
			return *why = "unix: needs an absolute path", -1;
		if (strstr(rule, "/./") != NULL || strstr(rule, "/../") != NULL ||
		    strstr(rule, "//") != NULL ||
		    (strchr(rule, '*') != NULL &&
		    strcmp(strchr(rule, '*'), "*") != 0) ||
		    (strchr(rule, '*') != NULL && rule[len - 2] != '/'))
			return *why = "unix: takes /path or /dir/*", -1;
		return 0;
	}
	return target_rule_parse(rule, &h, &lo, &hi, why);
}

/* Is path clean: absolute, no "." / ".." components, no "//"? */
static bool
target_path_clean(const char *p)
{
	const char	*c;
	size_t		 n;

	if (p[0] != '/' || strstr(p, "//") != NULL)
		return false;
	for (c = p + 1; *c != '\0'; c += n + (c[n] == '/')) {
		n = strcspn(c, "/");
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' &&
		    c[1] == '.'))
			return false;
		if (c[n] == '\0')
			break;
	}
	return true;
}

static bool
target_unix_allowed(const char *path, const char *rule)
{
	size_t	 dlen;

	if (!target_path_clean(path))
		return false;
	if (rule[strlen(rule) - 1] != '*')
		return strcmp(path, rule) == 0;
	dlen = strlen(rule) - 1;	/* "/dir/" */
	return strncmp(path, rule, dlen) == 0 && path[dlen] != '\0' &&
	    strchr(path + dlen, '/') == NULL;
}


/* One rule of allow_targets, parsed once (target_rules_new). */
struct target_rule {
	const char	*text;		/* as written; not owned */
	bool		 is_unix;	/* text + 5: "/path" or "/dir/\*" */
	struct target_host h;		/* TCP: host, network, name or * */
	unsigned	 lo, hi;	/* TCP: the port range */
};

struct target_rules {
	size_t		 n;
	struct target_rule v[];
};

int
target_rules_new(char *const *text, size_t n, struct target_rules **out)
{
	struct target_rules *rs;
	const char	*why;
	size_t		 i;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((rs = calloc(1, sizeof(*rs) + n * sizeof(rs->v[0]))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		rs->v[i].text = text[i];
		if (target_rule_check(text[i], &why) == -1) {
			free(rs);
			return -1;
		}
		if (strncmp(text[i], "unix:", 5) == 0)
			rs->v[i].is_unix = true;
		else
			(void)target_rule_parse(text[i], &rs->v[i].h,
			    &rs->v[i].lo, &rs->v[i].hi, &why);
	}
	rs->n = n;
	*out = rs;
	return 0;
}

void
target_rules_free(struct target_rules *rs)
{
	free(rs);
}

static bool
target_tcp_allowed(const struct token_target *t, const struct target_rule *r)
{
	const struct target_host *h = &r->h;

	if (t->port < r->lo || t->port > r->hi)
		return false;
	/* t->ip was parsed with the target (token_file_parse_target). */
	if (!h->is_net)
		return (h->namelen == 1 && h->name[0] == '*') ||
		    (!t->literal && strlen(t->host) == h->namelen &&
		    strncasecmp(t->host, h->name, h->namelen) == 0);
	return t->literal && addr_cidr_match(&h->net, &t->ip);
}

bool
target_allowed(const struct token_target *t, const struct target_rules *rs)
{
	size_t	 i;

	if (rs == NULL)
		return true;
	for (i = 0; i < rs->n; i++) {
		if (t->kind == TOKEN_FILE_UNIX) {
			if (rs->v[i].is_unix &&
			    target_unix_allowed(t->path, rs->v[i].text + 5))
				return true;
		} else if (!rs->v[i].is_unix &&
		    target_tcp_allowed(t, &rs->v[i]))
			return true;
	}
	return false;
}
