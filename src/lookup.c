/*
 * lookup: handshakes that wait; see include/lookup.h.
 *
 * Each worker has a table of the waits it holds, by ticket (a counter of
 * its own, so a ticket is never reused while the process runs), and a
 * queue that other threads (pwcheck.c's pool) append answers to under a
 * mutex before they post the worker's queue event (post.h: the base
 * has no lock, so that is the only safe way). Answers given on the
 * worker's own thread go through the same queue too, so a done callback
 * never runs inside the code that asked, however quick the producer.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "gw.h"
#include "log.h"
#include "lookup.h"
#include "session-int.h"
#include "post.h"

#define LOOKUP_BUCKETS	1024	/* power of two */

struct lookup_wait {
	LIST_ENTRY(lookup_wait)	 link;		/* in its bucket */
	uint64_t		 ticket;
	struct session		*s;		/* cleared never: freed with s */
	struct lookup_table	*t;
	struct event		 deadline;
	lookup_done_fn		*done;
	void			*arg;
	struct timespec		 started;	/* CLOCK_MONOTONIC */
};

struct lookup_msg {
	STAILQ_ENTRY(lookup_msg) link;
	uint64_t		 ticket;
	enum lookup_status	 st;
	size_t			 len;
	char			 value[];	/* len bytes and a NUL */
};

struct lookup_table {
	struct gw_worker	*w;
	uint64_t		 seq;		/* last ticket handed out */
	LIST_HEAD(, lookup_wait) buckets[LOOKUP_BUCKETS];
	pthread_mutex_t		 lock;		/* guards queue */
	STAILQ_HEAD(, lookup_msg) queue;
	struct event		*queue_ev;
	int			 queue_slot;	/* post.h's */
};

static void	lookup_deliver(struct lookup_wait *, enum lookup_status,
		    const char *, size_t);

static struct lookup_wait *
lookup_find(struct lookup_table *t, uint64_t ticket)
{
	struct lookup_wait *lw;

	LIST_FOREACH(lw, &t->buckets[ticket & (LOOKUP_BUCKETS - 1)], link)
		if (lw->ticket == ticket)
			return lw;
	return NULL;
}

static void
lookup_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lookup_wait *lw = arg;

	(void)fd;
	(void)what;
	lookup_deliver(lw, LOOKUP_TIMEOUT, NULL, 0);
}

/* Take every queued answer and hand each to its waiting session. */
static void
lookup_queue_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lookup_table *t = arg;
	STAILQ_HEAD(, lookup_msg) q;
	struct lookup_msg *m;
	struct lookup_wait *lw;

	(void)fd;
	(void)what;
	STAILQ_INIT(&q);
	pthread_mutex_lock(&t->lock);
	STAILQ_CONCAT(&q, &t->queue);
	pthread_mutex_unlock(&t->lock);
	while ((m = STAILQ_FIRST(&q)) != NULL) {
		STAILQ_REMOVE_HEAD(&q, link);
		if ((lw = lookup_find(t, m->ticket)) != NULL)
			lookup_deliver(lw, m->st, m->st == LOOKUP_OK ?
			    m->value : NULL, m->st == LOOKUP_OK ? m->len : 0);
		free(m);
	}
}

/* Unregister lw, resume its session's input, and call done. */
static void
lookup_deliver(struct lookup_wait *lw, enum lookup_status st,
    const char *value, size_t len)
{
	struct session *s = lw->s;
	lookup_done_fn *done = lw->done;
	void *arg = lw->arg;
	struct timespec now;
	uint64_t usec;

	clock_gettime(CLOCK_MONOTONIC, &now);
	usec = (uint64_t)((now.tv_sec - lw->started.tv_sec) * 1000000 +
	    (now.tv_nsec - lw->started.tv_nsec) / 1000);
	event_del(&lw->deadline);
	LIST_REMOVE(lw, link);
	s->wait = NULL;
	free(lw);
	if (s->client.bev != NULL)
		session_leg_read_on(&s->client);
	done(s, st, value, len, usec, arg);
}

