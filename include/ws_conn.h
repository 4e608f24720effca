/*
 * ws_conn: the client's WebSocket side of an upgraded session: decoding
 * and checking its frames, relaying their payload to the backend, and the
 * frames we send it. The session's lifecycle (legs, timers, close) stays
 * in session.c; this file calls session_close() when a frame ends the
 * session.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include <stdint.h>

struct session;

/*
 * Decode what the client sent, relaying payload to the backend, until the
 * input is used up or a leg's output is full (then its write callback
 * calls this again). Returns 0, or -1 if s is gone or closing began: the
 * caller must return at once.
 */
int	ws_conn_input(struct session *s);

/*
 * Queue (and write through) the close frame: code big-endian and up to 123
 * bytes of reason; code 1005 sends an empty close. s stays the caller's.
 */
void	ws_conn_send_close(struct session *s, uint16_t code,
	    const char *reason);

#endif
