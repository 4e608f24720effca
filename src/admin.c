/*
 * admin: see include/admin.h.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "admin.h"
#include "admin_sessions.h"
#include "config.h"
#include "confgen.h"
#include "exec.h"
#include "gw.h"
#include "log.h"
#include "metrics.h"

static struct evhttp	*admin_http;
static struct gw_worker	*admin_workers;
static unsigned		 admin_nworkers;

/*
 * admin_max_connections (see admin_bev_cb): connections evhttp set up
 * that are not counted yet (each holds a reference of ours), the count
 * of those open, and the refusals, told once per burst.
 */
static struct event	 *admin_adopt_ev;	/* counts admin_pending[] */
static struct event	 *admin_burst_ev;	/* ends a burst of refusals */
static struct event	 *admin_resume_ev;	/* ends an accept pause */
static struct evconnlistener *admin_lev;	/* evhttp's listener */
static struct bufferevent **admin_pending;
static size_t		  admin_npending, admin_pending_cap;
static uint64_t		  admin_nconns, admin_max_conns;
static void		(*admin_fds_changed)(void);	/* admin_fds_max moved */
static uint64_t		  admin_refused, admin_refused_told;

/*
 * Limits on what a client may send (docs/LIMITS.md). The endpoint reads
 * and takes small orders: Prometheus, probes and operators send a request
 * line and a few headers. Without them evhttp buffered any head and body
 * whole: a 1 GB Content-Length took 128 MiB in 0.7 s, and an endless
 * header line kept worker 0 (which also runs sessions) at 100 % CPU,
 * searching the whole buffer again for an end of line on every read.
 */
#define ADMIN_MAX_HEAD		8192	/* request line + headers: else 400 */
#define ADMIN_MAX_BODY		4096	/* read and ignored; larger: 413 */
#define ADMIN_TIMEOUT_S		5	/* no byte either way this long: close */
#define ADMIN_BURST_S		10	/* refusals: one log line per this */
#define ADMIN_PAUSE_S		1	/* accept out of descriptors: pause */

/*
 * Every method evhttp knows, and the bit it gives a method it does not
 * know (1 << 15 in 2.1): all reach our callbacks, which answer 405 with
 * Allow, where evhttp's own check would say 501.
 */
#define ADMIN_ALL_METHODS	0xffff

void
admin_send(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	char clen[24];

	evhttp_add_header(h, "Content-Type", type);
	/*
	 * HEAD: the GET's headers, no body (RFC 9110 §9.3.2). evhttp 2.1
	 * sends whatever is in the output buffer even for HEAD, and counts
	 * Content-Length from it only for methods with a body: say it here.
	 */
	snprintf(clen, sizeof(clen), "%zu", len);
	evhttp_add_header(h, "Content-Length", clen);
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(evhttp_request_get_output_buffer(req), body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void
admin_text(struct evhttp_request *req, int code, const char *reason,
    const char *body)
{
	admin_send(req, code, reason, "text/plain", body, strlen(body));
}

/*
 * Only GET and HEAD here. Returns true if req may go on, else has
 * answered it: 405 with Allow (RFC 9110 §15.5.6).
 */
static bool
admin_read_only(struct evhttp_request *req)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (cmd == EVHTTP_REQ_GET || cmd == EVHTTP_REQ_HEAD)
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    "GET, HEAD");
	admin_text(req, HTTP_BADMETHOD, "Method Not Allowed",
	    "405 Method Not Allowed\n");
	return false;
}

/* The route as written ("/vnc", or with "/\*" for prefixes), escaped for a
 * Prometheus label value. */
static char *
admin_route_label(const struct config_route *r)
{
	size_t len = strlen(r->path), i, o = 0;
	char *s;

	if ((s = malloc(len * 2 + 3)) == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (r->path[i] == '"' || r->path[i] == '\\')
			s[o++] = '\\';
		s[o++] = r->path[i];
	}
	if (r->prefix) {
		s[o++] = '/';
		s[o++] = '*';
	}
	s[o] = '\0';
	return s;
}

