/*
 * registry: this process's live sessions as the operator sees them, and
 * orders to them (list, end by id, end by token).
 *
 * Sessions never leave their worker, so the registry owns no copy of
 * them: an order is posted to each worker's mailbox (an event the worker
 * runs in its own thread) and finds its sessions there by id or token id,
 * never through a pointer held across threads. The mailbox is general:
 * admin and fleet code post their own jobs through it too.
 *
 * A token never leaves the handshake: the session keeps only its token
 * id, HMAC-SHA256 under token_id_key_file's key (or a random key made at
 * start), cut to 16 bytes, shown as 32 hex digits.
 */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include <jansson.h>

struct config;
struct config_route;
struct gw_worker;
struct session;

#define REGISTRY_TOKEN_ID_LEN	16
#define REGISTRY_TOKEN_HEX_LEN	(2 * REGISTRY_TOKEN_ID_LEN)

/*
 * A job run in one worker's thread: fn(w, job). At shutdown, jobs never
 * run are called once with w NULL, so they can free what they carry.
 */
struct registry_job;
typedef void registry_job_fn(struct gw_worker *, struct registry_job *);
struct registry_job {
	TAILQ_ENTRY(registry_job) entry;
	registry_job_fn		*fn;
};

/*
 * Read the keys cfg names (token_id_key_file: 16..1024 bytes, mode 600)
 * or make a random one. For -t and start. Returns 0, or -1 with a
 * message in err.
 */
int	registry_load_keys(const struct config *cfg, char *err, size_t errlen);

/*
 * Set up a mailbox on each of nworkers workers (their event bases
 * exist; their threads have not started); instance is this gateway's
 * name (copied). Keys must be loaded. Fatal on out of memory, like other
 * boot allocations.
 */
void	registry_start(struct gw_worker *workers, unsigned nworkers,
	    const char *instance);

/* The instance name given to registry_start. */
const char *registry_instance(void);

/*
 * After every worker thread has stopped: call the jobs still queued with
 * w NULL, free the mailboxes.
 */
void	registry_stop(void);

/* Worker count given to registry_start (0 before). */
unsigned registry_nworkers(void);

/*
 * Queue job (its fn set) to run in worker index's thread, from any
 * thread. The job stays the caller's memory and must live until fn ran;
 * nothing is allocated, so this cannot fail.
 */
void	registry_post(unsigned index, struct registry_job *job);

/* The token id of a token (len bytes) into out. */
void	registry_token_id(const char *tok, size_t len,
	    uint8_t out[REGISTRY_TOKEN_ID_LEN]);

/* As registry_token_id, as 32 lower-case hex digits and a NUL. */
void	registry_token_hex(const char *tok, size_t len,
	    char out[REGISTRY_TOKEN_HEX_LEN + 1]);

/*
 * The handshake found tok (len bytes) to open s: remember its id (the
 * last one seen wins). The token itself is not kept.
 */
void	registry_token_seen(struct session *s, const char *tok, size_t len);

enum registry_op {
	REGISTRY_LIST = 0,	/* every worker's sessions */
	REGISTRY_CLOSE_ID,	/* end the session numbered id */
	REGISTRY_CLOSE_TOKEN,	/* end every session of token id tid */
};

/*
 * A fan-out is done: on worker 0 (w0), ended is how many sessions the
 * closes began to end, list (REGISTRY_LIST) every worker's entries, NULL
 * when out of memory; the callee owns it. w0 NULL: the process is going
 * away before every worker answered; free arg and do nothing else.
 */
typedef void registry_done_fn(struct gw_worker *w0, void *arg, size_t ended,
    json_t *list);

/*
 * From worker 0's thread: run op on every worker, each in its own
 * thread, then done(w0, arg, ...) on worker 0, never inside this call.
 * tid is needed for REGISTRY_CLOSE_TOKEN only. Returns 0, or -1 when out
 * of memory (done never runs).
 */
int	registry_fanout(enum registry_op op, uint64_t id,
	    const uint8_t *tid, registry_done_fn *done, void *arg);

/*
 * The route's path as written in the config ("/vnc", "/vnc/\*"), whole,
 * as a new string the caller frees; NULL when out of memory.
 */
char	*registry_route_label(const struct config_route *r);

/*
 * The JSON object the registry shows for s (past its upgrade), as in
 * registry_list; a new reference, NULL when out of memory.
 */
json_t	*registry_session_json(const struct session *s);

/*
 * In w's thread: the sessions past their upgrade as a new JSON array of
 * objects (instance, id, client, route, backend, started, bytes_up,
 * bytes_down, state, token_id); NULL when out of memory. The caller owns
 * the array.
 */
json_t	*registry_list(struct gw_worker *w);

/*
 * In w's thread: end with 1008 "closed by operator" the session numbered
 * id (by_token false) or every session whose token id is tid (by_token
 * true). Sessions already closing are left to finish. Returns how many
 * it began to close.
 */
size_t	registry_close(struct gw_worker *w, bool by_token, uint64_t id,
	    const uint8_t tid[REGISTRY_TOKEN_ID_LEN]);

#endif
