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
	iplimit_release(SA(a));
	assert_int_equal(iplimit_acquire(SA(a), 2), 1);
	iplimit_release(SA(a));
	iplimit_release(SA(a));
	iplimit_release(SA(b));
	assert_int_equal(iplimit_tracked(), 0);	/* nothing left behind */
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_counts),
		cmocka_unit_test(test_unix_clients_are_not_limited),
		cmocka_unit_test(test_token_bucket),
		cmocka_unit_test(test_idle_addresses_are_forgotten),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
