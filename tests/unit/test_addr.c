/*
 * test_addr: the one address parser. Every vector is parsed from the end
 * of a guarded page (a read past the slice faults), whole and cut at every
 * length, and every byte of the valid ones is replaced by every value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"

static char	*page;		/* two pages, the second PROT_NONE */
static size_t	 pagesz;

/* s[0..n) copied to end exactly at the guard page. */
static const char *
guarded(const char *s, size_t n)
{
	char	*p = page + pagesz - n;

	memcpy(p, s, n);
	return p;
}

static int
setup(void **state)
{
	(void)state;
	pagesz = (size_t)sysconf(_SC_PAGESIZE);
	page = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(page != MAP_FAILED);
	assert_int_equal(mprotect(page + pagesz, pagesz, PROT_NONE), 0);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return munmap(page, 2 * pagesz);
}

struct hp_vec {
	const char	*s;
	unsigned	 flags;
	enum addr_err	 err;
	const char	*host;		/* ADDR_OK: expected host, or NULL */
	uint16_t	 port;
	int		 family;	/* literal's family, 0: a name */
};

#define HO	ADDR_HP_HOST_OPTIONAL
#define ZO	ADDR_HP_ZONE
#define BV	ADDR_HP_BARE_V6

static const struct hp_vec hp_vecs[] = {
	{ "example.com:80", 0, ADDR_OK, "example.com", 80, 0 },
	{ "h:1", 0, ADDR_OK, "h", 1, 0 },
	{ "h:65535", 0, ADDR_OK, "h", 65535, 0 },
	{ "h:00080", 0, ADDR_OK, "h", 80, 0 },
	{ "a_b-c.d:22", 0, ADDR_OK, "a_b-c.d", 22, 0 },
	{ "127.0.0.1:5900", 0, ADDR_OK, "127.0.0.1", 5900, AF_INET },
	{ "[::1]:8080", 0, ADDR_OK, "::1", 8080, AF_INET6 },
	{ "[2001:db8::1]:443", 0, ADDR_OK, "2001:db8::1", 443, AF_INET6 },
	{ "[::ffff:1.2.3.4]:1", 0, ADDR_OK, "::ffff:1.2.3.4", 1, AF_INET6 },
	{ "[fe80::1%eth0]:22", ZO, ADDR_OK, "fe80::1%eth0", 22, 0 },
	{ "[fe80::1%eth0]:22", 0, ADDR_E_V6, NULL, 0, 0 },
	{ "[fe80::1%]:22", ZO, ADDR_E_V6, NULL, 0, 0 },
	{ "[fe80::1%e/0]:22", ZO, ADDR_E_V6, NULL, 0, 0 },
	{ "[fe80::1%123456789012345]:22", ZO, ADDR_OK,
	    "fe80::1%123456789012345", 22, 0 },
	{ "[fe80::1%1234567890123456]:22", ZO, ADDR_E_V6, NULL, 0, 0 },
	{ "::1:5900", BV, ADDR_OK, "::1", 5900, AF_INET6 },
	{ "::1:5900", 0, ADDR_E_V6_BARE, NULL, 0, 0 },
	{ "1:2:3:5900", BV, ADDR_E_HOST, NULL, 0, 0 },
	{ "8080", HO, ADDR_OK, NULL, 8080, 0 },
	{ "*:8080", HO, ADDR_OK, NULL, 8080, 0 },
	{ "*:8080", 0, ADDR_E_HOST, NULL, 0, 0 },
	{ "[::]:80", HO, ADDR_OK, "::", 80, AF_INET6 },
	{ "8080", 0, ADDR_E_NOPORT, NULL, 0, 0 },
	{ "h", 0, ADDR_E_NOPORT, NULL, 0, 0 },
	{ "", 0, ADDR_E_NOPORT, NULL, 0, 0 },
	{ "", HO, ADDR_E_PORT_EMPTY, NULL, 0, 0 },
	{ "h:", 0, ADDR_E_PORT_EMPTY, NULL, 0, 0 },
	{ "h:0", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "h:65536", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "h:99999999999999999999", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "h:-1", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "h:+1", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "h: 1", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "h:80x", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ ":80", 0, ADDR_E_HOST, NULL, 0, 0 },
	{ ":80", HO, ADDR_E_HOST, NULL, 0, 0 },
	{ "bad!host:22", 0, ADDR_E_HOST, NULL, 0, 0 },
	{ "h x:22", 0, ADDR_E_HOST, NULL, 0, 0 },
	{ "h/x:22", 0, ADDR_E_HOST, NULL, 0, 0 },
	{ "[::1", 0, ADDR_E_BRACKET, NULL, 0, 0 },
	{ "[::1]", 0, ADDR_E_NOPORT, NULL, 0, 0 },
	{ "[::1]x80", 0, ADDR_E_NOPORT, NULL, 0, 0 },
	{ "[::1]:", 0, ADDR_E_PORT_EMPTY, NULL, 0, 0 },
	{ "[::g]:22", 0, ADDR_E_V6, NULL, 0, 0 },
	{ "[]:22", 0, ADDR_E_V6, NULL, 0, 0 },
	{ "[1.2.3.4]:22", 0, ADDR_E_V6, NULL, 0, 0 },
	{ "[::1]:0", 0, ADDR_E_PORT, NULL, 0, 0 },
	{ "1.2.3:80", 0, ADDR_OK, "1.2.3", 80, 0 },	/* a name */
	{ "01.2.3.4:80", 0, ADDR_OK, "01.2.3.4", 80, 0 }, /* not octal */
};

