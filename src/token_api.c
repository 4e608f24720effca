/*
 * token_api: HTTP token lookups; see include/token_api.h.
 *
 * Connections are kept alive and reused: each worker keeps a small pool
 * per origin (scheme, host, port and timeout), at most
 * TOKEN_API_IDLE_MAX of them idle; a lookup takes an idle one or opens
 * a new one, so it never waits behind another lookup (a hanging API
 * holds only its own connections). One evhttp connection is one TCP (or
 * TLS) connection here: once the server closes it (its idle timeout, a
 * "Connection: close", an HTTP/1.0 answer) or a request on it fails, it
 * is freed, never reconnected, so a TLS one never reuses a spent SSL.
 * A lookup whose reused connection turns out to be closed (EOF before
 * any answer: the server closed it as we wrote) is sent once more on a
 * new connection; GET is idempotent. libevent 2.1 must not free a
 * connection inside its callbacks, so it is freed on the next loop
 * turn. Requests in flight and connections are listed per worker, so
 * that shutdown frees them. A SIGHUP closes the connections to origins
 * no route's token_api names any more (token_api_reload); one still in
 * use goes once its request is done.
 */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/queue.h>

#include <arpa/inet.h>
#include <stdbool.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "gw.h"
#include "log.h"
#include "lookup.h"
#include "tls.h"
#include "token_api.h"

#define TOKEN_API_MAX_BODY	4096
#define TOKEN_API_MAX_HEADERS	16384
#define TOKEN_API_IDLE_MAX	4	/* idle connections kept per origin */

/* One connection to a token API, in its worker's pool or being freed. */
struct token_api_conn {
	LIST_ENTRY(token_api_conn) link;
	struct evhttp_connection *con;
	char			 origin[320];	/* scheme host port timeout */
	bool			 busy;		/* a request of ours on it */
	bool			 served;	/* answered one: may be stale */
	bool			 dead;		/* closed or failed: no reuse */
	bool			 retiring;	/* free_ev is active */
	const struct config	*checked;	/* a route of it names origin */
	struct event		*free_ev;	/* frees it, next loop turn */
	struct token_api_worker	*tw;
};

struct token_api_req {
	LIST_ENTRY(token_api_req) link;		/* in its worker's list */
	struct gw_worker	*w;
	uint64_t		 ticket;
	struct token_api_conn	*tc;		/* the request is on it */
	char			*target;	/* path and query */
	char			 hosthdr[300];
	bool			 tls;
	SSL_CTX			*tls_ctx;	/* https: a ref (token_api_get) */
	char			*host;
	int			 port;
	uint64_t		 timeout_ms;
	bool			 reused;	/* tc had answered before */
	bool			 eof;		/* no answer: EOF */
	bool			 retried;
};

/* A worker's requests in flight and connections (indexed by w->index). */
struct token_api_worker {
	LIST_HEAD(, token_api_req)  reqs;
	LIST_HEAD(, token_api_conn) pool;	/* busy and idle */
	LIST_HEAD(, token_api_conn) retired;	/* free_ev active */
	struct gw_worker	   *w;		/* set by its first lookup */
};
static struct token_api_worker	*token_api_workers;
static unsigned			 token_api_nworkers;

static void
token_api_conn_free(struct token_api_conn *tc)
{
	LIST_REMOVE(tc, link);
	if (tc->con != NULL) {
		evhttp_connection_set_closecb(tc->con, NULL, NULL);
		evhttp_connection_free(tc->con);	/* and its bev */
	}
	if (tc->free_ev != NULL)
		event_free(tc->free_ev);
	free(tc);
}

static void
token_api_conn_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	token_api_conn_free(arg);
}

/* Out of the pool; freed on the next loop turn (we may be inside one of
 * its callbacks). */
