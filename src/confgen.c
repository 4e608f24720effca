/*
 * confgen: see include/confgen.h.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "config.h"
#include "confgen.h"
#include "log.h"
#include "metrics.h"
#include "target.h"
#include "tls.h"
#include "token_api.h"
#include "token_file.h"

struct gw_gen *
confgen_new(struct config *cfg, unsigned nworkers)
{
	struct gw_gen *g;

	if ((g = calloc(1, sizeof(*g))) == NULL ||
	    (g->mroutes = calloc((size_t)nworkers * cfg->nroutes + 1,
	    sizeof(*g->mroutes))) == NULL ||
	    (g->routes = calloc(cfg->nroutes + 1, sizeof(*g->routes))) ==
	    NULL) {
		if (g != NULL)
			free(g->mroutes);
		free(g);
		config_free(cfg);
		return NULL;
	}
	g->cfg = cfg;
	g->nworkers = nworkers;
	atomic_init(&g->refs, 1);
	return g;
}

void
confgen_ref(struct gw_gen *g)
{
	atomic_fetch_add(&g->refs, 1);
}

void
confgen_unref(struct gw_gen *g)
{
	size_t i;

	if (g == NULL || atomic_fetch_sub(&g->refs, 1) != 1)
		return;
	for (i = 0; i < g->cfg->nroutes; i++) {
		auth_key_free(g->routes[i].key);
		token_file_free(g->routes[i].tokens);
		auth_key_free(g->routes[i].target_key);
		target_rules_free(g->routes[i].allow_targets);
		auth_htpasswd_free(g->routes[i].htpasswd);
		SSL_CTX_free(g->routes[i].backend_tls);
	}
	free(g->routes);
	config_free(g->cfg);
	SSL_CTX_free(g->tls_ctx);
	SSL_CTX_free(g->token_api_tls);
	X509_STORE_free(g->system_ca);	/* each context holds its own ref */
	free(g->mroutes);
	free(g);
}

int
confgen_load_tls(struct gw_gen *g, char *err, size_t errlen)
{
	size_t i;

	for (i = 0; i < g->cfg->nlistens; i++)
		if (g->cfg->listens[i].tls)
			break;
	if (i == g->cfg->nlistens)
		return 0;
	g->tls_ctx = tls_server_ctx_new(g->cfg, &g->system_ca, err, errlen);
	return g->tls_ctx != NULL ? 0 : -1;
}

/* Append "file:line: what: why" to err. */
static void
confgen_err(char *err, size_t errlen, const struct config *cfg,
    const struct config_route *r, const char *why)
{
	size_t used = strlen(err);

	snprintf(err + used, errlen - used, "%s%s:%d: [route %s%s]: %s",
	    used > 0 ? "\n" : "", cfg->file != NULL ? cfg->file :
	    "command line", r->line, r->path, r->prefix ? "/*" : "", why);
}

static bool
confgen_route_has_tls(const struct config_route *r)
{
	size_t i;

	for (i = 0; i < r->nbackends; i++)
		if (r->backends[i].tls)
			return true;
	return false;
}

int
confgen_load_routes(struct gw_gen *g, char *err, size_t errlen)
{
	const struct config_route *r;
	struct confgen_route *gr;
	char why[512];
	size_t i;
	int rc = 0;

	err[0] = '\0';
	for (i = 0; i < g->cfg->nroutes; i++) {
		r = &g->cfg->routes[i];
		gr = &g->routes[i];
		why[0] = '\0';
		if (r->auth == CONFIG_AUTH_BASIC && r->htpasswd_file != NULL)
			auth_htpasswd_load(r->htpasswd_file, &gr->htpasswd, why,
			    sizeof(why));
		else if (r->auth == CONFIG_AUTH_TOKEN &&
		    r->token_secret_file != NULL)
			auth_key_load_secret(r->token_secret_file, &gr->key,
			    why, sizeof(why));
		else if (r->auth == CONFIG_AUTH_TOKEN)
			auth_key_load_public(r->token_public_key_file,
			    &gr->key, why, sizeof(why));
		if (why[0] == '\0' && r->token_jwt_key_file != NULL)
			auth_key_load_any(r->token_jwt_key_file, &gr->target_key,
			    why, sizeof(why));
		if (why[0] == '\0' && r->token_file != NULL)
			token_file_load(r->token_file, &gr->tokens, why,
			    sizeof(why));
		if (why[0] == '\0' && target_rules_new(r->allow_targets,
		    r->nallow_targets, &gr->allow_targets) == -1)
			snprintf(why, sizeof(why), "allow_targets: out of "
			    "memory");
		if (why[0] == '\0' && r->token_api != NULL &&
		    token_api_prepare(r->token_api, &g->token_api_tls,
		    &g->system_ca) == -1)
			snprintf(why, sizeof(why), "token_api: out of memory");
		if (why[0] == '\0' && confgen_route_has_tls(r))
			gr->backend_tls = tls_backend_ctx_new(r,
			    &g->system_ca, why, sizeof(why));
		if (why[0] == '\0' && confgen_route_has_tls(r) &&
		    !r->backend_verify)
			log_warnx("[route %s%s]: backend_verify = off: the TLS "
			    "backend's certificate is not checked (anyone on "
			    "the path can pose as it)", r->path,
			    r->prefix ? "/*" : "");
		if (why[0] != '\0') {
			confgen_err(err, errlen, g->cfg, r, why);
			rc = -1;
		}
	}
	return rc;
}

struct metrics_route *
confgen_route_metrics(struct gw_gen *g, unsigned w, size_t ri)
{
	return &g->mroutes[(size_t)w * g->cfg->nroutes + ri];
}
