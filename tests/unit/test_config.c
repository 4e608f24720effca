/*
 * Unit tests for config: gateway.conf -> struct config.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char errbuf[8192];

/* Parse text; it must succeed. */
static struct config *
parse_ok(const char *text)
{
	struct config	*cfg = NULL;
	int		 r;

	r = config_parse_string(text, "t.conf", &cfg, errbuf, sizeof(errbuf));
	if (r != 0)
		fail_msg("unexpected error(s):\n%s\nfor:\n%s", errbuf, text);
	assert_non_null(cfg);
	assert_string_equal(errbuf, "");
	return cfg;
}

/* Parse text; it must fail with exactly want in the error buffer. */
static void
parse_err(const char *text, const char *want)
{
	struct config	*cfg = (struct config *)1;
	int		 r;

	r = config_parse_string(text, "t.conf", &cfg, errbuf, sizeof(errbuf));
	if (r != -1 || strcmp(errbuf, want) != 0)
		fail_msg("for:\n%s\nwant -1 and:\n%s\ngot %d and:\n%s", text,
		    want, r, errbuf);
	assert_null(cfg);
}

#define HEAD	"[gateway]\nlisten = 8080\n"		/* lines 1-2 */
#define ROUTE	"[route /]\nbackend = tcp:127.0.0.1:7\n"

/* The sample of DESIGN.md, every line kept, comments and all. */
static const char sample[] =
    "[gateway]\n"						/* 1 */
    "listen             = 0.0.0.0:8080          "
	"; repeatable; [::]:8080; unix:/run/wsgate.sock\n"
    "listen             = 0.0.0.0:8443 tls      ; wss on this one\n"
    "workers            = auto                  ; event-loop threads\n"
    "max_connections    = 100000\n"				/* 5 */
    "handshake_timeout  = 10s\n"
    "admin_listen       = 127.0.0.1:9090        ; /metrics /healthz /readyz\n"
    "log_level          = info                  ; error warn info debug\n"
    "log_format         = text                  ; text json\n"
    "\n"							/* 10 */
    "[tls]\n"
    "certificate        = /etc/wsgate/cert.pem\n"
    "private_key        = /etc/wsgate/key.pem\n"
    "\n"
    "[route /vnc]                               "		/* 15 */
	"; exact path; \"/vnc/*\" = prefix\n"
    "backend            = tcp:127.0.0.1:5900    "
	"; repeatable: round robin, failover on connect error\n"
    "backend            = unix:/run/vnc.sock\n"
    "origins            = https://app.example.com   "
	"; allow-list; absent = any origin\n"
    "subprotocols       = binary\n"
    "heartbeat_interval = 20s\n"				/* 20 */
    "heartbeat_timeout  = 10s\n"
    "idle_timeout       = 0                     ; 0 = none\n"
    "connect_timeout    = 5s\n"
    "max_message_size   = 16M\n";

static void
test_sample(void **state)
{
	struct config		*cfg = parse_ok(sample);
	struct config_route	*r;

	assert_string_equal(cfg->file, "t.conf");
	assert_int_equal(cfg->nlistens, 2);
	assert_int_equal(cfg->listens[0].kind, CONFIG_ADDR_TCP);
	assert_string_equal(cfg->listens[0].host, "0.0.0.0");
	assert_int_equal(cfg->listens[0].port, 8080);
	assert_false(cfg->listens[0].tls);
	assert_int_equal(cfg->listens[0].line, 2);
	assert_string_equal(cfg->listens[0].spec, "0.0.0.0:8080");
	assert_string_equal(cfg->listens[1].host, "0.0.0.0");
	assert_int_equal(cfg->listens[1].port, 8443);
	assert_true(cfg->listens[1].tls);
	assert_string_equal(cfg->listens[1].spec, "0.0.0.0:8443");
	assert_int_equal(cfg->listens[1].line, 3);
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->max_connections, 100000);
	assert_int_equal(cfg->handshake_timeout_ms, 10000);
	assert_int_equal(cfg->drain_timeout_ms, CONFIG_DEFAULT_DRAIN_TIMEOUT_MS);
	assert_int_equal(cfg->max_header_size, CONFIG_DEFAULT_MAX_HEADER_SIZE);
	assert_int_equal(cfg->max_buffer, CONFIG_DEFAULT_MAX_BUFFER);
	assert_string_equal(cfg->admin_listen, "127.0.0.1:9090");
	assert_int_equal(cfg->log_level, CONFIG_LOG_INFO);
	assert_int_equal(cfg->log_format, CONFIG_LOG_TEXT);
	assert_string_equal(cfg->tls_certificate, "/etc/wsgate/cert.pem");
	assert_string_equal(cfg->tls_private_key, "/etc/wsgate/key.pem");

	assert_int_equal(cfg->nroutes, 1);
	r = &cfg->routes[0];
	assert_string_equal(r->path, "/vnc");
	assert_false(r->prefix);
	assert_int_equal(r->line, 15);
	assert_int_equal(r->nbackends, 2);
	assert_int_equal(r->backends[0].kind, CONFIG_ADDR_TCP);
	assert_string_equal(r->backends[0].host, "127.0.0.1");
	assert_int_equal(r->backends[0].port, 5900);
	assert_string_equal(r->backends[0].spec, "tcp:127.0.0.1:5900");
	assert_int_equal(r->backends[0].line, 16);
	assert_int_equal(r->backends[1].kind, CONFIG_ADDR_UNIX);
	assert_string_equal(r->backends[1].path, "/run/vnc.sock");
	assert_null(r->backends[1].host);
	assert_int_equal(r->backends[1].line, 17);
	assert_int_equal(r->norigins, 1);
	assert_string_equal(r->origins[0], "https://app.example.com");
	assert_int_equal(r->nsubprotocols, 1);
	assert_string_equal(r->subprotocols[0], "binary");
	assert_int_equal(r->heartbeat_interval_ms, 20000);
	assert_int_equal(r->heartbeat_timeout_ms, 10000);
	assert_int_equal(r->idle_timeout_ms, 0);
	assert_int_equal(r->connect_timeout_ms, 5000);
	assert_int_equal(r->max_message_size, 16 * 1024 * 1024);
	config_free(cfg);
}

/* Every [gateway] key with a value other than its default. */
static void
test_gateway_keys(void **state)
{
	struct config	*cfg = parse_ok(
	    "[gateway]\n"
	    "listen = 8080\n"
	    "listen = [::]:8081\n"
	    "listen = unix:/run/x.sock\n"
	    "listen = 127.0.0.1:8443 tls\n"
	    "listen = *:99\n"
	    "workers = 256\n"
	    "max_connections = 10000000\n"
	    "handshake_timeout = 1500ms\n"
	    "drain_timeout = 0\n"
	    "max_header_size = 64K\n"
	    "max_buffer = 64M\n"
	    "admin_listen = off\n"
	    "admin_max_connections = 100000\n"
	    "log_level = debug\n"
	    "log_format = json\n"
	    "[tls]\n"
	    "certificate = /c.pem\n"
	    "private_key = /k.pem\n"
	    ROUTE);

	assert_int_equal(cfg->nlistens, 5);
	assert_null(cfg->listens[0].host);
	assert_int_equal(cfg->listens[0].port, 8080);
	assert_string_equal(cfg->listens[1].host, "::");
	assert_int_equal(cfg->listens[1].port, 8081);
	assert_int_equal(cfg->listens[2].kind, CONFIG_ADDR_UNIX);
	assert_string_equal(cfg->listens[2].path, "/run/x.sock");
	assert_string_equal(cfg->listens[2].spec, "unix:/run/x.sock");
	assert_string_equal(cfg->listens[3].host, "127.0.0.1");
	assert_true(cfg->listens[3].tls);
	assert_null(cfg->listens[4].host);
	assert_int_equal(cfg->listens[4].port, 99);
	assert_int_equal(cfg->workers, 256);
	assert_int_equal(cfg->max_connections, 10000000);
	assert_int_equal(cfg->handshake_timeout_ms, 1500);
	assert_int_equal(cfg->drain_timeout_ms, 0);
	assert_int_equal(cfg->max_header_size, 65536);
	assert_int_equal(cfg->max_buffer, 64 * 1024 * 1024);
	assert_int_equal(cfg->admin_max_connections, 100000);
	assert_null(cfg->admin_listen);
	assert_int_equal(cfg->log_level, CONFIG_LOG_DEBUG);
	assert_int_equal(cfg->log_format, CONFIG_LOG_JSON);
	assert_string_equal(cfg->tls_certificate, "/c.pem");
	assert_string_equal(cfg->tls_private_key, "/k.pem");
	config_free(cfg);

	cfg = parse_ok(HEAD "workers = 1\nlog_level = error\n"
	    "admin_listen = [::1]:9090\nmax_header_size = 1K\n"
	    "max_buffer = 4096\nmax_connections = 1\n" ROUTE);
	assert_int_equal(cfg->workers, 1);
	assert_int_equal(cfg->log_level, CONFIG_LOG_ERROR);
	assert_string_equal(cfg->admin_listen, "[::1]:9090");
	assert_int_equal(cfg->max_header_size, 1024);
	assert_int_equal(cfg->max_buffer, 4096);
	assert_int_equal(cfg->max_connections, 1);
	config_free(cfg);

	cfg = parse_ok(HEAD "log_level = warn\n" ROUTE);
	assert_int_equal(cfg->log_level, CONFIG_LOG_WARN);
	config_free(cfg);

	cfg = parse_ok(HEAD "drain_delay = 5s\nadmin_token_file = /a.key\n"
	    "token_id_key_file = /t.key\n" ROUTE);
	assert_int_equal(cfg->drain_delay_ms, 5000);
	assert_string_equal(cfg->admin_token_file, "/a.key");
	assert_string_equal(cfg->token_id_key_file, "/t.key");
	config_free(cfg);
	cfg = parse_ok(HEAD ROUTE);
	assert_int_equal(cfg->drain_delay_ms, 0);
	assert_null(cfg->admin_token_file);
	assert_null(cfg->token_id_key_file);
	config_free(cfg);
	parse_err(HEAD "drain_delay = 2h\n" ROUTE,
	    "t.conf:3: drain_delay: '2h' out of range (0..1h)");
	parse_err(HEAD "drain_delay = 1s\ndrain_delay = 2s\n" ROUTE,
	    "t.conf:4: drain_delay: already set at line 3");

	cfg = parse_ok(HEAD "redis = 127.0.0.1:6379\nlimits_scope = fleet\n"
	    ROUTE);
	assert_int_equal(cfg->limits_scope, 1);
	config_free(cfg);
	cfg = parse_ok(HEAD "limits_scope = local\n" ROUTE);
	assert_int_equal(cfg->limits_scope, 0);
	config_free(cfg);
	parse_err(HEAD "limits_scope = fleet\n" ROUTE,
	    "t.conf:3: limits_scope = fleet needs redis in [gateway]");
	parse_err(HEAD "limits_scope = world\n" ROUTE,
	    "t.conf:3: limits_scope: bad value 'world' (use local, fleet)");
}

