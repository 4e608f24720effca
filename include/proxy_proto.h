/*
 * proxy_proto: PROXY protocol v1 (text) and v2 (binary) headers, as a load
 * balancer sends them in front of a connection, and as we send them to a
 * backend so it sees the browser's address (haproxy's proxy-protocol.txt).
 *
 * Pure: no allocation, no I/O, no globals. Parsing re-reads the buffer
 * from byte 0 on every call and keeps no state between calls.
 */
#ifndef PROXY_PROTO_H
#define PROXY_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <sys/socket.h>

#define PROXY_PROTO_V1_MAX	107	/* longest v1 line, CRLF included */
#define PROXY_PROTO_V2_HDR	16	/* signature, ver/cmd, fam, length */
#define PROXY_PROTO_V2_MAX_ENC	(PROXY_PROTO_V2_HDR + 36) /* what we send */
/*
 * Longest header we accept, v2 TLVs included. The spec bounds nothing but
 * the 16-bit length; 4 KiB holds the addresses of any family plus the TLVs
 * that AWS, GCP and Azure load balancers and haproxy's SSL TLVs add, and
 * keeps what a peer can make us buffer before the handshake small.
 */
#define PROXY_PROTO_MAX_HEADER	4096

/*
 * What a header said. family is AF_INET or AF_INET6 when src and dst hold
 * the client's (source) and the proxy's (destination) address and port;
 * AF_UNSPEC when the connection's own endpoints must be used: v1 UNKNOWN,
 * v2 LOCAL (a health check from the proxy itself), v2 UNSPEC, and v2
 * UNIX-stream (an address we have no use for). A zeroed struct with
 * family AF_UNSPEC (0) is what every failed parse leaves.
 */
struct proxy_proto_addr {
	int			family;	/* AF_INET, AF_INET6, AF_UNSPEC */
	int			version; /* 1 or 2; 0 until a header parsed */
	struct sockaddr_storage	src;	/* sockaddr_in or sockaddr_in6 */
	struct sockaddr_storage	dst;
};

/*
 * Parse the PROXY header at the start of buf[0..len), v1 or v2, whichever
 * the first byte names. Returns:
 *   >0  the header's length; out is filled in; the bytes after it belong
 *       to the proxied connection (the client's HTTP request);
 *   -2  buf is a proper prefix of a header that may still be valid: read
 *       more (never returned at or past PROXY_PROTO_MAX_HEADER bytes);
 *   -1  not a valid PROXY header: close the connection. Refused as early
 *       as the bytes allow, so a plain HTTP request or a TLS ClientHello
 *       on a proxy_protocol listener fails on its first byte.
 * v1 is strict: "PROXY", single spaces, TCP4/TCP6 with dotted-quad or
 * RFC 4291 addresses and decimal ports 0..65535 (no leading zeros in
 * octets or ports), CRLF, 107 bytes at most; "PROXY UNKNOWN" may be followed by anything
 * up to the CRLF (the spec says to ignore it).
 * v2: version 2; command LOCAL (addresses ignored, whatever the family
 * byte says) or PROXY; for PROXY the family/transport byte must be one the
 * spec defines, and a length that holds the family's address block. TCP
 * over IPv4/IPv6 fill src/dst; UNSPEC and UNIX-stream yield AF_UNSPEC;
 * UDP and UNIX-datagram are refused (a WebSocket never rides a datagram
 * transport, so a sender that says so is broken or lying). TLVs after the
 * addresses are skipped, but must tile the rest of the header exactly;
 * their contents (CRC32C included) are not checked.
 * out is always written: all zero unless a header parsed.
 */
int	proxy_proto_parse(const uint8_t *buf, size_t len,
	    struct proxy_proto_addr *out);

/*
 * Write a v1 header for a connection from src to dst (the client's address
 * and the address it connected to) into out (capacity cap); the line is
 * not NUL-terminated, and PROXY_PROTO_V1_MAX bytes always suffice. Two
 * AF_INET addresses give TCP4; AF_INET6, or one of each (the IPv4 one
 * then written IPv4-mapped), give TCP6; anything else (AF_UNIX, NULL)
 * gives "PROXY UNKNOWN\r\n". Returns the length written, or -1 if it does
 * not fit (nothing useful is in out then).
 */
int	proxy_proto_encode_v1(const struct sockaddr *src,
	    const struct sockaddr *dst, char *out, size_t cap);

/*
 * Same for v2: command PROXY, TCP over IPv4 or IPv6 (the same family
 * choice as v1), no TLVs; anything else gives PROXY with family UNSPEC and
 * no address block (the backend then uses the connection's endpoints).
 * PROXY_PROTO_V2_MAX_ENC bytes always suffice. Returns the length written
 * or -1 if it does not fit.
 */
int	proxy_proto_encode_v2(const struct sockaddr *src,
	    const struct sockaddr *dst, uint8_t *out, size_t cap);

#endif
