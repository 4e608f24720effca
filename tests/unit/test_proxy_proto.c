/*
 * Unit tests for proxy_proto: the spec's v1 and v2 examples whole, at
 * every prefix and followed by the proxied bytes; refusals and how early
 * they come; encode -> parse round trips; inputs at the end of a guarded
 * page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxy_proto.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"	/* §2.2 v2 signature */
#define FFFF8	"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"

struct test_pp_vec {
	const char	*name;
	const char	*s;
	size_t		 len;
	int		 family;	/* expected out.family */
	int		 version;
	const char	*src, *dst;	/* expected addresses (IP families) */
	unsigned	 sport, dport;
};

#define V(name, s, fam, ver, src, dst, sp, dp) \
	{ name, s, sizeof(s) - 1, fam, ver, src, dst, sp, dp }

static const struct test_pp_vec test_pp_valid[] = {
	/* §2.1 examples and the worst cases it sizes the buffer for */
	V("v1 tcp4", "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n",
	    AF_INET, 1, "192.168.0.1", "192.168.0.11", 56324, 443),
	V("v1 tcp4 max", "PROXY TCP4 255.255.255.255 255.255.255.255 "
	    "65535 65535\r\n",
	    AF_INET, 1, "255.255.255.255", "255.255.255.255", 65535, 65535),
	V("v1 tcp4 zeros", "PROXY TCP4 0.0.0.0 10.0.0.1 0 0\r\n",
	    AF_INET, 1, "0.0.0.0", "10.0.0.1", 0, 0),
	V("v1 tcp6 max", "PROXY TCP6 " FFFF8 " " FFFF8 " 65535 65535\r\n",
	    AF_INET6, 1, FFFF8, FFFF8, 65535, 65535),
	V("v1 tcp6 short", "PROXY TCP6 2001:db8::1 ::1 40000 8080\r\n",
	    AF_INET6, 1, "2001:db8::1", "::1", 40000, 8080),
	V("v1 tcp6 mapped", "PROXY TCP6 ::ffff:192.0.2.1 ::FFFF:C000:0201 "
	    "1 2\r\n",
	    AF_INET6, 1, "::ffff:192.0.2.1", "::ffff:192.0.2.1", 1, 2),
	/* the longest RFC 4291 text form, 45 characters */
	V("v1 tcp6 45 chars", "PROXY TCP6 0000:0000:0000:0000:0000:0000:"
	    "255.255.255.255 ::1 1 2\r\n",
	    AF_INET6, 1, "::ffff:ffff", "::1", 1, 2),
	V("v1 unknown", "PROXY UNKNOWN\r\n", AF_UNSPEC, 1, NULL, NULL, 0, 0),
	V("v1 unknown max", "PROXY UNKNOWN " FFFF8 " " FFFF8
	    " 65535 65535\r\n", AF_UNSPEC, 1, NULL, NULL, 0, 0),
	V("v1 unknown junk", "PROXY UNKNOWN \x01 \r \n whatever\r\n",
	    AF_UNSPEC, 1, NULL, NULL, 0, 0),
	/* §2.2: what haproxy sends for 172.19.0.1:42578 -> 172.19.0.3:80 */
	V("v2 tcp4", SIG "\x21\x11\x00\x0c" "\xac\x13\x00\x01"
	    "\xac\x13\x00\x03" "\xa6\x52\x00\x50",
	    AF_INET, 2, "172.19.0.1", "172.19.0.3", 42578, 80),
	V("v2 tcp6", SIG "\x21\x21\x00\x24"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01"
	    "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x02" "\x1f\x90\x01\xbb",
	    AF_INET6, 2, "2001:db8::1", "2001:db8::2", 8080, 443),
	/* TLVs: ALPN "h2", NOOP, a vendor one (AWS VPC endpoint id, 0xEA) */
	V("v2 tcp4 tlvs", SIG "\x21\x11\x00\x1a" "\x0a\0\0\x01"
	    "\x0a\0\0\x02" "\x30\x39\x01\xbb" "\x01\x00\x02h2" "\x04\x00\x00"
	    "\xea\x00\x03" "abc",
	    AF_INET, 2, "10.0.0.1", "10.0.0.2", 12345, 443),
	V("v2 local", SIG "\x20\x00\x00\x00", AF_UNSPEC, 2, NULL, NULL, 0, 0),
	/* LOCAL: family byte and block are ignored, whatever they hold */
	V("v2 local junk", SIG "\x20\xff\x00\x03" "abc",
	    AF_UNSPEC, 2, NULL, NULL, 0, 0),
	V("v2 local tcp4", SIG "\x20\x11\x00\x00",
	    AF_UNSPEC, 2, NULL, NULL, 0, 0),
	V("v2 unspec", SIG "\x21\x00\x00\x00", AF_UNSPEC, 2, NULL, NULL, 0, 0),
	V("v2 unspec block", SIG "\x21\x00\x00\x02" "zz",
	    AF_UNSPEC, 2, NULL, NULL, 0, 0),
};

