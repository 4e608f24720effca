/*
 * tls_sock: see include/tls_sock.h.
 *
 * The socket BIO of a TLS client leg (tls_accept_bev). It does what
 * OpenSSL's socket BIO does (read() and write() on the fd, the same retry
 * and EOF flags; the fd stays libevent's to close), and one thing more:
 * the session tickets OpenSSL writes at the end of the handshake wait
 * here and go out in the write() of the next record, the 101 mostly. A
 * TLS 1.3 server writes them (two by default) after the client's
 * Finished, a write() and a segment each, and the client's upgrade
 * request is by then usually on its way: three writes and three
 * segments through the kernel become one. A client never waits for a ticket before it
 * speaks (they are for resuming later), so holding them until we answer
 * costs it nothing; a connection that ends before we write anything
 * never gets them, like one that closes before reading them.
 *
 * The end of a connection is held the same way (tls_sock_hold): the
 * record of our close frame waits for the close_notify, and both leave
 * in one send() with MSG_MORE, so the shutdown(SHUT_WR) that follows
 * puts our FIN in the same segment (tls_sock_send_held). A socket with no
 * room for them (a client that stopped reading while data to it was
 * queued) takes what fits; the rest stays held and goes, before the FIN,
 * when the caller finds the socket writable again, as a record from
 * OpenSSL would.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "tls_sock.h"

#define TLS_HOLD_MAX	2048	/* two tickets are ~480 bytes */

struct tls_sock {
	SSL		*ssl;		/* the SSL this BIO serves (not ours) */
	int		 fd;		/* libevent's */
	bool		 hold;		/* records wait for the last one */
	unsigned	 held_len;
	unsigned char	*held;		/* malloc'd while records wait */
};

static BIO_METHOD	*tls_sock_meth;
static int		 tls_sock_type;	/* its BIO_method_type() */
static pthread_once_t	 tls_sock_once = PTHREAD_ONCE_INIT;

/* Write what is held, then (if n > 0) the n bytes at p, in one writev().
 * Returns the bytes of p written, or -1 with BIO's retry flags set as
 * OpenSSL's socket BIO sets them (held bytes the socket did not take stay
 * held, before p, for OpenSSL's retry of the same bytes). */
static int
tls_sock_writev(BIO *b, struct tls_sock *ts, const void *p, int n)
{
	struct iovec iov[2];
	ssize_t r;
	int k = 0;

	if (ts->held_len > 0) {
		iov[k].iov_base = ts->held;
		iov[k++].iov_len = ts->held_len;
	}
	if (n > 0) {
		iov[k].iov_base = (void *)(uintptr_t)p;
		iov[k++].iov_len = (size_t)n;
	}
	errno = 0;
	r = writev(ts->fd, iov, k);
	BIO_clear_retry_flags(b);
	if (r <= 0) {
		if (BIO_sock_should_retry((int)r))
			BIO_set_retry_write(b);
		return -1;
	}
	if (ts->held_len > 0) {
		if ((size_t)r < ts->held_len) {
			ts->held_len -= (unsigned)r;
			memmove(ts->held, ts->held + r, ts->held_len);
			BIO_set_retry_write(b);
			return -1;
		}
		r -= ts->held_len;
		free(ts->held);
		ts->held = NULL;
		ts->held_len = 0;
		if (r == 0 && n > 0) {
			BIO_set_retry_write(b);
			return -1;
		}
	}
	return (int)r;
}

static int
tls_sock_write(BIO *b, const char *in, int inl)
{
	struct tls_sock *ts = BIO_get_data(b);
	unsigned char *p;

	if (inl <= 0)
		return 0;
	if ((ts->hold || SSL_get_state(ts->ssl) == TLS_ST_SW_SESSION_TICKET) &&
	    ts->held_len + (unsigned)inl <= TLS_HOLD_MAX &&
	    (p = realloc(ts->held, ts->held_len + (size_t)inl)) != NULL) {
		memcpy(p + ts->held_len, in, (size_t)inl);
		ts->held = p;
		ts->held_len += (unsigned)inl;
		BIO_clear_retry_flags(b);
		return inl;
	}
	return tls_sock_writev(b, ts, in, inl);
}

