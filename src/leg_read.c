/*
 * leg_read: a plain socket bufferevent's reads without libevent 2.1's
 * ioctl(FIONREAD) before every read (see include/leg_read.h).
 *
 * libevent 2.1's bufferevent_readcb() -> evbuffer_read() asks the kernel
 * how much is queued before each readv only to size a read it caps at
 * 4 KiB (EVBUFFER_MAX_READ) anyway: 2 of the 8 syscalls per echoed
 * message, 6 per connect cycle. leg_read_cb() does the same read without
 * asking, and then what bufferevent_readcb() does after its read.
 *
 * It runs on the bufferevent's own ev_read (event_assign with our
 * callback), so libevent's enable/disable, timeout, watermark-suspend and
 * free paths still add, delete and finalize the same event, and a session
 * costs no memory more.
 *
 * The history: this was landed once (884edc9) and reverted (275e8eb)
 * because exec: backends then made 0 connect cycles/s in bench/beyond.sh.
 * The read path was not the cause. The tree it sat on read each program's
 * stderr pipe on a blocking descriptor (fixed in eeb3d77). A worker
 * thread then blocked in readv on an empty pipe: epoll reports a
 * registration by the fd number it was made with, and the open file behind
 * a closed number can outlive the close (a child being spawned holds a
 * copy of every descriptor until it closes them), so a reused number can
 * look readable when it is not. That build made 0 cycles with and without
 * this read path. Every descriptor read here is non-blocking, and a
 * readiness that finds nothing (EAGAIN) changes nothing, as in libevent.
 */
#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>
#include <event2/util.h>

#include "leg_read.h"

/* What libevent 2.1 reads per wakeup (EVBUFFER_MAX_READ). */
#define LEG_READ_MAX	4096

/*
 * Read up to max bytes of fd, offer them to take (if any), and add what it
 * left to in. Returns what read() returned, or LEG_READ_GONE if take said
 * bev may be gone; *err is read()'s errno; *left is what went to in. The
 * read goes through a stack buffer: without FIONREAD the size is not known
 * before, and reserving 4 KiB in the buffer would make libevent allocate
 * an 8 KiB chain (4 KiB and its header, rounded up to a power of two) for
 * every read, however small, where one sized to what came (from malloc's
 * per-thread cache when small) costs less than copying those bytes once.
 * Bulk reads (session_leg_read_more) still go straight into the buffer.
 */
static ssize_t
leg_read_into(struct bufferevent *bev, evutil_socket_t fd, size_t max,
    leg_read_take_fn take, int *err, size_t *left)
{
	uint8_t buf[LEG_READ_HEADROOM + LEG_READ_MAX], *p;
	struct evbuffer *in = bev->input;
	ssize_t r, t = 0;
	size_t n;

	if (max > LEG_READ_MAX)
		max = LEG_READ_MAX;
	p = buf + LEG_READ_HEADROOM;
	/* A socket's recv() skips the VFS layer read() goes through
	 * (rw_verify_area, the file's security hook, fsnotify): ~65 ns of
	 * kernel time a call. A take hook's bufferevent is a socket; the
	 * others may be pipes. */
	r = take != NULL ? recv(fd, p, max, 0) : read(fd, p, max);
	*err = errno;
	*left = 0;
	if (r <= 0)
		return r;
	n = (size_t)r;
	/* A full read leaves the rest of a stream to the bulk reads the
	 * read callback makes (64 KiB a readv): not offered. */
	if (take != NULL && n < max &&
	    (t = take(bev->cbarg, p, n)) == LEG_READ_GONE)
		return LEG_READ_GONE;
	if ((size_t)t == n)
		return r;
	/* The socket bufferevent freezes its input's end between reads.
	 * The input's callbacks run in evbuffer_add (a read high-water mark
	 * suspends reading through one). */
	evbuffer_unfreeze(in, 0);
	if (evbuffer_add(in, p + t, n - (size_t)t) == -1) {
		r = -1;
		*err = ENOMEM;
	} else
		*left = n - (size_t)t;
	evbuffer_freeze(in, 0);
	return r;
}

/*
 * The read event: bufferevent_readcb() of libevent 2.1.12 without the
 * FIONREAD. The same order: a bare timeout is an error; the read is capped
 * at the read high-water mark; data runs the read callback when the input
 * reaches the low-water mark; EAGAIN and EINTR wait for the next wakeup;
 * EOF and errors turn reading off and then run the event callback. The
 * callbacks may free bev, so nothing of it is touched after them
 * (libevent finalizes a bufferevent freed inside its own event's callback
 * once that callback returns).
 */
void
leg_read_run(evutil_socket_t fd, short what, struct bufferevent *bev,
    leg_read_take_fn take)
{
	struct evbuffer *in = bev->input;
	size_t max = LEG_READ_MAX, len, left;
	short ev = BEV_EVENT_READING;
	ssize_t r;
	int err = 0;

	/* As libevent: EV_TIMEOUT together with EV_READ is a read. */
	if (what == EV_TIMEOUT) {
		ev |= BEV_EVENT_TIMEOUT;
		goto fail;
	}
	if (bev->wm_read.high != 0) {
		len = evbuffer_get_length(in);
		if (len >= bev->wm_read.high)
			return;	/* the watermark callback suspends reading */
		if (bev->wm_read.high - len < max)
			max = bev->wm_read.high - len;
	}
	r = leg_read_into(bev, fd, max, take, &err, &left);
	if (r == LEG_READ_GONE)
		return;
	if (r > 0) {
		if (left > 0 && bev->readcb != NULL &&
		    evbuffer_get_length(in) >= bev->wm_read.low)
			bev->readcb(bev, bev->cbarg);
		return;
	}
	/* libevent's EVUTIL_ERR_RW_RETRIABLE, which 2.1 does not export */
	if (r < 0 && (err == EAGAIN || err == EWOULDBLOCK || err == EINTR))
		return;
	ev |= r == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR;
 fail:
	bufferevent_disable(bev, EV_READ);
	if (bev->errorcb != NULL) {
		errno = err;	/* what the event callback reads */
		bev->errorcb(bev, ev, bev->cbarg);
	}
}

static void
leg_read_cb(evutil_socket_t fd, short what, void *arg)
{
	leg_read_run(fd, what, arg, NULL);
}

void
leg_read_own(struct bufferevent *bev)
{
	leg_read_own_cb(bev, leg_read_cb);
}

void
leg_read_own_cb(struct bufferevent *bev, event_callback_fn cb)
{
	int reading = (bufferevent_get_enabled(bev) & EV_READ) != 0;

	/* event_assign() must not touch a pending or active event. A socket
	 * bufferevent's ev_read is added only while EV_READ is enabled; on
	 * the worker's changelist base the delete and the add cost no
	 * syscall, and the enable adds it back with the read timeout, if
	 * any. */
	if (reading)
		bufferevent_disable(bev, EV_READ);
	event_assign(&bev->ev_read, bufferevent_get_base(bev),
	    bufferevent_getfd(bev), EV_READ | EV_PERSIST | EV_FINALIZE,
	    cb, bev);
	if (reading)
		bufferevent_enable(bev, EV_READ);
}

void
leg_read_now(struct bufferevent *bev)
{
	/* The callback leg_read_own_cb() assigned, with its take hook. */
	event_get_callback(&bev->ev_read)(bufferevent_getfd(bev), EV_READ,
	    event_get_callback_arg(&bev->ev_read));
}
