/*
 * iplimit: per-client-address connection counts and handshake rates,
 * shared by every worker (one mutex; taken on accept and handshake only,
 * never on the relay path). Addresses are IPv4 or IPv6 (v4-mapped IPv6
 * counts as IPv4); Unix-socket clients are not limited.
 */
#ifndef IPLIMIT_H
#define IPLIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"

/*
 * Count one more connection from sa if fewer than max are open (max 0:
 * no limit, nothing counted). Returns 1 if counted (release it later),
 * 0 if not counted (no limit, or no IP address), -1 when over max.
 */
int	iplimit_acquire(const struct sockaddr *sa, uint64_t max);
/* Give back a connection iplimit_acquire() counted. */
void	iplimit_release(const struct sockaddr *sa);
/* Connections from sa counted now (0 for no IP address). */
uint64_t iplimit_conns(const struct sockaddr *sa);

/*
 * Token bucket per address: rate handshakes a second, up to burst at
 * once. Returns true if this handshake fits (and takes a token); false
 * when the address is over its rate (429). rate 0: always true.
 */
bool	iplimit_rate_ok(const struct sockaddr *sa, uint64_t rate,
	    uint64_t burst, uint64_t now_ms);

/*
 * Is sa inside one of the networks nets[0..n) (parsed at load)? A
 * v4-mapped IPv6 peer matches IPv4 networks. Unix peers never match.
 */
bool	iplimit_trusted(const struct sockaddr *sa,
	    const struct addr_cidr *nets, size_t n);

/* One header field line's value: p[0..len), not NUL-terminated. */
struct iplimit_span {
	const char	*p;
	size_t		 len;
};

/*
 * X-Forwarded-For from trusted proxies. lines[0..nlines) are the field
 * lines in the order received; together they are one comma-separated list
 * (RFC 9110 §5.3). Starting at the connection's peer *sa, while the
 * current address is inside one of trusted[0..n), step to the next
 * address from the right of that list, across lines. On return *sa is the
 * first address not trusted (port 0), or the leftmost one reached, and the
 * result is true if it changed. A malformed entry (not a bare IPv4 or IPv6
 * address) stops the walk there; empty entries and lines are skipped.
 */
bool	iplimit_forwarded_for(struct sockaddr_storage *sa,
	    const struct iplimit_span *lines, size_t nlines,
	    const struct addr_cidr *trusted, size_t n);

/* Addresses tracked now (for tests and metrics). */
uint64_t iplimit_tracked(void);

#endif