static void
token_api_conn_retire(struct token_api_conn *tc)
{
	if (tc->retiring)
		return;
	tc->retiring = true;
	LIST_REMOVE(tc, link);
	LIST_INSERT_HEAD(&tc->tw->retired, tc, link);
	event_active(tc->free_ev, EV_TIMEOUT, 0);
}

/* The server closed it (from inside libevent): never reused again. */
static void
token_api_conn_closed_cb(struct evhttp_connection *con, void *arg)
{
	struct token_api_conn *tc = arg;

	(void)con;
	tc->dead = true;
	if (!tc->busy)
		token_api_conn_retire(tc);
}

static void
token_api_req_free(struct token_api_req *tr)
{
	LIST_REMOVE(tr, link);
	SSL_CTX_free(tr->tls_ctx);
	free(tr->target);
	free(tr->host);
	free(tr);
}

int
token_api_init(unsigned nworkers)
{
	unsigned i;

	if ((token_api_workers = calloc(nworkers,
	    sizeof(*token_api_workers))) == NULL)
		return -1;
	for (i = 0; i < nworkers; i++) {
		LIST_INIT(&token_api_workers[i].reqs);
		LIST_INIT(&token_api_workers[i].pool);
		LIST_INIT(&token_api_workers[i].retired);
	}
	token_api_nworkers = nworkers;
	return 0;
}

/*
 * https:// token APIs: TLS 1.2+, verified against OpenSSL's default store
 * (so SSL_CERT_FILE / SSL_CERT_DIR work), the URL's host checked. One
 * context per generation, made in the main thread before its routes go
 * to the workers (which then only read it): a reload reads the store
 * anew. A request holds a reference (it may outlive its session, and so
 * the generation), and each connection's SSL holds one; a connection kept
 * alive across a reload stays, verified when it was opened.
 */
int
token_api_prepare(const char *url_tmpl, SSL_CTX **tls, X509_STORE **sys)
{
	X509_STORE *st;
	SSL_CTX *ctx;
	char why[512];

	if (*tls != NULL || strncmp(url_tmpl, "https://", 8) != 0)
		return 0;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* The system bundle (~235 M instructions to parse, for Debian's):
	 * the one the generation's other checks use, if any, and only for
	 * a config that needs it. */
	if ((st = tls_system_store(sys, why, sizeof(why))) == NULL)
		log_warnx("token_api: %s: https token APIs will fail", why);
	else
		SSL_CTX_set1_cert_store(ctx, st);
	*tls = ctx;
	return 0;
}

/*
 * A TLS socket bufferevent for host (not yet connected: evhttp connects
 * it), with SNI and the name or address checked (RFC 6125; RFC 6066: no
 * SNI for address literals). NULL on failure.
 */
static struct bufferevent *
token_api_tls_bev(struct event_base *base, SSL_CTX *ctx, const char *host)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (ctx == NULL || (ssl = SSL_new(ctx)) == NULL)
		return NULL;
	if (tls_set_peer_name(ssl, host) == -1) {
		SSL_free(ssl);
		return NULL;
	}
	bev = bufferevent_openssl_socket_new(base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE |
	    BEV_OPT_DEFER_CALLBACKS);
	if (bev == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

void
token_api_worker_free(struct gw_worker *w)
{
	struct token_api_worker *tw;
	struct token_api_conn *tc;
	struct token_api_req *tr;

	if (w->index >= token_api_nworkers)
		return;
	tw = &token_api_workers[w->index];
	/* Freeing a connection frees its requests; no callback runs. */
	while ((tc = LIST_FIRST(&tw->pool)) != NULL)
		token_api_conn_free(tc);
	while ((tc = LIST_FIRST(&tw->retired)) != NULL)
		token_api_conn_free(tc);
	while ((tr = LIST_FIRST(&tw->reqs)) != NULL)
		token_api_req_free(tr);
}

/*
 * An idle live connection to origin from w's pool, or a new one (host,
 * port, timeout_ms as the origin says; over TLS with tls, NULL for
 * http), marked busy. NULL when out of memory.
 */
static struct token_api_conn *
token_api_conn_get(struct gw_worker *w, const char *origin, SSL_CTX *tls,
    const char *host, int port, uint64_t timeout_ms)
{
	struct token_api_worker *tw = &token_api_workers[w->index];
	struct bufferevent *bev = NULL;
	struct token_api_conn *tc;
	struct timeval tv;

	LIST_FOREACH(tc, &tw->pool, link)
		if (!tc->busy && !tc->dead && strcmp(tc->origin, origin) == 0) {
			tc->busy = true;
			return tc;
		}
	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->free_ev = event_new(w->base, -1, 0, token_api_conn_free_cb,
	    tc)) == NULL ||
	    (tls != NULL && (bev = token_api_tls_bev(w->base, tls, host)) ==
	    NULL)) {
		if (tc != NULL && tc->free_ev != NULL)
			event_free(tc->free_ev);
		free(tc);
		return NULL;
	}
	/* bev (NULL for http: evhttp makes a socket one) is con's now. */
	if ((tc->con = evhttp_connection_base_bufferevent_new(w->base, w->dns,
	    bev, host, (unsigned short)port)) == NULL) {
		event_free(tc->free_ev);
		free(tc);
		return NULL;
	}
	snprintf(tc->origin, sizeof(tc->origin), "%s", origin);
	tc->tw = tw;
	tc->busy = true;
	tv = gw_ms_to_tv(timeout_ms);
	evhttp_connection_set_timeout_tv(tc->con, &tv);
	evhttp_connection_set_retries(tc->con, 0);
	evhttp_connection_set_max_body_size(tc->con, TOKEN_API_MAX_BODY);
	evhttp_connection_set_max_headers_size(tc->con,
	    TOKEN_API_MAX_HEADERS);
	evhttp_connection_set_closecb(tc->con, token_api_conn_closed_cb, tc);
	LIST_INSERT_HEAD(&tw->pool, tc, link);
	return tc;
}

