/*
 * token_source: the token plugins of websockify as route keys; see
 * include/token_source.h and docs/gateway.conf.5, "Token sources".
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "auth.h"
#include "config.h"
#include "confgen.h"
#include "gw.h"
#include "handshake.h"
#include "loadfile.h"
#include "log.h"
#include "lookup.h"
#include "metrics.h"
#include "redis.h"
#include "registry.h"
#include "session-int.h"
#include "target.h"
#include "token_api.h"
#include "token_file.h"
#include "token_source.h"
#include "upgrade.h"

#define TOKEN_SOURCE_MAX_FILE	4096	/* a token_dir file */
#define TOKEN_SOURCE_RETRY	"Retry-After: 1\r\n"

/* A Redis GET in flight: whom to tell. */
struct token_source_get {
	struct gw_worker	*w;
	uint64_t		 ticket;
};

/*
 * The token of req for route r into tok (capacity TOKEN_FILE_MAX_TOKEN
 * + 1). Returns 1 with *len set, 0 when there is none, -1 malformed.
 */
static int
token_source_token(const struct upgrade_req *req, const struct config_route *r,
    char *tok, size_t *len)
{
	const char *h, *port;
	size_t n, plen;

	if (r->token_from == CONFIG_TOKEN_FROM_HOST) {
		/* websockify --host-token: Host without its port. */
		addr_authority_split(req->host.p, req->host.len, &h, &n,
		    &port, &plen);
		if (n == 0)
			return 0;
		if (n > TOKEN_FILE_MAX_TOKEN)
			return -1;
		memcpy(tok, req->host.p, n);
		tok[n] = '\0';
		*len = n;
		return 1;
	}
	return auth_query_param(req->query.p, req->query.len, "token", tok,
	    TOKEN_FILE_MAX_TOKEN + 1, len);
}

/*
 * t is the target: check it against allow_targets and make it s->dial.fixed.
 * Returns 1, or -1 after a 403 / 500.
 */
static int
token_source_use(struct session *s, const struct config_route *r,
    const struct token_target *t)
{
	char spec[300];

	if (t->kind == TOKEN_FILE_UNIX)
		snprintf(spec, sizeof(spec), "unix:%s", t->path);
	else
		snprintf(spec, sizeof(spec), strchr(t->host, ':') != NULL ?
		    "tcp:[%s]:%u" : "tcp:%s:%u", t->host, t->port);
	if (!target_allowed(t, s->gen->routes[r - s->cfg->routes].
	    allow_targets)) {
		log_info("session %llu: client=%s token target %s not in "
		    "allow_targets", (unsigned long long)s->id, s->peer, spec);
		handshake_refuse(s, 403, "token target not allowed", NULL);
		return -1;
	}
	free(s->dial.fixed.spec);
	memset(&s->dial.fixed, 0, sizeof(s->dial.fixed));
	/* One allocation holds the spec and the host or path after it. */
	if ((s->dial.fixed.spec = malloc(2 * strlen(spec) + 2)) == NULL) {
		handshake_refuse(s, 500, "out of memory", NULL);
		return -1;
	}
	strcpy(s->dial.fixed.spec, spec);
	if (t->kind == TOKEN_FILE_UNIX) {
		s->dial.fixed.kind = CONFIG_ADDR_UNIX;
		s->dial.fixed.path = strcpy(s->dial.fixed.spec + strlen(spec) + 1,
		    t->path);
	} else {
		s->dial.fixed.kind = CONFIG_ADDR_TCP;
		s->dial.fixed.host = strcpy(s->dial.fixed.spec + strlen(spec) + 1,
		    t->host);
		s->dial.fixed.port = t->port;
		if (t->literal)		/* parsed with the target */
			s->dial.fixed.salen = addr_ip_to_sockaddr(&t->ip, t->port,
			    &s->dial.fixed.sa);
	}
	s->dial.has_fixed = true;
	return 1;
}

/* A value from a source that waits (Redis, token API) or a file. */
static int
token_source_value(struct session *s, const struct config_route *r,
    const char *v, size_t len, const char *source)
{
	struct token_target t;
	const char *why;
	int rc;

	if (target_parse_value(v, len, &t, &why) == -1) {
		log_warnx("session %llu: client=%s %s gave a bad target for "
		    "its token: %s", (unsigned long long)s->id, s->peer, source,
		    why);
		handshake_refuse(s, 404, "unknown token", NULL);
		return -1;
	}
	rc = token_source_use(s, r, &t);
	target_clear(&t);
	return rc;
}

/* A token names one entry of a directory: no '/', no leading '.'. */
static bool
token_source_name_ok(const char *tok, size_t len)
{
	return len > 0 && tok[0] != '.' && memchr(tok, '/', len) == NULL &&
	    memchr(tok, '\0', len) == NULL;
}