/*
 * Routes come from worker 0's current generation (stable in this thread);
 * every worker's row of it is summed. Counters of a generation that a
 * reload replaced stop appearing (Prometheus reads that as a reset).
 */
static void
admin_metrics_cb(struct evhttp_request *req, void *arg)
{
	struct gw_gen *gen = admin_workers[0].gen;
	size_t nroutes = gen->cfg->nroutes, cap = 16384, i;
	struct metrics_route *routes;
	struct metrics sum;
	char **names, *buf = NULL, *nbuf;
	int n = -1;

	(void)arg;
	if (!admin_read_only(req))
		return;
	memset(&sum, 0, sizeof(sum));
	routes = calloc(nroutes + 1, sizeof(*routes));
	names = calloc(nroutes + 1, sizeof(*names));
	if (routes == NULL || names == NULL)
		goto done;
	for (i = 0; i < nroutes; i++)
		if ((names[i] = admin_route_label(&gen->cfg->routes[i])) == NULL)
			goto done;
	for (i = 0; i < admin_nworkers; i++) {
		metrics_add(&sum, &admin_workers[i].m);
		metrics_add_routes(routes, confgen_route_metrics(gen, (unsigned)i,
		    0), nroutes);
	}
	sum.exec_processes = exec_count();	/* process-wide, not per worker */
	sum.admin_connections = admin_nconns;	/* worker 0's, this thread's */
	sum.admin_refused = admin_refused;
	while (cap <= 64 * 1024 * 1024) {
		if ((nbuf = realloc(buf, cap)) == NULL)
			goto done;
		buf = nbuf;
		if ((n = metrics_render(&sum, routes, (const char *const *)names,
		    nroutes, buf, cap)) >= 0)
			break;
		cap *= 2;
	}
	if (n >= 0)
		admin_send(req, HTTP_OK, "OK", "text/plain; version=0.0.4; "
		    "charset=utf-8", buf, (size_t)n);
done:
	if (n < 0)
		admin_text(req, HTTP_INTERNAL, "Internal Server Error",
		    "500 Internal Server Error\n");
	for (i = 0; names != NULL && i < nroutes; i++)
		free(names[i]);
	free(names);
	free(routes);
	free(buf);
}

static void
admin_healthz_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	if (admin_read_only(req))
		admin_text(req, HTTP_OK, "OK", "ok\n");
}

static void
admin_readyz_cb(struct evhttp_request *req, void *arg)
{
	const struct gw_worker *w = &admin_workers[0];

	(void)arg;
	if (!admin_read_only(req))
		return;
	/* gw_stopping: SIGTERM came; the balancer hears it at once, the
	 * drain itself waits drain_delay. */
	if (atomic_load(&gw_stopping) || w->draining ||
	    LIST_EMPTY(&w->listeners))
		admin_text(req, 503, "Service Unavailable", "draining\n");
	else
		admin_text(req, HTTP_OK, "OK", "ready\n");
}

/*
 * A burst of refusals is told in one line when it begins and, while it
 * lasts, one line per ADMIN_BURST_S with how many more were refused:
 * never a line per connection, which a client opening thousands would
 * turn into a flood.
 */
static void
admin_refuse_note(void)
{
	struct timeval	tv = { ADMIN_BURST_S, 0 };

	admin_refused++;
	if (evtimer_pending(admin_burst_ev, NULL))
		return;
	log_warnx("admin: %llu connections open (admin_max_connections): "
	    "refusing new connections until some close",
	    (unsigned long long)admin_nconns);
	admin_refused_told = admin_refused;
	evtimer_add(admin_burst_ev, &tv);
}

