/*
 * record_fmt: see include/record_fmt.h.
 */
#include <stdio.h>

#include "record_fmt.h"

size_t
record_fmt_escape(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	char	*o = out;
	size_t	 i;

	for (i = 0; i < n; i++) {
		switch (p[i]) {
		case '\\':
			*o++ = '\\';
			*o++ = '\\';
			break;
		case '\'':
			*o++ = '\\';
			*o++ = '\'';
			break;
		case '\t':
			*o++ = '\\';
			*o++ = 't';
			break;
		case '\n':
			*o++ = '\\';
			*o++ = 'n';
			break;
		case '\r':
			*o++ = '\\';
			*o++ = 'r';
			break;
		default:
			if (p[i] >= 0x20 && p[i] < 0x7f) {
				*o++ = (char)p[i];
				break;
			}
			*o++ = '\\';
			*o++ = 'x';
			*o++ = hex[p[i] >> 4];
			*o++ = hex[p[i] & 15];
			break;
		}
	}
	return (size_t)(o - out);
}

size_t
record_fmt_escaped_len(const uint8_t *p, size_t n)
{
	size_t	len = 0, i;

	for (i = 0; i < n; i++)
		len += p[i] == '\\' || p[i] == '\'' || p[i] == '\t' ||
		    p[i] == '\n' || p[i] == '\r' ? 2 : p[i] >= 0x20 &&
		    p[i] < 0x7f ? 1 : 4;
	return len;
}

size_t
record_fmt_open(char *out, int to_client, uint64_t ms)
{
	char	c = to_client ? '{' : '}';
	int	n;

	n = snprintf(out, 32, "'%c%llu%c", c, (unsigned long long)ms, c);
	return n > 0 ? (size_t)n : 0;
}
