/*
 * proxy_proto: PROXY protocol v1/v2 parser and encoder (haproxy's
 * proxy-protocol.txt; section numbers below are that document's).
 *
 * The parser has the upgrade parser's shape: (buf, len) in; the header's
 * length, -2 (a valid prefix so far) or -1 out; no state between calls.
 * A proxy_protocol listener reads until it gets >0 or -1; the spec (§2)
 * has senders write the header at once, so it nearly always arrives in
 * one read and re-reading from byte 0 costs next to nothing.
 *
 * Choices made here:
 * - Refuse as early as the bytes allow: the first byte must be 'P' (v1) or
 *   CR (v2); every byte of the v1 literals and the v2 signature is checked
 *   as it arrives, v1 fields are checked against their character sets and
 *   lengths before they end, and the v2 version, command, family and
 *   length are judged as soon as their byte is in. So an HTTP request or a
 *   TLS ClientHello on a proxy_protocol listener is refused at its first
 *   byte, and garbage anywhere as soon as it arrives (a slow sender of
 *   valid bytes is still the handshake timeout's job).
 * - v1 is parsed strictly: single spaces and CRLF as §2.1 writes them,
 *   and (our choice) no leading zeros in ports or IPv4 octets; except
 *   after "UNKNOWN", where the spec says the receiver must ignore
 *   anything before the CRLF.
 * - v2 UNIX-stream is accepted with the addresses ignored (haproxy sends
 *   it for clients on a Unix socket; the connection is real); UDP and
 *   UNIX-datagram are refused; the seven family bytes §2.2 defines are the
 *   only ones accepted (it says others "must be rejected as invalid").
 * - For LOCAL (§2.2: "the receiver must ... discard the protocol block
 *   including the family which is ignored"), the family byte and the
 *   block are not looked at; the same for UNSPEC and UNIX addresses.
 *   After TCP addresses, the TLVs must tile the block exactly (haproxy
 *   refuses a TLV that overruns it too); their values are not read.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "addr.h"
#include "proxy_proto.h"

#define PROXY_PROTO_MORE	(-2)
#define PROXY_PROTO_BAD		(-1)

/* §2.1: longest address text per family; ports are at most "65535". */
#define PROXY_PROTO_V4_TEXT	15	/* 255.255.255.255 */
#define PROXY_PROTO_V6_TEXT	45	/* INET6_ADDRSTRLEN - 1 */
#define PROXY_PROTO_PORT_TEXT	5

/* §2.2 */
#define PROXY_PROTO_V2_SIG_LEN	12
#define PROXY_PROTO_CMD_LOCAL	0x0
#define PROXY_PROTO_CMD_PROXY	0x1
#define PROXY_PROTO_FAM_UNSPEC	0x00
#define PROXY_PROTO_FAM_TCP4	0x11
#define PROXY_PROTO_FAM_TCP6	0x21
#define PROXY_PROTO_FAM_UNIX	0x31
#define PROXY_PROTO_TLV_HDR	3	/* type, 16-bit length */

static const uint8_t proxy_proto_v2_sig[PROXY_PROTO_V2_SIG_LEN] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

static const char proxy_proto_digits[] = "0123456789";
static const char proxy_proto_v4_chars[] = "0123456789.";
static const char proxy_proto_v6_chars[] = "0123456789abcdefABCDEF:.";

/* ---- v1 (§2.1) ------------------------------------------------------ */

/*
 * Match the literal lit at *off. 0 (and *off moved past it) when it is
 * there, -2 when the input ends inside a matching prefix, -1 on the first
 * byte that differs.
 */
static int
proxy_proto_v1_lit(const uint8_t *b, size_t len, size_t *off, const char *lit)
{
	size_t	i, n = strlen(lit);

	for (i = 0; i < n; i++) {
		if (*off + i >= len)
			return PROXY_PROTO_MORE;
		if (b[*off + i] != (uint8_t)lit[i])
			return PROXY_PROTO_BAD;
	}
	*off += n;
	return 0;
}

/*
 * Measure the field at *off: the run of bytes from chars. 0 and *flen
 * when a byte outside chars ends it; -2 when the input ends inside it;
 * -1 when it is empty or longer than max. The delimiter is left for the
 * caller to match.
 */
