/*
 * upstream: see include/upstream.h.
 *
 * While connecting, s->upstream.bev is the attempt's bufferevent: the client's
 * frames are already unmasked into its output buffer, which libevent
 * flushes once connected. A failed attempt hands that buffer on to the next
 * attempt, so nothing the client sent is lost or reordered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_struct.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bev_pool.h"
#include "config.h"
#include "confgen.h"
#include "gw.h"
#include "leg_read.h"
#include "log.h"
#include "route.h"
#include "session-int.h"
#include "tls.h"
#include "upstream.h"
#include "xform.h"

void
upstream_tune_socket(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
}

/* Why the attempt on bev failed, as a short text for logs and 1014. */
static const char *
upstream_error_text(struct bufferevent *bev, int err)
{
	int dns_err = bev != NULL ? bufferevent_socket_get_dns_error(bev) : 0;

	if (dns_err != 0)
		return "name resolution failed";
	if (err == 0)
		return "connection failed";
	return evutil_socket_error_to_string(err);
}

/* The backend for s's current attempt, or NULL when all were tried. */
static const struct config_addr *
upstream_backend(const struct session *s)
{
	if (s->dial.has_fixed)
		return s->dial.attempt == 0 ? &s->dial.fixed : NULL;
	return route_backend(s->route, s->dial.rr, s->dial.attempt);
}

/* One attempt failed: log it and go on to the next backend. */
static int
upstream_failover(struct session *s, const char *why)
{
	char reason[160];

	metrics_inc(&s->w->m.upstream_connect_failed);
	log_warnx("session %llu: backend %s: %s", (unsigned long long)s->id,
	    s->backend->spec, why);
	snprintf(reason, sizeof(reason), "bad gateway: %s", why);
	s->dial.attempt++;
	if (s->state == SESSION_CLOSING) {
		/* The client is gone: nobody waits for another attempt. */
		session_upstream_failed(s, 1014, reason);
		return -1;
	}
	if (upstream_backend(s) == NULL) {
		session_upstream_failed(s, 1014, reason);
		return -1;
	}
	return upstream_connect(s);
}

static int	upstream_tls_start(struct session *, struct bufferevent *);

/* The attempt's socket is connected (TCP, Unix; a TLS backend's TCP leg
 * or its TLS layer): on to TLS, or hand the leg to the session. */
static void
upstream_up(struct session *s, struct bufferevent *bev)
{
	if (!s->upstream.tls) {
		/* TCP is up; nothing was written yet. */
		if (s->backend->kind == CONFIG_ADDR_TCP)
			upstream_tune_socket(bufferevent_getfd(bev));
		if (s->backend->tls) {
			upstream_tls_start(s, bev);
			return;
		}
		/* The socket is final (an exec: program's too, set
		 * before this): no FIONREAD per read. No read runs
		 * before session_upstream_ready(), just below, has made
		 * the leg the callbacks' argument, which the read
		 * event's take hook reads. */
		leg_read_own_cb(bev, session_leg_read_ev);
		if (s->dial.proxy_hdr_len > 0)
			evbuffer_prepend(bufferevent_get_output(bev),
			    s->dial.proxy_hdr, s->dial.proxy_hdr_len);
	}
	session_upstream_ready(s, bev);
}

static void
upstream_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	int err = EVUTIL_SOCKET_ERROR();

	if (s->dial.in_connect) {
		/* Failed inside bufferevent_socket_connect*(): report later. */
		s->dial.err = err != 0 ? err : ECONNREFUSED;
		return;
	}
	if (what & BEV_EVENT_CONNECTED) {
		upstream_up(s, bev);
		return;
	}
	if (s->upstream.tls) {
		char buf[200], why[240];

		snprintf(why, sizeof(why), "TLS: %s", tls_error(bev, buf,
		    sizeof(buf))[0] != '\0' ? buf : "handshake failed");
		upstream_failover(s, why);
		return;
	}
	upstream_failover(s, upstream_error_text(bev, err));
}

/*
 * The TCP leg of a tls: backend is up: speak TLS over it. Client bytes
 * already queued move above the TLS layer; a PROXY header stays below it
 * (it is for the TCP peer, before any TLS). Returns -1 if s is gone.
 */
