/*
 * metrics: see include/metrics.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "metrics.h"

const uint64_t metrics_hist_bounds_us[METRICS_HIST_BUCKETS - 1] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 1000000, 5000000,
};

const int metrics_statuses[METRICS_NSTATUS] = {
	400, 401, 403, 404, 405, 426, 429, 431, 500, 502, 503, 504,
};

static const char *const metrics_end_names[METRICS_END_MAX] = {
	"client_close", "backend_closed", "client_vanished",
	"heartbeat_timeout", "idle_timeout", "protocol_error",
	"backend_unreachable", "backend_reset", "drain", "other",
};

#define METRICS_N(a)	(sizeof(a) / sizeof((a)[0]))

static uint64_t
metrics_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
metrics_add_array(uint64_t *dst, const uint64_t *src, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		dst[i] += metrics_load(&src[i]);
}

static void
metrics_add_hist(struct metrics_hist *dst, const struct metrics_hist *src)
{
	metrics_add_array(dst->buckets, src->buckets, METRICS_HIST_BUCKETS);
	dst->count += metrics_load(&src->count);
	dst->sum_us += metrics_load(&src->sum_us);
}

void
metrics_add(struct metrics *dst, const struct metrics *src)
{
	dst->accepted += metrics_load(&src->accepted);
	dst->handshakes_ok += metrics_load(&src->handshakes_ok);
	dst->handshake_timeouts += metrics_load(&src->handshake_timeouts);
	dst->sessions_active += metrics_load(&src->sessions_active);
	dst->upstream_connect_failed +=
	    metrics_load(&src->upstream_connect_failed);
	dst->heartbeat_timeouts += metrics_load(&src->heartbeat_timeouts);
	dst->accept_paused += metrics_load(&src->accept_paused);
	metrics_add_array(dst->http_status, src->http_status, METRICS_NSTATUS);
	metrics_add_array(dst->close_codes, src->close_codes,
	    METRICS_N(src->close_codes));
	metrics_add_hist(&dst->connect_latency, &src->connect_latency);
	metrics_add_hist(&dst->ping_rtt, &src->ping_rtt);
	dst->exec_processes += metrics_load(&src->exec_processes);
	dst->exec_spawn_failed += metrics_load(&src->exec_spawn_failed);
	dst->redis_workers += metrics_load(&src->redis_workers);
	dst->redis_up += metrics_load(&src->redis_up);
	dst->redis_errors += metrics_load(&src->redis_errors);
	metrics_add_hist(&dst->redis_lookup, &src->redis_lookup);
	dst->fleet_on += metrics_load(&src->fleet_on);
	dst->fleet_orders_received += metrics_load(&src->fleet_orders_received);
	dst->fleet_orders_applied += metrics_load(&src->fleet_orders_applied);
	dst->fleet_registry_write_errors +=
	    metrics_load(&src->fleet_registry_write_errors);
}

void
metrics_add_routes(struct metrics_route *dst, const struct metrics_route *src,
    size_t n)
{
	size_t i, j;

	for (i = 0; i < n; i++) {
		dst[i].active += metrics_load(&src[i].active);
		dst[i].sessions += metrics_load(&src[i].sessions);
		dst[i].bytes_up += metrics_load(&src[i].bytes_up);
		dst[i].bytes_down += metrics_load(&src[i].bytes_down);
		for (j = 0; j < METRICS_END_MAX; j++)
			dst[i].ended[j] += metrics_load(&src[i].ended[j]);
	}
}

void
metrics_count_close(struct metrics *m, uint16_t code)
{
	if (code >= 1000 && code < 1000 + METRICS_N(m->close_codes))
		metrics_inc(&m->close_codes[code - 1000]);
}

void
metrics_count_status(struct metrics *m, int status)
{
	size_t i;

	for (i = 0; i < METRICS_NSTATUS; i++)
		if (metrics_statuses[i] == status)
			metrics_inc(&m->http_status[i]);
}

void
metrics_observe(struct metrics_hist *h, uint64_t usec)
{
	size_t i;

	for (i = 0; i < METRICS_HIST_BUCKETS - 1; i++)
		if (usec <= metrics_hist_bounds_us[i])
			break;
	metrics_inc(&h->buckets[i]);
	metrics_inc(&h->count);
	metrics_addn(&h->sum_us, usec);
}

/* Append printf output at *off; on overflow push *off past cap. */
static void __attribute__((format(printf, 4, 5)))
metrics_put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= cap) {
		*off = cap;
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	*off += n < 0 ? cap : (size_t)n;
}

