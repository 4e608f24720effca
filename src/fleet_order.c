/*
 * fleet_order: operator orders across the fleet (close one session on
 * another gateway, revoke a token everywhere); see include/fleet.h.
 *
 * Pub/sub keeps nothing: a gateway whose subscription is reconnecting
 * when an order is published never sees it, and PUBLISH's count of
 * receivers does not even say which gateway that was. So an order here
 * is a delivery with answers:
 *   - the issuer reads which gateways hold a current lease: each of them
 *     is expected to answer (a targeted order expects its one gateway,
 *     and is 404 at once when that one holds no lease);
 *   - it publishes the order to each expected gateway's own channel
 *     (orders:INSTANCE), and again every FLEET_ORDER_RETRY_MS to those
 *     that have not answered, until all have or the deadline passes; a
 *     gateway that comes back within the deadline is reached;
 *   - a gateway remembers the orders it carried out (by the issuer's
 *     incarnation and sequence number) and answers a repeat with the
 *     count it has, without carrying it out again, so a repeat that
 *     crosses an answer, or an answer lost while the issuer's own
 *     subscription reconnected, costs nothing;
 *   - at the deadline the issuer answers with what it has and the names
 *     of the gateways that did not answer (alive by their lease but
 *     cut off, stopped, or dead within the last FLEET_LEASE_MS).
 * Gateways still subscribe to the old "orders" channel (to all), so an
 * older gateway's revoke reaches them during a rolling upgrade.
 *
 * Everything here runs on worker 0's thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <openssl/crypto.h>

#include "fleet.h"
#include "fleet-int.h"
#include "gw.h"
#include "log.h"
#include "redis.h"
#include "registry.h"

#define FLEET_ORDER_MIN_MS	2000	/* an order's answers may take */
#define FLEET_ORDER_RETRY_MS	200	/* publish again to the silent */
#define FLEET_SEEN_MAX		256	/* orders a gateway remembers */
#define FLEET_SEEN_KEYLEN	(sizeof(fleet_inc) + 24)

/* An order of ours, waiting for the gateways it expects to answer. */
struct fleet_wait {
	LIST_ENTRY(fleet_wait)	 entry;
	uint64_t		 seq;
	char			*text;		/* the order; may hold a token */
	char			*target;	/* NULL: to every gateway */
	json_t			*expected;	/* names; NULL: lease read
						   not back yet */
	json_t			*answered;	/* name -> true */
	size_t			 ended;
	fleet_order_fn		*done;
	void			*arg;
	struct event		*deadline;
	struct event		*retry;
};

/* An order from elsewhere (or our own revoke) this gateway took. */
struct fleet_seen {
	char			 key[FLEET_SEEN_KEYLEN];  /* inc#seq; "" free */
	bool			 done;		/* carried out: ended is set */
	size_t			 ended;
};

/* An order being carried out here, until its fan-out comes back. */
struct fleet_job {
	char			 from[128];	/* the issuer's instance */
	char			 inc[sizeof(fleet_inc)];  /* "" from an old one */
	uint64_t		 seq;
	char			 key[FLEET_SEEN_KEYLEN];
};

static LIST_HEAD(, fleet_wait)	 fleet_waits = LIST_HEAD_INITIALIZER(fleet_waits);
static uint64_t			 fleet_seq;
static struct fleet_seen	 fleet_seen[FLEET_SEEN_MAX];
static unsigned			 fleet_seen_next;

/* ---- orders of ours ---- */

static struct fleet_wait *
fleet_order_find(uint64_t seq)
{
	struct fleet_wait *fw;

	LIST_FOREACH(fw, &fleet_waits, entry)
		if (fw->seq == seq)
			return fw;
	return NULL;
}

