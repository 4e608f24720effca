/*
 * metrics: flat counters, incremented inline by the event loop that owns
 * them, rendered as Prometheus text by the pure metrics_render().
 */
#ifndef METRICS_H
#define METRICS_H

#include <stddef.h>
#include <stdint.h>

struct metrics {
	uint64_t	accepted;		/* TCP/Unix connections accepted */
	uint64_t	handshakes_ok;		/* 101 sent */
	uint64_t	handshakes_failed;	/* HTTP error answered or dropped */
	uint64_t	rejected_limit;		/* 503: over max_connections */
	uint64_t	sessions_active;	/* gauge: sessions alive */
	uint64_t	upstream_connect_failed;
	uint64_t	bytes_up;		/* client -> backend payload */
	uint64_t	bytes_down;		/* backend -> client payload */
	uint64_t	close_codes[16];	/* by code - 1000, 1000..1015 */
	uint64_t	heartbeat_timeouts;
	uint64_t	accept_paused;		/* EMFILE pauses */
};

/* Add src into dst (for summing per-worker counters). */
void	metrics_add(struct metrics *dst, const struct metrics *src);

/* Count a close code (1000..1015; others are ignored). */
void	metrics_count_close(struct metrics *m, uint16_t code);

/*
 * Render m as Prometheus text exposition into buf (capacity cap).
 * Returns the length written, or -1 if it did not fit.
 */
int	metrics_render(const struct metrics *m, char *buf, size_t cap);

#endif