static int
tls_sock_read(BIO *b, char *out, int outl)
{
	struct tls_sock *ts = BIO_get_data(b);
	ssize_t r;

	if (out == NULL || outl <= 0)
		return 0;
	errno = 0;
	r = read(ts->fd, out, (size_t)outl);
	BIO_clear_retry_flags(b);
	if (r <= 0) {
		if (BIO_sock_should_retry((int)r))
			BIO_set_retry_read(b);
		else if (r == 0)
			BIO_set_flags(b, BIO_FLAGS_IN_EOF);
	}
	return (int)r;
}

static long
tls_sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_sock *ts = BIO_get_data(b);

	(void)num;
	switch (cmd) {
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = ts->fd;
		return ts->fd;
	case BIO_CTRL_GET_CLOSE:
		return BIO_NOCLOSE;
	case BIO_CTRL_SET_CLOSE:	/* libevent closes the fd */
	case BIO_CTRL_DUP:
		return 1;
	case BIO_CTRL_FLUSH:
		/* OpenSSL flushes after each ticket and after an alert:
		 * those stay, until the next record or the last. */
		if (ts->held_len == 0 || ts->hold ||
		    SSL_get_state(ts->ssl) == TLS_ST_SW_SESSION_TICKET)
			return 1;
		return tls_sock_writev(b, ts, NULL, 0) == -1 ? -1 : 1;
	case BIO_CTRL_EOF:
		return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
	default:
		return 0;
	}
}

static int
tls_sock_destroy(BIO *b)
{
	struct tls_sock *ts = BIO_get_data(b);

	if (ts != NULL) {
		free(ts->held);		/* tickets never sent */
		free(ts);
		BIO_set_data(b, NULL);
	}
	return 1;
}

static void
tls_sock_meth_init(void)
{
	BIO_METHOD *m;

	tls_sock_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR;
	m = BIO_meth_new(tls_sock_type, "wsgate socket");
	if (m == NULL || BIO_meth_set_write(m, tls_sock_write) != 1 ||
	    BIO_meth_set_read(m, tls_sock_read) != 1 ||
	    BIO_meth_set_ctrl(m, tls_sock_ctrl) != 1 ||
	    BIO_meth_set_destroy(m, tls_sock_destroy) != 1) {
		BIO_meth_free(m);
		return;
	}
	tls_sock_meth = m;
}

int
tls_sock_attach(SSL *ssl, int fd)
{
	struct tls_sock *ts;
	BIO *b;

	if (pthread_once(&tls_sock_once, tls_sock_meth_init) != 0 ||
	    tls_sock_meth == NULL || (ts = calloc(1, sizeof(*ts))) == NULL)
		return -1;
	if ((b = BIO_new(tls_sock_meth)) == NULL) {
		free(ts);
		return -1;
	}
	ts->ssl = ssl;
	ts->fd = fd;
	BIO_set_data(b, ts);
	BIO_set_init(b, 1);
	SSL_set_bio(ssl, b, b);		/* b is ssl's from here */
	return 0;
}

/* ssl's tls_sock, or NULL if its BIO is another's (a backend's filter). */
static struct tls_sock *
tls_sock_of(SSL *ssl)
{
	BIO *b = SSL_get_wbio(ssl);

	if (b == NULL || tls_sock_meth == NULL ||
	    BIO_method_type(b) != tls_sock_type)
		return NULL;
	return BIO_get_data(b);
}

void
tls_sock_hold(SSL *ssl)
{
	struct tls_sock *ts = tls_sock_of(ssl);

	if (ts != NULL)
		ts->hold = true;
}

int
tls_sock_send_held(SSL *ssl)
{
	struct tls_sock *ts = tls_sock_of(ssl);
	ssize_t r;

	if (ts == NULL)
		return 0;
	ts->hold = false;
	while (ts->held_len > 0) {
		r = send(ts->fd, ts->held, ts->held_len,
		    MSG_NOSIGNAL | MSG_MORE);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 1;	/* the rest when there is room */
		if (r <= 0)
			return -1;
		ts->held_len -= (unsigned)r;
		memmove(ts->held, ts->held + r, ts->held_len);
	}
	free(ts->held);
	ts->held = NULL;
	return 0;
}
