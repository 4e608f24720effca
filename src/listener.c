/*
 * listener: see include/listener.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>

#include "config.h"
#include "gw.h"
#include "listener.h"
#include "log.h"
#include "session.h"
#include "upstream.h"

#define LISTENER_BACKLOG	4096
#define LISTENER_PAUSE_MS	1000
/* Most connections one wakeup accepts (HAProxy's tune.maxaccept). */
#define LISTENER_BATCH_MAX	64
/* Where a listen address came from, for errors (no file: command line). */
#define LISTENER_FILE(cfg)	((cfg)->file != NULL ? (cfg)->file : "command line")

/*
 * A connection on a "tls auto" listener whose first byte has not come
 * yet. TLS clients open with a handshake record, content type 22 (RFC
 * 8446 §5.1, RFC 5246 §6.2.1); an HTTP request starts with a method
 * letter. The byte is only peeked at, so the session reads it again.
 */
struct listener_sniff {
	LIST_ENTRY(listener_sniff) entry;
	struct listener		*l;
	int			 fd;
	struct sockaddr_storage	 sa;
	socklen_t		 salen;
	struct event		 ev;
};

#define LISTENER_TLS_RECORD_HANDSHAKE	0x16

struct listener {
	LIST_ENTRY(listener)	 entry;
	LIST_HEAD(, listener_sniff) sniffs;	/* tls auto: first byte due */
	size_t			 nsniffs;
	struct gw_worker	*w;
	int			 fd;		/* the listening socket */
	struct event		 ev;		/* fd readable: accept */
	unsigned		 batch;		/* accepts a wakeup may make
						 * without asking for one more
						 * (listener_accept_cb) */
	char			*unix_path;	/* to unlink at close */
	char			 name[128];	/* for logs */
	bool			 tls;		/* wss: TLS first */
	const struct config_addr *addr;		/* what it was opened for */
	struct event		 pause_timer;
};

/*
 * The first worker's listener list, as the other workers read it to share
 * its Unix and fd: sockets (listener_share). Those reads run in the other
 * workers' threads, on a reload while the first worker (the main thread)
 * may be taking the next one or draining: the first worker changes its
 * list, and the addr of its listeners, under this lock; its own reads
 * (its thread alone writes) and the other workers' lists need none.
 */
static pthread_mutex_t	 listener_first_lock = PTHREAD_MUTEX_INITIALIZER;

static void
listener_first_enter(const struct gw_worker *w)
{
	if (w->index == 0)
		pthread_mutex_lock(&listener_first_lock);
}

static void
listener_first_leave(const struct gw_worker *w)
{
	if (w->index == 0)
		pthread_mutex_unlock(&listener_first_lock);
}

static void
listener_sniff_free(struct listener_sniff *sn, bool close_fd)
{
	LIST_REMOVE(sn, entry);
	sn->l->nsniffs--;
	event_del(&sn->ev);
	if (close_fd)
		close(sn->fd);
	free(sn);
}

static void
listener_sniff_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener_sniff *sn = arg;
	struct listener *l = sn->l;
	unsigned char b;
	ssize_t n;

	if (what & EV_TIMEOUT) {
		log_debug("%s: no first byte within handshake_timeout; "
		    "closing", l->name);
		listener_sniff_free(sn, true);
		return;
	}
	n = recv(fd, &b, 1, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;		/* EV_PERSIST: wait on */
	if (n != 1) {
		listener_sniff_free(sn, true);	/* EOF or reset: nothing said */
		return;
	}
	session_new(l->w, sn->fd, (struct sockaddr *)&sn->sa, sn->salen,
	    b == LISTENER_TLS_RECORD_HANDSHAKE, false);
	listener_sniff_free(sn, false);
}

/*
 * tls auto: wait for the first byte before choosing. Bounded by the
 * handshake timeout, and by max_connections waiting at once.
 */
static void
listener_sniff_start(struct listener *l, int fd, const struct sockaddr *sa,
    int salen)
{
	uint64_t ms = l->w->cfg->handshake_timeout_ms;
	struct timeval tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };
	struct listener_sniff *sn;

	if (l->nsniffs >= l->w->cfg->max_connections ||
	    (size_t)salen > sizeof(sn->sa) ||
	    (sn = calloc(1, sizeof(*sn))) == NULL) {
		close(fd);
		return;
	}
	sn->l = l;
	sn->fd = fd;
	memcpy(&sn->sa, sa, (size_t)salen);
	sn->salen = (socklen_t)salen;
	event_assign(&sn->ev, l->w->base, fd, EV_READ | EV_PERSIST,
	    listener_sniff_cb, sn);
	LIST_INSERT_HEAD(&l->sniffs, sn, entry);
	l->nsniffs++;
	event_add(&sn->ev, &tv);
}

