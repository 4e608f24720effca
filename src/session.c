/*
 * session: one client <-> backend pair. See include/session.h; the struct
 * and the calls shared with the other session files are in
 * include/session-int.h.
 *
 * Ownership: the session owns both legs' bufferevents
 * (BEV_OPT_CLOSE_ON_FREE, so their fds too) and its embedded timers. Legs
 * go away one at a time (session_leg_free); when both are gone,
 * session_maybe_free() writes the summary line and frees the session.
 *
 * Here: admission and construction, the legs' callbacks (one read and one
 * write callback for either leg, an event callback each), the
 * backend-to-client relay, closing and timers. What a leg does with its
 * bufferevent is session_leg.c's; the HTTP side before the upgrade is
 * handshake.c's, the client's frames after it ws_conn.c's.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sanitizer/asan_interface.h>	/* no-ops without ASan */

#include "bev_pool.h"
#include "config.h"
#include "exec.h"
#include "fleet.h"
#include "confgen.h"
#include "gw.h"
#include "handshake.h"
#include "heartbeat.h"
#include "iplimit.h"
#include "leg_read.h"
#include "log.h"
#include "record.h"
#include "registry.h"
#include "lookup.h"
#include "session-int.h"
#include "session.h"
#include "static.h"
#include "tls.h"
#include "upgrade.h"
#include "upstream.h"
#include "ws_conn.h"
#include "xform.h"

/* How long closing may take: flushing, the client's close reply, EOFs. */
#define SESSION_LINGER_MS	10000
/*
 * When the linger first looks at what is queued (session_closing). Most
 * closes are over long before: they never pay the two ioctl(SIOCOUTQ)
 * the look costs.
 */
#define SESSION_LINGER_LOOK_MS	100
/* While our close waits for the backend's bytes: how often to look. */
#define SESSION_QUIET_MS	50
/* libevent's own read size: a read that filled it may have left more. A
 * shorter one drained the socket, and another readv would only cost a
 * syscall (small messages, echo and rtt). */
#define SESSION_LIBEVENT_READ	4096

static void	session_leg_read_cb(struct bufferevent *, void *);
static void	session_leg_write_cb(struct bufferevent *, void *);
static void	session_client_event_cb(struct bufferevent *, short, void *);
static void	session_upstream_event_cb(struct bufferevent *, short, void *);
static void	session_state_timer_cb(evutil_socket_t, short, void *);

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
	struct timeval tv = gw_ms_to_tv(ms);

	evtimer_add(ev, &tv);
}

static uint64_t
session_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* v in decimal at p; returns the digits written (at most 5 for 16 bits). */
static size_t
session_put_dec(char *p, unsigned v)
{
	char tmp[10];
	size_t n = 0, i;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/*
 * "a.b.c.d:port" into buf (22 bytes). inet_ntop and snprintf took ~2,700
 * instructions a connection under callgrind; this takes ~150.
 */
static void
session_format_in(const struct sockaddr_in *in, char *buf)
{
	const uint8_t *a = (const uint8_t *)&in->sin_addr;
	size_t n = 0;
	int i;

	for (i = 0; i < 4; i++) {
		n += session_put_dec(buf + n, a[i]);
		buf[n++] = i < 3 ? '.' : ':';
	}
	n += session_put_dec(buf + n, ntohs(in->sin_port));
	buf[n] = '\0';
}

void
session_format_peer(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		char tmp[sizeof("255.255.255.255:65535")];
		size_t n;

		if (len == 0)
			return;
		session_format_in((const struct sockaddr_in *)(const void *)sa,
		    tmp);
		if ((n = strlen(tmp)) >= len)
			n = len - 1;
		memcpy(buf, tmp, n);
		buf[n] = '\0';
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)
		    (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(in6->sin6_port));
	} else {
		snprintf(buf, len, "unix");
	}
}

/* ------------------------------------------------ admission, construction */

/* A short HTTP error straight on a socket we will not keep (closed). */
static void
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

/*
 * Do the descriptors of the sessions counted in gw_sessions_total and of
 * the exec: programs alive, plus procs more programs being started, fit
 * in gw_fd_room (gw.h)? Checked, not reserved: the reserve in main.c
 * covers workers admitting at the same moment.
 */
static bool
session_fds_fit(uint64_t procs)
{
	uint64_t need;

	if (gw_fd_room == UINT64_MAX)
		return true;
	need = GW_FDS_SESSION * atomic_load(&gw_sessions_total) +
	    GW_FDS_EXEC * (exec_count() + procs) +
	    (procs > 0 ? GW_FDS_SPAWN : 0);
	return need <= gw_fd_room;
}

/*
 * May w take one more connection? Returns 0 with it counted in
 * gw_sessions_total, or -1 after answering fd 503 (fd closed).
 */
