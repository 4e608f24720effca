/*
 * Unit tests for target: token source values and allow_targets rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target.h"

/* Parse text (copied to an exact-size heap buffer: ASan sees overreads). */
static int
parse(const char *text, struct token_target *t, const char **why)
{
	size_t	 n = strlen(text);
	char	*copy = malloc(n + 1);
	int	 r;

	assert_non_null(copy);
	memcpy(copy, text, n);
	r = target_parse_value(copy, n, t, why);
	free(copy);
	return r;
}

static void
assert_tcp(const char *text, const char *host, unsigned port)
{
	struct token_target t;
	const char	*why = NULL;

	if (parse(text, &t, &why) != 0)
		fail_msg("%s: %s", text, why);
	assert_int_equal(t.kind, TOKEN_FILE_TCP);
	assert_string_equal(t.host, host);
	assert_int_equal(t.port, port);
	target_clear(&t);
}

static void
assert_unix(const char *text, const char *path)
{
	struct token_target t;
	const char	*why = NULL;

	if (parse(text, &t, &why) != 0)
		fail_msg("%s: %s", text, why);
	assert_int_equal(t.kind, TOKEN_FILE_UNIX);
	assert_string_equal(t.path, path);
	target_clear(&t);
}

static void
assert_bad(const char *text)
{
	struct token_target t;
	const char	*why = NULL;

	if (parse(text, &t, &why) == 0)
		fail_msg("accepted: %s", text);
	assert_non_null(why);
	assert_null(t.host);
	assert_null(t.path);
}

static void
test_plain_values(void **state)
{
	(void)state;
	assert_tcp("127.0.0.1:5900", "127.0.0.1", 5900);
	assert_tcp("  vnc.internal:5901\r\n", "vnc.internal", 5901);
	assert_tcp("[::1]:22", "::1", 22);
	assert_tcp("2001:db8::7:5901", "2001:db8::7", 5901);
	assert_unix("unix_socket:/run/vm.sock", "/run/vm.sock");
	assert_unix("unix:/run/vm.sock\n", "/run/vm.sock");
	assert_bad("");
	assert_bad(" \n");
	assert_bad("host");
	assert_bad("host:0");
	assert_bad("host:65536");
	assert_bad("ho st:1");
	assert_bad("unix_socket:relative");
	assert_bad("[::1:22");
}

static void
test_json_values(void **state)
{
	(void)state;
	/* websockify TokenRedis */
	assert_tcp("{\"host\": \"10.0.0.5:5900\"}", "10.0.0.5", 5900);
	assert_tcp(" {\"host\":\"[::1]:7\", \"other\": [1,2]}\n", "::1", 7);
	assert_unix("{\"host\": \"unix_socket:/run/a.sock\"}", "/run/a.sock");
	/* JSONTokenApi */
	assert_tcp("{\"host\": \"h.example\", \"port\": 5900}", "h.example",
	    5900);
	assert_tcp("{\"host\": \"h\", \"port\": \"22\"}", "h", 22);
	assert_tcp("{\"host\": \"2001:db8::1\", \"port\": 443}", "2001:db8::1",
	    443);
	assert_unix("{\"unix_socket\": \"/run/b.sock\", \"exp\": 5}",
	    "/run/b.sock");
	assert_bad("{\"unix_socket\": \"rel\"}");
	assert_bad("{\"unix_socket\": 5}");
	assert_bad("{\"host\": \"h\", \"port\": 0}");
	assert_bad("{\"host\": \"h\", \"port\": 65536}");
	assert_bad("{\"host\": \"h\", \"port\": \"-1\"}");
	assert_bad("{\"host\": \"h\", \"port\": 5.5}");
	assert_bad("{\"host\": \"h\"}");		/* no port anywhere */
	assert_bad("{\"host\": 5}");
	assert_bad("{\"port\": 5}");
	assert_bad("{\"host\": \"a:1\", \"host\": \"b:2\"}");	/* duplicate */
	assert_bad("{\"host\": \"a\\u0000b:1\"}");	/* NUL inside */
	assert_bad("[\"a:1\"]");
	assert_bad("{\"host\": \"a:1\"");
	assert_bad("{\"host\": \"a:1\"} trailing");
}

static void
test_value_limits(void **state)
{
	char	*big;
	char	 nul[] = "a:1\0b";
	struct token_target t;
	const char *why;

	(void)state;
	big = malloc(TARGET_MAX_VALUE + 8);
	assert_non_null(big);
	memset(big, 'a', TARGET_MAX_VALUE + 7);
	big[TARGET_MAX_VALUE + 7] = '\0';
	assert_bad(big);
	free(big);
	assert_int_equal(target_parse_value(nul, sizeof(nul) - 1, &t, &why), -1);
}

