/*
 * redis: asynchronous Redis connections that keep themselves up; see
 * include/redis.h.
 *
 * hiredis 0.14 (Debian 12) has no timeouts in its async API, so a
 * watchdog timer gives the connect and every command redis_timeout: when
 * a connect or the oldest unanswered command is older than that, the
 * connection is dropped. hiredis must not free a context from inside its
 * own callbacks, so every drop goes through redis_drop_cb, an event made
 * active from wherever the trouble was seen.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "config.h"
#include "gw.h"
#include "loadfile.h"
#include "log.h"
#include "metrics.h"
#include "redis.h"

#define REDIS_SECRET_MAX	(64 * 1024)	/* redis_password_file */
#define REDIS_BACKOFF_MIN_MS	100
#define REDIS_BACKOFF_MAX_MS	5000

enum redis_state {
	REDIS_DOWN = 0,		/* waiting for the next attempt */
	REDIS_CONNECTING,	/* connect, AUTH, SELECT, PING under way */
	REDIS_UP,
};

struct redis_conn {
	struct event_base	*base;
	const struct redis_opts	*o;
	struct metrics		*m;
	char			 name[32];
	char			 client_name[128];	/* CLIENT SETNAME */
	redisAsyncContext	*ac;		/* NULL while down */
	enum redis_state	 state;
	uint64_t		 backoff_ms;
	unsigned		 pending;	/* our commands unanswered */
	uint64_t		 since_ms;	/* connect start, or last answer
						   while commands are pending */
	bool			 quiet;		/* failure logged; until up */
	char			 why[128];	/* the reason to drop */
	struct event		*retry;		/* backoff timer */
	struct event		*watchdog;	/* redis_timeout checks */
	struct event		*drop;		/* drop ac outside hiredis */
	redis_state_fn		*state_cb;
	void			*state_arg;
	struct redis_sub	**subs;		/* redis_subscribe */
	size_t			 nsubs;
};

/* One subscription, kept for the life of the connection. */
struct redis_sub {
	struct redis_conn	*c;
	char			*channel;
	redis_message_fn	*fn;
	void			*arg;
};

/* One command in flight. */
struct redis_cmd {
	struct redis_conn	*c;
	redis_reply_fn		*cb;
	void			*arg;
};

static void	redis_connect(struct redis_conn *);

static uint64_t
redis_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
redis_set_state(struct redis_conn *c, enum redis_state st)
{
	bool was_up = c->state == REDIS_UP;

	c->state = st;
	if (c->m != NULL)
		metrics_set(&c->m->redis_up, st == REDIS_UP);
	if (was_up != (st == REDIS_UP) && c->state_cb != NULL)
		c->state_cb(c->state_arg, st == REDIS_UP);
}

/*
 * Something is wrong with the connection: log it (the first time since it
 * was last up), count it, and drop it from the drop event.
 */
static void
redis_fail(struct redis_conn *c, const char *why)
{
	if (c->m != NULL)
		metrics_inc(&c->m->redis_errors);
	if (c->why[0] == '\0')
		snprintf(c->why, sizeof(c->why), "%s", why);
	event_active(c->drop, EV_TIMEOUT, 0);
}

/* ac is gone (freed or being freed by hiredis): plan the next attempt. */
static void
redis_lost(struct redis_conn *c, const char *why)
{
	struct timeval tv;

	c->ac = NULL;
	redis_set_state(c, REDIS_DOWN);
	if (!c->quiet)
		log_warnx("redis %s (%s): %s; retrying every %llu ms up to "
		    "%d s", c->o->spec, c->name, why,
		    (unsigned long long)c->backoff_ms, REDIS_BACKOFF_MAX_MS /
		    1000);
	else
		log_debug("redis %s (%s): %s; next try in %llu ms",
		    c->o->spec, c->name, why,
		    (unsigned long long)c->backoff_ms);
	c->quiet = true;
	c->why[0] = '\0';
	tv = gw_ms_to_tv(c->backoff_ms);
	evtimer_add(c->retry, &tv);
	c->backoff_ms *= 2;
	if (c->backoff_ms > REDIS_BACKOFF_MAX_MS)
		c->backoff_ms = REDIS_BACKOFF_MAX_MS;
}