static int
session_admit(struct gw_worker *w, int fd)
{
	uint64_t n;

	if (w->draining) {
		session_refuse(w, fd, 503, "server shutting down");
		return -1;
	}
	n = atomic_fetch_add(&gw_sessions_total, 1);
	if (n >= w->cfg->max_connections || n >= gw_session_cap ||
	    !session_fds_fit(0)) {
		atomic_fetch_sub(&gw_sessions_total, 1);
		session_refuse_logged(w, fd, n >= w->cfg->max_connections ?
		    "max_connections reached" : "open-files limit reached");
		return -1;
	}
	return 0;
}

int
session_admit_exec(struct session *s)
{
	struct gw_worker *w = s->w;
	struct timeval now;

	if (session_fds_fit(1))
		return 0;
	event_base_gettimeofday_cached(w->base, &now);
	if (now.tv_sec != w->refuse_logged) {
		w->refuse_logged = now.tv_sec;
		log_warnx("refusing connections with 503: open-files limit "
		    "reached (%llu sessions, %llu programs)",
		    (unsigned long long)atomic_load(&gw_sessions_total),
		    (unsigned long long)exec_count());
	}
	return -1;
}

/* The client leg on fd (ours even on failure). Returns 0 or -1. */
static int
session_client_open(struct session *s, int fd, bool tls)
{
	struct session_leg *c = &s->client;

	/* TCP_NODELAY and SO_KEEPALIVE came with the socket: accepted
	 * sockets inherit them from the listener (listener.c). */
	if (tls)
		c->bev = tls_accept_bev(s->w->base, s->gen->tls_ctx, fd);
	else if ((c->bev = bev_pool_get(&s->w->bevs, s->w->base,
	    fd)) == NULL)
		close(fd);
	else {
		c->pooled = true;
		leg_read_own_cb(c->bev, session_leg_read_ev);	/* no FIONREAD */
	}
	if (c->bev == NULL) {
		log_warnx("session: cannot set up a bufferevent");
		return -1;
	}
	c->up = true;
	c->tls = tls;
	bufferevent_setcb(c->bev, session_leg_read_cb, session_leg_write_cb,
	    session_client_event_cb, c);
	if (!tls)
		bufferevent_disable(c->bev, EV_WRITE); /* write-through */
	return 0;
}

/*
 * A zeroed session: a spare one of this worker's if it has one, else
 * from calloc. NULL when out of memory. A spare is poisoned for ASan
 * while it waits, so a stale pointer into a freed session is still
 * caught as a use after free.
 */
static struct session *
session_alloc(struct gw_worker *w)
{
	struct session *s;

	if (w->nspare == 0)
		return calloc(1, sizeof(*s));
	s = w->spare[--w->nspare];
	ASAN_UNPOISON_MEMORY_REGION(s, sizeof(*s));
	memset(s, 0, sizeof(*s));
	return s;
}

/* Give s's memory back: kept as a spare while there is room. */
static void
session_release(struct gw_worker *w, struct session *s)
{
	if (w->nspare == GW_SPARE_SESSIONS) {
		free(s);
		return;
	}
	ASAN_POISON_MEMORY_REGION(s, sizeof(*s));
	w->spare[w->nspare++] = s;
}

int
session_new(struct gw_worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, bool tls, bool proxy)
{
	struct session *s;
	int r, rc = -1;

	metrics_inc(&w->m.accepted);
	if (session_admit(w, fd) == -1)
		return 0;
	if ((s = session_alloc(w)) == NULL) {
		log_warn("session: calloc");
		goto fail_count;
	}
	s->w = w;
	s->id = atomic_fetch_add(&gw_session_ids, 1) + 1;
	s->proxy_in = proxy;
	if ((size_t)salen <= sizeof(s->peer_sa))
		memcpy(&s->peer_sa, sa, (size_t)salen);
	session_format_peer(sa, s->peer, sizeof(s->peer));
	clock_gettime(CLOCK_MONOTONIC, &s->started);
	session_leg_init(&s->client, s, &s->upstream);
	session_leg_init(&s->upstream, s, &s->client);
	s->gen = w->gen;
	confgen_ref(s->gen);
	s->cfg = s->gen->cfg;
	/* max_connections_per_ip; behind PROXY, once the header names the
	 * client (handshake.c). */
	if (!proxy && (r = iplimit_acquire((struct sockaddr *)&s->peer_sa,
	    s->cfg->max_connections_per_ip)) == -1) {
		session_refuse_logged(w, fd, "too many connections from this "
		    "address");
		fd = -1;
		rc = 0;
		goto fail_gen;
	} else if (!proxy)
		s->ip_counted = r == 1;
	if (session_client_open(s, fd, tls) == -1) {
		fd = -1;
		goto fail_ip;
	}
	evtimer_assign(&s->state_timer, w->base, session_state_timer_cb, s);
	LIST_INSERT_HEAD(&w->sessions, s, entry);
	w->nsessions++;
	metrics_inc(&w->m.sessions_active);
	session_timer_ms(&s->state_timer, s->cfg->handshake_timeout_ms);
	bufferevent_enable(s->client.bev, EV_READ);
	log_debug("session %llu: accepted from %s", (unsigned long long)s->id,
	    s->peer);
	/*
	 * A client speaks first, and by the time a connection is accepted
	 * its request head is usually in the socket already: read it now
	 * rather than after a loop turn (HAProxy reads at accept too). When
	 * it is not there yet the read finds EAGAIN and the read event,
	 * already enabled, waits for it. s may be gone after this.
	 */
	if (!tls)
		leg_read_now(s->client.bev);
	return 0;

	/* Undo in the reverse order of acquisition. */
fail_ip:
	if (s->ip_counted)
		iplimit_release((struct sockaddr *)&s->peer_sa);
fail_gen:
	confgen_unref(s->gen);
	session_release(w, s);
fail_count:
	atomic_fetch_sub(&gw_sessions_total, 1);
	if (fd != -1)
		close(fd);
	return rc;
}

