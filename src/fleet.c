/*
 * fleet: see include/fleet.h.
 *
 * Threads: each worker writes its own sessions' entries on its own Redis
 * connection (w->redis). Everything else (the lease, orders, waits for
 * answers, fleet listings) lives on worker 0, with the admin endpoint:
 * worker 0's command connection and one more connection that only
 * subscribes (a subscribed Redis connection can send nothing else).
 * Orders that reach this gateway are carried out through registry
 * fan-outs, so sessions are touched only by their own workers.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "config.h"
#include "fleet.h"
#include "fleet-int.h"
#include "gw.h"
#include "handshake.h"
#include "iplimit.h"
#include "lookup.h"
#include "log.h"
#include "redis.h"
#include "registry.h"
#include "session-int.h"


/* A fleet listing: one ZRANGEBYSCORE, then one HVALS per gateway. */
struct fleet_listing {
	fleet_list_fn		*done;
	void			*arg;
	unsigned		 pending;	/* commands not answered */
	bool			 failed;
	json_t			*sessions;
	json_t			*instances;
};

struct gw_worker		*fleet_w;	/* the workers; NULL: no fleet */
static unsigned			 fleet_n;
const struct redis_opts		*fleet_o;
static struct redis_conn	*fleet_sub;	/* worker 0: subscriptions */
static struct event		*fleet_renew;	/* worker 0: the lease */
bool				 fleet_stopping;
/* This process in the leases of fleet limits and in its orders: instance
 * and a random tag, so a restarted gateway's old counts are not taken
 * for its own, nor answers to its predecessor's orders. */
char				 fleet_inc[300];
static _Atomic bool		 fleet_limits_degraded;	/* logged once */
/*
 * Entries an earlier process of the same instance left (it died, this
 * one took its name) are deleted once, when worker 0 first reaches
 * Redis; until that is done no worker writes its entries, and then each
 * writes what it holds.
 */
static _Atomic bool		 fleet_cleared;
static bool			 fleet_clearing;	/* worker 0: DEL sent */
#define FLEET_MAX_WORKERS	256	/* workers' range in gateway.conf */
static struct registry_job	 fleet_rewrite_jobs[FLEET_MAX_WORKERS];

uint64_t
fleet_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
fleet_key(char *buf, const char *what, const char *name)
{
	snprintf(buf, FLEET_KEYLEN, FLEET_PREFIX "%s%s", what,
	    name != NULL ? name : "");
}

/* Fire and forget: registry writes need no answer. */
static void	fleet_limits_release(struct session *);

static void
fleet_ignore_cb(void *arg, struct redisReply *r)
{
	(void)arg;
	(void)r;
}

/* A registry write's answer; arg is the sending worker's metrics (this
 * runs on its thread). NULL: the connection went before the answer. */
static void
fleet_write_cb(void *arg, struct redisReply *r)
{
	struct metrics *m = arg;

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		metrics_inc(&m->fleet_registry_write_errors);
}

int
fleet_cmd(struct redis_conn *c, redis_reply_fn *cb, void *arg, int argc,
    const char **argv)
{
	size_t lens[8];
	int i;

	for (i = 0; i < argc && i < 8; i++)
		lens[i] = strlen(argv[i]);
	return redis_command(c, cb != NULL ? cb : fleet_ignore_cb, arg, argc,
	    argv, lens);
}

int
fleet_live_instances(struct redis_conn *c, redis_reply_fn *cb, void *arg)
{
	char key[FLEET_KEYLEN], now[24];
	const char *argv[4];

	fleet_key(key, "instances", NULL);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)fleet_now_ms());
	argv[0] = "ZRANGEBYSCORE";
	argv[1] = key;
	argv[2] = now;
	argv[3] = "+inf";
	return fleet_cmd(c, cb, arg, 4, argv);
}

/* A write to the registry from worker w, counted when it fails. */
static void
fleet_write(struct gw_worker *w, int argc, const char **argv)
{
	if (fleet_cmd(w->redis, fleet_write_cb, &w->m, argc, argv) == -1)
		metrics_inc(&w->m.fleet_registry_write_errors);
}

