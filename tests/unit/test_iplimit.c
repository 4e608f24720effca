/*
 * test_iplimit: per-address counts and token buckets, with made-up clocks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"
#include "iplimit.h"

static struct sockaddr_storage
v4(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, a, &in->sin_addr);
	return ss;
}

static struct sockaddr_storage
v6(const char *a)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	in6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, a, &in6->sin6_addr);
	return ss;
}

#define SA(ss)	((struct sockaddr *)&(ss))

static void
test_connection_counts(void **state)
{
	struct sockaddr_storage a = v4("192.0.2.1"), b = v4("192.0.2.2");
	struct sockaddr_storage mapped = v6("::ffff:192.0.2.1");

	(void)state;
	assert_int_equal(iplimit_acquire(SA(a), 0), 0);	/* no limit */
	assert_int_equal(iplimit_acquire(SA(a), 2), 1);
	assert_int_equal(iplimit_acquire(SA(mapped), 2), 1);	/* same one */
	assert_int_equal(iplimit_acquire(SA(a), 2), -1);
	assert_int_equal(iplimit_acquire(SA(b), 2), 1);
	assert_int_equal(iplimit_conns(SA(a)), 2);
	assert_int_equal(iplimit_conns(SA(mapped)), 2);
	assert_int_equal(iplimit_conns(SA(b)), 1);
	iplimit_release(SA(a));
	assert_int_equal(iplimit_conns(SA(a)), 1);
	assert_int_equal(iplimit_acquire(SA(a), 2), 1);
	iplimit_release(SA(a));
	iplimit_release(SA(a));
	iplimit_release(SA(b));
	assert_int_equal(iplimit_tracked(), 0);	/* nothing left behind */
	assert_int_equal(iplimit_conns(SA(a)), 0);
}

static void
test_unix_clients_are_not_limited(void **state)
{
	struct sockaddr_un sun;

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(iplimit_acquire((struct sockaddr *)&sun, 1), 0);
	assert_true(iplimit_rate_ok((struct sockaddr *)&sun, 1, 1, 0));
}

static void
test_token_bucket(void **state)
{
	struct sockaddr_storage a = v6("2001:db8::1"), b = v6("2001:db8::2");
	uint64_t t = 1000000;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_true(iplimit_rate_ok(SA(a), 5, 5, t));
	assert_false(iplimit_rate_ok(SA(a), 5, 5, t));
	assert_true(iplimit_rate_ok(SA(b), 5, 5, t));	/* its own bucket */
	assert_false(iplimit_rate_ok(SA(a), 5, 5, t + 100));	/* 0.5 token */
	assert_true(iplimit_rate_ok(SA(a), 5, 5, t + 200));	/* 1 token */
	assert_false(iplimit_rate_ok(SA(a), 5, 5, t + 200));
	/* A long pause refills up to the burst, no more. */
	for (i = 0; i < 5; i++)
		assert_true(iplimit_rate_ok(SA(a), 5, 5, t + 60000));
	assert_false(iplimit_rate_ok(SA(a), 5, 5, t + 60000));
	assert_true(iplimit_rate_ok(SA(a), 0, 0, t));		/* no limit */
}

/*
 * Two workers read the clock at different moments, so a handshake may come
 * with a time a little before the bucket's last refill. That is no time at
 * all, not a wrap to an almost endless one that fills the bucket again
 * (five more handshakes got through in the same millisecond), and the
 * sweep must not forget the spent bucket for it either.
 */
static void
test_token_bucket_time_from_a_worker_behind(void **state)
{
	struct sockaddr_storage a = v6("2001:db8::7");
	uint64_t t = 2000000;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		assert_true(iplimit_rate_ok(SA(a), 5, 5, t));
	assert_false(iplimit_rate_ok(SA(a), 5, 5, t - 3));
	for (i = 0; i < 2 * 4096; i++)		/* a sweep of every chain */
		assert_false(iplimit_rate_ok(SA(a), 5, 5, t - 2));
	assert_false(iplimit_rate_ok(SA(a), 5, 5, t));
	assert_true(iplimit_rate_ok(SA(a), 5, 5, t + 200));	/* 1 token */
}

static void
test_idle_addresses_are_forgotten(void **state)
{
	struct sockaddr_storage ss;
	char a[32];
	uint64_t t = 5000000;
	int i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		snprintf(a, sizeof(a), "198.51.100.%d", i % 250);
		ss = v4(a);
		iplimit_rate_ok(SA(ss), 10, 10, t);
	}
	assert_true(iplimit_tracked() > 0);
	/* Much later every bucket is full again: sweeps drop them all. */
	for (i = 0; i < 2 * 4096; i++) {
		ss = v4("203.0.113.1");
		iplimit_rate_ok(SA(ss), 10, 10, t + 3600000 + (uint64_t)i * 1000);
	}
	assert_true(iplimit_tracked() <= 1);
}

/* The networks of a trusted_proxies line, parsed as config does. */
static size_t
nets(struct addr_cidr *out, size_t max, const char *const *v)
{
	size_t	n;

	for (n = 0; n < max && v[n] != NULL; n++)
		assert_int_equal(addr_cidr_parse(v[n], strlen(v[n]), 0,
		    &out[n]), 0);
	return n;
}

/* Is sa inside the one network text? */
static bool
in_net(struct sockaddr_storage *sa, const char *text)
{
	struct addr_cidr c;

	assert_int_equal(addr_cidr_parse(text, strlen(text), 0, &c), 0);
	return iplimit_trusted(SA(*sa), &c, 1);
}

