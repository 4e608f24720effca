/*
 * admin: the operator's HTTP endpoint on admin_listen (libevent's evhttp,
 * in worker 0): /metrics (Prometheus text, every worker summed), /healthz
 * (the process answers), /readyz (listening and not stopping) and
 * /sessions (admin_sessions.h).
 */
#ifndef ADMIN_H
#define ADMIN_H

struct gw_worker;
struct config;

/*
 * Serve admin_listen of cfg on workers[0]'s event base; nworkers workers
 * are summed for /metrics; /sessions names this gateway instance.
 * No-op (0) when admin_listen is off. Returns 0, or -1 when it cannot
 * listen (logged).
 */
int	admin_start(struct gw_worker *workers, unsigned nworkers,
	    const struct config *cfg, const char *instance);

/* Stop serving (idempotent). */
void	admin_stop(void);

#endif
