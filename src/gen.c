/*
 * gen: see include/gen.h.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "config.h"
#include "gen.h"
#include "metrics.h"

struct gw_gen *
gen_new(struct config *cfg, SSL_CTX *ctx, unsigned nworkers)
{
	struct gw_gen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->mroutes = calloc((size_t)nworkers * cfg->nroutes + 1,
	    sizeof(*g->mroutes))) == NULL) {
		free(g);
		config_free(cfg);
		SSL_CTX_free(ctx);
		return NULL;
	}
	g->cfg = cfg;
	g->tls_ctx = ctx;
	g->nworkers = nworkers;
	atomic_init(&g->refs, 1);
	return g;
}

void
gen_ref(struct gw_gen *g)
{
	atomic_fetch_add(&g->refs, 1);
}

void
gen_unref(struct gw_gen *g)
{
	if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	config_free(g->cfg);
	SSL_CTX_free(g->tls_ctx);
	free(g->mroutes);
	free(g);
}

struct metrics_route *
gen_route_metrics(struct gw_gen *g, unsigned w, size_t ri)
{
	return &g->mroutes[(size_t)w * g->cfg->nroutes + ri];
}