/* fw answers its operator and is freed. */
static void
fleet_order_end(struct fleet_wait *fw, enum fleet_status st)
{
	json_t *missing = json_array(), *name;
	size_t i;

	LIST_REMOVE(fw, entry);
	event_free(fw->deadline);
	event_free(fw->retry);
	json_array_foreach(fw->expected, i, name)
		if (missing != NULL && json_object_get(fw->answered,
		    json_string_value(name)) == NULL)
			json_array_append(missing, name);
	fw->done(fw->arg, st, fw->ended, missing);
	json_decref(missing);
	json_decref(fw->expected);
	json_decref(fw->answered);
	OPENSSL_cleanse(fw->text, strlen(fw->text));
	free(fw->text);
	free(fw->target);
	free(fw);
}

/* (Again) to every expected gateway that has not answered. */
static void
fleet_order_send(struct fleet_wait *fw)
{
	char channel[FLEET_KEYLEN];
	const char *argv[3];
	json_t *name;
	size_t i;

	json_array_foreach(fw->expected, i, name) {
		if (json_object_get(fw->answered, json_string_value(name)) !=
		    NULL)
			continue;
		fleet_key(channel, "orders:", json_string_value(name));
		argv[0] = "PUBLISH";
		argv[1] = channel;
		argv[2] = fw->text;
		/* Down, or reaching nobody now: the next round tries. */
		(void)fleet_cmd(fleet_w[0].redis, NULL, NULL, 3, argv);
	}
}

static void
fleet_order_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fleet_order_send(arg);
}

static void
fleet_order_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fleet_order_end(arg, FLEET_PARTIAL);
}

/* The gateways holding a lease: the ones to answer. */
static void
fleet_order_members_cb(void *arg, struct redisReply *r)
{
	struct fleet_wait *fw = fleet_order_find((uint64_t)(uintptr_t)arg);
	struct timeval tv = gw_ms_to_tv(FLEET_ORDER_RETRY_MS);
	size_t i;

	if (fw == NULL)
		return;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY ||
	    (fw->expected = json_array()) == NULL ||
	    (fw->answered = json_object()) == NULL) {
		fleet_order_end(fw, FLEET_PARTIAL);
		return;
	}
	for (i = 0; i < r->elements; i++) {
		if (r->element[i]->type != REDIS_REPLY_STRING ||
		    (fw->target != NULL && strcmp(fw->target,
		    r->element[i]->str) != 0))
			continue;
		json_array_append_new(fw->expected,
		    json_string(r->element[i]->str));
	}
	if (json_array_size(fw->expected) == 0) {
		fleet_order_end(fw, fw->target != NULL ? FLEET_NO_INSTANCE :
		    FLEET_OK);
		return;
	}
	fleet_order_send(fw);
	evtimer_add(fw->retry, &tv);
}

/* An answer on replies:us. */
static void
fleet_order_reply(json_t *msg)
{
	const char *from = NULL, *inc = NULL;
	json_int_t seq = 0, ended = 0;
	struct fleet_wait *fw;
	json_t *name;
	size_t i;

	if (json_unpack(msg, "{s:I, s:s, s:I, s?s}", "seq", &seq, "from",
	    &from, "ended", &ended, "inc", &inc) == -1 ||
	    (inc != NULL && strcmp(inc, fleet_inc) != 0) ||
	    (fw = fleet_order_find((uint64_t)seq)) == NULL ||
	    fw->expected == NULL || json_object_get(fw->answered, from) !=
	    NULL)
		return;		/* not ours, or a repeat */
	json_array_foreach(fw->expected, i, name)
		if (strcmp(json_string_value(name), from) == 0)
			break;
	if (i == json_array_size(fw->expected) ||
	    json_object_set_new(fw->answered, from, json_true()) == -1)
		return;
	fw->ended += ended > 0 ? (size_t)ended : 0;
	if (json_object_size(fw->answered) == json_array_size(fw->expected))
		fleet_order_end(fw, FLEET_OK);
}

/*
 * Send msg (taken) to target (NULL: every gateway) and wait for the
 * answers: see the top of the file.
 */