static void
assert_rule(const char *rule, int ok)
{
	const char	*why = NULL;

	if ((target_rule_check(rule, &why) == 0) != ok)
		fail_msg("%s: %s", rule, ok ? why : "accepted");
}

static void
test_rules_syntax(void **state)
{
	(void)state;
	assert_rule("127.0.0.1:5900", 1);
	assert_rule("10.0.0.0/8:5900-5999", 1);
	assert_rule("*:*", 1);
	assert_rule("vnc.internal:*", 1);
	assert_rule("[::1]:22", 1);
	assert_rule("[2001:db8::/32]:1-65535", 1);
	assert_rule("unix:/run/vnc/*", 1);
	assert_rule("unix:/run/vnc/a.sock", 1);
	assert_rule("", 0);
	assert_rule("host", 0);
	assert_rule("host:", 0);
	assert_rule("host:0", 0);
	assert_rule("host:5-4", 0);
	assert_rule("host:1-65536", 0);
	assert_rule("host:x", 0);
	assert_rule("10.0.0.0/33:1", 0);
	assert_rule("[::1/129]:1", 0);
	assert_rule("[::1]", 0);
	assert_rule("bad host:1", 0);
	assert_rule("unix:relative", 0);
	assert_rule("unix:/run/*/x", 0);
	assert_rule("unix:/run/../etc/*", 0);
	assert_rule("unix:/run*", 0);
}

static int
allowed(const char *value, const char *const *rules, size_t n)
{
	struct token_target t;
	struct target_rules *rs;
	const char	*why;
	char		*v[8];
	size_t		 i;
	int		 r;

	assert_true(n <= 8);
	for (i = 0; i < n; i++)
		assert_non_null(v[i] = strdup(rules[i]));
	if (target_parse_value(value, strlen(value), &t, &why) != 0)
		fail_msg("%s: %s", value, why);
	assert_int_equal(target_rules_new(v, n, &rs), 0);
	assert_true((rs == NULL) == (n == 0));
	r = target_allowed(&t, rs);
	target_rules_free(rs);
	target_clear(&t);
	for (i = 0; i < n; i++)
		free(v[i]);
	return r;
}

static void
test_rules_match(void **state)
{
	static const char *const rules[] = {
		"10.1.0.0/16:5900-5999", "[fd00::/8]:22", "VNC.Internal:5900",
		"unix:/run/vnc/*", "unix:/tmp/one.sock",
	};
	const size_t	 n = sizeof(rules) / sizeof(rules[0]);
	static const char *const any[] = { "*:443" };

	(void)state;
	assert_true(allowed("10.1.2.3:5900", rules, n));
	assert_true(allowed("10.1.255.255:5999", rules, n));
	assert_false(allowed("10.2.0.1:5900", rules, n));
	assert_false(allowed("10.1.2.3:6000", rules, n));
	assert_true(allowed("[fd12::1]:22", rules, n));
	assert_false(allowed("[fe80::1]:22", rules, n));
	assert_true(allowed("vnc.internal:5900", rules, n));
	assert_false(allowed("vnc.internal:5901", rules, n));
	/* A name is never taken for an address in a network rule. */
	assert_false(allowed("localhost:5900", rules, n));
	assert_true(allowed("unix_socket:/run/vnc/a.sock", rules, n));
	assert_false(allowed("unix_socket:/run/vnc/sub/a.sock", rules, n));
	assert_false(allowed("unix_socket:/run/vnc/../x.sock", rules, n));
	assert_false(allowed("unix_socket:/run/vnc//a.sock", rules, n));
	assert_false(allowed("unix_socket:/run/vnc/", rules, n));
	assert_true(allowed("unix_socket:/tmp/one.sock", rules, n));
	assert_false(allowed("unix_socket:/tmp/two.sock", rules, n));
	/* A TCP rule never allows a socket, nor the reverse. */
	assert_true(allowed("anything:443", any, 1));
	assert_false(allowed("unix_socket:/run/x", any, 1));
	/* No rules: everything. */
	assert_true(allowed("unix_socket:/etc/x", rules, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_values),
		cmocka_unit_test(test_json_values),
		cmocka_unit_test(test_value_limits),
		cmocka_unit_test(test_rules_syntax),
		cmocka_unit_test(test_rules_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
