/*
 * cli_websockify: see include/cli_websockify.h.
 *
 * The option list and meanings follow websockify's websocketproxy.py
 * (0.10, plus --unix-listen, --unix-listen-mode and --file-only from
 * 0.13). Where the front end adds to it, the option is marked "ours".
 * Every option becomes a gateway.conf key (docs/MIGRATING.md has the
 * table); the few with no key (-6, --libserver, -D) are explained there.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "cli_websockify.h"

#define CLI_WS_LINE_MAX	199	/* inih's longest line (Debian build) */

enum cli_ws_opt {
	CLI_WS_VERBOSE = 0, CLI_WS_TRAFFIC, CLI_WS_RECORD, CLI_WS_DAEMON,
	CLI_WS_RUN_ONCE, CLI_WS_TIMEOUT, CLI_WS_IDLE_TIMEOUT, CLI_WS_CERT,
	CLI_WS_KEY, CLI_WS_KEY_PASSWORD, CLI_WS_KEY_PASSWORD_FILE,
	CLI_WS_KEY_PASSWORD_ENV, CLI_WS_SSL_ONLY, CLI_WS_SSL_TARGET,
	CLI_WS_SSL_TARGET_CAFILE, CLI_WS_SSL_TARGET_NO_VERIFY,
	CLI_WS_VERIFY_CLIENT, CLI_WS_CAFILE, CLI_WS_SSL_VERSION,
	CLI_WS_SSL_CIPHERS, CLI_WS_UNIX_LISTEN, CLI_WS_UNIX_LISTEN_MODE,
	CLI_WS_UNIX_TARGET, CLI_WS_INETD, CLI_WS_WEB, CLI_WS_WEB_AUTH,
	CLI_WS_WRAP_MODE, CLI_WS_PREFER_IPV6, CLI_WS_LIBSERVER,
	CLI_WS_TARGET_CONFIG, CLI_WS_TOKEN_PLUGIN, CLI_WS_TOKEN_SOURCE,
	CLI_WS_HOST_TOKEN, CLI_WS_AUTH_PLUGIN, CLI_WS_AUTH_SOURCE,
	CLI_WS_HEARTBEAT, CLI_WS_LOG_FILE, CLI_WS_SYSLOG, CLI_WS_LEGACY_SYSLOG,
	CLI_WS_FILE_ONLY, CLI_WS_PRINT_CONFIG, CLI_WS_FOREGROUND, CLI_WS_CHECK,
	CLI_WS_HELP, CLI_WS_VERSION,
};

struct cli_ws_def {
	const char	*name;		/* long name without "--" */
	char		 shortopt;	/* 0: none */
	bool		 arg;		/* takes a value */
	enum cli_ws_opt	 id;
};

/* websockify's options first, in its --help order; then ours. */
static const struct cli_ws_def cli_ws_defs[] = {
	{ "verbose", 'v', false, CLI_WS_VERBOSE },
	{ "traffic", 0, false, CLI_WS_TRAFFIC },
	{ "record", 0, true, CLI_WS_RECORD },
	{ "daemon", 'D', false, CLI_WS_DAEMON },
	{ "run-once", 0, false, CLI_WS_RUN_ONCE },
	{ "timeout", 0, true, CLI_WS_TIMEOUT },
	{ "idle-timeout", 0, true, CLI_WS_IDLE_TIMEOUT },
	{ "cert", 0, true, CLI_WS_CERT },
	{ "key", 0, true, CLI_WS_KEY },
	{ "key-password", 0, true, CLI_WS_KEY_PASSWORD },
	{ "ssl-only", 0, false, CLI_WS_SSL_ONLY },
	{ "ssl-target", 0, false, CLI_WS_SSL_TARGET },
	{ "verify-client", 0, false, CLI_WS_VERIFY_CLIENT },
	{ "cafile", 0, true, CLI_WS_CAFILE },
	{ "ssl-version", 0, true, CLI_WS_SSL_VERSION },
	{ "ssl-ciphers", 0, true, CLI_WS_SSL_CIPHERS },
	{ "unix-listen", 0, true, CLI_WS_UNIX_LISTEN },
	{ "unix-listen-mode", 0, true, CLI_WS_UNIX_LISTEN_MODE },
	{ "unix-target", 0, true, CLI_WS_UNIX_TARGET },
	{ "inetd", 0, false, CLI_WS_INETD },
	{ "web", 0, true, CLI_WS_WEB },
	{ "web-auth", 0, false, CLI_WS_WEB_AUTH },
	{ "wrap-mode", 0, true, CLI_WS_WRAP_MODE },
	{ "prefer-ipv6", '6', false, CLI_WS_PREFER_IPV6 },
	{ "libserver", 0, false, CLI_WS_LIBSERVER },
	{ "target-config", 0, true, CLI_WS_TARGET_CONFIG },
	{ "token-plugin", 0, true, CLI_WS_TOKEN_PLUGIN },
	{ "token-source", 0, true, CLI_WS_TOKEN_SOURCE },
	{ "host-token", 0, false, CLI_WS_HOST_TOKEN },
	{ "auth-plugin", 0, true, CLI_WS_AUTH_PLUGIN },
	{ "auth-source", 0, true, CLI_WS_AUTH_SOURCE },
	{ "heartbeat", 0, true, CLI_WS_HEARTBEAT },
	{ "log-file", 0, true, CLI_WS_LOG_FILE },
	{ "syslog", 0, true, CLI_WS_SYSLOG },
	{ "legacy-syslog", 0, false, CLI_WS_LEGACY_SYSLOG },
	{ "file-only", 0, false, CLI_WS_FILE_ONLY },
	{ "help", 'h', false, CLI_WS_HELP },
	/* ours */
	{ "key-password-file", 0, true, CLI_WS_KEY_PASSWORD_FILE },
	{ "key-password-env", 0, true, CLI_WS_KEY_PASSWORD_ENV },
	{ "ssl-target-cafile", 0, true, CLI_WS_SSL_TARGET_CAFILE },
	{ "ssl-target-no-verify", 0, false, CLI_WS_SSL_TARGET_NO_VERIFY },
	{ "print-config", 0, false, CLI_WS_PRINT_CONFIG },
	{ "foreground", 'd', false, CLI_WS_FOREGROUND },
	{ "test", 't', false, CLI_WS_CHECK },
	{ "version", 'V', false, CLI_WS_VERSION },
};
#define CLI_WS_NDEFS	(sizeof(cli_ws_defs) / sizeof(cli_ws_defs[0]))