/* A minimal file gets every built-in default. */
static void
test_defaults(void **state)
{
	struct config		*cfg = parse_ok(HEAD ROUTE);
	struct config_route	*r = &cfg->routes[0];

	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->max_connections, CONFIG_DEFAULT_MAX_CONNECTIONS);
	assert_int_equal(cfg->admin_max_connections,
	    CONFIG_DEFAULT_ADMIN_MAX_CONNECTIONS);
	assert_int_equal(cfg->handshake_timeout_ms,
	    CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_MS);
	assert_int_equal(cfg->drain_timeout_ms, CONFIG_DEFAULT_DRAIN_TIMEOUT_MS);
	assert_int_equal(cfg->max_header_size, CONFIG_DEFAULT_MAX_HEADER_SIZE);
	assert_int_equal(cfg->max_buffer, CONFIG_DEFAULT_MAX_BUFFER);
	assert_null(cfg->admin_listen);
	assert_int_equal(cfg->log_level, CONFIG_LOG_INFO);
	assert_int_equal(cfg->log_format, CONFIG_LOG_TEXT);
	assert_null(cfg->tls_certificate);
	assert_null(cfg->tls_private_key);
	assert_string_equal(r->path, "/");
	assert_false(r->prefix);
	assert_int_equal(r->line, 3);
	assert_int_equal(r->norigins, 0);
	assert_null(r->origins);
	assert_int_equal(r->nsubprotocols, 0);
	assert_int_equal(r->heartbeat_interval_ms,
	    CONFIG_DEFAULT_HEARTBEAT_INTERVAL_MS);
	assert_int_equal(r->heartbeat_timeout_ms,
	    CONFIG_DEFAULT_HEARTBEAT_TIMEOUT_MS);
	assert_int_equal(r->idle_timeout_ms, CONFIG_DEFAULT_IDLE_TIMEOUT_MS);
	assert_int_equal(r->connect_timeout_ms,
	    CONFIG_DEFAULT_CONNECT_TIMEOUT_MS);
	assert_int_equal(r->max_message_size, CONFIG_DEFAULT_MAX_MESSAGE_SIZE);
	config_free(cfg);
}

#define GW_DEFAULTS \
	"backend = tcp:gw:1\n" \
	"backend = unix:/gw.sock\n" \
	"origins = https://a.example, https://b.example\n" \
	"subprotocols = binary base64\n" \
	"heartbeat_interval = 0\n" \
	"heartbeat_timeout = 3s\n" \
	"idle_timeout = 1h\n" \
	"connect_timeout = 250ms\n" \
	"max_message_size = 0\n"

#define ROUTES \
	"[route /inherit]\n" \
	"[route /own/*]\n" \
	"backend = tcp:own:2\n" \
	"origins = *\n" \
	"subprotocols = chat\n" \
	"heartbeat_interval = 30s\n" \
	"heartbeat_timeout = 5s\n" \
	"idle_timeout = 2m\n" \
	"connect_timeout = 1s\n" \
	"max_message_size = 1K\n"

static void
check_inherited(struct config *cfg)
{
	struct config_route	*r;

	assert_int_equal(cfg->nroutes, 2);
	r = &cfg->routes[0];
	assert_string_equal(r->path, "/inherit");
	assert_int_equal(r->nbackends, 2);
	assert_string_equal(r->backends[0].host, "gw");
	assert_int_equal(r->backends[0].port, 1);
	assert_string_equal(r->backends[1].path, "/gw.sock");
	assert_int_equal(r->norigins, 2);
	assert_string_equal(r->origins[0], "https://a.example");
	assert_string_equal(r->origins[1], "https://b.example");
	assert_int_equal(r->nsubprotocols, 2);
	assert_string_equal(r->subprotocols[0], "binary");
	assert_string_equal(r->subprotocols[1], "base64");
	assert_int_equal(r->heartbeat_interval_ms, 0);
	assert_int_equal(r->heartbeat_timeout_ms, 3000);
	assert_int_equal(r->idle_timeout_ms, 3600000);
	assert_int_equal(r->connect_timeout_ms, 250);
	assert_int_equal(r->max_message_size, 0);

	/* Set in the route: replaces, never merges with, [gateway]. */
	r = &cfg->routes[1];
	assert_string_equal(r->path, "/own");
	assert_true(r->prefix);
	assert_int_equal(r->nbackends, 1);
	assert_string_equal(r->backends[0].host, "own");
	assert_int_equal(r->norigins, 1);
	assert_string_equal(r->origins[0], "*");
	assert_int_equal(r->nsubprotocols, 1);
	assert_string_equal(r->subprotocols[0], "chat");
	assert_int_equal(r->heartbeat_interval_ms, 30000);
	assert_int_equal(r->heartbeat_timeout_ms, 5000);
	assert_int_equal(r->idle_timeout_ms, 120000);
	assert_int_equal(r->connect_timeout_ms, 1000);
	assert_int_equal(r->max_message_size, 1024);
}

static void
test_inherit_gateway_first(void **state)
{
	struct config	*cfg = parse_ok(HEAD GW_DEFAULTS ROUTES);

	check_inherited(cfg);
	assert_int_equal(cfg->routes[0].line, 12);
	config_free(cfg);
}

static void
test_inherit_gateway_last(void **state)
{
	struct config	*cfg = parse_ok(ROUTES HEAD GW_DEFAULTS);

	check_inherited(cfg);
	assert_int_equal(cfg->routes[0].line, 1);
	assert_int_equal(cfg->listens[0].line, 12);
	config_free(cfg);
}

/* [gateway] may come in pieces; the gateway keys are set once. */
static void
test_split_gateway(void **state)
{
	struct config	*cfg = parse_ok("[gateway]\nbackend = tcp:a:1\n"
	    "[route /x]\n[gateway]\nlisten = 1\n[route /y]\n");

	assert_int_equal(cfg->nroutes, 2);
	assert_string_equal(cfg->routes[1].backends[0].host, "a");
	config_free(cfg);
}

static void
test_route_paths(void **state)
{
	struct config	*cfg = parse_ok(HEAD "backend = unix:/s\n"
	    "[route /*]\n[route /a/*]\n[route /a]\n[route /a/]\n"
	    "[route   /b/c/*  ]\n[route /~x-y_z.%20/*]\n");

	assert_int_equal(cfg->nroutes, 6);
	assert_string_equal(cfg->routes[0].path, "");
	assert_true(cfg->routes[0].prefix);
	assert_string_equal(cfg->routes[1].path, "/a");
	assert_true(cfg->routes[1].prefix);
	assert_string_equal(cfg->routes[2].path, "/a");
	assert_false(cfg->routes[2].prefix);
	assert_string_equal(cfg->routes[3].path, "/a/");
	assert_false(cfg->routes[3].prefix);
	assert_string_equal(cfg->routes[4].path, "/b/c");
	assert_true(cfg->routes[4].prefix);
	assert_string_equal(cfg->routes[5].path, "/~x-y_z.%20");
	config_free(cfg);

	parse_err(HEAD ROUTE "[route vnc]\n",
	    "t.conf:5: bad route path 'vnc' (must start with '/'; no blanks, "
	    "'?', '#'; '*' only as a final '/*')");
	parse_err(HEAD ROUTE "[route /a b]\n[route /a*]\n[route /a?x]\n"
	    "[route /a//*]\n[route /*/x]\n[route]\n",
	    "t.conf:5: bad route path '/a b' (must start with '/'; no blanks, "
	    "'?', '#'; '*' only as a final '/*')\n"
	    "t.conf:6: bad route path '/a*' (must start with '/'; no blanks, "
	    "'?', '#'; '*' only as a final '/*')\n"
	    "t.conf:7: bad route path '/a?x' (must start with '/'; no blanks, "
	    "'?', '#'; '*' only as a final '/*')\n"
	    "t.conf:8: bad route path '/a//*' (must start with '/'; no blanks, "
	    "'?', '#'; '*' only as a final '/*')\n"
	    "t.conf:9: bad route path '/*/x' (must start with '/'; no blanks, "
	    "'?', '#'; '*' only as a final '/*')\n"
	    "t.conf:10: [route] needs a path, as in [route /vnc] or "
	    "[route /vnc/*]");
}

/* Lines: comments, blanks, indentation, CRLF, BOM, ':' as separator. */
static void
test_lexical(void **state)
{
	struct config	*cfg = parse_ok(
	    "\xef\xbb\xbf[gateway]\r\n"
	    "; comment\r\n"
	    "# comment\r\n"
	    "\r\n"
	    "    listen = 8080   \r\n"
	    "\tworkers: 4\r\n"
	    "    log_level=debug\n"
	    "[tls]\n"
	    "  certificate = /a;b ; a comment after a blank\n"
	    "[route /a]   ; comment after header\n"
	    "  backend = tcp:h:1 ; inline comment\n"
	    "  origins = https://x.example\n"
	    "  subprotocols = a\n");

	assert_int_equal(cfg->listens[0].port, 8080);
	assert_int_equal(cfg->workers, 4);
	assert_int_equal(cfg->log_level, CONFIG_LOG_DEBUG);
	assert_string_equal(cfg->tls_certificate, "/a;b");
	assert_string_equal(cfg->routes[0].backends[0].spec, "tcp:h:1");
	assert_int_equal(cfg->routes[0].line, 10);
	config_free(cfg);

	/* ';' only opens a comment after a blank; '#' only at line start. */
	parse_err(HEAD "log_level = info;x\n" ROUTE,
	    "t.conf:3: log_level: bad value 'info;x' (use error, warn, "
	    "info, debug)");
	parse_err(HEAD "log_level = info # x\n" ROUTE,
	    "t.conf:3: log_level: bad value 'info # x' (use error, warn, "
	    "info, debug)");
}