bool
fleet_on(void)
{
	return fleet_w != NULL;
}

bool
fleet_up(const struct gw_worker *w)
{
	return fleet_w != NULL && redis_conn_up(w->redis);
}

/* ---- the registry in Redis ---- */

/* HSET this session's entry: what does not change while it lives. */
static void
fleet_write_session(struct gw_worker *w, struct session *s)
{
	char key[FLEET_KEYLEN], id[24], *text;
	const char *argv[4];
	json_t *e;

	if (!atomic_load(&fleet_cleared) ||
	    (e = registry_session_json(s)) == NULL)
		return;
	json_object_del(e, "bytes_up");
	json_object_del(e, "bytes_down");
	json_object_del(e, "state");
	text = json_dumps(e, JSON_COMPACT);
	json_decref(e);
	if (text == NULL)
		return;
	fleet_key(key, "sessions:", registry_instance());
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
	argv[0] = "HSET";
	argv[1] = key;
	argv[2] = id;
	argv[3] = text;
	fleet_write(w, 4, argv);
	free(text);
}

void
fleet_session_began(struct session *s)
{
	if (fleet_w == NULL || s->route == NULL)
		return;
	s->fleet_listed = true;
	if (redis_conn_up(s->w->redis))
		fleet_write_session(s->w, s);
}

void
fleet_session_ended(struct session *s)
{
	char key[FLEET_KEYLEN], id[24];
	const char *argv[3];

	if (fleet_w == NULL)
		return;
	if (s->fleet_ip_counted)
		fleet_limits_release(s);
	if (!s->fleet_listed)
		return;
	s->fleet_listed = false;
	fleet_key(key, "sessions:", registry_instance());
	snprintf(id, sizeof(id), "%llu", (unsigned long long)s->id);
	argv[0] = "HDEL";
	argv[1] = key;
	argv[2] = id;
	fleet_write(s->w, 3, argv);
}

/* The lease: ZADD ourselves, keep our hashes alive, prune the dead. */
static void
fleet_renew_now(void)
{
	char key[FLEET_KEYLEN], skey[FLEET_KEYLEN], until[24], lease[24],
	    now[24];
	const char *argv[4];
	struct redis_conn *c = fleet_w[0].redis;
	uint64_t t = fleet_now_ms();

	if (!redis_conn_up(c))
		return;
	fleet_key(key, "instances", NULL);
	fleet_key(skey, "sessions:", registry_instance());
	snprintf(until, sizeof(until), "%llu",
	    (unsigned long long)(t + FLEET_LEASE_MS));
	snprintf(lease, sizeof(lease), "%d", FLEET_LEASE_MS);
	snprintf(now, sizeof(now), "(%llu", (unsigned long long)t);
	argv[0] = "ZADD";
	argv[1] = key;
	argv[2] = until;
	argv[3] = registry_instance();
	fleet_write(&fleet_w[0], 4, argv);
	argv[0] = "PEXPIRE";
	argv[1] = skey;
	argv[2] = lease;
	fleet_write(&fleet_w[0], 3, argv);
	argv[0] = "ZREMRANGEBYSCORE";
	argv[1] = key;
	argv[2] = "-inf";
	argv[3] = now;
	fleet_write(&fleet_w[0], 4, argv);
	/* Always, so that a reload may turn limits_scope = fleet on. */
	fleet_key(key, "live", NULL);
	argv[0] = "ZADD";
	argv[1] = key;
	argv[2] = until;
	argv[3] = fleet_inc;
	fleet_write(&fleet_w[0], 4, argv);
	argv[0] = "ZREMRANGEBYSCORE";
	argv[2] = "-inf";
	argv[3] = now;
	fleet_write(&fleet_w[0], 4, argv);
}

static void
fleet_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	fleet_renew_now();
}

/*
 * A worker's connection is up (again): Redis may have lost everything
 * (a restart without persistence), so write this worker's sessions anew.
 */
static void
fleet_rewrite(struct gw_worker *w)
{
	struct session *s;

	LIST_FOREACH(s, &w->sessions, entry)
		if (s->fleet_listed)
			fleet_write_session(w, s);
}

