/*
 * exec_env: the environment of a process backend (backend = exec:...),
 * with websocketd's variables and meanings (CGI/1.1, RFC 3875 §4.1, plus
 * REMOTE_PORT, REQUEST_URI and UNIQUE_ID), the request headers as HTTP_*,
 * and only what the route passes through of wsgate's own environment.
 *
 * Pure: no I/O, no globals (wsgate's environment comes in as an argument).
 * The result is one allocation, an envp array for execve().
 */
#ifndef EXEC_ENV_H
#define EXEC_ENV_H

#include <stdbool.h>
#include <stddef.h>

/* What the session knows of the request; strings NUL-terminated. */
struct exec_env_req {
	const char	*remote_addr;	/* client address, no brackets */
	const char	*remote_port;
	const char	*target;	/* request-target as sent (path?query) */
	size_t		 target_len;
	const char	*script_name;	/* the route's path ("" for "/\*") */
	bool		 https;		/* came in over TLS */
	const char	*unique_id;	/* the session id, as logged */
	const char	*software;	/* SERVER_SOFTWARE, "wsgate/0.1.0" */
	/* The request head (request line, header lines, blank line) as
	 * upgrade_parse() accepted it; headers are read from it. */
	const char	*head;
	size_t		 head_len;
};

/*
 * Build the environment for one process. spec[0..nspec) are the route's
 * exec_env entries: "NAME" passes NAME through from parent (wsgate's own
 * environment, NULL-terminated "NAME=VALUE" strings, e.g. environ) when
 * set there, "NAME=VALUE" sets it. Variables, in order: SERVER_SOFTWARE,
 * GATEWAY_INTERFACE (CGI/1.1), SERVER_PROTOCOL (HTTP/1.1),
 * REQUEST_METHOD (GET), SERVER_NAME and SERVER_PORT (from Host; the port
 * defaults to 80, or 443 with https), REMOTE_ADDR, REMOTE_HOST (the
 * address: no reverse lookups), REMOTE_PORT, REQUEST_URI (the target as
 * sent, with its query), SCRIPT_NAME, PATH_INFO (the path past
 * SCRIPT_NAME, %XX-decoded except %00), PATH_TRANSLATED (the decoded
 * path), QUERY_STRING (as sent, without '?'), UNIQUE_ID, HTTPS=on with
 * https, AUTH_TYPE, CONTENT_LENGTH, CONTENT_TYPE, REMOTE_IDENT and
 * REMOTE_USER (empty, as websocketd clears them); then HTTP_<NAME> for
 * each request header (upper case, '-' as '_', repeats joined with ", ",
 * values trimmed), except headers whose names hold '_' or other bytes
 * than letters, digits and '-' (they could pose as another header) and
 * Proxy (HTTP_PROXY would steer the program's HTTP clients, "httpoxy");
 * then the exec_env entries whose names are not already set; last,
 * PATH=/usr/local/bin:/usr/bin:/bin unless set by now.
 * Returns a NULL-terminated array in one allocation (the caller frees
 * it with free()), or NULL when out of memory.
 */
char	**exec_env_build(const struct exec_env_req *req,
	    const char *const *spec, size_t nspec, const char *const *parent);

/*
 * Split a backend value "exec:PROGRAM ARG..." into argv: words separated
 * by blanks, "double" or 'single' quoted words (no escapes inside single
 * quotes; \" and \\ inside double quotes); no shell, no expansion.
 * PROGRAM must be an absolute path. Returns a NULL-terminated array in
 * one allocation (free()), or NULL and a message in err.
 */
char	**exec_argv_parse(const char *s, char *err, size_t errlen);

/* Number of entries before the NULL of a vector from this module. */
size_t	exec_vec_len(char *const *v);

#endif