static void
metrics_head(char *buf, size_t cap, size_t *off, const char *name,
    const char *type, const char *help)
{
	metrics_put(buf, cap, off, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static void
metrics_one(char *buf, size_t cap, size_t *off, const char *name,
    const char *type, const char *help, uint64_t v)
{
	metrics_head(buf, cap, off, name, type, help);
	metrics_put(buf, cap, off, "%s %llu\n", name, (unsigned long long)v);
}

static void
metrics_hist(char *buf, size_t cap, size_t *off, const char *name,
    const char *help, const struct metrics_hist *h)
{
	uint64_t cum = 0;
	size_t i;

	metrics_head(buf, cap, off, name, "histogram", help);
	for (i = 0; i < METRICS_HIST_BUCKETS; i++) {
		cum += h->buckets[i];
		if (i < METRICS_HIST_BUCKETS - 1)
			metrics_put(buf, cap, off, "%s_bucket{le=\"%g\"} %llu\n",
			    name, (double)metrics_hist_bounds_us[i] / 1e6,
			    (unsigned long long)cum);
		else
			metrics_put(buf, cap, off,
			    "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
	}
	metrics_put(buf, cap, off, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)h->sum_us / 1e6, name, (unsigned long long)h->count);
}

/* One sample of a per-route family: an extra label (key NULL: none) and
 * the counter's place in struct metrics_route. */
struct metrics_route_sample {
	const char	*key;
	const char	*val;
	size_t		 field;
};

/* The one route loop: family name, then each route's samples in order. */
static void
metrics_route_family(char *buf, size_t cap, size_t *off, const char *name,
    const char *type, const char *help, const struct metrics_route *routes,
    const char *const *names, size_t nroutes,
    const struct metrics_route_sample *smp, size_t nsmp)
{
	const uint64_t *v;
	size_t i, k;

	metrics_head(buf, cap, off, name, type, help);
	for (i = 0; i < nroutes; i++)
		for (k = 0; k < nsmp; k++) {
			v = (const uint64_t *)(const void *)((const char *)
			    &routes[i] + smp[k].field);
			if (smp[k].key == NULL)
				metrics_put(buf, cap, off, "%s{route=\"%s\"} "
				    "%llu\n", name, names[i],
				    (unsigned long long)*v);
			else
				metrics_put(buf, cap, off, "%s{route=\"%s\","
				    "%s=\"%s\"} %llu\n", name, names[i],
				    smp[k].key, smp[k].val,
				    (unsigned long long)*v);
		}
}

#define METRICS_ROUTE_FIELD(f)	offsetof(struct metrics_route, f)

/* Per-route families: one sample per route (and per direction, cause). */
static void
metrics_routes(const struct metrics_route *routes, const char *const *names,
    size_t nroutes, char *buf, size_t cap, size_t *off)
{
	static const struct metrics_route_sample active[] = {
		{ NULL, NULL, METRICS_ROUTE_FIELD(active) },
	}, sessions[] = {
		{ NULL, NULL, METRICS_ROUTE_FIELD(sessions) },
	}, bytes[] = {
		{ "direction", "up", METRICS_ROUTE_FIELD(bytes_up) },
		{ "direction", "down", METRICS_ROUTE_FIELD(bytes_down) },
	};
	struct metrics_route_sample ended[METRICS_END_MAX];
	size_t e;

	for (e = 0; e < METRICS_END_MAX; e++) {
		ended[e].key = "cause";
		ended[e].val = metrics_end_names[e];
		ended[e].field = METRICS_ROUTE_FIELD(ended) +
		    e * sizeof(uint64_t);
	}
	metrics_route_family(buf, cap, off, "wsgate_route_sessions_active",
	    "gauge", "Sessions alive, by route.", routes, names, nroutes,
	    active, METRICS_N(active));
	metrics_route_family(buf, cap, off, "wsgate_route_sessions_total",
	    "counter", "Sessions upgraded, by route.", routes, names, nroutes,
	    sessions, METRICS_N(sessions));
	metrics_route_family(buf, cap, off, "wsgate_route_bytes_total",
	    "counter", "Payload bytes relayed by ended sessions, by route and "
	    "direction.", routes, names, nroutes, bytes, METRICS_N(bytes));
	metrics_route_family(buf, cap, off,
	    "wsgate_route_sessions_ended_total", "counter",
	    "Sessions ended, by route and cause.", routes, names, nroutes,
	    ended, METRICS_N(ended));
}

int
metrics_render(const struct metrics *m, const struct metrics_route *routes,
    const char *const *route_names, size_t nroutes, char *buf, size_t cap)
{
	size_t off = 0, i;

	metrics_one(buf, cap, &off, "wsgate_connections_accepted_total",
	    "counter", "Connections accepted.", m->accepted);
	metrics_one(buf, cap, &off, "wsgate_handshakes_total", "counter",
	    "WebSocket upgrades answered with 101.", m->handshakes_ok);
	metrics_one(buf, cap, &off, "wsgate_handshake_timeouts_total",
	    "counter", "Request heads not finished within handshake_timeout.",
	    m->handshake_timeouts);
	metrics_head(buf, cap, &off, "wsgate_handshake_rejections_total",
	    "counter", "Upgrades refused with an HTTP error, by status.");
	for (i = 0; i < METRICS_NSTATUS; i++)
		metrics_put(buf, cap, &off,
		    "wsgate_handshake_rejections_total{status=\"%d\"} %llu\n",
		    metrics_statuses[i], (unsigned long long)m->http_status[i]);
	metrics_one(buf, cap, &off, "wsgate_sessions_active", "gauge",
	    "Connections alive (any state).", m->sessions_active);
	metrics_one(buf, cap, &off, "wsgate_upstream_connect_failures_total",
	    "counter", "Backend connection attempts that failed.",
	    m->upstream_connect_failed);
	metrics_one(buf, cap, &off, "wsgate_heartbeat_timeouts_total",
	    "counter", "Sessions torn down for a missing pong.",
	    m->heartbeat_timeouts);
	metrics_one(buf, cap, &off, "wsgate_accept_paused_total", "counter",
	    "Times accepting paused for lack of descriptors.",
	    m->accept_paused);
	metrics_one(buf, cap, &off, "wsgate_exec_processes", "gauge",
	    "exec: backend programs alive (until reaped).", m->exec_processes);
	metrics_one(buf, cap, &off, "wsgate_exec_spawn_failures_total",
	    "counter", "exec: backend programs that could not be started.",
	    m->exec_spawn_failed);
	metrics_one(buf, cap, &off, "wsgate_admin_connections", "gauge",
	    "Connections open to the admin endpoint.", m->admin_connections);
	metrics_one(buf, cap, &off, "wsgate_admin_connections_refused_total",
	    "counter", "Admin connections closed at once: "
	    "admin_max_connections were open.", m->admin_refused);
	metrics_head(buf, cap, &off, "wsgate_close_codes_total", "counter",
	    "Close codes sent to clients.");
	for (i = 0; i < METRICS_N(m->close_codes); i++)
		if (m->close_codes[i] != 0)
			metrics_put(buf, cap, &off,
			    "wsgate_close_codes_total{code=\"%zu\"} %llu\n",
			    1000 + i, (unsigned long long)m->close_codes[i]);
	metrics_hist(buf, cap, &off, "wsgate_backend_connect_seconds",
	    "Time to connect a backend (resolution included).",
	    &m->connect_latency);
	metrics_hist(buf, cap, &off, "wsgate_ping_rtt_seconds",
	    "Heartbeat ping to pong round trip.", &m->ping_rtt);
	if (m->redis_workers > 0) {
		metrics_one(buf, cap, &off, "wsgate_redis_up", "gauge",
		    "1 when every worker's Redis connection is up.",
		    m->redis_up == m->redis_workers);
		metrics_one(buf, cap, &off, "wsgate_redis_connections_up",
		    "gauge", "Workers whose Redis connection is up.",
		    m->redis_up);
		metrics_one(buf, cap, &off, "wsgate_redis_errors_total",
		    "counter", "Redis connects failed, connections lost, "
		    "commands failed.", m->redis_errors);
		metrics_hist(buf, cap, &off, "wsgate_redis_lookup_seconds",
		    "Redis token lookup round trip.", &m->redis_lookup);
	}
	if (m->fleet_on > 0) {
		metrics_one(buf, cap, &off, "wsgate_fleet_orders_received_total",
		    "counter", "Operator orders (close, revoke) that reached "
		    "this gateway.", m->fleet_orders_received);
		metrics_one(buf, cap, &off, "wsgate_fleet_orders_applied_total",
		    "counter", "Operator orders carried out on this gateway's "
		    "workers.", m->fleet_orders_applied);
		metrics_one(buf, cap, &off,
		    "wsgate_fleet_registry_write_errors_total", "counter",
		    "Registry writes to Redis refused or not sent.",
		    m->fleet_registry_write_errors);
	}
	metrics_routes(routes, route_names, nroutes, buf, cap, &off);
	return off < cap ? (int)off : -1;
}
