/*
 * post: see include/post.h.
 *
 * A producer sets its slot's bit (atomic fetch_or) and writes the eventfd
 * only when the bits were 0; the worker reads the eventfd first, then
 * takes the bits (atomic exchange). A post that lands after the exchange
 * finds the bits 0 and writes again, so none waits unseen; one that
 * lands between the read and the exchange costs an empty wakeup later,
 * nothing more. The atomics order the producer's writes before the
 * worker's callback (a locked queue needs nothing more).
 */
#include <sys/eventfd.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <unistd.h>

#include <event2/event.h>

#include "gw.h"
#include "post.h"

#define POST_SLOTS	(sizeof(((struct gw_worker *)0)->post_on) / \
			    sizeof(((struct gw_worker *)0)->post_on[0]))

/* The worker whose loop runs in this thread, or NULL. */
static _Thread_local struct gw_worker *post_self;

static void
post_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	uint32_t bits;
	uint64_t n;
	ssize_t r;
	unsigned i;

	(void)what;
	/* Nonblocking: -1 with EAGAIN is the empty wakeup above. */
	r = read(fd, &n, sizeof(n));
	(void)r;
	bits = atomic_exchange(&w->post_bits, 0);
	for (i = 0; bits != 0; i++, bits >>= 1)
		if (bits & 1)
			event_active(w->post_on[i], EV_READ, 0);
}

int
post_init(struct gw_worker *w)
{
	int e;

	atomic_init(&w->post_bits, 0);
	w->npost = 0;
	if ((w->post_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		return -1;
	if ((w->post_ev = event_new(w->base, w->post_fd, EV_READ | EV_PERSIST,
	    post_cb, w)) == NULL || event_add(w->post_ev, NULL) == -1) {
		e = errno;
		if (w->post_ev != NULL)
			event_free(w->post_ev);
		w->post_ev = NULL;
		close(w->post_fd);
		w->post_fd = -1;
		errno = e != 0 ? e : ENOMEM;
		return -1;
	}
	return 0;
}

void
post_free(struct gw_worker *w)
{
	if (w->post_ev != NULL)
		event_free(w->post_ev);
	w->post_ev = NULL;
	if (w->post_fd != -1)
		close(w->post_fd);
	w->post_fd = -1;
}

int
post_slot(struct gw_worker *w, struct event *ev)
{
	if (w->npost == POST_SLOTS)
		return -1;
	w->post_on[w->npost] = ev;
	return (int)w->npost++;
}

void
post_event(struct gw_worker *w, unsigned slot)
{
	static const uint64_t one = 1;

	if (post_self == w) {
		event_active(w->post_on[slot], EV_READ, 0);
		return;
	}
	if (atomic_fetch_or(&w->post_bits, UINT32_C(1) << slot) != 0)
		return;		/* a write is on its way already */
	/* Only EINTR: a counter at 2^64 - 2 (EAGAIN) cannot happen. */
	while (write(w->post_fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

void
post_enter(struct gw_worker *w)
{
	post_self = w;
}
