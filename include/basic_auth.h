/*
 * basic_auth: "auth = basic" in the handshake (RFC 7617): basic_auth =
 * USER:PASSWORD (websockify's BasicHTTPAuth) is compared at once, in
 * constant time; htpasswd_file hashes are checked on the pwcheck pool
 * while the handshake waits (lookup.c).
 */
#ifndef BASIC_AUTH_H
#define BASIC_AUTH_H

struct config_route;
struct confgen_route;
struct session;
struct upgrade_req;

/*
 * Check req's Authorization for route r. Returns 1 (let in: s->basic_ok
 * is set), 0 (a check is under way; the handshake resumes through
 * handshake_resume, or the client gets its 401 / 503), or -1 after a 401
 * (with WWW-Authenticate: Basic) or 503: the caller returns at once.
 */
int	basic_auth_check(struct session *s, const struct upgrade_req *req,
	    const struct config_route *r, const struct confgen_route *gr);

#endif
