/*
 * admin: see include/admin.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "admin.h"
#include "config.h"
#include "gw.h"
#include "log.h"
#include "metrics.h"

static struct evhttp	*admin_http;
static struct gw_worker	*admin_workers;
static unsigned		 admin_nworkers;
static char		**admin_route_names;	/* label-escaped */
static size_t		 admin_nroutes;

static void
admin_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void
admin_metrics_cb(struct evhttp_request *req, void *arg)
{
	struct metrics sum;
	size_t cap = 16384;
	char *buf = NULL, *nbuf;
	unsigned i;
	int n = -1;

	(void)arg;
	memset(&sum, 0, sizeof(sum));
	sum.nroutes = admin_nroutes;
	sum.routes = calloc(admin_nroutes + 1, sizeof(*sum.routes));
	if (sum.routes == NULL)
		goto fail;
	for (i = 0; i < admin_nworkers; i++)
		metrics_add(&sum, &admin_workers[i].m);
	while (cap <= 64 * 1024 * 1024) {
		if ((nbuf = realloc(buf, cap)) == NULL)
			goto fail;
		buf = nbuf;
		if ((n = metrics_render(&sum, (const char *const *)
		    admin_route_names, buf, cap)) >= 0)
			break;
		cap *= 2;
	}
	if (n < 0)
		goto fail;
	admin_reply(req, HTTP_OK, "OK", "text/plain; version=0.0.4; "
	    "charset=utf-8", buf, (size_t)n);
	free(buf);
	free(sum.routes);
	return;
fail:
	free(buf);
	free(sum.routes);
	evhttp_send_error(req, HTTP_INTERNAL, NULL);
}

static void
admin_healthz_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	admin_reply(req, HTTP_OK, "OK", "text/plain", "ok\n", 3);
}

static void
admin_readyz_cb(struct evhttp_request *req, void *arg)
{
	const struct gw_worker *w = &admin_workers[0];

	(void)arg;
	if (w->draining || LIST_EMPTY(&w->listeners))
		admin_reply(req, 503, "Service Unavailable", "text/plain",
		    "draining\n", 9);
	else
		admin_reply(req, HTTP_OK, "OK", "text/plain", "ready\n", 6);
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

int
admin_start(struct gw_worker *workers, unsigned nworkers,
    const struct config *cfg)
{
	struct config_addr a;
	char err[256];
	size_t i;

	if (cfg->admin_listen == NULL)
		return 0;
	if (config_parse_addr(cfg->admin_listen, true, &a, err,
	    sizeof(err)) == -1) {
		log_warnx("admin_listen %s: %s", cfg->admin_listen, err);
		return -1;
	}
	admin_workers = workers;
	admin_nworkers = nworkers;
	admin_nroutes = cfg->nroutes;
	admin_route_names = calloc(cfg->nroutes + 1, sizeof(char *));
	if (admin_route_names == NULL)
		fatal("calloc");
	for (i = 0; i < cfg->nroutes; i++)
		if ((admin_route_names[i] = admin_route_label(&cfg->routes[i]))
		    == NULL)
			fatal("malloc");
	if ((admin_http = evhttp_new(workers[0].base)) == NULL)
		fatalx("evhttp_new failed");
	evhttp_set_allowed_methods(admin_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_HEAD);
	evhttp_set_timeout(admin_http, 10);
	evhttp_set_cb(admin_http, "/metrics", admin_metrics_cb, NULL);
	evhttp_set_cb(admin_http, "/healthz", admin_healthz_cb, NULL);
	evhttp_set_cb(admin_http, "/readyz", admin_readyz_cb, NULL);
	if (evhttp_bind_socket_with_handle(admin_http,
	    a.host != NULL ? a.host : "0.0.0.0", a.port) == NULL) {
		log_warn("admin_listen %s", cfg->admin_listen);
		config_addr_clear(&a);
		admin_stop();
		return -1;
	}
	log_info("admin endpoint on http://%s/metrics", cfg->admin_listen);
	config_addr_clear(&a);
	return 0;
}

void
admin_stop(void)
{
	size_t i;

	if (admin_http != NULL)
		evhttp_free(admin_http);
	admin_http = NULL;
	if (admin_route_names != NULL)
		for (i = 0; i < admin_nroutes; i++)
			free(admin_route_names[i]);
	free(admin_route_names);
	admin_route_names = NULL;
}
