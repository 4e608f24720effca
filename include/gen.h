/*
 * gen: one configuration generation. SIGHUP builds a new one beside the
 * old; every worker then starts new sessions on the new one, while each
 * live session keeps a reference to the generation it began in, so its
 * route, backends and counters stay valid until it ends.
 */
#ifndef GEN_H
#define GEN_H

#include <openssl/ssl.h>

struct config;
struct metrics_route;

struct gw_gen {
	struct config		*cfg;		/* owned */
	SSL_CTX			*tls_ctx;	/* owned; NULL: no tls listener */
	unsigned		 nworkers;
	/* [nworkers][cfg->nroutes]: each worker writes its own row only */
	struct metrics_route	*mroutes;
	_Atomic unsigned	 refs;
};

/*
 * Wrap cfg and ctx (both owned by the generation from here on, even on
 * failure) with one reference held by the caller. NULL when out of memory.
 */
struct gw_gen	*gen_new(struct config *cfg, SSL_CTX *ctx, unsigned nworkers);
void		 gen_ref(struct gw_gen *g);
/* Drop a reference; the last one frees the generation. NULL is fine. */
void		 gen_unref(struct gw_gen *g);

/* Worker w's counters for route index ri of g. */
struct metrics_route *gen_route_metrics(struct gw_gen *g, unsigned w,
		    size_t ri);

#endif
