/*
 * addr: see include/addr.h.
 *
 * The text forms are inet_pton's (RFC 4291 §2.2 for IPv6, the dotted
 * quad for IPv4: no octal, no short forms), so what we accept here is
 * what the kernel-side helpers and OpenSSL accept too.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

static bool
addr_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

bool
addr_name_ok(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || n > ADDR_HOST_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!addr_alnum(s[i]) && s[i] != '-' && s[i] != '.' &&
		    s[i] != '_')
			return false;
	return true;
}

int
addr_port_parse(const char *s, size_t n, uint16_t *port)
{
	uint32_t	v = 0;
	size_t		i;

	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > 65535)
			return -1;
	}
	if (v == 0)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
addr_ip_parse(const char *s, size_t n, int family, struct addr_ip *ip)
{
	char	buf[ADDR_V6_TEXT_MAX + 1];
	uint8_t	b[16];

	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (family != AF_INET6 && inet_pton(AF_INET, buf, b) == 1)
		family = AF_INET;
	else if (family != AF_INET && inet_pton(AF_INET6, buf, b) == 1)
		family = AF_INET6;
	else
		return -1;
	memset(ip, 0, sizeof(*ip));
	ip->family = family;
	memcpy(ip->b, b, family == AF_INET ? 4 : 16);
	return 0;
}

bool
addr_v6_zone_ok(const char *s, size_t n, bool *zoned)
{
	struct addr_ip	 ip;
	const char	*pct = memchr(s, '%', n);
	size_t		 i, alen = pct != NULL ? (size_t)(pct - s) : n;

	*zoned = pct != NULL;
	if (addr_ip_parse(s, alen, AF_INET6, &ip) == -1)
		return false;
	if (pct == NULL)
		return true;
	/* A zone is an interface name or number (RFC 4007 §11.2): one
	 * that does not fit IFNAMSIZ names nothing. */
	if (alen + 1 == n || n - alen - 1 > ADDR_ZONE_MAX)
		return false;
	for (i = alen + 1; i < n; i++)
		if (!addr_alnum(s[i]) && s[i] != '-' && s[i] != '_' &&
		    s[i] != '.')
			return false;
	return true;
}

/* The host part h[0..hlen) of a "HOST:PORT": check it and fill hp. */
static enum addr_err
addr_host_check(const char *h, size_t hlen, bool bracketed, unsigned flags,
    struct addr_hostport *hp)
{
	bool	zoned = false;

	hp->host = h;
	hp->hostlen = hlen;
	hp->bracketed = bracketed;
	if (bracketed || memchr(h, ':', hlen) != NULL) {
		if (!bracketed && !(flags & ADDR_HP_BARE_V6))
			return ADDR_E_V6_BARE;
		if ((flags & ADDR_HP_ZONE) ? !addr_v6_zone_ok(h, hlen, &zoned) :
		    addr_ip_parse(h, hlen, AF_INET6, &hp->ip) == -1)
			return bracketed ? ADDR_E_V6 : ADDR_E_HOST;
		if (!zoned && addr_ip_parse(h, hlen, AF_INET6, &hp->ip) == 0)
			hp->literal = true;
		return ADDR_OK;
	}
	if (!addr_name_ok(h, hlen))
		return ADDR_E_HOST;
	hp->literal = addr_ip_parse(h, hlen, AF_INET, &hp->ip) == 0;
	return ADDR_OK;
}

enum addr_err
addr_hostport_parse(const char *s, size_t n, unsigned flags,
    struct addr_hostport *hp)
{
	const char	*close, *colon;
	enum addr_err	 e;

	memset(hp, 0, sizeof(*hp));
	if (n > 0 && s[0] == '[') {
		if ((close = memchr(s, ']', n)) == NULL)
			return ADDR_E_BRACKET;
		colon = close + 1;
		if (colon == s + n || *colon != ':')
			return ADDR_E_NOPORT;
		if ((e = addr_host_check(s + 1, (size_t)(close - s - 1), true,
		    flags, hp)) != ADDR_OK)
			return e;
	} else if ((colon = memrchr(s, ':', n)) == NULL) {
		if (!(flags & ADDR_HP_HOST_OPTIONAL))
			return ADDR_E_NOPORT;
		colon = s - 1;		/* "PORT": every interface */
	} else if ((flags & ADDR_HP_HOST_OPTIONAL) && colon == s + 1 &&
	    s[0] == '*') {
		;			/* "*:PORT": every interface */
	} else if ((e = addr_host_check(s, (size_t)(colon - s), false, flags,
	    hp)) != ADDR_OK)
		return e;
	if (colon + 1 == s + n)
		return ADDR_E_PORT_EMPTY;
	if (addr_port_parse(colon + 1, (size_t)(s + n - colon - 1),
	    &hp->port) == -1)
		return ADDR_E_PORT;
	return ADDR_OK;
}

