/*
 * tls_sock: the socket BIO under a TLS client leg's SSL. OpenSSL's socket
 * BIO, except that the session tickets written at the end of a handshake
 * wait for the next record we write and leave in one write() with it.
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

#endif