/* The drop event: free ac (its pending callbacks get NULL). */
static void
redis_drop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_conn *c = arg;
	redisAsyncContext *ac = c->ac;
	char why[sizeof(c->why)];

	(void)fd;
	(void)what;
	if (ac == NULL)
		return;
	snprintf(why, sizeof(why), "%s", c->why[0] != '\0' ? c->why :
	    "connection dropped");
	c->ac = NULL;		/* the disconnect callback sees it is ours */
	redisAsyncFree(ac);
	redis_lost(c, why);
}

static void
redis_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	redis_connect(arg);
}

/* redis_timeout for the connect and for the oldest pending command. */
static void
redis_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	struct redis_conn *c = arg;
	uint64_t now = redis_now_ms();

	(void)fd;
	(void)what;
	if (c->ac == NULL)
		return;
	if (c->state == REDIS_CONNECTING && now - c->since_ms >=
	    c->o->timeout_ms)
		redis_fail(c, "no connection within redis_timeout");
	else if (c->pending > 0 && now - c->since_ms >= c->o->timeout_ms)
		redis_fail(c, "no answer within redis_timeout");
}

/* Every reply of our commands comes through here. */
static void
redis_reply_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_cmd *cmd = privdata;
	struct redis_conn *c = cmd->c;
	redisReply *r = reply;

	(void)ac;
	c->pending--;
	c->since_ms = redis_now_ms();
	if (r != NULL && r->type == REDIS_REPLY_ERROR && c->m != NULL)
		metrics_inc(&c->m->redis_errors);
	cmd->cb(cmd->arg, r);
	free(cmd);
}

static int
redis_send(struct redis_conn *c, redis_reply_fn *cb, void *arg, int argc,
    const char **argv, const size_t *lens)
{
	struct redis_cmd *cmd;

	if (c->ac == NULL || (cmd = malloc(sizeof(*cmd))) == NULL)
		return -1;
	cmd->c = c;
	cmd->cb = cb;
	cmd->arg = arg;
	if (redisAsyncCommandArgv(c->ac, redis_reply_cb, cmd, argc, argv,
	    lens) != REDIS_OK) {
		free(cmd);
		return -1;
	}
	if (c->pending++ == 0)
		c->since_ms = redis_now_ms();
	return 0;
}

int
redis_command(struct redis_conn *c, redis_reply_fn *cb, void *arg, int argc,
    const char **argv, const size_t *lens)
{
	if (c == NULL || c->state == REDIS_DOWN)
		return -1;
	return redis_send(c, cb, arg, argc, argv, lens);
}

/* AUTH and SELECT answers: anything but +OK means no use trying. */
static void
redis_setup_reply(void *arg, redisReply *r)
{
	struct redis_conn *c = arg;
	char why[96];

	if (r == NULL || r->type == REDIS_REPLY_STATUS)
		return;
	snprintf(why, sizeof(why), "setup refused: %.*s", r->type ==
	    REDIS_REPLY_ERROR ? (int)(r->len > 80 ? 80 : r->len) : 8,
	    r->type == REDIS_REPLY_ERROR ? r->str : "bad type");
	redis_fail(c, why);
}

/* Replies on a subscription: ["subscribe", ch, n], ["message", ch, msg]. */
static void
redis_sub_cb(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct redis_sub *sub = privdata;
	redisReply *r = reply;

	(void)ac;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    r->element[1]->type != REDIS_REPLY_STRING ||
	    r->element[2]->type != REDIS_REPLY_STRING)
		return;
	sub->fn(sub->arg, r->element[1]->str, r->element[1]->len,
	    r->element[2]->str, r->element[2]->len);
}

static void
redis_send_subscribe(struct redis_conn *c, struct redis_sub *sub)
{
	const char *argv[2] = { "SUBSCRIBE", sub->channel };
	size_t lens[2] = { 9, strlen(sub->channel) };

	if (c->ac != NULL && redisAsyncCommandArgv(c->ac, redis_sub_cb, sub, 2,
	    argv, lens) != REDIS_OK)
		redis_fail(c, "cannot subscribe");
}

