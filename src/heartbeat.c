/*
 * heartbeat: see include/heartbeat.h.
 *
 * Ping cycle: a ping goes out every heartbeat_interval, whatever the
 * timeout (gateway.conf(5): "ping the client this often"; a proxy in front
 * with a read timeout shorter than interval + timeout must see traffic).
 * A second timer, the deadline, runs heartbeat_timeout from the oldest
 * ping the client has not shown life since: any client bytes (a pong, or
 * any frame at all) prove life and the next ping starts a new wait; none
 * by the deadline means the client is gone and both legs are torn down.
 * The idle timer compares against the time of the last relayed data, on
 * CLOCK_MONOTONIC_COARSE (hb_idle_ms).
 */
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "gw.h"
#include "heartbeat.h"
#include "log.h"
#include "session-int.h"
#include "ws_conn.h"

/* Queue a ping carrying a fixed payload (a pong echoes it). */
static void
hb_send_ping(struct session *s)
{
	static const char payload[] = "wsgate";

	(void)ws_conn_send(s, WS_CONN_FIN | WS_OP_PING, payload,
	    sizeof(payload) - 1, NULL);
	/* The round trip is timed from the oldest ping still unanswered. */
	if (s->hb.ping_sent.tv_sec == 0 && s->hb.ping_sent.tv_nsec == 0)
		clock_gettime(CLOCK_MONOTONIC, &s->hb.ping_sent);
}

/*
 * Bytes of client output the client's TCP has acknowledged so far: handed
 * to the kernel minus what the kernel still holds unacknowledged. TLS
 * output is counted before encryption, so there only what left our own
 * buffer is known.
 */
static uint64_t
hb_client_acked(const struct session *s)
{
	uint64_t sent = s->out_total -
	    evbuffer_get_length(bufferevent_get_output(s->client.bev));
	int unacked = 0;

	if (!s->client.tls && ioctl(bufferevent_getfd(s->client.bev), SIOCOUTQ,
	    &unacked) == 0 && unacked > 0 && (uint64_t)unacked <= sent)
		sent -= (uint64_t)unacked;
	return sent;
}

/*
 * No pong and no frame since the ping: is the client still a live but
 * slow reader? Only if the ping has not reached it yet (it waits behind
 * data queued before it) while the client keeps acknowledging data. A
 * client that got the ping and stays silent is dead.
 */
static bool
hb_client_busy_reading(struct session *s)
{
	uint64_t acked = hb_client_acked(s);
	bool busy = acked < s->hb.ping_end && acked > s->hb.acked_mark;

	s->hb.acked_mark = acked;
	return busy;
}

/* Every heartbeat_interval (a persistent timer): ping. */
static void
hb_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->client.bev == NULL || s->state == SESSION_CLOSING)
		return;
	hb_send_ping(s);
	/*
	 * A new wait begins unless an older ping is still unanswered: the
	 * timeout counts from the oldest ping the client was silent after.
	 */
	if (!s->hb.waiting || s->hb.rx_seen) {
		s->hb.waiting = true;
		s->hb.rx_seen = false;
		s->hb.ping_end = s->out_total;
		s->hb.acked_mark = hb_client_acked(s);
		session_timer_ms(&s->hb.deadline,
		    s->route->heartbeat_timeout_ms);
		s->hb.deadline_on = true;
	}
}

/* heartbeat_timeout after the oldest unanswered ping: alive or dead? */
static void
hb_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;

	(void)fd;
	(void)what;
	if (s->client.bev == NULL || s->state == SESSION_CLOSING)
		return;
	/*
	 * A client we stopped reading (its backend is full) may have
	 * answered already: its pong waits unread. That is not death.
	 */
	if (s->hb.rx_seen || s->client.paused || hb_client_busy_reading(s)) {
		s->hb.waiting = false;	/* the next ping starts a new wait */
		return;
	}
	metrics_inc(&s->w->m.heartbeat_timeouts);
	s->fin.end = METRICS_END_HEARTBEAT;
	s->fin.end_set = true;
	log_info("session %llu: client=%s heartbeat timeout: no pong "
	    "within %llums", (unsigned long long)s->id, s->peer,
	    (unsigned long long)s->route->heartbeat_timeout_ms);
	session_close(s, 0, "heartbeat timeout");
}

