/* libFuzzer driver for addr: the first byte picks the flags; the rest is
 * read as HOST:PORT, a network and an IP. What is accepted round-trips
 * (its parts, written back, parse to the same thing); a network holds
 * its own address. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "addr.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*s = (const char *)data + 1;
	struct addr_hostport	 hp, again;
	struct addr_cidr	 c;
	struct addr_ip		 ip;
	char			 back[300];
	unsigned		 flags;

	if (size-- == 0)
		return 0;
	flags = data[0] & 7;
	if (addr_hostport_parse(s, size, flags, &hp) == ADDR_OK) {
		if (hp.port == 0 || (hp.host != NULL && (hp.host < s ||
		    hp.host + hp.hostlen > s + size)))
			abort();
		snprintf(back, sizeof(back), hp.host == NULL ? "%.*s*:%u" :
		    hp.bracketed ? "[%.*s]:%u" : "%.*s:%u", (int)hp.hostlen,
		    hp.host != NULL ? hp.host : "", hp.port);
		if (addr_hostport_parse(back, strlen(back), flags, &again) !=
		    ADDR_OK || again.port != hp.port ||
		    again.literal != hp.literal || (hp.literal &&
		    memcmp(&again.ip, &hp.ip, sizeof(hp.ip)) != 0))
			abort();
	}
	if (addr_cidr_parse(s, size, 0, &c) == 0 && (c.bits > (c.net.family ==
	    AF_INET ? 32u : 128u) || !addr_cidr_match(&c, &c.net)))
		abort();
	if (addr_ip_parse(s, size, 0, &ip) == 0 &&
	    (addr_cidr_parse(s, size, ip.family, &c) != 0 ||
	    c.bits != (ip.family == AF_INET ? 32u : 128u)))
		abort();
	return 0;
}
