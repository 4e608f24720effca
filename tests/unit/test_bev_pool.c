/*
 * Unit tests for bev_pool: a bufferevent that went back to the pool and
 * came out again must behave as a new one. The same script (its state as
 * handed out; a read timeout; reads under a read high-water mark up to
 * EOF; a write the peer receives) runs on a new bufferevent and on a
 * reused one that was left dirty in every way a session leaves one
 * (callbacks, leg_read's read callback, timeouts, watermarks with reading
 * suspended by one, bytes left in both buffers, reading and writing
 * enabled, write and read caps), on real socket pairs and a worker-like
 * base, and both runs must record the same.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "bev_pool.h"
#include "leg_read.h"

#define TEST_MAX_READS	16

/* What a bufferevent looks like as handed out. */
struct test_state {
	short		enabled;
	int		fd_ok;			/* getfd is the fd given */
	size_t		in_len, out_len;
	size_t		wm[4];			/* read low, high, write low, high */
	int		timeouts;		/* read, write timeout set */
	ev_ssize_t	max_read, max_write;
	event_callback_fn readcb, writecb;	/* the events' callbacks */
	void		*read_arg, *write_arg;	/* ... and arguments (bev) */
	short		read_events, write_events;
	int		pending;		/* either event pending */
	int		has_cbs;		/* any bufferevent callback */
	int		in_add, out_prepend;	/* frozen ends refuse (-1) */
};

/* What one script run saw. */
struct test_rec {
	struct test_state st;
	short		timeout_event;		/* the read timeout's flags */
	size_t		reads[TEST_MAX_READS];	/* input length at each read */
	int		nreads;
	short		event;			/* the EOF's flags */
	int		writes;			/* write callbacks */
	char		got[16];		/* what the peer received */
	ssize_t		ngot;
	struct event_base *base;
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
	evbuffer_drain(in, len);
}

static void
test_write_cb(struct bufferevent *bev, void *arg)
{
	struct test_rec *r = arg;

	r->writes++;
	event_base_loopbreak(r->base);
}

static void
test_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct test_rec *r = arg;

	if (what & BEV_EVENT_TIMEOUT)
		r->timeout_event = what;
	else
		r->event = what;
	event_base_loopbreak(r->base);
}

/* Callbacks a dirty bufferevent had: a reused one must never call them. */
static int test_stale_calls;

static void
test_stale_read_cb(struct bufferevent *bev, void *arg)
{
	test_stale_calls++;
	event_base_loopbreak(arg);
}

static void
test_stale_event_cb(struct bufferevent *bev, short what, void *arg)
{
	test_stale_calls++;
	event_base_loopbreak(arg);
}

static struct event_base *
test_base(void)
{
	struct event_config *ec = event_config_new();
	struct event_base *base;

	assert_non_null(ec);
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	assert_non_null(base);
	return base;
}

static void
test_pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    sv), 0);
}

