/*
 * token_source: a route whose backend a token picks (websockify's token
 * plugins): token_file, token_dir, token_socket_dir, token_jwt_key_file
 * answer at once; token_redis and token_api wait for an answer through
 * lookup.c. Every target is checked against the route's allow_targets.
 */
#ifndef TOKEN_SOURCE_H
#define TOKEN_SOURCE_H

struct config_route;
struct confgen_route;
struct session;
struct upgrade_req;

/*
 * Find s's target on route r (which has a token source) for request req.
 * Returns 1 with s->fixed set (go on with the upgrade); 0 when a lookup is
 * under way (s waits with its input paused; on the answer the handshake
 * resumes through handshake_resume, or the client gets its HTTP error);
 * -1 after an HTTP error answer (400, 403, 404, 500, 503): the caller
 * returns at once.
 */
int	token_source_resolve(struct session *s, const struct upgrade_req *req,
	    const struct config_route *r, const struct confgen_route *gr);

#endif
