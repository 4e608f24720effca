/*
 * Unit tests for lookup: handshakes that wait, on a real event_base with
 * a bufferevent_pair for the client leg (libevent regress style). Not a
 * pure module: this test links libevent, and stubs what lookup.c takes
 * from session.c and log.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "gw.h"
#include "log.h"
#include "lookup.h"
#include "post.h"
#include "session-int.h"

/* ---- stubs for session.c, session_leg.c and log.c ---- */

void
session_timer_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

void
log_warnx(const char *fmt, ...)
{
	(void)fmt;
}

/* session_leg.c's: these client legs are plain, so reading on is all. */
void
session_leg_read_on(struct session_leg *leg)
{
	bufferevent_enable(leg->bev, EV_READ);
}

/* ---- fixture ---- */

struct fx {
	struct gw_worker	 w;
	struct bufferevent	*pair[2];
	struct session		 s;
	int			 calls;
	enum lookup_status	 st;
	char			 value[64];
	size_t			 len;
};

static void
done(struct session *s, enum lookup_status st, const char *v, size_t len,
    uint64_t usec, void *arg)
{
	struct fx *f = arg;

	(void)usec;
	assert_ptr_equal(s, &f->s);
	assert_null(s->wait);
	/* Input is back on before the callback runs. */
	assert_true(bufferevent_get_enabled(s->client.bev) & EV_READ);
	f->calls++;
	f->st = st;
	f->len = len;
	if (v != NULL && len < sizeof(f->value)) {
		memcpy(f->value, v, len);
		f->value[len] = '\0';
	}
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_non_null(f->w.base = event_base_new());
	assert_int_equal(post_init(&f->w), 0);
	post_enter(&f->w);	/* this thread runs the worker, as worker_run */
	assert_int_equal(lookup_worker_init(&f->w), 0);
	assert_int_equal(bufferevent_pair_new(f->w.base, 0, f->pair), 0);
	f->s.w = &f->w;
	f->s.id = 7;
	f->s.client.bev = f->pair[0];
	bufferevent_enable(f->s.client.bev, EV_READ);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	lookup_cancel(&f->s);
	bufferevent_free(f->pair[0]);
	bufferevent_free(f->pair[1]);
	lookup_worker_free(&f->w);
	post_free(&f->w);
	post_enter(NULL);
	event_base_free(f->w.base);
	free(f);
	return 0;
}

static void
loop_once(struct fx *f)
{
	event_base_loop(f->w.base, EVLOOP_NONBLOCK);
}

/* ---- tests ---- */

static void
test_answer_on_the_worker(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	t = lookup_wait(&f->s, 5000, done, f);
	assert_int_not_equal(t, 0);
	assert_true(lookup_waiting(&f->s));
	assert_false(bufferevent_get_enabled(f->s.client.bev) & EV_READ);
	lookup_answer(&f->w, t, LOOKUP_OK, "h:1", 3);
	/* Never inside the caller: on the next loop turn. */
	assert_int_equal(f->calls, 0);
	loop_once(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->st, LOOKUP_OK);
	assert_string_equal(f->value, "h:1");
	assert_false(lookup_waiting(&f->s));
	/* A second answer for the same ticket finds nothing. */
	lookup_answer(&f->w, t, LOOKUP_OK, "x:2", 3);
	loop_once(f);
	assert_int_equal(f->calls, 1);
}

static void
test_session_gone_first(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	t = lookup_wait(&f->s, 5000, done, f);
	assert_int_equal(lookup_answer_async(&f->w, t, LOOKUP_OK, "h:1", 3), 0);
	lookup_cancel(&f->s);		/* the client left */
	assert_false(lookup_waiting(&f->s));
	loop_once(f);
	assert_int_equal(f->calls, 0);
}

static void
test_deadline(void **state)
{
	struct fx *f = *state;
	uint64_t t;

	t = lookup_wait(&f->s, 20, done, f);
	while (f->calls == 0)	/* the post event keeps the loop alive */
		event_base_loop(f->w.base, EVLOOP_ONCE);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->st, LOOKUP_TIMEOUT);
	assert_int_equal(f->len, 0);
	lookup_answer(&f->w, t, LOOKUP_OK, "late:1", 6);
	loop_once(f);
	assert_int_equal(f->calls, 1);
}

static void
test_stale_ticket_misses_the_next_wait(void **state)
{
	struct fx *f = *state;
	uint64_t t1, t2;

	t1 = lookup_wait(&f->s, 5000, done, f);
	lookup_cancel(&f->s);
	t2 = lookup_wait(&f->s, 5000, done, f);
	assert_int_not_equal(t1, t2);
	assert_int_equal(lookup_wait(&f->s, 5000, done, f), 0); /* one wait */
	lookup_answer(&f->w, t1, LOOKUP_NOT_FOUND, NULL, 0);
	loop_once(f);
	assert_int_equal(f->calls, 0);
	lookup_answer(&f->w, t2, LOOKUP_DENIED, NULL, 0);
	loop_once(f);
	assert_int_equal(f->calls, 1);
	assert_int_equal(f->st, LOOKUP_DENIED);
}

struct thr {
	struct gw_worker	*w;
	uint64_t		 ticket;
};

static void *
answer_thread(void *arg)
{
	struct thr *t = arg;

	lookup_answer_async(t->w, t->ticket, LOOKUP_OK, "thread:9", 8);
	return NULL;
}

static void
test_answer_from_another_thread(void **state)
{
	struct fx *f = *state;
	struct thr t;
	pthread_t th;
	struct timeval tv = { 5, 0 };

	t.w = &f->w;
	t.ticket = lookup_wait(&f->s, 5000, done, f);
	assert_int_equal(pthread_create(&th, NULL, answer_thread, &t), 0);
	/* The loop sleeps until the other thread's answer wakes it. */
	while (f->calls == 0) {
		event_base_loopexit(f->w.base, &tv);
		event_base_loop(f->w.base, EVLOOP_ONCE);
	}
	pthread_join(th, NULL);
	assert_int_equal(f->calls, 1);
	assert_string_equal(f->value, "thread:9");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_answer_on_the_worker,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_session_gone_first,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_deadline, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_stale_ticket_misses_the_next_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_answer_from_another_thread, setup, teardown),
	};

	if (evthread_use_pthreads() == -1)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
