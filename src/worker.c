/*
 * worker: the event-loop threads. Each worker owns an event base, its
 * listeners and its sessions (a session never leaves its worker); worker
 * 0 runs in the main thread and also catches signals (main.c). Here:
 * setting a worker up and down, handing it a new configuration
 * generation, and stopping it (no new connections; with SIGTERM, close
 * 1001 spread over drain_timeout).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "exec.h"
#include "confgen.h"
#include "config.h"
#include "gw.h"
#include "listener.h"
#include "log.h"
#include "lookup.h"
#include "post.h"
#include "redis.h"
#include "session.h"
#include "token_api.h"
#include "worker.h"

static struct gw_worker	*worker_all;	/* [worker_n], worker_pool_new */
static unsigned		 worker_n;
/* Guards every worker's pending generation and ended flag. */
static pthread_mutex_t	 worker_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Close 1001 goes out spread over the first half of drain_timeout (the
 * rest is for close handshakes and flushing), a batch every tick, so a
 * fleet of clients does not reconnect elsewhere all in the same instant.
 */
#define WORKER_DRAIN_TICK_MS	20

/* Set before the workers are woken: a SIGTERM, not a lifecycle stop. */
static _Atomic bool worker_close_sessions;

/* Slots of worker.c's own posted events in every worker. */
enum { WORKER_POST_WAKE, WORKER_POST_RELOAD, WORKER_POST_EXIT };

/*
 * worker_reload_all: how many workers have still to take the generation
 * handed last (each decrements it in its own thread; the last one posts
 * worker_reloaded_ev to worker 0), and what worker 0 then runs.
 */
static _Atomic unsigned	 worker_reload_left;
static void		(*worker_reload_done)(struct gw_worker *);
static struct event	*worker_reloaded_ev;	/* worker 0's */
static int		 worker_reloaded_slot;

static void
worker_exit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(w->base, NULL);
}

static void
worker_drain_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;

	(void)fd;
	(void)what;
	log_warnx("drain timeout: %llu sessions still open in worker %u, "
	    "exiting", (unsigned long long)w->nsessions, w->index);
	event_base_loopexit(w->base, NULL);
}

/*
 * Worker 0 (signals, admin endpoint) stays up until every worker's
 * sessions are gone, so /readyz keeps answering 503 meanwhile.
 */
static void
worker_drain_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval tick = { 0, 50000 };
	struct gw_worker *w = arg;

	(void)fd;
	(void)what;
	if (atomic_load(&gw_sessions_total) == 0)
		event_base_loopexit(w->base, NULL);
	else
		event_base_once(w->base, -1, EV_TIMEOUT, worker_drain_poll_cb, w,
		    &tick);
}

static size_t
worker_drain_batch(const struct gw_worker *w, uint64_t drain_ms)
{
	uint64_t ticks = drain_ms / 2 / WORKER_DRAIN_TICK_MS;

	if (ticks <= 1)
		return SIZE_MAX;
	return (size_t)((w->nsessions + ticks - 1) / ticks);
}

static void
worker_drain_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	static const struct timeval tick = { 0, WORKER_DRAIN_TICK_MS * 1000 };
	struct gw_worker *w = arg;

	(void)fd;
	(void)what;
	if (session_drain_some(w, w->drain_batch) > 0)
		event_base_once(w->base, -1, EV_TIMEOUT, worker_drain_tick_cb, w,
		    &tick);
}

/*
 * In w's own thread: stop accepting; the process exits once every session
 * has ended. close_sessions (SIGTERM) also closes them with 1001 within
 * drain_timeout; without it (lifecycle.c's exit_* keys) they run on.
 */
static void
worker_stop(struct gw_worker *w, bool close_sessions)
{
	struct timeval tv;
	uint64_t ms = w->cfg->drain_timeout_ms;

	if (!w->draining) {
		w->draining = true;
		listener_close_all(w);
		if (w->index == 0)
			worker_drain_poll_cb(-1, 0, w);
		else if (w->nsessions == 0)
			event_base_loopexit(w->base, NULL);
	}
	if (!close_sessions || w->closing)
		return;
	w->closing = true;
	tv = gw_ms_to_tv(ms);
	evtimer_add(w->drain_timer, &tv);
	w->drain_batch = worker_drain_batch(w, ms);
	worker_drain_tick_cb(-1, 0, w);
}


static void
worker_wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_stop(arg, atomic_load(&worker_close_sessions));
}