/*
 * Milliseconds since the last data (hb_activity). Monotonic: a step of
 * the wall clock (NTP, a VM resumed) must not make an active session
 * look idle, nor an idle one look active. libevent's cached time
 * (event_base_gettimeofday_cached) is wall-clock time, re-read every 5 s.
 */
static uint64_t
hb_idle_ms(const struct session *s)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	ms = ((int64_t)now.tv_sec - s->hb.last_io.tv_sec) * 1000 +
	    (now.tv_nsec - s->hb.last_io.tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

static void
hb_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	uint64_t limit = s->route->idle_timeout_ms, idle;

	(void)fd;
	(void)what;
	if (s->state == SESSION_CLOSING)
		return;
	idle = hb_idle_ms(s);
	if (idle + 5 < limit) {
		session_timer_ms(&s->hb.idle, limit - idle);
		s->hb.idle_on = true;
		return;
	}
	/* Say so even while a soft stop (exit_after, exit_when_idle) has
	 * the worker draining: this close is the route's idle_timeout. */
	if (!s->fin.end_set) {
		s->fin.end = METRICS_END_IDLE;
		s->fin.end_set = true;
	}
	session_close(s, 1001, "idle timeout");
}

void
hb_start(struct session *s)
{
	const struct config_route *r = s->route;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &s->hb.last_io);
	if (r->heartbeat_interval_ms == 0 && r->idle_timeout_ms == 0)
		return;
	if (!s->hb.assigned) {
		event_assign(&s->hb.ping, s->w->base, -1, EV_PERSIST,
		    hb_timer_cb, s);
		evtimer_assign(&s->hb.deadline, s->w->base, hb_deadline_cb, s);
		evtimer_assign(&s->hb.idle, s->w->base, hb_idle_cb, s);
		s->hb.assigned = true;
	}
	if (r->heartbeat_interval_ms > 0) {
		session_timer_ms(&s->hb.ping, r->heartbeat_interval_ms);
		s->hb.ping_on = true;
	}
	if (r->idle_timeout_ms > 0) {
		session_timer_ms(&s->hb.idle, r->idle_timeout_ms);
		s->hb.idle_on = true;
	}
}

void
hb_stop(struct session *s)
{
	if (s->hb.ping_on)
		event_del(&s->hb.ping);
	if (s->hb.deadline_on)
		event_del(&s->hb.deadline);
	if (s->hb.idle_on)
		event_del(&s->hb.idle);
	s->hb.ping_on = s->hb.deadline_on = s->hb.idle_on = false;
}

void
hb_alive(struct session *s)
{
	s->hb.rx_seen = true;
}

void
hb_pong(struct session *s)
{
	struct timespec now;

	if (s->hb.ping_sent.tv_sec == 0 && s->hb.ping_sent.tv_nsec == 0)
		return;		/* unsolicited: nothing to time */
	clock_gettime(CLOCK_MONOTONIC, &now);
	metrics_observe(&s->w->m.ping_rtt,
	    (uint64_t)((now.tv_sec - s->hb.ping_sent.tv_sec) * 1000000 +
	    (now.tv_nsec - s->hb.ping_sent.tv_nsec) / 1000));
	s->hb.ping_sent.tv_sec = 0;
	s->hb.ping_sent.tv_nsec = 0;
}

/*
 * Per read or chunk relayed: only routes with idle_timeout read the clock,
 * the coarse one (a vDSO read of the tick's time, ~6 ns; resolution one
 * tick, 1-10 ms, well inside the 5 ms slack of hb_idle_cb plus a re-arm).
 */
void
hb_activity(struct session *s)
{
	if (s->route->idle_timeout_ms > 0)
		clock_gettime(CLOCK_MONOTONIC_COARSE, &s->hb.last_io);
}
