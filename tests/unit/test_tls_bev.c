/*
 * Unit tests for tls.c's bufferevent constructors when libevent fails
 * them (out of memory). libevent 2.1.12's bufferevent_openssl_new_impl()
 * frees the SSL* itself on failure when BEV_OPT_CLOSE_ON_FREE is given,
 * so tls_accept_bev() and tls_connect_bev() must not free it again (ASan
 * reports the double free), and must keep their own contracts: the fd of
 * tls_accept_bev() is closed, the underlying bufferevent of
 * tls_connect_bev() is still the caller's.
 *
 * libevent's allocations go through this file's allocator
 * (event_set_mem_functions), which fails the next one on request; those
 * of OpenSSL do not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "log.h"
#include "tls.h"

static bool test_fail_next;	/* the next libevent allocation fails */

static void *
bev_malloc(size_t n)
{
	if (test_fail_next) {
		test_fail_next = false;
		return NULL;
	}
	return malloc(n);
}

/* tls.c logs through these; nothing here is worth printing. */
void
log_warnx(const char *fmt, ...)
{
	(void)fmt;
}

static void
test_accept_fails_once(void **state)
{
	struct event_base *base;
	SSL_CTX *ctx;
	int sv[2];

	(void)state;
	assert_non_null(base = event_base_new());
	assert_non_null(ctx = SSL_CTX_new(TLS_server_method()));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	test_fail_next = true;
	assert_null(tls_accept_bev(base, ctx, sv[0]));
	assert_false(test_fail_next);		/* libevent did fail */
	/* the fd is closed, as tls.h promises */
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	close(sv[1]);
	SSL_CTX_free(ctx);
	event_base_free(base);
}

static void
test_connect_fails_once(void **state)
{
	struct event_base *base;
	struct bufferevent *under;
	SSL_CTX *ctx;
	int sv[2];

	(void)state;
	assert_non_null(base = event_base_new());
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_non_null(under = bufferevent_socket_new(base, sv[0],
	    BEV_OPT_CLOSE_ON_FREE));

	test_fail_next = true;
	assert_null(tls_connect_bev(base, ctx, under, "backend.example"));
	assert_false(test_fail_next);
	/* under is still ours: it works, and freeing it closes sv[0] (in
	 * libevent's finalizer: by event_base_free() at the latest) */
	assert_int_equal(bufferevent_write(under, "x", 1), 0);
	bufferevent_free(under);
	event_base_free(base);
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);

	close(sv[1]);
	SSL_CTX_free(ctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_fails_once),
		cmocka_unit_test(test_connect_fails_once),
	};

	event_set_mem_functions(bev_malloc, realloc, free);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