bool
addr_split(const char *s, size_t n, const char **host, size_t *hostlen,
    const char **port, size_t *portlen)
{
	const char	*colon = memrchr(s, ':', n);

	*host = s;
	*hostlen = 0;
	*port = s;
	*portlen = n;
	if (colon == NULL)
		return false;
	*hostlen = (size_t)(colon - s);
	*port = colon + 1;
	*portlen = (size_t)(s + n - *port);
	if (*hostlen >= 2 && s[0] == '[' && s[*hostlen - 1] == ']') {
		(*host)++;
		*hostlen -= 2;
	}
	return true;
}

void
addr_authority_split(const char *s, size_t n, const char **host,
    size_t *hostlen, const char **port, size_t *portlen)
{
	const char	*end;

	*host = s;
	*port = s + n;
	*portlen = 0;
	if (n > 0 && s[0] == '[')
		end = (end = memchr(s, ']', n)) != NULL ? end + 1 : s + n;
	else if ((end = memchr(s, ':', n)) == NULL)
		end = s + n;
	*hostlen = (size_t)(end - s);
	if (end < s + n && *end == ':') {
		*port = end + 1;
		*portlen = (size_t)(s + n - *port);
	}
}

int
addr_cidr_parse(const char *s, size_t n, int family, struct addr_cidr *c)
{
	const char	*slash = memchr(s, '/', n);
	size_t		 alen = slash != NULL ? (size_t)(slash - s) : n, i;
	unsigned	 bits = 0, max;

	if (addr_ip_parse(s, alen, family, &c->net) == -1)
		return -1;
	max = c->net.family == AF_INET ? 32 : 128;
	c->bits = max;
	if (slash == NULL)
		return 0;
	/* "/" then 1..3 digits: "/", "/+8", "/ 8", "/0008" are refused. */
	if (n - alen < 2 || n - alen > 4)
		return -1;
	for (i = alen + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		bits = bits * 10 + (unsigned)(s[i] - '0');
	}
	if (bits > max)
		return -1;
	c->bits = bits;
	return 0;
}

bool
addr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned	full = bits / 8, rest = bits % 8;
	uint8_t		m;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	m = (uint8_t)(0xff << (8 - rest));
	return ((a[full] ^ b[full]) & m) == 0;
}

bool
addr_cidr_match(const struct addr_cidr *c, const struct addr_ip *ip)
{
	return c->net.family == ip->family &&
	    addr_prefix_eq(c->net.b, ip->b, c->bits);
}

int
addr_ip_from_sockaddr(const struct sockaddr *sa, struct addr_ip *ip)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };
	const uint8_t	*a;

	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET) {
		ip->family = AF_INET;
		memcpy(ip->b, &((const struct sockaddr_in *)(const void *)sa)->
		    sin_addr, 4);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	a = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr.s6_addr;
	if (memcmp(a, v4mapped, 12) == 0) {
		ip->family = AF_INET;
		memcpy(ip->b, a + 12, 4);
	} else {
		ip->family = AF_INET6;
		memcpy(ip->b, a, 16);
	}
	return 0;
}

socklen_t
addr_ip_to_sockaddr(const struct addr_ip *ip, uint16_t port,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)(void *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip->family == AF_INET) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, ip->b, 4);
		return sizeof(*sin);
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	memcpy(&sin6->sin6_addr, ip->b, 16);
	return sizeof(*sin6);
}

bool
addr_ip_loopback(const struct addr_ip *ip)
{
	static const uint8_t one[16] = { [15] = 1 };

	if (ip->family == AF_INET)
		return ip->b[0] == 127;
	return memcmp(ip->b, one, 16) == 0;
}

bool
addr_unix_path_fits(size_t n)
{
	return n > 0 && n < sizeof(((struct sockaddr_un *)0)->sun_path);
}
