/*
 * admin_sessions: see include/admin_sessions.h.
 *
 * One request fans out as one job per worker (each lists or closes its
 * own sessions in its own thread) and each job comes back to worker 0,
 * the admin endpoint's thread, which adds up the parts and answers when
 * the last is in. libevent stops reading an incoming connection while
 * its request is being served, so the request stays valid until we
 * answer; a worker answers within one loop turn, so that is soon.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "admin.h"
#include "admin.h"
#include "admin_sessions.h"
#include "config.h"
#include "fleet.h"
#include "gw.h"
#include "loadfile.h"
#include "log.h"
#include "registry.h"

#define ASESS_SECRET_MAX	1024
#define ASESS_TOKEN_MAX		4096

enum asess_op {
	ASESS_LIST = 0,
	ASESS_LIST_FLEET,
	ASESS_CLOSE_ID,
	ASESS_CLOSE_TOKEN,
	ASESS_CLOSE_REMOTE,
	ASESS_REVOKE_FLEET,
};

/* One request being answered: its parts come back on worker 0. */
struct asess_req {
	struct evhttp_request	*req;
	enum asess_op		 op;
	unsigned		 pending;	/* parts not back yet */
	bool			 gone;		/* shutting down: no answer */
	bool			 failed;	/* Redis failed a fleet part */
	bool			 down;		/* ... at once: Redis is down */
	size_t			 ended;
	json_t			*local;		/* this gateway's sessions */
	json_t			*remote;	/* the others', from Redis */
	json_t			*instances;
	json_t			*missing;	/* gateways that did not answer */
};

static char	*asess_secret;		/* admin_token_file's, or NULL */
static size_t	 asess_secretlen;

/* Is a (parsed at load) a loopback address, or localhost? */
static bool
asess_addr_is_loopback(const struct config_addr *a)
{
	struct addr_ip ip;

	if (a->host == NULL)
		return false;		/* every interface */
	if (strcmp(a->host, "localhost") == 0)
		return true;
	return a->salen > 0 && addr_ip_from_sockaddr(
	    (const struct sockaddr *)&a->sa, &ip) == 0 && addr_ip_loopback(&ip);
}

bool
admin_sessions_guarded(const struct config *cfg)
{
	if (cfg->admin_listen == NULL || cfg->admin_token_file != NULL)
		return true;
	return asess_addr_is_loopback(&cfg->admin_addr);
}

int
admin_sessions_load(const struct config *cfg, char *err, size_t errlen)
{
	const char *path = cfg->admin_token_file;
	char *secret, why[512];
	size_t n;

	if (path == NULL)
		return 0;
	/* One line, "\r\n" after it allowed; a key is a key (600). */
	if (loadfile_secret(path, 1, ASESS_SECRET_MAX, LOADFILE_SECRET_LINE,
	    &secret, &n, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "admin_token_file %s", why);
		return -1;
	}
	admin_sessions_stop();
	asess_secret = secret;
	asess_secretlen = n;
	return 0;
}

void
admin_sessions_stop(void)
{
	if (asess_secret != NULL)
		OPENSSL_cleanse(asess_secret, asess_secretlen);
	free(asess_secret);
	asess_secret = NULL;
	asess_secretlen = 0;
}

