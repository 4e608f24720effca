/*
 * handshake: the HTTP side of a session, before it is a WebSocket: the
 * PROXY header a load balancer sends first, the request head, and what
 * it leads to: an HTTP error answer, a static file, or the 101 and the
 * backend connect (upgrade.c parses and checks the head; route.c picks
 * the route; auth.c checks tokens). See include/handshake.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "auth.h"
#include "basic_auth.h"
#include "config.h"
#include "fleet.h"
#include "confgen.h"
#include "gw.h"
#include "handshake.h"
#include "lifecycle.h"
#include "heartbeat.h"
#include "iplimit.h"
#include "log.h"
#include "lookup.h"
#include "registry.h"
#include "metrics.h"
#include "proxy_proto.h"
#include "record.h"
#include "route.h"
#include "session-int.h"
#include "static.h"
#include "target.h"
#include "tls.h"
#include "token_source.h"
#include "token_file.h"
#include "upgrade.h"
#include "upstream.h"
#include "ws_conn.h"
#include "ws_frame.h"
#include "xform.h"

static void	handshake_http_error(struct session *, int, const char *);
static void	handshake_http_error_hdr(struct session *, int, const char *,
		    const char *);
static void	handshake_proxy_out(struct session *);

/*
 * The client is really at sa (a PROXY header or X-Forwarded-For said so):
 * use it for logs and PROXY headers and, with count, count it (not the
 * proxy) for max_connections_per_ip; whatever was counted before is given
 * back. Returns 0, or -1 after a 503 over that limit.
 */
static int
handshake_set_peer(struct session *s, const struct sockaddr_storage *sa,
    bool count)
{
	int r;

	if (s->ip_counted) {
		iplimit_release((struct sockaddr *)&s->peer_sa);
		s->ip_counted = false;
	}
	if (sa != &s->peer_sa)
		s->peer_sa = *sa;
	session_format_peer((struct sockaddr *)&s->peer_sa, s->peer,
	    sizeof(s->peer));
	if (!count)
		return 0;
	if ((r = iplimit_acquire((struct sockaddr *)&s->peer_sa,
	    s->cfg->max_connections_per_ip)) == -1) {
		handshake_http_error(s, 503, "too many connections from this "
		    "address");
		return -1;
	}
	s->ip_counted = r == 1;
	return 0;
}

/* Is sa one of the trusted_proxies (whose connections speak for others)? */
static bool
handshake_trusted(const struct session *s, const struct sockaddr_storage *sa)
{
	return s->cfg->ntrusted_proxies > 0 && iplimit_trusted(
	    (const struct sockaddr *)sa, s->cfg->trusted_proxies,
	    s->cfg->ntrusted_proxies);
}

/*
 * trusted_proxies: a connection from one of them is not counted when it
 * comes (session.c, handshake_proxy_header): the proxy speaks for many
 * clients. Once the head is read, the client it names in X-Forwarded-For
 * (every line, right to left across trusted proxies), or with none the
 * proxy itself, is the peer for logs, limits and PROXY headers, for
 * upgrades and static requests alike. Returns -1 after a 503 (over the
 * per-address limit of that client).
 */
static int
handshake_forwarded(struct session *s, const struct upgrade_req *req)
{
	struct iplimit_span lines[UPGRADE_MAX_FORWARDED];
	struct sockaddr_storage real = s->peer_sa;
	size_t i;

	if (!handshake_trusted(s, &s->peer_sa))
		return 0;	/* counted already, as itself */
	for (i = 0; i < req->nforwarded_for; i++) {
		lines[i].p = req->forwarded_for[i].p;
		lines[i].len = req->forwarded_for[i].len;
	}
	(void)iplimit_forwarded_for(&real, lines, req->nforwarded_for,
	    s->cfg->trusted_proxies, s->cfg->ntrusted_proxies);
	return handshake_set_peer(s, &real, true);
}

/*
 * handshake_rate_per_ip: may this address open one more session now? The
 * buckets are shared by the workers, so the time is the monotonic clock
 * read now (a vDSO call), not a worker's cached wall clock, which moves
 * with the system's clock and lags by a loop turn.
 */