/* In each worker, once the old entries are gone. */
static void
fleet_rewrite_job_cb(struct gw_worker *w, struct registry_job *job)
{
	(void)job;
	if (w != NULL)
		fleet_rewrite(w);
}

/* The DEL of what an earlier process left is done (or failed). */
static void
fleet_cleared_cb(void *arg, struct redisReply *r)
{
	unsigned i;

	(void)arg;
	fleet_clearing = false;
	if (r == NULL || r->type == REDIS_REPLY_ERROR || fleet_stopping)
		return;		/* tried again at the next connect */
	atomic_store(&fleet_cleared, true);
	for (i = 0; i < fleet_n; i++)
		registry_post(i, &fleet_rewrite_jobs[i]);
}

static void
fleet_worker_state_cb(void *arg, bool up)
{
	struct gw_worker *w = arg;
	char key[FLEET_KEYLEN];
	const char *argv[2];

	if (!up)
		return;
	if (w->index == 0) {
		fleet_renew_now();
		if (!atomic_load(&fleet_cleared) && !fleet_clearing) {
			fleet_key(key, "sessions:", registry_instance());
			argv[0] = "DEL";
			argv[1] = key;
			fleet_clearing = fleet_cmd(w->redis, fleet_cleared_cb,
			    NULL, 2, argv) == 0;
		}
	}
	fleet_rewrite(w);
}

/* ---- listing the fleet ---- */

static void
fleet_listing_step(struct fleet_listing *fl)
{
	if (--fl->pending > 0)
		return;
	if (fleet_stopping)
		fl->done(fl->arg, FLEET_GONE, NULL, NULL);
	else if (fl->failed || fl->sessions == NULL || fl->instances == NULL)
		fl->done(fl->arg, FLEET_PARTIAL, NULL, NULL);
	else {
		fl->done(fl->arg, FLEET_OK, fl->sessions, fl->instances);
		fl->sessions = fl->instances = NULL;
	}
	json_decref(fl->sessions);
	json_decref(fl->instances);
	free(fl);
}

/* HVALS of one gateway: its entries. */
static void
fleet_hvals_cb(void *arg, struct redisReply *r)
{
	struct fleet_listing *fl = arg;
	json_t *e;
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		fl->failed = true;
	for (i = 0; !fl->failed && i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		e = json_loadb(r->element[i]->str, r->element[i]->len, 0,
		    NULL);
		if (e != NULL && fl->sessions != NULL)
			json_array_append_new(fl->sessions, e);
		else
			json_decref(e);
	}
	fleet_listing_step(fl);
}

/* The live gateways: then ask each for its entries. */
static void
fleet_members_cb(void *arg, struct redisReply *r)
{
	struct fleet_listing *fl = arg;
	char key[FLEET_KEYLEN];
	const char *argv[2];
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY || fleet_stopping) {
		fl->failed = true;
		fleet_listing_step(fl);
		return;
	}
	for (i = 0; i < r->elements; i++) {
		const char *name = r->element[i]->str;

		if (r->element[i]->type != REDIS_REPLY_STRING)
			continue;
		json_array_append_new(fl->instances, json_string(name));
		if (strcmp(name, registry_instance()) == 0)
			continue;	/* ours are read live */
		fleet_key(key, "sessions:", name);
		argv[0] = "HVALS";
		argv[1] = key;
		if (fleet_cmd(fleet_w[0].redis, fleet_hvals_cb, fl, 2,
		    argv) == 0)
			fl->pending++;
		else
			fl->failed = true;
	}
	fleet_listing_step(fl);
}

int
fleet_list_remote(fleet_list_fn *done, void *arg)
{
	struct fleet_listing *fl;
	
	if (fleet_w == NULL || !redis_conn_up(fleet_w[0].redis) ||
	    (fl = calloc(1, sizeof(*fl))) == NULL)
		return -1;
	fl->done = done;
	fl->arg = arg;
	fl->pending = 1;
	fl->sessions = json_array();
	fl->instances = json_array();
	if (fleet_live_instances(fleet_w[0].redis, fleet_members_cb, fl) ==
	    -1) {
		json_decref(fl->sessions);
		json_decref(fl->instances);
		free(fl);
		return -1;
	}
	return 0;
}

