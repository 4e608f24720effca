/*
 * Unit tests for leg_read: a socket bufferevent reading through
 * leg_read_own() must behave as libevent 2.1's own read path does. Every
 * case runs twice on a real event base and real descriptors (socket
 * pairs, a TCP loopback pair for resets, a pipe), once with libevent's
 * bufferevent_readcb() and once with leg_read_own(), and both runs must
 * record the same: the bytes each read callback saw, the event callback's
 * flags and errno, and whether reading was still enabled after it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "leg_read.h"

#define TEST_MAX_READS	64

/* What one run saw. */
struct test_rec {
	size_t	reads[TEST_MAX_READS];	/* input length at each read cb */
	int	nreads;
	size_t	total;			/* bytes drained */
	short	event;			/* event cb flags, 0 if none */
	int	err;			/* errno in the event cb */
	int	enabled_after;		/* EV_READ enabled in the event cb */
	bool	drain;			/* the read cb drains its input */
	bool	free_in_read;		/* the read cb frees the bufferevent */
	/* the take hook (test_take): how much of each read it takes
	 * (SIZE_MAX: all), or free the bufferevent and say so */
	size_t	take;
	bool	take_frees;
	int	offers;			/* reads offered to it */
	size_t	offered;		/* their bytes */
	size_t	taken;			/* the bytes it took */
	char	seen[16];		/* the first bytes it was offered */
	struct event_base	*base;
	struct bufferevent	*bev;
};

static void
test_read_cb(struct bufferevent *bev, void *arg)
{
	struct test_rec *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);

	if (r->nreads < TEST_MAX_READS)
		r->reads[r->nreads] = len;
	r->nreads++;
	if (r->drain) {
		evbuffer_drain(in, len);
		r->total += len;
	}
	if (r->free_in_read) {
		r->total += len;
		bufferevent_free(bev);
		r->bev = NULL;
		event_base_loopbreak(r->base);
	}
}

static void
test_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct test_rec *r = arg;

	r->err = errno;
	r->event = what;
	r->enabled_after = bufferevent_get_enabled(bev) & EV_READ;
	event_base_loopbreak(r->base);
}

/* A base like a worker's (changelist), a bufferevent on fd with the
 * test's callbacks, reading enabled; own: through leg_read. */
static void
test_open(struct test_rec *r, int fd, bool own)
{
	struct event_config *ec = event_config_new();

	assert_non_null(ec);
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	r->base = event_base_new_with_config(ec);
	event_config_free(ec);
	assert_non_null(r->base);
	r->bev = bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(r->bev);
	bufferevent_setcb(r->bev, test_read_cb, NULL, test_event_cb, r);
	bufferevent_enable(r->bev, EV_READ);
	if (own)
		leg_read_own(r->bev);	/* after enabling: stays enabled */
	assert_true(bufferevent_get_enabled(r->bev) & EV_READ);
}

/* Run the loop until a callback breaks it, or ms pass. */
static void
test_run(struct test_rec *r, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(r->base, &tv);
	event_base_dispatch(r->base);
}

static void
test_close(struct test_rec *r)
{
	if (r->bev != NULL)
		bufferevent_free(r->bev);
	event_base_free(r->base);
}

static void
test_same(const struct test_rec *a, const struct test_rec *b)
{
	int i;

	assert_int_equal(a->nreads, b->nreads);
	for (i = 0; i < a->nreads && i < TEST_MAX_READS; i++)
		assert_int_equal(a->reads[i], b->reads[i]);
	assert_int_equal(a->total, b->total);
	assert_int_equal(a->event, b->event);
	assert_int_equal(a->enabled_after, b->enabled_after);
	if (a->event & BEV_EVENT_ERROR)
		assert_int_equal(a->err, b->err);
}

static void
test_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
}

/* 10,000 bytes, then EOF: at most 4 KiB per read, every byte, then
 * READING|EOF with reading off. */
