/*
 * Unit tests for record_fmt: byte for byte what websockify 0.10-0.13
 * writes with --record (latin1, unicode_escape, ' escaped).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "record_fmt.h"

static void
check(const char *in, size_t n, const char *want)
{
	char	out[RECORD_FMT_MAX(64) + 1];
	size_t	len = record_fmt_escape((const uint8_t *)in, n, out);

	out[len] = '\0';
	assert_string_equal(out, want);
}

static void
test_escape(void **state)
{
	(void)state;
	check("RFB 003.008\n", 12, "RFB 003.008\\n");
	check("a'b\\c\t\r", 7, "a\\'b\\\\c\\t\\r");
	check("\x00\x01\x1f\x7f\x80\xff", 6, "\\x00\\x01\\x1f\\x7f\\x80\\xff");
	check(" ~\"", 3, " ~\"");
	check("", 0, "");
}

static void
test_open(void **state)
{
	char	out[32];
	size_t	n;

	(void)state;
	n = record_fmt_open(out, 1, 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "'{0{", 4);
	n = record_fmt_open(out, 0, 123456);
	assert_memory_equal(out, "'}123456}", n);
}

/* Every byte value, checked against the rule: worst case 4 bytes out. */
static void
test_all_bytes(void **state)
{
	uint8_t	in[256];
	char	out[RECORD_FMT_MAX(256)];
	size_t	i, n;

	(void)state;
	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	n = record_fmt_escape(in, 256, out);
	assert_int_equal(record_fmt_escaped_len(in, 256), n);
	/* 95 printable, 4 two-byte escapes among them (\\ and \'), 3 more
	 * (\t \n \r), the other 158 bytes as \xhh. */
	assert_int_equal(n, 93 + 2 * 2 + 3 * 2 + 158 * 4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_all_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