/* ---- life ---- */

void
fleet_start(struct gw_worker *workers, unsigned nworkers,
    const struct redis_opts *o, const struct config *cfg)
{
	struct timeval tv = { FLEET_RENEW_MS / 1000,
	    (FLEET_RENEW_MS % 1000) * 1000 };
	unsigned i;

	if (o == NULL || o->spec == NULL)
		return;
	fleet_w = workers;
	fleet_n = nworkers;
	{
		uint8_t tag[8] = { 0 };
		char hex[17];

		(void)RAND_bytes(tag, sizeof(tag));
		snprintf(hex, sizeof(hex), "%02x%02x%02x%02x%02x%02x%02x%02x",
		    tag[0], tag[1], tag[2], tag[3], tag[4], tag[5], tag[6],
		    tag[7]);
		snprintf(fleet_inc, sizeof(fleet_inc), "%s#%s#%ld",
		    registry_instance(), hex, (long)time(NULL));
	}
	fleet_o = o;
	(void)cfg;	/* per-session keys come from each session's own */
	if (nworkers > FLEET_MAX_WORKERS)
		fatalx("fleet: more than %d workers", FLEET_MAX_WORKERS);
	for (i = 0; i < nworkers; i++) {
		fleet_rewrite_jobs[i].fn = fleet_rewrite_job_cb;
		redis_conn_set_state_cb(workers[i].redis,
		    fleet_worker_state_cb, &workers[i]);
	}
	if ((fleet_sub = redis_conn_new(workers[0].base, o, NULL,
	    "fleet orders")) == NULL ||
	    (fleet_renew = event_new(workers[0].base, -1, EV_PERSIST,
	    fleet_renew_cb, NULL)) == NULL)
		fatalx("fleet: out of memory");
	{
		char mine[FLEET_KEYLEN], all[FLEET_KEYLEN],
		    replies[FLEET_KEYLEN];

		fleet_key(mine, "orders:", registry_instance());
		fleet_key(all, "orders", NULL);
		fleet_key(replies, "replies:", registry_instance());
		if (redis_subscribe(fleet_sub, mine, fleet_order_message, NULL) ==
		    -1 || redis_subscribe(fleet_sub, all, fleet_order_message,
		    NULL) == -1 || redis_subscribe(fleet_sub, replies,
		    fleet_order_message, NULL) == -1)
			fatalx("fleet: out of memory");
	}
	event_add(fleet_renew, &tv);
	metrics_set(&workers[0].m.fleet_on, 1);
	log_info("fleet: instance %s on redis %s", registry_instance(),
	    o->spec);
}

/*
 * Leave the fleet as the process ends (the loops have stopped): drop
 * the lease and the entries now rather than when the lease runs out, so
 * that orders no longer wait for this gateway (they expect an answer
 * from every gateway holding a lease) and fleet limits stop counting it.
 * Blocks, within redis_timeout a step; a failure only leaves the lease
 * to expire, as after a crash.
 */
static const char fleet_leave_lua[] =
"redis.call('ZREM', KEYS[1], ARGV[1])\n"
"redis.call('ZREM', KEYS[2], ARGV[2])\n"
"redis.call('DEL', KEYS[3])\n"
"return 1\n";

static void
fleet_leave(void)
{
	char instances[FLEET_KEYLEN], live[FLEET_KEYLEN], skey[FLEET_KEYLEN];
	const char *argv[8];

	fleet_key(instances, "instances", NULL);
	fleet_key(live, "live", NULL);
	fleet_key(skey, "sessions:", registry_instance());
	argv[0] = "EVAL";
	argv[1] = fleet_leave_lua;
	argv[2] = "3";
	argv[3] = instances;
	argv[4] = live;
	argv[5] = skey;
	argv[6] = registry_instance();
	argv[7] = fleet_inc;
	if (redis_command_blocking(fleet_o, 8, argv) == 0)
		log_info("fleet: instance %s left the fleet",
		    registry_instance());
}

