/*
 * session-int.h: the session struct and the calls the files of a session
 * share: session.c (lifecycle, legs' callbacks, close), session_leg.c (what
 * a leg does: write through, read more, pause, shut), handshake.c (the HTTP
 * side before the upgrade), ws_conn.c (the client's frames after it),
 * heartbeat.c (pings, idle), upstream.c (connecting the backend leg),
 * lookup.c, token_source.c and basic_auth.c (handshake lookups that wait),
 * registry.c and fleet.c (list and end live sessions, locally and across
 * the fleet). Every other module sees a session as opaque through
 * session.h.
 */
#ifndef SESSION_INT_H
#define SESSION_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/event_struct.h>
#include <event2/util.h>

#include "config.h"
#include "heartbeat.h"
#include "metrics.h"
#include "ws_conn.h"

struct bufferevent;
struct evbuffer;
struct gw_worker;
struct gw_gen;
struct lookup_wait;
struct static_body;
struct xform;

enum session_state {
	SESSION_HANDSHAKE = 0,	/* reading the HTTP request head */
	SESSION_HTTP_ERROR,	/* HTTP answer queued; closing after flush */
	SESSION_CONNECTING,	/* 101 sent; backend connect under way */
	SESSION_OPEN,		/* relaying both ways (a close may be pending:
				 * fin.pending) */
	SESSION_CLOSING,	/* close frame sent or received; legs flushing */
};

/*
 * One half of a session: the client's connection or the backend's
 * (relayd's ctl_relay_event, HAProxy's channel). Both are embedded in the
 * session, so peer never dangles; a leg that is gone has bev == NULL and
 * its flags say nothing more.
 *
 * Legal flag combinations (any other is a bug):
 *
 *   bev   up  paused  eof  wr_shut discard  meaning
 *   NULL  -   -       -    -       -        gone (freed)
 *   set   0   0       0    0       0|1      backend connecting (the client
 *                                           leg is up from accept; discard:
 *                                           closing began meanwhile)
 *   set   1   0|1     0    0       0        relaying; paused: reading off
 *                                           until the peer's output drains
 *   set   1   0|1     1    0       0        it sent EOF: nothing more to
 *                                           read, but it can still receive
 *                                           (a half-close)
 *   set   1   0       0|1  0       1        backend while closing: its
 *                                           bytes are too late for the
 *                                           client (read and dropped); the
 *                                           client's data still goes to it
 *                                           until the client's close
 *   set   1   0       0|1  1       1        we sent EOF after every byte
 *                                           owed; reading only to drain
 *                                           until its EOF, then freed
 *
 * self_paused is the client's own: reading off while its output is full
 * (pongs it does not read), independent of paused. read_err is an errno
 * our own reads (session_leg_read_more) saw; the event callback reports it
 * (the kernel reports a reset only once).
 */
struct session_leg {
	struct bufferevent	*bev;		/* NULL once the leg is gone */
	struct session_leg	*peer;		/* the other leg (embedded) */
	struct session		*s;
	bool			 up;		/* connected */
	bool			 tls;		/* bev is a TLS layer */
	bool			 paused;	/* read off: peer's output full */
	bool			 self_paused;	/* read off: own output full */
	bool			 eof;		/* it sent EOF */
	bool			 wr_shut;	/* we sent it EOF */
	bool			 discard;	/* its input is read and dropped */
	bool			 pooled;	/* bev is from the worker's
						   bev_pool: goes back there */
	bool			 held;		/* output waits for the last
						   write, with our FIN */
	int			 read_err;
	struct event		*shut_ev;	/* wr_shut, but a TLS leg's
						   last records wait for
						   room, our FIN after them */
};

/* Choosing and connecting the backend (upstream.c). */
struct session_dial {
	struct config_addr	 fixed;		/* a token's target (spec ours) */
	bool			 has_fixed;	/* ... use it, no failover */
	uint64_t		 rr;		/* round-robin ticket */
	size_t			 attempt;	/* failovers so far */
	int			 err;		/* errno of a failed attempt */
	bool			 in_connect;	/* inside upstream_connect() */
	bool			 waiting;	/* our own connect (a TCP literal,
						 * not tls:) waits on the
						 * bufferevent's ev_read */
	struct timespec		 started;	/* CLOCK_MONOTONIC */
	uint8_t			*proxy_hdr;	/* PROXY header for each backend */
	uint8_t			 proxy_hdr_len;
};

