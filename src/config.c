/*
 * config: gateway.conf -> an immutable struct config.
 *
 * inih splits lines into sections and "key = value" pairs; everything it
 * does not know is ours. We feed it through ini_parse_stream() with our own
 * reader, config_ini_reader(), which
 *   - counts lines, so the handler knows the line of every key (inih only
 *     reports the first bad line, and Debian builds it without
 *     INI_HANDLER_LINENO);
 *   - strips leading blanks, which switches off inih's multi-line
 *     continuations (an indented "key = value" after another key would
 *     otherwise become part of the previous value);
 *   - parses section headers itself (inih cuts section names at 50 bytes
 *     and does not call the handler on a header) and hands inih a
 *     placeholder header;
 *   - reports lines inih would refuse silently (no '=', no ']', too long,
 *     NUL bytes) and hands inih an empty line instead, so every error is
 *     collected with its own line number.
 * Debian's inih keeps its defaults: lines up to 199 bytes (ini_max_line
 * 200), ';' and '#' start comment lines, and ';' starts an inline comment
 * only after a blank ("a;b" is a value, "a ;b" is "a"). We do not change
 * inih's globals.
 *
 * Values are checked as they are read; route keys left unset take the
 * [gateway] value, else the built-in default, once the whole file is read
 * (config_finish), so section order does not matter.
 *
 * The keyword tables and setters are in config_keys.c, value syntax in
 * config_value.c, addresses in config_addr.c (config_int.h joins them).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "config.h"
#include "config_int.h"
#include "loadfile.h"

#define CONFIG_MAX_FILE		(16 * 1024 * 1024)	/* bytes read at most */

/* ---- errors and strings ---- */

/*
 * Append one error line "NAME:LINE: message" (line 0: "NAME: message") to
 * c->err, newline-separated, cut to fit. Control bytes in the message are
 * shown as '?', so a hostile file cannot drive the terminal.
 */
