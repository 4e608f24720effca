/*
 * session-t: the session struct, shared by session.c, upstream.c and
 * heartbeat.c only. Everyone else sees it as opaque (session.h).
 */
#ifndef SESSION_T_H
#define SESSION_T_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include <event2/event_struct.h>

#include "config.h"
#include "metrics.h"
#include "ws_frame.h"
#include "ws_utf8.h"

struct bufferevent;
struct config_route;
struct static_body;
struct config_addr;
struct gw_worker;
struct gw_gen;
struct config;
struct lookup_wait;

enum session_state {
	SESSION_HANDSHAKE = 0,	/* reading the HTTP request head */
	SESSION_HTTP_ERROR,	/* error answer queued; closing after flush */
	SESSION_CONNECTING,	/* 101 sent; backend connect under way */
	SESSION_OPEN,		/* relaying both ways */
	SESSION_CLOSING,	/* close frame sent or received */
};

struct session {
	LIST_ENTRY(session)	 entry;		/* in w->sessions */
	struct gw_worker	*w;
	struct gw_gen		*gen;		/* a ref: config it began with */
	const struct config	*cfg;		/* gen->cfg */
	struct metrics_route	*mr;		/* its route's counters */
	uint64_t		 id;
	enum session_state	 state;
	bool			 tls;		/* client speaks TLS (wss) */
	char			 peer[64];	/* "ip:port" of the client */
	struct sockaddr_storage	 peer_sa;	/* the client (PROXY: the real one) */
	struct sockaddr_storage	 local_sa;	/* the address it reached */
	bool			 local_known;	/* local_sa is filled */
	bool			 proxy_in;	/* PROXY header still awaited */
	bool			 ip_counted;	/* holds an iplimit connection */
	struct timespec		 started;	/* CLOCK_MONOTONIC */

	/* legs; NULL once that leg is gone */
	struct bufferevent	*client;
	struct bufferevent	*upstream;
	struct static_body	*static_body;	/* a file read into client's
						 * output (TLS), or NULL */

	/* route and backend choice */
	const struct config_route *route;
	const struct config_addr *backend;	/* current attempt's */
	struct config_addr	 fixed;		/* token_file target (spec ours) */
	bool			 has_fixed;	/* ... use it, no failover */
	uint64_t		 rr;		/* round-robin ticket */
	size_t			 attempt;	/* failovers so far */
	int			 connect_err;	/* errno of a failed attempt */
	bool			 in_connect;	/* inside upstream_connect() */

	/* client -> backend WebSocket decoding */
	struct ws_frame_decoder	 dec;
	struct ws_utf8		 utf8;		/* current text message */
	bool			 in_message;	/* fragmented message open */
	bool			 msg_text;	/* ... and it is text */
	uint64_t		 msg_size;	/* its bytes so far */
	uint8_t			 ctrl[125];	/* control frame payload */
	uint8_t			 ctrl_len;

	/* close handshake */
	uint16_t		 close_code;	/* sent (or 0: dropped) */
	uint16_t		 peer_close_code; /* received from client */
	bool			 close_sent;
	bool			 close_received;
	bool			 failed;	/* protocol error: input is junk */
	bool			 upstream_wr_shut; /* EOF sent to backend */
	bool			 close_pending;	/* we close, after the backend's
						  * bytes already sent reach
						  * the client (pending_code) */
	uint16_t		 pending_code;
	uint64_t		 pending_mark;	/* bytes_down at the last look */
	uint64_t		 pending_until;	/* ms (session_now_ms) bound */
	char			 cause[128];	/* first reason to end */
	enum metrics_end	 end;		/* ... as a metrics label */
	bool			 end_set;

	/* counters for the summary line */
	uint64_t		 bytes_up;	/* payload to backend */
	uint64_t		 bytes_down;	/* payload to client */

	/* timers (embedded: no allocation per timer) */
	struct event		 state_timer;	/* handshake / connect / linger */
	struct event		 hb_timer;	/* every ping interval */
	struct event		 hb_deadline;	/* pong wait after a ping */
	struct event		 idle_timer;
	bool			 hb_waiting;	/* ping sent, no frame since */
	bool			 rx_seen;	/* client bytes since last ping */
	uint64_t		 out_total;	/* bytes ever queued to the client */
	uint64_t		 hb_ping_end;	/* out_total just after the ping */
	uint64_t		 hb_acked_mark;	/* client-acked bytes at last look */
	size_t			 linger_mark;	/* output left at last linger */
	uint64_t		 linger_bytes;	/* bytes_up + bytes_down then */
	struct timeval		 last_io;	/* last data either way */
	struct timespec		 ping_sent;	/* CLOCK_MONOTONIC */
	struct timespec		 connect_started;

	/* flow control and leg shutdown */
	bool			 client_paused;	/* client read off: backend full */
	bool			 upstream_paused; /* backend read off: client full */
	bool			 client_self_paused; /* client read off: its own
						  * output full (unread pongs) */
	bool			 client_discard; /* FIN sent to client; drain input */
	bool			 upstream_eof;	/* backend sent EOF */
	bool			 upstream_up;	/* backend connected */
	bool			 upstream_tls;	/* s->upstream is the TLS layer */
	int			 client_read_err; /* errno our own reads saw */
	int			 upstream_read_err;
	struct lookup_wait	*wait;		/* handshake waits (lookup.c) */
	bool			 basic_ok;	/* auth = basic passed */
	uint8_t			*proxy_hdr;	/* PROXY header for each backend */
	uint8_t			 proxy_hdr_len;

	/* registry: keyed hash of the token it opened with, never the token */
	uint8_t			 token_id[16];
	bool			 has_token_id;
	bool			 fleet_listed;	/* its entry is in Redis */
	bool			 fleet_checked;	/* fleet limits passed (or off) */
	bool			 fleet_ip_counted; /* its address's count in Redis
						  * includes it */
};

#endif