int
redis_subscribe(struct redis_conn *c, const char *channel,
    redis_message_fn *fn, void *arg)
{
	struct redis_sub *sub, **v;

	if ((sub = calloc(1, sizeof(*sub))) == NULL ||
	    (sub->channel = strdup(channel)) == NULL ||
	    (v = realloc(c->subs, (c->nsubs + 1) * sizeof(*v))) == NULL) {
		if (sub != NULL)
			free(sub->channel);
		free(sub);
		return -1;
	}
	sub->c = c;
	sub->fn = fn;
	sub->arg = arg;
	c->subs = v;
	c->subs[c->nsubs++] = sub;
	if (c->state == REDIS_UP)
		redis_send_subscribe(c, sub);
	return 0;
}

/* CLIENT SETNAME's answer: a name is for operators; refused is fine. */
static void
redis_name_reply(void *arg, redisReply *r)
{
	(void)arg;
	(void)r;
}

/* The PING after the setup: the connection is usable. */
static void
redis_ping_reply(void *arg, redisReply *r)
{
	struct redis_conn *c = arg;

	if (r != NULL && r->type == REDIS_REPLY_ERROR && c->why[0] == '\0') {
		/* NOAUTH and the like: no use waiting for redis_timeout. */
		redis_setup_reply(c, r);
		return;
	}
	if (r == NULL || r->type != REDIS_REPLY_STATUS || c->why[0] != '\0' ||
	    c->ac == NULL)
		return;
	log_info("redis %s (%s): connected%s", c->o->spec, c->name,
	    c->quiet ? " again" : "");
	c->quiet = false;
	c->backoff_ms = REDIS_BACKOFF_MIN_MS;
	for (size_t i = 0; i < c->nsubs; i++)
		redis_send_subscribe(c, c->subs[i]);
	redis_set_state(c, REDIS_UP);
}

static void
redis_connect_cb(const redisAsyncContext *ac, int status)
{
	struct redis_conn *c = ac->data;

	if (status == REDIS_OK || c == NULL || c->ac != ac)
		return;
	/* hiredis frees ac after this call. */
	if (c->m != NULL)
		metrics_inc(&c->m->redis_errors);
	redis_lost(c, ac->errstr[0] != '\0' ? ac->errstr : "connect failed");
}

static void
redis_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct redis_conn *c = ac->data;

	(void)status;
	if (c == NULL || c->ac != ac)
		return;		/* our own redisAsyncFree */
	if (c->m != NULL)
		metrics_inc(&c->m->redis_errors);
	redis_lost(c, ac->errstr[0] != '\0' ? ac->errstr :
	    "connection closed");
}

/* Open the connection and queue AUTH, SELECT and PING behind it. */
static void
redis_connect(struct redis_conn *c)
{
	const struct redis_opts *o = c->o;
	const char *argv[3];
	size_t lens[3];
	char db[24];
	redisAsyncContext *ac;
	int n = 0;

	ac = o->path != NULL ? redisAsyncConnectUnix(o->path) :
	    redisAsyncConnect(o->host, o->port);
	if (ac == NULL || ac->err != 0) {
		char why[128];

		snprintf(why, sizeof(why), "%s", ac == NULL ? "out of memory" :
		    ac->errstr);
		if (ac != NULL)
			redisAsyncFree(ac);
		if (c->m != NULL)
			metrics_inc(&c->m->redis_errors);
		redis_lost(c, why);
		return;
	}
	ac->data = c;
	if (redisLibeventAttach(ac, c->base) != REDIS_OK) {
		redisAsyncFree(ac);
		redis_lost(c, "cannot attach to the event loop");
		return;
	}
	redisAsyncSetConnectCallback(ac, redis_connect_cb);
	redisAsyncSetDisconnectCallback(ac, redis_disconnect_cb);
	c->ac = ac;
	c->why[0] = '\0';
	c->pending = 0;
	c->since_ms = redis_now_ms();
	redis_set_state(c, REDIS_CONNECTING);
	if (o->password != NULL) {
		argv[n] = "AUTH";
		lens[n++] = 4;
		if (o->user != NULL) {
			argv[n] = o->user;
			lens[n] = strlen(o->user);
			n++;
		}
		argv[n] = o->password;
		lens[n] = strlen(o->password);
		n++;
		(void)redis_send(c, redis_setup_reply, c, n, argv, lens);
	}
	if (o->db != 0) {
		snprintf(db, sizeof(db), "%llu", (unsigned long long)o->db);
		argv[0] = "SELECT";
		lens[0] = 6;
		argv[1] = db;
		lens[1] = strlen(db);
		(void)redis_send(c, redis_setup_reply, c, 2, argv, lens);
	}
	/* CLIENT LIST tells the gateway and the role of each connection. */
	argv[0] = "CLIENT";
	lens[0] = 6;
	argv[1] = "SETNAME";
	lens[1] = 7;
	argv[2] = c->client_name;
	lens[2] = strlen(c->client_name);
	(void)redis_send(c, redis_name_reply, c, 3, argv, lens);
	argv[0] = "PING";
	lens[0] = 4;
	(void)redis_send(c, redis_ping_reply, c, 1, argv, lens);
}

