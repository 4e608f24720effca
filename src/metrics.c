/*
 * metrics: see include/metrics.h.
 */
#include <stdarg.h>
#include <stdio.h>

#include "metrics.h"

void
metrics_add(struct metrics *dst, const struct metrics *src)
{
	size_t i;

	dst->accepted += src->accepted;
	dst->handshakes_ok += src->handshakes_ok;
	dst->handshakes_failed += src->handshakes_failed;
	dst->rejected_limit += src->rejected_limit;
	dst->sessions_active += src->sessions_active;
	dst->upstream_connect_failed += src->upstream_connect_failed;
	dst->bytes_up += src->bytes_up;
	dst->bytes_down += src->bytes_down;
	dst->heartbeat_timeouts += src->heartbeat_timeouts;
	dst->accept_paused += src->accept_paused;
	for (i = 0; i < sizeof(dst->close_codes) / sizeof(dst->close_codes[0]);
	    i++)
		dst->close_codes[i] += src->close_codes[i];
}

void
metrics_count_close(struct metrics *m, uint16_t code)
{
	if (code >= 1000 && code < 1000 + sizeof(m->close_codes) /
	    sizeof(m->close_codes[0]))
		m->close_codes[code - 1000]++;
}

/* Append printf output at *off; on overflow mark *off past cap. */
static void __attribute__((format(printf, 4, 5)))
metrics_put(char *buf, size_t cap, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, cap - *off, fmt, ap);
	va_end(ap);
	*off += n < 0 ? cap : (size_t)n;
}

static void
metrics_counter(char *buf, size_t cap, size_t *off, const char *name,
    const char *type, const char *help, uint64_t v)
{
	metrics_put(buf, cap, off, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n",
	    name, help, name, type, name, (unsigned long long)v);
}

int
metrics_render(const struct metrics *m, char *buf, size_t cap)
{
	size_t off = 0, i;

	metrics_counter(buf, cap, &off, "wsgate_connections_accepted_total",
	    "counter", "Connections accepted.", m->accepted);
	metrics_counter(buf, cap, &off, "wsgate_handshakes_total", "counter",
	    "WebSocket upgrades answered with 101.", m->handshakes_ok);
	metrics_counter(buf, cap, &off, "wsgate_handshakes_failed_total",
	    "counter", "Upgrades refused or dropped.", m->handshakes_failed);
	metrics_counter(buf, cap, &off, "wsgate_rejected_limit_total",
	    "counter", "Connections refused over max_connections.",
	    m->rejected_limit);
	metrics_counter(buf, cap, &off, "wsgate_sessions_active", "gauge",
	    "Sessions alive.", m->sessions_active);
	metrics_counter(buf, cap, &off,
	    "wsgate_upstream_connect_failures_total", "counter",
	    "Backend connection attempts that failed.",
	    m->upstream_connect_failed);
	metrics_counter(buf, cap, &off, "wsgate_bytes_up_total", "counter",
	    "Payload bytes relayed client to backend.", m->bytes_up);
	metrics_counter(buf, cap, &off, "wsgate_bytes_down_total", "counter",
	    "Payload bytes relayed backend to client.", m->bytes_down);
	metrics_counter(buf, cap, &off, "wsgate_heartbeat_timeouts_total",
	    "counter", "Sessions torn down for a missing pong.",
	    m->heartbeat_timeouts);
	metrics_counter(buf, cap, &off, "wsgate_accept_paused_total",
	    "counter", "Times accepting paused for lack of descriptors.",
	    m->accept_paused);
	metrics_put(buf, cap, &off, "# HELP wsgate_close_codes_total "
	    "Close codes sent to clients.\n"
	    "# TYPE wsgate_close_codes_total counter\n");
	for (i = 0; i < sizeof(m->close_codes) / sizeof(m->close_codes[0]);
	    i++)
		if (m->close_codes[i] != 0)
			metrics_put(buf, cap, &off,
			    "wsgate_close_codes_total{code=\"%zu\"} %llu\n",
			    1000 + i, (unsigned long long)m->close_codes[i]);
	return off < cap ? (int)off : -1;
}