/* How the session ends: the close handshake and the first cause. */
struct session_fin {
	uint16_t		 code;		/* close code sent (0: none) */
	uint16_t		 peer_code;	/* received from the client */
	bool			 sent;		/* our close frame is queued */
	bool			 received;	/* the client's close arrived */
	bool			 failed;	/* protocol error: input is junk */
	bool			 pending;	/* ours waits for backend bytes */
	uint16_t		 pending_code;	/* ... the code it will send */
	uint64_t		 pending_mark;	/* bytes_down at the last look */
	uint64_t		 pending_until;	/* ms (monotonic): the bound */
	bool			 end_set;	/* end is decided */
	enum metrics_end	 end;		/* why, as a metrics label */
	bool			 linger_looked;	/* linger_mark is set (closing) */
	size_t			 linger_mark;	/* queued at the last linger */
	uint64_t		 linger_bytes;	/* bytes_up + bytes_down then */
	char			 cause[128];	/* first reason to end */
};

struct session {
	LIST_ENTRY(session)	 entry;		/* in w->sessions */
	struct gw_worker	*w;
	struct gw_gen		*gen;		/* a ref: config it began with */
	const struct config	*cfg;		/* gen->cfg */
	struct metrics_route	*mr;		/* its route's counters */
	uint64_t		 id;
	enum session_state	 state;
	struct record		*rec;		/* record/traffic; NULL: off */
	char			 peer[64];	/* "ip:port" of the client */
	struct sockaddr_storage	 peer_sa;	/* the client (PROXY: the real one) */
	struct sockaddr_storage	 local_sa;	/* the address it reached */
	bool			 local_known;	/* local_sa is filled */
	bool			 proxy_in;	/* PROXY header still awaited */
	bool			 ip_counted;	/* holds an iplimit connection */
	struct timespec		 started;	/* CLOCK_MONOTONIC */

	struct session_leg	 client;
	struct session_leg	 upstream;	/* the backend */
	struct static_body	*static_body;	/* a file read into the client's
						 * output (TLS), or NULL */

	const struct config_route *route;
	const struct config_addr *backend;	/* current attempt's */
	struct session_dial	 dial;		/* the backend connect */

	struct ws_conn_rx	 rx;		/* the client's frames (ws_conn) */
	struct session_fin	 fin;
	struct hb		 hb;		/* heartbeat and idle timers */
	struct event		 state_timer;	/* handshake / connect / linger */

	uint64_t		 bytes_up;	/* payload to the backend */
	uint64_t		 bytes_down;	/* payload to the client */
	uint64_t		 out_total;	/* bytes ever queued to the client;
						 * only ws_conn_send() writes it */

	struct lookup_wait	*wait;		/* handshake waits (lookup.c) */
	struct xform		*x;		/* framing, compression, process
						   (xform.h); NULL: plain relay */
	bool			 basic_ok;	/* auth = basic passed */

	/* registry: keyed hash of the token it opened with, never the token */
	uint8_t			 token_id[16];
	bool			 has_token_id;
	bool			 fleet_listed;	/* its entry is in Redis */
	bool			 fleet_checked;	/* fleet limits passed (or off) */
	bool			 fleet_ip_counted; /* its address's count in Redis
						  * includes it */
};

/* After an HTTP error answer, how long to wait for the client to go. */
#define SESSION_HTTP_LINGER_MS	2000
/* One readv of session_leg_read_more(); legs write up to 4 of them at once. */
#define SESSION_READ_CHUNK	65536

/*
 * Begin ending s. code is the WebSocket close code to send the client
 * (0: none, drop the client at once, as for a vanished peer or a missed
 * heartbeat); cause says why, for the summary line and, for codes sent,
 * the close reason. Nothing either peer sent before it saw the close is
 * dropped (RFC 6455 §1.4): a close of our own (1001, 1008) first lets the
 * backend's bytes already sent reach the client; the client's data until
 * its close reply still reaches the backend, which then gets EOF.
 * Idempotent: the first cause is kept. After the call s may already be
 * freed: callers return at once and never touch s again.
 */
void	session_close(struct session *s, uint16_t code, const char *cause);

/*
 * s is about to start an exec: program: do its descriptors fit under the
 * open-files limit (gw.h)? 0 if so; -1 if not, with the usual refusal
 * line logged (at most once a second per worker): the caller answers 503.
 */
int	session_admit_exec(struct session *s);

/* Move s to state st (logged at debug level). */
void	session_set_state(struct session *s, enum session_state st);

/* (Re)arm the timer ev to fire once, ms from now. */
void	session_timer_ms(struct event *ev, uint64_t ms);