/* uri's scheme (tls: https), port (the scheme's by default) and host
 * (NULL when it has none). */
static const char *
token_api_authority(const struct evhttp_uri *uri, bool *tls, int *port)
{
	const char *scheme = evhttp_uri_get_scheme(uri);

	*tls = scheme != NULL && strcmp(scheme, "https") == 0;
	*port = evhttp_uri_get_port(uri);
	if (*port < 0)
		*port = *tls ? 443 : 80;
	return evhttp_uri_get_host(uri);
}

/* The pool's key for a connection: scheme, host, port and timeout. */
static void
token_api_origin_key(char *out, size_t size, bool tls, const char *host,
    int port, uint64_t timeout_ms)
{
	snprintf(out, size, "%s %s %d %llu", tls ? "https" : "http", host,
	    port, (unsigned long long)timeout_ms);
}

/*
 * The origin key of url_tmpl's lookups, with "*" for the token (a
 * fnmatch pattern when the token is in the host). 0, or -1 when that
 * does not parse as a URL with a host.
 */
static int
token_api_origin(const char *url_tmpl, uint64_t timeout_ms, char *out,
    size_t size)
{
	const char *p = strstr(url_tmpl, "%s"), *host;
	struct evhttp_uri *uri;
	char url[4096];
	bool tls;
	int port, rc = -1;

	if (p == NULL)
		return -1;
	snprintf(url, sizeof(url), "%.*s*%s", (int)(p - url_tmpl), url_tmpl,
	    p + 2);
	if ((uri = evhttp_uri_parse(url)) == NULL)
		return -1;
	if ((host = token_api_authority(uri, &tls, &port)) != NULL) {
		token_api_origin_key(out, size, tls, host, port, timeout_ms);
		rc = 0;
	}
	evhttp_uri_free(uri);
	return rc;
}

