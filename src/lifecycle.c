/*
 * lifecycle: see include/lifecycle.h.
 *
 * Idle time is measured by worker 0 looking at the process-wide session
 * count (gw_sessions_total) a few times a second: websockify polls once a
 * second, and nothing needs the exit to the millisecond.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "gw.h"
#include "lifecycle.h"
#include "log.h"

#define LIFECYCLE_POLL_MS	200

static void		(*lifecycle_stop_fn)(const char *);
static _Atomic bool	 lifecycle_stopped;
static _Atomic uint64_t	 lifecycle_upgrades;
static struct event	*lifecycle_after_ev, *lifecycle_idle_ev;
static uint64_t		 lifecycle_idle_ms;
static uint64_t		 lifecycle_max_sessions;	/* at start; 0: none */
static struct timespec	 lifecycle_busy;	/* when wsgate was last seen idle
						   after a session (or started) */
static bool		 lifecycle_was_busy;	/* the last poll saw a session */

static void
lifecycle_fire(const char *why)
{
	bool	no = false;

	if (atomic_compare_exchange_strong(&lifecycle_stopped, &no, true))
		lifecycle_stop_fn(why);
}

static void
lifecycle_after_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	lifecycle_fire("exit_after reached");
}

static uint64_t
lifecycle_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - t->tv_sec) * 1000 +
	    (uint64_t)(now.tv_nsec / 1000000) - (uint64_t)(t->tv_nsec / 1000000);
}

static void
lifecycle_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	/* The last session ended after the last poll that saw it, so the
	 * idle time starts at the first poll that sees none: counted from the
	 * last busy poll, wsgate exited up to a poll early (seen: 1.95 s
	 * after the session of an --idle-timeout 2). */
	if (atomic_load(&gw_sessions_total) > 0)
		lifecycle_was_busy = true;
	else if (lifecycle_was_busy) {
		clock_gettime(CLOCK_MONOTONIC, &lifecycle_busy);
		lifecycle_was_busy = false;
	} else if (lifecycle_ms_since(&lifecycle_busy) >= lifecycle_idle_ms)
		lifecycle_fire("exit_when_idle reached");
}

static struct event *
lifecycle_timer(struct event_base *base, event_callback_fn cb, short flags,
    uint64_t ms)
{
	struct timeval	 tv = { (time_t)(ms / 1000),
	    (suseconds_t)(ms % 1000) * 1000 };
	struct event	*ev;

	if ((ev = event_new(base, -1, flags, cb, NULL)) == NULL ||
	    event_add(ev, &tv) == -1) {
		log_warnx("lifecycle: cannot arm a timer");
		if (ev != NULL)
			event_free(ev);
		return NULL;
	}
	return ev;
}

int
lifecycle_start(struct event_base *base, const struct config *cfg,
    void (*stop)(const char *why))
{
	lifecycle_stop_fn = stop;
	clock_gettime(CLOCK_MONOTONIC, &lifecycle_busy);
	if (cfg->exit_after_ms > 0 && (lifecycle_after_ev = lifecycle_timer(
	    base, lifecycle_after_cb, 0, cfg->exit_after_ms)) == NULL)
		return -1;
	lifecycle_idle_ms = cfg->exit_when_idle_ms;
	lifecycle_max_sessions = cfg->exit_after_sessions;
	if (cfg->exit_when_idle_ms > 0 && (lifecycle_idle_ev = lifecycle_timer(
	    base, lifecycle_idle_cb, EV_PERSIST, LIFECYCLE_POLL_MS)) == NULL)
		return -1;
	return 0;
}

bool
lifecycle_admit(const struct config *cfg)
{
	uint64_t n;

	(void)cfg;	/* the value read at start counts, not a reload's */
	if (lifecycle_max_sessions == 0)
		return true;
	n = atomic_fetch_add(&lifecycle_upgrades, 1) + 1;
	if (n > lifecycle_max_sessions)
		return false;
	if (n == lifecycle_max_sessions)
		lifecycle_fire("exit_after_sessions reached");
	return true;
}

void
lifecycle_stop(void)
{
	if (lifecycle_after_ev != NULL)
		event_free(lifecycle_after_ev);
	if (lifecycle_idle_ev != NULL)
		event_free(lifecycle_idle_ev);
	lifecycle_after_ev = lifecycle_idle_ev = NULL;
}