/* Run the loop until a callback breaks it, or ms pass (a bound only). */
static void
test_run(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void
test_snapshot(struct test_state *st, struct bufferevent *bev, int fd)
{
	bufferevent_data_cb rcb, wcb;
	bufferevent_event_cb ecb;
	void *arg;

	memset(st, 0, sizeof(*st));
	st->enabled = bufferevent_get_enabled(bev);
	st->fd_ok = bufferevent_getfd(bev) == fd;
	st->in_len = evbuffer_get_length(bufferevent_get_input(bev));
	st->out_len = evbuffer_get_length(bufferevent_get_output(bev));
	bufferevent_getwatermark(bev, EV_READ, &st->wm[0], &st->wm[1]);
	bufferevent_getwatermark(bev, EV_WRITE, &st->wm[2], &st->wm[3]);
	st->timeouts = evutil_timerisset(&bev->timeout_read) * 2 +
	    evutil_timerisset(&bev->timeout_write);
	st->max_read = bufferevent_get_max_single_read(bev);
	st->max_write = bufferevent_get_max_single_write(bev);
	st->readcb = event_get_callback(&bev->ev_read);
	st->writecb = event_get_callback(&bev->ev_write);
	st->read_arg = event_get_callback_arg(&bev->ev_read) == bev ?
	    NULL : event_get_callback_arg(&bev->ev_read);
	st->write_arg = event_get_callback_arg(&bev->ev_write) == bev ?
	    NULL : event_get_callback_arg(&bev->ev_write);
	st->read_events = event_get_events(&bev->ev_read);
	st->write_events = event_get_events(&bev->ev_write);
	st->pending = event_pending(&bev->ev_read,
	    EV_READ | EV_WRITE | EV_TIMEOUT, NULL) * 2 +
	    event_pending(&bev->ev_write, EV_READ | EV_WRITE | EV_TIMEOUT,
	    NULL);
	bufferevent_getcb(bev, &rcb, &wcb, &ecb, &arg);
	st->has_cbs = rcb != NULL || wcb != NULL || ecb != NULL ||
	    arg != NULL;
	/* A new socket bufferevent's input is frozen at its end and its
	 * output at its start (both refuse, changing nothing). */
	st->in_add = evbuffer_add(bufferevent_get_input(bev), "z", 1);
	st->out_prepend = evbuffer_prepend(bufferevent_get_output(bev), "z",
	    1);
}

/*
 * The script, on bev on sv[0] (sv[1] the peer): a 20 ms read timeout with
 * nothing sent; then reads under a high-water mark of 6 of 10 bytes and
 * EOF; then a write of 5 bytes the peer reads.
 */
static void
test_script(struct test_rec *r, struct event_base *base,
    struct bufferevent *bev, int sv[2])
{
	struct timeval tv = { 0, 20 * 1000 };

	memset(r, 0, sizeof(*r));
	r->base = base;
	test_snapshot(&r->st, bev, sv[0]);
	bufferevent_setcb(bev, test_read_cb, test_write_cb, test_event_cb, r);

	bufferevent_set_timeouts(bev, &tv, NULL);
	bufferevent_enable(bev, EV_READ);
	test_run(base, 5000);
	bufferevent_set_timeouts(bev, NULL, NULL);

	bufferevent_setwatermark(bev, EV_READ, 0, 6);
	bufferevent_enable(bev, EV_READ);
	assert_int_equal(write(sv[1], "0123456789", 10), 10);
	assert_int_equal(shutdown(sv[1], SHUT_WR), 0);
	test_run(base, 5000);

	assert_int_equal(bufferevent_write(bev, "hello", 5), 0);
	test_run(base, 5000);
	r->ngot = read(sv[1], r->got, sizeof(r->got));
}

static void
test_same(const struct test_rec *a, const struct test_rec *b)
{
	int i;

	assert_int_equal(a->st.enabled, b->st.enabled);
	assert_true(a->st.fd_ok && b->st.fd_ok);
	assert_int_equal(a->st.in_len, b->st.in_len);
	assert_int_equal(a->st.out_len, b->st.out_len);
	for (i = 0; i < 4; i++)
		assert_int_equal(a->st.wm[i], b->st.wm[i]);
	assert_int_equal(a->st.timeouts, b->st.timeouts);
	assert_int_equal(a->st.max_read, b->st.max_read);
	assert_int_equal(a->st.max_write, b->st.max_write);
	assert_ptr_equal(a->st.readcb, b->st.readcb);
	assert_ptr_equal(a->st.writecb, b->st.writecb);
	assert_null(a->st.read_arg);
	assert_null(b->st.read_arg);
	assert_null(a->st.write_arg);
	assert_null(b->st.write_arg);
	assert_int_equal(a->st.read_events, b->st.read_events);
	assert_int_equal(a->st.write_events, b->st.write_events);
	assert_int_equal(a->st.pending, b->st.pending);
	assert_int_equal(a->st.has_cbs, b->st.has_cbs);
	assert_int_equal(a->st.in_add, b->st.in_add);
	assert_int_equal(a->st.out_prepend, b->st.out_prepend);

	assert_int_equal(a->timeout_event, b->timeout_event);
	assert_int_equal(a->nreads, b->nreads);
	for (i = 0; i < a->nreads && i < TEST_MAX_READS; i++)
		assert_int_equal(a->reads[i], b->reads[i]);
	assert_int_equal(a->event, b->event);
	assert_int_equal(a->writes, b->writes);
	assert_int_equal(a->ngot, b->ngot);
	assert_memory_equal(a->got, b->got, sizeof(a->got));
}

/*
 * Leave bev (on sv[0]) as dirty as a session can: the stale callbacks,
 * leg_read's read event, timeouts, watermarks with reading suspended at
 * the high one (or, pending: lifted again, the read event pending with its
 * timeout), 4 bytes unread in the input and 3 unsent in the output, reading
 * and writing enabled, other caps.
 */
static void
test_dirty(struct event_base *base, struct bufferevent *bev, int sv[2],
    bool pending)
{
	struct timeval tv = { 10, 0 };

	bufferevent_setcb(bev, test_stale_read_cb, test_stale_read_cb,
	    test_stale_event_cb, base);
	bufferevent_enable(bev, EV_READ);
	leg_read_own(bev);
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_READ, 2, 4);
	bufferevent_setwatermark(bev, EV_WRITE, 2, 8);
	bufferevent_set_max_single_read(bev, 50);
	bufferevent_set_max_single_write(bev, 100);
	assert_int_equal(write(sv[1], "abcdefgh", 8), 8);
	test_stale_calls = 0;
	test_run(base, 5000);		/* the read: 4 bytes, then suspended */
	assert_int_equal(test_stale_calls, 1);
	assert_int_equal(evbuffer_get_length(bufferevent_get_input(bev)), 4);
	assert_false(event_pending(&bev->ev_read, EV_READ, NULL));
	if (pending) {
		bufferevent_setwatermark(bev, EV_READ, 2, 8);
		assert_true(event_pending(&bev->ev_read, EV_TIMEOUT, NULL));
	}
	bufferevent_disable(bev, EV_WRITE);
	assert_int_equal(bufferevent_write(bev, "xyz", 3), 0);
	bufferevent_enable(bev, EV_WRITE);
	/* not run again: the 3 bytes stay queued */
	test_stale_calls = 0;
}

