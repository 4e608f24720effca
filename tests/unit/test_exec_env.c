/*
 * Unit tests for exec_env: the whole environment for a real Chromium-like
 * request compared entry by entry (websocketd's names and meanings),
 * header names mapped and filtered, repeats joined, Host forms, PATH_INFO
 * decoding, pass-through and set entries from the route, the default
 * PATH; argv splitting with quotes and its errors.
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

#include "exec_env.h"

static const char test_head[] =
    "GET /calc/sub/a%20b%00c?x=1&y=%41 HTTP/1.1\r\n"
    "Host: gw.example:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "X-Foo-Bar:  one \r\n"
    "Proxy: http://evil:1/\r\n"
    "X_Sneaky: 1\r\n"
    "x-foo-bar: two\r\n"
    "Cookie: a=b\r\n"
    "\r\n";

static void
test_env_init(struct exec_env_req *r, const char *head, size_t len,
    const char *target, bool https)
{
	memset(r, 0, sizeof(*r));
	r->remote_addr = "127.0.0.1";
	r->remote_port = "40000";
	r->target = target;
	r->target_len = strlen(target);
	r->script_name = "/calc";
	r->https = https;
	r->unique_id = "42";
	r->software = "wsgate/0.1.0";
	r->head = head;
	r->head_len = len;
}

static void
test_whole_env(void **state)
{
	static const char *const want[] = {
		"SERVER_SOFTWARE=wsgate/0.1.0",
		"GATEWAY_INTERFACE=CGI/1.1",
		"SERVER_PROTOCOL=HTTP/1.1",
		"REQUEST_METHOD=GET",
		"SERVER_NAME=gw.example",
		"SERVER_PORT=8080",
		"REMOTE_ADDR=127.0.0.1",
		"REMOTE_HOST=127.0.0.1",
		"REMOTE_PORT=40000",
		"REQUEST_URI=/calc/sub/a%20b%00c?x=1&y=%41",
		"SCRIPT_NAME=/calc",
		"PATH_INFO=/sub/a b%00c",
		"PATH_TRANSLATED=/calc/sub/a b%00c",
		"QUERY_STRING=x=1&y=%41",
		"UNIQUE_ID=42",
		"AUTH_TYPE=",
		"CONTENT_LENGTH=",
		"CONTENT_TYPE=",
		"REMOTE_IDENT=",
		"REMOTE_USER=",
		"HTTP_HOST=gw.example:8080",
		"HTTP_UPGRADE=websocket",
		"HTTP_CONNECTION=Upgrade",
		"HTTP_SEC_WEBSOCKET_KEY=dGhlIHNhbXBsZSBub25jZQ==",
		"HTTP_SEC_WEBSOCKET_VERSION=13",
		"HTTP_X_FOO_BAR=one, two",
		"HTTP_COOKIE=a=b",
		"LANG=C.UTF-8",
		"GREETING=hello world",
		"PATH=/usr/local/bin:/usr/bin:/bin",
		NULL,
	};
	static const char *const spec[] = { "LANG", "UNSET_HERE",
	    "GREETING=hello world", "REMOTE_ADDR=1.2.3.4", "SECRET" };
	static const char *const parent[] = { "HOME=/root", "LANG=C.UTF-8",
	    "SECRET=s3", "LANGUAGE=xx", NULL };
	struct exec_env_req r;
	char **env;
	size_t i;

	(void)state;
	test_env_init(&r, test_head, sizeof(test_head) - 1,
	    "/calc/sub/a%20b%00c?x=1&y=%41", false);
	env = exec_env_build(&r, spec, 4, parent);
	assert_non_null(env);
	for (i = 0; want[i] != NULL; i++) {
		if (env[i] == NULL)
			fail_msg("missing %s", want[i]);
		assert_string_equal(env[i], want[i]);
	}
	assert_null(env[i]);
	assert_int_equal(exec_vec_len(env), i);
	free(env);
}

static const char *
test_getenv(char **env, const char *name)
{
	size_t	n = strlen(name), i;

	for (i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static void
test_host_forms(void **state)
{
	static const struct {
		const char *host;
		bool https;
		const char *name, *port;
	} v[] = {
		{ "Host: a.example\r\n", false, "a.example", "80" },
		{ "Host: a.example\r\n", true, "a.example", "443" },
		{ "Host: [::1]:9000\r\n", false, "::1", "9000" },
		{ "Host: [::1]\r\n", true, "::1", "443" },
		{ "Host: 10.0.0.1:1\r\n", false, "10.0.0.1", "1" },
		{ "", false, "", "80" },
	};
	char head[256];
	struct exec_env_req r;
	char **env;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(head, sizeof(head), "GET / HTTP/1.1\r\n%s\r\n",
		    v[i].host);
		test_env_init(&r, head, strlen(head), "/", v[i].https);
		r.script_name = "";
		env = exec_env_build(&r, NULL, 0, NULL);
		assert_non_null(env);
		assert_string_equal(test_getenv(env, "SERVER_NAME"),
		    v[i].name);
		assert_string_equal(test_getenv(env, "SERVER_PORT"),
		    v[i].port);
		assert_string_equal(test_getenv(env, "PATH_INFO"), "/");
		assert_string_equal(test_getenv(env, "QUERY_STRING"), "");
		if (v[i].https)
			assert_string_equal(test_getenv(env, "HTTPS"), "on");
		else
			assert_null(test_getenv(env, "HTTPS"));
		free(env);
	}
}

/* PATH passed through wins over the default; nothing else of the
 * parent leaks in. */
