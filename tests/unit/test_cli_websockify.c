/*
 * Unit tests for cli_websockify: websockify's command line read as
 * websockify (optparse) reads it, and the gateway.conf text it becomes,
 * which config_parse_string must accept.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_websockify.h"
#include "config.h"

#define ARGV(...)	((const char *[]){ "websockify", __VA_ARGS__, NULL })
#define ARGC(v)		(argc_of(v))

static int
argc_of(const char **v)
{
	int	n = 0;

	while (v[n] != NULL)
		n++;
	return n;
}

static char	errbuf[512];

static int
parse(const char **v, struct cli_ws *o)
{
	return cli_ws_parse(ARGC(v), v, o, errbuf, sizeof(errbuf));
}

/* Parse and render v; the text must load as a config. Caller frees. */
static char *
render(const char **v, struct config **cfg)
{
	struct cli_ws	 o;
	char		*text, err[4096];

	if (parse(v, &o) != 0)
		fail_msg("parse: %s", errbuf);
	text = cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf));
	if (text == NULL)
		fail_msg("render: %s", errbuf);
	if (config_parse_string(text, "cmdline", cfg, err, sizeof(err)) != 0)
		fail_msg("config: %s\n%s", err, text);
	return text;
}

static void
test_wanted(void **state)
{
	(void)state;
	assert_true(cli_ws_wanted(2, (const char *[]){ "/usr/bin/websockify",
	    "-h", NULL }));
	assert_false(cli_ws_wanted(3, (const char *[]){ "wsgate", "-c", "x.conf",
	    NULL }));
	assert_false(cli_ws_wanted(3, (const char *[]){ "wsgate", "-dv",
	    "--config=x", NULL }));
	assert_true(cli_ws_wanted(3, (const char *[]){ "wsgate", "-d", "8080",
	    NULL }));
	assert_true(cli_ws_wanted(2, (const char *[]){ "wsgate", "--web=/x", NULL }));
	assert_true(cli_ws_wanted(2, (const char *[]){ "wsgate", "--print-config",
	    NULL }));
}

static void
test_forms(void **state)
{
	struct cli_ws	o;

	(void)state;
	/* --opt=value, --opt value, prefixes, options after positionals. */
	assert_int_equal(parse(ARGV("6080", "--web", "/srv", "h:1",
	    "--heartbeat=5", "--idle-t", "7", "-vD"), &o), 0);
	assert_string_equal(o.listen, "6080");
	assert_string_equal(o.target, "h:1");
	assert_string_equal(o.web, "/srv");
	assert_int_equal(o.heartbeat, 5);
	assert_int_equal(o.idle_timeout, 7);
	assert_int_equal(o.verbose, 1);
	assert_true(o.daemon);
	/* -- ends the options: the wrapped program, no target. */
	assert_int_equal(parse(ARGV("5901", "--", "prog", "-v", "--x"), &o), 0);
	assert_int_equal(o.wrap_argc, 3);
	assert_string_equal(o.wrap_argv[1], "-v");
	assert_null(o.target);
	/* --unix-listen / --inetd take no listen argument. */
	assert_int_equal(parse(ARGV("--unix-listen=/s", "h:2"), &o), 0);
	assert_null(o.listen);
	assert_string_equal(o.target, "h:2");
}

static void
test_refusals(void **state)
{
	struct cli_ws	o;

	(void)state;
	assert_int_equal(parse(ARGV("--no-such", "1", "h:1"), &o), -1);
	assert_non_null(strstr(errbuf, "no such option: --no-such"));
	assert_int_equal(parse(ARGV("--ver", "1", "h:1"), &o), -1);
	assert_non_null(strstr(errbuf, "ambiguous"));
	assert_int_equal(parse(ARGV("1", "h:1", "--web"), &o), -1);
	assert_non_null(strstr(errbuf, "requires an argument"));
	assert_int_equal(parse(ARGV("1"), &o), -1);
	assert_non_null(strstr(errbuf, "Too few"));
	assert_int_equal(parse(ARGV("1", "h:1", "x"), &o), -1);
	assert_non_null(strstr(errbuf, "Too many"));
	assert_int_equal(parse(ARGV("--timeout=x", "1", "h:1"), &o), -1);
	assert_int_equal(parse(ARGV("--ssl-version=sslv3", "1", "h:1"), &o),
	    -1);
	assert_int_equal(parse(ARGV("--token-source=x", "1", "h:1"), &o), -1);
	assert_non_null(strstr(errbuf, "--token-plugin"));
	assert_int_equal(parse(ARGV("--web-auth", "--web=/", "1", "h:1"), &o),
	    -1);
	assert_int_equal(parse(ARGV("--run-once=1", "1", "h:1"), &o), -1);
	assert_non_null(strstr(errbuf, "does not take a value"));
}