static const char cli_ws_usage_text[] =
"Usage:\n"
"    websockify [options] [source_addr:]source_port target_addr:target_port\n"
"    websockify [options] --token-plugin=CLASS [source_addr:]source_port\n"
"    websockify [options] --unix-target=FILE [source_addr:]source_port\n"
"    websockify [options] [source_addr:]source_port -- WRAP_COMMAND_LINE\n"
"\n"
"wsgate reading websockify's command line (docs/MIGRATING.md says what\n"
"each option becomes; --print-config shows the gateway.conf equivalent).\n"
"\n"
"Options:\n"
"  -h, --help            show this help message and exit\n"
"  -v, --verbose         verbose messages (log_level = debug)\n"
"  --traffic             per frame traffic\n"
"  --record=FILE         record sessions to FILE.[session_number]\n"
"  -D, --daemon          become a daemon (background process)\n"
"  --run-once            handle a single WebSocket connection and exit\n"
"  --timeout=TIMEOUT     after TIMEOUT seconds stop accepting; exit when the\n"
"                        last connection ends\n"
"  --idle-timeout=IDLE_TIMEOUT\n"
"                        server exits after TIMEOUT seconds if there are no\n"
"                        active connections\n"
"  --cert=CERT           SSL certificate file (with the key unless --key);\n"
"                        TLS is on only when --cert or --ssl-only is given\n"
"  --key=KEY             SSL key file (if separate from cert)\n"
"  --key-password=KEY_PASSWORD\n"
"                        SSL key password (visible in ps: prefer the next two)\n"
"  --key-password-file=FILE  read the key password from FILE\n"
"  --key-password-env=VAR    read the key password from environment VAR\n"
"  --ssl-only            disallow non-encrypted client connections\n"
"  --ssl-target          connect to SSL target as SSL client (verified\n"
"                        against OpenSSL's default store; SSL_CERT_FILE works)\n"
"  --ssl-target-cafile=FILE  verify the SSL target against FILE instead\n"
"  --ssl-target-no-verify    do not verify the SSL target (logged)\n"
"  --verify-client       require encrypted client to present a valid\n"
"                        certificate\n"
"  --cafile=FILE         file of concatenated certificates of authorities\n"
"                        trusted for validating clients (only effective with\n"
"                        --verify-client); if omitted, the system's CAs\n"
"  --ssl-version=SSL_VERSION\n"
"                        minimum TLS version to use (default, tlsv1_1,\n"
"                        tlsv1_2, tlsv1_3); wsgate never goes below TLS 1.2\n"
"  --ssl-ciphers=SSL_CIPHERS\n"
"                        list of ciphers allowed for connection (TLS 1.2)\n"
"  --unix-listen=FILE    listen to unix socket\n"
"  --unix-listen-mode=UNIX_LISTEN_MODE\n"
"                        specify mode for unix socket (defaults to 0600)\n"
"  --unix-target=FILE    connect to unix socket target\n"
"  --inetd               inetd mode, receive listening socket from stdin\n"
"  --web=DIR             run webserver on same port. Serve files from DIR.\n"
"  --web-auth            require authentication to access webserver.\n"
"  --file-only           disable directory listings in web server (wsgate\n"
"                        never lists directories)\n"
"  --wrap-mode=MODE      action to take when the wrapped program exits or\n"
"                        daemonizes: exit (default), ignore, respawn\n"
"  -6, --prefer-ipv6     prefer IPv6 when resolving source_addr (wsgate\n"
"                        listens on every address of the name anyway)\n"
"  --libserver           accepted; changes nothing in wsgate\n"
"  --target-config=FILE  file or directory of 'token: host:port' lines\n"
"                        (same as --token-plugin TokenFile --token-source)\n"
"  --token-plugin=CLASS  TokenFile, ReadOnlyTokenFile, TokenFileName,\n"
"                        UnixDomainSocketDirectory, JWTTokenApi, TokenRedis,\n"
"                        BaseTokenAPI or JSONTokenApi (see MIGRATING.md)\n"
"  --token-source=ARG    an argument to be passed to the token plugin\n"
"  --host-token          use the host HTTP header as token instead of the\n"
"                        token URL query parameter\n"
"  --auth-plugin=CLASS   BasicHTTPAuth, ExpectOrigin or ClientCertCNAuth\n"
"  --auth-source=ARG     an argument to be passed to the auth plugin\n"
"  --heartbeat=INTERVAL  send a ping to the client every INTERVAL seconds\n"
"  --log-file=FILE       File where logs will be saved\n"
"  --syslog=SERVER       Log to syslog server. SERVER can be local socket,\n"
"                        such as /dev/log, or a UDP host:port pair.\n"
"  --legacy-syslog       Use the old syslog protocol instead of RFC 5424.\n"
"\n"
"wsgate's own:\n"
"  --print-config        print the gateway.conf equivalent and exit\n"
"  -t, --test            check the resulting configuration and exit\n"
"  -d, --foreground      stay in the foreground (the default here)\n"
"  -V, --version         show the version and exit\n";

const char *
cli_ws_usage(void)
{
	return cli_ws_usage_text;
}

