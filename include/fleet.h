/*
 * fleet: this gateway's part in a fleet of gateways that share one Redis
 * (src/redis.c's connections; nothing here opens a socket of its own).
 *
 * What Redis holds, under "wsgate:fleet:":
 *   instances             ZSET instance -> lease expiry (ms, wall clock),
 *                         renewed every FLEET_RENEW_MS by worker 0; a
 *                         gateway whose lease ran out is not in the fleet
 *   sessions:INSTANCE     HASH session id -> JSON entry, written by the
 *                         session's own worker when it opens and removed
 *                         when it ends; expires with the lease
 *   live                  ZSET incarnation -> lease expiry (limits_scope
 *                         = fleet; an incarnation is instance#tag#start)
 *   ip:ADDRESS            HASH incarnation -> its open connections from
 *                         ADDRESS; dead incarnations' counts are dropped
 *                         when the next handshake from ADDRESS looks
 *   rate:ADDRESS:SECOND   handshakes from ADDRESS in that second, fleet-wide
 * and, for orders, pub/sub channels: orders:INSTANCE (to one gateway),
 * orders (to all, from older gateways) and replies:INSTANCE (answers to
 * that gateway).
 *
 * Redis being down changes what new sessions and operator requests get,
 * never what live sessions do: registry writes are fire-and-forget and
 * a worker rewrites its sessions when its connection comes back.
 */
#ifndef FLEET_H
#define FLEET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct config;
struct gw_worker;
struct redis_opts;
struct session;

#define FLEET_LEASE_MS		10000	/* a dead gateway is gone within it */
#define FLEET_RENEW_MS		2000

enum fleet_status {
	FLEET_OK = 0,		/* every gateway the order reached answered */
	FLEET_NO_INSTANCE,	/* no live gateway of that name */
	FLEET_PARTIAL,		/* some did not answer in time */
	FLEET_GONE,		/* shutting down: free, answer nothing */
};

/*
 * Join the fleet: workers' redis connections exist (w->redis), their
 * threads have not started; o and cfg outlive the fleet. No-op when
 * there is no redis. Fatal on out of memory.
 */
void	fleet_start(struct gw_worker *workers, unsigned nworkers,
	    const struct redis_opts *o, const struct config *cfg);

/* In worker 0's thread, after the workers stopped: waits end FLEET_GONE. */
void	fleet_stop(void);

/* Is there a fleet (redis configured)? */
bool	fleet_on(void);

/* Can worker w talk to Redis now? */
bool	fleet_up(const struct gw_worker *w);

/* Session hooks, in s's worker: it is open (relaying) / it is ending. */
void	fleet_session_began(struct session *s);
void	fleet_session_ended(struct session *s);

/*
 * limits_scope = fleet, a handshake step in s's worker (after the local
 * checks passed): max_connections_per_ip and handshake_rate_per_ip
 * counted over every live gateway, in one Redis round trip. Returns 1 to
 * go on (no fleet limit, or Redis down: the local counts stand, logged
 * once), 0 when s now waits (it resumes through handshake_resume or is
 * refused 503/429), -1 never (kept for the step convention).
 */
int	fleet_limits_check(struct session *s);

/*
 * Worker 0: the sessions other live gateways hold, from Redis.
 * done(arg, st, sessions, instances) on worker 0: st FLEET_OK with two
 * new arrays (the callee owns them), or FLEET_GONE / FLEET_PARTIAL
 * (Redis failed) with NULLs. Returns 0, or -1 when Redis is down (done
 * never runs).
 */
typedef void fleet_list_fn(void *arg, enum fleet_status st, json_t *sessions,
    json_t *instances);
int	fleet_list_remote(fleet_list_fn *done, void *arg);

/*
 * Worker 0: operator orders. close: end session id on gateway instance
 * (not this one); revoke: end every session opened with token tok (len
 * bytes) on every gateway, this one included. The order goes to every
 * gateway that holds a current lease (close: to instance only), again
 * and again until each has answered, so a gateway whose Redis
 * connection is coming back gets it too (src/fleet_order.c).
 * done(arg, st, ended, missing) on worker 0: FLEET_OK when all
 * answered, FLEET_NO_INSTANCE when no such gateway holds a lease,
 * FLEET_PARTIAL at the deadline (2 x redis_timeout, at least 2 s) or
 * when Redis failed, FLEET_GONE at shutdown; ended adds up the answers;
 * missing (borrowed for the call; NULL when out of memory) is a JSON
 * array of the names of the gateways that were expected and did not
 * answer. Returns 0, or -1 when Redis is down or out of memory (done
 * never runs).
 */
typedef void fleet_order_fn(void *arg, enum fleet_status st, size_t ended,
    const json_t *missing);
int	fleet_order_close(const char *instance, uint64_t id,
	    fleet_order_fn *done, void *arg);
int	fleet_order_revoke(const char *tok, size_t len, fleet_order_fn *done,
	    void *arg);

#endif
