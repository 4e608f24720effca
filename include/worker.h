/*
 * worker: the event-loop threads (src/worker.c). main.c makes the pool,
 * runs worker 0 in its own thread and the others in theirs, and tells
 * them of reloads and signals through the calls below.
 */
#ifndef WORKER_H
#define WORKER_H

#include <stdbool.h>

struct config;
struct gw_gen;
struct gw_worker;

/* Workers for cfg: its workers, or for "auto" one per CPU the process may
 * run on (its affinity), 1..64. */
unsigned worker_count(const struct config *cfg);

/*
 * The array of n workers (zeroed; fatal on out of memory), remembered
 * for the calls that reach every worker. worker_pool_free frees it once
 * every worker is worker_free'd.
 */
struct gw_worker *worker_pool_new(unsigned n);
void	worker_pool_free(void);

/*
 * Set w up as worker index on generation gen (a reference is taken):
 * event base, wake-up, reload and drain events, the lookup table. Fatal
 * when libevent cannot.
 */
void	worker_init(struct gw_worker *w, unsigned index, struct gw_gen *gen);
/* Free what w holds; sessions left after a drain timeout go too. */
void	worker_free(struct gw_worker *w);
/* Run w's loop until it exits (a pthread start routine); returns NULL. */
void	*worker_run(void *w);

/*
 * In w's own thread: new sessions use gen (w takes a reference), its
 * listeners follow gen's listen lines; live sessions keep their own.
 */
void	worker_take(struct gw_worker *w, struct gw_gen *gen);
/*
 * SIGHUP, in worker 0's thread (w0): w0 takes gen now and every other
 * worker in its own thread soon (each takes a reference); done(w0) runs
 * in w0's thread once all of them serve gen, at once with one worker.
 * Only while worker_reloading() is false: one reload at a time, so that
 * done means every worker has that generation.
 */
void	worker_reload_all(struct gw_worker *w0, struct gw_gen *gen,
	    void (*done)(struct gw_worker *w0));
/* A worker_reload_all is waiting for workers to take its generation. */
bool	worker_reloading(void);

/*
 * lifecycle.c and wrap.c: every worker stops accepting; the process
 * exits once the open sessions end. Any thread.
 */
void	worker_stop_accepting(const char *why);
/*
 * SIGTERM, in worker 0's thread (w0): every worker stops accepting and
 * closes its sessions with 1001 over drain_timeout.
 */
void	worker_drain_all(struct gw_worker *w0);
/* A second signal: every loop exits now. */
void	worker_exit_all(void);

#endif
