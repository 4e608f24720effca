/*
 * auth_json: the strict JSON reader under auth.c's JWT checks (RFC 8259,
 * sized for JWTs). Pure, no allocation: strings are decoded in place.
 *
 * Why not jansson (which the rest of the tree uses for JSON): auth.h
 * promises things of a JWT's claims that jansson cannot tell or keep.
 *   - "exp", "nbf", "iat" with an exponent are refused (1.8e9): jansson
 *     gives 1.8e9 and 1800000000.0 as the same real, and its text is gone.
 *   - Fractions count as the next second and at most 15 integer digits
 *     are taken; a number we do not use may be any size (jansson fails
 *     the whole document on an integer past 2^63 or a real past 1e308).
 *   - "\u0000" inside a value is a byte compared by length (an "aud" of
 *     "wsgate\u0000" is another audience, AUTH_ERR_AUDIENCE), and a name
 *     with it is another name: jansson refuses NUL in names outright.
 *   - Depth and names per object are bounded before anything is built
 *     (16 and 64); jansson's depth limit is fixed at build time (2048)
 *     and it builds the tree first, allocating on every handshake.
 * What jansson would give us, we have: duplicate names refused after
 * unescaping ("\u0065xp" is a second "exp"), exact types, UTF-8 (checked
 * with ws_utf8, the frame layer's validator), surrogate pairs, no
 * trailing bytes. tests/unit/test_auth.c's test_json_strict and
 * tests/fuzz/fuzz_jwt.c hold it to that.
 */
#ifndef AUTH_JSON_H
#define AUTH_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_JSON_MAX_DEPTH	16
#define AUTH_JSON_MAX_MEMBERS	64
#define AUTH_NUMDATE_DIGITS	15	/* |NumericDate| < 10^15 s */

struct auth_json {
	char		*p;	/* next byte */
	char		*end;
	unsigned	 depth;	/* open objects and arrays */
};

/* Reads one member's value at j->p; returns 0, or -1 to refuse. */
typedef int auth_json_member_cb(void *arg, struct auth_json *j,
    const char *key, size_t klen);
/* Reads one array element at j->p; returns 0, or -1 to refuse. */
typedef int auth_json_elem_cb(void *arg, struct auth_json *j);

/*
 * The document doc[0..len) must be one object (whitespace around it
 * allowed); cb reads each member's value. It is decoded in place: doc is
 * changed. Returns 0, or -1 for anything not strict JSON or refused by cb.
 */
int	auth_json_parse(char *doc, size_t len, auth_json_member_cb *cb,
	    void *arg);

/* Is the next byte c? */
bool	auth_json_at(const struct auth_json *j, char c);

/*
 * The string at j->p, decoded in place: *s and *len are the decoded bytes
 * (may hold NUL from \u0000; compare with lengths). 0 or -1.
 */
int	auth_json_string(struct auth_json *j, const char **s, size_t *len);

/* An array at j->p ('['); cb reads each element, NULL skips them. */
int	auth_json_array(struct auth_json *j, auth_json_elem_cb *cb, void *arg);

/* Any value at j->p, read for syntax and dropped. 0 or -1. */
int	auth_json_skip(struct auth_json *j);

/* A NumericDate value (RFC 7519 §2) into *v, or -1 if it is anything
 * else: a number without exponent, |v| < 10^15, fractions rounded up. */
int	auth_json_numdate(struct auth_json *j, int64_t *v);

#endif