static void
asess_reply_json(struct evhttp_request *req, int code, const char *reason,
    json_t *body)
{
	char *text;

	if (body == NULL || (text = json_dumps(body, JSON_COMPACT)) == NULL) {
		json_decref(body);
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	json_decref(body);
	admin_send(req, code, reason, "application/json", text, strlen(text));
	free(text);
}

static void
asess_error(struct evhttp_request *req, int code, const char *reason,
    const char *msg)
{
	asess_reply_json(req, code, reason, json_pack("{s:s}", "error", msg));
}

/*
 * Reads and writes need the secret when there is one; without one, only
 * a loopback admin_listen serves them (anyone who can reach a public
 * port could otherwise list and cut every session). Returns true when
 * the request may go on, else has answered it.
 */
static bool
asess_allowed(struct evhttp_request *req, bool guarded)
{
	const char *h;
	size_t len;

	if (asess_secret == NULL) {
		if (guarded)
			return true;
		asess_error(req, 403, "Forbidden", "admin_listen is not a "
		    "loopback address and no admin_token_file is set");
		return false;
	}
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Authorization");
	/* RFC 6750 §2.1: "Bearer" is case-insensitive, then one space. */
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		len = strlen(h);
		if (len == asess_secretlen &&
		    CRYPTO_memcmp(h, asess_secret, len) == 0)
			return true;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "WWW-Authenticate", "Bearer realm=\"wsgate-admin\"");
	asess_error(req, 401, "Unauthorized", h == NULL ? "no bearer token" :
	    "wrong bearer token");
	return false;
}

static void
asess_req_free(struct asess_req *r)
{
	json_decref(r->local);
	json_decref(r->remote);
	json_decref(r->instances);
	json_decref(r->missing);
	free(r);
}

/* Every part is in: answer. */
static void
asess_finish(struct asess_req *r)
{
	bool fleet = r->op == ASESS_LIST_FLEET;
	json_t *body;

	if (r->gone) {
		asess_req_free(r);
		return;
	}
	switch (r->op) {
	case ASESS_LIST:
	case ASESS_LIST_FLEET:
		if (r->failed) {
			asess_error(r->req, 503, "Service Unavailable",
			    "redis unavailable: use scope=local");
			break;
		}
		if (r->local == NULL || (fleet && (r->remote == NULL ||
		    json_array_extend(r->local, r->remote) == -1))) {
			evhttp_send_error(r->req, HTTP_INTERNAL, NULL);
			break;
		}
		body = json_pack("{s:s, s:s, s:I, s:O}", "scope", fleet ?
		    "fleet" : "local", "instance", registry_instance(), "count",
		    (json_int_t)json_array_size(r->local), "sessions", r->local);
		if (body != NULL && fleet && r->instances != NULL)
			json_object_set(body, "instances", r->instances);
		asess_reply_json(r->req, 200, "OK", body);
		break;
	case ASESS_CLOSE_ID:
	case ASESS_CLOSE_REMOTE:
		if (r->down)
			asess_error(r->req, 503, "Service Unavailable",
			    "redis unavailable: cannot reach other gateways");
		else if (r->failed)
			asess_reply_json(r->req, 504, "Gateway Timeout",
			    json_pack("{s:s, s:O?}", "error", "no answer from "
			    "that gateway in time", "missing", r->missing));
		else if (r->ended == 0)
			asess_error(r->req, 404, "Not Found",
			    "no such session");
		else
			asess_reply_json(r->req, 200, "OK", json_pack("{s:I}",
			    "ended", (json_int_t)r->ended));
		break;
	case ASESS_CLOSE_TOKEN:
		if (r->failed)
			asess_reply_json(r->req, 503, "Service Unavailable",
			    json_pack("{s:I, s:s}", "ended",
			    (json_int_t)r->ended, "error", "redis unavailable: "
			    "only this gateway's sessions were ended"));
		else
			asess_reply_json(r->req, 200, "OK", json_pack("{s:I}",
			    "ended", (json_int_t)r->ended));
		break;
	case ASESS_REVOKE_FLEET:
		/* missing: the gateways, alive by their lease, that did not
		 * answer by the deadline; ended counts the others. */
		if (r->failed)
			asess_reply_json(r->req, 504, "Gateway Timeout",
			    json_pack("{s:I, s:s, s:O?}", "ended",
			    (json_int_t)r->ended, "error", "not every gateway "
			    "answered in time", "missing", r->missing));
		else
			asess_reply_json(r->req, 200, "OK", json_pack("{s:I}",
			    "ended", (json_int_t)r->ended));
		break;
	}
	asess_req_free(r);
}

