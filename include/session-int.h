/*
 * session-int.h: what session.c shares with the files that handle parts of
 * a session (handshake.c before the upgrade, ws_conn.c after it). Not for
 * other modules: they use session.h.
 */
#ifndef SESSION_INT_H
#define SESSION_INT_H

#include <stddef.h>
#include <stdint.h>

#include "session-t.h"

struct event;
struct sockaddr;

/* After an HTTP error answer, how long to wait for the client to go. */
#define SESSION_HTTP_LINGER_MS	2000

/* Move s to state st (logged at debug level). */
void	session_set_state(struct session *s, enum session_state st);

/* (Re)arm the timer ev to fire once, ms from now. */
void	session_timer_ms(struct event *ev, uint64_t ms);

/* "ip:port" ("[ip6]:port") of sa into buf; "unix" for Unix-socket clients. */
void	session_format_peer(const struct sockaddr *sa, char *buf, size_t len);

/*
 * Client leg while closing or after an HTTP answer: once our output is
 * flushed and no close reply is awaited, send FIN and drain whatever the
 * client still sends until its EOF (closing with unread input would reset
 * the connection and could destroy the last bytes in flight). Returns -1
 * if s was freed: the caller returns at once.
 */
int	session_client_progress(struct session *s);

/* Bytes still queued toward either peer: in our buffers and the kernel's
 * (sent but unacknowledged, or unsent: SIOCOUTQ). */
size_t	session_queued(const struct session *s);

#endif