static void
admin_burst_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { ADMIN_BURST_S, 0 };
	uint64_t	n = admin_refused - admin_refused_told;

	(void)fd;
	(void)what;
	(void)arg;
	if (n == 0)
		return;		/* none refused for ADMIN_BURST_S: over */
	log_warnx("admin: refused %llu more connections in %d s "
	    "(admin_max_connections = %llu)", (unsigned long long)n,
	    ADMIN_BURST_S, (unsigned long long)admin_max_conns);
	admin_refused_told = admin_refused;
	evtimer_add(admin_burst_ev, &tv);
}

static void
admin_closed_cb(struct evhttp_connection *evcon, void *arg)
{
	(void)evcon;
	(void)arg;
	if (admin_nconns == 0)
		return;
	/* Open past a lowered cap: their descriptors come back to the
	 * sessions one by one (admin_fds_max). */
	if (admin_nconns-- > admin_max_conns && admin_fds_changed != NULL)
		admin_fds_changed();
}

/*
 * Count each new connection, or close it at once when admin_max_connections
 * are open: no answer, nothing read (a refused client sees its connection
 * closed or reset). One that evhttp already gave up (its setup failed) has
 * had its callbacks cleared by bufferevent_free; only our reference is
 * left to drop.
 */
static void
admin_adopt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct evhttp_connection	*evcon;
	bufferevent_data_cb		 readcb;
	void				*cbarg;
	size_t				 i;

	(void)fd;
	(void)what;
	(void)arg;
	for (i = 0; i < admin_npending; i++) {
		bufferevent_getcb(admin_pending[i], &readcb, NULL, NULL, &cbarg);
		if (readcb != NULL && (evcon = cbarg) != NULL) {
			if (admin_nconns >= admin_max_conns) {
				admin_refuse_note();
				evhttp_connection_free(evcon);
			} else {
				admin_nconns++;
				evhttp_connection_set_closecb(evcon,
				    admin_closed_cb, NULL);
			}
		}
		bufferevent_decref(admin_pending[i]);
	}
	admin_npending = 0;
}

/*
 * accept() failed. Out of descriptors (a SIGHUP raised
 * admin_max_connections while sessions held what the new cap keeps for
 * us: they are not closed for it), stop accepting for ADMIN_PAUSE_S, as
 * the session listeners do: the clients wait in the backlog. Without
 * it, libevent's listener (with no error callback of ours) logged and
 * tried again at once, a loop at 100 % CPU in worker 0.
 */
static void
admin_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct timeval	tv = { ADMIN_PAUSE_S, 0 };
	int		err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	if (err != EMFILE && err != ENFILE && err != ENOBUFS &&
	    err != ENOMEM) {
		log_warnx("admin: accept: %s", strerror(err));
		return;
	}
	log_warnx("admin: accept: %s; pausing %d s (%llu connections "
	    "open)", strerror(err), ADMIN_PAUSE_S,
	    (unsigned long long)admin_nconns);
	evconnlistener_disable(lev);
	evtimer_add(admin_resume_ev, &tv);
}

static void
admin_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (admin_lev != NULL)
		evconnlistener_enable(admin_lev);
}

/*
 * evhttp (libevent 2.1) has no cap on its connections and tells nobody
 * when it accepts one, but it asks for each one's bufferevent
 * (evhttp_set_bevcb) and makes the connection that bufferevent's callback
 * argument. So we hand out a socket bufferevent like evhttp's own (no
 * options: evhttp closes the socket itself), keep a reference, and count
 * it from admin_adopt_cb, made active here: that runs once
 * evhttp_get_request has set the connection up, before its first read.
 * The connections accepted before this one in the same batch are set up
 * already: count them first, so that a reference of ours never outlives
 * a socket evhttp closed into the next accept, which may reuse its
 * number. Without memory for the list the connection goes uncounted.
 */
