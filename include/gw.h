/*
 * gw: the process-wide runtime shared by listener, session and upstream:
 * one worker = one event_base with its sessions, counters and listeners.
 * A session never leaves the worker that accepted it.
 */
#ifndef GW_H
#define GW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/time.h>

#include "bev_pool.h"
#include "metrics.h"

struct event_base;
struct evdns_base;
struct config;
struct session;
struct listener;
struct gw_gen;
struct lookup_table;
struct redis_conn;

#define GW_SPARE_SESSIONS	32	/* per worker, see spare below */

struct gw_worker {
	unsigned		 index;		/* 0 runs in the main thread */
	struct event_base	*base;
	struct evdns_base	*dns;		/* backend name resolution */
	struct gw_gen		*gen;		/* current generation (a ref) */
	const struct config	*cfg;		/* gen->cfg: for new sessions */
	struct gw_gen		*pending;	/* next gen; worker.c's lock
						   (worker_reload_all) */
	bool			 ended;		/* loop over; worker.c's lock */
	struct event		*reload_ev;	/* another thread: take pending */
	LIST_HEAD(, session)	 sessions;	/* every live session */
	LIST_HEAD(, listener)	 listeners;
	uint64_t		 nsessions;	/* length of sessions */
	uint64_t		 rr_seq;	/* round-robin ticket */
	bool			 draining;	/* no new sessions (SIGTERM,
						   lifecycle.c) */
	bool			 closing;	/* SIGTERM: closing sessions */
	long			 refuse_logged;	/* second of the last 503 log */
	struct event		*wake;		/* another thread: "drain now" */
	struct event		*exit_ev;	/* another thread: loop exit */
	/*
	 * The one way other threads reach this worker (post.c): the
	 * base has no lock, so they set a bit of post_bits and, when it was
	 * 0, write post_fd (an eventfd); post_ev, in this thread, makes the
	 * events of the bits it takes active. post_on[] is filled before any
	 * other thread runs (post_slot) and read-only after.
	 */
	_Atomic uint32_t	 post_bits;
	int			 post_fd;
	struct event		*post_ev;
	struct event		*post_on[32];
	unsigned		 npost;
	struct event		*drain_timer;	/* drain_timeout */
	size_t			 drain_batch;	/* closes per drain tick */
	struct lookup_table	*lookups;	/* handshakes that wait */
	struct redis_conn	*redis;		/* NULL: no redis */
	/* Freed sessions kept for the next ones (session.c): a session is
	 * 1.8 KiB, past glibc's per-thread cache, so calloc and free of
	 * one took the arena's bins every connection. */
	struct session		*spare[GW_SPARE_SESSIONS];
	unsigned		 nspare;
	/* Plain socket bufferevents of ended legs, for the next ones
	 * (bev_pool.c): each new one was ~2,000 instructions. */
	struct bev_pool		 bevs;
	struct metrics		 m;
};

/*
 * Sessions alive in every worker together, for max_connections. Besides
 * the read-only config and these gw_ globals, the workers share only what
 * has its own lock: iplimit.c's per-address table, registry.c's
 * mailboxes, a worker's pending generation (worker.c's lock); worker 0
 * reads the others' counters with relaxed loads (metrics_add).
 */
extern _Atomic uint64_t	 gw_sessions_total;
/*
 * Sessions the open-files limit leaves room for (two descriptors each,
 * after those open at start, a reserve and the admin endpoint's
 * admin_max_connections), set at start and by a SIGHUP (main thread;
 * workers read it): beyond it clients get 503 rather than a backend leg
 * we cannot open.
 */
extern _Atomic uint64_t	 gw_session_cap;
/*
 * The descriptors themselves (UINT64_MAX: no limit), set with
 * gw_session_cap: a session holds GW_FDS_SESSION of them (client and
 * backend sockets) and an exec: program GW_FDS_EXEC more until it is
 * reaped (its stderr pipe and pidfd; the socket pair's end we keep is the
 * session's backend socket). Starting one briefly needs GW_FDS_SPAWN more
 * (the child's ends, closed once it runs).
 */
extern _Atomic uint64_t	 gw_fd_room;
#define GW_FDS_SESSION	2
#define GW_FDS_EXEC	2
#define GW_FDS_SPAWN	2
/*
 * SIGTERM came: /readyz answers 503 from now on, drain_delay before the
 * drain itself starts.
 */
extern _Atomic bool	 gw_stopping;
/* Last session id handed out (ids are unique across workers). */
extern _Atomic uint64_t	 gw_session_ids;

/* ms milliseconds as a struct timeval, for evtimer_add() and friends. */
static inline struct timeval
gw_ms_to_tv(uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return tv;
}

#endif
