/*
 * session: one client <-> backend pair. See include/session.h.
 *
 * Ownership: the session owns both bufferevents (BEV_OPT_CLOSE_ON_FREE, so
 * their fds too) and its embedded timers. Legs go away one at a time
 * (session_client_free, session_upstream_free); when both are gone,
 * session_maybe_free() writes the summary line and frees the session.
 *
 * Flow control: a leg's output is allowed to grow to cfg->max_buffer; past
 * that, reading from the other leg stops until the output drains below
 * half (le-proxy's watermark scheme). libevent reads 4 KiB at a time and
 * session_read_more() tops that up only within the same room, so memory
 * per session stays bounded whatever the peers do.
 *
 * Here: accepting, both legs' callbacks, the backend-to-client relay,
 * closing and timers. The HTTP side before the upgrade is handshake.c's,
 * the client's frames after it ws_conn.c's (include/session-int.h is what
 * the three share).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/sockios.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "fleet.h"
#include "gen.h"
#include "gw.h"
#include "heartbeat.h"
#include "iplimit.h"
#include "log.h"
#include "lookup.h"
#include "session-t.h"
#include "session.h"
#include "static.h"
#include "tls.h"
#include "upgrade.h"
#include "handshake.h"
#include "session-int.h"
#include "upstream.h"
#include "ws_conn.h"

/* How long closing may take: flushing, the client's close reply, EOFs. */
#define SESSION_LINGER_MS	10000
/* While our close waits for the backend's bytes: how often to look. */
#define SESSION_QUIET_MS	50

static void	session_client_read_cb(struct bufferevent *, void *);
static void	session_client_write_cb(struct bufferevent *, void *);
static void	session_client_event_cb(struct bufferevent *, short, void *);
static void	session_upstream_read_cb(struct bufferevent *, void *);
static void	session_upstream_write_cb(struct bufferevent *, void *);
static int	session_upstream_drained(struct session *);
static void	session_upstream_event_cb(struct bufferevent *, short, void *);
static void	session_state_timer_cb(evutil_socket_t, short, void *);
static void	session_refuse_logged(struct gw_worker *, int, const char *);

static const char *const session_state_names[] = {
	"handshake", "http-error", "connecting", "open", "closing",
};

void
session_set_state(struct session *s, enum session_state st)
{
	log_debug("session %llu: %s -> %s", (unsigned long long)s->id,
	    session_state_names[s->state], session_state_names[st]);
	s->state = st;
}

void
session_timer_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(ev, &tv);
}

void
session_format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)
		    (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "unix");
	}
}

void
session_refuse(struct gw_worker *w, int fd, int status, const char *detail)
{
	char buf[512];
	int n;

	metrics_count_status(&w->m, status);
	n = upgrade_response_error(buf, sizeof(buf), status, detail);
	if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		log_debug("refusing connection: %s", strerror(errno));
	close(fd);
}

/*
 * max_connections_per_ip for a directly connected client: over it, a 503
 * straight on fd (closed) and -1. s is not on any list yet.
 */
static int
session_count_ip(struct session *s, int fd)
{
	int r;

	/* A trusted proxy speaks for many clients: handshake.c counts the
	 * one its X-Forwarded-For names, once the head is read. */
	if (s->cfg->ntrusted_proxies > 0 && iplimit_trusted((struct sockaddr *)
	    &s->peer_sa, s->cfg->trusted_proxies, s->cfg->ntrusted_proxies))
		return 0;
	r = iplimit_acquire((struct sockaddr *)&s->peer_sa,
	    s->cfg->max_connections_per_ip);
	if (r == -1) {
		atomic_fetch_sub(&gw_sessions_total, 1);
		session_refuse_logged(s->w, fd, "too many connections from "
		    "this address");
		return -1;
	}
	s->ip_counted = r == 1;
	return 0;
}

/* 503 over a limit; logged at most once a second per worker. */
static void
session_refuse_logged(struct gw_worker *w, int fd, const char *why)
{
	struct timeval now;

	event_base_gettimeofday_cached(w->base, &now);
	if (now.tv_sec != w->refuse_logged) {
		w->refuse_logged = now.tv_sec;
		log_warnx("refusing connections with 503: %s (%llu sessions)",
		    why, (unsigned long long)atomic_load(&gw_sessions_total));
	}
	session_refuse(w, fd, 503, why);
}