/* A connection accepted on l: to a session, or to the tls auto sniff. */
static void
listener_take(struct listener *l, int fd, struct sockaddr *sa, socklen_t salen)
{
	if (l->addr->tls_auto) {
		listener_sniff_start(l, fd, sa, (int)salen);
		return;
	}
	session_new(l->w, fd, sa, salen, l->tls, l->addr->proxy_protocol);
}

/* Out of descriptors: stop accepting for a while rather than spin. */
static void
listener_accept_failed(struct listener *l, int err)
{
	struct timeval tv = { LISTENER_PAUSE_MS / 1000,
	    (LISTENER_PAUSE_MS % 1000) * 1000 };

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warnx("%s: accept: %s; pausing %d ms (%llu sessions)",
		    l->name, strerror(err), LISTENER_PAUSE_MS,
		    (unsigned long long)l->w->nsessions);
		metrics_inc(&l->w->m.accept_paused);
		event_del(&l->ev);
		evtimer_add(&l->pause_timer, &tv);
		return;
	}
	log_warnx("%s: accept: %s", l->name, strerror(err));
}

/*
 * The listening socket is readable. libevent's evconnlistener accepts
 * until accept4() fails with EAGAIN, so below saturation, where a wakeup
 * finds one connection, every connection costs a second, empty accept4
 * (1 of ~28 syscalls per connect cycle). Here a wakeup accepts up to
 * l->batch connections and stops there without asking for one more: the
 * socket is level-triggered, so what is left wakes the loop again. A
 * wakeup that used its whole batch doubles it (to LISTENER_BATCH_MAX),
 * so a burst is accepted in growing batches; one that ran into EAGAIN
 * sets it to what it found, at least 1. At one connection per wakeup
 * that asks for one more every second time; under load (32 connect loops
 * at once) it makes as many syscalls per connection as accepting until
 * EAGAIN does, where one accept per wakeup would cost 0.3 more
 * epoll_wait per connection than it saves (docs/PERFORMANCE.md).
 */
static void
listener_accept_cb(evutil_socket_t lfd, short what, void *arg)
{
	struct listener *l = arg;
	struct sockaddr_storage ss;
	socklen_t len;
	unsigned n = 0;
	int fd;

	(void)what;
	for (;;) {
		len = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1)
			break;
		listener_take(l, fd, (struct sockaddr *)&ss, len);
		if (++n >= l->batch) {
			if (l->batch < LISTENER_BATCH_MAX)
				l->batch *= 2;
			return;
		}
	}
	/* What evconnlistener retries too (EVUTIL_ERR_ACCEPT_RETRIABLE). */
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
	    errno == ECONNABORTED) {
		l->batch = n > 1 ? n : 1;
		return;
	}
	listener_accept_failed(l, errno);
}

static void
listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	event_add(&l->ev, NULL);
}

static int
listener_add(struct gw_worker *w, int fd, const char *name,
    const char *unix_path, const struct config_addr *a)
{
	struct listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("listener: calloc");
		close(fd);
		return -1;
	}
	l->w = w;
	l->tls = a->tls;
	l->addr = a;
	LIST_INIT(&l->sniffs);
	snprintf(l->name, sizeof(l->name), "%s%s%s", name,
	    a->tls_auto ? " (tls or plain)" : a->tls ? " (tls)" : "",
	    a->proxy_protocol ? " (proxy_protocol)" :
	    "");
	l->fd = fd;
	l->batch = 1;
	event_assign(&l->ev, w->base, fd, EV_READ | EV_PERSIST,
	    listener_accept_cb, l);
	if (event_add(&l->ev, NULL) == -1) {
		log_warnx("%s: cannot watch the socket", name);
		close(fd);
		free(l);
		return -1;
	}
	if (unix_path != NULL)
		l->unix_path = strdup(unix_path);
	evtimer_assign(&l->pause_timer, w->base, listener_resume_cb, l);
	listener_first_enter(w);
	LIST_INSERT_HEAD(&w->listeners, l, entry);
	listener_first_leave(w);
	if (w->index == 0)
		log_info("listening on %s", l->name);
	return 0;
}

/* A socket set up the way every listener wants it. */
static int
listener_socket(int family)
{
	int fd, one = 1;

	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (family != AF_UNIX) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Each worker binds its own socket; the kernel spreads
		 * connections across them. */
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
		/* Accepted sockets inherit TCP_NODELAY and SO_KEEPALIVE
		 * from the listener (Linux copies both into the child): two
		 * setsockopt calls once here instead of on every client. */
		upstream_tune_socket(fd);
	}
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	return fd;
}