/* Lines of 199 bytes pass; longer ones are an error of their own. */
static void
test_long_line(void **state)
{
	char		 text[1024], val[256];
	struct config	*cfg;

	memset(val, 'a', sizeof(val));
	/* "certificate = " is 14 bytes: 185 more make 199. */
	snprintf(text, sizeof(text), HEAD "[tls]\ncertificate = /%.*s\n" ROUTE,
	    184, val);
	cfg = parse_ok(text);
	assert_int_equal(strlen(cfg->tls_certificate), 185);
	config_free(cfg);
	snprintf(text, sizeof(text), HEAD "[tls]\ncertificate = /%.*s\n" ROUTE,
	    185, val);
	parse_err(text, "t.conf:4: line too long (200 bytes, at most 199)");
}

static void
test_err_unknown_key(void **state)
{
	parse_err(HEAD "listne = 1\n" ROUTE,
	    "t.conf:3: unknown key 'listne' in [gateway]");
	parse_err(HEAD ROUTE "colour = red\n",
	    "t.conf:5: unknown key 'colour' in [route /]");
	parse_err(HEAD ROUTE "listen = 1\n",
	    "t.conf:5: listen: not allowed in [route /] (only in [gateway])");
	parse_err(HEAD "certificate = /x\n" ROUTE,
	    "t.conf:3: certificate: not allowed in [gateway] (only in [tls])");
	parse_err(HEAD "[tls]\nbackend = tcp:a:1\n" ROUTE,
	    "t.conf:4: backend: not allowed in [tls] (only in [gateway] or "
	    "[route PATH])");
	parse_err("listen = 1\n" HEAD ROUTE,
	    "t.conf:1: listen: key outside any section (start with [gateway])");
}

static void
test_err_unknown_section(void **state)
{
	/* Keys of a bad section are skipped: one error, not one per key. */
	parse_err(HEAD ROUTE "[upstream x]\nfoo = 1\nbar = 2\n",
	    "t.conf:5: unknown section [upstream x] (use [gateway], [tls] or "
	    "[route PATH])");
	parse_err(HEAD ROUTE "[Gateway]\n[route/x]\n",
	    "t.conf:5: unknown section [Gateway] (use [gateway], [tls] or "
	    "[route PATH])\n"
	    "t.conf:6: unknown section [route/x] (use [gateway], [tls] or "
	    "[route PATH])");
	parse_err(HEAD ROUTE "[tls\n[tls] x\n",
	    "t.conf:5: missing ']' in section header '[tls'\n"
	    "t.conf:6: junk after section header: 'x'");
}

static void
test_err_syntax(void **state)
{
	parse_err(HEAD "workers\n= 3\nbackend tcp:a:1\n" ROUTE,
	    "t.conf:3: expected 'key = value', got 'workers'\n"
	    "t.conf:4: missing key before '='\n"
	    "t.conf:5: bad key 'backend tcp' (missing '='?)");
	parse_err(HEAD "workers = 2\nworkers = 3\n" ROUTE,
	    "t.conf:4: workers: already set at line 3");
	parse_err(HEAD "[gateway]\nlisten = 2\nworkers = 2\n[gateway]\n"
	    "workers = 3\n" ROUTE,
	    "t.conf:7: workers: already set at line 5");
	parse_err(HEAD ROUTE "idle_timeout = 1\nidle_timeout = 2\n",
	    "t.conf:6: idle_timeout: already set at line 5");
	parse_err(HEAD "workers =\n" ROUTE "origins = ;x\n",
	    "t.conf:3: workers: empty value\n"
	    "t.conf:6: origins: empty value");
}

static void
test_err_bad_duration(void **state)
{
	parse_err(HEAD ROUTE "heartbeat_interval = 5x\n",
	    "t.conf:5: heartbeat_interval: bad duration '5x' (use ms, s, m, h)");
	parse_err(HEAD "handshake_timeout = -1\n" ROUTE,
	    "t.conf:3: handshake_timeout: bad duration '-1' (use ms, s, m, h)");
	parse_err(HEAD "handshake_timeout = 0\n" ROUTE,
	    "t.conf:3: handshake_timeout: '0' out of range (must be > 0)");
	parse_err(HEAD ROUTE "connect_timeout = 0ms\n",
	    "t.conf:5: connect_timeout: '0ms' out of range (must be > 0)");
	parse_err(HEAD ROUTE "idle_timeout = 1.5s\n",
	    "t.conf:5: idle_timeout: bad duration '1.5s' (use ms, s, m, h)");
	parse_err(HEAD "drain_timeout = 99999999999999999999\n" ROUTE,
	    "t.conf:3: drain_timeout: bad duration '99999999999999999999' "
	    "(use ms, s, m, h)");
}

static void
test_err_bad_size(void **state)
{
	parse_err(HEAD ROUTE "max_message_size = 16MB\n",
	    "t.conf:5: max_message_size: bad size '16MB' (use K, M, G)");
	parse_err(HEAD "max_buffer = 1T\n" ROUTE,
	    "t.conf:3: max_buffer: bad size '1T' (use K, M, G)");
	parse_err(HEAD "max_header_size = 128K\n" ROUTE,
	    "t.conf:3: max_header_size: '128K' out of range (1K..64K)");
	parse_err(HEAD "max_header_size = 1023\n" ROUTE,
	    "t.conf:3: max_header_size: '1023' out of range (1K..64K)");
	parse_err(HEAD "max_buffer = 4095\n" ROUTE,
	    "t.conf:3: max_buffer: '4095' out of range (4K..64M)");
	parse_err(HEAD "max_buffer = 65537K\n" ROUTE,
	    "t.conf:3: max_buffer: '65537K' out of range (4K..64M)");
}

static void
test_err_range(void **state)
{
	parse_err(HEAD "workers = 0\n" ROUTE,
	    "t.conf:3: workers: bad value '0' (auto or 1..256)");
	parse_err(HEAD "workers = 257\n" ROUTE,
	    "t.conf:3: workers: bad value '257' (auto or 1..256)");
	parse_err(HEAD "workers = many\n" ROUTE,
	    "t.conf:3: workers: bad value 'many' (auto or 1..256)");
	parse_err(HEAD "max_connections = 0\n" ROUTE,
	    "t.conf:3: max_connections: '0' out of range (1..10000000)");
	parse_err(HEAD "max_connections = 10000001\n" ROUTE,
	    "t.conf:3: max_connections: '10000001' out of range (1..10000000)");
	parse_err(HEAD "max_connections = 1e6\n" ROUTE,
	    "t.conf:3: max_connections: bad number '1e6'");
	parse_err(HEAD "admin_max_connections = 0\n"
	    "admin_max_connections = 100001\n" ROUTE,
	    "t.conf:3: admin_max_connections: '0' out of range (1..100000)\n"
	    "t.conf:4: admin_max_connections: '100001' out of range "
	    "(1..100000)");
	parse_err(HEAD "log_level = verbose\nlog_format = xml\n" ROUTE,
	    "t.conf:3: log_level: bad value 'verbose' (use error, warn, info, "
	    "debug)\n"
	    "t.conf:4: log_format: bad value 'xml' (use text, json)");
}