int
session_new(struct gw_worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, bool tls, bool proxy)
{
	struct session *s;
	uint64_t n;

	(void)salen;
	w->m.accepted++;
	if (w->draining) {
		session_refuse(w, fd, 503, "server shutting down");
		return 0;
	}
	n = atomic_fetch_add(&gw_sessions_total, 1);
	if (n >= w->cfg->max_connections || n >= gw_session_cap) {
		atomic_fetch_sub(&gw_sessions_total, 1);
		session_refuse_logged(w, fd, n >= w->cfg->max_connections ?
		    "max_connections reached" : "open-files limit reached");
		return 0;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		log_warn("session: calloc");
		atomic_fetch_sub(&gw_sessions_total, 1);
		close(fd);
		return -1;
	}
	s->w = w;
	s->id = atomic_fetch_add(&gw_session_ids, 1) + 1;
	s->proxy_in = proxy;
	if ((size_t)salen <= sizeof(s->peer_sa))
		memcpy(&s->peer_sa, sa, (size_t)salen);
	session_format_peer(sa, s->peer, sizeof(s->peer));
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	s->gen = w->gen;
	gen_ref(s->gen);
	s->cfg = s->gen->cfg;
	if (!proxy && session_count_ip(s, fd) == -1) {
		gen_unref(s->gen);
		free(s);
		return 0;
	}
	if (sa->sa_family == AF_INET || sa->sa_family == AF_INET6)
		upstream_tune_socket(fd);
	if (tls)
		s->client = tls_accept_bev(w->base, s->gen->tls_ctx, fd);
	else if ((s->client = bufferevent_socket_new(w->base, fd,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		close(fd);
	if (s->client == NULL) {
		log_warnx("session: cannot set up a bufferevent");
		atomic_fetch_sub(&gw_sessions_total, 1);
		gen_unref(s->gen);
		free(s);
		return -1;
	}
	s->tls = tls;
	bufferevent_setcb(s->client, session_client_read_cb,
	    session_client_write_cb, session_client_event_cb, s);
	if (!tls)
		bufferevent_disable(s->client, EV_WRITE); /* write-through */
	evtimer_assign(&s->state_timer, w->base, session_state_timer_cb, s);
	hb_init(s);
	LIST_INSERT_HEAD(&w->sessions, s, entry);
	w->nsessions++;
	w->m.sessions_active++;
	session_timer_ms(&s->state_timer, s->cfg->handshake_timeout_ms);
	bufferevent_enable(s->client, EV_READ);
	log_debug("session %llu: accepted from %s", (unsigned long long)s->id,
	    s->peer);
	return 0;
}

/*
 * Write-through for plain legs. libevent arms EPOLLOUT when bytes are
 * queued, wakes, writes, and disarms it once the output is empty: two
 * epoll_ctl calls and a loop turn around every write, which cost more than
 * the write itself when messages are small. So a plain leg keeps EV_WRITE
 * off while its output is empty, and whoever queues bytes on it calls
 * session_flush(), which writes them at once. What the socket does not
 * take turns EV_WRITE on: libevent writes the rest and calls the leg's
 * write callback, which turns it off again once the output is empty
 * (session_write_idle). TLS legs and a backend still connecting keep
 * EV_WRITE on, and so libevent's own scheme.
 */
void
session_flush(struct bufferevent *bev)
{
	struct evbuffer *out = bufferevent_get_output(bev);

	if (bufferevent_get_enabled(bev) & EV_WRITE)
		return;		/* libevent writes this leg */
	if (evbuffer_get_length(out) == 0)
		return;
	/* The socket bufferevent freezes its output's start between its own
	 * writes. A failed write leaves the bytes queued; libevent's own try
	 * then reports the error through the event callback. */
	evbuffer_unfreeze(out, 1);
	(void)evbuffer_write_atmost(out, bufferevent_getfd(bev), -1);
	evbuffer_freeze(out, 1);
	if (evbuffer_get_length(out) > 0)
		bufferevent_enable(bev, EV_WRITE);
}

/* A plain leg's write callback: drained, so back to write-through. */
static void
session_write_idle(struct bufferevent *bev, bool tls)
{
	if (!tls && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_disable(bev, EV_WRITE);
}

/* Total close: write the summary line and free s. Both legs must be gone. */
static void
session_free(struct session *s)
{
	struct gw_worker *w = s->w;
	struct timespec now;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->started.tv_sec) +
	    (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
	/* The summary line (formatted only when it will be written). */
	if (s->state >= SESSION_CONNECTING && log_enabled(LOG_LEVEL_INFO)) {
		char route[160], dur[32];
		struct log_field f[] = {
			LOG_NUM("id", s->id),
			LOG_STR("client", s->peer),
			LOG_STR("route", route),
			LOG_STR("backend", s->backend != NULL ?
			    s->backend->spec : NULL),
			LOG_NUM("up", s->bytes_up),
			LOG_NUM("down", s->bytes_down),
			LOG_STR("duration", dur),
			LOG_NUM("code", s->close_code != 0 ? s->close_code :
			    1006),
			LOG_STR("cause", s->cause[0] != '\0' ? s->cause : NULL),
		};

		snprintf(route, sizeof(route), "%s%s", s->route->path,
		    s->route->prefix ? "/*" : "");
		snprintf(dur, sizeof(dur), "%.3fs", secs);
		log_event(LOG_LEVEL_INFO, "session_end", f,
		    sizeof(f) / sizeof(f[0]));
	}
	if (s->close_code != 0)
		metrics_count_close(&w->m, s->close_code);
	if (s->mr != NULL) {
		struct metrics_route *mr = s->mr;

		mr->active--;
		mr->ended[s->end_set ? s->end : METRICS_END_OTHER]++;
	}
	event_del(&s->state_timer);
	hb_stop(s);
	lookup_cancel(s);
	fleet_session_ended(s);
	LIST_REMOVE(s, entry);
	if (s->ip_counted)
		iplimit_release((struct sockaddr *)&s->peer_sa);
	free(s->fixed.spec);
	free(s->proxy_hdr);
	gen_unref(s->gen);
	w->nsessions--;
	w->m.sessions_active--;
	atomic_fetch_sub(&gw_sessions_total, 1);
	free(s);
	if (w->draining && w->nsessions == 0 && w->index != 0)
		event_base_loopexit(w->base, NULL);
}

static void
session_client_free(struct session *s)
{
	/* Before the output it hangs on. */
	static_body_free(s->static_body);
	s->static_body = NULL;
	if (s->client != NULL) {
		bufferevent_free(s->client);
		s->client = NULL;
	}
}

static void
session_upstream_free(struct session *s)
{
	if (s->upstream != NULL) {
		bufferevent_free(s->upstream);
		s->upstream = NULL;
	}
}

/* Free s once both legs are gone. Returns -1 if s was freed. */
static int
session_maybe_free(struct session *s)
{
	if (s->client != NULL || s->upstream != NULL)
		return 0;
	session_free(s);
	return -1;
}

int
session_client_progress(struct session *s)
{
	bool await_reply;

	if (s->client == NULL || s->client_discard)
		return 0;
	session_flush(s->client);
	if (evbuffer_get_length(bufferevent_get_output(s->client)) > 0) {
		bufferevent_setwatermark(s->client, EV_WRITE, 0, 0);
		return 0;
	}
	await_reply = s->state == SESSION_CLOSING && s->close_sent &&
	    !s->close_received && !s->failed;
	if (await_reply)
		return 0;
	s->client_discard = true;
	if (s->tls)
		tls_shutdown(s->client);
	if (shutdown(bufferevent_getfd(s->client), SHUT_WR) == -1) {
		session_client_free(s);
		return session_maybe_free(s);
	}
	bufferevent_enable(s->client, EV_READ);
	return 0;
}

/*
 * Backend leg while closing: flush what the client sent, then EOF; then
 * drain the backend until its EOF. The EOF waits until the client's input
 * is done (its close received, a protocol failure, or the client gone):
 * until a peer has received a close it may still send data, and that data
 * is the backend's (RFC 6455 §1.4, §5.5.1). Returns -1 if s was freed.
 */
static int
session_upstream_progress(struct session *s)
{
	bool client_done;

	if (s->upstream == NULL || !s->upstream_up)
		return 0;	/* session_upstream_ready() comes back here */
	session_flush(s->upstream);
	client_done = s->client == NULL || s->close_received || s->failed;
	if (evbuffer_get_length(bufferevent_get_output(s->upstream)) > 0) {
		/* A paused client keeps its half-full mark to resume on. */
		if (client_done)
			bufferevent_setwatermark(s->upstream, EV_WRITE, 0, 0);
		return 0;
	}
	if (!client_done) {
		/* Too late for the client, but the backend must not stall. */
		if (!s->upstream_eof)
			bufferevent_enable(s->upstream, EV_READ);
		return 0;
	}
	if (!s->upstream_wr_shut) {
		s->upstream_wr_shut = true;
		if (s->upstream_tls)
			tls_shutdown(s->upstream);
		if (shutdown(bufferevent_getfd(s->upstream), SHUT_WR) == -1)
			s->upstream_eof = true;
	}
	if (s->upstream_eof) {
		session_upstream_free(s);
		return session_maybe_free(s);
	}
	bufferevent_enable(s->upstream, EV_READ);
	return 0;
}

/* Why s ends, as a metrics label, from the first close decision. */
static enum metrics_end
session_end_of(const struct session *s, uint16_t code)
{
	if (s->close_received)
		return METRICS_END_CLIENT_CLOSE;
	switch (code) {
	case 0:
		return METRICS_END_CLIENT_VANISHED;
	case 1000:
		return METRICS_END_BACKEND_CLOSED;
	case 1001:
		return s->w->draining ? METRICS_END_DRAIN : METRICS_END_IDLE;
	case 1002:
	case 1007:
	case 1009:
		return METRICS_END_PROTOCOL;
	case 1014:
		return s->upstream_up ? METRICS_END_BACKEND_RESET :
		    METRICS_END_BACKEND_UNREACHABLE;
	default:
		return METRICS_END_OTHER;
	}
}

static uint64_t
session_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* Add what a bound cut short to the cause (the summary line, and the
 * close reason when the close is still to be sent). */
static void
session_note_cut(struct session *s, const char *what)
{
	size_t len = strlen(s->cause);

	snprintf(s->cause + len, sizeof(s->cause) - len, "%s%s",
	    len > 0 ? "; " : "", what);
}

/* Bytes the backend has sent that we have not framed yet: in our input
 * and in the kernel's receive queue. */
static size_t
session_upstream_unread(const struct session *s)
{
	int n = 0;
	size_t len = evbuffer_get_length(bufferevent_get_input(s->upstream));

	if (ioctl(bufferevent_getfd(s->upstream), FIONREAD, &n) == 0 && n > 0)
		len += (size_t)n;
	return len;
}

/*
 * A close of our own (shutdown, idle, operator): the client must first get
 * what the backend had sent (nothing may follow a close frame, §5.5.1), so
 * the close waits while backend bytes keep coming, within a bound.
 */
static bool
session_close_waits(const struct session *s, uint16_t code)
{
	return (code == 1001 || code == 1008) && s->state == SESSION_OPEN &&
	    !s->close_sent && !s->close_received && s->client != NULL &&
	    s->upstream != NULL && s->upstream_up && !s->upstream_eof;
}

static void
session_close_pend(struct session *s, uint16_t code)
{
	uint64_t bound = SESSION_LINGER_MS;

	/* A drain leaves the second half of drain_timeout to handshakes. */
	if (s->w->draining && s->cfg->drain_timeout_ms / 2 < bound)
		bound = s->cfg->drain_timeout_ms / 2;
	s->close_pending = true;
	s->pending_code = code;
	s->pending_mark = s->bytes_down;
	s->pending_until = session_now_ms() + bound;
	hb_stop(s);
	session_timer_ms(&s->state_timer, SESSION_QUIET_MS);
	log_debug("session %llu: close %u waits for the backend's bytes",
	    (unsigned long long)s->id, code);
}

/*
 * Close pending: has the backend gone quiet? Nothing buffered, nothing in
 * the kernel, the backend not paused, and nothing relayed since the last
 * look (a loopback peer refills our queue a moment after a read drains it).
 */
static bool
session_upstream_quiet(struct session *s)
{
	bool moved = s->bytes_down != s->pending_mark;

	s->pending_mark = s->bytes_down;
	return !moved && !s->upstream_paused && session_upstream_unread(s) == 0;
}

/* The state timer while a close is pending: close now, or look again. */
static void
session_pending_tick(struct session *s)
{
	char what[96];
	size_t left;

	if (session_upstream_quiet(s)) {
		session_close(s, s->pending_code, NULL);
		return;
	}
	if (session_now_ms() < s->pending_until) {
		session_timer_ms(&s->state_timer, SESSION_QUIET_MS);
		return;
	}
	left = session_upstream_unread(s);
	log_warnx("session %llu: client=%s closing bound reached: backend "
	    "data cut short (%zu bytes unread, more may follow)",
	    (unsigned long long)s->id, s->peer, left);
	snprintf(what, sizeof(what), "backend data cut short");
	session_note_cut(s, what);
	session_close(s, s->pending_code, NULL);
}

void
session_close(struct session *s, uint16_t code, const char *cause)
{
	if (s->cause[0] == '\0' && cause != NULL)
		snprintf(s->cause, sizeof(s->cause), "%s", cause);
	if (s->state == SESSION_HANDSHAKE || s->state == SESSION_HTTP_ERROR) {
		if (!s->end_set) {
			s->end = session_end_of(s, code);
			s->end_set = true;
		}
		session_client_free(s);
		session_upstream_free(s);
		session_free(s);
		return;
	}
	if (s->close_pending) {
		/* Ours still stands unless the client closed or it failed. */
		s->close_pending = false;
		if (!s->close_received && (code == 1000 || code == 1001 ||
		    code == 1008))
			code = s->pending_code;
	} else if (session_close_waits(s, code)) {
		if (!s->end_set) {
			s->end = session_end_of(s, code);
			s->end_set = true;
		}
		session_close_pend(s, code);
		return;
	}
	if (!s->end_set) {
		s->end = session_end_of(s, code);
		s->end_set = true;
	}
	/* Fail the connection (RFC 6455 §7.1.7): no close reply awaited. */
	if (code == 1002 || code == 1007 || code == 1009)
		s->failed = true;
	if (s->state != SESSION_CLOSING) {
		/* A connect under way keeps its own (shorter) deadline. */
		if (s->upstream == NULL || s->upstream_up)
			session_timer_ms(&s->state_timer, SESSION_LINGER_MS);
		s->linger_mark = session_queued(s);
		s->linger_bytes = s->bytes_up + s->bytes_down;
		session_set_state(s, SESSION_CLOSING);
		hb_stop(s);
		if (s->upstream_paused && s->upstream != NULL)
			bufferevent_enable(s->upstream, EV_READ);
		s->upstream_paused = false;
	}
	if (code == 0) {
		/* The client is gone or dead: nothing to say to it. */
		session_client_free(s);
	} else if (!s->close_sent && s->client != NULL) {
		s->close_sent = true;
		s->close_code = code;
		ws_conn_send_close(s, code, s->cause);
	}
	/*
	 * Read the client on (its close reply comes after its data), except
	 * while the backend is full: data before the client's close still
	 * goes to the backend, under the same flow control.
	 */
	if (s->failed || s->close_received || s->upstream == NULL)
		s->client_paused = false;
	s->client_self_paused = false;
	if (s->client != NULL && !s->client_paused)
		bufferevent_enable(s->client, EV_READ);
	if (session_client_progress(s) == -1)
		return;
	if (session_upstream_progress(s) == -1)
		return;
	session_maybe_free(s);
}

size_t
session_drain_some(struct gw_worker *w, size_t max)
{
	struct session *s, *next;
	size_t left = 0;

	for (s = LIST_FIRST(&w->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (s->state == SESSION_CLOSING ||
		    s->state == SESSION_HTTP_ERROR || s->close_pending)
			continue;
		/* No upgrade yet: nothing to say, no time to give. */
		if (s->state == SESSION_HANDSHAKE)
			session_close(s, 0, "server shutting down");
		else if (max > 0) {
			max--;
			session_close(s, 1001, "server shutting down");
		} else
			left++;
	}
	return left;
}

void
session_free_all(struct gw_worker *w)
{
	struct session *s;

	while ((s = LIST_FIRST(&w->sessions)) != NULL) {
		size_t left = s->state >= SESSION_CONNECTING ?
		    session_queued(s) : 0;

		if (s->cause[0] == '\0')
			snprintf(s->cause, sizeof(s->cause), "shutdown");
		if (left > 0) {
			log_warnx("session %llu: client=%s drain_timeout: %zu "
			    "bytes not delivered", (unsigned long long)s->id,
			    s->peer, left);
			session_note_cut(s, "drain_timeout cut delivery short");
		}
		session_client_free(s);
		session_upstream_free(s);
		session_free(s);
	}
}

/*
 * libevent 2.1 reads at most 4 KiB per wakeup (EVBUFFER_MAX_READ), which
 * makes a stream cost an epoll round trip and a readv per 4 KiB. After
 * its read, take up to room more bytes straight into the input buffer
 * (64 KiB a readv), within the same flow-control bound. Plain sockets
 * only: a TLS leg must be read through OpenSSL. A read error is kept in
 * *err for the event callback (the kernel reports a reset only once).
 */
#define SESSION_READ_CHUNK	65536
/* libevent's own read size: a read that filled it may have left more. A
 * shorter one drained the socket, and another readv would only cost a
 * syscall (small messages, echo and rtt). */
#define SESSION_LIBEVENT_READ	4096

static void
session_read_more(struct bufferevent *bev, size_t room, int *err)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer_iovec v[2];
	size_t got = 0, left;
	ssize_t r;
	int n, i;

	/* The socket bufferevent freezes its input's end between reads. */
	evbuffer_unfreeze(in, 0);
	while (got < room) {
		n = evbuffer_reserve_space(in, SESSION_READ_CHUNK, v, 2);
		if (n <= 0)
			break;
		r = readv(bufferevent_getfd(bev), (struct iovec *)(void *)v, n);
		if (r <= 0) {
			if (r < 0 && errno != EAGAIN && errno != EINTR)
				*err = errno;
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

/* What may still be read from the leg whose peer's output is out. */
static size_t
session_read_room(const struct session *s, struct bufferevent *peer)
{
	size_t max = s->cfg->max_buffer, have;

	if (peer == NULL)
		return 0;
	have = evbuffer_get_length(bufferevent_get_output(peer));
	return have < max ? max - have : 0;
}

static void
session_client_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (s->client_discard || s->state == SESSION_HTTP_ERROR) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		handshake_read(s);
		return;
	}
	if (!s->tls && s->state == SESSION_OPEN &&
	    evbuffer_get_length(bufferevent_get_input(bev)) >=
	    SESSION_LIBEVENT_READ)
		session_read_more(bev, session_read_room(s, s->upstream),
		    &s->client_read_err);
	ws_conn_input(s);
}

static void
session_client_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	session_write_idle(bev, s->tls);
	if (s->state == SESSION_CLOSING || s->state == SESSION_HTTP_ERROR) {
		session_client_progress(s);
		return;
	}
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	if (s->upstream_paused && s->upstream != NULL) {
		/* Drained below the low-water mark: read the backend again. */
		s->upstream_paused = false;
		bufferevent_enable(s->upstream, EV_READ);
	}
	if (s->client_self_paused) {
		s->client_self_paused = false;
		if (!s->client_paused) {
			bufferevent_enable(bev, EV_READ);
			ws_conn_input(s);	/* input already buffered */
		}
	}
}

/* Discard what the kernel holds for fd (non-blocking, bounded). */
static void
session_drain_fd(int fd)
{
	char buf[4096];
	int i;

	for (i = 0; i < 16; i++)
		if (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) <= 0)
			break;
}

static void
session_client_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED)
		return;		/* TLS handshake done; the HTTP head is next */
	if (s->client_discard ||
	    (s->state == SESSION_CLOSING && s->close_received)) {
		/* The close handshake is done: the client's EOF is expected. */
		session_client_free(s);
		session_maybe_free(s);
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		char tlserr[160];

		/* No session yet: say why the connection went, once. */
		log_info("session %llu: client=%s dropped before the upgrade: %s%s%s",
		    (unsigned long long)s->id, s->peer,
		    (what & BEV_EVENT_EOF) ? "connection closed" :
		    "connection error", s->tls ? " in TLS: " : "",
		    s->tls ? tls_error(bev, tlserr, sizeof(tlserr)) : "");
		/* Read what is left so closing sends FIN, not RST. */
		session_drain_fd(bufferevent_getfd(bev));
	}
	session_close(s, 0, (what & BEV_EVENT_EOF) ?
	    "client closed the connection without a close frame" :
	    "client connection error");
}

void
session_upstream_ready(struct session *s, struct bufferevent *bev)
{
	struct timespec now;

	s->upstream = bev;
	s->upstream_up = true;
	/* Write what the reads above gather in one go (2.1 caps at 16K). */
	bufferevent_set_max_single_write(bev, 4 * SESSION_READ_CHUNK);
	if (s->client != NULL)
		bufferevent_set_max_single_write(s->client,
		    4 * SESSION_READ_CHUNK);
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_observe(&s->w->m.connect_latency,
	    (uint64_t)((now.tv_sec - s->connect_started.tv_sec) * 1000000 +
	    (now.tv_nsec - s->connect_started.tv_nsec) / 1000));
	bufferevent_setcb(bev, session_upstream_read_cb,
	    session_upstream_write_cb, session_upstream_event_cb, s);
	if (s->state == SESSION_CLOSING) {
		/* The client left while we connected: deliver, then EOF. */
		session_timer_ms(&s->state_timer, SESSION_LINGER_MS);
		session_upstream_progress(s);
		return;
	}
	event_del(&s->state_timer);
	session_set_state(s, SESSION_OPEN);
	fleet_session_began(s);
	if (s->upstream_tls) {
		bufferevent_enable(bev, EV_READ | EV_WRITE);
	} else {
		/* Write-through: what the client sent meanwhile goes now. */
		bufferevent_disable(bev, EV_WRITE);
		bufferevent_enable(bev, EV_READ);
		session_flush(bev);
	}
	log_debug("session %llu: connected to %s", (unsigned long long)s->id,
	    s->backend->spec);
	/* All taken: no write callback will end a pause (s may go). */
	if (!s->upstream_tls &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		(void)session_upstream_drained(s);
}

/* Backend bytes: one binary frame per read, payload chains moved. */
void
session_upstream_failed(struct session *s, uint16_t code, const char *reason)
{
	session_upstream_free(s);
	if (s->state == SESSION_CLOSING)
		session_maybe_free(s);
	else
		session_close(s, code, reason);
}

static void
session_upstream_read_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out;
	size_t len;
	size_t max = s->cfg->max_buffer;
	uint8_t hdr[14];
	size_t hl;

	if (!s->upstream_tls && s->state == SESSION_OPEN &&
	    evbuffer_get_length(in) >= SESSION_LIBEVENT_READ)
		session_read_more(bev, session_read_room(s, s->client),
		    &s->upstream_read_err);
	len = evbuffer_get_length(in);
	if (len == 0)
		return;
	if (s->state == SESSION_CLOSING || s->client == NULL) {
		evbuffer_drain(in, len);	/* too late for the client */
		return;
	}
	out = bufferevent_get_output(s->client);
	hl = ws_frame_header_encode(hdr, true, WS_OP_BINARY, len, NULL);
	evbuffer_add(out, hdr, hl);
	evbuffer_add_buffer(out, in);
	s->bytes_down += len;
	s->mr->bytes_down += len;	/* live in /metrics, per read */
	s->out_total += hl + len;
	hb_activity(s);
	session_flush(s->client);
	if (evbuffer_get_length(out) >= max) {
		s->upstream_paused = true;
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(s->client, EV_WRITE, max / 2, 0);
	}
}

/*
 * The backend's output drained below the mark: read the client again.
 * Returns -1 if s may be gone (the client's input ended it).
 */
static int
session_upstream_drained(struct session *s)
{
	if (s->client_paused && s->client != NULL) {
		s->client_paused = false;
		bufferevent_setwatermark(s->upstream, EV_WRITE, 0, 0);
		if (!s->client_self_paused) {
			bufferevent_enable(s->client, EV_READ);
			/* Input already buffered gets no new read callback. */
			return ws_conn_input(s);
		}
	}
	return 0;
}

static void
session_upstream_write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;

	session_write_idle(bev, s->upstream_tls);
	/* Closing too: the client's data before its close still flows. */
	if (session_upstream_drained(s) == -1)
		return;
	if (s->state == SESSION_CLOSING)
		session_upstream_progress(s);
}

