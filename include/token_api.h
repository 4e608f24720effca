/*
 * token_api: websockify's BaseTokenAPI and JSONTokenApi: an HTTP GET of
 * the route's token_api URL with the token in place of "%s", on the
 * worker's loop with libevent's HTTP client (names through the worker's
 * evdns; https:// over bufferevent_openssl, verified against OpenSSL's
 * default store and the URL's host), answered through lookup.c.
 */
#ifndef TOKEN_API_H
#define TOKEN_API_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

struct gw_worker;

/*
 * GET url_tmpl with tok[0..len) percent-encoded in place of its "%s",
 * within timeout_ms (https:// over tls, the context token_api_prepare
 * made for the session's generation; NULL: none, and an https lookup
 * fails), and answer ticket on w: LOOKUP_OK with the body
 * (200), LOOKUP_NOT_FOUND (404), LOOKUP_UNAVAILABLE (anything else: a
 * failed connect, another status, a body over 4K, no answer in time).
 * Returns 0 (the answer comes later, never inside this call), or -1 when
 * the request could not be started (bad URL, out of memory): nothing
 * will answer.
 */
int	token_api_get(struct gw_worker *w, uint64_t ticket, SSL_CTX *tls,
	    const char *url_tmpl, const char *tok, size_t len,
	    uint64_t timeout_ms);

/* At start: room for nworkers workers' requests. 0, or -1 (no memory). */
int	token_api_init(unsigned nworkers);

/*
 * A route's token_api URL template, as a config is loaded (main thread,
 * before its routes are in use): for its generation's first https:// one,
 * the client TLS context into *tls (the generation's, SSL_CTX_free),
 * verifying against the generation's system CA store (*sys, as
 * tls_system_store: read now if none of its contexts has yet; a failure
 * to read it is logged: https lookups then fail). Nothing for http://, or
 * once made. 0, or -1 (out of memory).
 */
int	token_api_prepare(const char *url_tmpl, SSL_CTX **tls,
	    X509_STORE **sys);

/*
 * SIGHUP, in w's thread once w->cfg is the new config: close w's idle
 * connections to origins that no route's token_api names any more (else
 * they stayed open until token_api_timeout, up to 10 minutes); one in
 * use is closed when its lookup ends.
 */
void	token_api_reload(struct gw_worker *w);

/* At exit, in w's thread or after it stopped: free its requests in
 * flight (their callbacks do not run). */
void	token_api_worker_free(struct gw_worker *w);

#endif