static int
proxy_proto_v1_field(const uint8_t *b, size_t len, size_t off,
    const char *chars, size_t max, size_t *flen)
{
	size_t	n = 0;

	while (off + n < len && b[off + n] != '\0' &&
	    strchr(chars, b[off + n]) != NULL) {
		if (++n > max)
			return PROXY_PROTO_BAD;
	}
	if (off + n == len)
		return PROXY_PROTO_MORE;
	if (n == 0)
		return PROXY_PROTO_BAD;
	*flen = n;
	return 0;
}

/* Decimal 0..max without leading zeros; p[0..n) are digits. */
static bool
proxy_proto_v1_uint(const uint8_t *p, size_t n, unsigned max, unsigned *v)
{
	size_t	i;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return false;
	*v = 0;
	for (i = 0; i < n; i++)
		*v = *v * 10 + (unsigned)(p[i] - '0');
	return *v <= max;
}

/*
 * One address field as text (spec §2.1: dotted quad without leading
 * zeros, RFC 4291 §2.2 for IPv6: inet_pton's grammar, through addr.c).
 */
static bool
proxy_proto_v1_ip(const uint8_t *p, size_t n, int af, void *out)
{
	struct addr_ip	ip;

	if (addr_ip_parse((const char *)p, n, af, &ip) == -1)
		return false;
	memcpy(out, ip.b, af == AF_INET ? 4 : 16);
	return true;
}

/*
 * Parse one address field at *off into sa (family af) and move past it.
 * Returns 0, -2 or -1 as proxy_proto_v1_field does, -1 also when the
 * field is not a valid address.
 */
static int
proxy_proto_v1_addr(const uint8_t *b, size_t len, size_t *off, int af,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	size_t			 n;
	int			 rc;

	if (af == AF_INET) {
		rc = proxy_proto_v1_field(b, len, *off, proxy_proto_v4_chars,
		    PROXY_PROTO_V4_TEXT, &n);
		if (rc == 0 && !proxy_proto_v1_ip(b + *off, n, AF_INET,
		    &sin->sin_addr))
			rc = PROXY_PROTO_BAD;
	} else {
		rc = proxy_proto_v1_field(b, len, *off, proxy_proto_v6_chars,
		    PROXY_PROTO_V6_TEXT, &n);
		if (rc == 0 && !proxy_proto_v1_ip(b + *off, n, AF_INET6,
		    &sin6->sin6_addr))
			rc = PROXY_PROTO_BAD;
	}
	if (rc != 0)
		return rc;
	ss->ss_family = (sa_family_t)af;
	*off += n;
	return 0;
}

/* Parse one port field at *off into ss (already holding its family). */
static int
proxy_proto_v1_port(const uint8_t *b, size_t len, size_t *off,
    struct sockaddr_storage *ss)
{
	unsigned	v;
	size_t		n;
	int		rc;

	rc = proxy_proto_v1_field(b, len, *off, proxy_proto_digits,
	    PROXY_PROTO_PORT_TEXT, &n);
	if (rc != 0)
		return rc;
	if (!proxy_proto_v1_uint(b + *off, n, 65535, &v))
		return PROXY_PROTO_BAD;
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)v);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)v);
	*off += n;
	return 0;
}

/*
 * "UNKNOWN" seen: either CRLF right away, or a space and anything up to
 * the first CRLF (§2.1 says to ignore it).
 */
static int
proxy_proto_v1_unknown(const uint8_t *b, size_t len, size_t off)
{
	size_t	i;
	int	rc;

	if (off == len)
		return PROXY_PROTO_MORE;
	if (b[off] == '\r') {
		rc = proxy_proto_v1_lit(b, len, &off, "\r\n");
		return rc != 0 ? rc : (int)off;
	}
	if (b[off] != ' ')
		return PROXY_PROTO_BAD;
	for (i = off + 1; i + 1 < len; i++)
		if (b[i] == '\r' && b[i + 1] == '\n')
			return (int)(i + 2);
	return PROXY_PROTO_MORE;
}