/* ------------------------------------------------------------- freeing */

/* The summary line (formatted only when it will be written). */
static void
session_log_end(const struct session *s)
{
	char dur[32], *route;
	struct timespec now;
	double secs;

	if (s->state < SESSION_CONNECTING || !log_enabled(LOG_LEVEL_INFO))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	secs = (double)(now.tv_sec - s->started.tv_sec) +
	    (double)(now.tv_nsec - s->started.tv_nsec) / 1e9;
	/* The path as written, whole: the config bounds it only by its line
	 * length, so no fixed buffer here. Out of memory, the bare path. */
	route = registry_route_label(s->route);
	snprintf(dur, sizeof(dur), "%.3fs", secs);
	{
		struct log_field f[] = {
			LOG_NUM("id", s->id),
			LOG_STR("client", s->peer),
			LOG_STR("route", route != NULL ? route :
			    s->route->path),
			LOG_STR("backend", s->backend != NULL ?
			    s->backend->spec : NULL),
			LOG_NUM("up", s->bytes_up),
			LOG_NUM("down", s->bytes_down),
			LOG_STR("duration", dur),
			LOG_NUM("code", s->fin.code != 0 ? s->fin.code : 1006),
			LOG_STR("cause", s->fin.cause[0] != '\0' ?
			    s->fin.cause : NULL),
		};

		log_event(LOG_LEVEL_INFO, "session_end", f,
		    sizeof(f) / sizeof(f[0]));
	}
	free(route);
}

/* Total close: write the summary line and free s. Both legs must be gone. */
static void
session_free(struct session *s)
{
	struct gw_worker *w = s->w;

	session_log_end(s);
	if (s->fin.code != 0)
		metrics_count_close(&w->m, s->fin.code);
	if (s->mr != NULL) {
		metrics_dec(&s->mr->active);
		metrics_inc(&s->mr->ended[s->fin.end_set ? s->fin.end :
		    METRICS_END_OTHER]);
	}
	event_del(&s->state_timer);
	hb_stop(s);
	lookup_cancel(s);
	fleet_session_ended(s);
	LIST_REMOVE(s, entry);
	if (s->ip_counted)
		iplimit_release((struct sockaddr *)&s->peer_sa);
	record_close(s->rec);
	free(s->dial.fixed.spec);
	free(s->dial.proxy_hdr);
	xform_free(s);
	confgen_unref(s->gen);
	w->nsessions--;
	metrics_dec(&w->m.sessions_active);
	atomic_fetch_sub(&gw_sessions_total, 1);
	session_release(w, s);
	if (w->draining && w->nsessions == 0 && w->index != 0)
		event_base_loopexit(w->base, NULL);
}

/* Free a leg; the client's static body first (it hangs on its output). */
static void
session_drop_leg(struct session_leg *leg)
{
	if (leg == &leg->s->client) {
		static_body_free(leg->s->static_body);
		leg->s->static_body = NULL;
	} else
		upstream_cancel(leg->s);	/* a connect's wait on its fd */
	session_leg_free(leg);
}

/* Free s once both legs are gone. Returns -1 if s was freed. */
static int
session_maybe_free(struct session *s)
{
	if (s->client.bev != NULL || s->upstream.bev != NULL)
		return 0;
	session_free(s);
	return -1;
}

/* ------------------------------------------------------------- closing */

/*
 * Will nothing more be owed to leg, so that it may get our EOF? The
 * client: unless we wait for its close reply. The backend: once the
 * client's data is over (its close received, a protocol failure, or the
 * client gone): until a peer has received a close it may still send data,
 * and that data is the backend's (RFC 6455 §1.4, §5.5.1).
 */