void
fleet_stop(void)
{
	if (fleet_w == NULL)
		return;
	fleet_stopping = true;
	fleet_order_stop();
	redis_conn_free(fleet_sub);
	fleet_sub = NULL;
	if (fleet_renew != NULL)
		event_free(fleet_renew);
	fleet_renew = NULL;
	fleet_leave();
}

/* ---- fleet-wide limits (limits_scope = fleet) ---- */

/*
 * One round trip per handshake. KEYS: the address's hash (incarnation ->
 * its open connections), the live incarnations (ZSET, lease expiry) and
 * this second's handshake counter of the address. ARGV: this
 * incarnation, max_connections_per_ip, now (ms), this gateway's count
 * with this connection, handshake_rate_per_ip. Counts of incarnations
 * whose lease ran out are dropped on the way. "ok", "conn" or "rate".
 */
static const char fleet_limits_lua[] =
"local inc, limit, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])\n"
"local mine, rate = tonumber(ARGV[4]), tonumber(ARGV[5])\n"
"if rate > 0 then\n"
"  local n = redis.call('INCR', KEYS[3])\n"
"  if n == 1 then redis.call('PEXPIRE', KEYS[3], 2000) end\n"
"  if n > rate then return 'rate' end\n"
"end\n"
"if limit > 0 then\n"
"  local f = redis.call('HGETALL', KEYS[1])\n"
"  local others = 0\n"
"  for i = 1, #f, 2 do\n"
"    if f[i] ~= inc then\n"
"      local sc = redis.call('ZSCORE', KEYS[2], f[i])\n"
"      if sc and tonumber(sc) > now then\n"
"        others = others + tonumber(f[i + 1])\n"
"      else\n"
"        redis.call('HDEL', KEYS[1], f[i])\n"
"      end\n"
"    end\n"
"  end\n"
"  if others + mine > limit then return 'conn' end\n"
"  redis.call('HSET', KEYS[1], inc, mine)\n"
"  redis.call('PEXPIRE', KEYS[1], 86400000)\n"
"end\n"
"return 'ok'\n";

/* The client's address as text, no port; false for a Unix client. */
static bool
fleet_addr(const struct session *s, char *buf, size_t len)
{
	const struct sockaddr_storage *ss = &s->peer_sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET)
		return inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->
		    sin_addr, buf, (socklen_t)len) != NULL;
	if (ss->ss_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))	/* counts as IPv4 */
		return inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf,
		    (socklen_t)len) != NULL;
	return inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len) !=
	    NULL;
}

/* Redis cannot count for the fleet: this gateway's own counts stand. */
static void
fleet_limits_fallback(const char *why)
{
	if (!atomic_exchange(&fleet_limits_degraded, true))
		log_warnx("limits_scope = fleet: %s; counting this gateway's "
		    "connections only until it is back", why);
}

struct fleet_limit_ask {
	struct gw_worker	*w;
	uint64_t		 ticket;
};

static void
fleet_limits_reply(void *arg, struct redisReply *r)
{
	struct fleet_limit_ask *a = arg;

	if (r == NULL || (r->type != REDIS_REPLY_STRING &&
	    r->type != REDIS_REPLY_STATUS))
		lookup_answer(a->w, a->ticket, LOOKUP_UNAVAILABLE, NULL, 0);
	else
		lookup_answer(a->w, a->ticket, LOOKUP_OK, r->str, r->len);
	free(a);
}

static void
fleet_limits_done(struct session *s, enum lookup_status st, const char *v,
    size_t len, uint64_t usec, void *arg)
{
	(void)usec;
	(void)arg;
	if (st == LOOKUP_OK && len == 4 && memcmp(v, "conn", 4) == 0) {
		handshake_refuse(s, 503, "too many connections from this "
		    "address in the fleet", NULL);
		return;
	}
	if (st == LOOKUP_OK && len == 4 && memcmp(v, "rate", 4) == 0) {
		handshake_refuse(s, 429, "too many handshakes from this "
		    "address in the fleet", NULL);
		return;
	}
	if (st == LOOKUP_OK && len == 2 && memcmp(v, "ok", 2) == 0) {
		if (atomic_exchange(&fleet_limits_degraded, false))
			log_info("limits_scope = fleet: redis answers again; "
			    "counting fleet-wide");
		s->fleet_ip_counted = s->ip_counted;
	} else
		fleet_limits_fallback(st == LOOKUP_TIMEOUT ? "redis did not "
		    "answer in time" : "redis unavailable");
	s->fleet_checked = true;
	handshake_resume(s);
}