/*
 * SO_REUSEPORT would let a second wsgate (or any process of ours) share
 * the port silently, splitting connections. The first worker first binds
 * a plain socket there, so a port already taken fails as it should.
 */
static int
listener_probe_free(const struct addrinfo *ai)
{
	int fd, one = 1, r;

	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	r = bind(fd, ai->ai_addr, ai->ai_addrlen);
	close(fd);
	return r;
}

static int
listener_open_tcp(struct gw_worker *w, const struct config_addr *a)
{
	struct addrinfo hints, *res, *ai;
	char port[8], host[NI_MAXHOST], name[160];
	int fd = -1, e, n = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", a->port);
	e = getaddrinfo(a->host != NULL && a->host[0] != '\0' ? a->host : NULL,
	    port, &hints, &res);
	if (e != 0) {
		log_warnx("%s:%d: listen %s: %s", LISTENER_FILE(w->cfg), a->line,
		    a->spec, gai_strerror(e));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = -1;
		getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host),
		    NULL, 0, NI_NUMERICHOST);
		snprintf(name, sizeof(name), ai->ai_family == AF_INET6 ?
		    "[%s]:%s" : "%s:%s", host, port);
		if ((w->index == 0 && listener_probe_free(ai) == -1) ||
		    (fd = listener_socket(ai->ai_family)) == -1 ||
		    bind(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
		    listen(fd, LISTENER_BACKLOG) == -1) {
			log_warn("%s:%d: listen %s", LISTENER_FILE(w->cfg), a->line,
			    name);
			if (fd != -1)
				close(fd);
			freeaddrinfo(res);
			return -1;
		}
		if (listener_add(w, fd, name, NULL, a) == -1) {
			freeaddrinfo(res);
			return -1;
		}
		n++;
	}
	freeaddrinfo(res);
	return n > 0 ? 0 : -1;
}

/* Remove a socket file left by a dead process; refuse a live one. */
static int
listener_unlink_stale(const char *path, const struct sockaddr_un *sun)
{
	struct stat st;
	int fd, r;

	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		return -1;
	}
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	r = connect(fd, (const struct sockaddr *)sun, sizeof(*sun));
	close(fd);
	if (r == 0) {
		errno = EADDRINUSE;
		return -1;
	}
	return unlink(path);
}

/* Are a and b the same listener (address and flags)? */
static bool
listener_same(const struct config_addr *a, const struct config_addr *b)
{
	return a->tls == b->tls && a->tls_auto == b->tls_auto &&
	    a->mode == b->mode && a->proxy_protocol == b->proxy_protocol &&
	    strcmp(a->spec, b->spec) == 0;
}

/*
 * Unix sockets cannot be bound twice (nor can an inherited one be): workers
 * after the first accept on a duplicate of the first worker's socket. Runs
 * in w's thread; first's list is read under listener_first_lock, and
 * matched by address, not by pointer: first may have taken a newer
 * configuration than the one w is opening.
 */
static int
listener_share(struct gw_worker *w, const struct gw_worker *first,
    const struct config_addr *a, const char *name)
{
	const struct listener *l;
	int fd = -1, err = 0;

	pthread_mutex_lock(&listener_first_lock);
	LIST_FOREACH(l, &first->listeners, entry) {
		if (!listener_same(l->addr, a))
			continue;
		if ((fd = fcntl(l->fd, F_DUPFD_CLOEXEC, 0)) == -1)
			err = errno;
		break;
	}
	pthread_mutex_unlock(&listener_first_lock);
	if (l == NULL) {
		log_warnx("%s: not bound by the first worker", name);
		return -1;
	}
	if (fd == -1) {
		errno = err;
		log_warn("%s: dup", name);
		return -1;
	}
	return listener_add(w, fd, name, NULL, a);
}

static int
listener_open_unix(struct gw_worker *w, const struct gw_worker *first,
    const struct config_addr *a)
{
	struct sockaddr_un sun;
	char name[160];
	int fd;

	snprintf(name, sizeof(name), "unix:%s", a->path);
	if (first != NULL)
		return listener_share(w, first, a, name);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", a->path);
	if (listener_unlink_stale(a->path, &sun) == -1 ||
	    (fd = listener_socket(AF_UNIX)) == -1) {
		log_warn("%s:%d: listen %s", LISTENER_FILE(w->cfg), a->line, name);
		return -1;
	}
	/* mode= before listen(): nobody can connect in between. */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    (a->mode != 0 && chmod(a->path, (mode_t)a->mode) == -1) ||
	    listen(fd, LISTENER_BACKLOG) == -1) {
		log_warn("%s:%d: listen %s", LISTENER_FILE(w->cfg), a->line, name);
		close(fd);
		return -1;
	}
	return listener_add(w, fd, name, a->path, a);
}