static void __attribute__((format(printf, 3, 4)))
cli_ws_msg(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;

	if (buf == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

/* wsgate's own first form: -c FILE, -t, -d, -v, -h, -V and long names. */
static bool
cli_ws_wsgate_arg(const char *a, bool *takes_next)
{
	static const char *const longs[] = { "--test", "--foreground",
	    "--verbose", "--help", "--version" };
	size_t	i;

	*takes_next = false;
	if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
		*takes_next = true;
		return true;
	}
	if (strncmp(a, "--config=", 9) == 0 || (strncmp(a, "-c", 2) == 0 &&
	    a[2] != '\0'))
		return true;
	for (i = 0; i < sizeof(longs) / sizeof(longs[0]); i++)
		if (strcmp(a, longs[i]) == 0)
			return true;
	if (a[0] != '-' || a[1] == '-' || a[1] == '\0')
		return false;
	return strspn(a + 1, "dtvhV") == strlen(a + 1);
}

bool
cli_ws_wanted(int argc, const char *const argv[])
{
	const char	*base;
	bool		 next;
	int		 i;

	if (argc < 1 || argv[0] == NULL)
		return false;
	base = strrchr(argv[0], '/');
	base = base != NULL ? base + 1 : argv[0];
	if (strcmp(base, "websockify") == 0)
		return true;
	for (i = 1; i < argc; i++) {
		if (!cli_ws_wsgate_arg(argv[i], &next))
			return true;
		if (next)
			i++;
	}
	return false;
}

/* The long option named by name[0..n): exact, else a unique prefix. */
static const struct cli_ws_def *
cli_ws_find_long(const char *name, size_t n, char *err, size_t errlen)
{
	const struct cli_ws_def	*hit = NULL;
	size_t			 i, nhits = 0;

	for (i = 0; i < CLI_WS_NDEFS; i++) {
		if (strncmp(cli_ws_defs[i].name, name, n) != 0)
			continue;
		if (cli_ws_defs[i].name[n] == '\0')
			return &cli_ws_defs[i];
		hit = &cli_ws_defs[i];
		nhits++;
	}
	if (nhits == 1)
		return hit;
	cli_ws_msg(err, errlen, nhits == 0 ? "no such option: --%.*s" :
	    "ambiguous option: --%.*s", (int)n, name);
	return NULL;
}

static const struct cli_ws_def *
cli_ws_find_short(char c, char *err, size_t errlen)
{
	size_t	i;

	for (i = 0; i < CLI_WS_NDEFS; i++)
		if (cli_ws_defs[i].shortopt == c)
			return &cli_ws_defs[i];
	cli_ws_msg(err, errlen, "no such option: -%c", c);
	return NULL;
}

/* optparse's type=int, non-negative: decimal digits only. */
static int
cli_ws_seconds(const char *name, const char *v, uint64_t *out, char *err,
    size_t errlen)
{
	uint64_t	n = 0;
	const char	*p;

	for (p = v; *p >= '0' && *p <= '9'; p++) {
		if (n > 100000000)	/* three years is plenty */
			break;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == v || *p != '\0') {
		cli_ws_msg(err, errlen, "option --%s: invalid integer value: "
		    "'%s' (seconds, 0..100000000)", name, v);
		return -1;
	}
	*out = n;
	return 0;
}

/* Store one option's value (v NULL for flags). 0 or -1 with err. */
static int
cli_ws_set(struct cli_ws *o, const struct cli_ws_def *d, const char *v,
    char *err, size_t errlen)
{
	switch (d->id) {
	case CLI_WS_VERBOSE: o->verbose++; break;
	case CLI_WS_TRAFFIC: o->traffic = true; break;
	case CLI_WS_RECORD: o->record = v; break;
	case CLI_WS_DAEMON: o->daemon = true; break;
	case CLI_WS_RUN_ONCE: o->run_once = true; break;
	case CLI_WS_TIMEOUT:
		return cli_ws_seconds(d->name, v, &o->timeout, err, errlen);
	case CLI_WS_IDLE_TIMEOUT:
		return cli_ws_seconds(d->name, v, &o->idle_timeout, err,
		    errlen);
	case CLI_WS_HEARTBEAT:
		o->heartbeat_set = true;
		return cli_ws_seconds(d->name, v, &o->heartbeat, err, errlen);
	case CLI_WS_CERT: o->cert = v; break;
	case CLI_WS_KEY: o->key = v; break;
	case CLI_WS_KEY_PASSWORD: o->key_password = v; break;
	case CLI_WS_KEY_PASSWORD_FILE: o->key_password_file = v; break;
	case CLI_WS_KEY_PASSWORD_ENV: o->key_password_env = v; break;
	case CLI_WS_SSL_ONLY: o->ssl_only = true; break;
	case CLI_WS_SSL_TARGET: o->ssl_target = true; break;
	case CLI_WS_SSL_TARGET_CAFILE: o->ssl_target_cafile = v; break;
	case CLI_WS_SSL_TARGET_NO_VERIFY: o->ssl_target_no_verify = true; break;
	case CLI_WS_VERIFY_CLIENT: o->verify_client = true; break;
	case CLI_WS_CAFILE: o->cafile = v; break;
	case CLI_WS_SSL_VERSION:
		if (strcmp(v, "default") != 0 && strcmp(v, "tlsv1_1") != 0 &&
		    strcmp(v, "tlsv1_2") != 0 && strcmp(v, "tlsv1_3") != 0) {
			cli_ws_msg(err, errlen, "option --ssl-version: invalid "
			    "choice: '%s' (choose from 'default', 'tlsv1_1', "
			    "'tlsv1_2', 'tlsv1_3')", v);
			return -1;
		}
		o->ssl_version = v;
		break;
	case CLI_WS_SSL_CIPHERS: o->ssl_ciphers = v; break;
	case CLI_WS_UNIX_LISTEN: o->unix_listen = v; break;
	case CLI_WS_UNIX_LISTEN_MODE: o->unix_listen_mode = v; break;
	case CLI_WS_UNIX_TARGET: o->unix_target = v; break;
	case CLI_WS_INETD: o->inetd = true; break;
	case CLI_WS_WEB: o->web = v; break;
	case CLI_WS_WEB_AUTH: o->web_auth = true; break;
	case CLI_WS_WRAP_MODE:
		if (strcmp(v, "exit") != 0 && strcmp(v, "ignore") != 0 &&
		    strcmp(v, "respawn") != 0) {
			cli_ws_msg(err, errlen, "option --wrap-mode: invalid "
			    "choice: '%s' (choose from 'exit', 'ignore', "
			    "'respawn')", v);
			return -1;
		}
		o->wrap_mode = v;
		break;
	case CLI_WS_PREFER_IPV6: o->prefer_ipv6 = true; break;
	case CLI_WS_LIBSERVER: o->libserver = true; break;
	case CLI_WS_TARGET_CONFIG: o->target_config = v; break;
	case CLI_WS_TOKEN_PLUGIN: o->token_plugin = v; break;
	case CLI_WS_TOKEN_SOURCE: o->token_source = v; break;
	case CLI_WS_HOST_TOKEN: o->host_token = true; break;
	case CLI_WS_AUTH_PLUGIN: o->auth_plugin = v; break;
	case CLI_WS_AUTH_SOURCE: o->auth_source = v; break;
	case CLI_WS_LOG_FILE: o->log_file = v; break;
	case CLI_WS_SYSLOG: o->syslog = v; break;
	case CLI_WS_LEGACY_SYSLOG: o->legacy_syslog = true; break;
	case CLI_WS_FILE_ONLY: o->file_only = true; break;
	case CLI_WS_PRINT_CONFIG: o->print_config = true; break;
	case CLI_WS_FOREGROUND: o->foreground = true; break;
	case CLI_WS_CHECK: o->check = true; break;
	case CLI_WS_HELP: o->help = true; break;
	case CLI_WS_VERSION: o->version = true; break;
	}
	return 0;
}

/*
 * One option argument at argv[*i] ("--name[=v]" or "-abc"); takes its
 * value from the next argument when needed. 0 or -1 with err.
 */
static int
cli_ws_option(int argc, const char *const argv[], int *i, struct cli_ws *o,
    char *err, size_t errlen)
{
	const struct cli_ws_def	*d;
	const char		*a = argv[*i], *eq, *v;
	size_t			 k;

	if (a[1] == '-') {
		eq = strchr(a + 2, '=');
		if ((d = cli_ws_find_long(a + 2, eq != NULL ? (size_t)(eq -
		    a - 2) : strlen(a + 2), err, errlen)) == NULL)
			return -1;
		if (!d->arg && eq != NULL) {
			cli_ws_msg(err, errlen, "--%s option does not take a "
			    "value", d->name);
			return -1;
		}
		v = eq != NULL ? eq + 1 : NULL;
		if (d->arg && v == NULL) {
			if (*i + 1 >= argc) {
				cli_ws_msg(err, errlen, "--%s option requires "
				    "an argument", d->name);
				return -1;
			}
			v = argv[++*i];
		}
		return cli_ws_set(o, d, v, err, errlen);
	}
	/* Short flags, bundled as optparse allows ("-vD"). */
	for (k = 1; a[k] != '\0'; k++) {
		if ((d = cli_ws_find_short(a[k], err, errlen)) == NULL)
			return -1;
		if (cli_ws_set(o, d, NULL, err, errlen) == -1)
			return -1;
	}
	return 0;
}

int
cli_ws_parse(int argc, const char *const argv[], struct cli_ws *o, char *err,
    size_t errlen)
{
	const char	*pos[3];
	size_t		 npos = 0, need;
	int		 i;

	memset(o, 0, sizeof(*o));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			o->wrap_argv = argv + i + 1;
			o->wrap_argc = (size_t)(argc - i - 1);
			break;
		}
		if (argv[i][0] == '-' && argv[i][1] != '\0') {
			if (cli_ws_option(argc, argv, &i, o, err, errlen) == -1)
				return -1;
			continue;
		}
		if (npos == sizeof(pos) / sizeof(pos[0])) {
			cli_ws_msg(err, errlen, "Too many arguments");
			return -1;
		}
		pos[npos++] = argv[i];
	}
	if (o->help || o->version)
		return 0;
	if (o->token_source != NULL && o->token_plugin == NULL)
		cli_ws_msg(err, errlen, "You must use --token-plugin to use "
		    "--token-source");
	else if (o->host_token && o->token_plugin == NULL &&
	    o->target_config == NULL)
		cli_ws_msg(err, errlen, "You must use --token-plugin to use "
		    "--host-token");
	else if (o->auth_source != NULL && o->auth_plugin == NULL)
		cli_ws_msg(err, errlen, "You must use --auth-plugin to use "
		    "--auth-source");
	else if (o->web_auth && o->auth_plugin == NULL)
		cli_ws_msg(err, errlen, "You must use --auth-plugin to use "
		    "--web-auth");
	else if (o->web_auth && o->web == NULL)
		cli_ws_msg(err, errlen, "You must use --web to use --web-auth");
	else if (o->legacy_syslog && o->syslog == NULL)
		cli_ws_msg(err, errlen, "You must use --syslog to use "
		    "--legacy-syslog");
	else if (o->wrap_argv != NULL && o->wrap_argc == 0)
		cli_ws_msg(err, errlen, "nothing to wrap after '--'");
	if (err != NULL && err[0] != '\0')
		return -1;
	/* Listen address, unless inetd or a unix socket; then the target,
	 * unless something else names it. */
	i = 0;
	if (!o->inetd && o->unix_listen == NULL) {
		if (npos == 0) {
			cli_ws_msg(err, errlen, "Too few arguments");
			return -1;
		}
		o->listen = pos[i++];
	}
	need = o->wrap_argv != NULL || o->unix_target != NULL ||
	    o->token_plugin != NULL || o->target_config != NULL ? 0 : 1;
	if (need == 1) {
		if (npos <= (size_t)i) {
			cli_ws_msg(err, errlen, "Too few arguments");
			return -1;
		}
		o->target = pos[i++];
	}
	if (npos > (size_t)i) {
		cli_ws_msg(err, errlen, "Too many arguments");
		return -1;
	}
	return 0;
}