static void
run_data_then_eof(struct test_rec *r, bool own)
{
	char buf[10000];
	int sv[2];

	memset(buf, 'a', sizeof(buf));
	test_pair(sv);
	r->drain = true;
	test_open(r, sv[0], own);
	assert_int_equal(write(sv[1], buf, sizeof(buf)), sizeof(buf));
	shutdown(sv[1], SHUT_WR);
	test_run(r, 5000);
	close(sv[1]);
	test_close(r);
}

static void
test_data_then_eof(void **state)
{
	struct test_rec a, b;
	int i;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_data_then_eof(&a, false);
	run_data_then_eof(&b, true);
	assert_int_equal(b.total, 10000);
	for (i = 0; i < b.nreads; i++)
		assert_true(b.reads[i] <= 4096);
	assert_int_equal(b.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	assert_int_equal(b.enabled_after, 0);
	test_same(&a, &b);
}

/* The peer resets (SO_LINGER 0): READING|ERROR, errno ECONNRESET. */
static void
run_reset(struct test_rec *r, bool own)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	struct linger lg = { 1, 0 };
	int l, c, a;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(l, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(l, 1), 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&sin, &len), 0);
	assert_true((c = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_true((a = accept(l, NULL, NULL)) >= 0);
	close(l);
	assert_int_equal(fcntl(a, F_SETFL, O_NONBLOCK), 0);
	r->drain = true;
	test_open(r, a, own);
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_LINGER, &lg,
	    sizeof(lg)), 0);
	close(c);
	test_run(r, 5000);
	test_close(r);
}

static void
test_reset(void **state)
{
	struct test_rec a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_reset(&a, false);
	run_reset(&b, true);
	assert_int_equal(b.event, BEV_EVENT_READING | BEV_EVENT_ERROR);
	assert_int_equal(b.err, ECONNRESET);
	assert_int_equal(b.enabled_after, 0);
	test_same(&a, &b);
}

/* A read timeout set before or after leg_read_own() is honoured:
 * READING|TIMEOUT with reading off. */
static void
run_timeout(struct test_rec *r, bool own, bool before)
{
	struct timeval tv = { 0, 30000 };
	int sv[2];

	test_pair(sv);
	r->drain = true;
	if (before) {
		test_open(r, sv[0], false);
		bufferevent_set_timeouts(r->bev, &tv, NULL);
		if (own)
			leg_read_own(r->bev);
	} else {
		test_open(r, sv[0], own);
		bufferevent_set_timeouts(r->bev, &tv, NULL);
	}
	test_run(r, 5000);
	close(sv[1]);
	test_close(r);
}

