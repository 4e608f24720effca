/*
 * session: one client <-> backend pair, from accept to the last byte: the
 * HTTP upgrade, the backend connect, the relay both ways and the close
 * handshake. Other modules start sessions on accepted sockets and, at
 * shutdown, drain or free them; everything else about a session is the
 * session files' own (include/session-int.h).
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct gw_worker;

/*
 * Start a session on an accepted client socket fd (peer address sa); tls:
 * it came in on a "tls" listener, so TLS is spoken first; proxy: on a
 * "proxy_protocol" listener, so a PROXY v1/v2 header comes before all.
 * Over a limit (draining, max_connections, the open-files cap,
 * max_connections_per_ip) the client gets 503 instead and 0 is returned.
 * fd belongs to the session from here on, even on failure (it is closed).
 * Returns 0, or -1 when the session could not be set up (logged).
 */
int	session_new(struct gw_worker *w, int fd, const struct sockaddr *sa,
	    socklen_t salen, bool tls, bool proxy);

/*
 * SIGTERM: send close 1001 to up to max more sessions of w (those still
 * in the handshake are dropped, whatever max says). Returns how many open
 * sessions are left to close.
 */
size_t	session_drain_some(struct gw_worker *w, size_t max);

/* At exit: free every session at once (logged), no close handshakes. */
void	session_free_all(struct gw_worker *w);

#endif