/*
 * Does a token_api route of cfg name tc's origin? The route's origin is
 * worked out from its URL with "*" where the token goes, so that a token
 * in the host name matches any host there (fnmatch). A URL that does
 * not parse so (the token in the port) is taken to name every origin.
 * Remembered per cfg: one check for each connection and generation.
 */
static bool
token_api_wanted(struct token_api_conn *tc, const struct config *cfg)
{
	const struct config_route *r;
	char pat[320];
	size_t i;
	int n;

	if (tc->checked == cfg)
		return true;
	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		if (r->token_api == NULL)
			continue;
		n = token_api_origin(r->token_api, r->token_api_timeout_ms, pat,
		    sizeof(pat));
		if (n == -1 || fnmatch(pat, tc->origin, 0) == 0) {
			tc->checked = cfg;
			return true;
		}
	}
	return false;
}

/* A request is done with tc: keep it idle, or let it go. */
static void
token_api_conn_put(struct token_api_conn *tc, bool answered)
{
	struct token_api_conn *o;
	unsigned idle = 0;

	tc->busy = false;
	tc->served = true;
	if (!answered)
		tc->dead = true;	/* failed or timed out: start afresh */
	LIST_FOREACH(o, &tc->tw->pool, link)
		if (o != tc && !o->busy && !o->dead &&
		    strcmp(o->origin, tc->origin) == 0)
			idle++;
	if (tc->dead || idle >= TOKEN_API_IDLE_MAX ||
	    !token_api_wanted(tc, tc->tw->w->cfg))
		token_api_conn_retire(tc);
}

static int	token_api_send(struct token_api_req *);

static void
token_api_error_cb(enum evhttp_request_error err, void *arg)
{
	struct token_api_req *tr = arg;

	tr->eof = err == EVREQ_HTTP_EOF;
}

static void
token_api_done_cb(struct evhttp_request *req, void *arg)
{
	struct token_api_req *tr = arg;
	struct evbuffer *body;
	enum lookup_status st = LOOKUP_UNAVAILABLE;
	const char *v = NULL;
	size_t len = 0;
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;

	token_api_conn_put(tr->tc, code != 0);
	tr->tc = NULL;
	if (code == 0 && tr->eof && tr->reused && !tr->retried) {
		/* The server had closed the kept-alive connection. */
		tr->retried = true;
		if (token_api_send(tr) == 0)
			return;
	}
	if (code == 200 && (body = evhttp_request_get_input_buffer(req)) !=
	    NULL && (len = evbuffer_get_length(body)) <= TOKEN_API_MAX_BODY) {
		/* evbuffer_pullup() is NULL for an empty body as well as
		 * when out of memory: only the second is a failure. */
		v = len > 0 ? (const char *)evbuffer_pullup(body, -1) : "";
		st = v != NULL ? LOOKUP_OK : LOOKUP_UNAVAILABLE;
		if (v == NULL)
			log_warnx("token_api: out of memory reading the answer");
	} else if (code == 404)
		st = LOOKUP_NOT_FOUND;
	else
		log_info("token_api: %s", code == 0 ? "no answer (connect "
		    "failed or timed out)" : "unexpected status or body");
	lookup_answer(tr->w, tr->ticket, st, st == LOOKUP_OK ? v : NULL,
	    st == LOOKUP_OK ? len : 0);
	token_api_req_free(tr);
}

/*
 * Put tr's GET on a connection of the pool. 0: done_cb will run (never
 * inside this call); -1: it will not (tr unchanged, still the caller's).
 */
