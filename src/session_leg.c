/*
 * session_leg: what either half of a session does with its bufferevent,
 * the same for the client and the backend (include/session-int.h has the
 * struct and its table of legal flags). Policy (when to pause, when to
 * shut, what a close means) stays in session.c and ws_conn.c.
 *
 * Flow control: a leg's output may grow to cfg->max_buffer; past that,
 * reading its peer stops until the output drains below half (le-proxy's
 * watermark scheme). libevent reads 4 KiB at a time and
 * session_leg_read_more() tops that up only within the same room, so
 * memory per session stays bounded whatever the peers do.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <linux/sockios.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/event.h>

#include "bev_pool.h"
#include "gw.h"
#include "session-int.h"
#include "tls.h"

void
session_leg_init(struct session_leg *leg, struct session *s,
    struct session_leg *peer)
{
	leg->bev = NULL;
	leg->pooled = false;
	leg->peer = peer;
	leg->s = s;
	leg->shut_ev = NULL;
}

void
session_leg_free(struct session_leg *leg)
{
	if (leg->shut_ev != NULL) {
		event_free(leg->shut_ev);	/* before its fd closes */
		leg->shut_ev = NULL;
	}
	if (leg->bev == NULL)
		return;
	if (leg->pooled)
		bev_pool_put(&leg->s->w->bevs, leg->bev);
	else
		bufferevent_free(leg->bev);
	leg->bev = NULL;
	leg->pooled = false;
}

/*
 * Write-through for plain legs. libevent arms EPOLLOUT when bytes are
 * queued, wakes, writes, and disarms it once the output is empty: two
 * epoll_ctl calls and a loop turn around every write, which cost more than
 * the write itself when messages are small. So a plain leg keeps EV_WRITE
 * off while its output is empty, and whoever queues bytes on it calls
 * session_leg_flush(), which writes them at once. What the socket does not
 * take turns EV_WRITE on: libevent writes the rest and calls the leg's
 * write callback, which turns it off again once the output is empty
 * (session_leg_write_idle). A backend still connecting is not written:
 * its bytes wait until session_upstream_ready(). TLS legs keep EV_WRITE
 * on, and tls_flush() writes through for them, in whole records.
 */
void
session_leg_flush(struct session_leg *leg)
{
	struct evbuffer *out;

	if (leg->bev == NULL)
		return;
	if (leg->tls) {
		(void)tls_flush(leg->bev);	/* one record per 16 KiB */
		return;
	}
	if (!leg->up || leg->held ||
	    (bufferevent_get_enabled(leg->bev) & EV_WRITE))
		return;		/* connecting, or libevent writes this leg */
	out = bufferevent_get_output(leg->bev);
	if (evbuffer_get_length(out) == 0)
		return;
	/* The socket bufferevent freezes its output's start between its own
	 * writes. A failed write leaves the bytes queued; libevent's own try
	 * then reports the error through the event callback. */
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write_atmost(out, bufferevent_getfd(leg->bev), -1);
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(leg->bev, EV_WRITE);
}

/*
 * The leg's last bytes (a close reply, at most a page), written with
 * MSG_MORE: the kernel holds the segment, and the close() that follows at
 * once puts our FIN in it, one packet and one wakeup of the peer instead
 * of two. Anything else (TLS, a write under way, more bytes) is flushed
 * as usual. Returns 0 when the socket took everything, -1 when bytes are
 * left queued (then written without MSG_MORE, which sends the held ones).
 * The leg must be there; it stays the caller's.
 */
int
session_leg_send_last(struct session_leg *leg)
{
	struct evbuffer *out = bufferevent_get_output(leg->bev);
	size_t n = evbuffer_get_length(out);
	unsigned char *p;
	ssize_t w = -1;

	leg->held = false;
	if (!leg->tls && leg->up && n > 0 && n <= 4096 &&
	    !(bufferevent_get_enabled(leg->bev) & EV_WRITE)) {
		evbuffer_unfreeze(out, 1);
		if ((p = evbuffer_pullup(out, -1)) != NULL)
			w = send(event_get_fd(&leg->bev->ev_write), p, n,
			    MSG_NOSIGNAL | MSG_MORE);
		if (w > 0)
			evbuffer_drain(out, (size_t)w);
		evbuffer_freeze(out, 1);
	}
	session_leg_flush(leg);
	return evbuffer_get_length(out) == 0 ? 0 : -1;
}

/*
 * The bytes of one read (a frame, or a frame's payload) to the leg: the
 * write-through of session_leg_flush() without the output buffer when it
 * is empty, so a message costs no chain, no callbacks and no writev of
 * extents. What the socket does not take (or a failed write: libevent's
 * own try then reports the error) is queued, and EV_WRITE goes on.
 */
int
session_leg_send(struct session_leg *leg, const uint8_t *p, size_t n)
{
	struct evbuffer *out = bufferevent_get_output(leg->bev);
	ssize_t w;

	if (leg->tls || !leg->up ||
	    (bufferevent_get_enabled(leg->bev) & EV_WRITE) ||
	    evbuffer_get_length(out) != 0) {
		if (evbuffer_add(out, p, n) == -1)
			return -1;
		session_leg_flush(leg);
		return 1;
	}
	/* The socket's descriptor without bufferevent_getfd()'s lock and
	 * control call (~65 instructions): the write event holds it. A
	 * leg is always a socket (an exec: program's is a socketpair), and
	 * send() skips the VFS layer write() goes through. */
	w = send(event_get_fd(&leg->bev->ev_write), p, n, MSG_NOSIGNAL);
	if (w == (ssize_t)n)
		return 0;
	if (w < 0)
		w = 0;
	if (evbuffer_add(out, p + w, n - (size_t)w) == -1)
		return -1;
	bufferevent_enable(leg->bev, EV_WRITE);
	return 1;
}