static void
test_err_bad_port(void **state)
{
	parse_err("[gateway]\nlisten = 0.0.0.0:0\nlisten = 65536\n" ROUTE
	    "backend = tcp:h:99999\nbackend = tcp:h:\nbackend = tcp:h:-1\n",
	    "t.conf:2: listen: bad address '0.0.0.0:0' (port must be "
	    "1..65535)\n"
	    "t.conf:3: listen: bad address '65536' (port must be 1..65535)\n"
	    "t.conf:6: backend: bad address 'tcp:h:99999' (port must be "
	    "1..65535)\n"
	    "t.conf:7: backend: bad address 'tcp:h:' (missing port)\n"
	    "t.conf:8: backend: bad address 'tcp:h:-1' (port must be "
	    "1..65535)\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
}

static void
test_err_bad_address(void **state)
{
	parse_err(HEAD ROUTE
	    "backend = 127.0.0.1:22\n"
	    "backend = tcp:::1:22\n"
	    "backend = tcp:[::g]:22\n"
	    "backend = tcp:bad!host:22\n"
	    "backend = unix:\n"
	    "backend = tcp:h:1 tls\n"
	    "backend = tcp:h\n",
	    "t.conf:5: backend: bad address '127.0.0.1:22' (use "
	    "tcp:HOST:PORT, tcp:[V6]:PORT, tls:HOST:PORT, unix:/path or "
	    "exec:/PROGRAM ARG...)\n"
	    "t.conf:6: backend: bad address 'tcp:::1:22' (IPv6 addresses "
	    "need brackets: [V6]:PORT)\n"
	    "t.conf:7: backend: bad address 'tcp:[::g]:22' (bad IPv6 "
	    "address)\n"
	    "t.conf:8: backend: bad address 'tcp:bad!host:22' (bad host "
	    "name)\n"
	    "t.conf:9: backend: bad address 'unix:' (empty unix socket path)\n"
	    "t.conf:10: backend: bad address 'tcp:h:1 tls': unknown option "
	    "'tls'\n"
	    "t.conf:11: backend: bad address 'tcp:h' (missing port)");
	parse_err("[gateway]\nlisten = 8080 ssl\nadmin_listen = unix:/a\n"
	    "admin_listen = 1:2 tls\n" ROUTE,
	    "t.conf:2: listen: bad address '8080 ssl': unknown option 'ssl' "
	    "(known: tls, auto, proxy_protocol, mode=)\n"
	    "t.conf:3: admin_listen: bad address 'unix:/a' (use HOST:PORT or "
	    "off)\n"
	    "t.conf:4: admin_listen: bad address '1:2 tls' (use HOST:PORT or "
	    "off)\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
}

/* A unix path must fit sockaddr_un.sun_path (108 bytes with the NUL). */
static void
test_unix_path_len(void **state)
{
	struct config_addr	a;
	char			s[256], why[256];

	snprintf(s, sizeof(s), "unix:/%0106d", 0);	/* 107 bytes */
	assert_int_equal(config_parse_addr(s, false, &a, why, sizeof(why)), 0);
	assert_int_equal(strlen(a.path), 107);
	config_addr_clear(&a);
	snprintf(s, sizeof(s), "unix:/%0107d", 0);	/* 108 bytes */
	assert_int_equal(config_parse_addr(s, false, &a, why, sizeof(why)),
	    -1);
	assert_non_null(strstr(why, "(unix socket path too long)"));
	assert_null(a.path);
	assert_null(a.spec);
}

static void
test_err_missing_backend(void **state)
{
	parse_err(HEAD "[route /a]\n[route /b]\nbackend = unix:/b\n",
	    "t.conf:3: [route /a]: no backend (set backend here or in "
	    "[gateway])");
	parse_err(HEAD "[route /a/*]\nbackend = tcp:h:0\n",
	    "t.conf:4: backend: bad address 'tcp:h:0' (port must be 1..65535)\n"
	    "t.conf:3: [route /a/*]: no backend (set backend here or in "
	    "[gateway])");
}

static void
test_err_duplicate_route(void **state)
{
	parse_err(HEAD ROUTE "[route /a/*]\nbackend = unix:/y\n[route /a]\n"
	    "backend = unix:/x\n[route /a/*]\nbogus = 1\n",
	    "t.conf:9: duplicate [route /a/*] (first at line 5)\n"
	    "t.conf:10: unknown key 'bogus' in [route /a/*]\n"
	    "t.conf:9: [route /a/*]: no backend (set backend here or in "
	    "[gateway])");
	parse_err(HEAD ROUTE "[route /]\n",
	    "t.conf:5: duplicate [route /] (first at line 3)\n"
	    "t.conf:5: [route /]: no backend (set backend here or in "
	    "[gateway])");
}

static void
test_err_subprotocols(void **state)
{
	struct config	*cfg = parse_ok(HEAD ROUTE
	    "subprotocols = v1.chat,binary , x-a!#$%&'*+-.^_`|~\n"
	    "subprotocols = more\n");

	assert_int_equal(cfg->routes[0].nsubprotocols, 4);
	assert_string_equal(cfg->routes[0].subprotocols[0], "v1.chat");
	assert_string_equal(cfg->routes[0].subprotocols[1], "binary");
	assert_string_equal(cfg->routes[0].subprotocols[2],
	    "x-a!#$%&'*+-.^_`|~");
	assert_string_equal(cfg->routes[0].subprotocols[3], "more");
	config_free(cfg);
	parse_err(HEAD ROUTE "subprotocols = ok bad/proto \"q\" fine\n"
	    "subprotocols = ,\n",
	    "t.conf:5: subprotocols: bad token 'bad/proto' (RFC 7230 token "
	    "characters only)\n"
	    "t.conf:5: subprotocols: bad token '\"q\"' (RFC 7230 token "
	    "characters only)\n"
	    "t.conf:6: subprotocols: empty list");
	/* Regression (fuzz): a half-good list, then inheritance: no leak. */
	parse_err(HEAD "subprotocols = gw\norigins = *\n" ROUTE
	    "subprotocols = ok b@d\norigins = null x\n",
	    "t.conf:7: subprotocols: bad token 'b@d' (RFC 7230 token "
	    "characters only)\n"
	    "t.conf:8: origins: bad origin 'x' (use scheme://host[:port], "
	    "null or *)");
}

static void
test_origins(void **state)
{
	struct config	*cfg = parse_ok(HEAD ROUTE
	    "origins = https://A.example:8443 http://[::1]:80, null\n"
	    "origins = *\n");

	assert_int_equal(cfg->routes[0].norigins, 4);
	assert_string_equal(cfg->routes[0].origins[0], "https://A.example:8443");
	assert_string_equal(cfg->routes[0].origins[1], "http://[::1]:80");
	assert_string_equal(cfg->routes[0].origins[2], "null");
	assert_string_equal(cfg->routes[0].origins[3], "*");
	config_free(cfg);
	parse_err(HEAD ROUTE "origins = https://a.example/ example.com\n",
	    "t.conf:5: origins: bad origin 'https://a.example/' (use "
	    "scheme://host[:port], null or *)\n"
	    "t.conf:5: origins: bad origin 'example.com' (use "
	    "scheme://host[:port], null or *)");
}

static void
test_err_heartbeat(void **state)
{
	struct config	*cfg;

	cfg = parse_ok(HEAD ROUTE "heartbeat_interval = 0\n"
	    "heartbeat_timeout = 0\n");
	assert_int_equal(cfg->routes[0].heartbeat_interval_ms, 0);
	config_free(cfg);
	parse_err(HEAD ROUTE "heartbeat_timeout = 0\n",
	    "t.conf:5: heartbeat_timeout: must be > 0 when heartbeat_interval "
	    "is set ([route /])");
	/* From [gateway]: named at the [gateway] line, once per route. */
	parse_err(HEAD "heartbeat_timeout = 0\nbackend = unix:/s\n" ROUTE
	    "[route /b]\nheartbeat_interval = 0\n[route /c/*]\n",
	    "t.conf:3: heartbeat_timeout: must be > 0 when heartbeat_interval "
	    "is set ([route /])\n"
	    "t.conf:3: heartbeat_timeout: must be > 0 when heartbeat_interval "
	    "is set ([route /c/*])");
}

static void
test_err_tls_needs_cert(void **state)
{
	parse_err("[gateway]\nlisten = 443 tls\n[tls]\ncertificate = /c\n"
	    ROUTE,
	    "t.conf:2: listen: '443' is tls but [tls] lacks certificate or "
	    "private_key");
}

static void
test_err_whole_file(void **state)
{
	parse_err("", "t.conf: no listen address (add listen = PORT to "
	    "[gateway])\n"
	    "t.conf: no route (add a [route PATH] section with a backend)");
	parse_err(HEAD, "t.conf: no route (add a [route PATH] section with a "
	    "backend)");
	parse_err(ROUTE, "t.conf: no listen address (add listen = PORT to "
	    "[gateway])");
}

/* Many errors in one run, each with its line, in file order. */
static void
test_err_many(void **state)
{
	parse_err(
	    "[gateway]\n"			/* 1 */
	    "listen = 8080\n"
	    "workers = lots\n"
	    "max_buffer = 1Q\n"
	    "junk\n"				/* 5 */
	    "[route /a]\n"
	    "heartbeat_interval = 5x\n"
	    "backend = tcp:h:70000\n"
	    "[nope]\n"
	    "x = 1\n"				/* 10 */
	    "[route /a]\n"
	    "subprotocols = a@b\n"
	    "log_level = loud\n",
	    "t.conf:3: workers: bad value 'lots' (auto or 1..256)\n"
	    "t.conf:4: max_buffer: bad size '1Q' (use K, M, G)\n"
	    "t.conf:5: expected 'key = value', got 'junk'\n"
	    "t.conf:7: heartbeat_interval: bad duration '5x' (use ms, s, m, h)\n"
	    "t.conf:8: backend: bad address 'tcp:h:70000' (port must be "
	    "1..65535)\n"
	    "t.conf:9: unknown section [nope] (use [gateway], [tls] or "
	    "[route PATH])\n"
	    "t.conf:11: duplicate [route /a] (first at line 6)\n"
	    "t.conf:12: subprotocols: bad token 'a@b' (RFC 7230 token "
	    "characters only)\n"
	    "t.conf:13: log_level: not allowed in [route /a] (only in "
	    "[gateway])\n"
	    "t.conf:6: [route /a]: no backend (set backend here or in "
	    "[gateway])\n"
	    "t.conf:11: [route /a]: no backend (set backend here or in "
	    "[gateway])");
}

/* Control bytes never reach the error text. */
static void
test_err_sanitized(void **state)
{
	parse_err(HEAD "log_level = \x1b[31mred\x7f\n" ROUTE,
	    "t.conf:3: log_level: bad value '?[31mred?' (use error, warn, "
	    "info, debug)");
}

/* The error buffer is always terminated and cut, never overrun. */
static void
test_err_truncation(void **state)
{
	const char	*text = HEAD "workers = x\nlog_level = y\n" ROUTE;
	char		 full[512], small[32];
	struct config	*cfg;
	size_t		 i;

	assert_int_equal(config_parse_string(text, "t.conf", &cfg, full,
	    sizeof(full)), -1);
	for (i = 1; i <= sizeof(small); i++) {
		memset(small, 'Z', sizeof(small));
		assert_int_equal(config_parse_string(text, "t.conf", &cfg,
		    small, i), -1);
		assert_null(cfg);
		assert_int_equal(strlen(small), i - 1);
		assert_memory_equal(small, full, i - 1);
	}
	/* No buffer at all is fine too. */
	assert_int_equal(config_parse_string(text, "t.conf", &cfg, NULL, 0),
	    -1);
	cfg = NULL;
	assert_int_equal(config_parse_string(HEAD ROUTE, NULL, &cfg, NULL, 0),
	    0);
	assert_string_equal(cfg->file, "<string>");
	config_free(cfg);
	config_free(NULL);
}

static void
test_durations(void **state)
{
	static const struct {
		const char	*s;
		int		 ok;
		uint64_t	 ms;
	} v[] = {
		{ "0", 1, 0 }, { "0ms", 1, 0 }, { "0h", 1, 0 },
		{ "10", 1, 10000 }, { "10s", 1, 10000 },
		{ "1500ms", 1, 1500 }, { "2m", 1, 120000 },
		{ "1h", 1, 3600000 }, { "007s", 1, 7000 },
		{ "18446744073709551615ms", 1, UINT64_MAX },
		{ "18446744073709551s", 1, 18446744073709551000ull },
		{ "18446744073709552s", 0, 0 },
		{ "18446744073709551616ms", 0, 0 },
		{ "5124095576030h", 1, 18446744073708000000ull },
		{ "5124095576031h", 0, 0 },
		{ "307445734561825m", 1, 18446744073709500000ull },
		{ "307445734561826m", 0, 0 },
		{ "", 0, 0 }, { "s", 0, 0 }, { "ms", 0, 0 }, { "-1", 0, 0 },
		{ "+1", 0, 0 }, { " 1", 0, 0 }, { "1 ", 0, 0 }, { "1 s", 0, 0 },
		{ "1.5s", 0, 0 }, { "5x", 0, 0 }, { "1S", 0, 0 },
		{ "1sec", 0, 0 }, { "1d", 0, 0 }, { "1mss", 0, 0 },
		{ "0x10", 0, 0 }, { "1hh", 0, 0 },
	};
	uint64_t	ms;
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ms = 12345;
		if (config_parse_duration(v[i].s, &ms) != (v[i].ok ? 0 : -1))
			fail_msg("duration '%s': want %s", v[i].s,
			    v[i].ok ? "ok" : "error");
		if (v[i].ok)
			assert_int_equal(ms, v[i].ms);
		else
			assert_int_equal(ms, 12345);
	}
}

static void
test_sizes(void **state)
{
	static const struct {
		const char	*s;
		int		 ok;
		uint64_t	 n;
	} v[] = {
		{ "0", 1, 0 }, { "65536", 1, 65536 }, { "64K", 1, 65536 },
		{ "64k", 1, 65536 }, { "16M", 1, 16 << 20 },
		{ "16m", 1, 16 << 20 }, { "1G", 1, 1 << 30 },
		{ "2g", 1, 2ull << 30 }, { "0K", 1, 0 },
		{ "18446744073709551615", 1, UINT64_MAX },
		{ "18446744073709551616", 0, 0 },
		{ "17179869183G", 1, 17179869183ull << 30 },
		{ "17179869184G", 0, 0 },
		{ "18014398509481983K", 1, 18014398509481983ull << 10 },
		{ "18014398509481984K", 0, 0 },
		{ "", 0, 0 }, { "K", 0, 0 }, { "-1", 0, 0 }, { "1KB", 0, 0 },
		{ "1KiB", 0, 0 }, { "1T", 0, 0 }, { "1.5M", 0, 0 },
		{ "1 K", 0, 0 }, { " 1", 0, 0 }, { "1x", 0, 0 },
	};
	uint64_t	n;
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = 12345;
		if (config_parse_size(v[i].s, &n) != (v[i].ok ? 0 : -1))
			fail_msg("size '%s': want %s", v[i].s,
			    v[i].ok ? "ok" : "error");
		if (v[i].ok)
			assert_int_equal(n, v[i].n);
		else
			assert_int_equal(n, 12345);
	}
}

