/*
 * registry: see include/registry.h.
 *
 * Each worker has one mailbox: a locked queue of intrusive jobs and an
 * event with no fd that any thread posts (post.h: the workers' bases
 * have no lock, so event_active from another thread would race). The
 * worker's loop runs the jobs in its own thread; nothing
 * here ever touches a session from outside its worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "config.h"
#include "gw.h"
#include "loadfile.h"
#include "log.h"
#include "registry.h"
#include "session-int.h"
#include "post.h"

#define REGISTRY_KEY_MIN	16
#define REGISTRY_KEY_MAX	1024

struct registry_box {
	pthread_mutex_t		 lock;
	TAILQ_HEAD(, registry_job) jobs;	/* under lock */
	struct event		*ev;
	int			 slot;		/* post.h's */
	struct gw_worker	*w;
};

static struct registry_box	*registry_boxes;
static unsigned			 registry_nboxes;
/* Set before the workers start, read-only after. */
static char			 registry_inst[256];
static uint8_t			 registry_key[REGISTRY_KEY_MAX];
static size_t			 registry_keylen;

/* Read a secret file whole: 16..1024 bytes, not group/world readable. */
static int
registry_read_key(const char *path, char *err, size_t errlen)
{
	char *key, why[512];
	size_t n;

	if (loadfile_secret(path, REGISTRY_KEY_MIN, REGISTRY_KEY_MAX, 0, &key,
	    &n, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "token_id_key_file %s", why);
		return -1;
	}
	memcpy(registry_key, key, n);
	registry_keylen = n;
	loadfile_free(key, n);
	return 0;
}

int
registry_load_keys(const struct config *cfg, char *err, size_t errlen)
{
	if (cfg->token_id_key_file != NULL)
		return registry_read_key(cfg->token_id_key_file, err, errlen);
	if (RAND_bytes(registry_key, 32) != 1) {
		snprintf(err, errlen, "no random bytes for the token id key");
		return -1;
	}
	registry_keylen = 32;
	return 0;
}

static void
registry_box_cb(evutil_socket_t fd, short what, void *arg)
{
	struct registry_box *b = arg;
	TAILQ_HEAD(, registry_job) todo = TAILQ_HEAD_INITIALIZER(todo);
	struct registry_job *job;

	(void)fd;
	(void)what;
	pthread_mutex_lock(&b->lock);
	TAILQ_CONCAT(&todo, &b->jobs, entry);
	pthread_mutex_unlock(&b->lock);
	while ((job = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, job, entry);
		job->fn(b->w, job);	/* may free job */
	}
}

void
registry_start(struct gw_worker *workers, unsigned nworkers,
    const char *instance)
{
	unsigned i;

	snprintf(registry_inst, sizeof(registry_inst), "%s", instance);
	/* jansson seeds its hash once; do it before threads race to. */
	json_object_seed(0);
	if ((registry_boxes = calloc(nworkers, sizeof(*registry_boxes))) ==
	    NULL)
		fatal("calloc");
	for (i = 0; i < nworkers; i++) {
		struct registry_box *b = &registry_boxes[i];

		pthread_mutex_init(&b->lock, NULL);
		TAILQ_INIT(&b->jobs);
		b->w = &workers[i];
		if ((b->ev = event_new(workers[i].base, -1, 0, registry_box_cb,
		    b)) == NULL)
			fatalx("event_new failed");
		if ((b->slot = post_slot(&workers[i], b->ev)) == -1)
			fatalx("registry: no post slot left");
	}
	registry_nboxes = nworkers;
}

void
registry_stop(void)
{
	struct registry_job *job;
	unsigned i;

	for (i = 0; i < registry_nboxes; i++) {
		struct registry_box *b = &registry_boxes[i];

		while ((job = TAILQ_FIRST(&b->jobs)) != NULL) {
			TAILQ_REMOVE(&b->jobs, job, entry);
			job->fn(NULL, job);
		}
		event_free(b->ev);
		pthread_mutex_destroy(&b->lock);
	}
	free(registry_boxes);
	registry_boxes = NULL;
	registry_nboxes = 0;
}

const char *
registry_instance(void)
{
	return registry_inst;
}

unsigned
registry_nworkers(void)
{
	return registry_nboxes;
}