/* token_dir: the file named by the token holds the target. */
static int
token_source_dir(struct session *s, const struct config_route *r,
    const char *tok, size_t len)
{
	char path[4096 + 300], *buf, why[512];
	size_t n;
	int rc;

	if (!token_source_name_ok(tok, len) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", r->token_dir, tok) >=
	    sizeof(path)) {
		handshake_refuse(s, 404, "unknown token", NULL);
		return -1;
	}
	/* A small local file, as websockify reads it; not a network wait.
	 * One longer than a target can be is refused, not cut. */
	if (loadfile_read(path, TOKEN_SOURCE_MAX_FILE, 0, &buf, &n, why,
	    sizeof(why)) == -1) {
		log_debug("session %llu: token_dir: %s",
		    (unsigned long long)s->id, why);
		handshake_refuse(s, 404, "unknown token", NULL);
		return -1;
	}
	rc = token_source_value(s, r, buf, n, "token_dir");
	loadfile_free(buf, n);
	return rc;
}

/* token_socket_dir: the token names a socket in the directory. */
static int
token_source_socket_dir(struct session *s, const struct config_route *r,
    const char *tok, size_t len)
{
	struct token_target t;
	struct stat st;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (!token_source_name_ok(tok, len) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", r->token_socket_dir,
	    tok) >= sizeof(path) || stat(path, &st) == -1 ||
	    !S_ISSOCK(st.st_mode)) {
		handshake_refuse(s, 404, "unknown token", NULL);
		return -1;
	}
	memset(&t, 0, sizeof(t));
	t.kind = TOKEN_FILE_UNIX;
	t.path = path;
	return token_source_use(s, r, &t);
}

/* token_jwt_key_file: a signed JWT whose claims name the target. */
static int
token_source_jwt(struct session *s, const struct config_route *r,
    const struct confgen_route *gr, const char *tok, size_t len)
{
	struct auth_claims_req cr;
	char *payload;
	size_t plen;
	int rc;

	if ((payload = malloc(AUTH_MAX_TOKEN)) == NULL) {
		handshake_refuse(s, 500, "out of memory", NULL);
		return -1;
	}
	memset(&cr, 0, sizeof(cr));
	cr.now = (int64_t)time(NULL);
	cr.audience = r->token_audience;
	rc = auth_jwt_verify_payload(tok, len, gr->target_key, &cr, payload,
	    AUTH_MAX_TOKEN, &plen);
	if (rc != AUTH_OK) {
		log_info("session %llu: client=%s target token refused: %s",
		    (unsigned long long)s->id, s->peer, auth_strerror(rc));
		handshake_refuse(s, 404, "unknown token", NULL);
		rc = -1;
	} else
		rc = token_source_value(s, r, payload, plen, "token_jwt_key_file");
	free(payload);
	return rc;
}

/* The answer of a waiting source is in. */
static void
token_source_done(struct session *s, enum lookup_status st, const char *v,
    size_t len, uint64_t usec, void *arg)
{
	const struct config_route *r = arg;

	if (r->token_redis)
		metrics_observe(&s->w->m.redis_lookup, usec);
	switch (st) {
	case LOOKUP_OK:
		if (token_source_value(s, r, v, len, r->token_redis ?
		    "token_redis" : "token_api") == 1)
			handshake_resume(s);
		return;
	case LOOKUP_NOT_FOUND:
	case LOOKUP_DENIED:
		handshake_refuse(s, 404, "unknown token", NULL);
		return;
	case LOOKUP_TIMEOUT:
		handshake_refuse(s, 503, r->token_redis ? "token store did "
		    "not answer in time" : "token API did not answer in time",
		    TOKEN_SOURCE_RETRY);
		return;
	default:
		handshake_refuse(s, 503, r->token_redis ? "token store "
		    "unavailable" : "token API unavailable", TOKEN_SOURCE_RETRY);
		return;
	}
}

static void
token_source_redis_reply(void *arg, redisReply *reply)
{
	struct token_source_get *g = arg;

	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		lookup_answer(g->w, g->ticket, LOOKUP_UNAVAILABLE, NULL, 0);
	else if (reply->type == REDIS_REPLY_NIL)
		lookup_answer(g->w, g->ticket, LOOKUP_NOT_FOUND, NULL, 0);
	else if (reply->type == REDIS_REPLY_STRING)
		lookup_answer(g->w, g->ticket, LOOKUP_OK, reply->str,
		    reply->len);
	else
		lookup_answer(g->w, g->ticket, LOOKUP_NOT_FOUND, NULL, 0);
	free(g);
}