static bool
session_leg_owed_nothing(const struct session_leg *leg)
{
	const struct session *s = leg->s;

	if (leg == &s->client)
		return !(s->state == SESSION_CLOSING && s->fin.sent &&
		    !s->fin.received && !s->fin.failed);
	return s->client.bev == NULL || s->fin.received || s->fin.failed;
}

/*
 * May leg be closed now, owed nothing and its output in the kernel, where
 * it would get shutdown() and a drain until its EOF? close() sends the
 * same FIN after what is queued, and makes no reset as long as nothing
 * unread comes:
 * - a leg whose EOF we read already: nothing can follow it (a program
 *   backend keeps its path: xform_stdin_closed() starts its grace);
 * - the client once the close handshake is done: it may send nothing more
 *   (RFC 6455 §5.5.1), and the server still closes first (§7.1.1). One
 *   that already sent bytes after its close frame may send more: it gets
 *   the shutdown and the drain.
 * TLS legs keep both: close_notify goes first, and theirs comes after.
 */
static bool
session_leg_closes_now(const struct session_leg *leg)
{
	const struct session *s = leg->s;

	if (leg->tls)
		return false;
	if (leg->eof)
		return leg == &s->client || s->x == NULL;
	return leg == &s->client && s->fin.sent && s->fin.received &&
	    !s->fin.failed &&
	    evbuffer_get_length(bufferevent_get_input(leg->bev)) == 0;
}

/*
 * leg's EOF (or error) ends it: drop it, and s with its last leg. Unless
 * our last TLS records still wait for room in its socket
 * (session_leg_shut): a peer that half-closed may still read them, so the
 * leg stays, read no more, until they and our FIN are out (or a send
 * fails); session_leg_shut_cb then comes back through
 * session_leg_progress(). The linger bounds a peer that never reads.
 * Returns -1 if s was freed.
 */
static int
session_leg_ended(struct session_leg *leg)
{
	leg->eof = true;
	if (leg->shut_ev != NULL) {
		bufferevent_disable(leg->bev, EV_READ);
		log_debug("session %llu: %s EOF while our last records wait "
		    "for room: they go first", (unsigned long long)leg->s->id,
		    leg == &leg->s->client ? "the client's" : "the backend's");
		return 0;
	}
	session_drop_leg(leg);
	return session_maybe_free(leg->s);
}

int
session_leg_progress(struct session_leg *leg)
{
	struct evbuffer *out;

	if (leg->bev == NULL || !leg->up)
		return 0;	/* session_upstream_ready() comes back here */
	if (!leg->wr_shut) {
		if (leg->held && session_leg_owed_nothing(leg) &&
		    session_leg_closes_now(leg) &&
		    session_leg_send_last(leg) == 0) {
			session_drop_leg(leg);
			return session_maybe_free(leg->s);
		}
		leg->held = false;
		session_leg_flush(leg);
		out = bufferevent_get_output(leg->bev);
		if (evbuffer_get_length(out) > 0) {
			/* The write callback comes back; a peer paused on
			 * this output keeps its half-full mark. */
			if (!leg->peer->paused)
				bufferevent_setwatermark(leg->bev, EV_WRITE,
				    0, 0);
			return 0;
		}
		if (!session_leg_owed_nothing(leg)) {
			if (!leg->eof && !leg->paused)
				session_leg_read_on(leg);
			return 0;
		}
		if (session_leg_closes_now(leg)) {
			session_drop_leg(leg);
			return session_maybe_free(leg->s);
		}
		switch (session_leg_shut(leg)) {
		case -1:
			leg->eof = true;	/* the socket is gone */
			break;
		case 1:
			log_debug("session %llu: the last records wait for "
			    "room, the FIN after them",
			    (unsigned long long)leg->s->id);
			break;
		}
		leg->discard = true;
		if (leg == &leg->s->upstream && leg->s->x != NULL)
			xform_stdin_closed(leg->s);	/* a process: its grace */
	}
	if (leg->eof)
		return session_leg_ended(leg);
	session_leg_read_on(leg);
	return 0;
}

/* Why s ends, as a metrics label, from the first close decision. */
static enum metrics_end
session_end_of(const struct session *s, uint16_t code)
{
	if (s->fin.received)
		return METRICS_END_CLIENT_CLOSE;
	switch (code) {
	case 0:
		return METRICS_END_CLIENT_VANISHED;
	case 1000:
		return METRICS_END_BACKEND_CLOSED;
	case 1001:
		/* Ours is a drain's only when the sessions are being closed
		 * (SIGTERM): a soft stop lets them run, and an idle timeout
		 * labels itself (heartbeat.c). */
		return s->w->closing ? METRICS_END_DRAIN : METRICS_END_IDLE;
	case 1002:
	case 1007:
	case 1009:
		return METRICS_END_PROTOCOL;
	case 1014:
		return s->upstream.up ? METRICS_END_BACKEND_RESET :
		    METRICS_END_BACKEND_UNREACHABLE;
	default:
		return METRICS_END_OTHER;
	}
}