static void
test_passthrough(void **state)
{
	static const char *const parent[] = { "PATH=/opt/bin", "HOME=/x",
	    NULL };
	static const char *const spec[] = { "PATH" };
	struct exec_env_req r;
	char **env;

	(void)state;
	test_env_init(&r, test_head, sizeof(test_head) - 1, "/calc", false);
	env = exec_env_build(&r, spec, 1, parent);
	assert_string_equal(test_getenv(env, "PATH"), "/opt/bin");
	assert_null(test_getenv(env, "HOME"));
	assert_null(test_getenv(env, "HTTP_PROXY"));
	assert_null(test_getenv(env, "HTTP_X_SNEAKY"));
	assert_string_equal(test_getenv(env, "PATH_INFO"), "");
	free(env);
}

/* found by fuzz_exec_env: a NUL in a value split the vector (the parser
 * refuses such requests; the builder must not depend on it) */
static void
test_nul_in_value(void **state)
{
	static const char head[] = "GET /a\0b HTTP/1.1\r\nX-A: 1\0 2\r\n\r\n";
	struct exec_env_req r;
	char **env;
	size_t i;

	(void)state;
	test_env_init(&r, head, sizeof(head) - 1, "/calc", false);
	r.target = "/a\0b\r";
	r.target_len = 5;
	env = exec_env_build(&r, NULL, 0, NULL);
	assert_string_equal(test_getenv(env, "REQUEST_URI"), "/a b ");
	assert_string_equal(test_getenv(env, "HTTP_X_A"), "1  2");
	for (i = 0; env[i] != NULL; i++)
		assert_non_null(strchr(env[i], '='));
	free(env);
}

static void
test_argv(void **state)
{
	static const struct {
		const char *in;
		const char *want[5];
	} v[] = {
		{ "/usr/bin/bc -q", { "/usr/bin/bc", "-q" } },
		{ "  /bin/sh  -c  'echo a  b'  ", { "/bin/sh", "-c",
		    "echo a  b" } },
		{ "/bin/echo \"a \\\"q\\\" \\\\ \\n\" x", { "/bin/echo",
		    "a \"q\" \\ \\n", "x" } },
		{ "/bin/echo '' \"\"", { "/bin/echo", "", "" } },
		{ "/bin/echo a'b'\"c\"", { "/bin/echo", "abc" } },
		{ "/bin/cat", { "/bin/cat" } },
	};
	char err[256], **a;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		a = exec_argv_parse(v[i].in, err, sizeof(err));
		if (a == NULL)
			fail_msg("'%s': %s", v[i].in, err);
		for (j = 0; v[i].want[j] != NULL; j++)
			assert_string_equal(a[j], v[i].want[j]);
		assert_null(a[j]);
		free(a);
	}
	assert_null(exec_argv_parse("", err, sizeof(err)));
	assert_string_equal(err, "no program");
	assert_null(exec_argv_parse("bc -q", err, sizeof(err)));
	assert_string_equal(err, "program 'bc' is not an absolute path");
	assert_null(exec_argv_parse("/bin/sh -c 'x", err, sizeof(err)));
	assert_string_equal(err, "unterminated ' quote");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_env),
		cmocka_unit_test(test_host_forms),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_nul_in_value),
		cmocka_unit_test(test_argv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
