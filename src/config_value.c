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

int
config_parse_duration(const char *s, uint64_t *ms)
{
	const char	*p;
	uint64_t	 n, mul;

	if (config_parse_uint(s, &p, &n) == -1)
		return -1;
	if (*p == '\0' || strcmp(p, "s") == 0)
		mul = 1000;
	else if (strcmp(p, "ms") == 0)
		mul = 1;
	else if (strcmp(p, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mul = 60 * 60 * 1000;
	else
		return -1;
	if (n > UINT64_MAX / mul)
		return -1;
	*ms = n * mul;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *bytes)
{
	const char	*p;
	uint64_t	 n, mul;

	if (config_parse_uint(s, &p, &n) == -1)
		return -1;
	if (*p == '\0')
		mul = 1;
	else if (p[1] != '\0')
		return -1;
	else if (*p == 'K' || *p == 'k')
		mul = 1024;
	else if (*p == 'M' || *p == 'm')
		mul = 1024 * 1024;
	else if (*p == 'G' || *p == 'g')
		mul = 1024 * 1024 * 1024;
	else
		return -1;
	if (n > UINT64_MAX / mul)
		return -1;
	*bytes = n * mul;
	return 0;
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