static void
asess_step(struct asess_req *r)
{
	if (--r->pending == 0)
		asess_finish(r);
}

/* This gateway's workers are done. */
static void
asess_local_cb(struct gw_worker *w0, void *arg, size_t ended, json_t *list)
{
	struct asess_req *r = arg;

	if (w0 == NULL)
		r->gone = true;
	r->ended += ended;
	r->local = list;
	asess_step(r);
}

/* The other gateways' entries are read. */
static void
asess_remote_cb(void *arg, enum fleet_status st, json_t *sessions,
    json_t *instances)
{
	struct asess_req *r = arg;

	if (st == FLEET_GONE)
		r->gone = true;
	else if (st != FLEET_OK)
		r->failed = true;
	r->remote = sessions;
	r->instances = instances;
	asess_step(r);
}

/* The gateways an order reached have answered (or not in time). */
static void
asess_order_cb(void *arg, enum fleet_status st, size_t ended,
    const json_t *missing)
{
	struct asess_req *r = arg;

	if (st == FLEET_GONE)
		r->gone = true;
	else if (st == FLEET_PARTIAL) {
		r->failed = true;
		r->missing = json_deep_copy(missing);
	}
	r->ended += ended;
	asess_step(r);
}

/*
 * Start answering req: op on this gateway's workers and, for fleet ops,
 * through Redis. ip/tid/tok as the op needs.
 */
static void
asess_start(struct evhttp_request *req, enum asess_op op, const char *inst,
    uint64_t id, const char *tok)
{
	uint8_t tid[REGISTRY_TOKEN_ID_LEN];
	struct asess_req *r;
	int rc = 0;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	r->req = req;
	r->op = op;
	r->pending = 1;		/* ours, dropped below */
	switch (op) {
	case ASESS_LIST_FLEET:
		if (fleet_list_remote(asess_remote_cb, r) == -1)
			r->failed = true;
		else
			r->pending++;
		/* FALLTHROUGH */
	case ASESS_LIST:
		r->pending++;
		rc = registry_fanout(REGISTRY_LIST, 0, NULL, asess_local_cb, r);
		break;
	case ASESS_CLOSE_ID:
		r->pending++;
		rc = registry_fanout(REGISTRY_CLOSE_ID, id, NULL,
		    asess_local_cb, r);
		break;
	case ASESS_CLOSE_REMOTE:
		r->pending++;
		if (fleet_order_close(inst, id, asess_order_cb, r) == -1) {
			r->pending--;
			r->down = true;
		}
		break;
	case ASESS_REVOKE_FLEET:
		/* This gateway hears the order too and answers like the rest. */
		r->pending++;
		if (fleet_order_revoke(tok, strlen(tok), asess_order_cb, r) == 0)
			break;
		r->pending--;
		r->op = op = ASESS_CLOSE_TOKEN;
		r->failed = true;	/* Redis down: this gateway only */
		/* FALLTHROUGH */
	case ASESS_CLOSE_TOKEN:
		registry_token_id(tok, strlen(tok), tid);
		r->pending++;
		rc = registry_fanout(REGISTRY_CLOSE_TOKEN, 0, tid,
		    asess_local_cb, r);
		OPENSSL_cleanse(tid, sizeof(tid));
		break;
	}
	if (rc == -1) {
		r->pending--;
		r->local = NULL;
		r->failed = r->failed || op != ASESS_LIST;
	}
	asess_step(r);
}

/* The decoded value of query parameter name, or NULL; *q to clear. */
static const char *
asess_query(struct evhttp_request *req, struct evkeyvalq *q,
    const char *name)
{
	const char *query;

	TAILQ_INIT(q);
	query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
	if (query == NULL || evhttp_parse_query_str(query, q) == -1)
		return NULL;
	return evhttp_find_header(q, name);
}

