/*
 * target: the backend targets token sources hand back (a Redis value, an
 * HTTP token API's body, a file of a token directory, JWT claims), parsed
 * into a struct token_target, and the "allow_targets" rules a route may
 * set so that no token source turns wsgate into an open proxy.
 *
 * Pure: no I/O, no libevent, no globals; jansson reads the JSON forms.
 * Nothing here puts a token in an error string.
 */
#ifndef TARGET_H
#define TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "token_file.h"

#define TARGET_MAX_VALUE	4096	/* longer values are refused */

/*
 * Parse a target value s[0..len) (need not be NUL-terminated; blanks and
 * line ends around it are ignored). Accepted, as websockify's TokenRedis,
 * BaseTokenAPI and JSONTokenApi plugins return them:
 *   host:port  [v6]:port  v6:port  unix_socket:/path  unix:/path
 *   {"host": "host:port"}                     (TokenRedis JSON)
 *   {"host": "host", "port": 5900 | "5900"}   (JSONTokenApi, JWT claims)
 *   {"unix_socket": "/path"}                  (JWT claims)
 * JSON must be one object with unique names; other members are ignored.
 * Returns 0 with t filled (t->host or t->path allocated: the caller frees
 * them), or -1 with a static reason in *why and nothing allocated.
 */
int	target_parse_value(const char *s, size_t len, struct token_target *t,
	    const char **why);

/*
 * Check one allow_targets rule (NUL-terminated):
 *   HOST:PORTS    HOST is *, a name (matched without case), an IPv4
 *                 address or network a.b.c.d/N, or [v6] / [v6/N];
 *                 PORTS is *, N or N-M
 *   unix:/path    exactly that socket
 *   unix:/dir/\*  any socket directly in /dir
 * Returns 0, or -1 with a static reason in *why.
 */
int	target_rule_check(const char *rule, const char **why);

struct target_rules;

/*
 * Parse allow_targets rules text[0..n) once, at load: *out holds them
 * (NULL when n == 0: every target allowed), pointing into text, which
 * must outlive it (the config does). Returns 0, or -1 (a rule that fails
 * target_rule_check, or out of memory; *out NULL). Free with
 * target_rules_free (NULL is fine).
 */
int	target_rules_new(char *const *text, size_t n,
	    struct target_rules **out);
void	target_rules_free(struct target_rules *rs);

/*
 * May t be connected to under rs (NULL: every target)? A name target
 * matches name rules only (it is never resolved here), an address target
 * address and network rules; a socket path with "." or ".." components
 * or "//" matches nothing.
 */
bool	target_allowed(const struct token_target *t,
	    const struct target_rules *rs);

/* Free what target_parse_value allocated in t; t is zeroed. */
void	target_clear(struct token_target *t);

#endif
