/*
 * lookup: handshakes that wait for an answer from elsewhere (a token in
 * Redis, an HTTP token API, a password hash on a helper thread) without
 * ever blocking a worker.
 *
 * While it waits, the session stays in its handshake state with its
 * client input paused (nothing more is read; what was read stays in the
 * input buffer, head included) and a deadline armed. The answer comes
 * back to the session's own worker, as a call on that worker's thread
 * (lookup_answer) or from any thread through the worker's queue
 * (lookup_answer_async). It names the wait by its ticket, never by a
 * pointer: the worker finds the waiting session through its table of
 * tickets, and an answer whose session has gone (the client left, the
 * handshake timed out, the deadline passed, the server drained) finds
 * nothing and is dropped. So a producer keeps only (worker, ticket), and
 * no pointer to a session can go stale.
 *
 * The worker's thread only, except lookup_answer_async.
 */
#ifndef LOOKUP_H
#define LOOKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_worker;
struct session;

enum lookup_status {
	LOOKUP_OK = 0,		/* found: value holds the answer */
	LOOKUP_NOT_FOUND,	/* the source says there is no such thing */
	LOOKUP_DENIED,		/* a check said no (wrong password) */
	LOOKUP_UNAVAILABLE,	/* the source could not answer (down, error) */
	LOOKUP_TIMEOUT,		/* the deadline passed first */
};

/*
 * Called once per wait, on the session's worker, with s in its handshake
 * state and its client input enabled again. value[0..len) is the answer
 * (LOOKUP_OK; else NULL, 0), valid only during the call. usec is how long
 * the wait took. The callback may close s (it must then return at once)
 * or start another wait.
 */
typedef void lookup_done_fn(struct session *s, enum lookup_status st,
    const char *value, size_t len, uint64_t usec, void *arg);

/*
 * Make s wait: pause its client input, arm a deadline of timeout_ms and
 * register it. done(s, ..., arg) runs exactly once: at the answer, or at
 * LOOKUP_TIMEOUT; never if s ends first (lookup_cancel). arg is the
 * caller's and is never freed here: it must outlive the wait (for
 * example, point into the configuration s holds a reference to).
 * Returns the ticket (never 0) to hand to the producer, or 0 when out of
 * memory (nothing changed; s is not waiting). s must not be waiting.
 */
uint64_t lookup_wait(struct session *s, uint64_t timeout_ms,
	    lookup_done_fn *done, void *arg);

/*
 * The answer for ticket, on w's own thread. value[0..len) is copied if
 * needed; the caller keeps it. A ticket no longer waiting is ignored.
 * Safe to call from within any callback of w's loop, including the
 * function that started the wait (the answer is then delivered on the
 * next loop turn, never inside lookup_wait's caller).
 */
void	lookup_answer(struct gw_worker *w, uint64_t ticket,
	    enum lookup_status st, const char *value, size_t len);

/*
 * The same from any thread: the answer is queued (value copied) and
 * delivered on w's thread. Returns 0, or -1 when out of memory (the
 * wait then ends at its deadline).
 */
int	lookup_answer_async(struct gw_worker *w, uint64_t ticket,
	    enum lookup_status st, const char *value, size_t len);

/* Is s waiting for an answer? */
bool	lookup_waiting(const struct session *s);

/* s ends (session teardown): forget its wait, if any. done never runs. */
void	lookup_cancel(struct session *s);

/* Set up and free w's table and queue (in main, around the worker's life).
 * lookup_worker_init returns 0 or -1. */
int	lookup_worker_init(struct gw_worker *w);
void	lookup_worker_free(struct gw_worker *w);

#endif
