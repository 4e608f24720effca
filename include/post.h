/*
 * post: other threads' one way into a worker (src/post.c). A worker's
 * event base has no lock (worker.c), so no other thread may touch it;
 * instead it posts one of the worker's registered events, which the
 * worker then makes active in its own thread.
 */
#ifndef POST_H
#define POST_H

struct event;
struct gw_worker;

/*
 * w's eventfd and the persistent event on w->base that watches it. 0, or
 * -1 (errno set) with nothing left allocated. post_free undoes it.
 */
int	post_init(struct gw_worker *w);
void	post_free(struct gw_worker *w);

/*
 * Register ev (an event of w->base, still the caller's) and return its
 * slot, or -1 when w's 32 slots are taken. Only before any thread but the
 * caller runs w's loop or posts to it: the table is read-only after.
 */
int	post_slot(struct gw_worker *w, struct event *ev);

/*
 * From any thread: make the event of slot active in w's own thread soon.
 * In w's thread (post_enter) that is event_active() at once; elsewhere a
 * bit in w->post_bits and, only when no bit was set yet, one eventfd
 * write. Posting again before the event ran runs it once, so its
 * callback must find what was posted itself (a locked queue, a field
 * under a lock).
 */
void	post_event(struct gw_worker *w, unsigned slot);

/* The calling thread runs w's loop from now on (NULL: none). */
void	post_enter(struct gw_worker *w);

#endif
