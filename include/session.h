/*
 * session: one client <-> backend pair, from accept to the last byte.
 *
 * States: HANDSHAKE (reading the request head) -> CONNECTING (101 sent,
 * backend being connected; client frames are decoded and queued toward it)
 * -> OPEN (relaying) -> CLOSING (close frame queued or received; legs
 * flushing) -> freed. session_close() is the one way to end a session.
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct gw_worker;
struct session;
struct bufferevent;

/*
 * Start a session on an accepted client socket fd (peer address sa); tls:
 * it came in on a "tls" listener, so TLS is spoken first; proxy: on a
 * "proxy_protocol" listener, so a PROXY v1/v2 header comes before all.
 * fd belongs to the session from here on, even on failure (it is closed).
 * Returns 0, or -1 when the session could not be set up (logged).
 */
int	session_new(struct gw_worker *w, int fd, const struct sockaddr *sa,
	    socklen_t salen, bool tls, bool proxy);

/*
 * Answer a short HTTP error straight on an accepted socket we will not
 * keep, and close it (fd is ours to close). Counted in w's metrics.
 */
void	session_refuse(struct gw_worker *w, int fd, int status,
	    const char *detail);

/*
 * Begin ending s. code is the WebSocket close code to send the client
 * (0: none, drop the client at once, as for a vanished peer or a missed
 * heartbeat); cause says why, for the summary line and, for codes sent,
 * the close reason. The backend leg gets every byte already accepted, then
 * EOF. Idempotent: the first cause is kept. After the call s may already
 * be freed: callers return at once and never touch s again.
 */
void	session_close(struct session *s, uint16_t code, const char *cause);

/*
 * SIGTERM: send close 1001 to up to max more sessions of w (those still
 * in the handshake are dropped, whatever max says). Returns how many open
 * sessions are left to close.
 */
size_t	session_drain_some(struct gw_worker *w, size_t max);

/* At exit: free every session at once (logged), no close handshakes. */
void	session_free_all(struct gw_worker *w);

/*
 * Bytes were queued on bev's output (a leg of a session): write them now
 * if the leg writes through (a plain socket whose EV_WRITE is off), else
 * leave them to libevent. What the socket does not take stays queued and
 * EV_WRITE goes on. bev stays the caller's.
 */
void	session_flush(struct bufferevent *bev);

/* Called by upstream when the backend connection is up (bev is ours now). */
void	session_upstream_ready(struct session *s, struct bufferevent *bev);

/*
 * Called by upstream when the backend leg cannot be had: every backend
 * failed (code 1014, reason "bad gateway: ...") or we are out of
 * descriptors (1013). The upstream leg is freed and the client gets the
 * close. s may be freed after the call.
 */
void	session_upstream_failed(struct session *s, uint16_t code,
	    const char *reason);

#endif