static int
upstream_tls_start(struct session *s, struct bufferevent *under)
{
	const struct confgen_route *gr = &s->gen->routes[s->route - s->cfg->routes];
	const char *name = s->route->backend_server_name != NULL ?
	    s->route->backend_server_name : s->backend->host;
	struct evbuffer *raw = bufferevent_get_output(under);
	struct bufferevent *bev;

	bev = tls_connect_bev(s->w->base, gr->backend_tls, under, name);
	if (bev == NULL)
		return upstream_failover(s, "TLS: cannot set up");
	s->upstream.bev = bev;
	s->upstream.pooled = false;	/* a filter: under is bev's now */
	s->upstream.tls = true;
	bufferevent_setcb(bev, NULL, NULL, upstream_event_cb, s);
	evbuffer_add_buffer(bufferevent_get_output(bev), raw);
	if (s->dial.proxy_hdr_len > 0)
		evbuffer_add(raw, s->dial.proxy_hdr, s->dial.proxy_hdr_len);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	return 0;
}

void
upstream_cancel(struct session *s)
{
	/* bev is freed next: its ev_read needs no callback of its own. */
	if (s->dial.waiting) {
		event_del(&s->upstream.bev->ev_read);
		s->dial.waiting = false;
	}
}

/* Our connect's socket became writable or reported an error. */
static void
upstream_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bufferevent *bev = arg;
	struct session *s;
	socklen_t len = sizeof(int);
	int err = 0;

	bufferevent_getcb(bev, NULL, NULL, NULL, (void **)&s);
	s->dial.waiting = false;	/* not persistent: it is off again */
	/* EV_WRITE alone: connected, and nothing to read yet. */
	if ((what & EV_READ) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err != 0) {
		upstream_failover(s, evutil_socket_error_to_string(err));
		return;
	}
	upstream_up(s, bev);	/* leg_read_own: ev_read is bev's own again */
}

/*
 * One attempt on a TCP backend written as an address literal, connected
 * by us rather than by bufferevent_socket_connect(), which waits for
 * EV_WRITE and then asks getsockopt(SO_ERROR) on every connect. Our wait
 * is on both directions instead: libevent turns EPOLLERR (a refused or
 * unreachable connect) into EV_READ|EV_WRITE, so EV_WRITE alone means the
 * connection is up with nothing to read yet, and only when EV_READ comes
 * too (an error, or a backend that speaks first) is the socket asked. The
 * socket is bev's from its birth (upstream_connect; BEV_OPT_CLOSE_ON_FREE
 * frees it with a failed attempt), with bev's own events off until
 * session_upstream_ready() turns reading on; meanwhile the client's bytes
 * wait in bev's output (session_leg_flush leaves a leg that is not up
 * alone).
 *
 * The wait is bev's own ev_read, assigned our callback: an event of our
 * own in every session cost ~150 bytes that nothing used once the backend
 * was up. Once connected, upstream_up() -> leg_read_own() assigns ev_read
 * its read callback, as it would anyway, so nothing is given back; a
 * failed or cancelled attempt's bev is freed. Until then nothing enables
 * reading on a leg that is not up (session_leg_progress and the pause
 * code look at leg->up), so libevent neither adds nor deletes ev_read
 * meanwhile. Returns 0, or -1 (s->dial.err).
 */
static int
upstream_start_tcp(struct session *s, const struct config_addr *a,
    struct bufferevent *bev)
{
	int fd = bufferevent_getfd(bev);	/* upstream_connect's socket */

	/* bev writes nothing until session_upstream_ready(). */
	bufferevent_disable(bev, EV_WRITE);
	if (connect(fd, (const struct sockaddr *)&a->sa, a->salen) == -1 &&
	    errno != EINPROGRESS && errno != EINTR) {
		s->dial.err = errno;
		return -1;
	}
	/* The argument stays bev: libevent's finalizer, when bev is freed,
	 * takes it from the event (s is bev's event callback argument). */
	event_assign(&bev->ev_read, s->w->base, fd,
	    EV_READ | EV_WRITE | EV_FINALIZE, upstream_wait_cb, bev);
	if (event_add(&bev->ev_read, NULL) == -1) {
		s->dial.err = ENOMEM;
		return -1;
	}
	s->dial.waiting = true;
	return 0;
}

/* Does upstream_start_tcp() connect to a, rather than libevent? */
static bool
upstream_dials_itself(const struct config_addr *a)
{
	return a->kind == CONFIG_ADDR_TCP && a->salen > 0 && !a->tls;
}

/* Start one attempt on backend a with bev. Returns 0, or -1 (s->dial.err). */
static int
upstream_start(struct session *s, const struct config_addr *a,
    struct bufferevent *bev)
{
	struct sockaddr_un sun;
	int r;