static void
asess_collection_cb(struct evhttp_request *req, void *arg)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	struct evkeyvalq q;
	const char *v;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD &&
	    cmd != EVHTTP_REQ_DELETE) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "GET, HEAD, DELETE");
		asess_error(req, 405, "Method Not Allowed", "use GET or "
		    "DELETE");
		return;
	}
	if (!asess_allowed(req, *(const bool *)arg))
		return;
	v = asess_query(req, &q, cmd == EVHTTP_REQ_DELETE ? "token" :
	    "scope");
	if (cmd != EVHTTP_REQ_DELETE) {
		if (v == NULL || strcmp(v, "local") == 0)
			asess_start(req, ASESS_LIST, NULL, 0, NULL);
		else if (strcmp(v, "fleet") != 0)
			asess_error(req, 400, "Bad Request", "scope: local or "
			    "fleet");
		else if (!fleet_on())
			asess_error(req, 400, "Bad Request", "scope=fleet needs "
			    "redis in [gateway]");
		else
			asess_start(req, ASESS_LIST_FLEET, NULL, 0, NULL);
	} else if (v == NULL || v[0] == '\0' || strlen(v) > ASESS_TOKEN_MAX) {
		asess_error(req, 400, "Bad Request", "DELETE /sessions needs "
		    "?token=T (or use /sessions/INSTANCE/ID)");
	} else
		asess_start(req, fleet_on() ? ASESS_REVOKE_FLEET :
		    ASESS_CLOSE_TOKEN, NULL, 0, v);
	evhttp_clear_headers(&q);
}

/* "/sessions/INSTANCE/ID": 1 with both split out, 0 if not that shape. */
static int
asess_split_item(const char *path, char *inst, size_t instlen, uint64_t *id)
{
	const char *p = path + strlen("/sessions/"), *slash;
	char *end;

	if ((slash = strchr(p, '/')) == NULL || slash == p ||
	    (size_t)(slash - p) >= instlen || slash[1] < '0' ||
	    slash[1] > '9')
		return 0;
	memcpy(inst, p, (size_t)(slash - p));
	inst[slash - p] = '\0';
	errno = 0;
	*id = strtoull(slash + 1, &end, 10);
	return *end == '\0' && errno == 0 ? 1 : 0;
}

/* Anything not registered exactly: /sessions/INSTANCE/ID, else 404. */
static void
asess_gen_cb(struct evhttp_request *req, void *arg)
{
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(
	    req));
	char inst[256], *dec;
	uint64_t id;
	int ok;

	if (path == NULL || strncmp(path, "/sessions/", 10) != 0) {
		asess_error(req, HTTP_NOTFOUND, "Not Found", "no such path");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_DELETE) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", "DELETE");
		asess_error(req, 405, "Method Not Allowed", "use DELETE");
		return;
	}
	if (!asess_allowed(req, *(const bool *)arg))
		return;
	if ((dec = evhttp_uridecode(path, 0, NULL)) == NULL) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	ok = asess_split_item(dec, inst, sizeof(inst), &id);
	free(dec);
	if (!ok)
		asess_error(req, 400, "Bad Request", "want "
		    "/sessions/INSTANCE/ID");
	else if (strcmp(inst, registry_instance()) == 0)
		asess_start(req, ASESS_CLOSE_ID, NULL, id, NULL);
	else if (!fleet_on())
		asess_error(req, 404, "Not Found", "no such instance");
	else
		asess_start(req, ASESS_CLOSE_REMOTE, inst, id, NULL);
}

void
admin_sessions_setup(struct evhttp *http, const struct config *cfg)
{
	static bool guarded;

	guarded = admin_sessions_guarded(cfg);
	if (!guarded && asess_secret == NULL)
		log_warnx("admin_listen %s is not a loopback address and no "
		    "admin_token_file is set: /sessions answers 403",
		    cfg->admin_listen);
	evhttp_set_cb(http, "/sessions", asess_collection_cb, &guarded);
	evhttp_set_gencb(http, asess_gen_cb, &guarded);
}