/* A reused bufferevent runs the script as a new one does. */
static void
run_reused_as_new(bool pending)
{
	struct event_base *base = test_base();
	struct bev_pool pool;
	struct bufferevent *bev, *again;
	struct test_rec fresh, reused;
	int sv[2], sv2[2], sv3[2];
	char c;

	memset(&pool, 0, sizeof(pool));
	test_pair(sv);
	bev = bev_pool_get(&pool, base, sv[0]);
	assert_non_null(bev);
	test_script(&fresh, base, bev, sv);
	bufferevent_free(bev);
	close(sv[1]);

	test_pair(sv2);
	bev = bev_pool_get(&pool, base, sv2[0]);
	assert_non_null(bev);
	test_dirty(base, bev, sv2, pending);
	bev_pool_put(&pool, bev);
	assert_int_equal(pool.n, 1);
	/* its descriptor was closed: the peer reads no EAGAIN but a reset
	 * (bytes were left unread on it) */
	assert_int_equal(read(sv2[1], &c, 1), -1);
	assert_int_equal(errno, ECONNRESET);
	close(sv2[1]);

	test_pair(sv3);
	again = bev_pool_get(&pool, base, sv3[0]);
	assert_ptr_equal(again, bev);
	assert_int_equal(pool.n, 0);
	test_script(&reused, base, again, sv3);
	assert_int_equal(test_stale_calls, 0);
	test_same(&fresh, &reused);
	/* what the script expects of either */
	assert_int_equal(fresh.timeout_event,
	    BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
	assert_int_equal(fresh.nreads, 2);
	assert_int_equal(fresh.reads[0], 6);
	assert_int_equal(fresh.reads[1], 4);
	assert_int_equal(fresh.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	assert_int_equal(fresh.writes, 1);
	assert_int_equal(fresh.ngot, 5);
	assert_memory_equal(fresh.got, "hello", 5);

	bev_pool_put(&pool, again);
	close(sv3[1]);
	bev_pool_clear(&pool);
	assert_int_equal(pool.n, 0);
	event_base_free(base);
}

static void
test_reused_as_new(void **state)
{
	(void)state;
	run_reused_as_new(false);
}

/* The same with its read event pending (and its timeout) when given back. */
static void
test_reused_pending_as_new(void **state)
{
	(void)state;
	run_reused_as_new(true);
}

/* Given back from inside libevent's own write callback (which holds a
 * reference until ours returns), then handed out and used again. */
static void
pool_write_cb(struct bufferevent *bev, void *arg)
{
	struct bev_pool *pool = arg;
	struct event_base *base = bufferevent_get_base(bev);

	bev_pool_put(pool, bev);
	event_base_loopbreak(base);
}

static void
test_put_in_write_cb(void **state)
{
	struct event_base *base = test_base();
	struct bev_pool pool;
	struct bufferevent *bev, *again;
	struct test_rec rec;
	int sv[2], sv2[2];
	char buf[8];

	(void)state;
	memset(&pool, 0, sizeof(pool));
	test_pair(sv);
	bev = bev_pool_get(&pool, base, sv[0]);
	assert_non_null(bev);
	bufferevent_setcb(bev, NULL, pool_write_cb, NULL, &pool);
	assert_int_equal(bufferevent_write(bev, "abc", 3), 0);
	test_run(base, 5000);
	assert_int_equal(pool.n, 1);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 3);
	assert_int_equal(read(sv[1], buf, sizeof(buf)), 0);
	close(sv[1]);

	test_pair(sv2);
	again = bev_pool_get(&pool, base, sv2[0]);
	assert_ptr_equal(again, bev);
	test_script(&rec, base, again, sv2);
	assert_int_equal(rec.event, BEV_EVENT_READING | BEV_EVENT_EOF);
	assert_int_equal(rec.ngot, 5);
	bufferevent_free(again);	/* freed as any other */
	close(sv2[1]);
	bev_pool_clear(&pool);
	event_base_free(base);
}

/* The pool keeps BEV_POOL_MAX and frees the rest; clearing it does not
 * close the number a kept one's events still name (reused since). */
static void
test_bounded_and_clear(void **state)
{
	struct event_base *base = test_base();
	struct bev_pool pool;
	struct bufferevent *bev[BEV_POOL_MAX + 1];
	int sv[2], i, fd0 = -1;

	(void)state;
	memset(&pool, 0, sizeof(pool));
	for (i = 0; i <= BEV_POOL_MAX; i++) {
		test_pair(sv);
		bev[i] = bev_pool_get(&pool, base, sv[0]);
		assert_non_null(bev[i]);
		close(sv[1]);
	}
	for (i = 0; i <= BEV_POOL_MAX; i++) {
		if (i == BEV_POOL_MAX)
			fd0 = bufferevent_getfd(bev[i]);
		bev_pool_put(&pool, bev[i]);
	}
	assert_int_equal(pool.n, BEV_POOL_MAX);
	/* the last one was freed: its descriptor too, once finalized */
	event_base_loop(base, EVLOOP_NONBLOCK);
	assert_int_equal(fcntl(fd0, F_GETFD), -1);
	/* the kept ones' numbers are free: a new pair takes the lowest */
	test_pair(sv);
	bev_pool_clear(&pool);
	assert_int_equal(pool.n, 0);
	event_base_loop(base, EVLOOP_NONBLOCK);	/* the finalizers */
	assert_int_not_equal(fcntl(sv[0], F_GETFD), -1);
	assert_int_not_equal(fcntl(sv[1], F_GETFD), -1);
	close(sv[0]);
	close(sv[1]);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reused_as_new),
		cmocka_unit_test(test_reused_pending_as_new),
		cmocka_unit_test(test_put_in_write_cb),
		cmocka_unit_test(test_bounded_and_clear),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
