/*
 * redis: one asynchronous connection to the fleet's Redis per worker (or
 * more: one per role), on hiredis' async API attached to the worker's
 * event_base with hiredis' libevent adapter. Nothing here ever blocks:
 * connects are non-blocking, a host name is resolved once at start
 * (redis_opts_load), and every command's answer comes back as a callback
 * on the same loop.
 *
 * (The one exception: redis_command_blocking, at exit.)
 *
 * A connection keeps itself up: after a failed connect, a lost connection
 * or a command left unanswered for redis_timeout, it is dropped (every
 * pending command's callback gets NULL) and opened again after a backoff
 * of 100 ms doubling to 5 s. On each (re)connect it sends AUTH (when
 * redis_password_file is set), SELECT (when redis_db is not 0), CLIENT
 * SETNAME wsgate:INSTANCE:NAME (for CLIENT LIST; a refusal is ignored)
 * and PING, and counts as up once PING is answered (an error answer,
 * such as NOAUTH, drops it at once). While it is down, commands are
 * refused at once (redis_command returns -1), so callers answer their
 * clients at once too (503) instead of queueing behind a dead server.
 *
 * For later users (the fleet registry, fleet limits, operator orders):
 *   - Registry writes: redis_command(c, cb, arg, argc, argv, lens) with
 *     SET/EXPIRE/HSET...; cb(arg, reply) runs exactly once, reply NULL
 *     when there was no answer. A lease is renewed from a timer; use
 *     redis_conn_set_state_cb to rewrite what a restarted Redis lost.
 *   - Pub/sub: a subscribed connection can send nothing else, so give
 *     it a connection of its own (redis_conn_new) and redis_subscribe()
 *     on it: the subscription is sent again each time the connection
 *     comes up (a reconnect forgets subscriptions), and every message
 *     comes to the callback. Publish with redis_command(PUBLISH) on the
 *     other connection.
 *   - Each worker's connection is its own; a session's worker owns the
 *     connection it uses, so everything stays on one thread.
 */
#ifndef REDIS_H
#define REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct metrics;
struct redisReply;
struct redis_conn;

/* Where and how to connect; built once at start, shared read-only. */
struct redis_opts {
	char		*host;		/* TCP: an address literal */
	int		 port;
	char		*path;		/* Unix socket; NULL for TCP */
	char		*spec;		/* as configured, for logs */
	uint64_t	 db;
	char		*user;		/* AUTH user (ACL); NULL: none */
	char		*password;	/* NULL: no AUTH */
	uint64_t	 timeout_ms;
	char		*instance;	/* this gateway's name in the fleet */
};

/*
 * Fill o from cfg's [gateway] redis keys: resolve a host name (once,
 * here, blocking: call at start, before the workers run), read
 * redis_password_file (a regular file group and others have no access
 * to; "password" or "user password" on its first line), and take the
 * instance name (the host name by default). Returns 0, 1 when cfg sets no
 * redis (o zeroed), or -1 with a message in err. Free with
 * redis_opts_clear.
 */
int	redis_opts_load(const struct config *cfg, struct redis_opts *o,
	    char *err, size_t errlen);
void	redis_opts_clear(struct redis_opts *o);

/*
 * Called with each reply of a command, on the connection's loop; reply
 * NULL when the command got no answer (connection lost or dropped, or
 * freed). reply belongs to hiredis: valid only during the call.
 */
typedef void redis_reply_fn(void *arg, struct redisReply *reply);

/* Called when the connection comes up (up true) or goes down. */
typedef void redis_state_fn(void *arg, bool up);

/*
 * A connection on base with options o (o must outlive it), counting into
 * m (redis_workers, redis_up, redis_errors; m may be NULL). It starts
 * connecting at once. name tells it apart in logs ("worker 1"). Returns
 * NULL when out of memory.
 */
struct redis_conn *redis_conn_new(struct event_base *base,
	    const struct redis_opts *o, struct metrics *m, const char *name);

/* Be told when c comes up or goes down (fn NULL: no longer). */
void	redis_conn_set_state_cb(struct redis_conn *c, redis_state_fn *fn,
	    void *arg);

/*
 * Close c: every pending command's callback runs with NULL, then c is
 * freed. NULL is fine. Never from inside one of c's callbacks.
 */
void	redis_conn_free(struct redis_conn *c);

/* Is c connected, authenticated and answering? */
bool	redis_conn_up(const struct redis_conn *c);

/*
 * Send argv[0..argc) (lens[i] bytes each; binary-safe). Returns 0: cb will
 * run (later, never inside this call), once for a plain command; or -1
 * when c is down or out of memory: cb never runs.
 */
int	redis_command(struct redis_conn *c, redis_reply_fn *cb, void *arg,
	    int argc, const char **argv, const size_t *lens);

/*
 * Called with each message on a subscribed channel, on c's loop; channel
 * and msg belong to hiredis (valid during the call only).
 */
typedef void redis_message_fn(void *arg, const char *channel, size_t clen,
    const char *msg, size_t mlen);

/*
 * Subscribe c to channel (copied), now if c is up and again each time it
 * comes up; fn(arg, ...) gets every message. A connection with a
 * subscription takes no other commands (Redis refuses them): use one of
 * its own. Messages published while c was down are lost (pub/sub keeps
 * nothing; fleet orders are sent again until answered). Returns 0,
 * or -1 when out of memory.
 */
int	redis_subscribe(struct redis_conn *c, const char *channel,
	    redis_message_fn *fn, void *arg);

/*
 * At exit only, once no loop runs: one command on a connection of its
 * own that blocks, each step within o->timeout_ms (connect, AUTH,
 * SELECT, the command). Returns 0 when Redis answered, not with an
 * error; -1 (logged) otherwise.
 */
int	redis_command_blocking(const struct redis_opts *o, int argc,
	    const char **argv);

#endif