/* ---- rendering ---- */

struct cli_ws_out {
	char	*buf;
	size_t	 len, cap;
	int	 oom;
	char	*err;		/* first error wins */
	size_t	 errlen;
	int	 bad;
};

static void __attribute__((format(printf, 2, 3)))
cli_ws_put(struct cli_ws_out *w, const char *fmt, ...)
{
	va_list	 ap;
	char	*nb;
	int	 n;

	if (w->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(w->buf != NULL ? w->buf + w->len : NULL,
		    w->buf != NULL ? w->cap - w->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			w->oom = 1;
			return;
		}
		if (w->buf != NULL && (size_t)n < w->cap - w->len) {
			w->len += (size_t)n;
			return;
		}
		if ((nb = realloc(w->buf, w->cap + (size_t)n + 1024)) == NULL) {
			w->oom = 1;
			return;
		}
		w->buf = nb;
		w->cap += (size_t)n + 1024;
	}
}

static void __attribute__((format(printf, 2, 3)))
cli_ws_fail(struct cli_ws_out *w, const char *fmt, ...)
{
	va_list	ap;

	if (w->bad++ > 0 || w->err == NULL || w->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(w->err, w->errlen, fmt, ap);
	va_end(ap);
}

static void __attribute__((format(printf, 3, 4)))
cli_ws_note(char *notes, size_t len, const char *fmt, ...)
{
	va_list	ap;
	size_t	used;

	if (notes == NULL || len == 0)
		return;
	used = strlen(notes);
	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(notes + used, len - used, fmt, ap);
	va_end(ap);
	used = strlen(notes);
	if (used + 1 < len) {
		notes[used] = '\n';
		notes[used + 1] = '\0';
	}
}

/*
 * "key = value" for one config line. A value gateway.conf could not hold
 * as written (a line break, an inline comment, longer than a line) is
 * refused rather than cut.
 */
static void
cli_ws_kv(struct cli_ws_out *w, const char *key, const char *pre,
    const char *val, const char *post)
{
	size_t	i, n = strlen(key) + strlen(pre) + strlen(val) + strlen(post);

	for (i = 0; val[i] != '\0'; i++)
		if (val[i] == '\n' || val[i] == '\r' || val[i] == '\0' ||
		    ((val[i] == ';' || val[i] == '#') && i > 0 &&
		    (val[i - 1] == ' ' || val[i - 1] == '\t')))
			break;
	if (val[i] != '\0' || val[0] == ' ' || val[0] == '\t' ||
	    (i > 0 && (val[i - 1] == ' ' || val[i - 1] == '\t'))) {
		cli_ws_fail(w, "%s: '%s' cannot be written to gateway.conf "
		    "(line break, ' ;' or blanks at an end)", key, val);
		return;
	}
	if (n + 3 > CLI_WS_LINE_MAX) {
		cli_ws_fail(w, "%s: value too long for one gateway.conf line "
		    "(%zu bytes, at most %d)", key, n,
		    CLI_WS_LINE_MAX - 3 - (int)strlen(key));
		return;
	}
	cli_ws_put(w, "%s = %s%s%s\n", key, pre, val, post);
}

/* websockify makes paths absolute (os.path.abspath) before it chdirs. */
static void
cli_ws_path(struct cli_ws_out *w, const char *key, const char *cwd,
    const char *path)
{
	if (path[0] == '/' || cwd == NULL)
		cli_ws_kv(w, key, "", path, "");
	else {
		char	pre[4096];

		snprintf(pre, sizeof(pre), "%s%s", cwd,
		    cwd[0] != '\0' && cwd[strlen(cwd) - 1] == '/' ? "" : "/");
		cli_ws_kv(w, key, pre, path, "");
	}
}

/*
 * "HOST:PORT" split as websockify does (the last ':'), brackets around
 * an IPv6 host stripped, then written back in gateway.conf's form.
 * host_optional: a bare PORT is every interface.
 */
static int
cli_ws_hostport(const char *s, bool host_optional, char *out, size_t len)
{
	const char	*h, *port;
	size_t		 hlen, plen;

	if (!addr_split(s, strlen(s), &h, &hlen, &port, &plen) || hlen == 0) {
		if (!host_optional)
			return -1;
		snprintf(out, len, "%.*s", (int)plen, port);
	} else if (memchr(h, ':', hlen) != NULL)
		snprintf(out, len, "[%.*s]:%.*s", (int)hlen, h, (int)plen,
		    port);
	else
		snprintf(out, len, "%.*s:%.*s", (int)hlen, h, (int)plen, port);
	return 0;
}

/* --unix-listen-mode: octal, as websockify's int(mode, 8). */
static int
cli_ws_mode(const char *m, unsigned *mode)
{
	unsigned	v = 0;
	const char	*p;

	for (p = m; *p >= '0' && *p <= '7'; p++)
		v = v * 8 + (unsigned)(*p - '0');
	if (p == m || *p != '\0' || p - m > 4 || v > 07777)
		return -1;
	*mode = v;
	return 0;
}

static void
cli_ws_listen(struct cli_ws_out *w, const struct cli_ws *o, bool tls)
{
	const char	*opt = !tls ? "" : o->ssl_only ? " tls" : " tls auto";
	char		 addr[300], post[32];
	unsigned	 mode = 0600;

	if (o->inetd) {
		cli_ws_kv(w, "listen", "", "fd:0", opt);
		return;
	}
	if (o->unix_listen != NULL) {
		if (o->unix_listen_mode != NULL &&
		    cli_ws_mode(o->unix_listen_mode, &mode) == -1) {
			cli_ws_fail(w, "Error parsing listen unix socket mode "
			    "'%s' (octal, such as 0660)", o->unix_listen_mode);
			return;
		}
		snprintf(post, sizeof(post), "%s mode=%04o", opt, mode);
		cli_ws_kv(w, "listen", "unix:", o->unix_listen, post);
		return;
	}
	if (o->listen == NULL) {	/* parsed with --help or --version */
		cli_ws_fail(w, "Too few arguments");
		return;
	}
	if (cli_ws_hostport(o->listen, true, addr, sizeof(addr)) == -1) {
		cli_ws_fail(w, "Error parsing listen port '%s'", o->listen);
		return;
	}
	cli_ws_kv(w, "listen", "", addr, opt);
}

static const char *cli_ws_class(const char *, const char *);

/* websockify 0.13's --ssl-version names; TLS 1.2 is our floor. */
static const char *
cli_ws_min_version(const struct cli_ws *o, char *notes, size_t noteslen)
{
	if (o->ssl_version == NULL)
		return NULL;
	if (strcmp(o->ssl_version, "tlsv1_3") == 0)
		return "TLS1.3";
	if (strcmp(o->ssl_version, "tlsv1_1") == 0)
		cli_ws_note(notes, noteslen, "--ssl-version tlsv1_1: wsgate "
		    "speaks TLS 1.2 and 1.3 only; TLS 1.2 is the minimum");
	return "TLS1.2";
}

static void
cli_ws_tls(struct cli_ws_out *w, const struct cli_ws *o, const char *cwd,
    char *notes, size_t noteslen)
{
	bool		 cn_auth = o->auth_plugin != NULL && strcmp(cli_ws_class(
	    o->auth_plugin, "websockify.auth_plugins"), "ClientCertCNAuth") == 0;
	const char	*cert = o->cert != NULL ? o->cert : "self.pem";
	const char	*minv = cli_ws_min_version(o, notes, noteslen);
	int		 npw = (o->key_password != NULL) +
	    (o->key_password_file != NULL) + (o->key_password_env != NULL);

	cli_ws_put(w, "\n[tls]\n");
	cli_ws_path(w, "certificate", cwd, cert);
	cli_ws_path(w, "private_key", cwd, o->key != NULL ? o->key : cert);
	if (npw > 1)
		cli_ws_fail(w, "give one of --key-password, --key-password-file, "
		    "--key-password-env");
	if (o->key_password != NULL) {
		cli_ws_note(notes, noteslen, "--key-password: a password on "
		    "the command line is visible to every user in ps; use "
		    "--key-password-file or --key-password-env");
		cli_ws_kv(w, "private_key_password", "pass:", o->key_password,
		    "");
	} else if (o->key_password_file != NULL) {
		char	key[] = "private_key_password";

		if (o->key_password_file[0] == '/' || cwd == NULL)
			cli_ws_kv(w, key, "file:", o->key_password_file, "");
		else {
			char	pre[4096];

			snprintf(pre, sizeof(pre), "file:%s/", cwd);
			cli_ws_kv(w, key, pre, o->key_password_file, "");
		}
	} else if (o->key_password_env != NULL)
		cli_ws_kv(w, "private_key_password", "env:",
		    o->key_password_env, "");
	if (minv != NULL)
		cli_ws_kv(w, "min_version", "", minv, "");
	if (o->ssl_ciphers != NULL)
		cli_ws_kv(w, "ciphers", "", o->ssl_ciphers, "");
	if (o->verify_client || cn_auth) {
		/* ClientCertCNAuth alone: ask for a certificate, let the
		 * route's allow_client_cn decide. */
		cli_ws_kv(w, "verify_client", "", o->verify_client ? "require" :
		    "optional", "");
		if (o->cafile != NULL)
			cli_ws_path(w, "client_ca", cwd, o->cafile);
		else
			cli_ws_kv(w, "client_ca", "", "system", "");
	}
}

/* A plugin class name without websockify's module path. */
static const char *
cli_ws_class(const char *p, const char *module)
{
	size_t	n = strlen(module);

	return strncmp(p, module, n) == 0 && p[n] == '.' ? p + n + 1 : p;
}

/*
 * TokenRedis's source, host[:port[:db[:password[:namespace]]]], fields
 * split on ':' unless in double quotes (websockify's parse_source_args).
 * Fills up to 5 fields (copies in f[i], each < 256 bytes); returns how
 * many, or -1.
 */
static int
cli_ws_redis_fields(const char *src, char f[5][256])
{
	size_t	n = 0, len = 0;
	bool	quoted = false;

	memset(f, 0, 5 * 256);
	for (; *src != '\0'; src++) {
		if (*src == '"') {
			quoted = !quoted;
			continue;
		}
		if (*src == ':' && !quoted) {
			if (++n == 5)
				return -1;
			len = 0;
			continue;
		}
		if (len + 1 >= 256)
			return -1;
		f[n][len++] = *src;
	}
	return quoted ? -1 : (int)n + 1;
}

/* TokenRedis: [gateway] redis keys (written before the route). */
static void
cli_ws_redis(struct cli_ws_out *w, const char *src)
{
	char	f[5][256], addr[300];
	int	n = cli_ws_redis_fields(src, f);
	size_t	i;

	if (n < 1 || f[0][0] == '\0') {
		cli_ws_fail(w, "--token-source '%s': not in TokenRedis's form "
		    "<host>[:<port>[:<db>[:<password>[:<namespace>]]]]", src);
		return;
	}
	for (i = 0; f[1][i] != '\0'; i++)
		if (f[1][i] < '0' || f[1][i] > '9')
			break;
	if (f[1][i] != '\0' || strspn(f[2], "0123456789") != strlen(f[2])) {
		cli_ws_fail(w, "--token-source '%s': port and db must be "
		    "numbers", src);
		return;
	}
	if (n >= 4 && f[3][0] != '\0') {
		cli_ws_fail(w, "--token-source: wsgate reads the Redis password "
		    "from a file, never from a command line: drop it here and "
		    "set redis_password_file in a config (--print-config "
		    "writes the rest)");
		return;
	}
	snprintf(addr, sizeof(addr), strchr(f[0], ':') != NULL ? "[%s]:%s" :
	    "%s:%s", f[0], f[1][0] != '\0' ? f[1] : "6379");
	cli_ws_kv(w, "redis", "", addr, "");
	if (f[2][0] != '\0')
		cli_ws_kv(w, "redis_db", "", f[2], "");
	if (n == 5 && f[4][0] != '\0')
		cli_ws_kv(w, "token_redis_prefix", "", f[4], ":");
}

/* The token plugin's name, or NULL when there is none. */
static const char *
cli_ws_token_class(const struct cli_ws *o)
{
	if (o->token_plugin != NULL)
		return cli_ws_class(o->token_plugin,
		    "websockify.token_plugins");
	return o->target_config != NULL ? "TokenFile" : NULL;
}

/* Gateway-wide keys a token plugin needs ([gateway] section). */
static void
cli_ws_token_gateway(struct cli_ws_out *w, const struct cli_ws *o)
{
	const char	*p = cli_ws_token_class(o);

	if (p != NULL && strcmp(p, "TokenRedis") == 0 &&
	    o->token_source != NULL)
		cli_ws_redis(w, o->token_source);
}

/* websockify's token plugins as route keys. */
static void
cli_ws_tokens(struct cli_ws_out *w, const struct cli_ws *o, const char *cwd)
{
	const char	*p = cli_ws_token_class(o);
	const char	*src = o->token_plugin != NULL ? o->token_source :
	    o->target_config;

	if (p == NULL)
		return;
	if (src == NULL) {
		cli_ws_fail(w, "--token-plugin %s needs --token-source", p);
		return;
	}
	if (strcmp(p, "TokenFile") == 0 || strcmp(p, "ReadOnlyTokenFile") == 0)
		cli_ws_path(w, "token_file", cwd, src);
	else if (strcmp(p, "TokenFileName") == 0)
		cli_ws_path(w, "token_dir", cwd, src);
	else if (strcmp(p, "UnixDomainSocketDirectory") == 0)
		cli_ws_path(w, "token_socket_dir", cwd, src);
	else if (strcmp(p, "JWTTokenApi") == 0)
		cli_ws_path(w, "token_jwt_key_file", cwd, src);
	else if (strcmp(p, "BaseTokenAPI") == 0 ||
	    strcmp(p, "JSONTokenApi") == 0)
		cli_ws_kv(w, "token_api", "", src, "");
	else if (strcmp(p, "TokenRedis") == 0)
		cli_ws_kv(w, "token_redis", "", "on", "");
	else
		cli_ws_fail(w, "--token-plugin %s: not a plugin wsgate has "
		    "(TokenFile, ReadOnlyTokenFile, TokenFileName, "
		    "UnixDomainSocketDirectory, JWTTokenApi, TokenRedis, "
		    "BaseTokenAPI, JSONTokenApi)", o->token_plugin);
	if (o->host_token)
		cli_ws_kv(w, "token_from", "", "host", "");
}

/* websockify's auth plugins as route keys. */
static void
cli_ws_auth(struct cli_ws_out *w, const struct cli_ws *o)
{
	const char	*p, *src = o->auth_source;

	if (o->auth_plugin == NULL)
		return;
	p = cli_ws_class(o->auth_plugin, "websockify.auth_plugins");
	if (strcmp(p, "BasicHTTPAuth") == 0) {
		if (src == NULL || strchr(src, ':') == NULL) {
			cli_ws_fail(w, "--auth-plugin BasicHTTPAuth needs "
			    "--auth-source USER:PASSWORD");
			return;
		}
		cli_ws_kv(w, "auth", "", "basic", "");
		cli_ws_kv(w, "basic_auth", "", src, "");
	} else if (strcmp(p, "ExpectOrigin") == 0) {
		/* websockify: no source, no origin lets anyone in. */
		cli_ws_kv(w, "origins", "", src != NULL && src[strspn(src,
		    " \t")] != '\0' ? src : "null", "");
		cli_ws_kv(w, "origin_required", "", "on", "");
	} else if (strcmp(p, "ClientCertCNAuth") == 0) {
		if (src == NULL || src[strspn(src, " \t")] == '\0') {
			cli_ws_fail(w, "--auth-plugin ClientCertCNAuth needs "
			    "--auth-source 'CN ...'");
			return;
		}
		cli_ws_kv(w, "allow_client_cn", "", src, "");
	} else
		cli_ws_fail(w, "--auth-plugin %s: not a plugin wsgate has "
		    "(BasicHTTPAuth, ExpectOrigin, ClientCertCNAuth)",
		    o->auth_plugin);
}

static void
cli_ws_route(struct cli_ws_out *w, const struct cli_ws *o, const char *cwd)
{
	char	addr[300];

	cli_ws_put(w, "\n[route /*]\n");
	if (o->wrap_argv != NULL && o->wrap_private_port != 0)
		cli_ws_put(w, "backend = tcp:127.0.0.1:%u\n",
		    o->wrap_private_port);
	else if (o->unix_target != NULL)
		cli_ws_kv(w, "backend", "unix:", o->unix_target, "");
	else if (o->target != NULL) {
		if (cli_ws_hostport(o->target, false, addr, sizeof(addr)) == -1)
			cli_ws_fail(w, "Error parsing target '%s'", o->target);
		else
			cli_ws_kv(w, "backend", o->ssl_target ? "tls:" : "tcp:",
			    addr, "");
	}
	cli_ws_tokens(w, o, cwd);
	cli_ws_auth(w, o);
	/* websockify answers an offered "binary" (old noVNC clients). */
	cli_ws_kv(w, "subprotocols", "", "binary", "");
	if (o->web != NULL)
		cli_ws_path(w, "root", cwd, o->web);
	if (o->web_auth)
		cli_ws_kv(w, "web_auth", "", "on", "");
	if (o->record != NULL)
		cli_ws_path(w, "record", cwd, o->record);
	if (o->traffic)
		cli_ws_kv(w, "traffic", "", "on", "");
	if (o->heartbeat_set) {
		char	s[32];

		snprintf(s, sizeof(s), "%llus", (unsigned long long)o->heartbeat);
		cli_ws_kv(w, "heartbeat_interval", "", s, "");
	}
	if (o->ssl_target && o->ssl_target_cafile != NULL)
		cli_ws_path(w, "backend_ca", cwd, o->ssl_target_cafile);
	if (o->ssl_target && o->ssl_target_no_verify)
		cli_ws_kv(w, "backend_verify", "", "off", "");
}

/*
 * One word of a wrapped command line as wrap_command reads it back:
 * bare when it holds no blank or quote, else in single quotes, or in
 * double quotes (with \" and \\) when it holds a single quote.
 */
static void
cli_ws_word(struct cli_ws_out *w, const char *a)
{
	const char	*p;

	if (a[0] != '\0' && strpbrk(a, " \t'\"\\;#") == NULL) {
		cli_ws_put(w, "%s", a);
		return;
	}
	if (strchr(a, '\'') == NULL) {
		cli_ws_put(w, "'%s'", a);
		return;
	}
	cli_ws_put(w, "\"");
	for (p = a; *p != '\0'; p++)
		cli_ws_put(w, "%s%c", *p == '"' || *p == '\\' ? "\\" : "", *p);
	cli_ws_put(w, "\"");
}

/*
 * PORT -- WRAP_COMMAND_LINE: the program binds PORT (our listen port, as
 * websockify's REBIND_OLD_PORT), which lands on 127.0.0.1:private.
 */
static void
cli_ws_wrap(struct cli_ws_out *w, const struct cli_ws *o)
{
	const char	*host, *port;	/* port: the tail of o->listen */
	size_t		 i, start, hlen, plen;

	if (o->wrap_argv == NULL)
		return;
	if (o->listen == NULL) {
		cli_ws_fail(w, "-- WRAP_COMMAND_LINE needs a TCP listen port "
		    "(not --inetd or --unix-listen)");
		return;
	}
	if (o->wrap_private_port == 0) {
		cli_ws_fail(w, "-- WRAP_COMMAND_LINE: no private port chosen");
		return;
	}
	(void)addr_split(o->listen, strlen(o->listen), &host, &hlen, &port,
	    &plen);
	start = w->len;
	cli_ws_put(w, "wrap_command = ");
	for (i = 0; i < o->wrap_argc; i++) {
		if (strpbrk(o->wrap_argv[i], "\n\r") != NULL) {
			cli_ws_fail(w, "-- WRAP_COMMAND_LINE: a line break in "
			    "an argument cannot be written to gateway.conf");
			return;
		}
		if (i > 0)
			cli_ws_put(w, " ");
		cli_ws_word(w, o->wrap_argv[i]);
	}
	cli_ws_put(w, "\n");
	/* inih would take " ;" for an inline comment, quotes or not. */
	for (i = start; !w->oom && i + 1 < w->len; i++)
		if ((w->buf[i] == ' ' || w->buf[i] == '\t') &&
		    w->buf[i + 1] == ';') {
			cli_ws_fail(w, "-- WRAP_COMMAND_LINE: ' ;' cannot be "
			    "written to gateway.conf");
			return;
		}
	if (!w->oom && w->len - start > CLI_WS_LINE_MAX) {
		cli_ws_fail(w, "-- WRAP_COMMAND_LINE: too long for one "
		    "gateway.conf line (at most %d bytes)", CLI_WS_LINE_MAX);
		return;
	}
	cli_ws_kv(w, "wrap_mode", "", o->wrap_mode != NULL ? o->wrap_mode :
	    "exit", "");
	cli_ws_kv(w, "wrap_port", "", port, "");
	cli_ws_put(w, "wrap_private_port = %u\n", o->wrap_private_port);
}

/* What the front end cannot do (yet): refused, never silently dropped. */
static void
cli_ws_unsupported(struct cli_ws_out *w, const struct cli_ws *o)
{
	if ((o->ssl_target_cafile != NULL || o->ssl_target_no_verify) &&
	    !o->ssl_target)
		cli_ws_fail(w, "--ssl-target-cafile and --ssl-target-no-verify "
		    "need --ssl-target");
	else if (o->unix_target != NULL && o->ssl_target)
		cli_ws_fail(w, "--ssl-target with --unix-target: wsgate speaks "
		    "TLS to TCP targets only");
}

char *
cli_ws_render(const struct cli_ws *o, const char *cwd, char *notes,
    size_t noteslen, char *err, size_t errlen)
{
	struct cli_ws_out	 w;
	bool			 tls = o->cert != NULL || o->ssl_only;

	memset(&w, 0, sizeof(w));
	w.err = err;
	w.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (notes != NULL && noteslen > 0)
		notes[0] = '\0';
	cli_ws_unsupported(&w, o);
	cli_ws_put(&w, "; gateway.conf for a websockify command line "
	    "(wsgate --print-config)\n"
	    "; run it with: wsgate -d -c FILE%s\n[gateway]\n",
	    o->daemon ? "   (without -d it detaches, as -D did)" : "");
	cli_ws_listen(&w, o, tls);
	cli_ws_kv(&w, "log_level", "", o->verbose > 0 ? "debug" : "info", "");
	if (o->timeout > 0) {
		char	s[32];

		snprintf(s, sizeof(s), "%llus", (unsigned long long)o->timeout);
		cli_ws_kv(&w, "exit_after", "", s, "");
	}
	if (o->idle_timeout > 0) {
		char	s[32];

		snprintf(s, sizeof(s), "%llus",
		    (unsigned long long)o->idle_timeout);
		cli_ws_kv(&w, "exit_when_idle", "", s, "");
	}
	if (o->run_once)
		cli_ws_kv(&w, "exit_after_sessions", "", "1", "");
	cli_ws_token_gateway(&w, o);
	cli_ws_wrap(&w, o);
	if (o->log_file != NULL)
		cli_ws_path(&w, "log_file", cwd, o->log_file);
	/* websockify: a ':' makes it HOST:PORT, else a socket path. */
	if (o->syslog != NULL && strchr(o->syslog, ':') != NULL)
		cli_ws_kv(&w, "syslog", "", o->syslog, "");
	else if (o->syslog != NULL)
		cli_ws_path(&w, "syslog", cwd, o->syslog);
	if (o->legacy_syslog)
		cli_ws_kv(&w, "syslog_format", "", "rfc3164", "");
	if (tls)
		cli_ws_tls(&w, o, cwd, notes, noteslen);
	else if (o->key != NULL || o->key_password != NULL ||
	    o->key_password_file != NULL || o->key_password_env != NULL ||
	    o->verify_client || o->cafile != NULL || o->ssl_version != NULL ||
	    o->ssl_ciphers != NULL)
		cli_ws_note(notes, noteslen, "TLS options without --cert or "
		    "--ssl-only: wsgate turns TLS on only when asked (it does "
		    "not look for ./self.pem); they have no effect");
	cli_ws_route(&w, o, cwd);
	if (o->libserver)
		cli_ws_note(notes, noteslen, "--libserver: accepted; it "
		    "changes nothing in wsgate");
	if (o->prefer_ipv6)
		cli_ws_note(notes, noteslen, "-6: wsgate listens on every "
		    "address the listen host resolves to, IPv4 and IPv6");
	if (o->file_only)
		cli_ws_note(notes, noteslen, "--file-only: wsgate never "
		    "lists directories; nothing to change");
	if (w.oom)
		cli_ws_fail(&w, "out of memory");
	if (w.bad) {
		free(w.buf);
		return NULL;
	}
	return w.buf;
}