static void
hp_check(const struct hp_vec *v, const char *s, size_t n)
{
	struct addr_hostport hp;
	enum addr_err e;

	e = addr_hostport_parse(s, n, v->flags, &hp);
	if (e != v->err)
		fail_msg("'%s' flags %u: error %d, want %d", v->s, v->flags,
		    (int)e, (int)v->err);
	if (e != ADDR_OK)
		return;
	assert_int_equal(hp.port, v->port);
	if (v->host == NULL) {
		assert_null(hp.host);
	} else {
		assert_int_equal(hp.hostlen, strlen(v->host));
		assert_memory_equal(hp.host, v->host, hp.hostlen);
		/* A slice of the input, never a copy. */
		assert_true(hp.host >= s && hp.host + hp.hostlen <= s + n);
	}
	assert_int_equal(hp.literal, v->family != 0);
	if (v->family != 0)
		assert_int_equal(hp.ip.family, v->family);
}

static void
test_hostport(void **state)
{
	size_t i, n;
	struct addr_hostport hp;

	(void)state;
	for (i = 0; i < sizeof(hp_vecs) / sizeof(hp_vecs[0]); i++) {
		n = strlen(hp_vecs[i].s);
		hp_check(&hp_vecs[i], guarded(hp_vecs[i].s, n), n);
	}
	/* Cut at every length: never a read past the end, never a crash. */
	for (i = 0; i < sizeof(hp_vecs) / sizeof(hp_vecs[0]); i++)
		for (n = 0; n <= strlen(hp_vecs[i].s); n++)
			(void)addr_hostport_parse(guarded(hp_vecs[i].s, n), n,
			    hp_vecs[i].flags, &hp);
}

/* The literal's bytes are the ones inet_pton gives. */
static void
test_hostport_binary(void **state)
{
	struct addr_hostport hp;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct in6_addr want6;
	struct in_addr want4;

	(void)state;
	assert_int_equal(addr_hostport_parse("[2001:db8::7]:443", 17, 0, &hp),
	    ADDR_OK);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", &want6), 1);
	assert_int_equal(addr_ip_to_sockaddr(&hp.ip, hp.port, &ss),
	    sizeof(*sin6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 443);
	assert_memory_equal(&sin6->sin6_addr, &want6, 16);
	assert_int_equal(addr_hostport_parse("192.0.2.9:7", 11, 0, &hp),
	    ADDR_OK);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.9", &want4), 1);
	assert_int_equal(addr_ip_to_sockaddr(&hp.ip, hp.port, &ss),
	    sizeof(*sin));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 7);
	assert_memory_equal(&sin->sin_addr, &want4, 4);
}