/*
 * The v1 grammar over b[0..len), len at most PROXY_PROTO_V1_MAX:
 * "PROXY" SP ( "UNKNOWN" [SP any] | "TCP4" SP v4 SP v4 SP port SP port |
 * "TCP6" SP v6 SP v6 SP port SP port ) CRLF.
 */
static int
proxy_proto_v1_line(const uint8_t *b, size_t len, struct proxy_proto_addr *out)
{
	size_t	off = 0;
	int	af, rc;

	if ((rc = proxy_proto_v1_lit(b, len, &off, "PROXY ")) != 0)
		return rc;
	if (off < len && b[off] == 'U') {
		if ((rc = proxy_proto_v1_lit(b, len, &off, "UNKNOWN")) != 0)
			return rc;
		return proxy_proto_v1_unknown(b, len, off);
	}
	if ((rc = proxy_proto_v1_lit(b, len, &off, "TCP")) != 0)
		return rc;
	if (off == len)
		return PROXY_PROTO_MORE;
	if (b[off] != '4' && b[off] != '6')
		return PROXY_PROTO_BAD;
	af = b[off++] == '4' ? AF_INET : AF_INET6;
	if ((rc = proxy_proto_v1_lit(b, len, &off, " ")) != 0 ||
	    (rc = proxy_proto_v1_addr(b, len, &off, af, &out->src)) != 0 ||
	    (rc = proxy_proto_v1_lit(b, len, &off, " ")) != 0 ||
	    (rc = proxy_proto_v1_addr(b, len, &off, af, &out->dst)) != 0 ||
	    (rc = proxy_proto_v1_lit(b, len, &off, " ")) != 0 ||
	    (rc = proxy_proto_v1_port(b, len, &off, &out->src)) != 0 ||
	    (rc = proxy_proto_v1_lit(b, len, &off, " ")) != 0 ||
	    (rc = proxy_proto_v1_port(b, len, &off, &out->dst)) != 0 ||
	    (rc = proxy_proto_v1_lit(b, len, &off, "\r\n")) != 0)
		return rc;
	out->family = af;
	return (int)off;
}

static int
proxy_proto_v1(const uint8_t *buf, size_t len, struct proxy_proto_addr *out)
{
	size_t	view = len < PROXY_PROTO_V1_MAX ? len : PROXY_PROTO_V1_MAX;
	int	rc;

	/* §2.1: 107 bytes at most; no CRLF within them is an error. */
	rc = proxy_proto_v1_line(buf, view, out);
	if (rc == PROXY_PROTO_MORE && len >= PROXY_PROTO_V1_MAX)
		rc = PROXY_PROTO_BAD;
	if (rc > 0)
		out->version = 1;
	return rc;
}

/* ---- v2 (§2.2) ------------------------------------------------------ */

/*
 * Length of the address block for a PROXY command's family byte; -1 for
 * the ones refused (see the top of the file).
 */
static int
proxy_proto_v2_addr_len(uint8_t fam)
{
	switch (fam) {
	case PROXY_PROTO_FAM_UNSPEC:
		return 0;
	case PROXY_PROTO_FAM_TCP4:
		return 12;
	case PROXY_PROTO_FAM_TCP6:
		return 36;
	case PROXY_PROTO_FAM_UNIX:
		return 216;
	default:	/* UDP4 0x12, UDP6 0x22, UNIX dgram 0x32, undefined */
		return -1;
	}
}

/* §2.2: TLVs are type, 16-bit big-endian length, value; they must tile
 * p[0..n) exactly. */
static bool
proxy_proto_v2_tlvs_ok(const uint8_t *p, size_t n)
{
	size_t	off = 0, vlen;

	while (off < n) {
		if (n - off < PROXY_PROTO_TLV_HDR)
			return false;
		vlen = (size_t)p[off + 1] << 8 | p[off + 2];
		if (n - off - PROXY_PROTO_TLV_HDR < vlen)
			return false;
		off += PROXY_PROTO_TLV_HDR + vlen;
	}
	return true;
}

/* Fill out from the TCP4/TCP6 address block at p (ports stay in network
 * byte order, as sin_port wants them). */