static void
session_upstream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	char cause[128];
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (s->state == SESSION_CLOSING) {
		s->upstream_eof = true;
		if (what & BEV_EVENT_ERROR) {
			session_upstream_free(s);
			session_maybe_free(s);
			return;
		}
		session_upstream_progress(s);
		return;
	}
	if ((what & BEV_EVENT_EOF) && s->upstream_read_err == 0) {
		s->upstream_eof = true;
		session_close(s, 1000, "backend closed the connection");
		return;
	}
	if (s->upstream_read_err != 0)
		err = s->upstream_read_err;	/* seen by session_read_more */
	snprintf(cause, sizeof(cause), "bad gateway: backend connection "
	    "error: %s", evutil_socket_error_to_string(err));
	session_upstream_free(s);
	session_close(s, 1014, cause);
}

/* Bytes of bev's output not yet taken by its peer: ours and the kernel's
 * (sent but unacknowledged, or unsent: SIOCOUTQ). */
static size_t
session_leg_queued(struct bufferevent *bev)
{
	size_t n = evbuffer_get_length(bufferevent_get_output(bev));
	int unacked = 0;

	if (ioctl(bufferevent_getfd(bev), SIOCOUTQ, &unacked) == 0 &&
	    unacked > 0)
		n += (size_t)unacked;
	return n;
}