void
config_error(struct config_ctx *c, int line, const char *fmt, ...)
{
	char	 msg[CONFIG_MSG_MAX];
	va_list	 ap;
	size_t	 i, n, room;
	int	 r;

	c->nerrors++;
	if (line > 0)
		r = snprintf(msg, sizeof(msg), "%s%s:%d: ",
		    c->errused > 0 ? "\n" : "", c->name, line);
	else
		r = snprintf(msg, sizeof(msg), "%s%s: ",
		    c->errused > 0 ? "\n" : "", c->name);
	if (r < 0)
		return;
	n = (size_t)r < sizeof(msg) ? (size_t)r : sizeof(msg) - 1;
	va_start(ap, fmt);
	r = vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n = strlen(msg);
	for (i = c->errused > 0 ? 1 : 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	if (c->err == NULL || c->errlen == 0 || c->errused + 1 >= c->errlen)
		return;
	room = c->errlen - c->errused - 1;
	if (n > room)
		n = room;
	memcpy(c->err + c->errused, msg, n);
	c->errused += n;
	c->err[c->errused] = '\0';
}

char *
config_strndup(struct config_ctx *c, const char *s, size_t n)
{
	char	*p;

	if ((p = malloc(n + 1)) == NULL) {
		c->oom = 1;
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Append a copy of s[0..n) to the string vector *v of *nv entries. */
int
config_strv_add(struct config_ctx *c, char ***v, size_t *nv, const char *s,
    size_t n)
{
	char	**nvec;
	char	 *p;

	if ((p = config_strndup(c, s, n)) == NULL)
		return -1;
	if ((nvec = realloc(*v, (*nv + 1) * sizeof(**v))) == NULL) {
		free(p);
		c->oom = 1;
		return -1;
	}
	nvec[(*nv)++] = p;
	*v = nvec;
	return 0;
}

void
config_strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- structure ---- */

static void
config_route_defaults(struct config_route *r)
{
	memset(r, 0, sizeof(*r));
	r->heartbeat_interval_ms = CONFIG_DEFAULT_HEARTBEAT_INTERVAL_MS;
	r->heartbeat_timeout_ms = CONFIG_DEFAULT_HEARTBEAT_TIMEOUT_MS;
	r->idle_timeout_ms = CONFIG_DEFAULT_IDLE_TIMEOUT_MS;
	r->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	r->max_message_size = CONFIG_DEFAULT_MAX_MESSAGE_SIZE;
	r->token_api_timeout_ms = CONFIG_DEFAULT_TOKEN_API_TIMEOUT_MS;
	r->backend_verify = 1;
	r->record_max_size = CONFIG_DEFAULT_RECORD_MAX_SIZE;
	r->line_max = CONFIG_DEFAULT_LINE_MAX;
	r->max_processes = CONFIG_DEFAULT_MAX_PROCESSES;
	r->exec_kill_timeout_ms = CONFIG_DEFAULT_EXEC_KILL_TIMEOUT_MS;
}

static void
config_route_clear(struct config_route *r)
{
	size_t	i;

	free(r->path);
	for (i = 0; i < r->nbackends; i++)
		config_addr_clear(&r->backends[i]);
	free(r->backends);
	config_strv_free(r->origins, r->norigins);
	config_strv_free(r->subprotocols, r->nsubprotocols);
	free(r->root);
	free(r->index_file);
	free(r->record);
	free(r->token_secret_file);
	free(r->token_public_key_file);
	free(r->token_audience);
	free(r->htpasswd_file);
	free(r->token_file);
	config_strv_free(r->allow_client_cn, r->nallow_client_cn);
	config_strv_free(r->allow_client_san, r->nallow_client_san);
	free(r->backend_ca);
	free(r->backend_server_name);
	free(r->backend_certificate);
	free(r->backend_private_key);
	free(r->token_redis_prefix);
	free(r->token_dir);
	free(r->token_socket_dir);
	free(r->token_jwt_key_file);
	free(r->token_api);
	config_strv_free(r->allow_targets, r->nallow_targets);
	if (r->basic_auth != NULL)
		explicit_bzero(r->basic_auth, strlen(r->basic_auth));
	free(r->basic_auth);
	config_strv_free(r->exec_env, r->nexec_env);
	free(r->exec_user);
	free(r->exec_cwd);
	memset(r, 0, sizeof(*r));
}

static struct config *
config_new(void)
{
	struct config	*cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	cfg->workers = 0;
	cfg->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	cfg->admin_max_connections = CONFIG_DEFAULT_ADMIN_MAX_CONNECTIONS;
	cfg->handshake_timeout_ms = CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	cfg->drain_timeout_ms = CONFIG_DEFAULT_DRAIN_TIMEOUT_MS;
	cfg->max_header_size = CONFIG_DEFAULT_MAX_HEADER_SIZE;
	cfg->max_buffer = CONFIG_DEFAULT_MAX_BUFFER;
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->log_format = CONFIG_LOG_TEXT;
	cfg->redis_timeout_ms = CONFIG_DEFAULT_REDIS_TIMEOUT_MS;
	cfg->tls_session_tickets = CONFIG_DEFAULT_TLS_SESSION_TICKETS;
	return cfg;
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	free(cfg->file);
	for (i = 0; i < cfg->nlistens; i++)
		config_addr_clear(&cfg->listens[i]);
	free(cfg->listens);
	config_addr_clear(&cfg->admin_addr);	/* and admin_listen */
	free(cfg->admin_token_file);
	free(cfg->token_id_key_file);
	free(cfg->tls_certificate);
	free(cfg->user);
	free(cfg->tls_private_key);
	free(cfg->tls_key_password);
	free(cfg->log_file);
	free(cfg->syslog_server);
	free(cfg->wrap_command);
	free(cfg->tls_ciphers);
	free(cfg->tls_ciphersuites);
	free(cfg->tls_client_ca);
	free(cfg->trusted_proxies);
	if (cfg->redis != NULL)
		config_addr_clear(cfg->redis);
	free(cfg->redis);
	free(cfg->redis_password_file);
	free(cfg->instance);
	for (i = 0; i < cfg->nroutes; i++)
		config_route_clear(&cfg->routes[i]);
	free(cfg->routes);
	free(cfg);
}

/* ---- sections ---- */

/*
 * A route path as written in "[route PATH]": '/' then visible ASCII other
 * than '?', '#' and '*', except a final "/\*" that makes it a prefix.
 * Stores the path without the "/\*": "/\*" alone becomes "".
 */
static int
config_route_path(const char *p, size_t n, size_t *plen, int *prefix)
{
	size_t	i;

	if (n == 0 || p[0] != '/')
		return -1;
	*prefix = n >= 2 && p[n - 2] == '/' && p[n - 1] == '*';
	*plen = *prefix ? n - 2 : n;
	for (i = 0; i < *plen; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f ||
		    strchr("?#*", p[i]) != NULL)
			return -1;
	/* "/a//\*" would be a prefix ending in '/': almost surely a typo. */
	if (*prefix && *plen > 0 && p[*plen - 1] == '/')
		return -1;
	return 0;
}

/* Open "[route PATH]" (PATH is p[0..n)): a new route, defaults in. */
static void
config_route_open(struct config_ctx *c, const char *p, size_t n)
{
	struct config		*cfg = c->cfg;
	struct config_route	*nr, *r;
	struct config_rset	*ns;
	size_t			 i, plen;
	int			 prefix;

	if (config_route_path(p, n, &plen, &prefix) == -1) {
		config_errorx(c, "bad route path '%.*s' (must start with '/'; "
		    "no blanks, '?', '#'; '*' only as a final '/*')", (int)n, p);
		c->sect = CONFIG_SECT_BAD;
		return;
	}
	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		if (r->prefix == (prefix != 0) && strlen(r->path) == plen &&
		    memcmp(r->path, p, plen) == 0)
			config_errorx(c, "duplicate [route %.*s] (first at "
			    "line %d)", (int)n, p, r->line);
	}
	/* A duplicate is kept anyway so that its keys are still checked. */
	if ((nr = realloc(cfg->routes, (cfg->nroutes + 1) *
	    sizeof(*nr))) == NULL) {
		c->oom = 1;
		return;
	}
	cfg->routes = nr;
	if ((ns = realloc(c->rset, (cfg->nroutes + 1) * sizeof(*ns))) == NULL) {
		c->oom = 1;
		return;
	}
	c->rset = ns;
	r = &cfg->routes[cfg->nroutes];
	config_route_defaults(r);
	if ((r->path = config_strndup(c, p, plen)) == NULL)
		return;
	r->prefix = prefix != 0;
	r->line = c->lineno;
	memset(&c->rset[cfg->nroutes], 0, sizeof(*ns));
	c->route = cfg->nroutes++;
	c->sect = CONFIG_SECT_ROUTE;
}

/* A header line "[...]", line[0..n), blanks stripped on both sides. */
static void
config_section(struct config_ctx *c, const char *line, size_t n)
{
	const char	*close, *in, *rest;
	size_t		 inlen;

	c->sect = CONFIG_SECT_BAD;
	snprintf(c->sect_name, sizeof(c->sect_name), "?");
	if ((close = memchr(line, ']', n)) == NULL) {
		config_errorx(c, "missing ']' in section header '%.*s'",
		    (int)n, line);
		return;
	}
	for (rest = close + 1; rest < line + n && config_isspace(*rest); rest++)
		;
	if (rest < line + n && *rest != ';' && *rest != '#')
		config_errorx(c, "junk after section header: '%.*s'",
		    (int)(line + n - rest), rest);
	for (in = line + 1; in < close && config_isspace(*in); in++)
		;
	for (inlen = (size_t)(close - in); inlen > 0 &&
	    config_isspace(in[inlen - 1]); inlen--)
		;
	snprintf(c->sect_name, sizeof(c->sect_name), "%.*s", (int)inlen, in);
	if (inlen == 7 && memcmp(in, "gateway", 7) == 0)
		c->sect = CONFIG_SECT_GATEWAY;
	else if (inlen == 3 && memcmp(in, "tls", 3) == 0)
		c->sect = CONFIG_SECT_TLS;
	else if (inlen >= 5 && memcmp(in, "route", 5) == 0 &&
	    (inlen == 5 || config_isspace(in[5]))) {
		for (in += 5, inlen -= 5; inlen > 0 && config_isspace(*in);
		    in++, inlen--)
			;
		if (inlen == 0)
			config_errorx(c, "[route] needs a path, as in "
			    "[route /vnc] or [route /vnc/*]");
		else
			config_route_open(c, in, inlen);
	} else
		config_errorx(c, "unknown section [%.*s] (use [gateway], "
		    "[tls] or [route PATH])", (int)inlen, in);
}

/* ---- inih glue ---- */

/*
 * Does line[0..n) hold '=' or ':' before an inline comment? Mirrors
 * inih's find_chars_or_comment(): ';' opens a comment after a blank.
 */
static int
config_has_separator(const char *line, size_t n)
{
	size_t	i;
	int	was_space = 0;

	for (i = 0; i < n; i++) {
		if (line[i] == '=' || line[i] == ':')
			return 1;
		if (was_space && line[i] == ';')
			return 0;
		was_space = config_isspace(line[i]);
	}
	return 0;
}

/*
 * inih's fgets(): hand over the next line, at most num - 1 bytes. Counts
 * lines; strips blanks and a leading UTF-8 BOM; handles headers and
 * malformed lines itself (see the top of the file). End of input, or an
 * allocation failure, returns NULL.
 */
static char *
config_ini_reader(char *str, int num, void *stream)
{
	struct config_ctx	*c = stream;
	const char		*line, *nl;
	size_t			 n;

	if (c->oom || c->off >= c->len || num < 4)
		return NULL;
	line = c->text + c->off;
	nl = memchr(line, '\n', c->len - c->off);
	n = nl ? (size_t)(nl - line) : c->len - c->off;
	c->off += nl ? n + 1 : n;
	c->lineno++;
	str[0] = '\0';
	if (c->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	while (n > 0 && config_isspace(*line)) {
		line++;
		n--;
	}
	while (n > 0 && config_isspace(line[n - 1]))
		n--;
	if (memchr(line, '\0', n) != NULL)
		config_errorx(c, "NUL byte in line");
	else if (n > (size_t)num - 1)
		config_errorx(c, "line too long (%zu bytes, at most %d)", n,
		    num - 1);
	else if (n == 0 || line[0] == ';' || line[0] == '#')
		;
	else if (line[0] == '[') {
		config_section(c, line, n);
		memcpy(str, "[s]", 4);
	} else if (!config_has_separator(line, n))
		config_errorx(c, "expected 'key = value', got '%.*s'",
		    (int)n, line);
	else {
		memcpy(str, line, n);
		str[n] = '\0';
	}
	return str;
}

static const struct config_key *
config_key_find(const struct config_key *keys, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* A key that exists, in the wrong section: say where it belongs. */
static void
config_misplaced(struct config_ctx *c, const char *name)
{
	const char	*where = NULL;

	if (config_key_find(config_gateway_keys, CONFIG_GKEY_COUNT, name))
		where = "[gateway]";
	else if (config_key_find(config_tls_keys, CONFIG_TKEY_COUNT, name))
		where = "[tls]";
	else if (config_key_find(config_route_keys, CONFIG_RKEY_COUNT, name))
		where = "[gateway] or [route PATH]";
	if (where != NULL)
		config_errorx(c, "%s: not allowed in [%s] (only in %s)", name,
		    c->sect_name, where);
	else
		config_errorx(c, "unknown key '%s' in [%s]", name,
		    c->sect_name);
}

/*
 * inih's handler: one "name = value" of the current line. The section
 * argument is ignored: ours (c->sect) is exact. Returns 1, or 0 after
 * reporting an error.
 */
static int
config_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_ctx	*c = user;
	const struct config_key	*keys = NULL, *k = NULL;
	void			*obj = NULL;
	int			*set = NULL;
	size_t			 nkeys = 0;

	(void)section;
	if (c->oom || c->sect == CONFIG_SECT_BAD)
		return c->oom ? 0 : 1;
	if (*name == '\0') {
		config_errorx(c, "missing key before '='");
		return 0;
	}
	if (strpbrk(name, " \t\v\f\r") != NULL) {
		config_errorx(c, "bad key '%s' (missing '='?)", name);
		return 0;
	}
	switch (c->sect) {
	case CONFIG_SECT_GATEWAY:
		keys = config_gateway_keys;
		nkeys = CONFIG_GKEY_COUNT;
		obj = c->cfg;
		set = c->gset;
		if ((k = config_key_find(keys, nkeys, name)) == NULL) {
			keys = config_route_keys;
			nkeys = CONFIG_RKEY_COUNT;
			obj = &c->gw;
			set = c->gw_rset.line;
		}
		break;
	case CONFIG_SECT_TLS:
		keys = config_tls_keys;
		nkeys = CONFIG_TKEY_COUNT;
		obj = c->cfg;
		set = c->tset;
		break;
	case CONFIG_SECT_ROUTE:
		keys = config_route_keys;
		nkeys = CONFIG_RKEY_COUNT;
		obj = &c->cfg->routes[c->route];
		set = c->rset[c->route].line;
		break;
	default:
		config_errorx(c, "%s: key outside any section (start with "
		    "[gateway])", name);
		return 0;
	}
	if (k == NULL && (k = config_key_find(keys, nkeys, name)) == NULL) {
		config_misplaced(c, name);
		return 0;
	}
	if (set[k - keys] != 0 && !k->list) {
		config_errorx(c, "%s: already set at line %d", name,
		    set[k - keys]);
		return 0;
	}
	if (*value == '\0') {
		config_errorx(c, "%s: empty value", name);
		return 0;
	}
	if (k->set(c, k, obj, value) == -1)
		return 0;
	if (set[k - keys] == 0)
		set[k - keys] = c->lineno;
	return 1;
}

/* ---- whole-file checks ---- */

/* A route's token source keys, once inherited: one source at most. */
static void
config_route_token_checks(struct config_ctx *c, const struct config_route *r)
{
	int	n;

	n = (r->token_file != NULL) + (r->token_redis != 0) +
	    (r->token_dir != NULL) + (r->token_socket_dir != NULL) +
	    (r->token_jwt_key_file != NULL) + (r->token_api != NULL);
	if (n > 1)
		config_error(c, r->line, "[route %s%s]: more than one token "
		    "source (token_file, token_redis, token_dir, "
		    "token_socket_dir, token_jwt_key_file, token_api): pick one",
		    r->path, r->prefix ? "/*" : "");
	if (r->token_redis != 0 && c->cfg->redis == NULL)
		config_error(c, r->line, "[route %s%s]: token_redis = on needs "
		    "redis in [gateway]", r->path, r->prefix ? "/*" : "");
}

/*
 * Process backends: an exec: backend is its route's only backend (there is
 * no failover between programs), speaks no PROXY header and no TLS; the
 * exec-only keys set in the route need one; a route user other than
 * [gateway] user cannot be had once root is dropped.
 */
static void
config_route_exec_checks(struct config_ctx *c, const struct config_route *r,
    const int *set)
{
	static const enum config_rkey only[] = { CONFIG_RKEY_EXEC_USER,
	    CONFIG_RKEY_EXEC_CWD, CONFIG_RKEY_EXEC_ENV };
	const char	*rp = r->prefix ? "/*" : "";
	size_t		 j, nexec = 0;

	for (j = 0; j < r->nbackends; j++)
		if (r->backends[j].kind == CONFIG_ADDR_EXEC)
			nexec++;
	if (nexec > 0 && r->nbackends > 1)
		config_error(c, r->backends[0].line, "[route %s%s]: an exec: "
		    "backend must be the route's only backend", r->path, rp);
	if (nexec > 0 && r->backend_proxy_protocol != 0)
		config_error(c, r->line, "[route %s%s]: backend_proxy_protocol "
		    "does not apply to exec: backends", r->path, rp);
	for (j = 0; nexec == 0 && j < sizeof(only) / sizeof(only[0]); j++)
		if (set[only[j]] != 0)
			config_error(c, set[only[j]], "%s: only for exec: "
			    "backends ([route %s%s])",
			    config_route_keys[only[j]].name, r->path, rp);
	if (nexec > 0 && r->exec_user != NULL && c->cfg->user != NULL &&
	    strcmp(r->exec_user, c->cfg->user) != 0)
		config_error(c, set[CONFIG_RKEY_EXEC_USER] != 0 ?
		    set[CONFIG_RKEY_EXEC_USER] : r->line, "user: '%s' cannot "
		    "be had after [gateway] user = %s drops root ([route "
		    "%s%s])", r->exec_user, c->cfg->user, r->path, rp);
}

/* Fill the keys route i did not set from [gateway]; check the result. */
static int
config_route_finish(struct config_ctx *c, size_t i)
{
	struct config_route	*r = &c->cfg->routes[i];
	const struct config_key	*k;
	int			*set = c->rset[i].line;
	size_t			 j;
	int			 line;

	for (j = 0; j < CONFIG_RKEY_COUNT; j++) {
		k = &config_route_keys[j];
		if (set[j] == 0 && c->gw_rset.line[j] != 0 &&
		    k->copy(k, r, &c->gw) == -1) {
			c->oom = 1;
			return -1;
		}
	}
	config_route_token_checks(c, r);
	if (r->nbackends == 0 && r->root == NULL &&
	    !config_route_has_token_source(r))
		config_error(c, r->line, "[route %s%s]: no backend (set "
		    "backend here or in [gateway])", r->path,
		    r->prefix ? "/*" : "");
	if (r->auth == CONFIG_AUTH_TOKEN && (r->token_secret_file == NULL) ==
	    (r->token_public_key_file == NULL))
		config_error(c, r->line, "[route %s%s]: auth = token needs "
		    "exactly one of token_secret_file, token_public_key_file",
		    r->path, r->prefix ? "/*" : "");
	if (r->auth == CONFIG_AUTH_BASIC && (r->htpasswd_file == NULL) ==
	    (r->basic_auth == NULL))
		config_error(c, r->line, "[route %s%s]: auth = basic needs "
		    "exactly one of htpasswd_file, basic_auth", r->path,
		    r->prefix ? "/*" : "");
	if (r->auth != CONFIG_AUTH_BASIC && r->basic_auth != NULL)
		config_error(c, r->line, "[route %s%s]: basic_auth needs "
		    "auth = basic", r->path, r->prefix ? "/*" : "");
	/* index in [gateway] is a default for the routes that have a root. */
	if (set[CONFIG_RKEY_INDEX] != 0 && r->root == NULL)
		config_error(c, set[CONFIG_RKEY_INDEX], "index: needs a root "
		    "([route %s%s])", r->path, r->prefix ? "/*" : "");
	if (r->heartbeat_interval_ms > 0 && r->heartbeat_timeout_ms == 0) {
		line = set[CONFIG_RKEY_HB_TIMEOUT];
		if (line == 0)
			line = c->gw_rset.line[CONFIG_RKEY_HB_TIMEOUT];
		if (line == 0)
			line = r->line;
		config_error(c, line, "heartbeat_timeout: must be > 0 when "
		    "heartbeat_interval is set ([route %s%s])", r->path,
		    r->prefix ? "/*" : "");
	}
	config_route_exec_checks(c, r, set);
	return 0;
}

static void
config_finish(struct config_ctx *c)
{
	struct config	*cfg = c->cfg;
	size_t		 i;

	if (cfg->nlistens == 0)
		config_error(c, 0, "no listen address (add listen = PORT to "
		    "[gateway])");
	if (cfg->nroutes == 0)
		config_error(c, 0, "no route (add a [route PATH] section with "
		    "a backend)");
	for (i = 0; i < cfg->nlistens; i++)
		if (cfg->listens[i].tls && (cfg->tls_certificate == NULL ||
		    cfg->tls_private_key == NULL))
			config_error(c, cfg->listens[i].line, "listen: '%s' "
			    "is tls but [tls] lacks certificate or "
			    "private_key", cfg->listens[i].spec);
	if (cfg->wrap_command != NULL && cfg->wrap_private_port == 0)
		config_error(c, 0, "wrap_command needs wrap_private_port (the "
		    "127.0.0.1 port the program's wrap_port is moved to)");
	if (cfg->wrap_command != NULL && cfg->wrap_port == 0) {
		for (i = 0; i < cfg->nlistens &&
		    cfg->listens[i].kind != CONFIG_ADDR_TCP; i++)
			;
		if (i == cfg->nlistens)
			config_error(c, 0, "wrap_command needs wrap_port (no "
			    "TCP listen address to take it from)");
		else
			cfg->wrap_port = cfg->listens[i].port;
	}
	if (cfg->tls_verify_client != 0 && cfg->tls_client_ca == NULL)
		config_error(c, 0, "[tls] verify_client needs client_ca (a CA "
		    "file, or system for OpenSSL's default store)");
	for (i = 0; i < CONFIG_GKEY_COUNT; i++)
		if (strcmp(config_gateway_keys[i].name, "limits_scope") == 0 &&
		    cfg->limits_scope != 0 && cfg->redis == NULL)
			config_error(c, c->gset[i], "limits_scope = fleet needs "
			    "redis in [gateway]");
	for (i = 0; i < cfg->nroutes; i++)
		if (cfg->tls_verify_client == 0 &&
		    (cfg->routes[i].nallow_client_cn > 0 ||
		    cfg->routes[i].nallow_client_san > 0))
			config_error(c, cfg->routes[i].line, "[route %s%s]: "
			    "allow_client_cn/allow_client_san need [tls] "
			    "verify_client = optional or require",
			    cfg->routes[i].path,
			    cfg->routes[i].prefix ? "/*" : "");
	for (i = 0; i < cfg->nroutes && !c->oom; i++)
		if (config_route_finish(c, i) == -1)
			return;
}

/* Parse text[0..len); the common body of config_load and _parse_string. */
static int
config_parse(const char *text, size_t len, const char *name,
    struct config **out, char *err, size_t errlen)
{
	struct config_ctx	c;
	int			r;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.text = text;
	c.len = len;
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	config_route_defaults(&c.gw);
	if ((c.cfg = config_new()) == NULL ||
	    (c.cfg->file = strdup(name)) == NULL) {
		c.oom = 1;
		goto done;
	}
	r = ini_parse_stream(config_ini_reader, &c, config_ini_handler, &c);
	if (r == -2)
		c.oom = 1;
	else if (r > 0 && c.nerrors == 0)	/* we should have seen it */
		config_error(&c, r, "syntax error");
	if (!c.oom)
		config_finish(&c);
 done:
	config_route_clear(&c.gw);
	free(c.rset);
	if (c.oom) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		config_free(c.cfg);
		return -1;
	}
	if (c.nerrors > 0) {
		config_free(c.cfg);
		return -1;
	}
	*out = c.cfg;
	return 0;
}

int
config_parse_string(const char *text, const char *name, struct config **out,
    char *err, size_t errlen)
{
	return config_parse(text, strlen(text), name ? name : "<string>", out,
	    err, errlen);
}


int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char	*text, why[CONFIG_MSG_MAX];
	size_t	 len;
	int	 r;

	*out = NULL;
	if (loadfile_read(path, CONFIG_MAX_FILE, 0, &text, &len, why,
	    sizeof(why)) == -1) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s", why);
		return -1;
	}
	r = config_parse(text, len, path, out, err, errlen);
	loadfile_free(text, len);
	return r;
}

