/*
 * xform: what a session does beyond relaying bytes, per route: framing of
 * backend bytes (framing = line | text), permessage-deflate both ways
 * (compression = on), and the process of an exec: backend (its start
 * before the 101, its exit status as the close code).
 *
 * A session on a plain route (framing = stream, compression off, a socket
 * backend) has no xform at all (s->x NULL) and keeps the copy-free relay;
 * each hook below is called only when s->x is set.
 */
#ifndef XFORM_H
#define XFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;
struct config_route;
struct upgrade_req;
struct evbuffer;
struct ws_frame_ev;

/*
 * The upgrade is accepted on route r (index ri): negotiate compression
 * from the client's Sec-WebSocket-Extensions, set up framing, and for an
 * exec: backend take a max_processes slot and start the program with the
 * request's environment (head[0..head_len) is the request head). Sets s->x
 * when the route needs any of it. Returns 0, or -1 with the HTTP status
 * to answer in *status and a detail in *detail (503 over max_processes,
 * 500 when the program cannot be started); nothing is left held then.
 */
int	xform_accept(struct session *s, const struct config_route *r,
	    size_t ri, const struct upgrade_req *req, const char *head,
	    size_t head_len, int *status, const char **detail);

/* The Sec-WebSocket-Extensions value for the 101, or NULL. */
const char *xform_ext_header(const struct session *s);

/* exec: backends: our end of the program's socket pair, handed over once
 * (the caller owns it then); -1 if there is none. */
int	xform_exec_fd(struct session *s);

/* Bytes at the front of the backend leg's input already seen by
 * xform_down() (a line not yet complete); 0 without framing. */
size_t	xform_down_seen(const struct session *s);

/* True when backend bytes go through xform_down(). */
bool	xform_down_takes(const struct session *s);

/*
 * Backend bytes in in (the backend leg's input): turn them into messages
 * to the client (through ws_conn_send(), the one writer), framed and
 * compressed as agreed; a line not yet complete stays in in. Returns the
 * payload bytes queued, or -1 if the session was closed (1007/1009/1011:
 * s may be gone).
 */
int64_t	xform_down(struct session *s, struct evbuffer *in);

/* The current client message is compressed (RSV1 on its first frame). */
bool	xform_client_inflating(const struct session *s);

/* The per-frame limit for a route limit of max (0: none): a little more
 * when the client may compress. */
uint64_t xform_frame_limit(const struct session *s, uint64_t max);

/* The current client message is compressed (RSV1 on its first frame). */
bool	xform_client_inflating(const struct session *s);

/* The per-frame limit for a route limit of max (0: none): a little more
 * when the client may compress. */
uint64_t xform_frame_limit(const struct session *s, uint64_t max);

/* True when the client's payload goes through xform_client_payload(). */
bool	xform_client_takes(const struct session *s);

/* A data frame header of a new message (not a continuation). */
void	xform_client_message(struct session *s, const struct ws_frame_ev *ev);

/*
 * ev->len payload bytes at p (masked, writable, at the head of the
 * client's input in): unmask, inflate if the message is compressed, check
 * UTF-8 of text, queue to the backend, drain from in. Returns 0, or -1
 * if the session was closed.
 */
int	xform_client_payload(struct session *s, const struct ws_frame_ev *ev,
	    uint8_t *p, struct evbuffer *in);

/*
 * The last frame of a client data message ended: the inflate tail, the
 * newline of line framing. 0; 1 when the end waits behind an inflate
 * paused on the backend's full output (xform_client_resume finishes it,
 * UTF-8 check included); -1 if the session was closed.
 */
int	xform_client_message_end(struct session *s);

/* An inflate paused on the backend's full output has bytes to give. */
bool	xform_client_pending(const struct session *s);

/*
 * Go on with a paused inflate before any more client input is decoded
 * (the order of the client's bytes). Returns 0 when nothing waits any
 * more, 1 when the backend's output is full again, -1 if the session was
 * closed.
 */
int	xform_client_resume(struct session *s);

/*
 * The backend sent EOF while open: last messages of a pending line or
 * character; for a process, wait for its exit status (close 1000, or 1011
 * with the status). Returns 1 when xform took over (the caller does no
 * more; s may be gone), 0 when the caller closes as for any backend.
 */
int	xform_backend_eof(struct session *s);

/*
 * The session is closing and the program's stdin got its EOF: it has
 * exec_kill_timeout to exit on its own (a program may work at EOF) before
 * its group gets SIGTERM, then SIGKILL after exec_kill_timeout more.
 */
void	xform_stdin_closed(struct session *s);

/* Free s->x: the process is released (SIGTERM, then SIGKILL), zlib state
 * freed. NULL s->x is fine. */
void	xform_free(struct session *s);

#endif
