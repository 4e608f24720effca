/*
 * lifecycle: when the gateway stops on its own (websockify's --timeout,
 * --idle-timeout and --run-once, as gateway.conf keys):
 *   exit_after = T           stop accepting T after start, exit once the
 *                            open sessions have ended;
 *   exit_when_idle = T       exit once no session has been open for T;
 *   exit_after_sessions = N  stop accepting after N WebSocket upgrades
 *                            (later upgrades get 503), exit once they end.
 * "Stop accepting" is main's soft drain: listeners close, live sessions
 * run to their end undisturbed (no close 1001, no drain_timeout).
 */
#ifndef LIFECYCLE_H
#define LIFECYCLE_H

#include <stdbool.h>

struct config;
struct event_base;

/*
 * Arm the timers on base (worker 0's) for cfg. stop is called (in any
 * thread, once) to stop accepting. Returns 0, or -1 if a timer could not
 * be made (logged).
 */
int	lifecycle_start(struct event_base *base, const struct config *cfg,
	    void (*stop)(const char *why));

/*
 * A session is about to be upgraded: true if it may be (counted), false
 * once exit_after_sessions upgrades (as read at start; cfg is not
 * consulted) were let through. Any thread.
 */
bool	lifecycle_admit(const struct config *cfg);

/* Free the timers (at exit, in worker 0's thread). */
void	lifecycle_stop(void);

#endif
