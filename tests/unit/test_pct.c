/*
 * test_pct: percent-decoding, strict (pct_decode) and by escape
 * (pct_byte), inputs cut at every length.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "pct.h"

static void
test_byte(void **state)
{
	(void)state;
	assert_int_equal(pct_byte("%41", 3), 'A');
	assert_int_equal(pct_byte("%7e", 3), '~');
	assert_int_equal(pct_byte("%7E", 3), '~');
	assert_int_equal(pct_byte("%ff", 3), 255);
	assert_int_equal(pct_byte("%00", 3), 0);
	assert_int_equal(pct_byte("%4", 2), -1);	/* cut */
	assert_int_equal(pct_byte("%41", 2), -1);
	assert_int_equal(pct_byte("%g1", 3), -1);
	assert_int_equal(pct_byte("%1g", 3), -1);
	assert_int_equal(pct_byte("%+1", 3), -1);
	assert_int_equal(pct_byte("A41", 3), -1);
	assert_int_equal(pct_byte("", 0), -1);
}

static void
test_decode(void **state)
{
	static const struct {
		const char *in;
		unsigned flags;
		const char *out;	/* NULL: refused */
	} v[] = {
		{ "abc", 0, "abc" }, { "", 0, "" }, { "a%20b", 0, "a b" },
		{ "a+b", 0, "a+b" }, { "a+b", PCT_PLUS_SPACE, "a b" },
		{ "%2B", PCT_PLUS_SPACE, "+" }, { "%e2%82%ac", 0, "\xe2\x82\xac" },
		{ "%", 0, NULL }, { "%2", 0, NULL }, { "a%zz", 0, NULL },
		{ "%00", 0, NULL }, { "a%2", 0, NULL },
	};
	char out[16];
	size_t i, k, n;
	long r;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i].in);
		r = pct_decode(v[i].in, n, v[i].flags, out, sizeof(out));
		if (v[i].out == NULL) {
			assert_int_equal(r, -1);
			continue;
		}
		assert_int_equal(r, (long)strlen(v[i].out));
		assert_string_equal(out, v[i].out);
		for (k = 0; k < n; k++)		/* every cut: in bounds */
			(void)pct_decode(v[i].in, k, v[i].flags, out,
			    sizeof(out));
	}
}

static void
test_room(void **state)
{
	char out[4];

	(void)state;
	assert_int_equal(pct_decode("abc", 3, 0, out, 4), 3);
	assert_int_equal(pct_decode("abcd", 4, 0, out, 4), -1);
	assert_int_equal(pct_decode("%41%41%41", 9, 0, out, 4), 3);
	assert_int_equal(pct_decode("%41%41%41%41", 12, 0, out, 4), -1);
	assert_int_equal(pct_decode("", 0, 0, out, 1), 0);
	assert_int_equal(pct_decode("", 0, 0, out, 0), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_byte),
		cmocka_unit_test(test_decode),
		cmocka_unit_test(test_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
