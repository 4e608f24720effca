/*
 * fleet-int: what src/fleet.c shares with src/fleet_order.c, the two
 * halves of the fleet module; nothing else includes this. Everything
 * here is worker 0's (set at fleet_start, read on worker 0's thread),
 * except fleet_w, which every worker reads and nobody writes after start.
 */
#ifndef FLEET_INT_H
#define FLEET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "redis.h"

struct gw_worker;

#define FLEET_PREFIX		"wsgate:fleet:"
#define FLEET_KEYLEN		400

extern struct gw_worker		*fleet_w;	/* the workers; NULL: no fleet */
extern const struct redis_opts	*fleet_o;
extern bool			 fleet_stopping;
/* This process in the fleet: instance#random tag#start time. */
extern char			 fleet_inc[300];

/* Wall clock, ms (leases are compared across machines). */
uint64_t	fleet_now_ms(void);

/* FLEET_PREFIX what name into buf (FLEET_KEYLEN bytes); name may be NULL. */
void	fleet_key(char *buf, const char *what, const char *name);

/*
 * redis_command with NUL-terminated argv (argc <= 8); cb NULL: the
 * answer is ignored. 0, or -1 when c is down (cb never runs).
 */
int	fleet_cmd(struct redis_conn *c, redis_reply_fn *cb, void *arg, int argc,
	    const char **argv);

/*
 * Ask c for the instances whose lease has not expired (the members of the
 * "instances" sorted set scored from now on): cb gets the array of names.
 * 0, or -1 when c is down (cb never runs).
 */
int	fleet_live_instances(struct redis_conn *c, redis_reply_fn *cb,
	    void *arg);

/* fleet_order.c: every message on worker 0's subscriptions. */
void	fleet_order_message(void *arg, const char *channel, size_t clen,
	    const char *payload, size_t plen);

/* fleet_order.c: shutting down; every order of ours ends FLEET_GONE. */
void	fleet_order_stop(void);

#endif
