/*
 * heartbeat: per-session ping/pong and idle timers. The timers are
 * embedded in struct session; session_close() stops them with hb_stop().
 */
#ifndef HEARTBEAT_H
#define HEARTBEAT_H

struct session;

/* Set up the (embedded) timers of a new session; arms nothing. */
void	hb_init(struct session *s);
/* Arm the ping and idle timers of an upgraded session per its route. */
void	hb_start(struct session *s);
/* Cancel both timers (idempotent). */
void	hb_stop(struct session *s);
/* The client showed life (any frame bytes): cheap, called per read. */
void	hb_alive(struct session *s);
/* A pong arrived: time the round trip of our last ping. */
void	hb_pong(struct session *s);
/* Data moved either way: the idle clock restarts. */
void	hb_activity(struct session *s);

#endif