uint64_t
lookup_wait(struct session *s, uint64_t timeout_ms, lookup_done_fn *done,
    void *arg)
{
	struct lookup_table *t = s->w->lookups;
	struct lookup_wait *lw;

	if (t == NULL || s->wait != NULL || (lw = calloc(1, sizeof(*lw))) ==
	    NULL)
		return 0;
	lw->ticket = ++t->seq;
	lw->s = s;
	lw->t = t;
	lw->done = done;
	lw->arg = arg;
	clock_gettime(CLOCK_MONOTONIC, &lw->started);
	evtimer_assign(&lw->deadline, s->w->base, lookup_deadline_cb, lw);
	session_timer_ms(&lw->deadline, timeout_ms);
	LIST_INSERT_HEAD(&t->buckets[lw->ticket & (LOOKUP_BUCKETS - 1)], lw,
	    link);
	s->wait = lw;
	if (s->client.bev != NULL)
		bufferevent_disable(s->client.bev, EV_READ);
	return lw->ticket;
}

int
lookup_answer_async(struct gw_worker *w, uint64_t ticket,
    enum lookup_status st, const char *value, size_t len)
{
	struct lookup_table *t = w->lookups;
	struct lookup_msg *m;

	if (value == NULL)
		len = 0;
	if ((m = malloc(sizeof(*m) + len + 1)) == NULL)
		return -1;
	m->ticket = ticket;
	m->st = st;
	m->len = len;
	if (len > 0)
		memcpy(m->value, value, len);
	m->value[len] = '\0';
	pthread_mutex_lock(&t->lock);
	STAILQ_INSERT_TAIL(&t->queue, m, link);
	pthread_mutex_unlock(&t->lock);
	post_event(t->w, (unsigned)t->queue_slot);
	return 0;
}

void
lookup_answer(struct gw_worker *w, uint64_t ticket, enum lookup_status st,
    const char *value, size_t len)
{
	/* Not found now means not found later too: skip the copy. */
	if (lookup_find(w->lookups, ticket) == NULL)
		return;
	if (lookup_answer_async(w, ticket, st, value, len) == -1)
		log_warnx("lookup: out of memory; a handshake waits for its "
		    "deadline");
}

bool
lookup_waiting(const struct session *s)
{
	return s->wait != NULL;
}

void
lookup_cancel(struct session *s)
{
	struct lookup_wait *lw = s->wait;

	if (lw == NULL)
		return;
	event_del(&lw->deadline);
	LIST_REMOVE(lw, link);
	s->wait = NULL;
	free(lw);
}

int
lookup_worker_init(struct gw_worker *w)
{
	struct lookup_table *t;
	size_t i;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return -1;
	t->w = w;
	for (i = 0; i < LOOKUP_BUCKETS; i++)
		LIST_INIT(&t->buckets[i]);
	STAILQ_INIT(&t->queue);
	if (pthread_mutex_init(&t->lock, NULL) != 0) {
		free(t);
		return -1;
	}
	if ((t->queue_ev = event_new(w->base, -1, 0, lookup_queue_cb, t)) ==
	    NULL) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -1;
	}
	if ((t->queue_slot = post_slot(w, t->queue_ev)) == -1) {
		event_free(t->queue_ev);
		pthread_mutex_destroy(&t->lock);
		free(t);
		return -1;
	}
	w->lookups = t;
	return 0;
}

/* After the worker's sessions are gone (so no wait is left). */
void
lookup_worker_free(struct gw_worker *w)
{
	struct lookup_table *t = w->lookups;
	struct lookup_msg *m;

	if (t == NULL)
		return;
	while ((m = STAILQ_FIRST(&t->queue)) != NULL) {
		STAILQ_REMOVE_HEAD(&t->queue, link);
		free(m);
	}
	event_free(t->queue_ev);
	pthread_mutex_destroy(&t->lock);
	free(t);
	w->lookups = NULL;
}
