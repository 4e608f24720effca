/*
 * metrics: flat counters, incremented inline by the worker that owns them
 * (no locks, no read-modify-write atomics on the relay path), summed and
 * rendered as Prometheus text by the pure metrics_add() and
 * metrics_render().
 *
 * Byte counters move as the relay moves bytes (per read or frame chunk), so
 * a long session's traffic shows while it runs.
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Histogram bucket upper bounds, microseconds (the last is +Inf). */
#define METRICS_HIST_BUCKETS	14
extern const uint64_t metrics_hist_bounds_us[METRICS_HIST_BUCKETS - 1];

struct metrics_hist {
	uint64_t	buckets[METRICS_HIST_BUCKETS];	/* not cumulative */
	uint64_t	count;
	uint64_t	sum_us;
};

/* Why a session ended, as a label. */
enum metrics_end {
	METRICS_END_CLIENT_CLOSE = 0,	/* client sent close */
	METRICS_END_BACKEND_CLOSED,	/* backend EOF: 1000 */
	METRICS_END_CLIENT_VANISHED,	/* TCP gone without a close */
	METRICS_END_HEARTBEAT,		/* no pong in time */
	METRICS_END_IDLE,		/* idle_timeout */
	METRICS_END_PROTOCOL,		/* 1002 1007 1009 */
	METRICS_END_BACKEND_UNREACHABLE, /* 1014 before connecting */
	METRICS_END_BACKEND_RESET,	/* 1014 after connecting */
	METRICS_END_DRAIN,		/* shutdown: 1001 */
	METRICS_END_OTHER,
	METRICS_END_MAX,
};

/* HTTP statuses answered before an upgrade, counted by index. */
#define METRICS_NSTATUS	12
extern const int metrics_statuses[METRICS_NSTATUS];

struct metrics_route {
	uint64_t	active;			/* gauge */
	uint64_t	sessions;		/* upgraded sessions */
	uint64_t	bytes_up;		/* client -> backend payload */
	uint64_t	bytes_down;		/* backend -> client payload */
	uint64_t	ended[METRICS_END_MAX];
};

struct metrics {
	uint64_t	accepted;		/* connections accepted */
	uint64_t	handshakes_ok;		/* 101 sent */
	uint64_t	handshake_timeouts;	/* head not finished in time */
	uint64_t	http_status[METRICS_NSTATUS]; /* errors answered */
	uint64_t	sessions_active;	/* gauge: sessions alive */
	uint64_t	upstream_connect_failed;
	uint64_t	heartbeat_timeouts;
	uint64_t	accept_paused;		/* EMFILE pauses */
	uint64_t	exec_processes;		/* gauge: exec: programs alive
						   (process-wide, set by admin) */
	uint64_t	exec_spawn_failed;	/* exec: programs not started */
	uint64_t	admin_connections;	/* gauge: admin endpoint's open
						   connections (set by admin) */
	uint64_t	admin_refused;		/* ... refused past
						   admin_max_connections */
	uint64_t	close_codes[16];	/* sent, by code - 1000 */
	struct metrics_hist connect_latency;	/* backend connect */
	struct metrics_hist ping_rtt;		/* ping -> pong */
	/* Redis (redis.c), rendered only when redis_workers > 0 */
	uint64_t	redis_workers;		/* gauge: connections configured */
	uint64_t	redis_up;		/* gauge: ... of them up */
	uint64_t	redis_errors;		/* failed connects, lost
						   connections, error replies */
	struct metrics_hist redis_lookup;	/* token GET round trip */
	/* The fleet (fleet.c), rendered only when fleet_on > 0 */
	uint64_t	fleet_on;		/* gauge: 1 in worker 0 */
	uint64_t	fleet_orders_received;	/* orders on our channels */
	uint64_t	fleet_orders_applied;	/* ... carried out here */
	uint64_t	fleet_registry_write_errors; /* HSET/HDEL/lease writes
						   refused or not sent */
};

/*
 * Move counter c by n (metrics_inc: 1, metrics_dec: -1; a gauge never
 * goes below 0). Each counter has one writer, the thread of the worker
 * that owns it, so this is a relaxed atomic load and store, not a
 * read-modify-write: a plain load, add and store (no locked
 * instruction), while /metrics (metrics_add, in worker 0) reads it from
 * another thread with a relaxed load, and ThreadSanitizer sees both
 * sides as atomic.
 */
static inline void
metrics_addn(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
	    __ATOMIC_RELAXED);
}

static inline void
metrics_inc(uint64_t *c)
{
	metrics_addn(c, 1);
}

static inline void
metrics_dec(uint64_t *c)
{
	metrics_addn(c, (uint64_t)-1);
}

/* Set gauge c to v (one writer, as above). */
static inline void
metrics_set(uint64_t *c, uint64_t v)
{
	__atomic_store_n(c, v, __ATOMIC_RELAXED);
}

/* Add src into dst. The reads are relaxed atomic loads: src may belong
 * to a running worker. */
void	metrics_add(struct metrics *dst, const struct metrics *src);
/* Add n route counters of src into dst, likewise. */
void	metrics_add_routes(struct metrics_route *dst,
	    const struct metrics_route *src, size_t n);

/* Count a close code sent (1000..1015; others are ignored). */
void	metrics_count_close(struct metrics *m, uint16_t code);
/* Count an HTTP status answered (unknown statuses are ignored). */
void	metrics_count_status(struct metrics *m, int status);
/* Record one observation of usec microseconds. */
void	metrics_observe(struct metrics_hist *h, uint64_t usec);

/*
 * Render m and the route counters routes[0..nroutes) as Prometheus text
 * exposition into buf (capacity cap); route_names[i] labels routes[i].
 * Returns the length written, or -1 if it did not fit (call again with
 * more room).
 */
int	metrics_render(const struct metrics *m, const struct metrics_route *routes,
	    const char *const *route_names, size_t nroutes, char *buf,
	    size_t cap);

#endif
