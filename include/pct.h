/*
 * pct: percent-decoding (RFC 3986 §2.1), the one place it is done: the
 * token in a query string (auth.c), static file paths (static.c) and
 * the CGI-style variables of exec: backends (exec_env.c). Pure.
 */
#ifndef PCT_H
#define PCT_H

#include <stddef.h>

/*
 * The byte a "%XX" escape at p[0..n) stands for (p[0] is '%', X a hex
 * digit either case): 0..255, or -1 when p does not start with one.
 */
int	pct_byte(const char *p, size_t n);

#define PCT_PLUS_SPACE	0x1	/* '+' is ' ' (application/x-www-form-
				   urlencoded, HTML §4.10.21.7) */

/*
 * Decode p[0..n) into out[0..cap) and NUL-terminate it. A malformed
 * escape or one that decodes to NUL is refused (a NUL would cut the
 * value short). Returns the decoded length, or -1 (bad escape, %00, or
 * the result and its NUL do not fit cap).
 */
long	pct_decode(const char *p, size_t n, unsigned flags, char *out,
	    size_t cap);

#endif