static int
fleet_order_start(const char *target, json_t *msg, fleet_order_fn *done,
    void *arg)
{
	struct redis_conn *c = fleet_w[0].redis;
	uint64_t ms = 2 * fleet_o->timeout_ms;
	struct fleet_wait *fw;
	struct timeval tv;

	if (!redis_conn_up(c) || msg == NULL ||
	    (fw = calloc(1, sizeof(*fw))) == NULL) {
		json_decref(msg);
		return -1;
	}
	fw->seq = ++fleet_seq;
	json_object_set_new(msg, "seq", json_integer((json_int_t)fw->seq));
	json_object_set_new(msg, "from", json_string(registry_instance()));
	json_object_set_new(msg, "inc", json_string(fleet_inc));
	fw->text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	fw->done = done;
	fw->arg = arg;
	if (fw->text == NULL || (target != NULL && (fw->target =
	    strdup(target)) == NULL) ||
	    (fw->deadline = evtimer_new(fleet_w[0].base,
	    fleet_order_deadline_cb, fw)) == NULL ||
	    (fw->retry = event_new(fleet_w[0].base, -1, EV_PERSIST,
	    fleet_order_retry_cb, fw)) == NULL ||
	    fleet_live_instances(c, fleet_order_members_cb,
	    (void *)(uintptr_t)fw->seq) == -1) {
		if (fw->text != NULL)
			OPENSSL_cleanse(fw->text, strlen(fw->text));
		free(fw->text);
		free(fw->target);
		if (fw->deadline != NULL)
			event_free(fw->deadline);
		if (fw->retry != NULL)
			event_free(fw->retry);
		free(fw);
		return -1;
	}
	LIST_INSERT_HEAD(&fleet_waits, fw, entry);
	if (ms < FLEET_ORDER_MIN_MS)
		ms = FLEET_ORDER_MIN_MS;
	tv = gw_ms_to_tv(ms);
	evtimer_add(fw->deadline, &tv);
	return 0;
}

int
fleet_order_close(const char *instance, uint64_t id, fleet_order_fn *done,
    void *arg)
{
	if (fleet_w == NULL)
		return -1;
	return fleet_order_start(instance, json_pack("{s:s, s:I}", "op",
	    "close", "id", (json_int_t)id), done, arg);
}

int
fleet_order_revoke(const char *tok, size_t len, fleet_order_fn *done,
    void *arg)
{
	if (fleet_w == NULL)
		return -1;
	/* The token itself: each gateway hashes it with its own key. Pub/sub
	 * stores nothing; the token_redis values are in Redis anyway. */
	return fleet_order_start(NULL, json_pack("{s:s, s:s%}", "op",
	    "revoke", "token", tok, len), done, arg);
}

void
fleet_order_stop(void)
{
	struct fleet_wait *fw;

	while ((fw = LIST_FIRST(&fleet_waits)) != NULL)
		fleet_order_end(fw, FLEET_GONE);
}

/* ---- orders from elsewhere ---- */

static struct fleet_seen *
fleet_seen_find(const char *key)
{
	unsigned i;

	for (i = 0; i < FLEET_SEEN_MAX; i++)
		if (strcmp(fleet_seen[i].key, key) == 0)
			return &fleet_seen[i];
	return NULL;
}

/* Remember key, forgetting the oldest order past FLEET_SEEN_MAX. */
static void
fleet_seen_add(const char *key)
{
	struct fleet_seen *e = &fleet_seen[fleet_seen_next];

	fleet_seen_next = (fleet_seen_next + 1) % FLEET_SEEN_MAX;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->done = false;
	e->ended = 0;
}

