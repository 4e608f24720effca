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
struct evbuffer;

/*
 * Build the server context from cfg's certificate (with its chain) and
 * private key, TLS 1.2 at least; client_ca = system verifies against the
 * generation's system store (*sys, as tls_system_store). Refuses a key
 * file that group or others may read. Returns the context (caller frees
 * with SSL_CTX_free), or NULL with the reason in err.
 */
SSL_CTX	*tls_server_ctx_new(const struct config *cfg, X509_STORE **sys,
	    char *err, size_t errlen);

/*
 * A bufferevent doing the server side of TLS on fd. fd belongs to the
 * bufferevent from here on, and is closed on failure. Returns NULL on
 * failure.
 */
struct bufferevent *tls_accept_bev(struct event_base *base, SSL_CTX *ctx,
	    int fd);

/*
 * OpenSSL's default store (the system bundle, or SSL_CERT_FILE and
 * SSL_CERT_DIR), read into *sys the first time a context of one
 * configuration generation needs it; the contexts share it from then on
 * (SSL_CTX_set1_cert_store: each holds a reference), and *sys holds the
 * generation's (X509_STORE_free). Returns *sys, or NULL with the reason in
 * err.
 */
X509_STORE *tls_system_store(X509_STORE **sys, char *err, size_t errlen);

/*
 * The client context for route r's tls: backends: certificates verified
 * against backend_ca, else the generation's system store (*sys, as
 * tls_system_store), our client certificate if backend_certificate is set.
 * NULL with the reason in err.
 */
SSL_CTX	*tls_backend_ctx_new(const struct config_route *r, X509_STORE **sys,
	    char *err, size_t errlen);

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

/*
 * Write what bev's output holds now, one TLS record per SSL_write() (up
 * to 16 KiB of it, gathered across evbuffer chains), for a TLS client leg
 * (from tls_accept_bev) whose handshake is done. What the socket does not
 * take waits for libevent's write event, and until libevent has sent it
 * further calls do nothing; so do calls on other bufferevents. Returns 0
 * (all written, or not ours to write), 1 (bytes wait for the socket or a
 * failure libevent will report), or -1 (out of memory: bytes stay queued).
 */
int	tls_flush(struct bufferevent *bev);

/*
 * Send one frame to a TLS client leg now, as one TLS record: the hl bytes
 * at hdr, then len payload bytes from p, or, when chain is not NULL, the
 * first len bytes of chain (copied out and drained from it). Only when
 * bev's output is empty, tls_flush() could write, and hl + len <= 16 KiB;
 * otherwise returns -1 and nothing changed (queue the frame as usual).
 * Returns 0 when the frame is sent or, if the socket did not take it,
 * queued in bev's output for libevent to send (out of memory for that:
 * the connection is shut down, and its event callback says so). hdr, p
 * and chain stay the caller's.
 */
int	tls_send(struct bufferevent *bev, const void *hdr, size_t hl,
	    const void *p, struct evbuffer *chain, size_t len);

/*
 * For a TLS client leg (from tls_accept_bev) past its handshake: decrypt
 * into bev's input, 16 KiB an SSL_read(), while OpenSSL holds bytes of
 * records (read ahead, or a record begun whose rest the socket has), up
 * to about room bytes (a record more at most). An EOF or error is left
 * for libevent's next read to report through the event callback. Returns
 * the bytes added; 0 for other bufferevents.
 */
size_t	tls_read_more(struct bufferevent *bev, size_t room);

/*
 * A TLS client leg (from tls_accept_bev) whose reading is enabled: if
 * OpenSSL holds records it read ahead (or bytes decrypted and not yet
 * read), have libevent read them in this loop turn; no socket event would
 * say they are there. Call after each read callback and whenever reading
 * is turned on again. Does nothing for other bufferevents.
 */
void	tls_read_pending(struct bufferevent *bev);

/*
 * A TLS client leg's handshake is done (its BEV_EVENT_CONNECTED): leaves
 * the write event disarmed while there is nothing to write, then as
 * tls_read_pending(). Does nothing for other bufferevents.
 */
void	tls_handshake_done(struct bufferevent *bev);

/*
 * A TLS client leg whose next record is its last (the reply to the
 * client's close frame, our FIN to follow): that record waits for
 * tls_shutdown(), which sends it with the close_notify, and the FIN then
 * rides in the same segment. Only when nothing waits in bev's output (the
 * record is then written, not queued); otherwise does nothing, as for
 * other bufferevents.
 */
void	tls_hold_last(struct bufferevent *bev);

/*
 * Send close_notify on bev if it is a TLS bufferevent, before our FIN:
 * for a TLS client leg together with what tls_hold_last() held, in one
 * send() whose segment the caller's shutdown(SHUT_WR) also puts the FIN
 * in. Returns 0 (sent: the FIN may follow); 1 when the socket had no room
 * for all of it (a client that stopped reading): call again when it is
 * writable, which sends the rest (the close_notify is made only once),
 * and send the FIN only after a 0; or -1 when the socket failed.
 */
int	tls_shutdown(struct bufferevent *bev);

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