/* Complete inputs that must be refused. */
static const struct test_pp_vec test_pp_invalid[] = {
	V("http", "GET / HTTP/1.1\r\nHost: a\r\n\r\n", 0, 0, 0, 0, 0, 0),
	V("tls hello", "\x16\x03\x01\x00\xa5\x01\x00\x00", 0, 0, 0, 0, 0, 0),
	V("lower proxy", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("no space", "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("two spaces", "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("tab", "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("tcp5", "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("tcp lower", "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("udp4", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("bare lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 0, 0, 0, 0, 0, 0),
	V("cr cr lf", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
	    0, 0, 0, 0, 0, 0),
	V("trailing space", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
	    0, 0, 0, 0, 0, 0),
	V("extra field", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
	    0, 0, 0, 0, 0, 0),
	V("no dport", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", 0, 0, 0, 0, 0, 0),
	V("no ports", "PROXY TCP4 1.2.3.4 5.6.7.8\r\n", 0, 0, 0, 0, 0, 0),
	V("no fields", "PROXY TCP4\r\n", 0, 0, 0, 0, 0, 0),
	V("no proto", "PROXY \r\n", 0, 0, 0, 0, 0, 0),
	V("three octets", "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("five octets", "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("octet 256", "PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("octet leading 0", "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("empty octet", "PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("trailing dot", "PROXY TCP4 1.2.3.4. 5.6.7.8 1 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("v6 in tcp4", "PROXY TCP4 ::1 ::1 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("v4 in tcp6", "PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("v6 zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("v6 triple colon", "PROXY TCP6 :::1 ::1 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("v6 two gaps", "PROXY TCP6 1::2::3 ::1 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("v6 over 45 chars", "PROXY TCP6 0000:0000:0000:0000:0000:0000:"
	    "0255.255.255.255 ::1 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("port 99999", "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
	    0, 0, 0, 0, 0, 0),
	V("port 6 digits", "PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n",
	    0, 0, 0, 0, 0, 0),
	V("port leading 0", "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n",
	    0, 0, 0, 0, 0, 0),
	V("port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n", 0, 0, 0, 0, 0, 0),
	V("port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("port hex", "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("nul", "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 0, 0, 0, 0, 0, 0),
	V("unknownx", "PROXY UNKNOWNX\r\n", 0, 0, 0, 0, 0, 0),
	V("unknown lf", "PROXY UNKNOWN\n", 0, 0, 0, 0, 0, 0),
	V("unknown cr x", "PROXY UNKNOWN\rx\r\n", 0, 0, 0, 0, 0, 0),
	/* 108 bytes: one past §2.1's limit */
	V("unknown 108", "PROXY UNKNOWN " FFFF8 " " FFFF8 " 65535 655350\r\n",
	    0, 0, 0, 0, 0, 0),
	/* v2 */
	V("v2 version 1", SIG "\x11\x11\x00\x00", 0, 0, 0, 0, 0, 0),
	V("v2 version 3", SIG "\x31\x11\x00\x0c", 0, 0, 0, 0, 0, 0),
	V("v2 cmd 2", SIG "\x22\x11\x00\x0c", 0, 0, 0, 0, 0, 0),
	V("v2 cmd f", SIG "\x2f\x00\x00\x00", 0, 0, 0, 0, 0, 0),
	V("v2 udp4", SIG "\x21\x12\x00\x0c" "123456789012", 0, 0, 0, 0, 0, 0),
	V("v2 udp6", SIG "\x21\x22\x00\x00", 0, 0, 0, 0, 0, 0),
	V("v2 unix dgram", SIG "\x21\x32\x00\x00", 0, 0, 0, 0, 0, 0),
	V("v2 inet unspec", SIG "\x21\x10\x00\x0c" "123456789012",
	    0, 0, 0, 0, 0, 0),
	V("v2 unspec stream", SIG "\x21\x01\x00\x00", 0, 0, 0, 0, 0, 0),
	V("v2 fam 4", SIG "\x21\x41\x00\x00", 0, 0, 0, 0, 0, 0),
	V("v2 transport 3", SIG "\x21\x13\x00\x0c" "123456789012",
	    0, 0, 0, 0, 0, 0),
	V("v2 tcp4 short", SIG "\x21\x11\x00\x0b" "12345678901",
	    0, 0, 0, 0, 0, 0),
	V("v2 tcp6 short", SIG "\x21\x21\x00\x0c" "123456789012",
	    0, 0, 0, 0, 0, 0),
	V("v2 unix short", SIG "\x21\x31\x00\xd7", 0, 0, 0, 0, 0, 0),
	V("v2 too long", SIG "\x20\x00\x0f\xf1", 0, 0, 0, 0, 0, 0),
	V("v2 len ffff", SIG "\x21\x11\xff\xff", 0, 0, 0, 0, 0, 0),
	V("v2 tlv overrun", SIG "\x21\x11\x00\x10" "123456789012"
	    "\x01\x00\x02h", 0, 0, 0, 0, 0, 0),
	V("v2 tlv cut header", SIG "\x21\x11\x00\x0e" "123456789012"
	    "\x01\x00", 0, 0, 0, 0, 0, 0),
	V("v2 tlv stray byte", SIG "\x21\x11\x00\x11" "123456789012"
	    "\x04\x00\x00" "\x04\x00", 0, 0, 0, 0, 0, 0),
	V("v2 bad sig", "\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00",
	    0, 0, 0, 0, 0, 0),
};

#undef V

/* The vector being checked, named when an assertion fails. */
static const char *test_pp_name = "";

#define PP_EQ(got, want) do {						\
	int g_ = (got), w_ = (want);					\
	if (g_ != w_)							\
		print_error("%s: got %d, want %d\n", test_pp_name, g_, w_); \
	assert_int_equal(g_, w_);					\
} while (0)

static void
test_pp_sockaddr(const char *text, unsigned port, int af,
    struct sockaddr_storage *ss)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	ss->ss_family = (sa_family_t)af;
	if (af == AF_INET) {
		assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
		sin->sin_port = htons((uint16_t)port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr),
		    1);
		sin6->sin6_port = htons((uint16_t)port);
	}
}

/* The parsed address equals text:port in family af. */
static void
test_pp_same(const struct sockaddr_storage *got, const char *text,
    unsigned port, int af)
{
	struct sockaddr_storage	want;
	size_t			n = af == AF_INET ?
	    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);

	test_pp_sockaddr(text, port, af, &want);
	assert_memory_equal(got, &want, n);
}

static void
test_pp_check(const struct test_pp_vec *v, const struct proxy_proto_addr *a)
{
	assert_int_equal(a->family, v->family);
	assert_int_equal(a->version, v->version);
	if (v->family == AF_UNSPEC)
		return;
	test_pp_same(&a->src, v->src, v->sport, v->family);
	test_pp_same(&a->dst, v->dst, v->dport, v->family);
}

/* Every valid vector: whole, then followed by the client's bytes. */
static void
test_valid_whole(void **state)
{
	static const char	 tail[] = "GET / HTTP/1.1\r\n\r\n";
	struct proxy_proto_addr	 a;
	uint8_t			 buf[256];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(test_pp_valid) / sizeof(test_pp_valid[0]);
	    i++) {
		const struct test_pp_vec *v = &test_pp_valid[i];

		test_pp_name = v->name;
		PP_EQ(proxy_proto_parse((const uint8_t *)v->s, v->len, &a),
		    (int)v->len);
		test_pp_check(v, &a);
		memcpy(buf, v->s, v->len);
		memcpy(buf + v->len, tail, sizeof(tail));
		PP_EQ(proxy_proto_parse(buf, v->len + sizeof(tail), &a),
		    (int)v->len);
		test_pp_check(v, &a);
		/* a second header right behind is data, not ours */
		memcpy(buf + v->len, v->s, v->len);
		PP_EQ(proxy_proto_parse(buf, 2 * v->len, &a), (int)v->len);
	}
}

/* Every proper prefix of a valid header asks for more, and leaves out
 * zeroed (the parse keeps no state, so this is also every split). */
static void
test_valid_prefixes(void **state)
{
	struct proxy_proto_addr	a;
	size_t			i, k;

	(void)state;
	for (i = 0; i < sizeof(test_pp_valid) / sizeof(test_pp_valid[0]);
	    i++) {
		const struct test_pp_vec *v = &test_pp_valid[i];

		test_pp_name = v->name;
		for (k = 0; k < v->len; k++) {
			PP_EQ(proxy_proto_parse((const uint8_t *)v->s, k, &a),
			    -2);
			assert_int_equal(a.family, AF_UNSPEC);
			assert_int_equal(a.version, 0);
		}
	}
}

/*
 * Smallest prefix of s that is refused; asserts that all shorter ones
 * ask for more and all longer ones are refused too. len + 1 if none is.
 */
static size_t
test_pp_refused_at(const char *s, size_t len)
{
	struct proxy_proto_addr	a, zero;
	size_t			k, at = len + 1;
	int			rc;

	memset(&zero, 0, sizeof(zero));
	for (k = 0; k <= len; k++) {
		memset(&a, 0x5a, sizeof(a));
		rc = proxy_proto_parse((const uint8_t *)s, k, &a);
		if (rc < 0)	/* nothing half-parsed is left in a */
			assert_memory_equal(&a, &zero, sizeof(a));
		if (at <= len) {
			PP_EQ(rc, -1);
			continue;
		}
		if (rc == -1)
			at = k;
		else
			PP_EQ(rc, -2);
	}
	return at;
}

static void
test_invalid(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(test_pp_invalid) / sizeof(test_pp_invalid[0]);
	    i++) {
		const struct test_pp_vec *v = &test_pp_invalid[i];

		test_pp_name = v->name;
		if (test_pp_refused_at(v->s, v->len) > v->len)
			print_error("%s: not refused\n", v->name);
		assert_true(test_pp_refused_at(v->s, v->len) <= v->len);
	}
}

/* Refusals come as soon as the bytes allow. */
static void
test_refused_early(void **state)
{
	static const struct {
		const char	*s;
		size_t		 at;
	} e[] = {
		{ "GET / HTTP/1.1\r\n", 1 },
		{ "\x16\x03\x01\x02\x00", 1 },
		{ "\r\n\r\n\0\r\nQUIX\n", 11 },
		{ "\r\n\n", 3 },
		{ "PROXX", 5 },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", 31 },
		{ "PROXY TCP4 1.2.3.4x", 19 },
		{ "PROXY TCP4 1234567890123456", 27 },	/* 16 > 15 chars */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 123456", 33 },
		{ "PROXY UNKNOWNX", 14 },
		{ "PROXY UDP4 ", 8 },
	};
	char	buf[64];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		test_pp_name = e[i].s;
		PP_EQ((int)test_pp_refused_at(e[i].s, e[i].at), (int)e[i].at);
	}
	/* v2 fields are judged the byte they arrive */
	memcpy(buf, SIG "\x31", 13);
	assert_int_equal(test_pp_refused_at(buf, 13), 13);
	memcpy(buf, SIG "\x21\x12", 14);
	assert_int_equal(test_pp_refused_at(buf, 14), 14);
	memcpy(buf, SIG "\x21\x11\x00\x0b", 16);
	assert_int_equal(test_pp_refused_at(buf, 16), 16);
	memcpy(buf, SIG "\x20\x00\x10\x00", 16);
	assert_int_equal(test_pp_refused_at(buf, 16), 16);
}

/* §2.1: no CRLF in the first 107 bytes is a refusal at byte 107. */
static void
test_v1_length_limit(void **state)
{
	struct proxy_proto_addr	a;
	char			buf[300];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, "PROXY UNKNOWN ", 14);
	assert_int_equal(test_pp_refused_at(buf, sizeof(buf)), 107);
	/* CRLF ending at byte 107 is fine, at 108 is not */
	memcpy(buf + 105, "\r\n", 2);
	assert_int_equal(proxy_proto_parse((uint8_t *)buf, sizeof(buf), &a),
	    107);
	memset(buf + 105, 'x', 2);
	memcpy(buf + 106, "\r\n", 2);
	assert_int_equal(proxy_proto_parse((uint8_t *)buf, sizeof(buf), &a),
	    -1);
}

/* Build a v2 header with command/version byte vc, family fam and a block
 * of blen bytes of fill. Returns its length. */
static size_t
test_pp_v2(uint8_t *buf, uint8_t vc, uint8_t fam, size_t blen, uint8_t fill)
{
	memcpy(buf, SIG, 12);
	buf[12] = vc;
	buf[13] = fam;
	buf[14] = (uint8_t)(blen >> 8);
	buf[15] = (uint8_t)blen;
	memset(buf + 16, fill, blen);
	return 16 + blen;
}

/* UNIX-stream addresses are accepted and ignored; the size cap holds. */
static void
test_v2_sizes(void **state)
{
	static uint8_t		buf[8192];
	struct proxy_proto_addr	a;
	size_t			n;

	(void)state;
	n = test_pp_v2(buf, 0x21, 0x31, 216, '/');
	assert_int_equal(proxy_proto_parse(buf, n, &a), 232);
	assert_int_equal(a.family, AF_UNSPEC);
	assert_int_equal(a.version, 2);
	assert_int_equal(proxy_proto_parse(buf, n - 1, &a), -2);
	n = test_pp_v2(buf, 0x21, 0x31, 215, '/');
	assert_int_equal(proxy_proto_parse(buf, n, &a), -1);

	/* LOCAL at the cap: 4096 bytes whole */
	n = test_pp_v2(buf, 0x20, 0x00, PROXY_PROTO_MAX_HEADER - 16, 0xee);
	assert_int_equal(proxy_proto_parse(buf, n, &a), PROXY_PROTO_MAX_HEADER);
	assert_int_equal(proxy_proto_parse(buf, n - 1, &a), -2);
	n = test_pp_v2(buf, 0x20, 0x00, PROXY_PROTO_MAX_HEADER - 15, 0xee);
	assert_int_equal(proxy_proto_parse(buf, 16, &a), -1);

	/* TCP4 with TLVs filling the cap: 4080 = 12 + 3 + 4065 */
	n = test_pp_v2(buf, 0x21, 0x11, PROXY_PROTO_MAX_HEADER - 16, 0);
	buf[16 + 12] = 0xe0;
	buf[16 + 13] = (uint8_t)(4065 >> 8);
	buf[16 + 14] = (uint8_t)(4065 & 0xff);
	assert_int_equal(proxy_proto_parse(buf, n, &a), PROXY_PROTO_MAX_HEADER);
	assert_int_equal(a.family, AF_INET);
	buf[16 + 14]++;
	assert_int_equal(proxy_proto_parse(buf, n, &a), -1);
}

/* A flipped byte anywhere in the v2 signature is refused right there. */
static void
test_v2_signature(void **state)
{
	char	buf[16];
	size_t	i;

	(void)state;
	for (i = 0; i < 12; i++) {
		memcpy(buf, SIG "\x21\x00\x00\x00", 16);
		buf[i] = (char)(buf[i] ^ 0x80);
		assert_int_equal(test_pp_refused_at(buf, 16), i + 1);
	}
}

struct test_pp_rt {
	const char	*src, *dst;
	int		 saf, daf;
	unsigned	 sport, dport;
	const char	*v1;	/* expected v1 line */
	int		 paf;	/* family parsed back */
	const char	*psrc, *pdst;
};

static const struct test_pp_rt test_pp_rts[] = {
	{ "192.0.2.1", "198.51.100.7", AF_INET, AF_INET, 51234, 8080,
	  "PROXY TCP4 192.0.2.1 198.51.100.7 51234 8080\r\n",
	  AF_INET, "192.0.2.1", "198.51.100.7" },
	{ "0.0.0.0", "255.255.255.255", AF_INET, AF_INET, 0, 65535,
	  "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n",
	  AF_INET, "0.0.0.0", "255.255.255.255" },
	{ "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe",
	  AF_INET6, AF_INET6, 1, 443,
	  "PROXY TCP6 2001:db8::1 2001:db8:ffff:ffff:ffff:ffff:ffff:fffe "
	  "1 443\r\n",
	  AF_INET6, "2001:db8::1", "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe" },
	{ FFFF8, FFFF8, AF_INET6, AF_INET6, 65535, 65535,
	  "PROXY TCP6 " FFFF8 " " FFFF8 " 65535 65535\r\n",
	  AF_INET6, FFFF8, FFFF8 },
	{ "::1", "::", AF_INET6, AF_INET6, 5, 6,
	  "PROXY TCP6 ::1 :: 5 6\r\n", AF_INET6, "::1", "::" },
	/* one of each: the IPv4 side goes IPv4-mapped */
	{ "192.0.2.1", "2001:db8::2", AF_INET, AF_INET6, 40000, 80,
	  "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 40000 80\r\n",
	  AF_INET6, "::ffff:192.0.2.1", "2001:db8::2" },
	{ "2001:db8::2", "10.1.2.3", AF_INET6, AF_INET, 80, 40000,
	  "PROXY TCP6 2001:db8::2 ::ffff:10.1.2.3 80 40000\r\n",
	  AF_INET6, "2001:db8::2", "::ffff:10.1.2.3" },
};

/* v1 and v2 for one address pair: exact v1 text, both parse back, every
 * smaller capacity is refused. */
static void
test_pp_roundtrip_one(const struct test_pp_rt *t)
{
	struct sockaddr_storage	s, d;
	struct proxy_proto_addr	a;
	char			line[PROXY_PROTO_V1_MAX];
	uint8_t			bin[PROXY_PROTO_V2_MAX_ENC];
	size_t			cap;
	int			n;

	test_pp_sockaddr(t->src, t->sport, t->saf, &s);
	test_pp_sockaddr(t->dst, t->dport, t->daf, &d);
	n = proxy_proto_encode_v1((struct sockaddr *)&s,
	    (struct sockaddr *)&d, line, sizeof(line));
	assert_int_equal(n, (int)strlen(t->v1));
	assert_memory_equal(line, t->v1, (size_t)n);
	assert_int_equal(proxy_proto_parse((uint8_t *)line, (size_t)n, &a), n);
	assert_int_equal(a.family, t->paf);
	test_pp_same(&a.src, t->psrc, t->sport, t->paf);
	test_pp_same(&a.dst, t->pdst, t->dport, t->paf);
	for (cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(proxy_proto_encode_v1((struct sockaddr *)&s,
		    (struct sockaddr *)&d, line, cap), -1);

	n = proxy_proto_encode_v2((struct sockaddr *)&s,
	    (struct sockaddr *)&d, bin, sizeof(bin));
	assert_int_equal(n, t->paf == AF_INET ? 28 : 52);
	assert_int_equal(proxy_proto_parse(bin, (size_t)n, &a), n);
	assert_int_equal(a.family, t->paf);
	assert_int_equal(a.version, 2);
	test_pp_same(&a.src, t->psrc, t->sport, t->paf);
	test_pp_same(&a.dst, t->pdst, t->dport, t->paf);
	for (cap = 0; cap < (size_t)n; cap++)
		assert_int_equal(proxy_proto_encode_v2((struct sockaddr *)&s,
		    (struct sockaddr *)&d, bin, cap), -1);
}

static void
test_roundtrip(void **state)
{
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(test_pp_rts) / sizeof(test_pp_rts[0]); i++) {
		test_pp_name = test_pp_rts[i].v1;
		test_pp_roundtrip_one(&test_pp_rts[i]);
	}
}

/* A Unix-socket client (or no address at all) goes out as UNKNOWN /
 * UNSPEC, which the backend answers by using the connection's ends. */
static void
test_encode_unspec(void **state)
{
	static const uint8_t	v2[] = SIG "\x21\x00\x00\x00";
	struct sockaddr_un	un;
	struct sockaddr_storage	in4;
	struct proxy_proto_addr	a;
	char			line[PROXY_PROTO_V1_MAX];
	uint8_t			bin[PROXY_PROTO_V2_MAX_ENC];
	const struct sockaddr	*pairs[][2] = {
		{ (struct sockaddr *)&un, (struct sockaddr *)&un },
		{ (struct sockaddr *)&in4, (struct sockaddr *)&un },
		{ NULL, (struct sockaddr *)&in4 },
		{ NULL, NULL },
	};
	size_t			i;

	(void)state;
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/wsgate.sock");
	test_pp_sockaddr("127.0.0.1", 8080, AF_INET, &in4);
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		assert_int_equal(proxy_proto_encode_v1(pairs[i][0],
		    pairs[i][1], line, sizeof(line)), 15);
		assert_memory_equal(line, "PROXY UNKNOWN\r\n", 15);
		assert_int_equal(proxy_proto_parse((uint8_t *)line, 15, &a),
		    15);
		assert_int_equal(a.family, AF_UNSPEC);
		assert_int_equal(proxy_proto_encode_v2(pairs[i][0],
		    pairs[i][1], bin, sizeof(bin)), 16);
		assert_memory_equal(bin, v2, 16);
		assert_int_equal(proxy_proto_parse(bin, 16, &a), 16);
		assert_int_equal(a.family, AF_UNSPEC);
		assert_int_equal(proxy_proto_encode_v1(pairs[i][0],
		    pairs[i][1], line, 14), -1);
		assert_int_equal(proxy_proto_encode_v2(pairs[i][0],
		    pairs[i][1], bin, 15), -1);
	}
}

/* Inputs end at a PROT_NONE page: nothing is read past len. */
static void
test_guard_page(void **state)
{
	struct proxy_proto_addr	 a;
	long			 pg = sysconf(_SC_PAGESIZE);
	uint8_t			*map, *p;
	size_t			 i, k;
	int			 rc;

	(void)state;
	map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (i = 0; i < sizeof(test_pp_valid) / sizeof(test_pp_valid[0]);
	    i++) {
		const struct test_pp_vec *v = &test_pp_valid[i];

		test_pp_name = v->name;
		for (k = 0; k <= v->len; k++) {
			p = map + pg - k;
			memcpy(p, v->s, k);
			rc = proxy_proto_parse(p, k, &a);
			PP_EQ(rc, k == v->len ? (int)k : -2);
		}
	}
	for (i = 0; i < sizeof(test_pp_invalid) / sizeof(test_pp_invalid[0]);
	    i++) {
		const struct test_pp_vec *v = &test_pp_invalid[i];

		for (k = 0; k <= v->len; k++) {
			p = map + pg - k;
			memcpy(p, v->s, k);
			rc = proxy_proto_parse(p, k, &a);
			assert_true(rc == -1 || rc == -2);
		}
	}
	assert_int_equal(munmap(map, 2 * (size_t)pg), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_whole),
		cmocka_unit_test(test_valid_prefixes),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_refused_early),
		cmocka_unit_test(test_v1_length_limit),
		cmocka_unit_test(test_v2_sizes),
		cmocka_unit_test(test_v2_signature),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_encode_unspec),
		cmocka_unit_test(test_guard_page),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