static struct bufferevent *
admin_bev_cb(struct event_base *base, void *arg)
{
	struct bufferevent	*bev, **nv;
	size_t			 cap;

	(void)arg;
	admin_adopt_cb(-1, 0, NULL);
	if ((bev = bufferevent_socket_new(base, -1, 0)) == NULL)
		return NULL;
	if (admin_npending == admin_pending_cap) {
		cap = admin_pending_cap == 0 ? 16 : admin_pending_cap * 2;
		if ((nv = realloc(admin_pending, cap * sizeof(*nv))) == NULL)
			return bev;
		admin_pending = nv;
		admin_pending_cap = cap;
	}
	bufferevent_incref(bev);
	admin_pending[admin_npending++] = bev;
	event_active(admin_adopt_ev, EV_TIMEOUT, 1);
	return bev;
}

int
admin_start(struct gw_worker *workers, unsigned nworkers,
    const struct config *cfg, void (*fds_changed)(void))
{
	const struct config_addr *a = &cfg->admin_addr;
	struct evhttp_bound_socket *bound;

	if (cfg->admin_listen == NULL)
		return 0;
	admin_fds_changed = fds_changed;
	admin_workers = workers;
	admin_nworkers = nworkers;
	admin_max_conns = cfg->admin_max_connections;
	if ((admin_http = evhttp_new(workers[0].base)) == NULL ||
	    (admin_adopt_ev = event_new(workers[0].base, -1, 0, admin_adopt_cb,
	    NULL)) == NULL ||
	    (admin_burst_ev = evtimer_new(workers[0].base, admin_burst_cb,
	    NULL)) == NULL ||
	    (admin_resume_ev = evtimer_new(workers[0].base, admin_resume_cb,
	    NULL)) == NULL)
		fatalx("admin endpoint: out of memory");
	evhttp_set_bevcb(admin_http, admin_bev_cb, NULL);
	evhttp_set_allowed_methods(admin_http, ADMIN_ALL_METHODS);
	evhttp_set_max_headers_size(admin_http, ADMIN_MAX_HEAD);
	evhttp_set_max_body_size(admin_http, ADMIN_MAX_BODY);
	evhttp_set_timeout(admin_http, ADMIN_TIMEOUT_S);
	evhttp_set_cb(admin_http, "/metrics", admin_metrics_cb, NULL);
	evhttp_set_cb(admin_http, "/healthz", admin_healthz_cb, NULL);
	evhttp_set_cb(admin_http, "/readyz", admin_readyz_cb, NULL);
	admin_sessions_setup(admin_http, cfg);
	if ((bound = evhttp_bind_socket_with_handle(admin_http,
	    a->host != NULL ? a->host : "0.0.0.0", a->port)) == NULL) {
		log_warn("admin_listen %s", cfg->admin_listen);
		admin_stop();
		return -1;
	}
	admin_lev = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(admin_lev, admin_accept_error_cb);
	log_info("admin endpoint on http://%s/metrics", cfg->admin_listen);
	return 0;
}

void
admin_reload(const struct config *cfg)
{
	if (admin_http != NULL &&
	    admin_max_conns != cfg->admin_max_connections) {
		log_info("admin: admin_max_connections %llu (was %llu)",
		    (unsigned long long)cfg->admin_max_connections,
		    (unsigned long long)admin_max_conns);
		admin_max_conns = cfg->admin_max_connections;
	}
}

uint64_t
admin_fds_max(void)
{
	if (admin_http == NULL)
		return 0;
	return (admin_nconns > admin_max_conns ? admin_nconns :
	    admin_max_conns) + 1;
}

void
admin_stop(void)
{
	if (admin_http != NULL)
		evhttp_free(admin_http);
	admin_http = NULL;
	/* evhttp_free freed the connections; drop our references. */
	admin_adopt_cb(-1, 0, NULL);
	free(admin_pending);
	admin_pending = NULL;
	admin_pending_cap = 0;
	if (admin_adopt_ev != NULL)
		event_free(admin_adopt_ev);
	if (admin_burst_ev != NULL)
		event_free(admin_burst_ev);
	if (admin_resume_ev != NULL)
		event_free(admin_resume_ev);
	admin_adopt_ev = admin_burst_ev = admin_resume_ev = NULL;
	admin_lev = NULL;	/* evhttp_free freed it */
}
