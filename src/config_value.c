/*
 * config_value: the syntax of gateway.conf values that are not addresses:
 * numbers, durations ("10s"), sizes ("16M"), and the words of lists
 * (origins, subprotocol tokens, names, networks). Pure: no allocation.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "config_int.h"

/* The blanks inih strips (isspace in the C locale), without the locale. */
int
config_isspace(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' ||
	    ch == '\f' || ch == '\r';
}

int
config_isdigit(int ch)
{
	return ch >= '0' && ch <= '9';
}

int
config_isalpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* RFC 7230 §3.2.6 tchar. */
int
config_istchar(int ch)
{
	return config_isalpha(ch) || config_isdigit(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* Digits only, at least one, no sign, no overflow. */
int
config_parse_uint(const char *s, const char **end, uint64_t *v)
{
	uint64_t	n = 0;
	const char	*p;

	for (p = s; config_isdigit(*p); p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	*end = p;
	*v = n;
	return 0;
}

/* A unit suffix and what it multiplies by; NULL suffix ends a table. */
struct config_unit {
	const char	*suffix;
	uint64_t	 mul;
};

/* Durations in ms; a bare number is seconds (as nginx reads them). */
static const struct config_unit config_duration_units[] = {
	{ "", 1000 }, { "s", 1000 }, { "ms", 1 }, { "m", 60 * 1000 },
	{ "h", 60 * 60 * 1000 }, { NULL, 0 },
};

/* Sizes in bytes, powers of 1024, either case. */
static const struct config_unit config_size_units[] = {
	{ "", 1 }, { "K", 1024 }, { "k", 1024 }, { "M", 1024 * 1024 },
	{ "m", 1024 * 1024 }, { "G", 1024 * 1024 * 1024 },
	{ "g", 1024 * 1024 * 1024 }, { NULL, 0 },
};

/* Digits, then exactly one suffix of units; the product must fit. */
static int
config_parse_scaled(const char *s, const struct config_unit *u,
    uint64_t *out)
{
	const char	*p;
	uint64_t	 n;

	if (config_parse_uint(s, &p, &n) == -1)
		return -1;
	while (u->suffix != NULL && strcmp(p, u->suffix) != 0)
		u++;
	if (u->suffix == NULL || n > UINT64_MAX / u->mul)
		return -1;
	*out = n * u->mul;
	return 0;
}

int
config_parse_duration(const char *s, uint64_t *ms)
{
	return config_parse_scaled(s, config_duration_units, ms);
}

int
config_parse_size(const char *s, uint64_t *bytes)
{
	return config_parse_scaled(s, config_size_units, bytes);
}

/* "*", "null" or scheme://host[:port] without a path (RFC 6454 §6.2). */
int
config_origin_ok(const char *o, size_t n)
{
	size_t	i;

	if ((n == 1 && o[0] == '*') || (n == 4 && memcmp(o, "null", 4) == 0))
		return 1;
	if (n == 0 || !config_isalpha(o[0]))
		return 0;
	for (i = 1; i < n && (config_isalpha(o[i]) || config_isdigit(o[i]) ||
	    o[i] == '+' || o[i] == '-' || o[i] == '.'); i++)
		;
	if (n - i < 4 || memcmp(o + i, "://", 3) != 0)
		return 0;
	for (i += 3; i < n; i++)
		if ((unsigned char)o[i] <= 0x20 || (unsigned char)o[i] >= 0x7f ||
		    strchr("/?#", o[i]) != NULL)
			return 0;
	return 1;
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
int
config_envname_ok(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || config_isdigit(s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!config_isalpha(s[i]) && !config_isdigit(s[i]) &&
		    s[i] != '_')
			return 0;
	return 1;
}

int
config_token_ok(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!config_istchar((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/* Any non-empty name without '"' (blanks and commas separate names). */
int
config_name_ok(const char *s, size_t n)
{
	return n > 0 && memchr(s, '"', n) == NULL;
}

/*
 * The next word of a list at *p: blanks and commas separate words. Sets
 * *p to its start and *n to its length; false at the end of the list.
 */
bool
config_list_word(const char **p, size_t *n)
{
	const char	*s = *p;
	size_t		 i;

	while (*s == ',' || config_isspace(*s))
		s++;
	for (i = 0; s[i] != '\0' && s[i] != ',' && !config_isspace(s[i]); i++)
		;
	*p = s;
	*n = i;
	return i > 0;
}
