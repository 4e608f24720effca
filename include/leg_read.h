/*
 * leg_read: a plain socket bufferevent reads without libevent 2.1's
 * ioctl(FIONREAD) before every read (see src/leg_read.c).
 */
#ifndef LEG_READ_H
#define LEG_READ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <event2/event.h>

struct bufferevent;

/*
 * Make bev, a socket bufferevent (bufferevent_socket_new) on a connected
 * stream socket or a pipe, read through leg_read.c instead of libevent's
 * bufferevent_readcb(). What libevent does around its read stays: the
 * callbacks set with bufferevent_setcb() before or after, EV_READ enabled
 * or not (kept as it was), a read timeout (bufferevent_set_timeouts) and
 * read watermarks (bufferevent_setwatermark), at most 4 KiB per wakeup;
 * EOF and errors disable reading, then the event callback gets
 * BEV_EVENT_READING with BEV_EVENT_EOF, BEV_EVENT_ERROR (errno set) or
 * BEV_EVENT_TIMEOUT. The callbacks run at once, never deferred: not for
 * a bufferevent made with BEV_OPT_DEFER_CALLBACKS, nor a rate-limited one
 * (its buckets are libevent's private state), nor OpenSSL or filter
 * bufferevents.
 *
 * Call it once the descriptor is final: bufferevent_setfd() and
 * bufferevent_socket_connect() re-arm libevent's own read event, so a
 * backend is handed over once connected. bev stays the caller's.
 */
void	leg_read_own(struct bufferevent *bev);

/*
 * Read bev now, as if its read event had fired (bev reads through
 * leg_read_own already, and reading is enabled): what the socket holds
 * goes to the callbacks at once (through the read event's own callback:
 * leg_read_own_cb's, with its take hook), and with nothing there (EAGAIN)
 * nothing happens. For a socket that most likely holds bytes already (a client
 * that speaks first, just accepted): the loop turn that would announce
 * them is saved. The callbacks may free bev: the caller touches neither
 * bev nor what owns it afterwards.
 */
void	leg_read_now(struct bufferevent *bev);

/* Bytes before a take hook's p that it may write (a frame header). */
#define LEG_READ_HEADROOM	16
/* A take hook's answer: bev (and its owner) may be gone. */
#define LEG_READ_GONE		(-2)

/*
 * A take hook: offered the n bytes of a read that drained the
 * socket (it took less than it asked for), at p, writable, with
 * LEG_READ_HEADROOM writable bytes before it, before they are queued on
 * the input. cbarg is the bufferevent's callback argument. Returns how
 * many bytes it took from the front (0..n): the rest goes to the input and
 * on to the read callback (at the low-water mark) as usual, and a read
 * taken whole runs no callback. Or LEG_READ_GONE: it may have freed the
 * bufferevent, which is not touched again. A full read (4 KiB, or up to
 * the read high-water mark) is never offered: a stream's bytes go to the
 * input, where the read callback can read on in bulk.
 */
typedef ssize_t (*leg_read_take_fn)(void *cbarg, uint8_t *p, size_t n);

/*
 * leg_read_own() with cb as the read event's callback (its argument is
 * bev): cb calls leg_read_run() with its take hook. bev stays the
 * caller's.
 */
void	leg_read_own_cb(struct bufferevent *bev, event_callback_fn cb);

/* One read event of an owned bufferevent (fd and what as libevent passes
 * them), with take offered the bytes first if it is not NULL; then fd
 * must be a socket (it is read with recv). */
void	leg_read_run(evutil_socket_t fd, short what, struct bufferevent *bev,
	    leg_read_take_fn take);

#endif /* LEG_READ_H */