static void
test_render_plain(void **state)
{
	struct config	*cfg;
	char		*t;

	(void)state;
	t = render(ARGV("[::1]:6080", "::1:5900", "--web", "tmp",
	    "--heartbeat", "0", "--timeout", "30", "--run-once", "-v"), &cfg);
	assert_int_equal(cfg->nlistens, 1);
	assert_string_equal(cfg->listens[0].host, "::1");
	assert_false(cfg->listens[0].tls);
	assert_int_equal(cfg->nroutes, 1);
	assert_string_equal(cfg->routes[0].backends[0].spec, "tcp:[::1]:5900");
	assert_string_equal(cfg->routes[0].root == NULL ? "" :
	    cfg->routes[0].root, "/tmp");
	free(t);
	config_free(cfg);
}

static void
test_render_tls(void **state)
{
	struct cli_ws	 o;
	struct config	*cfg;
	char		*t, notes[1024];

	(void)state;
	/* --cert without --ssl-only: one port, TLS and plain. */
	assert_int_equal(parse(ARGV("--cert=c.pem", "8443", "h:1"), &o), 0);
	t = cli_ws_render(&o, "/d", notes, sizeof(notes), errbuf,
	    sizeof(errbuf));
	assert_non_null(t);
	assert_non_null(strstr(t, "listen = 8443 tls auto\n"));
	assert_non_null(strstr(t, "certificate = /d/c.pem\n"));
	assert_non_null(strstr(t, "private_key = /d/c.pem\n"));
	free(t);
	/* No --cert: no TLS, whatever files exist; a note says so. */
	assert_int_equal(parse(ARGV("--key=k.pem", "8443", "h:1"), &o), 0);
	t = cli_ws_render(&o, "/d", notes, sizeof(notes), errbuf,
	    sizeof(errbuf));
	assert_non_null(t);
	assert_null(strstr(t, "[tls]"));
	assert_non_null(strstr(notes, "self.pem"));
	free(t);
	/* --key-password: a warning about ps. */
	assert_int_equal(parse(ARGV("--ssl-only", "--key-password=pw", "1",
	    "h:1", "--ssl-target"), &o), 0);
	t = cli_ws_render(&o, "/d", notes, sizeof(notes), errbuf,
	    sizeof(errbuf));
	assert_non_null(t);
	assert_non_null(strstr(t, "listen = 1 tls\n"));
	assert_non_null(strstr(t, "certificate = /d/self.pem\n"));
	assert_non_null(strstr(t, "private_key_password = pass:pw\n"));
	assert_non_null(strstr(t, "backend = tls:h:1\n"));
	assert_non_null(strstr(notes, "ps"));
	assert_int_equal(config_parse_string(t, "c", &cfg, errbuf,
	    sizeof(errbuf)), 0);
	assert_int_equal(cfg->listens[0].tls, 1);
	config_free(cfg);
	free(t);
}

static void
test_render_refusals(void **state)
{
	struct cli_ws	o;

	(void)state;
	assert_int_equal(parse(ARGV("--token-plugin=my.Plugin",
	    "--token-source=x", "1"), &o), 0);
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "my.Plugin"));
	/* A Redis password never comes from a command line. */
	assert_int_equal(parse(ARGV("--token-plugin=TokenRedis",
	    "--token-source=r:1:2:pw", "1"), &o), 0);
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "redis_password_file"));
	/* A value gateway.conf cannot hold is refused, not cut. */
	assert_int_equal(parse(ARGV("--web=/a ;b", "1", "h:1"), &o), 0);
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
	assert_int_equal(parse(ARGV("--unix-listen=/s",
	    "--unix-listen-mode=9", "h:1"), &o), 0);
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
}