static bool
handshake_rate_ok(struct session *s)
{
	struct timespec now;

	if (s->cfg->handshake_rate_per_ip == 0)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return iplimit_rate_ok((struct sockaddr *)&s->peer_sa,
	    s->cfg->handshake_rate_per_ip, s->cfg->handshake_rate_per_ip,
	    (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
}

/* Answer the handshake with an HTTP error, then let the client go. */
static void
handshake_http_error(struct session *s, int status, const char *detail)
{
	handshake_http_error_hdr(s, status, detail, NULL);
}

/*
 * Answers are written straight into the client's output, in space sized
 * for them: a 101 echoes the client's subprotocol (a bearer.<JWT> may be
 * 8 KiB), so no fixed array fits every answer. Returns the space (cap
 * bytes, contiguous) or NULL when out of memory.
 */
static char *
handshake_out_reserve(struct session *s, size_t cap, struct evbuffer_iovec *v)
{
	if (evbuffer_reserve_space(bufferevent_get_output(s->client.bev),
	    (ev_ssize_t)cap, v, 1) != 1 || v->iov_len < cap)
		return NULL;
	return v->iov_base;
}

/* Queue the n bytes written into v (n <= 0: nothing). */
static void
handshake_out_commit(struct session *s, struct evbuffer_iovec *v, int n)
{
	v->iov_len = n > 0 ? (size_t)n : 0;
	evbuffer_commit_space(bufferevent_get_output(s->client.bev), v, n > 0);
}

/* The same, with one extra header line (with its CRLF) after the status. */
static void
handshake_http_error_hdr(struct session *s, int status, const char *detail,
    const char *header)
{
	struct evbuffer_iovec v;
	size_t cap = upgrade_response_error_size(status, detail, header) + 1;
	char *buf;
	struct log_field f[] = {
		LOG_NUM("id", s->id),
		LOG_STR("client", s->peer),
		LOG_NUM("status", status),
		LOG_STR("reason", detail),
	};

	metrics_count_status(&s->w->m, status);
	log_event(LOG_LEVEL_INFO, "handshake_refused", f,
	    sizeof(f) / sizeof(f[0]));
	if ((buf = handshake_out_reserve(s, cap, &v)) != NULL)
		handshake_out_commit(s, &v, upgrade_response_error_hdr(buf,
		    cap, status, detail, header));
	session_set_state(s, SESSION_HTTP_ERROR);
	evbuffer_drain(bufferevent_get_input(s->client.bev),
	    evbuffer_get_length(bufferevent_get_input(s->client.bev)));
	session_timer_ms(&s->state_timer, SESSION_HTTP_LINGER_MS);
	session_leg_progress(&s->client);
}

/*
 * The 101 into the client's output (sized for the subprotocol echoed).
 * Returns its length, or -1 (nothing queued).
 */
static int
handshake_send_101(struct session *s, const struct upgrade_req *req,
    const struct upgrade_slice *protocol)
{
	struct evbuffer_iovec v;
	const char *ext = xform_ext_header(s);
	size_t extra = ext != NULL ? sizeof("Sec-WebSocket-Extensions: \r\n") -
	    1 + strlen(ext) : 0;
	size_t cap = upgrade_response_101_size(protocol) + extra + 1;
	char *buf;
	int n;

	if ((buf = handshake_out_reserve(s, cap, &v)) == NULL)
		return -1;
	n = upgrade_response_101(buf, cap, req, protocol);
	if (n >= 4 && ext != NULL) {
		/* permessage-deflate agreed (RFC 7692 §5): one more line
		 * before the blank one. */
		n -= 2;
		n += snprintf(buf + n, cap - (size_t)n,
		    "Sec-WebSocket-Extensions: %s\r\n\r\n", ext);
	}
	handshake_out_commit(s, &v, n);
	return n;
}

/*
 * auth = token: find the JWT (Authorization: Bearer, a "bearer.<JWT>"
 * subprotocol entry, or the access_token / token query parameter) and
 * verify it. Returns the index of the subprotocol entry it came in (or
 * -1), or -2 after a 401. The token itself is never logged.
 */
static int
handshake_check_token(struct session *s, const struct upgrade_req *req,
    const struct config_route *r, const struct confgen_route *gr)
{
	struct auth_claims_req cr;
	const char *tok = NULL;
	char *qbuf = NULL;
	size_t len = 0, i;
	int from = -1, rc, q;

	if (!auth_bearer_token(req->authorization.p, req->authorization.len,
	    &tok, &len)) {
		tok = NULL;
		for (i = 0; i < req->nprotocols && tok == NULL; i++)
			if (auth_protocol_token(req->protocols[i].p,
			    req->protocols[i].len, &tok, &len))
				from = (int)i;
	}
	if (tok == NULL && (qbuf = malloc(AUTH_MAX_TOKEN + 1)) != NULL) {
		q = auth_query_param(req->query.p, req->query.len,
		    "access_token", qbuf, AUTH_MAX_TOKEN + 1, &len);
		if (q == 0 && !config_route_has_token_source(r))
			q = auth_query_param(req->query.p, req->query.len,
			    "token", qbuf, AUTH_MAX_TOKEN + 1, &len);
		if (q == 1)
			tok = qbuf;
	}
	memset(&cr, 0, sizeof(cr));
	cr.now = (int64_t)time(NULL);
	cr.require_exp = true;
	cr.audience = r->token_audience;
	cr.path = req->path.p;
	cr.path_len = req->path.len;
	cr.require_path = r->token_require_path != 0;
	rc = tok == NULL ? AUTH_ERR_FORMAT :
	    auth_jwt_verify(tok, len, gr->key, &cr);
	if (rc == AUTH_OK)
		registry_token_seen(s, tok, len);
	if (qbuf != NULL) {
		explicit_bzero(qbuf, AUTH_MAX_TOKEN + 1);
		free(qbuf);
	}
	if (rc != AUTH_OK) {
		handshake_http_error_hdr(s, 401, tok == NULL ? "no token" :
		    auth_strerror(rc), "WWW-Authenticate: Bearer "
		    "realm=\"wsgate\"\r\n");
		return -2;
	}
	return from;
}

/*
 * web_auth = on (websockify's --web-auth): a route's files get the checks
 * its upgrades get: origins, client certificates, auth = basic. Returns 1
 * to serve, 0 while a password check runs (handshake_resume comes back
 * here), -1 after an answer (s may be gone).
 */
static int
handshake_web_auth(struct session *s, const struct upgrade_req *req,
    const struct config_route *r)
{
	int rc;

	if (!route_origin_allowed(r, req->origin.p, req->origin.len) ||
	    (r->origin_required && req->origin.len == 0)) {
		handshake_http_error(s, 403, "origin not allowed");
		return -1;
	}
	if ((r->nallow_client_cn > 0 || r->nallow_client_san > 0) &&
	    !tls_client_allowed(s->client.bev, r->allow_client_cn,
	    r->nallow_client_cn, r->allow_client_san, r->nallow_client_san)) {
		handshake_http_error(s, 403, "client certificate not allowed");
		return -1;
	}
	if (r->auth == CONFIG_AUTH_BASIC && !s->basic_ok &&
	    (rc = basic_auth_check(s, req, r,
	    &s->gen->routes[r - s->cfg->routes])) != 1)
		return rc == 0 ? 0 : -1;
	return 1;
}

/*
 * A plain GET/HEAD (not an upgrade): files from the route's root, then
 * close once they are flushed. Returns -1 (the session is over), or 0
 * while web_auth's password check runs.
 */
static int
handshake_static(struct session *s, const struct upgrade_req *req)
{
	struct evbuffer *in = bufferevent_get_input(s->client.bev);
	const struct config_route *r;
	int status, rc;

	r = route_match(s->cfg, req->path.p, req->path.len);
	if (r == NULL || r->root == NULL) {
		handshake_http_error(s, r == NULL ? 404 : 400, r == NULL ?
		    "no route for this path" : "not a WebSocket handshake");
		return -1;
	}
	if (r->web_auth && (rc = handshake_web_auth(s, req, r)) != 1)
		return rc;
	/* Under TLS the file is read in chunks, never mapped (static.h). */
	status = static_serve(r, req, bufferevent_get_output(s->client.bev),
	    s->client.tls ? &s->static_body : NULL);
	metrics_count_status(&s->w->m, status);
	log_debug("session %llu: client=%s %.*s %.*s: %d",
	    (unsigned long long)s->id, s->peer, (int)req->method.len,
	    req->method.p, (int)req->path.len, req->path.p, status);
	session_set_state(s, SESSION_HTTP_ERROR);
	evbuffer_drain(in, evbuffer_get_length(in));
	/* The linger bounds a stall, not a slow but steady download. */
	s->fin.linger_mark = session_queued(s);
	session_timer_ms(&s->state_timer, SESSION_HTTP_LINGER_MS);
	session_leg_progress(&s->client);
	return -1;
}

/*
 * The route for req and the checks that need no wait: origin, a route
 * with no WebSocket backend, the client certificate. Returns the route,
 * or NULL when s was answered with a 4xx (s is then on its way out).
 */
static const struct config_route *
handshake_route_check(struct session *s, const struct upgrade_req *req)
{
	const struct config_route *r;

	r = route_match(s->cfg, req->path.p, req->path.len);
	if (r == NULL) {
		handshake_http_error(s, 404, "no route for this path");
		return NULL;
	}
	if (!route_origin_allowed(r, req->origin.p, req->origin.len)) {
		handshake_http_error(s, 403, "origin not allowed");
		return NULL;
	}
	if (r->origin_required && req->origin.len == 0) {
		handshake_http_error(s, 403, "no Origin header");
		return NULL;
	}
	if (r->nbackends == 0 && !config_route_has_token_source(r)) {
		/* A static-only route (root, no backend). */
		handshake_http_error(s, 404, "no WebSocket backend for this path");
		return NULL;
	}
	if ((r->nallow_client_cn > 0 || r->nallow_client_san > 0) &&
	    !tls_client_allowed(s->client.bev, r->allow_client_cn,
	    r->nallow_client_cn, r->allow_client_san, r->nallow_client_san)) {
		handshake_http_error(s, 403, "client certificate not allowed");
		return NULL;
	}
	return r;
}

/*
 * The 101 of n bytes is in the client's output: the session takes route
 * r, its counters and decoder, its heartbeat, and dials the backend.
 * Returns upstream_connect()'s answer: 0, or -1 when s is gone.
 */
static int
handshake_open(struct session *s, const struct config_route *r,
    size_t head_len, int n)
{
	s->route = r;
	s->rec = record_open(r, s->id);
	s->mr = confgen_route_metrics(s->gen, s->w->index,
	    (size_t)(r - s->cfg->routes));
	metrics_inc(&s->mr->active);
	metrics_inc(&s->mr->sessions);
	evbuffer_drain(bufferevent_get_input(s->client.bev), head_len);
	/* Counted (hb_client_acked counts from 0) and written through. */
	ws_conn_send(s, WS_CONN_RAW, NULL, (size_t)n, NULL);
	metrics_inc(&s->w->m.handshakes_ok);
	event_del(&s->state_timer);
	ws_frame_decoder_init(&s->rx.dec, xform_frame_limit(s,
	    r->max_message_size), true);
	s->rx.dec.allow_rsv1 = xform_ext_header(s) != NULL;
	session_set_state(s, SESSION_CONNECTING);
	s->dial.rr = s->w->rr_seq++;
	hb_start(s);
	clock_gettime(CLOCK_MONOTONIC, &s->dial.started);
	if (r->backend_proxy_protocol != 0)
		handshake_proxy_out(s);
	return upstream_connect(s);
}

/*
 * Route, origin, credential and token checks, then the 101. Returns 0
 * (upgraded, connecting), 1 when a check waits (s is paused), -1 if s is
 * gone or answered.
 */
static int
handshake_accept_upgrade(struct session *s, const struct upgrade_req *req,
    size_t head_len)
{
	const struct config_route *r;
	struct confgen_route *gr;
	const char *xdetail = NULL;
	int pi, n, rc, tokproto = -1, xst = 0;

	/* limits_scope = fleet: the fleet's counts, a wait (fleet.c). */
	if (!s->fleet_checked && (rc = fleet_limits_check(s)) != 1)
		return rc == 0 ? 1 : -1;
	if ((r = handshake_route_check(s, req)) == NULL)
		return -1;
	gr = &s->gen->routes[r - s->cfg->routes];
	/* Credentials first: an anonymous client learns nothing of which
	 * tokens exist. A step that waits (basic_auth.c, token_source.c)
	 * returns 0 and the handshake comes back through handshake_resume,
	 * past the steps already done. */
	if (r->auth == CONFIG_AUTH_TOKEN &&
	    (tokproto = handshake_check_token(s, req, r, gr)) == -2)
		return -1;
	if (r->auth == CONFIG_AUTH_BASIC && !s->basic_ok &&
	    (rc = basic_auth_check(s, req, r, gr)) != 1)
		return rc == 0 ? 1 : -1;
	if (config_route_has_token_source(r) && !s->dial.has_fixed &&
	    (rc = token_source_resolve(s, req, r, gr)) != 1)
		return rc == 0 ? 1 : -1;
	pi = upgrade_pick_protocol(req, (const char *const *)r->subprotocols,
	    r->nsubprotocols);
	/*
	 * The token rode in as the only subprotocol offered: a browser
	 * fails the handshake unless one it offered comes back, so echo it
	 * (never when the client offered a real one too).
	 */
	if (pi < 0 && tokproto >= 0 && req->nprotocols == 1)
		pi = tokproto;
	if (!lifecycle_admit(s->cfg)) {
		handshake_http_error(s, 503, "exit_after_sessions reached");
		return -1;
	}
	/* Compression, framing, an exec: backend's process (xform.c). */
	if (xform_accept(s, r, (size_t)(r - s->cfg->routes), req,
	    req->method.p, head_len, &xst, &xdetail) == -1) {
		handshake_http_error(s, xst, xdetail);
		return -1;
	}
	n = handshake_send_101(s, req, pi >= 0 ? &req->protocols[pi] : NULL);
	if (n < 0) {
		handshake_http_error(s, 500, "cannot build the answer");
		return -1;
	}
	return handshake_open(s, r, head_len, n);
}

/*
 * evbuffer_pullup() of a non-empty length failed: no memory to make the
 * head contiguous. Say so (no session line is written before the upgrade)
 * and drop this client only. Returns -1: s is gone.
 */
static int
handshake_oom(struct session *s)
{
	log_warnx("session %llu: client=%s dropped: out of memory reading "
	    "the request", (unsigned long long)s->id, s->peer);
	session_close(s, 0, "out of memory");
	return -1;
}

/*
 * A "proxy_protocol" listener: the load balancer's PROXY v1/v2 header
 * comes first and names the real client. Returns 1 once it is consumed,
 * 0 to wait for more, -1 if s is gone (a bad header drops the
 * connection: the peer is a proxy, not a browser, so no HTTP answer).
 */
static int
handshake_proxy_header(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->client.bev);
	struct proxy_proto_addr pa;
	const struct sockaddr_storage *src;
	size_t len = evbuffer_get_length(in);
	uint8_t *p;
	int r;

	if (len == 0)
		return 0;	/* evbuffer_pullup(in, 0) is NULL: not an error */
	if (len > PROXY_PROTO_MAX_HEADER)
		len = PROXY_PROTO_MAX_HEADER;
	if ((p = evbuffer_pullup(in, (ev_ssize_t)len)) == NULL)
		return handshake_oom(s);
	r = proxy_proto_parse(p, len, &pa);
	if (r == -2)
		return 0;
	if (r == -1) {
		log_info("session %llu: client=%s dropped: bad PROXY protocol "
		    "header", (unsigned long long)s->id, s->peer);
		session_close(s, 0, "bad PROXY protocol header");
		return -1;
	}
	evbuffer_drain(in, (size_t)r);
	s->proxy_in = false;
	if (pa.family != AF_UNSPEC) {
		/* The client and the address it reached, per the proxy. */
		memcpy(&s->local_sa, &pa.dst, sizeof(s->local_sa));
		s->local_known = true;
	}
	/* A trusted proxy behind the load balancer is counted as the
	 * client it names, once the head is read (handshake_forwarded). */
	src = pa.family != AF_UNSPEC ? &pa.src : &s->peer_sa;
	return handshake_set_peer(s, src, !handshake_trusted(s, src)) == -1 ?
	    -1 : 1;
}

/*
 * Build the PROXY v1/v2 header (per the route) that each backend
 * connection sends first, below any TLS (upstream.c puts it there).
 */
static void
handshake_proxy_out(struct session *s)
{
	uint8_t hdr[PROXY_PROTO_V2_MAX_ENC + PROXY_PROTO_V1_MAX];
	socklen_t len = sizeof(s->local_sa);
	int n;

	if (!s->local_known && getsockname(bufferevent_getfd(s->client.bev),
	    (struct sockaddr *)&s->local_sa, &len) == 0)
		s->local_known = true;
	if (s->route->backend_proxy_protocol == 1)
		n = proxy_proto_encode_v1((struct sockaddr *)&s->peer_sa,
		    (struct sockaddr *)&s->local_sa, (char *)hdr, sizeof(hdr));
	else
		n = proxy_proto_encode_v2((struct sockaddr *)&s->peer_sa,
		    (struct sockaddr *)&s->local_sa, hdr, sizeof(hdr));
	if (n > 0 && (s->dial.proxy_hdr = malloc((size_t)n)) != NULL) {
		memcpy(s->dial.proxy_hdr, hdr, (size_t)n);
		s->dial.proxy_hdr_len = (uint8_t)n;
	}
}

int
handshake_read(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->client.bev);
	const struct config *cfg = s->cfg;
	struct upgrade_req req;
	size_t len;
	char *p;
	int r;

	if (lookup_waiting(s))
		return 0;	/* a check is under way; input waits */
	if (s->proxy_in && (r = handshake_proxy_header(s)) != 1)
		return r;
	/*
	 * A PROXY header that came in a segment of its own (HAProxy sends
	 * it on connect, before the client speaks) leaves nothing here yet;
	 * evbuffer_pullup() answers NULL for 0 bytes, which is no error.
	 */
	if ((len = evbuffer_get_length(in)) == 0)
		return 0;
	if (len > cfg->max_header_size)
		len = cfg->max_header_size;
	if ((p = (char *)evbuffer_pullup(in, (ev_ssize_t)len)) == NULL)
		return handshake_oom(s);
	r = upgrade_parse(p, len, cfg->max_header_size, &req);
	if (r == -2)
		return 0;
	if (r == -1) {
		handshake_http_error(s, req.status, req.error);
		return -1;
	}
	if (handshake_forwarded(s, &req) == -1)
		return -1;
	if (r == UPGRADE_PLAIN)
		return handshake_static(s, &req);
	if (!handshake_rate_ok(s)) {
		handshake_http_error(s, 429, "too many handshakes from this "
		    "address");
		return -1;
	}
	if ((r = handshake_accept_upgrade(s, &req, (size_t)r)) != 0)
		return r == 1 ? 0 : -1;
	/* Frames pipelined behind the head. */
	return ws_conn_input(s);
}

void
handshake_refuse(struct session *s, int status, const char *detail,
    const char *header)
{
	handshake_http_error_hdr(s, status, detail, header);
}

int
handshake_resume(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->client.bev);
	struct upgrade_req req;
	size_t len = evbuffer_get_length(in);
	char *p;
	int r;

	/* The head is still in the input, unchanged: parse it again. */
	if (len > s->cfg->max_header_size)
		len = s->cfg->max_header_size;
	if ((p = (char *)evbuffer_pullup(in, (ev_ssize_t)len)) == NULL) {
		session_close(s, 0, "out of memory");
		return -1;
	}
	r = upgrade_parse(p, len, s->cfg->max_header_size, &req);
	if (r == UPGRADE_PLAIN)		/* web_auth's check came back */
		return handshake_static(s, &req) == 0 ? 0 : -1;
	if (r <= 0) {
		handshake_http_error(s, 500, "request head lost");
		return -1;
	}
	if ((r = handshake_accept_upgrade(s, &req, (size_t)r)) != 0)
		return r == 1 ? 0 : -1;
	return ws_conn_input(s);
}