static void
test_parse_addr(void **state)
{
	static const struct {
		const char	*s;
		bool		 listen;
		int		 ok;
		int		 kind;
		const char	*host;	/* or unix path */
		uint16_t	 port;
		bool		 tls;
	} v[] = {
		{ "tcp:127.0.0.1:5900", false, 1, CONFIG_ADDR_TCP,
		    "127.0.0.1", 5900, false },
		{ "tcp:vnc.internal:1", false, 1, CONFIG_ADDR_TCP,
		    "vnc.internal", 1, false },
		{ "tcp:[::1]:65535", false, 1, CONFIG_ADDR_TCP, "::1", 65535,
		    false },
		{ "tcp:[fe80::1%eth0]:22", false, 1, CONFIG_ADDR_TCP,
		    "fe80::1%eth0", 22, false },
		{ "unix:/run/vnc.sock", false, 1, CONFIG_ADDR_UNIX,
		    "/run/vnc.sock", 0, false },
		{ "unix:rel.sock", false, 1, CONFIG_ADDR_UNIX, "rel.sock", 0,
		    false },
		{ "0.0.0.0:8080", true, 1, CONFIG_ADDR_TCP, "0.0.0.0", 8080,
		    false },
		{ "[::]:8080", true, 1, CONFIG_ADDR_TCP, "::", 8080, false },
		{ "127.0.0.1:8080 tls", true, 1, CONFIG_ADDR_TCP, "127.0.0.1",
		    8080, true },
		{ "8080", true, 1, CONFIG_ADDR_TCP, NULL, 8080, false },
		{ "*:8080\ttls", true, 1, CONFIG_ADDR_TCP, NULL, 8080, true },
		{ "tcp:h:1", true, 1, CONFIG_ADDR_TCP, "h", 1, false },
		{ "unix:/run/x.sock tls", true, 1, CONFIG_ADDR_UNIX,
		    "/run/x.sock", 0, true },
		/* refused */
		{ "127.0.0.1:80", false, 0, 0, NULL, 0, false },
		{ "80", false, 0, 0, NULL, 0, false },
		{ "tcp:*:80", false, 0, 0, NULL, 0, false },
		{ "tcp::80", false, 0, 0, NULL, 0, false },
		{ "tcp:[::1]80", false, 0, 0, NULL, 0, false },
		{ "tcp:[::1:80", false, 0, 0, NULL, 0, false },
		{ "tcp:[]:80", false, 0, 0, NULL, 0, false },
		{ "tcp:[1.2.3.4]:80", false, 0, 0, NULL, 0, false },
		{ "tcp:[fe80::1%]:80", false, 0, 0, NULL, 0, false },
		{ "tcp:h:080x", false, 0, 0, NULL, 0, false },
		{ "tcp:h:+80", false, 0, 0, NULL, 0, false },
		{ "tcp:h:99999999999999999999999", false, 0, 0, NULL, 0, false },
		{ "", true, 0, 0, NULL, 0, false },
		{ "", false, 0, 0, NULL, 0, false },
		{ ":80", true, 0, 0, NULL, 0, false },
		{ "localhost", true, 0, 0, NULL, 0, false },
		{ "0", true, 0, 0, NULL, 0, false },
		{ "8080 tls tlsx", true, 0, 0, NULL, 0, false },
		{ "tls", true, 0, 0, NULL, 0, false },
	};
	struct config_addr	a;
	char			why[256];
	size_t			i;
	int			r;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		why[0] = '\0';
		r = config_parse_addr(v[i].s, v[i].listen, &a, why,
		    sizeof(why));
		if (r != (v[i].ok ? 0 : -1))
			fail_msg("addr '%s' (%s): got %d: %s", v[i].s,
			    v[i].listen ? "listen" : "backend", r, why);
		if (!v[i].ok) {
			assert_true(why[0] != '\0');
			assert_null(a.host);
			assert_null(a.path);
			assert_null(a.spec);
			continue;
		}
		assert_int_equal(a.kind, v[i].kind);
		if (v[i].kind == CONFIG_ADDR_UNIX) {
			assert_string_equal(a.path, v[i].host);
			assert_null(a.host);
		} else if (v[i].host == NULL)
			assert_null(a.host);
		else
			assert_string_equal(a.host, v[i].host);
		assert_int_equal(a.port, v[i].port);
		assert_int_equal(a.tls, v[i].tls);
		assert_non_null(a.spec);
		config_addr_clear(&a);
		assert_null(a.spec);
	}
	config_addr_clear(NULL);
}