/* Every byte of each valid vector replaced by every value: no crash, and
 * whatever is accepted is accepted again from its own parts. */
static void
test_hostport_mutations(void **state)
{
	struct addr_hostport hp, again;
	char buf[64], back[80];
	size_t i, k, n;
	int c;

	(void)state;
	for (i = 0; i < sizeof(hp_vecs) / sizeof(hp_vecs[0]); i++) {
		if (hp_vecs[i].err != ADDR_OK)
			continue;
		n = strlen(hp_vecs[i].s);
		for (k = 0; k < n; k++)
			for (c = 0; c < 256; c++) {
				memcpy(buf, hp_vecs[i].s, n);
				buf[k] = (char)c;
				if (addr_hostport_parse(guarded(buf, n), n,
				    hp_vecs[i].flags, &hp) != ADDR_OK ||
				    hp.host == NULL)
					continue;
				snprintf(back, sizeof(back), hp.bracketed ?
				    "[%.*s]:%u" : "%.*s:%u", (int)hp.hostlen,
				    hp.host, hp.port);
				assert_int_equal(addr_hostport_parse(back,
				    strlen(back), hp_vecs[i].flags, &again),
				    ADDR_OK);
				assert_int_equal(again.port, hp.port);
				assert_int_equal(again.literal, hp.literal);
			}
	}
}

static void
test_port(void **state)
{
	static const struct { const char *s; int ok; uint16_t v; } v[] = {
		{ "1", 1, 1 }, { "65535", 1, 65535 }, { "080", 1, 80 },
		{ "0000000000443", 1, 443 }, { "0", 0, 0 }, { "65536", 0, 0 },
		{ "", 0, 0 }, { "-1", 0, 0 }, { "+1", 0, 0 }, { "1 ", 0, 0 },
		{ "4294967377", 0, 0 },		/* 2^32 + 81: no wrap */
	};
	uint16_t port;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i].s);
		port = 7;
		assert_int_equal(addr_port_parse(guarded(v[i].s, n), n, &port),
		    v[i].ok ? 0 : -1);
		assert_int_equal(port, v[i].ok ? v[i].v : 7);
	}
}

static void
test_name(void **state)
{
	char long_name[ADDR_HOST_MAX + 2];

	(void)state;
	assert_true(addr_name_ok("a", 1));
	assert_true(addr_name_ok("A-z_0.9", 7));
	assert_false(addr_name_ok("", 0));
	assert_false(addr_name_ok("a b", 3));
	assert_false(addr_name_ok("a:b", 3));
	assert_false(addr_name_ok("\xc3\xa9", 2));	/* no IDN: punycode */
	memset(long_name, 'a', sizeof(long_name));
	assert_true(addr_name_ok(guarded(long_name, ADDR_HOST_MAX),
	    ADDR_HOST_MAX));
	assert_false(addr_name_ok(guarded(long_name, ADDR_HOST_MAX + 1),
	    ADDR_HOST_MAX + 1));
}