/* Every token and auth plugin of websockify, as its keys. */
static void
test_render_plugins(void **state)
{
	static const struct {
		const char	*plugin, *source, *want;
	} t[] = {
		{ "TokenFile", "t.txt", "token_file = /d/t.txt\n" },
		{ "ReadOnlyTokenFile", "/t", "token_file = /t\n" },
		{ "TokenFileName", "dir", "token_dir = /d/dir\n" },
		{ "UnixDomainSocketDirectory", "/run/s",
		    "token_socket_dir = /run/s\n" },
		{ "JWTTokenApi", "k.pem", "token_jwt_key_file = /d/k.pem\n" },
		{ "BaseTokenAPI", "http://h/%s", "token_api = http://h/%s\n" },
		{ "websockify.token_plugins.JSONTokenApi", "http://h/?t=%s",
		    "token_api = http://h/?t=%s\n" },
		{ "TokenRedis", "r", "redis = r:6379\n" },
		{ "TokenRedis", "r:6380:2::\"a:b\"",
		    "redis = r:6380\nredis_db = 2\ntoken_redis_prefix = a:b:\n" },
	};
	struct cli_ws	 o;
	char		*text, plug[128], src[128];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(plug, sizeof(plug), "--token-plugin=%s", t[i].plugin);
		snprintf(src, sizeof(src), "--token-source=%s", t[i].source);
		assert_int_equal(parse(ARGV(plug, src, "--host-token", "1"),
		    &o), 0);
		text = cli_ws_render(&o, "/d", NULL, 0, errbuf,
		    sizeof(errbuf));
		if (text == NULL || strstr(text, t[i].want) == NULL ||
		    strstr(text, "token_from = host\n") == NULL)
			fail_msg("%s %s: %s", t[i].plugin, t[i].source,
			    text != NULL ? text : errbuf);
		free(text);
	}
	assert_int_equal(parse(ARGV("--auth-plugin=BasicHTTPAuth",
	    "--auth-source=u:p", "1", "h:1"), &o), 0);
	text = cli_ws_render(&o, "/d", NULL, 0, errbuf, sizeof(errbuf));
	assert_non_null(strstr(text, "auth = basic\nbasic_auth = u:p\n"));
	free(text);
	assert_int_equal(parse(ARGV("--auth-plugin=ExpectOrigin",
	    "--auth-source=https://a http://b", "1", "h:1"), &o), 0);
	text = cli_ws_render(&o, "/d", NULL, 0, errbuf, sizeof(errbuf));
	assert_non_null(strstr(text, "origins = https://a http://b\n"
	    "origin_required = on\n"));
	free(text);
	assert_int_equal(parse(ARGV("--auth-plugin=ClientCertCNAuth",
	    "--auth-source=alice", "--cert=c", "1", "h:1"), &o), 0);
	text = cli_ws_render(&o, "/d", NULL, 0, errbuf, sizeof(errbuf));
	assert_non_null(strstr(text, "verify_client = optional\n"));
	assert_non_null(strstr(text, "allow_client_cn = alice\n"));
	free(text);
}

/* PORT -- PROGRAM ARGS: quoted so that wrap_split reads them back. */
static void
test_render_wrap(void **state)
{
	struct cli_ws	 o;
	struct config	*cfg;
	char		*t;

	(void)state;
	assert_int_equal(parse(ARGV("--wrap-mode=respawn", "[::1]:5901", "--",
	    "vnc", "a b", "it's", "x\"y"), &o), 0);
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "private port"));
	o.wrap_private_port = 15901;
	t = cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf));
	assert_non_null(t);
	assert_non_null(strstr(t, "wrap_command = vnc 'a b' \"it's\" "
	    "'x\"y'\nwrap_mode = respawn\nwrap_port = 5901\n"
	    "wrap_private_port = 15901\n"));
	assert_non_null(strstr(t, "backend = tcp:127.0.0.1:15901\n"));
	assert_int_equal(config_parse_string(t, "c", &cfg, errbuf,
	    sizeof(errbuf)), 0);
	config_free(cfg);
	free(t);
	/* inih would cut " ;" as a comment: refused. */
	assert_int_equal(parse(ARGV("1", "--", "sh", "a ;b"), &o), 0);
	o.wrap_private_port = 2;
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
	assert_int_equal(parse(ARGV("--inetd", "--", "x"), &o), 0);
	o.wrap_private_port = 2;
	assert_null(cli_ws_render(&o, "/", NULL, 0, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "TCP listen port"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wanted),
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_render_plain),
		cmocka_unit_test(test_render_tls),
		cmocka_unit_test(test_render_refusals),
		cmocka_unit_test(test_render_plugins),
		cmocka_unit_test(test_render_wrap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
