/* libFuzzer driver for proxy_proto_parse(): prefixes, encode round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proxy_proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_proto_addr	a, b;
	uint8_t			out[PROXY_PROTO_V1_MAX];
	int			n, rc = proxy_proto_parse(data, size, &a);
	int	shorter = size > 0 ? proxy_proto_parse(data, size - 1, &b) : -2;

	if (rc == 0 || rc < -2 || rc > PROXY_PROTO_MAX_HEADER ||
	    (rc > 0 && (size_t)rc > size) ||
	    (rc == -2 && (size >= PROXY_PROTO_MAX_HEADER || shorter != -2)) ||
	    (rc > 0 && (size_t)rc < size && shorter != rc))
		abort();
	if (rc < 0)
		return 0;	/* below: a header; it alone parses the same */
	if (a.version < 1 || a.version > 2 || (a.family != AF_INET &&
	    a.family != AF_INET6 && a.family != AF_UNSPEC) ||
	    proxy_proto_parse(data, (size_t)rc, &b) != rc ||
	    memcmp(&a, &b, sizeof(a)) != 0 ||
	    proxy_proto_parse(data, (size_t)rc - 1, &b) != -2)
		abort();
	n = a.version == 1 ? proxy_proto_encode_v1((struct sockaddr *)&a.src,
	    (struct sockaddr *)&a.dst, (char *)out, sizeof(out)) :
	    proxy_proto_encode_v2((struct sockaddr *)&a.src,
	    (struct sockaddr *)&a.dst, out, sizeof(out));
	if (n <= 0 || proxy_proto_parse(out, (size_t)n, &b) != n ||
	    a.family != b.family || memcmp(&a.src, &b.src, sizeof(a.src)) ||
	    memcmp(&a.dst, &b.dst, sizeof(a.dst)))
		abort();
	return 0;
}
