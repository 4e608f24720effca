/*
 * upstream: connect a session to its route's backends (TCP, with
 * non-blocking name resolution, or Unix socket), with connect_timeout and
 * failover to the next backend on any connect error.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

struct session;

/*
 * Start connecting s to the backend for its next attempt. Bytes already
 * queued toward a failed attempt move to the next one, in order. On success
 * session_upstream_ready() is called later, from the event loop. When every
 * backend has failed, the session is closed with 1014 ("bad gateway:
 * <reason>"). Returns 0 while s lives, -1 if s was closed (and may be
 * freed): the caller returns at once.
 */
int	upstream_connect(struct session *s);

/* Connect timeout fired (s->state_timer in CONNECTING). Same return. */
int	upstream_timeout(struct session *s);

/* TCP_NODELAY and SO_KEEPALIVE on a TCP socket (callers know it is one). */
void	upstream_tune_socket(int fd);

#endif