static void
proxy_proto_v2_addrs(const uint8_t *p, uint8_t fam, struct proxy_proto_addr *out)
{
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&out->src;
	struct sockaddr_in	*d4 = (struct sockaddr_in *)&out->dst;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&out->src;
	struct sockaddr_in6	*d6 = (struct sockaddr_in6 *)&out->dst;

	if (fam == PROXY_PROTO_FAM_TCP4) {
		out->family = AF_INET;
		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, p, 4);
		memcpy(&d4->sin_addr, p + 4, 4);
		memcpy(&s4->sin_port, p + 8, 2);
		memcpy(&d4->sin_port, p + 10, 2);
	} else {
		out->family = AF_INET6;
		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, p, 16);
		memcpy(&d6->sin6_addr, p + 16, 16);
		memcpy(&s6->sin6_port, p + 32, 2);
		memcpy(&d6->sin6_port, p + 34, 2);
	}
}

static int
proxy_proto_v2(const uint8_t *b, size_t len, struct proxy_proto_addr *out)
{
	size_t	n = len < PROXY_PROTO_V2_SIG_LEN ? len : PROXY_PROTO_V2_SIG_LEN;
	size_t	blen;
	int	alen = 0;
	uint8_t	cmd;

	if (memcmp(b, proxy_proto_v2_sig, n) != 0)
		return PROXY_PROTO_BAD;
	if (len <= PROXY_PROTO_V2_SIG_LEN)
		return PROXY_PROTO_MORE;
	/* byte 13: version 2 in the high nibble, LOCAL or PROXY in the low */
	cmd = b[12] & 0x0f;
	if ((b[12] >> 4) != 2 || cmd > PROXY_PROTO_CMD_PROXY)
		return PROXY_PROTO_BAD;
	if (len <= 13)
		return PROXY_PROTO_MORE;
	if (cmd == PROXY_PROTO_CMD_PROXY &&
	    (alen = proxy_proto_v2_addr_len(b[13])) < 0)
		return PROXY_PROTO_BAD;
	if (len < PROXY_PROTO_V2_HDR)
		return PROXY_PROTO_MORE;
	blen = (size_t)b[14] << 8 | b[15];
	if (blen < (size_t)alen ||
	    blen > PROXY_PROTO_MAX_HEADER - PROXY_PROTO_V2_HDR)
		return PROXY_PROTO_BAD;
	if (len < PROXY_PROTO_V2_HDR + blen)
		return PROXY_PROTO_MORE;
	if (cmd == PROXY_PROTO_CMD_PROXY && (b[13] == PROXY_PROTO_FAM_TCP4 ||
	    b[13] == PROXY_PROTO_FAM_TCP6)) {
		if (!proxy_proto_v2_tlvs_ok(b + PROXY_PROTO_V2_HDR + alen,
		    blen - (size_t)alen))
			return PROXY_PROTO_BAD;
		proxy_proto_v2_addrs(b + PROXY_PROTO_V2_HDR, b[13], out);
	}
	out->version = 2;
	return (int)(PROXY_PROTO_V2_HDR + blen);
}

int
proxy_proto_parse(const uint8_t *buf, size_t len, struct proxy_proto_addr *out)
{
	int	rc = PROXY_PROTO_BAD;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return PROXY_PROTO_MORE;
	/* §2: the first byte tells the versions apart ('P' vs CR). */
	if (buf[0] == 'P')
		rc = proxy_proto_v1(buf, len, out);
	else if (buf[0] == proxy_proto_v2_sig[0])
		rc = proxy_proto_v2(buf, len, out);
	if (rc < 0)	/* no half-parsed v1 address is left behind */
		memset(out, 0, sizeof(*out));
	return rc;
}

/* ---- encoders ------------------------------------------------------- */

/*
 * The family to send for src -> dst: AF_INET when both are IPv4, AF_INET6
 * when both are IP and one is IPv6 (the IPv4 one mapped), else AF_UNSPEC.
 */
static int
proxy_proto_enc_family(const struct sockaddr *src, const struct sockaddr *dst)
{
	if (src == NULL || dst == NULL)
		return AF_UNSPEC;
	if ((src->sa_family != AF_INET && src->sa_family != AF_INET6) ||
	    (dst->sa_family != AF_INET && dst->sa_family != AF_INET6))
		return AF_UNSPEC;
	if (src->sa_family == AF_INET && dst->sa_family == AF_INET)
		return AF_INET;
	return AF_INET6;
}