/* token_redis: GET <prefix><token>, answered on this worker's loop. */
static int
token_source_redis(struct session *s, const struct config_route *r,
    const char *tok, size_t len)
{
	struct token_source_get *g;
	const char *argv[2];
	size_t lens[2], plen;
	char key[1024 + TOKEN_FILE_MAX_TOKEN];
	uint64_t ticket;

	plen = r->token_redis_prefix != NULL ? strlen(r->token_redis_prefix) :
	    0;
	if (plen > 1024) {
		handshake_refuse(s, 500, "token_redis_prefix too long", NULL);
		return -1;
	}
	if (plen > 0)
		memcpy(key, r->token_redis_prefix, plen);
	memcpy(key + plen, tok, len);
	if (!redis_conn_up(s->w->redis) || (g = malloc(sizeof(*g))) == NULL) {
		handshake_refuse(s, 503, "token store unavailable",
		    TOKEN_SOURCE_RETRY);
		return -1;
	}
	ticket = lookup_wait(s, s->cfg->redis_timeout_ms, token_source_done,
	    (void *)(uintptr_t)r);
	if (ticket == 0) {
		free(g);
		handshake_refuse(s, 500, "out of memory", NULL);
		return -1;
	}
	g->w = s->w;
	g->ticket = ticket;
	argv[0] = "GET";
	lens[0] = 3;
	argv[1] = key;
	lens[1] = plen + len;
	if (redis_command(s->w->redis, token_source_redis_reply, g, 2, argv,
	    lens) == -1) {
		free(g);
		lookup_answer(s->w, ticket, LOOKUP_UNAVAILABLE, NULL, 0);
	}
	return 0;
}

/* token_api: an HTTP GET, answered on this worker's loop. */
static int
token_source_api(struct session *s, const struct config_route *r,
    const char *tok, size_t len)
{
	uint64_t ticket;

	/* The request's own timeout answers first; the wait's is a bound. */
	ticket = lookup_wait(s, r->token_api_timeout_ms + 1000,
	    token_source_done, (void *)(uintptr_t)r);
	if (ticket == 0) {
		handshake_refuse(s, 500, "out of memory", NULL);
		return -1;
	}
	if (token_api_get(s->w, ticket, s->gen->token_api_tls, r->token_api,
	    tok, len, r->token_api_timeout_ms) == -1)
		lookup_answer(s->w, ticket, LOOKUP_UNAVAILABLE, NULL, 0);
	return 0;
}

int
token_source_resolve(struct session *s, const struct upgrade_req *req,
    const struct config_route *r, const struct confgen_route *gr)
{
	const struct token_target *t;
	char tok[TOKEN_FILE_MAX_TOKEN + 1];
	size_t len = 0;
	int q, rc;

	if (r->token_from == CONFIG_TOKEN_FROM_QUERY && r->token_jwt_key_file)
		q = -2;		/* a JWT is longer than a token file's token */
	else
		q = token_source_token(req, r, tok, &len);
	if (q == -2) {
		char *big = malloc(AUTH_MAX_TOKEN + 1);

		if (big == NULL) {
			handshake_refuse(s, 500, "out of memory", NULL);
			return -1;
		}
		q = auth_query_param(req->query.p, req->query.len, "token", big,
		    AUTH_MAX_TOKEN + 1, &len);
		if (q == 1)
			registry_token_seen(s, big, len);
		rc = q == 1 ? token_source_jwt(s, r, gr, big, len) : 0;
		explicit_bzero(big, AUTH_MAX_TOKEN + 1);
		free(big);
		if (q == 1)
			return rc;
	}
	if (q == -1) {
		handshake_refuse(s, 400, "malformed token parameter", NULL);
		return -1;
	}
	if (q == 0) {
		handshake_refuse(s, 404, "no token parameter", NULL);
		return -1;
	}
	registry_token_seen(s, tok, len);
	if (r->token_file != NULL) {
		t = token_file_lookup(gr->tokens, tok, len);
		rc = t == NULL ? (handshake_refuse(s, 404, "unknown token",
		    NULL), -1) : token_source_use(s, r, t);
	} else if (r->token_dir != NULL)
		rc = token_source_dir(s, r, tok, len);
	else if (r->token_socket_dir != NULL)
		rc = token_source_socket_dir(s, r, tok, len);
	else if (r->token_jwt_key_file != NULL)
		rc = token_source_jwt(s, r, gr, tok, len);
	else if (r->token_redis)
		rc = token_source_redis(s, r, tok, len);
	else
		rc = token_source_api(s, r, tok, len);
	explicit_bzero(tok, sizeof(tok));
	return rc;
}
