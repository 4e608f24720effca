/*
 * bev_pool: a worker's spare plain socket bufferevents (src/bev_pool.c).
 * Setting one up and freeing it (bufferevent_socket_new, its two
 * evbuffers and callback entry, and bufferevent_free's deferred
 * finalizer) cost ~2,000 instructions a leg; a kept one is handed out
 * again with the next descriptor.
 */
#ifndef BEV_POOL_H
#define BEV_POOL_H

#include <event2/event.h>
#include <event2/util.h>

struct bufferevent;

#define BEV_POOL_MAX	32	/* per worker, as its spare sessions */

struct bev_pool {
	struct bufferevent	*bev[BEV_POOL_MAX];	/* detached, fd -1 */
	unsigned		 n;
	/* libevent's own read and write callbacks (static in libevent),
	 * taken from the first bufferevent made here */
	event_callback_fn	 readcb;
	event_callback_fn	 writecb;
};

/*
 * A socket bufferevent on fd (connected or connecting, non-blocking) with
 * BEV_OPT_CLOSE_ON_FREE, in the state bufferevent_socket_new(base, fd,
 * BEV_OPT_CLOSE_ON_FREE) leaves one in: a spare of p's if it has one, else
 * a new one. The caller owns it (and, through it, fd); give it back with
 * bev_pool_put() or free it with bufferevent_free(). NULL when out of
 * memory: then fd is still the caller's. base is the one every bufferevent
 * of p is on (one pool per worker).
 */
struct bufferevent *bev_pool_get(struct bev_pool *p, struct event_base *base,
	    evutil_socket_t fd);

/*
 * Take bev back (bev_pool_put owns it after the call): its descriptor is
 * closed now, its callbacks and anything queued on it are dropped, and it
 * is kept for bev_pool_get() while p has room (else freed). bev must have
 * come from bev_pool_get(p, ...) and have been used only as a plain socket
 * leg: no libevent connect, no deferred callbacks or triggers, no rate
 * limit, no locking, no bufferevent_setfd(), and no evbuffer callbacks of
 * the caller's left on its buffers. It may be given back from inside its
 * own callbacks (libevent's write callback only drops its reference
 * after ours returns).
 */
void	bev_pool_put(struct bev_pool *p, struct bufferevent *bev);

/* Free every spare of p (the worker is ending; its base still exists). */
void	bev_pool_clear(struct bev_pool *p);

#endif /* BEV_POOL_H */