/*
 * fd:N, a socket that is already listening (inetd's stdin in "wait"
 * mode). We accept on a duplicate, so N itself stays as it was.
 */
static int
listener_open_fd(struct gw_worker *w, const struct gw_worker *first,
    const struct config_addr *a)
{
	int fd, on = 0, fl;
	socklen_t len = sizeof(on);
	char name[160];

	snprintf(name, sizeof(name), "fd:%d", a->fd);
	if (first != NULL)
		return listener_share(w, first, a, name);
	if (getsockopt(a->fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == -1 ||
	    !on) {
		if (on == 0 && errno != EBADF && errno != ENOTSOCK)
			errno = EINVAL;
		log_warn("%s:%d: listen %s: not a listening socket",
		    LISTENER_FILE(w->cfg), a->line, name);
		return -1;
	}
	if ((fd = fcntl(a->fd, F_DUPFD_CLOEXEC, 0)) == -1 ||
	    (fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) {
		log_warn("%s:%d: listen %s", LISTENER_FILE(w->cfg), a->line,
		    name);
		if (fd != -1)
			close(fd);
		return -1;
	}
	/* A TCP socket gets what listener_socket() gives ours, for its
	 * accepted sockets to inherit. */
	len = sizeof(on);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &on, &len) == 0 &&
	    (on == AF_INET || on == AF_INET6))
		upstream_tune_socket(fd);
	return listener_add(w, fd, name, NULL, a);
}

static int
listener_open_one(struct gw_worker *w, const struct gw_worker *first,
    const struct config_addr *a)
{
	if (a->kind == CONFIG_ADDR_FD)
		return listener_open_fd(w, first, a);
	if (a->kind == CONFIG_ADDR_UNIX)
		return listener_open_unix(w, first, a);
	return listener_open_tcp(w, a);
}

int
listener_open_all(struct gw_worker *w, const struct gw_worker *first,
    const struct config *cfg)
{
	size_t i;

	for (i = 0; i < cfg->nlistens; i++) {
		if (listener_open_one(w, first, &cfg->listens[i]) == -1) {
			listener_close_all(w);
			return -1;
		}
	}
	return 0;
}

static void
listener_free(struct listener *l)
{
	while (!LIST_EMPTY(&l->sniffs))
		listener_sniff_free(LIST_FIRST(&l->sniffs), true);
	listener_first_enter(l->w);
	LIST_REMOVE(l, entry);
	listener_first_leave(l->w);
	event_del(&l->pause_timer);
	event_del(&l->ev);
	close(l->fd);
	if (l->unix_path != NULL) {
		unlink(l->unix_path);
		free(l->unix_path);
	}
	free(l);
}

/* The address of ncfg that is the same listener as a, or NULL. */
static const struct config_addr *
listener_find(const struct config *ncfg, const struct config_addr *a)
{
	size_t i;

	for (i = 0; i < ncfg->nlistens; i++)
		if (listener_same(&ncfg->listens[i], a))
			return &ncfg->listens[i];
	return NULL;
}

int
listener_reload(struct gw_worker *w, const struct gw_worker *first,
    const struct config *ncfg)
{
	struct listener *l, *next;
	const struct config_addr *a;
	bool kept;
	size_t i;
	int rc = 0;

	for (l = LIST_FIRST(&w->listeners); l != NULL; l = next) {
		next = LIST_NEXT(l, entry);
		if ((a = listener_find(ncfg, l->addr)) != NULL) {
			listener_first_enter(w);
			l->addr = a;
			listener_first_leave(w);
			continue;
		}
		if (w->index == 0)
			log_info("no longer listening on %s", l->name);
		listener_free(l);
	}
	for (i = 0; i < ncfg->nlistens; i++) {
		kept = false;
		LIST_FOREACH(l, &w->listeners, entry)
			if (l->addr == &ncfg->listens[i])
				kept = true;
		if (!kept && listener_open_one(w, first, &ncfg->listens[i]) == -1)
			rc = -1;
	}
	return rc;
}

void
listener_close_all(struct gw_worker *w)
{
	struct listener *l;

	while ((l = LIST_FIRST(&w->listeners)) != NULL)
		listener_free(l);
}
