/*
 * ws_conn: the client's WebSocket side of an upgraded session: decoding
 * and checking its frames (message rules above the codec), relaying their
 * payload to the backend, and every byte we send the client: the one
 * writer, ws_conn_send(). The session's lifecycle (legs, timers, close)
 * stays in session.c; this file calls session_close() when a frame ends
 * the session.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ws_frame.h"
#include "ws_utf8.h"

struct evbuffer;
struct session;

/* The client's frames in flight: decoder, message state, control payload. */
struct ws_conn_rx {
	struct ws_frame_decoder	 dec;
	struct ws_utf8		 utf8;		/* current text message */
	bool			 in_message;	/* fragmented message open */
	bool			 msg_text;	/* ... and it is text */
	uint64_t		 msg_size;	/* its bytes so far */
	uint8_t			 ctrl[125];	/* control frame payload */
	uint8_t			 ctrl_len;
};

/*
 * Decode what the client sent, relaying payload to the backend, until the
 * input is used up or a leg's output is full (then its write callback
 * calls this again). Data frames are relayed until the client's close has
 * arrived, also while our own close is out (RFC 6455 §1.4). Returns 0, or
 * -1 if session_close() was called (s may be gone): the caller must
 * return at once.
 */
int	ws_conn_input(struct session *s);

/*
 * A read of the client's, before it is queued (leg_read's take hook, see
 * include/leg_read.h): p[0..n) is writable. If the session is open, relays
 * plainly (no transform, no recording) and nothing waits in the client's
 * input, decodes all of it as ws_conn_input() would, the payload unmasked
 * in place and sent to the backend at once (session_leg_send), and
 * returns n. Otherwise takes nothing and returns 0: the bytes go to the
 * input and ws_conn_input(). Returns LEG_READ_GONE if session_close() was
 * called (s may be gone).
 */
ssize_t	ws_conn_take(struct session *s, uint8_t *p, size_t n);

/* The first header byte of a frame ws_conn_send() queues (RFC 6455
 * §5.2): FIN and the RSV bits, or'ed with the opcode. */
#define WS_CONN_FIN	0x80u
#define WS_CONN_RSV1	0x40u	/* permessage-deflate: "compressed" */
/* No frame at all: the bytes as they are (the HTTP answer to the upgrade). */
#define WS_CONN_RAW	0x100u

/*
 * The one writer toward the client, and of s->out_total. Queues one frame
 * whose first header byte is b0 (WS_CONN_FIN | WS_CONN_RSV1 | opcode) and
 * whose payload is either the len bytes at p (copied: control frames and
 * short answers) or, when chain is not NULL, all of chain, moved behind
 * the header without a copy (len is then ignored and chain left empty).
 * b0 == WS_CONN_RAW queues the payload with no header. Writes through
 * (session_leg_flush). The client leg must be there. p and chain stay the
 * caller's. Returns the payload bytes queued.
 */
size_t	ws_conn_send(struct session *s, unsigned b0, const void *p,
	    size_t len, struct evbuffer *chain);

/*
 * Queue the close frame: code big-endian and up to 123 bytes of reason
 * (cut there); code 1005 sends an empty close. s stays the caller's.
 */
void	ws_conn_send_close(struct session *s, uint16_t code,
	    const char *reason);

/*
 * ws_conn_send() of the len bytes at p (copied, or sent at once), with
 * the frame's header written into the 14 bytes before p, which must be
 * the caller's to write, so header and payload go in one write
 * (session_leg_send). p stays the caller's. Returns 0 if the socket took
 * it all, 1 if bytes wait in the client's output (the caller checks flow
 * control), or -1 out of memory (the caller ends the session).
 */
int	ws_conn_send_read(struct session *s, unsigned b0, uint8_t *p,
	    size_t len);

#endif