struct redis_conn *
redis_conn_new(struct event_base *base, const struct redis_opts *o,
    struct metrics *m, const char *name)
{
	struct redis_conn *c;
	struct timeval tv;
	uint64_t tick = o->timeout_ms / 4;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->base = base;
	c->o = o;
	c->m = m;
	snprintf(c->name, sizeof(c->name), "%s", name);
	/* wsgate:INSTANCE:ROLE, spaces and the like (refused) as '-'. */
	snprintf(c->client_name, sizeof(c->client_name), "wsgate:%s:%s",
	    o->instance != NULL ? o->instance : "", name);
	for (char *p = c->client_name; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~')
			*p = '-';
	c->backoff_ms = REDIS_BACKOFF_MIN_MS;
	c->retry = evtimer_new(base, redis_retry_cb, c);
	c->watchdog = event_new(base, -1, EV_PERSIST, redis_watchdog_cb, c);
	c->drop = event_new(base, -1, 0, redis_drop_cb, c);
	if (c->retry == NULL || c->watchdog == NULL || c->drop == NULL) {
		redis_conn_free(c);
		return NULL;
	}
	if (tick < 5)
		tick = 5;
	tv = gw_ms_to_tv(tick);
	event_add(c->watchdog, &tv);
	if (m != NULL)
		metrics_set(&m->redis_workers, 1);
	redis_connect(c);
	return c;
}

void
redis_conn_set_state_cb(struct redis_conn *c, redis_state_fn *fn, void *arg)
{
	c->state_cb = fn;
	c->state_arg = arg;
}

void
redis_conn_free(struct redis_conn *c)
{
	redisAsyncContext *ac;

	if (c == NULL)
		return;
	c->state_cb = NULL;
	if ((ac = c->ac) != NULL) {
		c->ac = NULL;
		redisAsyncFree(ac);
	}
	if (c->retry != NULL)
		event_free(c->retry);
	if (c->watchdog != NULL)
		event_free(c->watchdog);
	if (c->drop != NULL)
		event_free(c->drop);
	if (c->m != NULL) {
		metrics_set(&c->m->redis_workers, 0);
		metrics_set(&c->m->redis_up, 0);
	}
	for (size_t i = 0; i < c->nsubs; i++) {
		free(c->subs[i]->channel);
		free(c->subs[i]);
	}
	free(c->subs);
	free(c);
}

bool
redis_conn_up(const struct redis_conn *c)
{
	return c != NULL && c->state == REDIS_UP;
}

/* ---- at exit ---- */

int
redis_command_blocking(const struct redis_opts *o, int argc,
    const char **argv)
{
	struct timeval tv = gw_ms_to_tv(o->timeout_ms);
	const char *setup[3];
	redisContext *rc;
	redisReply *r;
	char db[24];
	int n = 0, ok = -1;

	rc = o->path != NULL ? redisConnectUnixWithTimeout(o->path, tv) :
	    redisConnectWithTimeout(o->host, o->port, tv);
	if (rc == NULL || rc->err != 0 || redisSetTimeout(rc, tv) !=
	    REDIS_OK)
		goto out;
	if (o->password != NULL) {
		setup[n++] = "AUTH";
		if (o->user != NULL)
			setup[n++] = o->user;
		setup[n++] = o->password;
		r = redisCommandArgv(rc, n, setup, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			goto out;
		}
		freeReplyObject(r);
	}
	if (o->db != 0) {
		snprintf(db, sizeof(db), "%llu", (unsigned long long)o->db);
		setup[0] = "SELECT";
		setup[1] = db;
		r = redisCommandArgv(rc, 2, setup, NULL);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			goto out;
		}
		freeReplyObject(r);
	}
	r = redisCommandArgv(rc, argc, argv, NULL);
	ok = r != NULL && r->type != REDIS_REPLY_ERROR ? 0 : -1;
	freeReplyObject(r);
 out:
	if (ok == -1)
		log_warnx("redis %s: %s at exit failed: %s", o->spec, argv[0],
		    rc == NULL ? "out of memory" : rc->err != 0 ? rc->errstr :
		    "refused");
	if (rc != NULL)
		redisFree(rc);
	return ok;
}