static void
session_set_end(struct session *s, uint16_t code)
{
	if (!s->fin.end_set) {
		s->fin.end = session_end_of(s, code);
		s->fin.end_set = true;
	}
}

/* Add what a bound cut short to the cause (the summary line, and the
 * close reason when the close is still to be sent). */
static void
session_note_cut(struct session *s, const char *what)
{
	size_t len = strlen(s->fin.cause);

	snprintf(s->fin.cause + len, sizeof(s->fin.cause) - len, "%s%s",
	    len > 0 ? "; " : "", what);
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
	    !s->fin.sent && !s->fin.received && s->client.bev != NULL &&
	    s->upstream.bev != NULL && s->upstream.up && !s->upstream.eof;
}

static void
session_close_pend(struct session *s, uint16_t code)
{
	uint64_t bound = SESSION_LINGER_MS;

	/* A drain leaves the second half of drain_timeout to handshakes. */
	if (s->w->draining && s->cfg->drain_timeout_ms / 2 < bound)
		bound = s->cfg->drain_timeout_ms / 2;
	s->fin.pending = true;
	s->fin.pending_code = code;
	s->fin.pending_mark = s->bytes_down;
	s->fin.pending_until = session_now_ms() + bound;
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
	bool moved = s->bytes_down != s->fin.pending_mark;

	s->fin.pending_mark = s->bytes_down;
	return !moved && !s->upstream.paused &&
	    session_leg_unread(&s->upstream) == 0;
}

/* The state timer while a close is pending: close now, or look again. */
static void
session_pending_tick(struct session *s)
{
	if (session_upstream_quiet(s)) {
		session_close(s, s->fin.pending_code, NULL);
		return;
	}
	if (session_now_ms() < s->fin.pending_until) {
		session_timer_ms(&s->state_timer, SESSION_QUIET_MS);
		return;
	}
	log_warnx("session %llu: client=%s closing bound reached: backend "
	    "data cut short (%zu bytes unread, more may follow)",
	    (unsigned long long)s->id, s->peer,
	    session_leg_unread(&s->upstream));
	session_note_cut(s, "backend data cut short");
	session_close(s, s->fin.pending_code, NULL);
}

/* The linger's reference: what is queued and what was relayed, now. */
static void
session_linger_look(struct session *s)
{
	s->fin.linger_mark = session_queued(s);
	s->fin.linger_bytes = s->bytes_up + s->bytes_down;
	s->fin.linger_looked = true;
}

/* OPEN (or CONNECTING) -> CLOSING: the linger runs, heartbeats stop. */
static void
session_closing(struct session *s)
{
	if (s->upstream.bev == NULL || s->upstream.up) {
		/*
		 * What is queued is measured at the first look, not now: a
		 * close is nearly always over before it, and the kernel's
		 * part costs an ioctl per leg. The bound is unchanged: 10 s
		 * without progress, counted from the look.
		 */
		s->fin.linger_looked = false;
		session_timer_ms(&s->state_timer, SESSION_LINGER_LOOK_MS);
	} else {
		/* A connect under way keeps its own (shorter) deadline. */
		session_linger_look(s);
	}
	session_set_state(s, SESSION_CLOSING);
	hb_stop(s);
	/* The backend's bytes are too late for the client from here. */
	s->upstream.discard = true;
	if (s->upstream.paused && s->upstream.bev != NULL)
		bufferevent_enable(s->upstream.bev, EV_READ);
	s->upstream.paused = false;
}

/* Tell the client (or drop it: code 0), then read it on for its reply. */
static void
session_close_client(struct session *s, uint16_t code)
{
	if (code == 0) {
		/* The client is gone or dead: nothing to say to it. */
		session_drop_leg(&s->client);
	} else if (!s->fin.sent && s->client.bev != NULL) {
		s->fin.sent = true;
		s->fin.code = code;
		/* A reply the client's close waits for: it and our FIN in
		 * one segment when the leg closes at once (progress), or
		 * over TLS with the close_notify (tls_shutdown). */
		if (s->fin.received && s->client.tls)
			tls_hold_last(s->client.bev);
		else if (s->fin.received)
			s->client.held = true;
		ws_conn_send_close(s, code, s->fin.cause);
	}
	/*
	 * Its close reply comes after its data, and data before its close
	 * still goes to the backend, under the same flow control: a client
	 * paused on a full backend stays paused.
	 */
	if (s->fin.failed || s->fin.received || s->upstream.bev == NULL)
		s->client.paused = false;
	s->client.self_paused = false;
	if (s->client.bev != NULL && !s->client.paused)
		session_leg_read_on(&s->client);
}