/* lifecycle.c: stop accepting everywhere (any thread). */
void
worker_stop_accepting(const char *why)
{
	unsigned i;

	log_info("%s: no new connections; exiting when the %llu open "
	    "sessions end", why,
	    (unsigned long long)atomic_load(&gw_sessions_total));
	for (i = 0; i < worker_n; i++)
		post_event(&worker_all[i], WORKER_POST_WAKE);
}

/*
 * Switch w to generation gen (in w's own thread): new sessions use it,
 * listeners follow its listen lines, live sessions keep their own.
 */
void
worker_take(struct gw_worker *w, struct gw_gen *gen)
{
	struct gw_gen *old = w->gen;

	confgen_ref(gen);
	w->gen = gen;
	w->cfg = gen->cfg;
	token_api_reload(w);
	if (!w->draining && listener_reload(w, w->index > 0 ?
	    &worker_all[0] : NULL, gen->cfg) == -1)
		log_warnx("reload: worker %u could not open every listener",
		    w->index);
	confgen_unref(old);
}

/* One worker more serves (or, ended, never will serve) the generation
 * handed last; the last one tells worker 0. */
static void
worker_reload_ack(void)
{
	if (atomic_fetch_sub(&worker_reload_left, 1) == 1)
		post_event(&worker_all[0], (unsigned)worker_reloaded_slot);
}

static void
worker_reload_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gw_worker *w = arg;
	struct gw_gen *gen;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&worker_lock);
	gen = w->pending;
	w->pending = NULL;
	pthread_mutex_unlock(&worker_lock);
	if (gen != NULL) {
		worker_take(w, gen);
		confgen_unref(gen);
		worker_reload_ack();
	}
}

/* Worker 0: every worker serves the generation worker_reload_all handed. */
static void
worker_reloaded_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_reload_done(arg);
}

/*
 * A worker's event base, without a lock: only w's own thread touches it
 * (other threads go through post.c). The lock cost ~37 lock/unlock
 * pairs per connect cycle, every event_add and event_del and each turn
 * of the loop (docs/PERFORMANCE.md). With the changelist, epoll_ctl
 * calls wait until the loop next polls, and a change undone in the same
 * turn costs none: a TLS leg's write-through (tls.c) arms EV_WRITE and
 * disarms it once OpenSSL has written the bytes, inside one loop turn.
 * libevent warns against the changelist for fds cloned with dup() in one
 * base; the only dup'd fds here (shared Unix listeners) are one per
 * worker's base.
 */
static struct event_base *
worker_base_new(void)
{
	struct event_config *ec;
	struct event_base *base;

	if ((ec = event_config_new()) == NULL)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	event_config_set_flag(ec, EVENT_BASE_FLAG_NOLOCK);
	base = event_base_new_with_config(ec);
	event_config_free(ec);
	return base;
}

/* Event base, resolver and wake-up events of one worker. */
void
worker_init(struct gw_worker *w, unsigned index, struct gw_gen *gen)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	LIST_INIT(&w->sessions);
	LIST_INIT(&w->listeners);
	confgen_ref(gen);
	w->gen = gen;
	w->cfg = gen->cfg;
	if ((w->base = worker_base_new()) == NULL)
		fatalx("event_base_new failed");
	if (post_init(w) == -1)
		fatal("eventfd");
	w->wake = event_new(w->base, -1, 0, worker_wake_cb, w);
	w->reload_ev = event_new(w->base, -1, 0, worker_reload_cb, w);
	w->exit_ev = event_new(w->base, -1, 0, worker_exit_cb, w);
	w->drain_timer = evtimer_new(w->base, worker_drain_timeout_cb, w);
	/* In the order of the WORKER_POST_ slots. */
	if (w->wake == NULL || w->reload_ev == NULL || w->exit_ev == NULL ||
	    w->drain_timer == NULL || post_slot(w, w->wake) !=
	    WORKER_POST_WAKE || post_slot(w, w->reload_ev) !=
	    WORKER_POST_RELOAD || post_slot(w, w->exit_ev) != WORKER_POST_EXIT)
		fatalx("event_new failed");
	if (index == 0 && ((worker_reloaded_ev = event_new(w->base, -1, 0,
	    worker_reloaded_cb, w)) == NULL || (worker_reloaded_slot =
	    post_slot(w, worker_reloaded_ev)) == -1))
		fatalx("event_new failed");
	if (lookup_worker_init(w) == -1)
		fatalx("event_new failed");
}

