/*
 * pct: see include/pct.h.
 */
#include "pct.h"

static int
pct_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
pct_byte(const char *p, size_t n)
{
	int	hi, lo;

	if (n < 3 || p[0] != '%' || (hi = pct_hex(p[1])) < 0 ||
	    (lo = pct_hex(p[2])) < 0)
		return -1;
	return hi << 4 | lo;
}

long
pct_decode(const char *p, size_t n, unsigned flags, char *out, size_t cap)
{
	size_t	i, o = 0;
	int	c;

	for (i = 0; i < n; i++) {
		if (o + 1 >= cap)
			return -1;
		if (p[i] == '%') {
			if ((c = pct_byte(p + i, n - i)) <= 0)
				return -1;
			i += 2;
		} else if (p[i] == '+' && (flags & PCT_PLUS_SPACE))
			c = ' ';
		else
			c = (unsigned char)p[i];
		out[o++] = (char)c;
	}
	if (o >= cap)
		return -1;
	out[o] = '\0';
	return (long)o;
}