void
session_close(struct session *s, uint16_t code, const char *cause)
{
	if (s->fin.cause[0] == '\0' && cause != NULL) {
		/* snprintf's "%s" cut, without its ~550 instructions. */
		size_t n = strnlen(cause, sizeof(s->fin.cause) - 1);

		memcpy(s->fin.cause, cause, n);
		s->fin.cause[n] = '\0';
	}
	if (s->state == SESSION_HANDSHAKE || s->state == SESSION_HTTP_ERROR) {
		session_set_end(s, code);
		session_drop_leg(&s->client);
		session_drop_leg(&s->upstream);
		session_free(s);
		return;
	}
	if (s->fin.pending) {
		/* Ours still stands unless the client closed or it failed. */
		s->fin.pending = false;
		if (!s->fin.received && (code == 1000 || code == 1001 ||
		    code == 1008))
			code = s->fin.pending_code;
	} else if (session_close_waits(s, code)) {
		session_set_end(s, code);
		session_close_pend(s, code);
		return;
	}
	session_set_end(s, code);
	/* Fail the connection (RFC 6455 §7.1.7): no close reply awaited. */
	if (code == 1002 || code == 1007 || code == 1009)
		s->fin.failed = true;
	if (s->state != SESSION_CLOSING)
		session_closing(s);
	session_close_client(s, code);
	if (session_leg_progress(&s->client) == -1)
		return;
	if (session_leg_progress(&s->upstream) == -1)
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
		    s->state == SESSION_HTTP_ERROR || s->fin.pending)
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

		if (s->fin.cause[0] == '\0')
			snprintf(s->fin.cause, sizeof(s->fin.cause),
			    "shutdown");
		if (left > 0) {
			log_warnx("session %llu: client=%s drain_timeout: %zu "
			    "bytes not delivered", (unsigned long long)s->id,
			    s->peer, left);
			session_note_cut(s, "drain_timeout cut delivery short");
		}
		session_drop_leg(&s->client);
		session_drop_leg(&s->upstream);
		session_free(s);
	}
	/* The worker is ending: its spare sessions and bufferevents go
	 * too. */
	while (w->nspare > 0) {
		s = w->spare[--w->nspare];
		ASAN_UNPOISON_MEMORY_REGION(s, sizeof(*s));
		free(s);
	}
	bev_pool_clear(&w->bevs);
}

/* ------------------------------------------------------------ the relay */

/*
 * Backend bytes to the client: one binary frame per read, the chains moved
 * behind a 2-10 byte header, no copy (RFC 6455 §5.6). A transform of the
 * backend's stream (line or text framing, permessage-deflate) goes here:
 * it takes `in` and queues its own frames through ws_conn_send().
 * Returns -1 if s may be gone (a transform closed it).
 */
static int
session_relay_down(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->upstream.bev);
	size_t len = evbuffer_get_length(in);

	if (len == 0)
		return 0;
	/* --record, --traffic: the bytes new since the last read (a line
	 * still incomplete stays in `in`, seen already). Tested here, as
	 * ws_conn.c does, so a route that does not record pays no calls. */
	if (s->rec != NULL) {
		size_t seen = xform_down_seen(s);

		record_chunk(s->rec, 1, in, seen, len - seen);
	}
	if (xform_down_takes(s)) {
		/* line/text framing, compression (xform.c) */
		int64_t sent = xform_down(s, in);

		if (sent < 0)
			return -1;
		len = (size_t)sent;
	} else
		ws_conn_send(s, WS_CONN_FIN | WS_OP_BINARY, NULL, 0, in);
	s->bytes_down += len;
	metrics_addn(&s->mr->bytes_down, len); /* live in /metrics */
	hb_activity(s);
	if (evbuffer_get_length(bufferevent_get_output(s->client.bev)) >=
	    s->cfg->max_buffer)
		session_leg_pause(&s->upstream, &s->client);
	return 0;
}

/*
 * A backend read before it is queued (see session_leg_take): framed and
 * sent to the client at once, as session_relay_down() would, when the
 * session relays plainly and nothing of the backend waits before it.
 */
static ssize_t
session_relay_down_take(struct session *s, uint8_t *p, size_t n)
{
	int r;

	if (s->state != SESSION_OPEN || s->x != NULL || s->rec != NULL ||
	    s->client.bev == NULL || s->upstream.discard ||
	    evbuffer_get_length(bufferevent_get_input(s->upstream.bev)) != 0)
		return 0;
	if ((r = ws_conn_send_read(s, WS_CONN_FIN | WS_OP_BINARY, p, n)) ==
	    -1) {
		session_close(s, 1011, "internal error: out of memory");
		return LEG_READ_GONE;
	}
	s->bytes_down += n;
	metrics_addn(&s->mr->bytes_down, n); /* live in /metrics */
	hb_activity(s);
	if (r == 1 && evbuffer_get_length(bufferevent_get_output(
	    s->client.bev)) >= s->cfg->max_buffer)
		session_leg_pause(&s->upstream, &s->client);
	return (ssize_t)n;
}

