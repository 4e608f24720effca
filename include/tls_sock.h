/*
 * tls_sock: the socket BIO under a TLS client leg's SSL. OpenSSL's socket
 * BIO, except that the session tickets written at the end of a handshake
 * wait for the next record we write and leave in one write() with it, and
 * that a connection's last records wait for its close_notify.
 */
#ifndef TLS_SOCK_H
#define TLS_SOCK_H

#include <openssl/ssl.h>

/*
 * ssl reads and writes fd through a tls_sock BIO from now on (the BIO is
 * ssl's, freed with it; fd is not closed by it). Returns 0, or -1 (out of
 * memory) with ssl and fd as they were, still the caller's.
 */
int	tls_sock_attach(SSL *ssl, int fd);

/*
 * The records ssl writes from now on (a close frame's, the close_notify)
 * wait in its tls_sock BIO, up to 2 KiB, for tls_sock_send_held(); past
 * that they go out with what waits before them. Does nothing to an SSL
 * whose BIO is not a tls_sock.
 */
void	tls_sock_hold(SSL *ssl);

/*
 * Send what waits in ssl's tls_sock BIO (held records, tickets never
 * sent) now, with MSG_MORE: the caller ends the stream at once
 * (shutdown(SHUT_WR)), which puts the FIN in the same segment. Holds no
 * more from then on. Returns 0 (all sent, or nothing waited, or not a
 * tls_sock); 1 when the socket had no room for all of it: the rest stays
 * in the BIO, ahead of anything OpenSSL writes, and the caller calls
 * again once the socket is writable (and ends the stream only after a 0);
 * or -1 when the socket failed (the connection is gone).
 */
int	tls_sock_send_held(SSL *ssl);

#endif
