/*
 * token_api: HTTP token lookups; see include/token_api.h.
 *
 * One connection per lookup, closed after it ("Connection: close"):
 * token APIs are asked once per handshake, and a kept-alive pool per
 * worker would have to be kept per URL and reaped; not worth it at
 * handshake rates. libevent 2.1 must not free a connection inside its
 * request callback, and its free_on_completion leaks connections whose
 * connect failed, so each one is freed by us on the next loop turn. The
 * requests in flight are listed per worker, so that shutdown frees them.
 */
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

#include "gw.h"
#include "log.h"
#include "lookup.h"
#include "tls.h"
#include "token_api.h"

#define TOKEN_API_MAX_BODY	4096
#define TOKEN_API_MAX_HEADERS	16384

struct token_api_req {
	LIST_ENTRY(token_api_req) link;		/* in its worker's list */
	struct gw_worker	*w;
	uint64_t		 ticket;
	struct evhttp_connection *con;
	struct event		*free_ev;	/* frees con, then this */
};

/* Requests in flight, one list per worker (indexed by w->index). */
LIST_HEAD(token_api_list, token_api_req);
static struct token_api_list	*token_api_lists;
static unsigned			 token_api_nlists;
/* https:// token APIs: TLS 1.2+, verified against OpenSSL's default store
 * (so SSL_CERT_FILE / SSL_CERT_DIR work), the URL's host checked. */
static SSL_CTX			*token_api_tls;

static void
token_api_req_free(struct token_api_req *tr)
{
	LIST_REMOVE(tr, link);
	if (tr->con != NULL)
		evhttp_connection_free(tr->con);
	if (tr->free_ev != NULL)
		event_free(tr->free_ev);
	free(tr);
}

static void
token_api_free_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	token_api_req_free(arg);
}

int
token_api_init(unsigned nworkers)
{
	unsigned i;

	if ((token_api_lists = calloc(nworkers, sizeof(*token_api_lists))) ==
	    NULL)
		return -1;
	for (i = 0; i < nworkers; i++)
		LIST_INIT(&token_api_lists[i]);
	token_api_nlists = nworkers;
	if ((token_api_tls = SSL_CTX_new(TLS_client_method())) == NULL)
		return -1;
	SSL_CTX_set_min_proto_version(token_api_tls, TLS1_2_VERSION);
	SSL_CTX_set_verify(token_api_tls, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_set_default_verify_paths(token_api_tls) != 1)
		log_warnx("token_api: no default CA store: https token APIs "
		    "will fail");
	return 0;
}

/*
 * A TLS socket bufferevent for host (not yet connected: evhttp connects
 * it), with SNI and the name or address checked (RFC 6125; RFC 6066: no
 * SNI for address literals). NULL on failure.
 */
static struct bufferevent *
token_api_tls_bev(struct event_base *base, const char *host)
{
	struct bufferevent *bev;
	SSL *ssl;

	if (token_api_tls == NULL || (ssl = SSL_new(token_api_tls)) == NULL)
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
	struct token_api_req *tr;

	if (w->index >= token_api_nlists)
		return;
	while ((tr = LIST_FIRST(&token_api_lists[w->index])) != NULL)
		token_api_req_free(tr);
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
	tr->ticket = 0;
	event_active(tr->free_ev, EV_TIMEOUT, 0);
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
token_api_get(struct gw_worker *w, uint64_t ticket, const char *url_tmpl,
    const char *tok, size_t len, uint64_t timeout_ms)
{
	struct evhttp_connection *con = NULL;
	struct evhttp_request *req = NULL;
	struct token_api_req *tr = NULL;
	struct evhttp_uri *uri = NULL;
	struct bufferevent *bev = NULL;
	struct timeval tv;
	const char *host, *path, *query, *scheme;
	bool tls;
	char *url, target[4096], hosthdr[300];
	int port, rc = -1;

	if ((url = token_api_url(url_tmpl, tok, len)) == NULL ||
	    (uri = evhttp_uri_parse(url)) == NULL ||
	    (host = evhttp_uri_get_host(uri)) == NULL)
		goto out;
	scheme = evhttp_uri_get_scheme(uri);
	tls = scheme != NULL && strcmp(scheme, "https") == 0;
	port = evhttp_uri_get_port(uri);
	if (port < 0)
		port = tls ? 443 : 80;
	path = evhttp_uri_get_path(uri);
	query = evhttp_uri_get_query(uri);
	snprintf(target, sizeof(target), "%s%s%s", path != NULL &&
	    path[0] != '\0' ? path : "/", query != NULL ? "?" : "",
	    query != NULL ? query : "");
	snprintf(hosthdr, sizeof(hosthdr), strchr(host, ':') != NULL ?
	    "[%s]:%d" : "%s:%d", host, port);
	if (w->index >= token_api_nlists ||
	    (tr = calloc(1, sizeof(*tr))) == NULL ||
	    (tls && (bev = token_api_tls_bev(w->base, host)) == NULL))
		goto out;
	/* bev (NULL for http: evhttp makes a socket one) is con's from here. */
	con = evhttp_connection_base_bufferevent_new(w->base, w->dns, bev, host,
	    (unsigned short)port);
	bev = NULL;
	if (con == NULL || (tr->free_ev = event_new(w->base, -1, 0,
	    token_api_free_cb, tr)) == NULL)
		goto out;
	tr->w = w;
	tr->ticket = ticket;
	tv = gw_ms_to_tv(timeout_ms);
	evhttp_connection_set_timeout_tv(con, &tv);
	evhttp_connection_set_retries(con, 0);
	evhttp_connection_set_max_body_size(con, TOKEN_API_MAX_BODY);
	evhttp_connection_set_max_headers_size(con, TOKEN_API_MAX_HEADERS);
	if ((req = evhttp_request_new(token_api_done_cb, tr)) == NULL)
		goto out;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
	    hosthdr);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
	    "close");
	/* On failure evhttp_make_request frees req; the callback never runs. */
	if (evhttp_make_request(con, req, EVHTTP_REQ_GET, target) == -1) {
		req = NULL;
		goto out;
	}
	tr->con = con;
	LIST_INSERT_HEAD(&token_api_lists[w->index], tr, link);
	con = NULL;
	tr = NULL;
	rc = 0;
 out:
	if (con != NULL)
		evhttp_connection_free(con);	/* and its bev */
	if (bev != NULL)
		bufferevent_free(bev);
	if (tr != NULL && tr->free_ev != NULL)
		event_free(tr->free_ev);
	free(tr);
	if (uri != NULL)
		evhttp_uri_free(uri);
	free(url);
	return rc;
}
