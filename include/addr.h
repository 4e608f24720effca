/*
 * addr: the one parser of network addresses as text: host names, IPv4
 * and IPv6 literals, ports, "HOST:PORT" / "[V6]:PORT", unix socket paths
 * and networks "ADDR[/BITS]". Everything that reads an address from a
 * config file, a token file, a token answer or a header goes through
 * here, once, at load, and keeps the binary form (struct addr_ip,
 * struct addr_cidr, a sockaddr) for the hot paths.
 *
 * Pure: no allocation, no I/O, no globals. Inputs are (pointer, length)
 * slices and need not be NUL-terminated; outputs point into the input.
 */
#ifndef ADDR_H
#define ADDR_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ADDR_HOST_MAX	253	/* RFC 1035 §2.3.4: a name's text form */
#define ADDR_V6_TEXT_MAX 45	/* INET6_ADDRSTRLEN - 1 */
#define ADDR_ZONE_MAX	15	/* IFNAMSIZ - 1: "%eth0" */

/* An IP address in network byte order. */
struct addr_ip {
	int		 family;	/* AF_INET (4 bytes used) or AF_INET6 */
	uint8_t		 b[16];
};

/* A network: the address with only its first bits significant. */
struct addr_cidr {
	struct addr_ip	 net;
	unsigned	 bits;		/* 0..32 or 0..128 */
};

/* Why a "HOST:PORT" was refused; messages are the caller's. */
enum addr_err {
	ADDR_OK = 0,
	ADDR_E_BRACKET,		/* "[" without "]" */
	ADDR_E_NOPORT,		/* no ':' after the host, or after "]" */
	ADDR_E_PORT_EMPTY,	/* "host:" */
	ADDR_E_PORT,		/* not decimal 1..65535 */
	ADDR_E_V6_BARE,		/* an IPv6 host without brackets */
	ADDR_E_V6,		/* a bad IPv6 literal (in brackets) */
	ADDR_E_HOST,		/* a bad host name */
};

/* "HOST:PORT" flags. */
#define ADDR_HP_HOST_OPTIONAL	0x1	/* "PORT" and "*:PORT": no host */
#define ADDR_HP_ZONE		0x2	/* "[fe80::1%eth0]:PORT" */
#define ADDR_HP_BARE_V6		0x4	/* "::1:PORT" (websockify token
					   files): the last ':' splits */

/* A parsed "HOST:PORT": slices of the input. */
struct addr_hostport {
	const char	*host;		/* brackets stripped; NULL: none */
	size_t		 hostlen;
	uint16_t	 port;
	bool		 bracketed;	/* written "[...]" */
	bool		 literal;	/* host is an IP literal (no zone) */
	struct addr_ip	 ip;		/* literal: its address */
};

/*
 * Is s[0..n) a host name or IPv4 literal as we accept them: 1..253 of
 * letters, digits, '-', '.', '_'? (No check of label lengths: resolvers
 * do that; '_' is allowed as in SRV-style and container names.)
 */
bool	addr_name_ok(const char *s, size_t n);

/*
 * Decimal s[0..n) (digits only, leading zeros allowed) in 1..65535 into
 * *port. Returns 0, or -1 (*port untouched).
 */
int	addr_port_parse(const char *s, size_t n, uint16_t *port);

/*
 * An IP literal s[0..n): family AF_INET (dotted quad, as inet_pton),
 * AF_INET6 (RFC 4291 §2.2 text, no zone, no brackets) or 0 for either.
 * Returns 0 with *ip set, or -1.
 */
int	addr_ip_parse(const char *s, size_t n, int family, struct addr_ip *ip);

/*
 * An IPv6 literal with an optional "%zone" (1..15 letters, digits, '-',
 * '_', '.'): 1 if well formed, else 0. *zoned tells whether a zone was there.
 */
bool	addr_v6_zone_ok(const char *s, size_t n, bool *zoned);

/*
 * "HOST:PORT", "[V6]:PORT" (and what flags allow) in s[0..n) into *hp.
 * Returns ADDR_OK, or the first thing wrong from left to right.
 */
enum addr_err addr_hostport_parse(const char *s, size_t n, unsigned flags,
	    struct addr_hostport *hp);

/*
 * websockify's split of "HOST:PORT" in s[0..n), no checks: at the last
 * ':', with "[...]" around the host dropped. *host, *hostlen (0: none, as
 * in "PORT" or ":PORT") and *port, *portlen are slices of s. Returns
 * false when there is no ':' (then the port is all of s).
 */
bool	addr_split(const char *s, size_t n, const char **host,
	    size_t *hostlen, const char **port, size_t *portlen);

/*
 * A Host header value (RFC 9110 §7.2: uri-host [":" port]) split, no
 * checks: *host, *hostlen are the uri-host as written (an IP-literal
 * keeps its brackets; a '[' without ']' makes all of s the host), *port,
 * *portlen what follows its ':' (portlen 0: none). Slices of s.
 */
void	addr_authority_split(const char *s, size_t n, const char **host,
	    size_t *hostlen, const char **port, size_t *portlen);

/*
 * "ADDR" or "ADDR/BITS" in s[0..n), IPv4 or IPv6 (family 0) or only the
 * given one; BITS is 1..3 decimal digits no larger than the address.
 * The host bits of ADDR are kept as written (matching ignores them).
 * Returns 0 with *c set, or -1.
 */
int	addr_cidr_parse(const char *s, size_t n, int family,
	    struct addr_cidr *c);

/* Is ip inside c? Families must agree (see addr_ip_from_sockaddr). */
bool	addr_cidr_match(const struct addr_cidr *c, const struct addr_ip *ip);

/* Are the first bits of a and b (bits <= 128) equal? */
bool	addr_prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits);

/*
 * The IP address of sa into *ip: AF_INET, AF_INET6, and a v4-mapped
 * IPv6 address (::ffff:a.b.c.d) as the AF_INET it stands for. Returns 0,
 * or -1 for other families (unix sockets).
 */
int	addr_ip_from_sockaddr(const struct sockaddr *sa, struct addr_ip *ip);

/*
 * ip and port into *ss (zeroed first). Returns the sockaddr's length.
 */
socklen_t addr_ip_to_sockaddr(const struct addr_ip *ip, uint16_t port,
	    struct sockaddr_storage *ss);

/* Is ip a loopback address (127/8, ::1)? */
bool	addr_ip_loopback(const struct addr_ip *ip);

/*
 * Does a unix socket path of n bytes fit sockaddr_un's sun_path with its
 * NUL? 1 or 0 (0 also for n == 0).
 */
bool	addr_unix_path_fits(size_t n);

#endif