/* ---- command line ---- */

int
config_from_args(const char *listen, const char *target,
    struct config **out, char *err, size_t errlen)
{
	struct config		*cfg;
	struct config_route	*r;
	struct config_addr	 a;
	char			 why[CONFIG_MSG_MAX], *spec;
	int			 rc, tcp;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((cfg = config_new()) == NULL)
		goto oom;
	rc = config_addr_parse(listen, 1, &a, why, sizeof(why));
	if (rc == 0 && (a.kind != CONFIG_ADDR_TCP || a.tls)) {
		config_addr_clear(&a);
		snprintf(why, sizeof(why), "bad address '%s' (use [HOST:]PORT)",
		    listen);
		rc = -1;
	}
	if (rc == -2)
		goto oom;
	if (rc == -1) {
		snprintf(err, errlen, "listen: %s", why);
		goto fail;
	}
	if ((cfg->listens = malloc(sizeof(a))) == NULL) {
		config_addr_clear(&a);
		goto oom;
	}
	cfg->listens[cfg->nlistens++] = a;

	if ((cfg->routes = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	r = &cfg->routes[cfg->nroutes++];
	config_route_defaults(r);
	r->prefix = true;
	if ((r->path = strdup("")) == NULL)
		goto oom;
	/* A bare HOST:PORT target is TCP, as websockify has it. */
	tcp = strncmp(target, "tcp:", 4) != 0 &&
	    strncmp(target, "unix:", 5) != 0;
	if ((spec = malloc(strlen(target) + 5)) == NULL)
		goto oom;
	snprintf(spec, strlen(target) + 5, "%s%s", tcp ? "tcp:" : "", target);
	rc = config_addr_parse(spec, 0, &a, why, sizeof(why));
	free(spec);
	if (rc == -2)
		goto oom;
	if (rc == -1) {
		snprintf(err, errlen, "target: %s", why);
		goto fail;
	}
	if ((r->backends = malloc(sizeof(a))) == NULL) {
		config_addr_clear(&a);
		goto oom;
	}
	r->backends[r->nbackends++] = a;
	*out = cfg;
	return 0;
 oom:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "out of memory");
 fail:
	config_free(cfg);
	return -1;
}
