/*
 * handshake: the HTTP side of a session before it is a WebSocket (a PROXY
 * header first on proxy_protocol listeners, then the request head).
 */
#ifndef HANDSHAKE_H
#define HANDSHAKE_H

struct session;

/*
 * The client's input holds (part of) the PROXY header or request head: act
 * on it once complete. A complete head ends in an HTTP error answer (the
 * session goes to HTTP_ERROR and lingers), a static file, or the 101, the
 * backend connect and the frames pipelined behind the head. Returns 0
 * (waiting for more, or done), or -1 if s is gone or closing: the caller
 * returns at once.
 */
int	handshake_read(struct session *s);

/*
 * A check that waited (lookup.c) let s in: parse the head again (it is
 * still in the input) and go on with the handshake past the steps done.
 * Returns as handshake_read.
 */
int	handshake_resume(struct session *s);

/*
 * Answer s's handshake with HTTP status and a short detail (logged, and
 * the body), plus one more header line with its CRLF (header may be
 * NULL), then let the client go. s lingers in HTTP_ERROR; callers return.
 */
void	handshake_refuse(struct session *s, int status, const char *detail,
	    const char *header);

#endif
