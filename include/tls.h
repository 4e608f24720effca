/*
 * tls: server-side SSL_CTX from [tls] and the OpenSSL bufferevent for an
 * accepted socket on a "tls" listener.
 */
#ifndef TLS_H
#define TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

struct config;
struct config_route;
struct event_base;
struct bufferevent;

/*
 * Build the server context from cfg's certificate (with its chain) and
 * private key, TLS 1.2 at least. Refuses a key file that group or others
 * may read. Returns the context (caller frees with SSL_CTX_free), or NULL
 * with the reason in err.
 */
SSL_CTX	*tls_server_ctx_new(const struct config *cfg, char *err, size_t errlen);

/*
 * A bufferevent doing the server side of TLS on fd. fd belongs to the
 * bufferevent from here on, and is closed on failure. Returns NULL on
 * failure.
 */
struct bufferevent *tls_accept_bev(struct event_base *base, SSL_CTX *ctx,
	    int fd);

/*
 * The client context for route r's tls: backends: certificates verified
 * against backend_ca (else the system store), our client certificate if
 * backend_certificate is set. NULL with the reason in err.
 */
SSL_CTX	*tls_backend_ctx_new(const struct config_route *r, char *err,
	    size_t errlen);

/* Sets what a client SSL* checks of its server: SNI and the host name for
 * a name, the address for an IPv4/IPv6 literal (no SNI, RFC 6066 §3).
 * Returns 0, or -1 when OpenSSL refuses (ssl stays the caller's). */
int tls_set_peer_name(SSL *ssl, const char *name);

/*
 * Start TLS as a client over the connected bufferevent under, verifying
 * the certificate for name (SNI too, unless an address literal). under
 * belongs to the result (freed with it); on failure (NULL) it is still
 * the caller's.
 */
struct bufferevent *tls_connect_bev(struct event_base *base, SSL_CTX *ctx,
	    struct bufferevent *under, const char *name);

/* Send close_notify on bev if it is a TLS bufferevent (before our FIN). */
void	tls_shutdown(struct bufferevent *bev);

/*
 * mTLS routes: did the client present a certificate that verified against
 * client_ca and whose subject CN is in cns, or one of whose DNS, email or
 * URI SANs is in sans? False for plain (non-TLS) bufferevents.
 */
bool	tls_client_allowed(struct bufferevent *bev, char *const *cns,
	    size_t ncn, char *const *sans, size_t nsan);

/* The first queued OpenSSL error on bev as text, or "" if none. */
const char *tls_error(struct bufferevent *bev, char *buf, size_t len);

#endif