/* leg_read's take hook for both legs (include/leg_read.h): a read that
 * can skip the input buffer. */
static ssize_t
session_leg_take(void *cbarg, uint8_t *p, size_t n)
{
	struct session_leg *leg = cbarg;

	if (leg == &leg->s->client)
		return ws_conn_take(leg->s, p, n);
	return session_relay_down_take(leg->s, p, n);
}

void
session_leg_read_ev(evutil_socket_t fd, short what, void *arg)
{
	leg_read_run(fd, what, arg, session_leg_take);
}

/* What a leg sent, to its peer. Returns -1 if s may be gone. */
static int
session_leg_input(struct session_leg *leg)
{
	if (leg == &leg->s->client)
		return ws_conn_input(leg->s);
	return session_relay_down(leg->s);
}

static void
session_leg_read_cb(struct bufferevent *bev, void *arg)
{
	struct session_leg *leg = arg;
	struct session *s = leg->s;
	struct evbuffer *in = bufferevent_get_input(bev);

	/* TLS: a stream's next records, which OpenSSL read ahead or the
	 * socket holds, taken now while the backend has room; what is left
	 * libevent reads next, in this loop turn (asked before s may go). */
	if (leg->tls) {
		if (s->state == SESSION_OPEN && !leg->discard &&
		    evbuffer_get_length(in) >= SESSION_LIBEVENT_READ)
			session_leg_read_more(leg);
		tls_read_pending(bev);
	}
	if (leg->discard || s->state == SESSION_HTTP_ERROR) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		handshake_read(s);
		return;
	}
	if (!leg->tls && s->state == SESSION_OPEN &&
	    evbuffer_get_length(in) >= SESSION_LIBEVENT_READ)
		session_leg_read_more(leg);
	(void)session_leg_input(leg);
}

/*
 * Either leg's output drained (to its low-water mark): write through
 * again, read what waited on this output, and go on closing.
 */
static void
session_leg_write_cb(struct bufferevent *bev, void *arg)
{
	struct session_leg *leg = arg;
	struct session *s = leg->s;

	session_leg_write_idle(leg);
	if (s->state == SESSION_HTTP_ERROR) {
		session_leg_progress(leg);
		return;
	}
	/* Closing too: the client's data before its close still flows. */
	if (leg->peer->paused && session_leg_resume(leg->peer, leg) &&
	    session_leg_input(leg->peer) == -1)
		return;
	if (leg->self_paused && session_leg_resume(leg, leg) &&
	    session_leg_input(leg) == -1)
		return;
	if (s->state == SESSION_CLOSING)
		session_leg_progress(leg);
	else if (!leg->peer->paused)
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
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
	struct session_leg *leg = arg;
	struct session *s = leg->s;

	if (what & BEV_EVENT_CONNECTED) {
		/* TLS handshake done; the HTTP head is next, perhaps read
		 * ahead with the client's Finished already. */
		tls_handshake_done(bev);
		return;
	}
	if (leg->discard || (s->state == SESSION_CLOSING && s->fin.received)) {
		/* The close handshake is done: the client's EOF is expected.
		 * An error too: OpenSSL calls an EOF without close_notify
		 * one, and a reset fails the held records' next send. */
		(void)session_leg_ended(leg);
		return;
	}
	if (s->state == SESSION_HANDSHAKE) {
		char tlserr[160];

		/* No session yet: say why the connection went, once. */
		log_info("session %llu: client=%s dropped before the upgrade: %s%s%s",
		    (unsigned long long)s->id, s->peer,
		    (what & BEV_EVENT_EOF) ? "connection closed" :
		    "connection error", leg->tls ? " in TLS: " : "",
		    leg->tls ? tls_error(bev, tlserr, sizeof(tlserr)) : "");
		/* Read what is left so closing sends FIN, not RST. */
		session_drain_fd(bufferevent_getfd(bev));
	}
	session_close(s, 0, (what & BEV_EVENT_EOF) ?
	    "client closed the connection without a close frame" :
	    "client connection error");
}