size_t
session_queued(const struct session *s)
{
	size_t n = 0;

	if (s->client != NULL)
		n += session_leg_queued(s->client);
	n += static_body_left(s->static_body);	/* still to be read */
	if (s->upstream != NULL && s->upstream_up)
		n += session_leg_queued(s->upstream);
	return n;
}

/*
 * While closing, did the peers take any queued bytes since the last
 * linger round? The linger bounds a stall, not a slow but steady reader.
 */
static bool
session_linger_progress(struct session *s)
{
	size_t now = session_queued(s);
	uint64_t bytes = s->bytes_up + s->bytes_down;
	bool moved = (now > 0 && now < s->linger_mark) ||
	    bytes != s->linger_bytes;

	s->linger_mark = now;
	s->linger_bytes = bytes;
	return moved;
}

/* The linger ends a stalled close: name what it drops. */
static void
session_linger_cut(struct session *s)
{
	size_t left = session_queued(s);
	bool reply = s->close_sent && !s->close_received && !s->failed;

	if (left == 0 && !reply)
		return;
	log_warnx("session %llu: client=%s linger over after %ums without "
	    "progress: %zu bytes not delivered%s", (unsigned long long)s->id,
	    s->peer, SESSION_LINGER_MS, left,
	    reply ? ", no close reply from the client" : "");
	if (left > 0)
		session_note_cut(s, "linger cut delivery short");
}

static void
session_state_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	switch (s->state) {
	case SESSION_HANDSHAKE:
		log_info("session %llu: client=%s dropped: handshake timeout",
		    (unsigned long long)s->id, s->peer);
		s->w->m.handshake_timeouts++;
		session_close(s, 0, "handshake timeout");
		break;
	case SESSION_HTTP_ERROR:
		/* A static file still flowing gets another round. */
		if (session_linger_progress(s)) {
			session_timer_ms(&s->state_timer,
			    SESSION_HTTP_LINGER_MS);
			break;
		}
		session_close(s, 0, NULL);
		break;
	case SESSION_CONNECTING:
		upstream_timeout(s);
		break;
	case SESSION_OPEN:
		session_pending_tick(s);	/* only a pending close arms it */
		break;
	default:
		/* Still draining toward a slow peer? Give it another round. */
		if (session_linger_progress(s)) {
			session_timer_ms(&s->state_timer, SESSION_LINGER_MS);
			break;
		}
		/* Linger over: whatever is left goes now, and the log says. */
		session_linger_cut(s);
		session_client_free(s);
		session_upstream_free(s);
		session_maybe_free(s);
		break;
	}
}