void
worker_free(struct gw_worker *w)
{
	/* Sessions left after a drain timeout go without ceremony. */
	session_free_all(w);
	token_api_worker_free(w);
	redis_conn_free(w->redis);
	w->redis = NULL;
	lookup_worker_free(w);
	exec_free_all(w);	/* processes still being killed */
	listener_close_all(w);
	event_free(w->wake);
	event_free(w->reload_ev);
	event_free(w->exit_ev);
	event_free(w->drain_timer);
	if (w->index == 0 && worker_reloaded_ev != NULL) {
		event_free(worker_reloaded_ev);
		worker_reloaded_ev = NULL;
	}
	post_free(w);
	confgen_unref(w->pending);
	confgen_unref(w->gen);
	if (w->dns != NULL)
		evdns_base_free(w->dns, 0);
	event_base_free(w->base);
}

void *
worker_run(void *arg)
{
	struct gw_worker *w = arg;
	struct gw_gen *gen;

	post_enter(w);
	event_base_dispatch(w->base);
	post_enter(NULL);
	/*
	 * A worker's loop ends before the process does: a soft stop
	 * (lifecycle.c) ends those without sessions at once while the others
	 * run on, and SIGHUP still reloads. This one takes no generation from
	 * now on (worker_reload_all counts it out); one handed to it already
	 * is answered here, or the reload waited for it forever, and every
	 * SIGHUP after it.
	 */
	pthread_mutex_lock(&worker_lock);
	w->ended = true;
	gen = w->pending;
	w->pending = NULL;
	pthread_mutex_unlock(&worker_lock);
	if (gen != NULL) {
		confgen_unref(gen);
		worker_reload_ack();
	}
	return NULL;
}

/*
 * workers = auto: one per CPU this process may run on. That is its CPU
 * affinity (taskset, systemd's CPUAffinity=, a container's cpuset), not
 * every CPU online: a sidecar given one CPU of sixteen runs one loop, not
 * sixteen that take turns on it. With more CPUs than a cpu_set_t holds,
 * or without the call, the CPUs online.
 */
unsigned
worker_count(const struct config *cfg)
{
	cpu_set_t set;
	long n;

	if (cfg->workers != 0)
		return cfg->workers;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		n = CPU_COUNT(&set);
	else
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

struct gw_worker *
worker_pool_new(unsigned n)
{
	if ((worker_all = calloc(n, sizeof(*worker_all))) == NULL)
		fatal("calloc");
	worker_n = n;
	return worker_all;
}

void
worker_pool_free(void)
{
	free(worker_all);
	worker_all = NULL;
	worker_n = 0;
}

bool
worker_reloading(void)
{
	return atomic_load(&worker_reload_left) > 0;
}

void
worker_reload_all(struct gw_worker *w0, struct gw_gen *gen,
    void (*done)(struct gw_worker *w0))
{
	struct gw_worker *w;
	struct gw_gen *old;
	unsigned i, n = 0;

	worker_reload_done = done;
	worker_take(w0, gen);
	/*
	 * Each other worker whose loop still runs takes gen in its own
	 * thread soon (worker_reload_cb) and counts itself off; one whose
	 * loop has ended is not waited for (worker_run). Under the lock, a
	 * worker ending meanwhile is either counted out here or answers
	 * for the generation it was handed; the count is set before any
	 * worker can take gen (that takes the lock).
	 */
	pthread_mutex_lock(&worker_lock);
	for (i = 0; i < worker_n; i++) {
		w = &worker_all[i];
		if (w == w0 || w->ended)
			continue;
		confgen_ref(gen);
		old = w->pending;	/* NULL: one reload at a time */
		w->pending = gen;
		confgen_unref(old);
		post_event(w, WORKER_POST_RELOAD);
		n++;
	}
	atomic_store(&worker_reload_left, n);
	pthread_mutex_unlock(&worker_lock);
	if (n == 0)
		done(w0);
}

void
worker_drain_all(struct gw_worker *w0)
{
	unsigned i;

	atomic_store(&worker_close_sessions, true);
	for (i = 0; i < worker_n; i++)
		if (&worker_all[i] != w0)
			post_event(&worker_all[i], WORKER_POST_WAKE);
	worker_stop(w0, true);
}

void
worker_exit_all(void)
{
	unsigned i;

	for (i = 0; i < worker_n; i++)
		post_event(&worker_all[i], WORKER_POST_EXIT);
}