static void
write_file(const char *path, const char *text, size_t len)
{
	FILE	*f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void
test_load(void **state)
{
	char		 dir[] = "/tmp/test_config.XXXXXX", path[128], want[512];
	static const char bad[] = HEAD "workers = x\n" ROUTE "a\0b = 1\n";
	struct config	*cfg;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/gateway.conf", dir);

	write_file(path, sample, strlen(sample));
	assert_int_equal(config_load(path, &cfg, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cfg->file, path);
	assert_int_equal(cfg->nroutes, 1);
	assert_int_equal(cfg->routes[0].nbackends, 2);
	config_free(cfg);

	/* Errors name the file; a NUL byte is an error, not the end. */
	write_file(path, bad, sizeof(bad) - 1);
	cfg = (struct config *)1;
	assert_int_equal(config_load(path, &cfg, errbuf, sizeof(errbuf)), -1);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s:3: workers: bad value 'x' (auto or "
	    "1..256)\n%s:6: NUL byte in line", path, path);
	assert_string_equal(errbuf, want);

	assert_int_equal(unlink(path), 0);
	cfg = (struct config *)1;
	assert_int_equal(config_load(path, &cfg, errbuf, sizeof(errbuf)), -1);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(errbuf, want);

	/* Only a regular file is read (loadfile.c). */
	assert_int_equal(config_load(dir, &cfg, errbuf, sizeof(errbuf)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(errbuf, want);
	assert_int_equal(rmdir(dir), 0);
}

static void
test_from_args(void **state)
{
	struct config		*cfg;
	struct config_route	*r;

	assert_int_equal(config_from_args("8080", "localhost:5900", &cfg,
	    errbuf, sizeof(errbuf)), 0);
	assert_string_equal(errbuf, "");
	assert_null(cfg->file);
	assert_int_equal(cfg->nlistens, 1);
	assert_null(cfg->listens[0].host);
	assert_int_equal(cfg->listens[0].port, 8080);
	assert_false(cfg->listens[0].tls);
	assert_int_equal(cfg->max_connections, CONFIG_DEFAULT_MAX_CONNECTIONS);
	assert_int_equal(cfg->nroutes, 1);
	r = &cfg->routes[0];
	assert_string_equal(r->path, "");
	assert_true(r->prefix);
	assert_int_equal(r->nbackends, 1);
	assert_int_equal(r->backends[0].kind, CONFIG_ADDR_TCP);
	assert_string_equal(r->backends[0].host, "localhost");
	assert_int_equal(r->backends[0].port, 5900);
	assert_string_equal(r->backends[0].spec, "tcp:localhost:5900");
	assert_int_equal(r->norigins, 0);
	assert_int_equal(r->heartbeat_interval_ms,
	    CONFIG_DEFAULT_HEARTBEAT_INTERVAL_MS);
	assert_int_equal(r->connect_timeout_ms,
	    CONFIG_DEFAULT_CONNECT_TIMEOUT_MS);
	assert_int_equal(r->max_message_size, CONFIG_DEFAULT_MAX_MESSAGE_SIZE);
	config_free(cfg);

	assert_int_equal(config_from_args("[::1]:6080", "[::1]:22", &cfg,
	    errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cfg->listens[0].host, "::1");
	assert_string_equal(cfg->routes[0].backends[0].host, "::1");
	config_free(cfg);
	assert_int_equal(config_from_args("127.0.0.1:6080", "unix:/run/x",
	    &cfg, errbuf, sizeof(errbuf)), 0);
	assert_string_equal(cfg->listens[0].host, "127.0.0.1");
	assert_string_equal(cfg->routes[0].backends[0].path, "/run/x");
	config_free(cfg);

	cfg = (struct config *)1;
	assert_int_equal(config_from_args("80x", "h:1", &cfg, errbuf,
	    sizeof(errbuf)), -1);
	assert_null(cfg);
	assert_string_equal(errbuf,
	    "listen: bad address '80x' (port must be 1..65535)");
	assert_int_equal(config_from_args("8080 tls", "h:1", &cfg, errbuf,
	    sizeof(errbuf)), -1);
	assert_string_equal(errbuf,
	    "listen: bad address '8080 tls' (use [HOST:]PORT)");
	assert_int_equal(config_from_args("unix:/x", "h:1", &cfg, errbuf,
	    sizeof(errbuf)), -1);
	assert_string_equal(errbuf,
	    "listen: bad address 'unix:/x' (use [HOST:]PORT)");
	assert_int_equal(config_from_args("8080", "h", &cfg, errbuf,
	    sizeof(errbuf)), -1);
	assert_string_equal(errbuf, "target: bad address 'tcp:h' (missing "
	    "port)");
	assert_int_equal(config_from_args("8080", "h:0", &cfg, errbuf,
	    sizeof(errbuf)), -1);
	assert_null(cfg);
	assert_string_equal(errbuf, "target: bad address 'tcp:h:0' (port "
	    "must be 1..65535)");
}

/* PROXY protocol in (listen option) and out (route key), and user. */
static void
test_proxy_protocol_and_user(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = parse_ok("[gateway]\nlisten = 127.0.0.1:8081 proxy_protocol\n"
	    "listen = 8080\nuser = nobody\nbackend_proxy_protocol = v1\n"
	    "[route /a]\nbackend = tcp:127.0.0.1:7\n"
	    "[route /b]\nbackend = tcp:127.0.0.1:7\n"
	    "backend_proxy_protocol = v2\n"
	    "[route /c]\nbackend = tcp:127.0.0.1:7\n"
	    "backend_proxy_protocol = off\n");
	assert_true(cfg->listens[0].proxy_protocol);
	assert_false(cfg->listens[0].tls);
	assert_false(cfg->listens[1].proxy_protocol);
	assert_string_equal(cfg->user, "nobody");
	assert_int_equal(cfg->routes[0].backend_proxy_protocol, 1);
	assert_int_equal(cfg->routes[1].backend_proxy_protocol, 2);
	assert_int_equal(cfg->routes[2].backend_proxy_protocol, 0);
	config_free(cfg);
	parse_err(HEAD ROUTE "backend_proxy_protocol = v3\n",
	    "t.conf:5: backend_proxy_protocol: bad value 'v3' "
	    "(use off, v1, v2)");
	parse_err("[gateway]\nlisten = 8080 tls proxy_protocol\n"
	    "[tls]\ncertificate = /c\nprivate_key = /k\n" ROUTE,
	    "t.conf:2: listen: bad address '8080 tls proxy_protocol': tls and "
	    "proxy_protocol on one listener are not supported yet\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
}

/* root (static files) and index. */
static void
test_root(void **state)
{
	char		 dir[] = "/tmp/test_config_root.XXXXXX", text[1024];
	char		 file[128], want[1024];
	struct config	*cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	write_file(file, "x", 1);

	/* Static only, static + WebSocket, WebSocket only. */
	snprintf(text, sizeof(text), HEAD "[route /desk/*]\nroot = %s\n"
	    "index = vnc.html\n[route /both/*]\nroot = %s/\n"
	    "backend = tcp:127.0.0.1:5900\n" ROUTE, dir, dir);
	cfg = parse_ok(text);
	assert_int_equal(cfg->nroutes, 3);
	assert_string_equal(cfg->routes[0].root, dir);
	assert_int_equal(cfg->routes[0].nbackends, 0);
	assert_string_equal(cfg->routes[0].index_file, "vnc.html");
	assert_int_equal(strncmp(cfg->routes[1].root, dir, strlen(dir)), 0);
	assert_int_equal(cfg->routes[1].nbackends, 1);
	assert_null(cfg->routes[1].index_file);
	assert_null(cfg->routes[2].root);
	assert_null(cfg->routes[2].index_file);
	config_free(cfg);
	assert_string_equal(CONFIG_DEFAULT_INDEX, "index.html");

	/* [gateway] defaults: index only for routes with a root. */
	snprintf(text, sizeof(text), HEAD "index = app.html\n"
	    "[route /s/*]\nroot = /\n" ROUTE);
	cfg = parse_ok(text);
	assert_string_equal(cfg->routes[0].root, "/");
	assert_string_equal(cfg->routes[0].index_file, "app.html");
	config_free(cfg);
	snprintf(text, sizeof(text), HEAD "root = %s\n" ROUTE, dir);
	cfg = parse_ok(text);
	assert_string_equal(cfg->routes[0].root, dir);
	config_free(cfg);

	/* Relative: from the config file's directory, stored resolved. */
	{
		char name[160], sub[160], *real;
		struct config *rc = NULL;

		snprintf(sub, sizeof(sub), "%s/www", dir);
		assert_int_equal(mkdir(sub, 0700), 0);
		snprintf(name, sizeof(name), "%s/t.conf", dir);
		assert_int_equal(config_parse_string(HEAD "[route /s/*]\n"
		    "root = www\n", name, &rc, errbuf, sizeof(errbuf)), 0);
		assert_non_null(real = realpath(sub, NULL));
		assert_string_equal(rc->routes[0].root, real);
		config_free(rc);
		rc = NULL;
		assert_int_equal(config_parse_string(HEAD "[route /s/*]\n"
		    "root = ./www/../www\n", name, &rc, errbuf,
		    sizeof(errbuf)), 0);
		assert_string_equal(rc->routes[0].root, real);
		config_free(rc);
		free(real);
		assert_int_equal(rmdir(sub), 0);
	}
	/* Must exist and be a directory; token_dir must be absolute. */
	snprintf(want, sizeof(want), "t.conf:4: root: 'no-such-www' "
	    "(./no-such-www, from the config file's directory): %s\n"
	    "t.conf:3: [route /s]: no backend (set backend here or in "
	    "[gateway])", strerror(ENOENT));
	parse_err(HEAD "[route /s]\nroot = no-such-www\n", want);
	snprintf(text, sizeof(text), HEAD ROUTE "root = %s/nope\n", dir);
	snprintf(want, sizeof(want), "t.conf:5: root: '%s/nope': %s", dir,
	    strerror(ENOENT));
	parse_err(text, want);
	snprintf(text, sizeof(text), HEAD ROUTE "root = %s\n", file);
	snprintf(want, sizeof(want), "t.conf:5: root: '%s' is not a "
	    "directory", file);
	parse_err(text, want);
	snprintf(text, sizeof(text), HEAD ROUTE "root = %s\nroot = /\n", dir);
	parse_err(text, "t.conf:6: root: already set at line 5");

	/* index: one plain file name, and only with a root. */
	parse_err(HEAD ROUTE "index = a.html\n",
	    "t.conf:5: index: needs a root ([route /])");
	parse_err(HEAD ROUTE "root = /\nindex = a/b.html\nindex = .x\n"
	    "[route /b]\nroot = /\nindex = ..\n[route /c]\nroot = /\n"
	    "index = a\\b\n",
	    "t.conf:6: index: bad file name 'a/b.html' (one name such as "
	    "index.html: no '/', blanks or leading '.')\n"
	    "t.conf:7: index: bad file name '.x' (one name such as "
	    "index.html: no '/', blanks or leading '.')\n"
	    "t.conf:10: index: bad file name '..' (one name such as "
	    "index.html: no '/', blanks or leading '.')\n"
	    "t.conf:13: index: bad file name 'a\\b' (one name such as "
	    "index.html: no '/', blanks or leading '.')");

	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* Route allow lists without client certificates being asked for. */
static void
test_allow_client_needs_verify(void **state)
{
	(void)state;
	parse_err("[gateway]\nlisten = 8080 tls\n[tls]\ncertificate = /c\n"
	    "private_key = /k\n[route /a]\nbackend = tcp:127.0.0.1:7\n"
	    "allow_client_cn = alice\n",
	    "t.conf:6: [route /a]: allow_client_cn/allow_client_san need "
	    "[tls] verify_client = optional or require");
}

/* The keys of token sources, Redis and the websockify auth plugins. */
static void
test_token_source_keys(void **state)
{
	struct config	*cfg;
	const struct config_route *r;

	(void)state;
	cfg = parse_ok(HEAD "redis = 127.0.0.1:6379\nredis_db = 3\n"
	    "redis_timeout = 250ms\ninstance = gw-1.a\n"
	    "token_redis_prefix = tokens:\nallow_targets = 10.0.0.0/8:*\n"
	    "[route /a]\ntoken_redis = on\n"
	    "[route /b]\ntoken_dir = /tmp\ntoken_from = host\n"
	    "allow_targets = unix:/run/*, [::1]:22\n"
	    "[route /c]\ntoken_api = http://127.0.0.1:1/t?x=%s\n"
	    "token_api_timeout = 2s\n"
	    "[route /d]\ntoken_socket_dir = /tmp\n"
	    "[route /e]\ntoken_jwt_key_file = /k\nauth = basic\n"
	    "basic_auth = u:p:w\norigin_required = on\n");
	assert_non_null(cfg->redis);
	assert_int_equal(cfg->redis->kind, CONFIG_ADDR_TCP);
	assert_string_equal(cfg->redis->host, "127.0.0.1");
	assert_int_equal(cfg->redis->port, 6379);
	assert_int_equal(cfg->redis_db, 3);
	assert_int_equal(cfg->redis_timeout_ms, 250);
	assert_string_equal(cfg->instance, "gw-1.a");
	r = &cfg->routes[0];
	assert_int_equal(r->token_redis, 1);
	assert_string_equal(r->token_redis_prefix, "tokens:");
	assert_int_equal(r->nallow_targets, 1);
	assert_true(config_route_has_token_source(r));
	r = &cfg->routes[1];
	assert_string_equal(r->token_dir, "/tmp");
	assert_int_equal(r->token_from, CONFIG_TOKEN_FROM_HOST);
	assert_int_equal(r->nallow_targets, 2);
	assert_string_equal(r->allow_targets[1], "[::1]:22");
	r = &cfg->routes[2];
	assert_string_equal(r->token_api, "http://127.0.0.1:1/t?x=%s");
	assert_int_equal(r->token_api_timeout_ms, 2000);
	assert_int_equal(cfg->routes[1].token_api_timeout_ms,
	    CONFIG_DEFAULT_TOKEN_API_TIMEOUT_MS);
	assert_string_equal(cfg->routes[3].token_socket_dir, "/tmp");
	r = &cfg->routes[4];
	assert_string_equal(r->token_jwt_key_file, "/k");
	assert_string_equal(r->basic_auth, "u:p:w");
	assert_int_equal(r->origin_required, 1);
	config_free(cfg);

	cfg = parse_ok(HEAD "redis = unix:/run/redis.sock\n" ROUTE);
	assert_int_equal(cfg->redis->kind, CONFIG_ADDR_UNIX);
	assert_string_equal(cfg->redis->path, "/run/redis.sock");
	assert_int_equal(cfg->redis_timeout_ms, CONFIG_DEFAULT_REDIS_TIMEOUT_MS);
	assert_false(config_route_has_token_source(&cfg->routes[0]));
	config_free(cfg);

	parse_err(HEAD "[route /]\ntoken_redis = on\n",
	    "t.conf:3: [route /]: token_redis = on needs redis in [gateway]");
	parse_err(HEAD "[route /]\ntoken_dir = /tmp\ntoken_socket_dir = /tmp\n",
	    "t.conf:3: [route /]: more than one token source (token_file, "
	    "token_redis, token_dir, token_socket_dir, token_jwt_key_file, "
	    "token_api): pick one");
	parse_err(HEAD "redis = nohost\n" ROUTE,
	    "t.conf:3: redis: bad address 'tcp:nohost' (missing port)");
	parse_err(HEAD "instance = a b\n" ROUTE,
	    "t.conf:3: instance: bad name 'a b' (1..64 letters, digits, '.', "
	    "'_', '-')");
	parse_err(HEAD ROUTE "token_api = http://h/x\n",
	    "t.conf:5: token_api: bad URL 'http://h/x' (http[s]://HOST[:PORT]/"
	    "PATH with one %s where the token goes, no other '%')");
	parse_err(HEAD ROUTE "token_api = ftp://h/%s\n",
	    "t.conf:5: token_api: bad URL 'ftp://h/%s' (http[s]://HOST[:PORT]/"
	    "PATH with one %s where the token goes, no other '%')");
	parse_err(HEAD ROUTE "token_api = https://h/%s%%\n",
	    "t.conf:5: token_api: bad URL 'https://h/%s%%' (http[s]://HOST[:PORT]"
	    "/PATH with one %s where the token goes, no other '%')");
	cfg = parse_ok(HEAD ROUTE "token_api = https://h:8443/t/%s\n");
	assert_string_equal(cfg->routes[0].token_api, "https://h:8443/t/%s");
	config_free(cfg);
	parse_err(HEAD ROUTE "token_dir = relative\n",
	    "t.conf:5: token_dir: 'relative' is not an absolute path");
	parse_err(HEAD ROUTE "allow_targets = host\n",
	    "t.conf:5: allow_targets: bad rule 'host' (use HOST:PORTS, "
	    "NET/BITS:PORTS, [V6]:PORTS, *:PORTS, unix:/path or unix:/dir/*; "
	    "PORTS is N, N-M or *)");
	parse_err(HEAD ROUTE "basic_auth = nopass\n",
	    "t.conf:5: basic_auth: expected USER:PASSWORD (a non-empty user, "
	    "no control characters)");
	parse_err(HEAD ROUTE "basic_auth = u:p\n",
	    "t.conf:3: [route /]: basic_auth needs auth = basic");
	parse_err(HEAD ROUTE "auth = basic\nbasic_auth = u:p\n"
	    "htpasswd_file = /x\n",
	    "t.conf:3: [route /]: auth = basic needs exactly one of "
	    "htpasswd_file, basic_auth");
}

/* The keys the websockify front end maps its options onto. */
static void
test_websockify_keys(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = parse_ok("[gateway]\nlisten = 8443 tls auto\n"
	    "listen = unix:/tmp/x.sock mode=0660\nexit_after = 30s\n"
	    "exit_when_idle = 2m\nexit_after_sessions = 1\n"
	    "[tls]\ncertificate = /c\nprivate_key = /k\n"
	    "private_key_password = env:PW\nverify_client = require\n"
	    "client_ca = system\n" ROUTE "backend_verify = off\n");
	assert_true(cfg->listens[0].tls);
	assert_true(cfg->listens[0].tls_auto);
	assert_int_equal(cfg->listens[1].mode, 0660);
	assert_int_equal(cfg->exit_after_ms, 30000);
	assert_int_equal(cfg->exit_when_idle_ms, 120000);
	assert_int_equal(cfg->exit_after_sessions, 1);
	assert_string_equal(cfg->tls_key_password, "env:PW");
	assert_int_equal(cfg->routes[0].backend_verify, 0);
	config_free(cfg);
	cfg = parse_ok(HEAD ROUTE);
	assert_int_equal(cfg->routes[0].backend_verify, 1);
	assert_int_equal(cfg->exit_after_sessions, 0);
	config_free(cfg);
	parse_err("[gateway]\nlisten = 8443 auto\n" ROUTE,
	    "t.conf:2: listen: bad address '8443 auto': auto goes after tls "
	    "(\"tls auto\": TLS and plain clients on one port)\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
	parse_err("[gateway]\nlisten = 8443 mode=0660\n" ROUTE,
	    "t.conf:2: listen: bad address '8443 mode=0660': mode= is for "
	    "unix: sockets\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
	parse_err("[gateway]\nlisten = unix:/x mode=999\n" ROUTE,
	    "t.conf:2: listen: bad address 'unix:/x mode=999': mode must be "
	    "octal 0001..0777, as in mode=0660\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
	parse_err(HEAD "[tls]\nprivate_key_password = hunter2\n" ROUTE,
	    "t.conf:4: private_key_password: use pass:SECRET, env:VARIABLE "
	    "or file:/absolute/path");
	parse_err(HEAD "exit_after_sessions = -1\n" ROUTE,
	    "t.conf:3: exit_after_sessions: bad number '-1'");
	cfg = parse_ok("[gateway]\nlisten = 127.0.0.1:5901\nlisten = fd:0\n"
	    "wrap_command = vnc :1\nwrap_mode = respawn\n"
	    "wrap_private_port = 15901\n"
	    "[route /]\nbackend = tcp:127.0.0.1:15901\n");
	assert_int_equal(cfg->wrap_port, 5901);	/* from the listen line */
	assert_int_equal(cfg->wrap_mode, 2);
	assert_int_equal(cfg->listens[1].kind, CONFIG_ADDR_FD);
	assert_int_equal(cfg->listens[1].fd, 0);
	config_free(cfg);
	parse_err(HEAD "wrap_command = x\n" ROUTE,
	    "t.conf: wrap_command needs wrap_private_port (the 127.0.0.1 port "
	    "the program's wrap_port is moved to)");
	parse_err("[gateway]\nlisten = fd:x\n" ROUTE,
	    "t.conf:2: listen: bad address 'fd:x' (fd: takes a descriptor "
	    "number, as in fd:0)\n"
	    "t.conf: no listen address (add listen = PORT to [gateway])");
}

/* Issue 16 keys: defaults, values, inheritance from [gateway]. */
static void
test_beyond_bytes_keys(void **state)
{
	struct config		*cfg;
	const struct config_route *r;

	(void)state;
	cfg = parse_ok(HEAD "framing = line\ncompression = on\n"
	    "exec_env = LANG\n"
	    "[route /calc]\n"
	    "backend = exec:/usr/bin/bc -q \"two words\"\n"
	    "line_max = 64K\nline_overflow = close\nline_invalid = close\n"
	    "max_processes = 7\nexec_kill_timeout = 250ms\n"
	    "exec_env = PATH HOME\nexec_env = GREETING=a b, c\n"
	    "user = nobody\ncwd = /tmp\n"
	    ROUTE);
	r = &cfg->routes[0];
	assert_int_equal(r->nbackends, 1);
	assert_int_equal(r->backends[0].kind, CONFIG_ADDR_EXEC);
	assert_string_equal(r->backends[0].spec,
	    "exec:/usr/bin/bc -q \"two words\"");
	assert_string_equal(r->backends[0].argv[0], "/usr/bin/bc");
	assert_string_equal(r->backends[0].argv[1], "-q");
	assert_string_equal(r->backends[0].argv[2], "two words");
	assert_null(r->backends[0].argv[3]);
	assert_int_equal(r->framing, 1);
	assert_int_equal(r->compression, 1);
	assert_int_equal(r->line_max, 64 * 1024);
	assert_int_equal(r->line_overflow, 1);
	assert_int_equal(r->line_invalid, 1);
	assert_int_equal(r->max_processes, 7);
	assert_int_equal(r->exec_kill_timeout_ms, 250);
	assert_int_equal(r->nexec_env, 3);
	assert_string_equal(r->exec_env[0], "PATH");
	assert_string_equal(r->exec_env[1], "HOME");
	assert_string_equal(r->exec_env[2], "GREETING=a b, c");
	assert_string_equal(r->exec_user, "nobody");
	assert_string_equal(r->exec_cwd, "/tmp");
	/* the second route: [gateway] values and the defaults */
	r = &cfg->routes[1];
	assert_int_equal(r->framing, 1);
	assert_int_equal(r->compression, 1);
	assert_int_equal(r->line_max, CONFIG_DEFAULT_LINE_MAX);
	assert_int_equal(r->line_overflow, 0);
	assert_int_equal(r->line_invalid, 0);
	assert_int_equal(r->max_processes, CONFIG_DEFAULT_MAX_PROCESSES);
	assert_int_equal(r->exec_kill_timeout_ms,
	    CONFIG_DEFAULT_EXEC_KILL_TIMEOUT_MS);
	config_free(cfg);
	/* a config copy keeps argv (the websockify-style and reload
	 * paths copy routes) */
	cfg = parse_ok(HEAD "backend = exec:/bin/cat\n[route /a]\n");
	assert_string_equal(cfg->routes[0].backends[0].argv[0], "/bin/cat");
	config_free(cfg);
}

static void
test_beyond_bytes_errors(void **state)
{
	(void)state;
	parse_err(HEAD "[route /]\n"
	    "backend = exec:bc -q\n"
	    "backend = exec:/nonexistent/prog\n"
	    "backend = exec:/etc/passwd\n"
	    "backend = exec:/bin/sh -c 'x\n"
	    "backend = exec:\n"
	    "framing = lines\n"
	    "compression = yes\n"
	    "line_max = 8\n"
	    "line_overflow = cut\n"
	    "line_invalid = drop\n"
	    "max_processes = -1\n"
	    "exec_kill_timeout = 2h\n"
	    "exec_env = 1BAD\n"
	    "exec_env = A-B=1\n"
	    "cwd = relative\n",
	    "t.conf:4: backend: exec:bc -q: program 'bc' is not an absolute "
	    "path\n"
	    "t.conf:5: backend: exec:/nonexistent/prog: '/nonexistent/prog': "
	    "No such file or directory\n"
	    "t.conf:6: backend: exec:/etc/passwd: '/etc/passwd' is not an "
	    "executable file\n"
	    "t.conf:7: backend: exec:/bin/sh -c 'x: unterminated ' quote\n"
	    "t.conf:8: backend: exec:: no program\n"
	    "t.conf:9: framing: bad value 'lines' (use stream, line, text)\n"
	    "t.conf:10: compression: bad value 'yes' (use off, on)\n"
	    "t.conf:11: line_max: '8' out of range (16..64M)\n"
	    "t.conf:12: line_overflow: bad value 'cut' (use split, close)\n"
	    "t.conf:13: line_invalid: bad value 'drop' (use binary, close)\n"
	    "t.conf:14: max_processes: bad number '-1'\n"
	    "t.conf:15: exec_kill_timeout: '2h' out of range (0..1h)\n"
	    "t.conf:16: exec_env: bad variable name '1BAD' (letters, digits "
	    "and '_', or NAME=VALUE)\n"
	    "t.conf:17: exec_env: bad variable name 'A-B' (letters, digits "
	    "and '_')\n"
	    "t.conf:18: cwd: 'relative' is not an absolute path\n"
	    "t.conf:3: [route /]: no backend (set backend here or in "
	    "[gateway])");
	parse_err(HEAD "[route /]\nbackend = exec:/bin/cat\n"
	    "backend = tcp:127.0.0.1:7\nbackend_proxy_protocol = v1\n"
	    "[route /b]\nbackend = tcp:127.0.0.1:7\nuser = nobody\n"
	    "exec_env = PATH\n",
	    "t.conf:4: [route /]: an exec: backend must be the route's only "
	    "backend\n"
	    "t.conf:3: [route /]: backend_proxy_protocol does not apply to "
	    "exec: backends\n"
	    "t.conf:9: user: only for exec: backends ([route /b])\n"
	    "t.conf:10: exec_env: only for exec: backends ([route /b])");
	parse_err("[gateway]\nlisten = 8080\nuser = wsgate\n"
	    "[route /]\nbackend = exec:/bin/cat\nuser = nobody\n",
	    "t.conf:6: user: 'nobody' cannot be had after [gateway] user = "
	    "wsgate drops root ([route /])");
}

/* [tls] session_tickets: OpenSSL's 2 by default, 0..16. */
static void
test_session_tickets(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = parse_ok(HEAD ROUTE);
	assert_int_equal(cfg->tls_session_tickets, 2);
	config_free(cfg);
	cfg = parse_ok(HEAD "[tls]\nsession_tickets = 0\n" ROUTE);
	assert_int_equal(cfg->tls_session_tickets, 0);
	config_free(cfg);
	parse_err(HEAD "[tls]\nsession_tickets = 17\n" ROUTE,
	    "t.conf:4: session_tickets: '17' out of range (0..16)");
	parse_err(HEAD "[tls]\nsession_tickets = one\n" ROUTE,
	    "t.conf:4: session_tickets: bad number 'one'");
}

/*
 * The word lists: each accumulates over its lines, a route without its
 * own takes a copy of [gateway]'s, a route's own replaces it, and a bad
 * word (in either section) names its file:line.
 */
#define WORDS_HEAD \
	"[gateway]\nlisten = 8443 tls\n"			/* 1-2 */ \
	"allow_client_cn = alice, bob\nallow_client_cn = carol\n" /* 3-4 */ \
	"allow_client_san = a.example\n"			/* 5 */ \
	"allow_targets = 10.0.0.0/8:*\nallow_targets = unix:/run/*\n" \
	"exec_env = LANG\nexec_env = TZ=UTC\n"			/* 8-9 */ \
	"[tls]\ncertificate = /c\nprivate_key = /k\n"		/* 10-12 */ \
	"verify_client = require\nclient_ca = system\n"	/* 13-14 */

static void
test_word_lists(void **state)
{
	struct config		*cfg;
	const struct config_route *r;

	(void)state;
	cfg = parse_ok(WORDS_HEAD
	    "[route /inherit]\nbackend = exec:/bin/cat\n"
	    "[route /own]\nbackend = exec:/bin/cat\n"
	    "allow_client_cn = dave\n"
	    "allow_client_san = b.example c@example.org\n"
	    "allow_targets = [::1]:22\nexec_env = HOME\n");
	r = &cfg->routes[0];
	assert_int_equal(r->nallow_client_cn, 3);
	assert_string_equal(r->allow_client_cn[0], "alice");
	assert_string_equal(r->allow_client_cn[1], "bob");
	assert_string_equal(r->allow_client_cn[2], "carol");
	assert_int_equal(r->nallow_client_san, 1);
	assert_string_equal(r->allow_client_san[0], "a.example");
	assert_int_equal(r->nallow_targets, 2);
	assert_string_equal(r->allow_targets[0], "10.0.0.0/8:*");
	assert_string_equal(r->allow_targets[1], "unix:/run/*");
	assert_int_equal(r->nexec_env, 2);
	assert_string_equal(r->exec_env[0], "LANG");
	assert_string_equal(r->exec_env[1], "TZ=UTC");
	/* copies, not shared pointers: config_free frees each route's own */
	assert_ptr_not_equal(r->allow_client_cn[0],
	    cfg->routes[1].allow_client_cn[0]);
	r = &cfg->routes[1];
	assert_int_equal(r->nallow_client_cn, 1);
	assert_string_equal(r->allow_client_cn[0], "dave");
	assert_int_equal(r->nallow_client_san, 2);
	assert_string_equal(r->allow_client_san[0], "b.example");
	assert_string_equal(r->allow_client_san[1], "c@example.org");
	assert_int_equal(r->nallow_targets, 1);
	assert_string_equal(r->allow_targets[0], "[::1]:22");
	assert_int_equal(r->nexec_env, 1);
	assert_string_equal(r->exec_env[0], "HOME");
	config_free(cfg);

	parse_err(WORDS_HEAD "[gateway]\nallow_client_cn = \"x\"\n"
	    "[route /]\nbackend = exec:/bin/cat\n"
	    "allow_client_cn = ok \"q\" fine\n"
	    "allow_client_san = a, b\"c\n"
	    "allow_client_san = ,\n"
	    "allow_targets = 10.0.0.1:22 nope\n",
	    "t.conf:16: allow_client_cn: bad name '\"x\"' (names separated "
	    "by spaces or commas)\n"
	    "t.conf:19: allow_client_cn: bad name '\"q\"' (names separated "
	    "by spaces or commas)\n"
	    "t.conf:20: allow_client_san: bad name 'b\"c' (names separated "
	    "by spaces or commas)\n"
	    "t.conf:21: allow_client_san: empty list\n"
	    "t.conf:22: allow_targets: bad rule 'nope' (use HOST:PORTS, "
	    "NET/BITS:PORTS, [V6]:PORTS, *:PORTS, unix:/path or unix:/dir/*; "
	    "PORTS is N, N-M or *)");
}

/* trusted_proxies: networks over several lines, kept parsed; bad ones
 * named by file:line, the good ones on the line still checked. */
static void
test_trusted_proxies(void **state)
{
	struct config	*cfg;

	(void)state;
	cfg = parse_ok(HEAD "trusted_proxies = 10.0.0.0/8, 127.0.0.1\n"
	    "trusted_proxies = ::1 fd00::/8\n" ROUTE);
	assert_int_equal(cfg->ntrusted_proxies, 4);
	assert_int_equal(cfg->trusted_proxies[0].bits, 8);
	assert_int_equal(cfg->trusted_proxies[1].bits, 32);
	assert_int_equal(cfg->trusted_proxies[2].bits, 128);
	assert_int_equal(cfg->trusted_proxies[3].bits, 8);
	config_free(cfg);
	parse_err(HEAD "trusted_proxies = 10.0.0.0/33 ok.example 1.2.3.4\n"
	    "trusted_proxies = ,\n" ROUTE,
	    "t.conf:3: trusted_proxies: bad network '10.0.0.0/33' (use ADDR "
	    "or ADDR/BITS, IPv4 or IPv6)\n"
	    "t.conf:3: trusted_proxies: bad network 'ok.example' (use ADDR or "
	    "ADDR/BITS, IPv4 or IPv6)\n"
	    "t.conf:4: trusted_proxies: empty list");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_beyond_bytes_keys),
		cmocka_unit_test(test_beyond_bytes_errors),
		cmocka_unit_test(test_sample),
		cmocka_unit_test(test_allow_client_needs_verify),
		cmocka_unit_test(test_proxy_protocol_and_user),
		cmocka_unit_test(test_gateway_keys),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_inherit_gateway_first),
		cmocka_unit_test(test_inherit_gateway_last),
		cmocka_unit_test(test_split_gateway),
		cmocka_unit_test(test_route_paths),
		cmocka_unit_test(test_lexical),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_err_unknown_key),
		cmocka_unit_test(test_err_unknown_section),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_bad_duration),
		cmocka_unit_test(test_err_bad_size),
		cmocka_unit_test(test_err_range),
		cmocka_unit_test(test_err_bad_port),
		cmocka_unit_test(test_err_bad_address),
		cmocka_unit_test(test_unix_path_len),
		cmocka_unit_test(test_err_missing_backend),
		cmocka_unit_test(test_err_duplicate_route),
		cmocka_unit_test(test_err_subprotocols),
		cmocka_unit_test(test_origins),
		cmocka_unit_test(test_err_heartbeat),
		cmocka_unit_test(test_err_tls_needs_cert),
		cmocka_unit_test(test_err_whole_file),
		cmocka_unit_test(test_err_many),
		cmocka_unit_test(test_err_sanitized),
		cmocka_unit_test(test_err_truncation),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_from_args),
		cmocka_unit_test(test_websockify_keys),
		cmocka_unit_test(test_session_tickets),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_token_source_keys),
		cmocka_unit_test(test_word_lists),
		cmocka_unit_test(test_trusted_proxies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