/* ---- options ---- */

/* The first line of a private file into *out (allocated). 0 or -1. */
static int
redis_read_secret(const char *path, char **out, char *err, size_t errlen)
{
	char why[512];
	size_t n;

	if (loadfile_secret(path, 1, REDIS_SECRET_MAX, LOADFILE_SECRET_FIRST,
	    out, &n, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "redis_password_file: %s", why);
		return -1;
	}
	return 0;
}

/* A host name or literal into a numeric address (once, at start). */
static int
redis_resolve(const char *host, char **out, char *err, size_t errlen)
{
	struct addrinfo hints, *res;
	char num[NI_MAXHOST];
	int r;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "redis: %s: %s", host, gai_strerror(r));
		return -1;
	}
	r = getnameinfo(res->ai_addr, res->ai_addrlen, num, sizeof(num), NULL,
	    0, NI_NUMERICHOST);
	freeaddrinfo(res);
	if (r != 0 || (*out = strdup(num)) == NULL) {
		snprintf(err, errlen, "redis: %s: cannot use its address",
		    host);
		return -1;
	}
	return 0;
}

int
redis_opts_load(const struct config *cfg, struct redis_opts *o, char *err,
    size_t errlen)
{
	char host[256], *sp;

	memset(o, 0, sizeof(*o));
	if (cfg->redis == NULL)
		return 1;
	o->db = cfg->redis_db;
	o->timeout_ms = cfg->redis_timeout_ms;
	if ((o->spec = strdup(cfg->redis->spec)) == NULL)
		goto oom;
	if (cfg->redis->kind == CONFIG_ADDR_UNIX) {
		if ((o->path = strdup(cfg->redis->path)) == NULL)
			goto oom;
	} else {
		o->port = cfg->redis->port;
		if (redis_resolve(cfg->redis->host, &o->host, err, errlen) ==
		    -1)
			goto fail;
	}
	if (cfg->redis_password_file != NULL) {
		if (redis_read_secret(cfg->redis_password_file, &o->password,
		    err, errlen) == -1)
			goto fail;
		/* "user password": a Redis 6 ACL user. */
		if ((sp = strchr(o->password, ' ')) != NULL) {
			*sp = '\0';
			o->user = o->password;
			if ((o->password = strdup(sp + 1)) == NULL)
				goto oom;
		}
	}
	if (cfg->instance != NULL)
		o->instance = strdup(cfg->instance);
	else if (gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		o->instance = strdup(host);
	} else
		o->instance = strdup("wsgate");
	if (o->instance == NULL)
		goto oom;
	return 0;
 oom:
	snprintf(err, errlen, "redis: out of memory");
 fail:
	redis_opts_clear(o);
	return -1;
}

void
redis_opts_clear(struct redis_opts *o)
{
	free(o->host);
	free(o->path);
	free(o->spec);
	if (o->user != NULL)
		explicit_bzero(o->user, strlen(o->user));
	free(o->user);
	if (o->password != NULL)
		explicit_bzero(o->password, strlen(o->password));
	free(o->password);
	free(o->instance);
	memset(o, 0, sizeof(*o));
}