static void
test_ip(void **state)
{
	static const struct { const char *s; int family, want; } v[] = {
		{ "0.0.0.0", 0, AF_INET }, { "255.255.255.255", 0, AF_INET },
		{ "::", 0, AF_INET6 }, { "::ffff:1.2.3.4", 0, AF_INET6 },
		{ "1.2.3.4", AF_INET6, -1 }, { "::1", AF_INET, -1 },
		{ "256.1.1.1", 0, -1 }, { "1.2.3", 0, -1 }, { "01.2.3.4", 0, -1 },
		{ "1.2.3.4 ", 0, -1 }, { " ::1", 0, -1 }, { "::1%lo", 0, -1 },
		{ "", 0, -1 }, { "[::1]", 0, -1 },
		/* 45 bytes, the longest text form, and 46. */
		{ "0000:0000:0000:0000:0000:ffff:255.255.255.255", 0, AF_INET6 },
		{ "0000:0000:0000:0000:0000:ffff:255.255.255.255:", 0, -1 },
	};
	struct addr_ip ip;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i].s);
		if (addr_ip_parse(guarded(v[i].s, n), n, v[i].family, &ip) ==
		    -1) {
			if (v[i].want != -1)
				fail_msg("'%s' refused", v[i].s);
		} else if (ip.family != v[i].want)
			fail_msg("'%s': family %d, want %d", v[i].s, ip.family,
			    v[i].want);
	}
	/* A NUL inside the slice is not the end of it. */
	assert_int_equal(addr_ip_parse("::1\0x", 5, 0, &ip), -1);
}

static void
test_cidr(void **state)
{
	static const struct { const char *s; int ok; unsigned bits; } v[] = {
		{ "10.0.0.0/8", 1, 8 }, { "2001:db8::/32", 1, 32 },
		{ "127.0.0.1", 1, 32 }, { "::1", 1, 128 }, { "0.0.0.0/0", 1, 0 },
		{ "::/128", 1, 128 }, { "10.0.0.0/08", 1, 8 },
		{ "10.0.0.0/33", 0, 0 }, { "::/129", 0, 0 }, { "10.0.0.0/", 0, 0 },
		{ "10.0.0.0/-1", 0, 0 }, { "10.0.0.0/+8", 0, 0 },
		{ "10.0.0.0/ 8", 0, 0 }, { "10.0.0.0/0008", 0, 0 },
		{ "10.0.0.0/8/8", 0, 0 }, { "example.com/8", 0, 0 },
		{ "/8", 0, 0 }, { "", 0, 0 },
	};
	struct addr_cidr c;
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i].s);
		if (addr_cidr_parse(guarded(v[i].s, n), n, 0, &c) != (v[i].ok ?
		    0 : -1))
			fail_msg("'%s': want %s", v[i].s, v[i].ok ? "ok" :
			    "refused");
		if (v[i].ok)
			assert_int_equal(c.bits, v[i].bits);
		while (n-- > 0)		/* every cut: in bounds */
			(void)addr_cidr_parse(guarded(v[i].s, n), n, 0, &c);
	}
	assert_int_equal(addr_cidr_parse("10.0.0.0/8", 10, AF_INET6, &c), -1);
	assert_int_equal(addr_cidr_parse("::/8", 4, AF_INET, &c), -1);
}

static struct addr_ip
ip_of(const char *s)
{
	struct addr_ip ip;

	assert_int_equal(addr_ip_parse(s, strlen(s), 0, &ip), 0);
	return ip;
}

static struct addr_cidr
net_of(const char *s)
{
	struct addr_cidr c;

	assert_int_equal(addr_cidr_parse(s, strlen(s), 0, &c), 0);
	return c;
}