void
registry_post(unsigned index, struct registry_job *job)
{
	struct registry_box *b = &registry_boxes[index];

	pthread_mutex_lock(&b->lock);
	TAILQ_INSERT_TAIL(&b->jobs, job, entry);
	pthread_mutex_unlock(&b->lock);
	post_event(b->w, (unsigned)b->slot);
}

void
registry_token_id(const char *tok, size_t len,
    uint8_t out[REGISTRY_TOKEN_ID_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	HMAC(EVP_sha256(), registry_key, (int)registry_keylen,
	    (const unsigned char *)tok, len, md, &mdlen);
	memcpy(out, md, REGISTRY_TOKEN_ID_LEN);
}

static void
registry_hex(const uint8_t id[REGISTRY_TOKEN_ID_LEN],
    char out[REGISTRY_TOKEN_HEX_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < REGISTRY_TOKEN_ID_LEN; i++) {
		out[2 * i] = digits[id[i] >> 4];
		out[2 * i + 1] = digits[id[i] & 15];
	}
	out[REGISTRY_TOKEN_HEX_LEN] = '\0';
}

void
registry_token_hex(const char *tok, size_t len,
    char out[REGISTRY_TOKEN_HEX_LEN + 1])
{
	uint8_t id[REGISTRY_TOKEN_ID_LEN];

	registry_token_id(tok, len, id);
	registry_hex(id, out);
}

void
registry_token_seen(struct session *s, const char *tok, size_t len)
{
	registry_token_id(tok, len, s->token_id);
	s->has_token_id = true;
}

/* Wall-clock start of s, from its monotonic start: RFC 3339 UTC, ms. */
static void
registry_started(const struct session *s, char *buf, size_t len)
{
	struct timespec mono, real;
	int64_t ms;
	struct tm tm;
	size_t n;
	time_t t;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	ms = ((int64_t)real.tv_sec * 1000 + real.tv_nsec / 1000000) -
	    (((int64_t)mono.tv_sec - s->started.tv_sec) * 1000 +
	    (mono.tv_nsec - s->started.tv_nsec) / 1000000);
	t = (time_t)(ms / 1000);
	gmtime_r(&t, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%03uZ", (unsigned)(ms % 1000) % 1000u);
}

char *
registry_route_label(const struct config_route *r)
{
	size_t n = strlen(r->path);
	char *out;

	if ((out = malloc(n + 3)) == NULL)
		return NULL;
	memcpy(out, r->path, n);
	memcpy(out + n, r->prefix ? "/*" : "", r->prefix ? 3 : 1);
	return out;
}

json_t *
registry_session_json(const struct session *s)
{
	const char *instance = registry_inst;
	char started[64], hex[REGISTRY_TOKEN_HEX_LEN + 1], *route;
	json_t *o;

	if ((route = registry_route_label(s->route)) == NULL)
		return NULL;
	registry_started(s, started, sizeof(started));
	if (s->has_token_id)
		registry_hex(s->token_id, hex);
	o = json_pack("{s:s, s:I, s:s, s:s, s:s?, s:s, s:I, s:I, s:s, "
	    "s:s?}",
	    "instance", instance,
	    "id", (json_int_t)s->id,
	    "client", s->peer,
	    "route", route,
	    "backend", s->backend != NULL ? s->backend->spec : NULL,
	    "started", started,
	    "bytes_up", (json_int_t)s->bytes_up,
	    "bytes_down", (json_int_t)s->bytes_down,
	    "state", s->state == SESSION_CONNECTING ? "connecting" :
	    s->state == SESSION_OPEN ? "open" : "closing",
	    "token_id", s->has_token_id ? hex : NULL);
	free(route);
	return o;
}

json_t *
registry_list(struct gw_worker *w)
{
	struct session *s;
	json_t *arr, *e;

	if ((arr = json_array()) == NULL)
		return NULL;
	LIST_FOREACH(s, &w->sessions, entry) {
		/* Before the upgrade a connection is not yet a session the
		 * operator can name: no route, nothing relayed. */
		if (s->route == NULL || s->state < SESSION_CONNECTING)
			continue;
		if ((e = registry_session_json(s)) == NULL ||
		    json_array_append_new(arr, e) == -1) {
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

size_t
registry_close(struct gw_worker *w, bool by_token, uint64_t id,
    const uint8_t tid[REGISTRY_TOKEN_ID_LEN])
{
	struct session *s, *next;
	size_t n = 0;

	for (s = LIST_FIRST(&w->sessions); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		if (s->route == NULL || s->state < SESSION_CONNECTING ||
		    s->state == SESSION_CLOSING)
			continue;
		if (by_token ? !s->has_token_id ||
		    CRYPTO_memcmp(s->token_id, tid, REGISTRY_TOKEN_ID_LEN) != 0 :
		    s->id != id)
			continue;
		log_info("session %llu: client=%s closed by operator",
		    (unsigned long long)s->id, s->peer);
		n++;
		/* RFC 6455 §7.4.1: 1008, the endpoint's policy. */
		session_close(s, 1008, "closed by operator");
		if (!by_token)
			break;
	}
	return n;
}

/* ---- fan-out: one job per worker, each comes back to worker 0 ---- */

struct registry_fan;

struct registry_part {
	struct registry_job	 job;		/* first out, then back */
	struct registry_fan	*f;
	json_t			*list;
	size_t			 ended;
};

struct registry_fan {
	enum registry_op	 op;
	uint64_t		 id;
	uint8_t			 tid[REGISTRY_TOKEN_ID_LEN];
	registry_done_fn	*done;
	void			*arg;
	unsigned		 pending;
	unsigned		 nparts;
	struct registry_part	 parts[];
};

static void
registry_fan_free(struct registry_fan *f)
{
	unsigned i;

	for (i = 0; i < f->nparts; i++)
		json_decref(f->parts[i].list);
	OPENSSL_cleanse(f->tid, sizeof(f->tid));
	free(f);
}

static void
registry_fan_finish(struct gw_worker *w0, struct registry_fan *f)
{
	json_t *all = NULL;
	size_t ended = 0;
	unsigned i;

	for (i = 0; i < f->nparts; i++)
		ended += f->parts[i].ended;
	if (f->op == REGISTRY_LIST && (all = json_array()) != NULL)
		for (i = 0; i < f->nparts; i++)
			if (f->parts[i].list == NULL ||
			    json_array_extend(all, f->parts[i].list) == -1) {
				json_decref(all);
				all = NULL;
				break;
			}
	f->done(w0, f->arg, ended, all);
	registry_fan_free(f);
}

/* Back on worker 0 (w NULL: shutting down). */
static void
registry_back_cb(struct gw_worker *w, struct registry_job *job)
{
	struct registry_part *p = (struct registry_part *)job;
	struct registry_fan *f = p->f;

	if (--f->pending > 0)
		return;
	if (w == NULL) {
		f->done(NULL, f->arg, 0, NULL);
		registry_fan_free(f);
	} else
		registry_fan_finish(w, f);
}

/* On worker i: do its part, then send it back to worker 0. */
static void
registry_out_cb(struct gw_worker *w, struct registry_job *job)
{
	struct registry_part *p = (struct registry_part *)job;
	struct registry_fan *f = p->f;

	if (w == NULL) {
		registry_back_cb(NULL, job);
		return;
	}
	switch (f->op) {
	case REGISTRY_LIST:
		p->list = registry_list(w);
		break;
	case REGISTRY_CLOSE_ID:
		p->ended = registry_close(w, false, f->id, NULL);
		break;
	case REGISTRY_CLOSE_TOKEN:
		p->ended = registry_close(w, true, 0, f->tid);
		break;
	}
	job->fn = registry_back_cb;
	registry_post(0, job);
}

int
registry_fanout(enum registry_op op, uint64_t id, const uint8_t *tid,
    registry_done_fn *done, void *arg)
{
	unsigned i, n = registry_nboxes;
	struct registry_fan *f;

	if ((f = calloc(1, sizeof(*f) + n * sizeof(f->parts[0]))) == NULL)
		return -1;
	f->op = op;
	f->id = id;
	if (tid != NULL)
		memcpy(f->tid, tid, sizeof(f->tid));
	f->done = done;
	f->arg = arg;
	f->nparts = f->pending = n;
	for (i = 0; i < n; i++) {
		f->parts[i].f = f;
		f->parts[i].job.fn = registry_out_cb;
	}
	for (i = 0; i < n; i++)
		registry_post(i, &f->parts[i].job);
	return 0;
}
