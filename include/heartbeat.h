/*
 * heartbeat: per-session ping/pong and idle timers. The timers are
 * embedded in struct session (struct hb); session_close() stops them with
 * hb_stop().
 */
#ifndef HEARTBEAT_H
#define HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <event2/event_struct.h>

struct session;

struct hb {
	struct event	 ping;		/* every heartbeat_interval (persistent) */
	struct event	 deadline;	/* pong wait after the oldest ping */
	struct event	 idle;		/* idle_timeout */
	bool		 waiting;	/* a ping is out, the wait runs */
	bool		 rx_seen;	/* client bytes since the wait began */
	uint64_t	 ping_end;	/* out_total just after that ping */
	uint64_t	 acked_mark;	/* client-acked bytes at the last look */
	struct timespec	 last_io;	/* last data either way;
					 * CLOCK_MONOTONIC_COARSE */
	struct timespec	 ping_sent;	/* CLOCK_MONOTONIC; 0: none to time */
	/* The timers are assigned only for a route that uses them, and each
	 * is deleted only if it was armed since the last hb_stop(): an
	 * event_del() costs ~300 instructions even when nothing is pending
	 * (the base lock), six of them per connection before. */
	bool		 assigned;	/* the three events are set up */
	bool		 ping_on;	/* ping added (it persists) */
	bool		 deadline_on;	/* deadline may be pending */
	bool		 idle_on;	/* idle may be pending */
};

/*
 * Arm the ping and idle timers of an upgraded session per its route
 * (zeroed struct hb: nothing armed before; a route with neither
 * heartbeat_interval nor idle_timeout arms nothing).
 */
void	hb_start(struct session *s);
/* Cancel every timer (idempotent). */
void	hb_stop(struct session *s);
/* The client showed life (any frame bytes): cheap, called per read. */
void	hb_alive(struct session *s);
/* A pong arrived: time the round trip of our oldest unanswered ping. */
void	hb_pong(struct session *s);
/* Data moved either way: the idle clock restarts. */
void	hb_activity(struct session *s);

#endif
