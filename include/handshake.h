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

#endif