/* sa's address as 16 bytes (IPv4 as ::ffff:a.b.c.d, RFC 4291 §2.5.5.2)
 * and its port in network byte order. */
static void
proxy_proto_enc_v6(const struct sockaddr *sa, uint8_t a[16], uint16_t *port)
{
	const struct sockaddr_in	*sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6	*sin6 = (const struct sockaddr_in6 *)sa;

	if (sa->sa_family == AF_INET) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &sin->sin_addr, 4);
		*port = sin->sin_port;
	} else {
		memcpy(a, &sin6->sin6_addr, 16);
		*port = sin6->sin6_port;
	}
}

int
proxy_proto_encode_v1(const struct sockaddr *src, const struct sockaddr *dst,
    char *out, size_t cap)
{
	char		 line[PROXY_PROTO_V1_MAX + 1];
	char		 s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	uint8_t		 sa[16], da[16];
	uint16_t	 sp, dp;
	int		 af = proxy_proto_enc_family(src, dst), n;

	if (af == AF_INET) {
		sp = ((const struct sockaddr_in *)src)->sin_port;
		dp = ((const struct sockaddr_in *)dst)->sin_port;
		if (inet_ntop(AF_INET, &((const struct sockaddr_in *)src)->
		    sin_addr, s, sizeof(s)) == NULL ||
		    inet_ntop(AF_INET, &((const struct sockaddr_in *)dst)->
		    sin_addr, d, sizeof(d)) == NULL)
			return -1;
	} else if (af == AF_INET6) {
		proxy_proto_enc_v6(src, sa, &sp);
		proxy_proto_enc_v6(dst, da, &dp);
		if (inet_ntop(AF_INET6, sa, s, sizeof(s)) == NULL ||
		    inet_ntop(AF_INET6, da, d, sizeof(d)) == NULL)
			return -1;
	}
	if (af == AF_UNSPEC)
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	else
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
		    af == AF_INET ? "TCP4" : "TCP6", s, d,
		    (unsigned)ntohs(sp), (unsigned)ntohs(dp));
	/* Longest possible: TCP6, two 39-byte addresses: 104 bytes. */
	if (n < 0 || (size_t)n > PROXY_PROTO_V1_MAX || (size_t)n > cap)
		return -1;
	memcpy(out, line, (size_t)n);
	return n;
}

int
proxy_proto_encode_v2(const struct sockaddr *src, const struct sockaddr *dst,
    uint8_t *out, size_t cap)
{
	const struct sockaddr_in	*s4 = (const struct sockaddr_in *)src;
	const struct sockaddr_in	*d4 = (const struct sockaddr_in *)dst;
	uint8_t				*p;
	uint16_t			 sp, dp;
	size_t				 alen;
	int				 af = proxy_proto_enc_family(src, dst);

	alen = af == AF_INET ? 12 : af == AF_INET6 ? 36 : 0;
	if (cap < PROXY_PROTO_V2_HDR + alen)
		return -1;
	p = out + PROXY_PROTO_V2_HDR;
	memcpy(out, proxy_proto_v2_sig, PROXY_PROTO_V2_SIG_LEN);
	out[12] = 0x20 | PROXY_PROTO_CMD_PROXY;
	out[13] = af == AF_INET ? PROXY_PROTO_FAM_TCP4 :
	    af == AF_INET6 ? PROXY_PROTO_FAM_TCP6 : PROXY_PROTO_FAM_UNSPEC;
	out[14] = (uint8_t)(alen >> 8);
	out[15] = (uint8_t)alen;
	if (af == AF_INET) {
		memcpy(p, &s4->sin_addr, 4);
		memcpy(p + 4, &d4->sin_addr, 4);
		memcpy(p + 8, &s4->sin_port, 2);
		memcpy(p + 10, &d4->sin_port, 2);
	} else if (af == AF_INET6) {
		proxy_proto_enc_v6(src, p, &sp);
		proxy_proto_enc_v6(dst, p + 16, &dp);
		memcpy(p + 32, &sp, 2);
		memcpy(p + 34, &dp, 2);
	}
	return (int)(PROXY_PROTO_V2_HDR + alen);
}