/* "ip:port" ("[ip6]:port") of sa into buf; "unix" for Unix-socket clients. */
void	session_format_peer(const struct sockaddr *sa, char *buf, size_t len);

/*
 * A leg while closing (or the client after an HTTP answer): flush what is
 * owed to it; then, once nothing more will come for it (see
 * session_leg_owed), send EOF and drain its input until its EOF (closing
 * with unread input would reset the connection and could destroy the last
 * bytes in flight), then free it. Returns -1 if s was freed: the caller
 * returns at once.
 */
int	session_leg_progress(struct session_leg *leg);

/* Bytes still queued toward either peer: in our buffers and the kernel's
 * (sent but unacknowledged, or unsent: SIOCOUTQ). */
size_t	session_queued(const struct session *s);

/* The upstream leg goes (its bufferevent is about to be freed): stop
 * waiting for its connect (upstream.c). Idempotent. */
void	upstream_cancel(struct session *s);

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

/*
 * The read event of a plain leg (leg_read_own_cb): leg_read's read, with
 * bytes that need not wait in the input relayed at once (ws_conn_take for
 * the client, framed to the client for the backend). arg is the leg's
 * bufferevent, whose callback argument is the leg.
 */
void	session_leg_read_ev(evutil_socket_t fd, short what, void *arg);

/* --- session_leg.c: what a leg does, the same for either half --- */

/* Set up leg as one of s's halves (peer: the other); bev stays NULL. */
void	session_leg_init(struct session_leg *leg, struct session *s,
	    struct session_leg *peer);

/* Free the leg's bufferevent (and so its fd and TLS); idempotent. */
void	session_leg_free(struct session_leg *leg);

/*
 * Bytes were queued on the leg's output: write them now if it writes
 * through (a plain socket whose EV_WRITE is off), else leave them to
 * libevent. What the socket does not take stays queued and EV_WRITE goes
 * on, until the write callback finds the output empty
 * (session_leg_write_idle).
 */
void	session_leg_flush(struct session_leg *leg);
/* The leg's last bytes, our FIN to follow in the same segment: see
 * session_leg.c. 0: all written; -1: some wait in the output. */
int	session_leg_send_last(struct session_leg *leg);

/*
 * Send p[0..n) (copied) to leg, after what its output holds: written at
 * once when the leg writes through and nothing waits before them, else
 * queued and flushed. What the socket does not take is queued with
 * EV_WRITE on, as session_leg_flush() leaves it. The leg must be there.
 * Returns 0 if the socket took it all, 1 if bytes wait in the leg's
 * output (the caller checks flow control), or -1 out of memory: nothing
 * of p[w..n) was queued, where w is what the socket took (the caller ends
 * the session).
 */
int	session_leg_send(struct session_leg *leg, const uint8_t *p, size_t n);

/* In the leg's write callback: drained, so back to write-through. */
void	session_leg_write_idle(struct session_leg *leg);

/*
 * Stop reading leg until full's output drains below half of max_buffer
 * (full is leg->peer, or leg itself for self_paused); full's write
 * callback resumes it with session_leg_resume.
 */
void	session_leg_pause(struct session_leg *leg, struct session_leg *full);

/*
 * full's output drained below the mark: clear what leg waited on it for
 * (paused, or self_paused when full is leg) and read leg again unless it
 * still waits on the other output. Returns true if leg reads again: its
 * input already buffered gets no new read callback, so the caller
 * processes it.
 */
bool	session_leg_resume(struct session_leg *leg, struct session_leg *full);

/*
 * Turn reading on (again): for a TLS leg, also read at once the records
 * OpenSSL already holds, which no socket event would announce. Every
 * bufferevent_enable(EV_READ) after a disable goes through here.
 */
void	session_leg_read_on(struct session_leg *leg);

/*
 * After libevent's 4 KiB read: take more straight into the input buffer
 * (a TLS leg through OpenSSL), within what the peer's output may still
 * hold.
 */
void	session_leg_read_more(struct session_leg *leg);

/* Send EOF (TLS close_notify first). Returns 0; 1 when the socket had no
 * room for a TLS leg's last records (they, then the FIN, go as it drains,
 * on their own); or -1 if the socket is already gone. */
int	session_leg_shut(struct session_leg *leg);

/* Bytes of the leg's output its peer has not taken yet: ours and the
 * kernel's. */
size_t	session_leg_queued(const struct session_leg *leg);

/* Bytes it sent that we have not read yet: our input and the kernel's. */
size_t	session_leg_unread(const struct session_leg *leg);

#endif