/* Tell the issuer how many sessions its order ended here. */
static void
fleet_order_answer(const char *from, const char *inc, uint64_t seq,
    size_t ended)
{
	char channel[FLEET_KEYLEN], *text;
	const char *argv[3];
	json_t *msg;

	fleet_key(channel, "replies:", from);
	msg = json_pack("{s:I, s:s, s:I}", "seq", (json_int_t)seq, "from",
	    registry_instance(), "ended", (json_int_t)ended);
	if (msg != NULL && inc[0] != '\0')
		json_object_set_new(msg, "inc", json_string(inc));
	if (msg != NULL && (text = json_dumps(msg, JSON_COMPACT)) != NULL) {
		argv[0] = "PUBLISH";
		argv[1] = channel;
		argv[2] = text;
		/* Lost: the issuer asks again until its deadline. */
		if (fleet_cmd(fleet_w[0].redis, NULL, NULL, 3, argv) == -1)
			log_warnx("fleet: cannot answer %s's order now", from);
		free(text);
	}
	json_decref(msg);
}

static void
fleet_job_done(struct gw_worker *w0, void *arg, size_t ended, json_t *list)
{
	struct fleet_job *job = arg;
	struct fleet_seen *e;

	json_decref(list);
	if (w0 != NULL && !fleet_stopping) {
		metrics_inc(&w0->m.fleet_orders_applied);
		if ((e = fleet_seen_find(job->key)) != NULL) {
			e->done = true;
			e->ended = ended;
		}
		fleet_order_answer(job->from, job->inc, job->seq, ended);
	}
	free(job);
}

static void
fleet_order_take(json_t *msg)
{
	const char *op = NULL, *from = NULL, *tok = NULL, *inc = NULL;
	uint8_t tid[REGISTRY_TOKEN_ID_LEN];
	json_int_t seq = 0, id = 0;
	char key[FLEET_SEEN_KEYLEN];
	struct fleet_seen *e;
	struct fleet_job *job;
	size_t toklen = 0;
	int r;

	if (json_unpack(msg, "{s:s, s:s, s:I, s?I, s?s%, s?s}", "op", &op,
	    "from", &from, "seq", &seq, "id", &id, "token", &tok, &toklen,
	    "inc", &inc) == -1)
		return;
	/* An older issuer sends no incarnation: its name stands in. */
	snprintf(key, sizeof(key), "%s#%llu", inc != NULL ? inc : from,
	    (unsigned long long)seq);
	if ((e = fleet_seen_find(key)) != NULL) {
		/* A repeat: the answer went astray, or is on its way. */
		if (e->done)
			fleet_order_answer(from, inc != NULL ? inc : "",
			    (uint64_t)seq, e->ended);
		return;
	}
	metrics_inc(&fleet_w[0].m.fleet_orders_received); /* worker 0's */
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return;
	snprintf(job->from, sizeof(job->from), "%s", from);
	snprintf(job->inc, sizeof(job->inc), "%s", inc != NULL ? inc : "");
	snprintf(job->key, sizeof(job->key), "%s", key);
	job->seq = (uint64_t)seq;
	if (strcmp(op, "close") == 0) {
		log_info("fleet: %s orders session %lld closed", from,
		    (long long)id);
		r = registry_fanout(REGISTRY_CLOSE_ID, (uint64_t)id, NULL,
		    fleet_job_done, job);
	} else if (strcmp(op, "revoke") == 0 && tok != NULL) {
		registry_token_id(tok, toklen, tid);
		log_info("fleet: %s revokes a token", from);
		r = registry_fanout(REGISTRY_CLOSE_TOKEN, 0, tid,
		    fleet_job_done, job);
		OPENSSL_cleanse(tid, sizeof(tid));
	} else
		r = -1;
	if (r == -1)
		free(job);	/* not remembered: a repeat tries again */
	else
		fleet_seen_add(key);
}

void
fleet_order_message(void *arg, const char *channel, size_t clen,
    const char *payload, size_t plen)
{
	char replies[FLEET_KEYLEN];
	json_t *msg;

	(void)arg;
	if ((msg = json_loadb(payload, plen, 0, NULL)) == NULL)
		return;
	fleet_key(replies, "replies:", registry_instance());
	if (clen == strlen(replies) && memcmp(channel, replies, clen) == 0)
		fleet_order_reply(msg);
	else if (!fleet_stopping)
		fleet_order_take(msg);
	json_decref(msg);
}