static void
test_match(void **state)
{
	struct addr_cidr c;
	struct addr_ip ip;

	(void)state;
	c = net_of("10.1.2.2/31");
	ip = ip_of("10.1.2.3");
	assert_true(addr_cidr_match(&c, &ip));
	ip = ip_of("10.1.2.4");
	assert_false(addr_cidr_match(&c, &ip));
	c = net_of("10.1.2.99/24");	/* host bits ignored */
	ip = ip_of("10.1.2.3");
	assert_true(addr_cidr_match(&c, &ip));
	c = net_of("0.0.0.0/0");
	assert_true(addr_cidr_match(&c, &ip));
	ip = ip_of("::1");
	assert_false(addr_cidr_match(&c, &ip));	/* families differ */
	c = net_of("2001:db8::/33");
	ip = ip_of("2001:db8:7fff::1");
	assert_true(addr_cidr_match(&c, &ip));
	ip = ip_of("2001:db8:8000::1");
	assert_false(addr_cidr_match(&c, &ip));
	c = net_of("::1");
	ip = ip_of("::1");
	assert_true(addr_cidr_match(&c, &ip));
	ip = ip_of("::2");
	assert_false(addr_cidr_match(&c, &ip));
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct addr_ip ip, mapped = ip_of("::ffff:10.9.8.7"), four;

	(void)state;
	/* v4-mapped peers are the IPv4 address they carry. */
	(void)addr_ip_to_sockaddr(&mapped, 9, &ss);
	assert_int_equal(addr_ip_from_sockaddr((struct sockaddr *)&ss, &ip),
	    0);
	four = ip_of("10.9.8.7");
	assert_int_equal(ip.family, AF_INET);
	assert_memory_equal(ip.b, four.b, 4);
	(void)addr_ip_to_sockaddr(&four, 9, &ss);
	assert_int_equal(addr_ip_from_sockaddr((struct sockaddr *)&ss, &ip),
	    0);
	assert_memory_equal(ip.b, four.b, 4);
	assert_int_equal(addr_ip_from_sockaddr((struct sockaddr *)&sun, &ip),
	    -1);
	ip = ip_of("127.255.0.1");
	assert_true(addr_ip_loopback(&ip));
	ip = ip_of("::1");
	assert_true(addr_ip_loopback(&ip));
	ip = ip_of("128.0.0.1");
	assert_false(addr_ip_loopback(&ip));
	ip = ip_of("::");
	assert_false(addr_ip_loopback(&ip));
	assert_false(addr_unix_path_fits(0));
	assert_true(addr_unix_path_fits(sizeof(sun.sun_path) - 1));
	assert_false(addr_unix_path_fits(sizeof(sun.sun_path)));
}

/* Splits without checks: websockify's last ':' and a Host header's. */
static void
test_splits(void **state)
{
	static const struct {
		const char *s, *host, *port;
		bool colon;
	} last[] = {
		{ "h:80", "h", "80", true }, { "[::1]:80", "::1", "80", true },
		{ "::1:80", "::1", "80", true }, { "80", "", "80", false },
		{ ":80", "", "80", true }, { "[]:80", "", "80", true },
		{ "h:", "h", "", true }, { "", "", "", false },
	}, auth[] = {
		{ "h:80", "h", "80", true }, { "h", "h", "", false },
		{ "[::1]:8080", "[::1]", "8080", true },
		{ "[::1]", "[::1]", "", false }, { "[::1]x", "[::1]", "", false },
		{ "[::1", "[::1", "", false }, { "a:b:c", "a", "b:c", true },
		{ ":80", "", "80", true }, { "", "", "", false },
	};
	const char *h, *port;
	size_t i, hl, pl, n;

	(void)state;
	for (i = 0; i < sizeof(last) / sizeof(last[0]); i++) {
		n = strlen(last[i].s);
		assert_int_equal(addr_split(guarded(last[i].s, n), n, &h, &hl,
		    &port, &pl), last[i].colon);
		assert_int_equal(hl, strlen(last[i].host));
		assert_memory_equal(h, last[i].host, hl);
		assert_int_equal(pl, strlen(last[i].port));
		assert_memory_equal(port, last[i].port, pl);
	}
	for (i = 0; i < sizeof(auth) / sizeof(auth[0]); i++) {
		n = strlen(auth[i].s);
		addr_authority_split(guarded(auth[i].s, n), n, &h, &hl, &port,
		    &pl);
		assert_int_equal(hl, strlen(auth[i].host));
		assert_memory_equal(h, auth[i].host, hl);
		assert_int_equal(pl, strlen(auth[i].port));
		assert_memory_equal(port, auth[i].port, pl);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_hostport_binary),
		cmocka_unit_test(test_hostport_mutations),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_ip),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_splits),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
