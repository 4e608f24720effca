/*
 * admin: the operator's HTTP endpoint on admin_listen (libevent's evhttp,
 * in worker 0): /metrics (Prometheus text, every worker summed), /healthz
 * (the process answers), /readyz (listening and not stopping) and
 * /sessions (admin_sessions.h).
 */
#ifndef ADMIN_H
#define ADMIN_H

#include <stddef.h>
#include <stdint.h>

struct gw_worker;
struct config;
struct evhttp_request;

/*
 * Serve admin_listen of cfg on workers[0]'s event base; nworkers workers
 * are summed for /metrics. fds_changed (may be NULL) runs in that thread
 * when admin_fds_max() drops without a reload. No-op (0) when
 * admin_listen is off. Returns 0, or -1 when it cannot listen (logged).
 */
int	admin_start(struct gw_worker *workers, unsigned nworkers,
	    const struct config *cfg, void (*fds_changed)(void));

/*
 * SIGHUP: take cfg's admin_max_connections (the rest of the admin keys
 * take a restart). Connections already open stay, past a lowered cap
 * too (admin_fds_max counts them); new ones are refused until fewer are
 * open. Call in worker 0's thread, as the endpoint runs there.
 */
void	admin_reload(const struct config *cfg);

/*
 * Descriptors the endpoint may hold for connections at once: its
 * admin_max_connections, or more while more than that are open (a
 * reload lowered it), and one more being refused (admin_adopt_cb counts
 * each new one before the next accept); 0 when it is off. The sessions'
 * room under the open-files limit leaves them out (main.c).
 */
uint64_t admin_fds_max(void);

/*
 * Answer req with code and reason, Content-Type type and the len bytes
 * of body (copied), Content-Length said explicitly; for HEAD the same
 * headers and no body. For every admin answer (evhttp 2.1 would send a
 * body to HEAD). req is answered and no longer ours afterwards.
 */
void	admin_send(struct evhttp_request *req, int code, const char *reason,
	    const char *type, const char *body, size_t len);

/* Stop serving (idempotent). */
void	admin_stop(void);

#endif
