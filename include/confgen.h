/*
 * confgen: one configuration generation (struct gw_gen). SIGHUP builds a
 * new one beside the old; every worker then starts new sessions on the
 * new one, while each live session keeps a reference to the generation it
 * began in, so its route, backends and counters stay valid until it ends.
 */
#ifndef CONFGEN_H
#define CONFGEN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct config;
struct metrics_route;
struct auth_key;
struct token_map;
struct auth_htpasswd;
struct target_rules;

/* What a route's access control needs, loaded from its files. */
struct confgen_route {
	struct auth_key		*key;		/* auth = token */
	struct token_map	*tokens;	/* token_file */
	SSL_CTX			*backend_tls;	/* tls: backends */
	struct auth_key		*target_key;	/* token_jwt_key_file */
	struct target_rules	*allow_targets;	/* parsed; NULL: any */
	struct auth_htpasswd	*htpasswd;	/* auth = basic */
};

struct gw_gen {
	struct config		*cfg;		/* owned */
	SSL_CTX			*tls_ctx;	/* owned; NULL: no tls listener */
	SSL_CTX			*token_api_tls;	/* owned; NULL: no https
						   token_api (token_api.c) */
	/* The system CA store, read once for all of this generation's
	 * contexts that verify against it (tls_system_store); NULL until
	 * one does. A reload reads it anew. */
	X509_STORE		*system_ca;
	unsigned		 nworkers;
	/* [nworkers][cfg->nroutes]: each worker writes its own row only */
	struct metrics_route	*mroutes;
	struct confgen_route	*routes;	/* [cfg->nroutes] */
	_Atomic unsigned	 refs;
};

/*
 * Wrap cfg (owned by the generation from here on, even on failure) with
 * one reference held by the caller. NULL when out of memory.
 */
struct gw_gen	*confgen_new(struct config *cfg, unsigned nworkers);
/*
 * The server TLS context, if a listener wants TLS (tls_server_ctx_new,
 * with the generation's system store: the first of this and
 * confgen_load_routes to need it reads it). 0, or -1 with the reason in err.
 */
int		 confgen_load_tls(struct gw_gen *g, char *err, size_t errlen);
/*
 * Read every route's key and token files (refusing key files others may
 * read). Returns 0, or -1 with "file:line: message" lines in err.
 */
int		 confgen_load_routes(struct gw_gen *g, char *err, size_t errlen);
void		 confgen_ref(struct gw_gen *g);
/* Drop a reference; the last one frees the generation. NULL is fine. */
void		 confgen_unref(struct gw_gen *g);

/* Worker w's counters for route index ri of g. */
struct metrics_route *confgen_route_metrics(struct gw_gen *g, unsigned w,
		    size_t ri);

#endif