void
session_leg_write_idle(struct session_leg *leg)
{
	if (!leg->tls && leg->up &&
	    evbuffer_get_length(bufferevent_get_output(leg->bev)) == 0)
		bufferevent_disable(leg->bev, EV_WRITE);
}

void
session_leg_pause(struct session_leg *leg, struct session_leg *full)
{
	if (full == leg)
		leg->self_paused = true;
	else
		leg->paused = true;
	bufferevent_disable(leg->bev, EV_READ);
	bufferevent_setwatermark(full->bev, EV_WRITE,
	    leg->s->cfg->max_buffer / 2, 0);
}

bool
session_leg_resume(struct session_leg *leg, struct session_leg *full)
{
	if (full == leg)
		leg->self_paused = false;
	else
		leg->paused = false;
	if (full->bev != NULL)
		bufferevent_setwatermark(full->bev, EV_WRITE, 0, 0);
	if (leg->bev == NULL || leg->paused || leg->self_paused)
		return false;	/* gone, or still waiting on another output */
	session_leg_read_on(leg);
	return true;
}

void
session_leg_read_on(struct session_leg *leg)
{
	bufferevent_enable(leg->bev, EV_READ);
	if (leg->tls)
		tls_read_pending(leg->bev);	/* what OpenSSL read ahead */
}

/*
 * libevent 2.1 reads at most 4 KiB per wakeup (EVBUFFER_MAX_READ), which
 * makes a stream cost an epoll round trip and a readv per 4 KiB. After
 * its read, take up to room more bytes straight into the input buffer
 * (64 KiB a readv), within the same flow-control bound. A TLS leg is
 * read through OpenSSL instead (tls_read_more: 16 KiB an SSL_read, where
 * libevent's first read takes 4 KiB). A read error is kept in
 * leg->read_err for the event callback.
 */
void
session_leg_read_more(struct session_leg *leg)
{
	struct evbuffer *in = bufferevent_get_input(leg->bev);
	struct evbuffer_iovec v[2];
	size_t got = 0, left, room = 0, max = leg->s->cfg->max_buffer, have;
	ssize_t r;
	int n, i;

	if (leg->peer->bev == NULL)
		return;
	have = evbuffer_get_length(bufferevent_get_output(leg->peer->bev));
	room = have < max ? max - have : 0;
	if (leg->tls) {
		(void)tls_read_more(leg->bev, room);
		return;
	}
	/* The socket bufferevent freezes its input's end between reads. */
	evbuffer_unfreeze(in, 0);
	while (got < room) {
		n = evbuffer_reserve_space(in, SESSION_READ_CHUNK, v, 2);
		if (n <= 0)
			break;
		r = readv(bufferevent_getfd(leg->bev),
		    (struct iovec *)(void *)v, n);
		if (r <= 0) {
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				leg->read_err = errno;
			evbuffer_commit_space(in, v, 0);
			break;
		}
		for (i = 0, left = (size_t)r; i < n; i++) {
			if (v[i].iov_len > left)
				v[i].iov_len = left;
			left -= v[i].iov_len;
		}
		evbuffer_commit_space(in, v, n);
		got += (size_t)r;
		if ((size_t)r < SESSION_READ_CHUNK)
			break;		/* the socket is drained */
	}
	evbuffer_freeze(in, 0);
}

/*
 * The socket of a TLS leg whose last records did not fit is writable:
 * send more of them, and the FIN after the last. A failed socket is left
 * to the leg's read event, which reads on to its EOF (session_leg_progress)
 * and reports the error; the linger bounds a client that never reads. A
 * leg whose EOF came meanwhile (session_leg_ended) is read no more:
 * session_leg_progress() drops it, and may free the session.
 */
static void
session_leg_shut_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session_leg *leg = arg;
	int r;

	(void)what;
	if ((r = tls_shutdown(leg->bev)) == 1)
		return;		/* EV_PERSIST: the rest at the next room */
	event_free(leg->shut_ev);
	leg->shut_ev = NULL;
	if (r == 0)
		(void)shutdown(fd, SHUT_WR);
	if (leg->eof)
		(void)session_leg_progress(leg);
}

int
session_leg_shut(struct session_leg *leg)
{
	evutil_socket_t fd = bufferevent_getfd(leg->bev);
	int r;

	leg->wr_shut = true;
	if (!leg->tls || (r = tls_shutdown(leg->bev)) == 0)
		return shutdown(fd, SHUT_WR);
	if (r == -1)
		return -1;
	/* No room (a client that stopped reading with our data queued):
	 * the rest of the records, then the FIN, as the socket drains. */
	leg->shut_ev = event_new(bufferevent_get_base(leg->bev), fd,
	    EV_WRITE | EV_PERSIST, session_leg_shut_cb, leg);
	if (leg->shut_ev == NULL || event_add(leg->shut_ev, NULL) == -1)
		return -1;
	return 1;
}

size_t
session_leg_queued(const struct session_leg *leg)
{
	size_t n;
	int unacked = 0;

	if (leg->bev == NULL || !leg->up)
		return 0;
	n = evbuffer_get_length(bufferevent_get_output(leg->bev));
	if (ioctl(bufferevent_getfd(leg->bev), SIOCOUTQ, &unacked) == 0 &&
	    unacked > 0)
		n += (size_t)unacked;
	return n;
}

size_t
session_leg_unread(const struct session_leg *leg)
{
	size_t n;
	int inq = 0;

	if (leg->bev == NULL)
		return 0;
	n = evbuffer_get_length(bufferevent_get_input(leg->bev));
	if (ioctl(bufferevent_getfd(leg->bev), FIONREAD, &inq) == 0 && inq > 0)
		n += (size_t)inq;
	return n;
}
