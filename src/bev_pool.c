/*
 * bev_pool: a worker's spare plain socket bufferevents (see
 * include/bev_pool.h).
 *
 * A connect cycle made and freed two socket bufferevents: each one a
 * calloc of the bufferevent, two evbuffers and the output's callback
 * entry, two event_assign()s, and at the end bufferevent_free(), whose
 * finalizer runs later in the loop turn (event_callback_finalize_many_ on
 * its two events, the deferred callback and the evbuffer callback) and
 * frees all of it again. A bufferevent given back here instead is
 * detached as bufferevent_free() would leave it for its finalizer (events
 * deleted, callbacks cleared, buffers emptied, descriptor closed) and put
 * back into the state bufferevent_socket_new() makes (enabled EV_WRITE,
 * no timeouts or watermarks, default write and read caps, input frozen at
 * its end, output at its start); the next bev_pool_get() only assigns its
 * two events to the new descriptor, as bufferevent_socket_new() does.
 *
 * What bufferevent_private holds besides (libevent 2.1.12) stays as new
 * for the bufferevents bev_pool_put() accepts: the reference count (1, or
 * 2 inside libevent's write callback, which only drops its reference
 * after ours return), the deferred callback and its pending flags (never
 * scheduled without BEV_OPT_DEFER_CALLBACKS or a deferred trigger), the
 * read suspension (watermark suspension lifted below; the other causes
 * are rate limits, filters and DNS lookups), connecting and
 * connection_refused (libevent's connect and read callback only), the
 * peer address (libevent's connect only), no lock, no rate limit.
 */
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "bev_pool.h"

struct bufferevent *
bev_pool_get(struct bev_pool *p, struct event_base *base, evutil_socket_t fd)
{
	struct bufferevent *bev;

	while (p->n > 0) {
		bev = p->bev[--p->n];
		if (bev->ev_base != base) {	/* not this pool's: never */
			bufferevent_free(bev);
			continue;
		}
		/* As bufferevent_socket_new() assigns them. */
		event_assign(&bev->ev_read, base, fd,
		    EV_READ | EV_PERSIST | EV_FINALIZE, p->readcb, bev);
		event_assign(&bev->ev_write, base, fd,
		    EV_WRITE | EV_PERSIST | EV_FINALIZE, p->writecb, bev);
		return bev;
	}
	bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev != NULL && p->readcb == NULL) {
		p->readcb = event_get_callback(&bev->ev_read);
		p->writecb = event_get_callback(&bev->ev_write);
	}
	return bev;
}

void
bev_pool_put(struct bev_pool *p, struct bufferevent *bev)
{
	struct evbuffer *in = bev->input, *out = bev->output;
	evutil_socket_t fd = event_get_fd(&bev->ev_read);

	if (p->n == BEV_POOL_MAX || p->readcb == NULL) {
		bufferevent_free(bev);
		return;
	}
	/* What bufferevent_free() and its finalizer do, but the memory. */
	bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
	event_del(&bev->ev_read);
	event_del(&bev->ev_write);
	/* bufferevent_socket_new()'s state. enabled first: lifting a
	 * watermark's suspension re-adds the read event when EV_READ is
	 * enabled. */
	bev->enabled = EV_WRITE;
	if (evutil_timerisset(&bev->timeout_read) ||
	    evutil_timerisset(&bev->timeout_write))
		bufferevent_set_timeouts(bev, NULL, NULL);
	if (bev->wm_read.low != 0 || bev->wm_read.high != 0)
		bufferevent_setwatermark(bev, EV_READ, 0, 0);
	if (bev->wm_write.low != 0 || bev->wm_write.high != 0)
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_set_max_single_read(bev, 0);	/* 0: the default */
	bufferevent_set_max_single_write(bev, 0);
	/* A frozen end refuses the drain; the flags are not counters. */
	evbuffer_unfreeze(in, 0);
	evbuffer_unfreeze(out, 1);
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_drain(out, evbuffer_get_length(out));
	evbuffer_freeze(in, 0);
	evbuffer_freeze(out, 1);
	/* BEV_OPT_CLOSE_ON_FREE's close. The events keep the number until
	 * the next bev_pool_get() assigns them; they are not added. */
	if (fd >= 0)
		close(fd);
	p->bev[p->n++] = bev;
}

void
bev_pool_clear(struct bev_pool *p)
{
	struct bufferevent *bev;

	while (p->n > 0) {
		bev = p->bev[--p->n];
		/* Its descriptor was closed in bev_pool_put(): the finalizer
		 * must not close that number again. */
		bufferevent_setfd(bev, -1);
		bufferevent_free(bev);
	}
}