static void
test_cidr(void **state)
{
	struct sockaddr_storage a = v4("10.1.2.3"), b = v6("2001:db8::5");
	struct sockaddr_storage m = v6("::ffff:10.9.9.9");
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	static const char *const all[] = { "0.0.0.0/0", "::/0", NULL };
	struct addr_cidr any[2];

	(void)state;
	assert_true(in_net(&a, "10.0.0.0/8"));
	assert_true(in_net(&m, "10.0.0.0/8"));	/* v4-mapped is IPv4 */
	assert_false(in_net(&m, "::ffff:0:0/96"));
	assert_false(in_net(&a, "10.1.2.0/31"));
	assert_true(in_net(&a, "10.1.2.2/31"));
	assert_true(in_net(&b, "2001:db8::/32"));
	assert_false(in_net(&b, "10.0.0.0/8"));
	assert_true(in_net(&a, "0.0.0.0/0"));
	/* Unix peers are never a trusted proxy. */
	assert_false(iplimit_trusted((struct sockaddr *)&sun, any,
	    nets(any, 2, all)));
}

/* One header line's value as the span iplimit_forwarded_for() takes. */
static struct iplimit_span
span(const char *s)
{
	struct iplimit_span sp = { s, strlen(s) };

	return sp;
}

static bool
is_v4(const struct sockaddr_storage *sa, const char *addr)
{
	struct sockaddr_storage want = v4(addr);

	return sa->ss_family == AF_INET &&
	    memcmp(&((const struct sockaddr_in *)(const void *)sa)->sin_addr,
	    &((struct sockaddr_in *)(void *)&want)->sin_addr, 4) == 0;
}

static void
test_forwarded_for(void **state)
{
	static const char *const text[] = { "10.0.0.0/8", "192.0.2.1", NULL };
	struct addr_cidr trusted[2];
	struct sockaddr_storage sa = v4("10.0.0.1");
	struct iplimit_span one = span("198.51.100.1, 203.0.113.9, 192.0.2.1");

	(void)state;
	nets(trusted, 2, text);
	/* Proxies are skipped from the right; the first other is the client
	 * (a client-supplied 198.51.100.1 on the left is not believed). */
	assert_true(iplimit_forwarded_for(&sa, &one, 1, trusted, 2));
	assert_true(is_v4(&sa, "203.0.113.9"));
	/* From an untrusted peer the header means nothing. */
	sa = v4("203.0.113.50");
	assert_false(iplimit_forwarded_for(&sa, &one, 1, trusted, 2));
	/* Garbage stops the walk at the last good address. */
	sa = v4("10.0.0.1");
	one = span("not-an-ip");
	assert_false(iplimit_forwarded_for(&sa, &one, 1, trusted, 2));
	assert_true(in_net(&sa, "10.0.0.1/32"));
	/* No lines: nothing changes. */
	assert_false(iplimit_forwarded_for(&sa, NULL, 0, trusted, 2));
	assert_true(iplimit_trusted(SA(sa), trusted, 2));
	assert_false(iplimit_trusted(SA(sa), trusted, 0));
}

/*
 * Issue 11 item 7: several X-Forwarded-For lines are one list (RFC 9110
 * §5.3), walked right to left across lines: behind two proxies the
 * session belongs to the client, not to the inner proxy.
 */
static void
test_forwarded_for_lines(void **state)
{
	static const char *const text[] = { "10.0.0.0/8", "192.0.2.1", NULL };
	struct addr_cidr trusted[2];
	struct sockaddr_storage sa = v4("10.0.0.1");
	struct iplimit_span two[] = { span("203.0.113.9"), span("10.9.9.9") };
	struct iplimit_span three[] = { span("198.51.100.1"),
	    span(" 203.0.113.9 , "), span(""), span("10.2.2.2, 192.0.2.1") };
	struct iplimit_span deep[] = { span("203.0.113.9"), span("10.1.1.1"),
	    span("10.2.2.2") };

	(void)state;
	nets(trusted, 2, text);
	assert_true(iplimit_forwarded_for(&sa, two, 2, trusted, 2));
	assert_true(is_v4(&sa, "203.0.113.9"));
	/* Empty lines and entries are skipped; the walk stops at the first
	 * untrusted address, so the left line is never believed. */
	sa = v4("10.0.0.1");
	assert_true(iplimit_forwarded_for(&sa, three, 4, trusted, 2));
	assert_true(is_v4(&sa, "203.0.113.9"));
	/* Only trusted addresses to the left end: the leftmost reached. */
	sa = v4("10.0.0.1");
	assert_true(iplimit_forwarded_for(&sa, deep + 1, 2, trusted, 2));
	assert_true(is_v4(&sa, "10.1.1.1"));
	sa = v4("10.0.0.1");
	assert_true(iplimit_forwarded_for(&sa, deep, 3, trusted, 2));
	assert_true(is_v4(&sa, "203.0.113.9"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_counts),
		cmocka_unit_test(test_cidr),
		cmocka_unit_test(test_forwarded_for),
		cmocka_unit_test(test_forwarded_for_lines),
		cmocka_unit_test(test_unix_clients_are_not_limited),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_token_bucket_time_from_a_worker_behind),
		cmocka_unit_test(test_idle_addresses_are_forgotten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