static int
token_api_send(struct token_api_req *tr)
{
	struct evhttp_request *req;
	struct token_api_conn *tc;
	char origin[320];

	token_api_origin_key(origin, sizeof(origin), tr->tls, tr->host,
	    tr->port, tr->timeout_ms);
	if ((tc = token_api_conn_get(tr->w, origin, tr->tls_ctx, tr->host,
	    tr->port, tr->timeout_ms)) == NULL)
		return -1;
	if ((req = evhttp_request_new(token_api_done_cb, tr)) == NULL) {
		token_api_conn_put(tc, true);
		return -1;
	}
	evhttp_request_set_error_cb(req, token_api_error_cb);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    tr->hosthdr);
	tr->reused = tc->served;
	tr->eof = false;
	/* On failure evhttp_make_request frees req; the callback never runs. */
	if (evhttp_make_request(tc->con, req, EVHTTP_REQ_GET, tr->target) ==
	    -1) {
		token_api_conn_put(tc, false);
		return -1;
	}
	tr->tc = tc;
	return 0;
}

/* url_tmpl with the encoded token for "%s"; NULL when out of memory. */
static char *
token_api_url(const char *url_tmpl, const char *tok, size_t len)
{
	const char *p = strstr(url_tmpl, "%s");
	char *enc, *url;
	size_t n;

	if (p == NULL || (enc = evhttp_uriencode(tok, (ev_ssize_t)len, 0)) ==
	    NULL)
		return NULL;
	n = strlen(url_tmpl) - 2 + strlen(enc) + 1;
	if ((url = malloc(n)) != NULL)
		snprintf(url, n, "%.*s%s%s", (int)(p - url_tmpl), url_tmpl, enc,
		    p + 2);
	free(enc);
	return url;
}

int
token_api_get(struct gw_worker *w, uint64_t ticket, SSL_CTX *tls,
    const char *url_tmpl, const char *tok, size_t len, uint64_t timeout_ms)
{
	struct token_api_req *tr = NULL;
	struct evhttp_uri *uri = NULL;
	const char *host, *path, *query;
	char *url, target[4096];
	int rc = -1;

	if (w->index >= token_api_nworkers ||
	    (url = token_api_url(url_tmpl, tok, len)) == NULL)
		return -1;
	if ((uri = evhttp_uri_parse(url)) == NULL ||
	    (tr = calloc(1, sizeof(*tr))) == NULL ||
	    (host = token_api_authority(uri, &tr->tls, &tr->port)) == NULL ||
	    (tr->tls && (tls == NULL || SSL_CTX_up_ref(tls) != 1)))
		goto out;
	if (tr->tls)
		tr->tls_ctx = tls;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	snprintf(target, sizeof(target), "%s%s%s", path != NULL &&
	    path[0] != '\0' ? path : "/", query != NULL ? "?" : "",
	    query != NULL ? query : "");
	snprintf(tr->hosthdr, sizeof(tr->hosthdr), strchr(host, ':') != NULL ?
	    "[%s]:%d" : "%s:%d", host, tr->port);
	tr->w = w;
	token_api_workers[w->index].w = w;
	tr->ticket = ticket;
	tr->timeout_ms = timeout_ms;
	if ((tr->target = strdup(target)) == NULL ||
	    (tr->host = strdup(host)) == NULL || token_api_send(tr) == -1)
		goto out;
	LIST_INSERT_HEAD(&token_api_workers[w->index].reqs, tr, link);
	tr = NULL;
	rc = 0;
 out:
	if (tr != NULL) {
		SSL_CTX_free(tr->tls_ctx);
		free(tr->target);
		free(tr->host);
		free(tr);
	}
	if (uri != NULL)
		evhttp_uri_free(uri);
	free(url);
	return rc;
}

void
token_api_reload(struct gw_worker *w)
{
	struct token_api_conn *tc, *next;
	struct token_api_worker *tw;

	if (w->index >= token_api_nworkers)
		return;
	tw = &token_api_workers[w->index];
	for (tc = LIST_FIRST(&tw->pool); tc != NULL; tc = next) {
		next = LIST_NEXT(tc, link);
		tc->checked = NULL;	/* cfg may sit where a freed one was */
		if (tc->dead || token_api_wanted(tc, w->cfg))
			continue;
		tc->dead = true;	/* busy: retired when its request ends */
		if (!tc->busy)
			token_api_conn_retire(tc);
	}
}