	s->dial.in_connect = true;
	s->dial.err = 0;
	if (a->kind == CONFIG_ADDR_EXEC) {
		/* The program started before the 101 (xform.c): its socket
		 * is "connected" from the loop, as a socket connect is. */
		int fd = xform_exec_fd(s);

		s->dial.in_connect = false;
		if (fd == -1) {
			s->dial.err = ECHILD;
			return -1;
		}
		bufferevent_setfd(bev, fd);
		bufferevent_trigger_event(bev, BEV_EVENT_CONNECTED,
		    BEV_TRIG_DEFER_CALLBACKS);
		return 0;
	}
	if (a->kind == CONFIG_ADDR_UNIX) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
		r = bufferevent_socket_connect(bev, (struct sockaddr *)&sun,
		    sizeof(sun));
	} else if (upstream_dials_itself(a)) {
		s->dial.in_connect = false;
		return upstream_start_tcp(s, a, bev);
	} else if (a->salen > 0) {
		/* A literal, parsed at load (config_addr.c): libevent's
		 * connect_hostname would take it too, but through its
		 * getaddrinfo emulation, allocating on every connect. */
		r = bufferevent_socket_connect(bev,
		    (const struct sockaddr *)&a->sa, (int)a->salen);
	} else {
		r = bufferevent_socket_connect_hostname(bev, s->w->dns,
		    AF_UNSPEC, a->host, a->port);
	}
	s->dial.in_connect = false;
	if (r == -1 && s->dial.err == 0)
		s->dial.err = errno != 0 ? errno : ECONNREFUSED;
	return s->dial.err != 0 ? -1 : 0;
}

int
upstream_connect(struct session *s)
{
	struct bufferevent *bev, *old = s->upstream.bev;
	char why[128];
	int fd = -1;

	s->backend = upstream_backend(s);
	s->dial.err = 0;
	/* Our own connect's socket goes into the bufferevent at its birth
	 * (a bufferevent_setfd() later costs ~600 instructions). */
	if (upstream_dials_itself(s->backend) &&
	    (fd = socket(s->backend->sa.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1)
		s->dial.err = errno;
	if (fd != -1)
		bev = bev_pool_get(&s->w->bevs, s->w->base, fd);
	else
		bev = bufferevent_socket_new(s->w->base, -1,
		    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		if (fd != -1)
			close(fd);
		session_upstream_failed(s, 1011, "internal error: out of memory");
		return -1;
	}
	if (fd != -1) {
		/* As bufferevent_setfd() (so libevent's connect) leaves them:
		 * a PROXY header is prepended to the output, and a failed
		 * attempt's output moves on from its start. */
		evbuffer_unfreeze(bufferevent_get_input(bev), 0);
		evbuffer_unfreeze(bufferevent_get_output(bev), 1);
	}
	bufferevent_setcb(bev, NULL, NULL, upstream_event_cb, s);
	s->upstream.tls = false;
	upstream_cancel(s);	/* the failed attempt's wait, if ours */
	if (old != NULL) {
		/* Client bytes queued toward the failed attempt move on. */
		evbuffer_add_buffer(bufferevent_get_output(bev),
		    bufferevent_get_output(old));
		session_leg_free(&s->upstream);	/* old */
	}
	s->upstream.bev = bev;
	s->upstream.pooled = fd != -1;	/* bev_pool_get()'s, our connect */
	if (s->dial.err != 0 || upstream_start(s, s->backend, bev) == -1) {
		if (s->dial.err == EMFILE || s->dial.err == ENFILE) {
			/* Our shortage, not the backend's: 1013, no failover. */
			log_warnx("session %llu: no descriptor for a backend "
			    "socket", (unsigned long long)s->id);
			session_upstream_failed(s, 1013,
			    "try again later: gateway out of descriptors");
			return -1;
		}
		snprintf(why, sizeof(why), "%s",
		    upstream_error_text(bev, s->dial.err));
		return upstream_failover(s, why);
	}
	if (s->state == SESSION_CONNECTING)
		session_timer_ms(&s->state_timer, s->route->connect_timeout_ms);
	log_debug("session %llu: connecting to %s", (unsigned long long)s->id,
	    s->backend->spec);
	return 0;
}

int
upstream_timeout(struct session *s)
{
	return upstream_failover(s, "connect timeout");
}