static void
test_timeout(void **state)
{
	struct test_rec a, b, c;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	run_timeout(&a, false, false);
	run_timeout(&b, true, false);
	run_timeout(&c, true, true);
	assert_int_equal(b.event, BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
	assert_int_equal(b.enabled_after, 0);
	test_same(&a, &b);
	test_same(&a, &c);
}

/* Reading disabled: bytes wait in the kernel; enabled again, they come. */
static void
run_disabled(struct test_rec *r, bool own)
{
	int sv[2];

	test_pair(sv);
	r->drain = true;
	test_open(r, sv[0], own);
	bufferevent_disable(r->bev, EV_READ);
	assert_int_equal(write(sv[1], "hello", 5), 5);
	test_run(r, 50);
	assert_int_equal(r->nreads, 0);
	bufferevent_enable(r->bev, EV_READ);
	close(sv[1]);
	test_run(r, 5000);
	test_close(r);
}

static void
test_disabled(void **state)
{
	struct test_rec a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_disabled(&a, false);
	run_disabled(&b, true);
	assert_int_equal(b.nreads, 1);
	assert_int_equal(b.total, 5);
	assert_int_equal(b.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	test_same(&a, &b);
}

/* Read watermarks: nothing below the low mark; reads capped at the high
 * mark, reading suspended there and resumed once drained. */
static void
run_watermarks(struct test_rec *r, bool own)
{
	char buf[300];
	int sv[2];

	memset(buf, 'w', sizeof(buf));
	test_pair(sv);
	r->drain = true;
	test_open(r, sv[0], own);
	bufferevent_setwatermark(r->bev, EV_READ, 10, 100);
	assert_int_equal(write(sv[1], buf, 5), 5);
	test_run(r, 50);
	assert_int_equal(r->nreads, 0);
	assert_int_equal(write(sv[1], buf, 295), 295);
	close(sv[1]);
	test_run(r, 5000);
	test_close(r);
}

static void
test_watermarks(void **state)
{
	struct test_rec a, b;
	int i;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_watermarks(&a, false);
	run_watermarks(&b, true);
	assert_int_equal(b.total, 300);
	for (i = 0; i < b.nreads; i++)
		assert_true(b.reads[i] >= 10 && b.reads[i] <= 100);
	test_same(&a, &b);
}

/* The read callback frees the bufferevent (and closes its socket):
 * nothing of it is touched after (ASan would say), the peer sees EOF. */
static void
run_free_in_read(struct test_rec *r, bool own)
{
	char c;
	int sv[2];

	test_pair(sv);
	r->free_in_read = true;
	test_open(r, sv[0], own);
	assert_int_equal(write(sv[1], "bye", 3), 3);
	test_run(r, 5000);
	assert_null(r->bev);
	/* libevent closes the socket once the event is finalized. */
	test_run(r, 10);
	assert_int_equal(read(sv[1], &c, 1), 0);
	close(sv[1]);
	test_close(r);
}

static void
test_free_in_read(void **state)
{
	struct test_rec a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_free_in_read(&a, false);
	run_free_in_read(&b, true);
	assert_int_equal(b.nreads, 1);
	assert_int_equal(b.total, 3);
	test_same(&a, &b);
}

/* A pipe (an exec: program's stderr): bytes, then EOF. */
static void
run_pipe(struct test_rec *r, bool own)
{
	int p[2];

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	r->drain = true;
	test_open(r, p[0], own);
	assert_int_equal(write(p[1], "line\n", 5), 5);
	close(p[1]);
	test_run(r, 5000);
	test_close(r);
}

static void
test_pipe(void **state)
{
	struct test_rec a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_pipe(&a, false);
	run_pipe(&b, true);
	assert_int_equal(b.total, 5);
	assert_int_equal(b.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	test_same(&a, &b);
}

/* Own reads set up before the callbacks and before enabling (the
 * client leg's order in session.c): the same as libevent's. */
static void
run_own_first(struct test_rec *r, bool own)
{
	struct event_config *ec = event_config_new();
	int sv[2];

	test_pair(sv);
	assert_non_null(ec);
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	r->base = event_base_new_with_config(ec);
	event_config_free(ec);
	r->bev = bufferevent_socket_new(r->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(r->bev);
	if (own)
		leg_read_own(r->bev);
	assert_false(bufferevent_get_enabled(r->bev) & EV_READ);
	r->drain = true;
	bufferevent_setcb(r->bev, test_read_cb, NULL, test_event_cb, r);
	assert_int_equal(write(sv[1], "GET /", 5), 5);
	test_run(r, 20);
	assert_int_equal(r->nreads, 0);		/* not enabled yet */
	bufferevent_enable(r->bev, EV_READ);
	shutdown(sv[1], SHUT_WR);
	test_run(r, 5000);
	close(sv[1]);
	test_close(r);
}

static void
test_own_first(void **state)
{
	struct test_rec a, b;

	(void)state;
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	run_own_first(&a, false);
	run_own_first(&b, true);
	assert_int_equal(b.total, 5);
	assert_int_equal(b.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	test_same(&a, &b);
}

/* ---- the take hook (leg_read_own_cb, leg_read_run) ---------------- */

static ssize_t
test_take(void *cbarg, uint8_t *p, size_t n)
{
	struct test_rec *r = cbarg;
	size_t t = r->take == SIZE_MAX || r->take > n ? n : r->take;

	if (r->offers++ == 0)
		memcpy(r->seen, p, n < sizeof(r->seen) ? n : sizeof(r->seen));
	r->offered += n;
	/* The headroom before p is the hook's to write (a frame header). */
	memset(p - LEG_READ_HEADROOM, 0x5a, LEG_READ_HEADROOM);
	if (r->take_frees) {
		bufferevent_free(r->bev);
		r->bev = NULL;
		event_base_loopbreak(r->base);
		return LEG_READ_GONE;
	}
	r->taken += t;
	return (ssize_t)t;
}

static void
test_take_ev(evutil_socket_t fd, short what, void *arg)
{
	leg_read_run(fd, what, arg, test_take);
}

/* len bytes ('a'..'z' over and over), then EOF, read with the hook. */
static void
run_take(struct test_rec *r, size_t len)
{
	char buf[10000];
	size_t i;
	int sv[2];

	assert_true(len <= sizeof(buf));
	for (i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 26);
	test_pair(sv);
	r->drain = true;
	test_open(r, sv[0], false);
	leg_read_own_cb(r->bev, test_take_ev);
	assert_true(bufferevent_get_enabled(r->bev) & EV_READ);
	assert_int_equal(write(sv[1], buf, len), (ssize_t)len);
	shutdown(sv[1], SHUT_WR);
	test_run(r, 5000);
	close(sv[1]);
	test_close(r);
}

/* A short read taken whole: no read callback, then EOF as usual. */
static void
test_take_all(void **state)
{
	struct test_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.take = SIZE_MAX;
	run_take(&r, 5);
	assert_int_equal(r.offers, 1);
	assert_memory_equal(r.seen, "abcde", 5);
	assert_int_equal(r.taken, 5);
	assert_int_equal(r.nreads, 0);
	assert_int_equal(r.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	assert_int_equal(r.enabled_after, 0);
}

/* Taken in part: the read callback gets the rest, in order. */
static void
test_take_part(void **state)
{
	struct test_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.take = 2;
	run_take(&r, 5);
	assert_int_equal(r.offers, 1);
	assert_int_equal(r.taken, 2);
	assert_int_equal(r.nreads, 1);
	assert_int_equal(r.reads[0], 3);
	assert_int_equal(r.total, 3);
	assert_int_equal(r.event, BEV_EVENT_READING | BEV_EVENT_EOF);
}

/* A full 4 KiB read is not offered (the read callback reads on in bulk);
 * the short one after it is. */
static void
test_take_not_full(void **state)
{
	struct test_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.take = SIZE_MAX;
	run_take(&r, 5000);
	assert_int_equal(r.nreads, 1);
	assert_int_equal(r.reads[0], 4096);
	assert_int_equal(r.offers, 1);
	assert_int_equal(r.offered, 5000 - 4096);
	assert_int_equal(r.taken, 5000 - 4096);
	assert_int_equal(r.seen[0], 'a' + 4096 % 26);
	assert_int_equal(r.event, BEV_EVENT_READING | BEV_EVENT_EOF);
}

/* The hook frees the bufferevent: nothing of it is touched after (ASan
 * would say), no callback runs, the peer sees the socket closed. */
static void
test_take_gone(void **state)
{
	struct test_rec r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.take_frees = true;
	run_take(&r, 3);
	assert_null(r.bev);
	assert_int_equal(r.offers, 1);
	assert_int_equal(r.nreads, 0);
	assert_int_equal(r.event, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_then_eof),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_watermarks),
		cmocka_unit_test(test_free_in_read),
		cmocka_unit_test(test_pipe),
		cmocka_unit_test(test_own_first),
		cmocka_unit_test(test_take_all),
		cmocka_unit_test(test_take_part),
		cmocka_unit_test(test_take_not_full),
		cmocka_unit_test(test_take_gone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