static void
session_upstream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session_leg *leg = arg;
	struct session *s = leg->s;
	char cause[128];
	int err = EVUTIL_SOCKET_ERROR();

	(void)bev;
	if (s->state == SESSION_CLOSING) {
		if (what & BEV_EVENT_ERROR) {
			(void)session_leg_ended(leg);
			return;
		}
		leg->eof = true;
		session_leg_progress(leg);
		return;
	}
	if ((what & BEV_EVENT_EOF) && leg->read_err == 0) {
		leg->eof = true;
		/* A last line, a process's exit status (xform.c). */
		if (s->x != NULL && xform_backend_eof(s) != 0)
			return;
		session_close(s, 1000, "backend closed the connection");
		return;
	}
	if (leg->read_err != 0)
		err = leg->read_err;	/* seen by session_leg_read_more */
	snprintf(cause, sizeof(cause), "bad gateway: backend connection "
	    "error: %s", evutil_socket_error_to_string(err));
	session_drop_leg(leg);
	session_close(s, 1014, cause);
}

void
session_upstream_ready(struct session *s, struct bufferevent *bev)
{
	struct session_leg *u = &s->upstream;
	struct timespec now;

	u->bev = bev;
	u->up = true;
	/* Write what the reads above gather in one go (2.1 caps at 16K). */
	bufferevent_set_max_single_write(bev, 4 * SESSION_READ_CHUNK);
	if (s->client.bev != NULL)
		bufferevent_set_max_single_write(s->client.bev,
		    4 * SESSION_READ_CHUNK);
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_observe(&s->w->m.connect_latency,
	    (uint64_t)((now.tv_sec - s->dial.started.tv_sec) * 1000000 +
	    (now.tv_nsec - s->dial.started.tv_nsec) / 1000));
	bufferevent_setcb(bev, session_leg_read_cb, session_leg_write_cb,
	    session_upstream_event_cb, u);
	if (s->state == SESSION_CLOSING) {
		/* The client left while we connected: deliver, then EOF. */
		session_timer_ms(&s->state_timer, SESSION_LINGER_MS);
		session_leg_progress(u);
		return;
	}
	event_del(&s->state_timer);
	session_set_state(s, SESSION_OPEN);
	fleet_session_began(s);
	if (u->tls) {
		bufferevent_enable(bev, EV_READ | EV_WRITE);
	} else {
		/* Write-through: what the client sent meanwhile goes now
		 * (our own connect left EV_WRITE off already). */
		if (bufferevent_get_enabled(bev) & EV_WRITE)
			bufferevent_disable(bev, EV_WRITE);
		bufferevent_enable(bev, EV_READ);
		session_leg_flush(u);
	}
	log_debug("session %llu: connected to %s", (unsigned long long)s->id,
	    s->backend->spec);
	/* All taken: no write callback will end a pause (s may go). */
	if (!u->tls && evbuffer_get_length(bufferevent_get_output(bev)) == 0 &&
	    s->client.paused && session_leg_resume(&s->client, u))
		(void)ws_conn_input(s);
}

void
session_upstream_failed(struct session *s, uint16_t code, const char *reason)
{
	session_drop_leg(&s->upstream);
	if (s->state == SESSION_CLOSING)
		session_maybe_free(s);
	else
		session_close(s, code, reason);
}

/* --------------------------------------------------------------- timers */

size_t
session_queued(const struct session *s)
{
	return session_leg_queued(&s->client) +
	    static_body_left(s->static_body) +	/* still to be read */
	    session_leg_queued(&s->upstream);
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
	bool moved = (now > 0 && now < s->fin.linger_mark) ||
	    bytes != s->fin.linger_bytes;

	s->fin.linger_mark = now;
	s->fin.linger_bytes = bytes;
	return moved;
}

/* The linger ends a stalled close: name what it drops. */
static void
session_linger_cut(struct session *s)
{
	size_t left = session_queued(s);
	bool reply = s->fin.sent && !s->fin.received && !s->fin.failed;

	if (left == 0 && !reply)
		return;
	log_warnx("session %llu: client=%s linger over after %ums without "
	    "progress: %zu bytes not delivered%s", (unsigned long long)s->id,
	    s->peer, (unsigned)SESSION_LINGER_MS, left,
	    reply ? ", no close reply from the client" : "");
	if (left > 0)
		session_note_cut(s, "linger cut delivery short");
}

/* Handshake, connect, pending-close and linger deadlines: a dispatcher. */
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
		metrics_inc(&s->w->m.handshake_timeouts);
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
		/* Only a pending close arms it in this state. */
		session_pending_tick(s);
		break;
	case SESSION_CLOSING:
		if (!s->fin.linger_looked) {
			/* Still closing after a moment: from here it counts. */
			session_linger_look(s);
			session_timer_ms(&s->state_timer, SESSION_LINGER_MS);
			break;
		}
		/* Still draining toward a slow peer? Give it another round. */
		if (session_linger_progress(s)) {
			session_timer_ms(&s->state_timer, SESSION_LINGER_MS);
			break;
		}
		/* Linger over: whatever is left goes now, and the log says. */
		session_linger_cut(s);
		session_drop_leg(&s->client);
		session_drop_leg(&s->upstream);
		session_maybe_free(s);
		break;
	}
}