int
fleet_limits_check(struct session *s)
{
	const struct config *cfg = s->cfg;
	char addr[INET6_ADDRSTRLEN], ipkey[FLEET_KEYLEN], live[FLEET_KEYLEN],
	    ratekey[FLEET_KEYLEN], limit[24], now[24], mine[24], rate[24];
	const char *argv[11];
	size_t lens[11];
	struct fleet_limit_ask *a;
	uint64_t t = fleet_now_ms();
	int i;

	if (fleet_w == NULL || cfg->limits_scope == 0 || s->fleet_checked ||
	    (cfg->max_connections_per_ip == 0 &&
	    cfg->handshake_rate_per_ip == 0) ||
	    !fleet_addr(s, addr, sizeof(addr))) {
		s->fleet_checked = true;
		return 1;
	}
	if (!redis_conn_up(s->w->redis) || (a = malloc(sizeof(*a))) == NULL) {
		fleet_limits_fallback("redis unavailable");
		s->fleet_checked = true;
		return 1;
	}
	fleet_key(ipkey, "ip:", addr);
	fleet_key(live, "live", NULL);
	snprintf(ratekey, sizeof(ratekey), FLEET_PREFIX "rate:%s:%llu", addr,
	    (unsigned long long)(t / 1000));
	snprintf(limit, sizeof(limit), "%llu",
	    (unsigned long long)cfg->max_connections_per_ip);
	snprintf(now, sizeof(now), "%llu", (unsigned long long)t);
	snprintf(mine, sizeof(mine), "%llu", (unsigned long long)
	    iplimit_conns((const struct sockaddr *)&s->peer_sa));
	snprintf(rate, sizeof(rate), "%llu",
	    (unsigned long long)cfg->handshake_rate_per_ip);
	argv[0] = "EVAL";
	argv[1] = fleet_limits_lua;
	argv[2] = "3";
	argv[3] = ipkey;
	argv[4] = live;
	argv[5] = ratekey;
	argv[6] = fleet_inc;
	argv[7] = limit;
	argv[8] = now;
	argv[9] = mine;
	argv[10] = rate;
	for (i = 0; i < 11; i++)
		lens[i] = strlen(argv[i]);
	a->w = s->w;
	if ((a->ticket = lookup_wait(s, fleet_o->timeout_ms, fleet_limits_done,
	    NULL)) == 0) {
		free(a);
		s->fleet_checked = true;
		return 1;
	}
	if (redis_command(s->w->redis, fleet_limits_reply, a, 11, argv,
	    lens) == -1) {
		lookup_answer(s->w, a->ticket, LOOKUP_UNAVAILABLE, NULL, 0);
		free(a);
	}
	return 0;
}

/* A counted connection ends: publish this gateway's new count. */
static void
fleet_limits_release(struct session *s)
{
	char addr[INET6_ADDRSTRLEN], ipkey[FLEET_KEYLEN], n[24];
	const char *argv[4];
	uint64_t left;

	s->fleet_ip_counted = false;
	if (!fleet_addr(s, addr, sizeof(addr)) ||
	    !redis_conn_up(s->w->redis))
		return;
	/* iplimit_release comes right after this, in session_free. */
	left = iplimit_conns((const struct sockaddr *)&s->peer_sa);
	left = left > 0 ? left - 1 : 0;
	fleet_key(ipkey, "ip:", addr);
	snprintf(n, sizeof(n), "%llu", (unsigned long long)left);
	argv[0] = left > 0 ? "HSET" : "HDEL";
	argv[1] = ipkey;
	argv[2] = fleet_inc;
	argv[3] = n;
	(void)fleet_cmd(s->w->redis, NULL, NULL, left > 0 ? 4 : 3, argv);
}
