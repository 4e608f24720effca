/*
 * config: gateway.conf -> an immutable struct config.
 *
 * inih splits lines into sections and "key = value" pairs; everything it
 * does not know is ours. We feed it through ini_parse_stream() with our own
 * reader, config_ini_reader(), which
 *   - counts lines, so the handler knows the line of every key (inih only
 *     reports the first bad line, and Debian builds it without
 *     INI_HANDLER_LINENO);
 *   - strips leading blanks, which switches off inih's multi-line
 *     continuations (an indented "key = value" after another key would
 *     otherwise become part of the previous value);
 *   - parses section headers itself (inih cuts section names at 50 bytes
 *     and does not call the handler on a header) and hands inih a
 *     placeholder header;
 *   - reports lines inih would refuse silently (no '=', no ']', too long,
 *     NUL bytes) and hands inih an empty line instead, so every error is
 *     collected with its own line number.
 * Debian's inih keeps its defaults: lines up to 199 bytes (ini_max_line
 * 200), ';' and '#' start comment lines, and ';' starts an inline comment
 * only after a blank ("a;b" is a value, "a ;b" is "a"). We do not change
 * inih's globals.
 *
 * Values are checked as they are read; route keys left unset take the
 * [gateway] value, else the built-in default, once the whole file is read
 * (config_finish), so section order does not matter.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "config.h"
#include "exec_env.h"
#include "target.h"

#define CONFIG_MAX_FILE		(16 * 1024 * 1024)	/* bytes read at most */
#define CONFIG_MSG_MAX		512	/* one error line, before truncation */
#define CONFIG_SUN_PATH_MAX	(sizeof(((struct sockaddr_un *)0)->sun_path))

enum config_sect {
	CONFIG_SECT_NONE = 0,	/* before the first section header */
	CONFIG_SECT_GATEWAY,
	CONFIG_SECT_TLS,
	CONFIG_SECT_ROUTE,
	CONFIG_SECT_BAD,	/* unknown or malformed: its keys are skipped */
};

/* Route keys, in the order of config_route_keys[]. */
enum config_rkey {
	CONFIG_RKEY_BACKEND = 0,
	CONFIG_RKEY_ORIGINS,
	CONFIG_RKEY_SUBPROTOCOLS,
	CONFIG_RKEY_HB_INTERVAL,
	CONFIG_RKEY_HB_TIMEOUT,
	CONFIG_RKEY_IDLE_TIMEOUT,
	CONFIG_RKEY_CONNECT_TIMEOUT,
	CONFIG_RKEY_MAX_MESSAGE,
	CONFIG_RKEY_BACKEND_PROXY,
	CONFIG_RKEY_ROOT,
	CONFIG_RKEY_INDEX,
	CONFIG_RKEY_AUTH,
	CONFIG_RKEY_TOKEN_SECRET,
	CONFIG_RKEY_TOKEN_PUBKEY,
	CONFIG_RKEY_TOKEN_AUDIENCE,
	CONFIG_RKEY_TOKEN_REQUIRE_PATH,
	CONFIG_RKEY_HTPASSWD,
	CONFIG_RKEY_TOKEN_FILE,
	CONFIG_RKEY_ALLOW_CN,
	CONFIG_RKEY_ALLOW_SAN,
	CONFIG_RKEY_BACKEND_CA,
	CONFIG_RKEY_BACKEND_NAME,
	CONFIG_RKEY_BACKEND_CERT,
	CONFIG_RKEY_BACKEND_KEY,
	CONFIG_RKEY_TOKEN_REDIS,
	CONFIG_RKEY_TOKEN_REDIS_PREFIX,
	CONFIG_RKEY_TOKEN_DIR,
	CONFIG_RKEY_TOKEN_SOCKET_DIR,
	CONFIG_RKEY_TOKEN_JWT_KEY,
	CONFIG_RKEY_TOKEN_API,
	CONFIG_RKEY_TOKEN_API_TIMEOUT,
	CONFIG_RKEY_TOKEN_FROM,
	CONFIG_RKEY_ALLOW_TARGETS,
	CONFIG_RKEY_BASIC_AUTH,
	CONFIG_RKEY_ORIGIN_REQUIRED,
	CONFIG_RKEY_BACKEND_VERIFY,
	CONFIG_RKEY_COMPRESSION,
	CONFIG_RKEY_FRAMING,
	CONFIG_RKEY_LINE_MAX,
	CONFIG_RKEY_LINE_OVERFLOW,
	CONFIG_RKEY_LINE_INVALID,
	CONFIG_RKEY_MAX_PROCESSES,
	CONFIG_RKEY_EXEC_KILL_TIMEOUT,
	CONFIG_RKEY_EXEC_ENV,
	CONFIG_RKEY_EXEC_USER,
	CONFIG_RKEY_EXEC_CWD,
	CONFIG_RKEY_RECORD,
	CONFIG_RKEY_RECORD_MAX,
	CONFIG_RKEY_WEB_AUTH,
	CONFIG_RKEY_COUNT
};

#define CONFIG_GKEY_COUNT	32	/* entries in config_gateway_keys[] */
#define CONFIG_TKEY_COUNT	8	/* entries in config_tls_keys[] */

/* For each route key: the line it was set on in that section, 0 = unset. */
struct config_rset {
	int		 line[CONFIG_RKEY_COUNT];
};

/* Parser state; lives for one config_parse() call. */
struct config_ctx {
	struct config	*cfg;		/* being built */
	const char	*name;		/* file name for messages */
	const char	*text;		/* input, len bytes, not NUL-terminated */
	size_t		 len;
	size_t		 off;		/* start of the next line */
	int		 lineno;	/* line last handed to inih */
	enum config_sect sect;		/* current section */
	char		 sect_name[256]; /* its header, for messages */
	size_t		 route;		/* CONFIG_SECT_ROUTE: index in cfg */
	struct config_rset *rset;	/* parallel to cfg->routes */
	struct config_route gw;		/* route keys given in [gateway] */
	struct config_rset gw_rset;
	int		 gset[CONFIG_GKEY_COUNT];	/* gateway keys set */
	int		 tset[CONFIG_TKEY_COUNT];	/* tls keys set */
	char		*err;
	size_t		 errlen;
	size_t		 errused;	/* strlen(err) */
	int		 nerrors;
	int		 oom;		/* allocation failed: stop */
};

struct config_key;

/*
 * Store value for key k into obj (struct config or struct config_route).
 * Returns 0, or -1 after reporting the error.
 */
typedef int config_set_fn(struct config_ctx *, const struct config_key *,
    void *, const char *);
/* Copy key k from src to dst (both struct config_route). 0 or -1 (OOM). */
typedef int config_copy_fn(const struct config_key *, struct config_route *,
    const struct config_route *);

struct config_key {
	const char	*name;
	config_set_fn	*set;
	config_copy_fn	*copy;		/* route keys: inherit from [gateway] */
	size_t		 off;		/* numeric keys: the uint64_t field */
	uint64_t	 min, max;	/* numeric keys: allowed range */
	const char	*range;		/* ... as told in messages */
	int		 list;		/* may repeat; values accumulate */
};

static config_set_fn config_set_listen, config_set_workers, config_set_count,
    config_set_duration, config_set_size, config_set_admin,
    config_set_log_level, config_set_log_format, config_set_string,
    config_set_backend, config_set_origins, config_set_subprotocols,
    config_set_choice, config_set_root, config_set_index, config_set_rate,
    config_set_tls_version, config_set_verify_client, config_set_allow_cn,
    config_set_allow_san, config_set_trusted, config_set_redis,
    config_set_instance, config_set_token_api, config_set_allow_targets,
    config_set_basic_auth, config_set_password, config_set_exec_env,
    config_set_abspath, config_set_syslog;
static config_copy_fn config_copy_u64, config_copy_backends,
    config_copy_origins, config_copy_subprotocols, config_copy_string,
    config_copy_allow_cn, config_copy_allow_san, config_copy_allow_targets,
    config_copy_exec_env;

#define CONFIG_G(f)	offsetof(struct config, f)
#define CONFIG_R(f)	offsetof(struct config_route, f)

static const struct config_key config_gateway_keys[CONFIG_GKEY_COUNT] = {
	{ "listen", config_set_listen, NULL, 0, 0, 0, NULL, 1 },
	{ "workers", config_set_workers, NULL, CONFIG_G(workers), 1, 256,
	    "auto or 1..256", 0 },
	{ "max_connections", config_set_count, NULL,
	    CONFIG_G(max_connections), 1, 10000000, "1..10000000", 0 },
	{ "handshake_timeout", config_set_duration, NULL,
	    CONFIG_G(handshake_timeout_ms), 1, UINT64_MAX, "must be > 0", 0 },
	{ "drain_timeout", config_set_duration, NULL,
	    CONFIG_G(drain_timeout_ms), 0, UINT64_MAX, NULL, 0 },
	{ "max_header_size", config_set_size, NULL, CONFIG_G(max_header_size),
	    1024, 64 * 1024, "1K..64K", 0 },
	{ "max_buffer", config_set_size, NULL, CONFIG_G(max_buffer),
	    4 * 1024, 64 * 1024 * 1024, "4K..64M", 0 },
	{ "admin_listen", config_set_admin, NULL, 0, 0, 0, NULL, 0 },
	{ "log_level", config_set_log_level, NULL, 0, 0, 0, NULL, 0 },
	{ "log_format", config_set_log_format, NULL, 0, 0, 0, NULL, 0 },
	{ "user", config_set_string, NULL, CONFIG_G(user), 0, 0, NULL, 0 },
	{ "max_connections_per_ip", config_set_count, NULL,
	    CONFIG_G(max_connections_per_ip), 0, 10000000, "0..10000000", 0 },
	{ "handshake_rate_per_ip", config_set_rate, NULL,
	    CONFIG_G(handshake_rate_per_ip), 0, 1000000, NULL, 0 },
	{ "trusted_proxies", config_set_trusted, NULL, 0, 0, 0, NULL, 1 },
	{ "redis", config_set_redis, NULL, 0, 0, 0, NULL, 0 },
	{ "redis_db", config_set_count, NULL, CONFIG_G(redis_db), 0, 100000,
	    "0..100000", 0 },
	{ "redis_password_file", config_set_string, NULL,
	    CONFIG_G(redis_password_file), 0, 0, NULL, 0 },
	{ "redis_timeout", config_set_duration, NULL,
	    CONFIG_G(redis_timeout_ms), 10, 600000, "10ms..10m", 0 },
	{ "instance", config_set_instance, NULL, CONFIG_G(instance), 0, 0,
	    NULL, 0 },
	{ "admin_token_file", config_set_string, NULL,
	    CONFIG_G(admin_token_file), 0, 0, NULL, 0 },
	{ "token_id_key_file", config_set_string, NULL,
	    CONFIG_G(token_id_key_file), 0, 0, NULL, 0 },
	{ "drain_delay", config_set_duration, NULL, CONFIG_G(drain_delay_ms),
	    0, 3600 * 1000, "0..1h", 0 },
	{ "exit_after", config_set_duration, NULL, CONFIG_G(exit_after_ms),
	    0, UINT64_MAX, NULL, 0 },
	{ "exit_when_idle", config_set_duration, NULL,
	    CONFIG_G(exit_when_idle_ms), 0, UINT64_MAX, NULL, 0 },
	{ "exit_after_sessions", config_set_count, NULL,
	    CONFIG_G(exit_after_sessions), 0, 1000000000, "0..1000000000", 0 },
	{ "log_file", config_set_abspath, NULL, CONFIG_G(log_file), 0, 0,
	    NULL, 0 },
	{ "syslog", config_set_syslog, NULL, CONFIG_G(syslog_server), 0, 0,
	    NULL, 0 },
	{ "syslog_format", config_set_choice, NULL, CONFIG_G(syslog_format),
	    0, 1, "rfc5424, rfc3164", 0 },
	{ "wrap_command", config_set_string, NULL, CONFIG_G(wrap_command), 0,
	    0, NULL, 0 },
	{ "wrap_mode", config_set_choice, NULL, CONFIG_G(wrap_mode), 0, 2,
	    "exit, ignore, respawn", 0 },
	{ "wrap_port", config_set_count, NULL, CONFIG_G(wrap_port), 1, 65535,
	    "1..65535", 0 },
	{ "wrap_private_port", config_set_count, NULL,
	    CONFIG_G(wrap_private_port), 1, 65535, "1..65535", 0 },
};

static const struct config_key config_tls_keys[CONFIG_TKEY_COUNT] = {
	{ "certificate", config_set_string, NULL, CONFIG_G(tls_certificate),
	    0, 0, NULL, 0 },
	{ "private_key", config_set_string, NULL, CONFIG_G(tls_private_key),
	    0, 0, NULL, 0 },
	{ "min_version", config_set_tls_version, NULL, 0, 0, 0, NULL, 0 },
	{ "ciphers", config_set_string, NULL, CONFIG_G(tls_ciphers), 0, 0,
	    NULL, 0 },
	{ "ciphersuites", config_set_string, NULL, CONFIG_G(tls_ciphersuites),
	    0, 0, NULL, 0 },
	{ "client_ca", config_set_string, NULL, CONFIG_G(tls_client_ca), 0, 0,
	    NULL, 0 },
	{ "verify_client", config_set_verify_client, NULL, 0, 0, 0, NULL, 0 },
	{ "private_key_password", config_set_password, NULL,
	    CONFIG_G(tls_key_password), 0, 0, NULL, 0 },
};

static const struct config_key config_route_keys[CONFIG_RKEY_COUNT] = {
	[CONFIG_RKEY_BACKEND] = { "backend", config_set_backend,
	    config_copy_backends, 0, 0, 0, NULL, 1 },
	[CONFIG_RKEY_ORIGINS] = { "origins", config_set_origins,
	    config_copy_origins, 0, 0, 0, NULL, 1 },
	[CONFIG_RKEY_SUBPROTOCOLS] = { "subprotocols", config_set_subprotocols,
	    config_copy_subprotocols, 0, 0, 0, NULL, 1 },
	[CONFIG_RKEY_HB_INTERVAL] = { "heartbeat_interval",
	    config_set_duration, config_copy_u64,
	    CONFIG_R(heartbeat_interval_ms), 0, UINT64_MAX, NULL, 0 },
	[CONFIG_RKEY_HB_TIMEOUT] = { "heartbeat_timeout", config_set_duration,
	    config_copy_u64, CONFIG_R(heartbeat_timeout_ms), 0, UINT64_MAX,
	    NULL, 0 },
	[CONFIG_RKEY_IDLE_TIMEOUT] = { "idle_timeout", config_set_duration,
	    config_copy_u64, CONFIG_R(idle_timeout_ms), 0, UINT64_MAX, NULL,
	    0 },
	[CONFIG_RKEY_CONNECT_TIMEOUT] = { "connect_timeout",
	    config_set_duration, config_copy_u64,
	    CONFIG_R(connect_timeout_ms), 1, UINT64_MAX, "must be > 0", 0 },
	[CONFIG_RKEY_MAX_MESSAGE] = { "max_message_size", config_set_size,
	    config_copy_u64, CONFIG_R(max_message_size), 0, UINT64_MAX, NULL,
	    0 },
	[CONFIG_RKEY_BACKEND_PROXY] = { "backend_proxy_protocol",
	    config_set_choice, config_copy_u64,
	    CONFIG_R(backend_proxy_protocol), 0, 2, "off, v1, v2", 0 },
	[CONFIG_RKEY_ROOT] = { "root", config_set_root, config_copy_string,
	    CONFIG_R(root), 0, 0, NULL, 0 },
	[CONFIG_RKEY_INDEX] = { "index", config_set_index, config_copy_string,
	    CONFIG_R(index_file), 0, 0, NULL, 0 },
	[CONFIG_RKEY_AUTH] = { "auth", config_set_choice, config_copy_u64,
	    CONFIG_R(auth), 0, 2, "off, token, basic", 0 },
	[CONFIG_RKEY_TOKEN_SECRET] = { "token_secret_file", config_set_string,
	    config_copy_string, CONFIG_R(token_secret_file), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_PUBKEY] = { "token_public_key_file",
	    config_set_string, config_copy_string,
	    CONFIG_R(token_public_key_file), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_AUDIENCE] = { "token_audience", config_set_string,
	    config_copy_string, CONFIG_R(token_audience), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_REQUIRE_PATH] = { "token_require_path",
	    config_set_choice, config_copy_u64, CONFIG_R(token_require_path),
	    0, 1, "off, on", 0 },
	[CONFIG_RKEY_HTPASSWD] = { "htpasswd_file", config_set_string,
	    config_copy_string, CONFIG_R(htpasswd_file), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_FILE] = { "token_file", config_set_string,
	    config_copy_string, CONFIG_R(token_file), 0, 0, NULL, 0 },
	[CONFIG_RKEY_ALLOW_CN] = { "allow_client_cn", config_set_allow_cn,
	    config_copy_allow_cn, 0, 0, 0, NULL, 1 },
	[CONFIG_RKEY_ALLOW_SAN] = { "allow_client_san", config_set_allow_san,
	    config_copy_allow_san, 0, 0, 0, NULL, 1 },
	[CONFIG_RKEY_BACKEND_CA] = { "backend_ca", config_set_string,
	    config_copy_string, CONFIG_R(backend_ca), 0, 0, NULL, 0 },
	[CONFIG_RKEY_BACKEND_NAME] = { "backend_server_name",
	    config_set_string, config_copy_string,
	    CONFIG_R(backend_server_name), 0, 0, NULL, 0 },
	[CONFIG_RKEY_BACKEND_CERT] = { "backend_certificate",
	    config_set_string, config_copy_string,
	    CONFIG_R(backend_certificate), 0, 0, NULL, 0 },
	[CONFIG_RKEY_BACKEND_KEY] = { "backend_private_key",
	    config_set_string, config_copy_string,
	    CONFIG_R(backend_private_key), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_REDIS] = { "token_redis", config_set_choice,
	    config_copy_u64, CONFIG_R(token_redis), 0, 1, "off, on", 0 },
	[CONFIG_RKEY_TOKEN_REDIS_PREFIX] = { "token_redis_prefix",
	    config_set_string, config_copy_string,
	    CONFIG_R(token_redis_prefix), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_DIR] = { "token_dir", config_set_root,
	    config_copy_string, CONFIG_R(token_dir), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_SOCKET_DIR] = { "token_socket_dir", config_set_root,
	    config_copy_string, CONFIG_R(token_socket_dir), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_JWT_KEY] = { "token_jwt_key_file",
	    config_set_string, config_copy_string,
	    CONFIG_R(token_jwt_key_file), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_API] = { "token_api", config_set_token_api,
	    config_copy_string, CONFIG_R(token_api), 0, 0, NULL, 0 },
	[CONFIG_RKEY_TOKEN_API_TIMEOUT] = { "token_api_timeout",
	    config_set_duration, config_copy_u64,
	    CONFIG_R(token_api_timeout_ms), 10, 600000, "10ms..10m", 0 },
	[CONFIG_RKEY_TOKEN_FROM] = { "token_from", config_set_choice,
	    config_copy_u64, CONFIG_R(token_from), 0, 1, "query, host", 0 },
	[CONFIG_RKEY_ALLOW_TARGETS] = { "allow_targets",
	    config_set_allow_targets, config_copy_allow_targets, 0, 0, 0, NULL,
	    1 },
	[CONFIG_RKEY_BASIC_AUTH] = { "basic_auth", config_set_basic_auth,
	    config_copy_string, CONFIG_R(basic_auth), 0, 0, NULL, 0 },
	[CONFIG_RKEY_ORIGIN_REQUIRED] = { "origin_required", config_set_choice,
	    config_copy_u64, CONFIG_R(origin_required), 0, 1, "off, on", 0 },
	[CONFIG_RKEY_BACKEND_VERIFY] = { "backend_verify", config_set_choice,
	    config_copy_u64, CONFIG_R(backend_verify), 0, 1, "off, on", 0 },
	[CONFIG_RKEY_COMPRESSION] = { "compression", config_set_choice,
	    config_copy_u64, CONFIG_R(compression), 0, 1, "off, on", 0 },
	[CONFIG_RKEY_FRAMING] = { "framing", config_set_choice,
	    config_copy_u64, CONFIG_R(framing), 0, 2, "stream, line, text", 0 },
	[CONFIG_RKEY_LINE_MAX] = { "line_max", config_set_size,
	    config_copy_u64, CONFIG_R(line_max), 16, 64 * 1024 * 1024,
	    "16..64M", 0 },
	[CONFIG_RKEY_LINE_OVERFLOW] = { "line_overflow", config_set_choice,
	    config_copy_u64, CONFIG_R(line_overflow), 0, 1, "split, close", 0 },
	[CONFIG_RKEY_LINE_INVALID] = { "line_invalid", config_set_choice,
	    config_copy_u64, CONFIG_R(line_invalid), 0, 1, "binary, close", 0 },
	[CONFIG_RKEY_MAX_PROCESSES] = { "max_processes", config_set_count,
	    config_copy_u64, CONFIG_R(max_processes), 0, 1000000,
	    "0..1000000", 0 },
	[CONFIG_RKEY_EXEC_KILL_TIMEOUT] = { "exec_kill_timeout",
	    config_set_duration, config_copy_u64,
	    CONFIG_R(exec_kill_timeout_ms), 0, 3600 * 1000, "0..1h", 0 },
	[CONFIG_RKEY_EXEC_ENV] = { "exec_env", config_set_exec_env,
	    config_copy_exec_env, 0, 0, 0, NULL, 1 },
	[CONFIG_RKEY_EXEC_USER] = { "user", config_set_string,
	    config_copy_string, CONFIG_R(exec_user), 0, 0, NULL, 0 },
	[CONFIG_RKEY_EXEC_CWD] = { "cwd", config_set_root,
	    config_copy_string, CONFIG_R(exec_cwd), 0, 0, NULL, 0 },
	[CONFIG_RKEY_RECORD] = { "record", config_set_abspath,
	    config_copy_string, CONFIG_R(record), 0, 0, NULL, 0 },
	[CONFIG_RKEY_RECORD_MAX] = { "record_max_size", config_set_size,
	    config_copy_u64, CONFIG_R(record_max_size), 0, UINT64_MAX, NULL, 0 },
	[CONFIG_RKEY_WEB_AUTH] = { "web_auth", config_set_choice,
	    config_copy_u64, CONFIG_R(web_auth), 0, 1, "off, on", 0 },
};

/* ---- small helpers ---- */

/* The blanks inih strips (isspace in the C locale), without the locale. */
static int
config_isspace(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' ||
	    ch == '\f' || ch == '\r';
}

static int
config_isdigit(int ch)
{
	return ch >= '0' && ch <= '9';
}

static int
config_isalpha(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* RFC 7230 §3.2.6 tchar. */
static int
config_istchar(int ch)
{
	return config_isalpha(ch) || config_isdigit(ch) ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/*
 * Append one error line "NAME:LINE: message" (line 0: "NAME: message") to
 * c->err, newline-separated, cut to fit. Control bytes in the message are
 * shown as '?', so a hostile file cannot drive the terminal.
 */
static void __attribute__((format(printf, 3, 4)))
config_error(struct config_ctx *c, int line, const char *fmt, ...)
{
	char	 msg[CONFIG_MSG_MAX];
	va_list	 ap;
	size_t	 i, n, room;
	int	 r;

	c->nerrors++;
	if (line > 0)
		r = snprintf(msg, sizeof(msg), "%s%s:%d: ",
		    c->errused > 0 ? "\n" : "", c->name, line);
	else
		r = snprintf(msg, sizeof(msg), "%s%s: ",
		    c->errused > 0 ? "\n" : "", c->name);
	if (r < 0)
		return;
	n = (size_t)r < sizeof(msg) ? (size_t)r : sizeof(msg) - 1;
	va_start(ap, fmt);
	r = vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	n = strlen(msg);
	for (i = c->errused > 0 ? 1 : 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	if (c->err == NULL || c->errlen == 0 || c->errused + 1 >= c->errlen)
		return;
	room = c->errlen - c->errused - 1;
	if (n > room)
		n = room;
	memcpy(c->err + c->errused, msg, n);
	c->errused += n;
	c->err[c->errused] = '\0';
}

/* config_error at the current line. */
#define config_errorx(c, ...)	config_error((c), (c)->lineno, __VA_ARGS__)

static char *
config_strndup(struct config_ctx *c, const char *s, size_t n)
{
	char	*p;

	if ((p = malloc(n + 1)) == NULL) {
		c->oom = 1;
		return NULL;
	}
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Append a copy of s[0..n) to the string vector *v of *nv entries. */
static int
config_strv_add(struct config_ctx *c, char ***v, size_t *nv, const char *s,
    size_t n)
{
	char	**nvec;
	char	 *p;

	if ((p = config_strndup(c, s, n)) == NULL)
		return -1;
	if ((nvec = realloc(*v, (*nv + 1) * sizeof(**v))) == NULL) {
		free(p);
		c->oom = 1;
		return -1;
	}
	nvec[(*nv)++] = p;
	*v = nvec;
	return 0;
}

static void
config_strv_free(char **v, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Digits only, at least one, no sign, no overflow. */
static int
config_parse_uint(const char *s, const char **end, uint64_t *v)
{
	uint64_t	n = 0;
	const char	*p;

	for (p = s; config_isdigit(*p); p++) {
		if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return -1;
	*end = p;
	*v = n;
	return 0;
}

int
config_parse_duration(const char *s, uint64_t *ms)
{
	const char	*p;
	uint64_t	 n, mul;

	if (config_parse_uint(s, &p, &n) == -1)
		return -1;
	if (*p == '\0' || strcmp(p, "s") == 0)
		mul = 1000;
	else if (strcmp(p, "ms") == 0)
		mul = 1;
	else if (strcmp(p, "m") == 0)
		mul = 60 * 1000;
	else if (strcmp(p, "h") == 0)
		mul = 60 * 60 * 1000;
	else
		return -1;
	if (n > UINT64_MAX / mul)
		return -1;
	*ms = n * mul;
	return 0;
}

int
config_parse_size(const char *s, uint64_t *bytes)
{
	const char	*p;
	uint64_t	 n, mul;

	if (config_parse_uint(s, &p, &n) == -1)
		return -1;
	if (*p == '\0')
		mul = 1;
	else if (p[1] != '\0')
		return -1;
	else if (*p == 'K' || *p == 'k')
		mul = 1024;
	else if (*p == 'M' || *p == 'm')
		mul = 1024 * 1024;
	else if (*p == 'G' || *p == 'g')
		mul = 1024 * 1024 * 1024;
	else
		return -1;
	if (n > UINT64_MAX / mul)
		return -1;
	*bytes = n * mul;
	return 0;
}

/* ---- addresses ---- */

void
config_addr_clear(struct config_addr *a)
{
	if (a == NULL)
		return;
	free(a->host);
	free(a->path);
	free(a->spec);
	free(a->argv);
	memset(a, 0, sizeof(*a));
}

static int
config_addr_copy(struct config_addr *dst, const struct config_addr *src)
{
	char	err[64];

	*dst = *src;
	dst->host = dst->path = dst->spec = NULL;
	dst->argv = NULL;
	if ((src->host && (dst->host = strdup(src->host)) == NULL) ||
	    (src->path && (dst->path = strdup(src->path)) == NULL) ||
	    (src->spec && (dst->spec = strdup(src->spec)) == NULL) ||
	    (src->argv && (dst->argv = exec_argv_parse(src->path, err,
	    sizeof(err))) == NULL)) {
		config_addr_clear(dst);
		return -1;
	}
	return 0;
}

/* A DNS name or IPv4 literal: letters, digits, '-', '.', '_'. */
static int
config_host_ok(const char *h, size_t n)
{
	size_t	i;

	if (n == 0 || n > 253)
		return 0;
	for (i = 0; i < n; i++)
		if (!config_isalpha(h[i]) && !config_isdigit(h[i]) &&
		    h[i] != '-' && h[i] != '.' && h[i] != '_')
			return 0;
	return 1;
}

/* An IPv6 literal, optionally with a "%zone". */
static int
config_v6_ok(const char *h, size_t n)
{
	struct in6_addr	 in6;
	char		 buf[INET6_ADDRSTRLEN + 1];
	const char	*pct;
	size_t		 i, alen;

	pct = memchr(h, '%', n);
	alen = pct ? (size_t)(pct - h) : n;
	if (alen == 0 || alen >= sizeof(buf))
		return 0;
	memcpy(buf, h, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET6, buf, &in6) != 1)
		return 0;
	if (pct == NULL)
		return 1;
	if (pct + 1 == h + n)
		return 0;
	for (i = alen + 1; i < n; i++)
		if (!config_isalpha(h[i]) && !config_isdigit(h[i]) &&
		    h[i] != '-' && h[i] != '_' && h[i] != '.')
			return 0;
	return 1;
}

/* Ports: decimal 1..65535. */
static int
config_port_ok(const char *s, uint16_t *port)
{
	const char	*end;
	uint64_t	 n;

	if (config_parse_uint(s, &end, &n) == -1 || *end != '\0' || n == 0 ||
	    n > 65535)
		return 0;
	*port = (uint16_t)n;
	return 1;
}

/*
 * "HOST:PORT", "[V6]:PORT", and for listen (host_optional) also "PORT"
 * and "*:PORT" (host NULL: every interface). Returns 0, -1 with why set to
 * a reason, -2 out of memory.
 */
static int
config_hostport(const char *s, int host_optional, struct config_addr *a,
    const char **why)
{
	const char	*colon, *h, *port;
	size_t		 hlen;
	int		 v6 = 0;

	if (s[0] == '[') {
		if ((colon = strchr(s, ']')) == NULL) {
			*why = "missing ']'";
			return -1;
		}
		h = s + 1;
		hlen = (size_t)(colon - h);
		colon++;
		if (*colon != ':') {
			*why = "missing port";
			return -1;
		}
		v6 = 1;
	} else if ((colon = strrchr(s, ':')) == NULL) {
		if (!host_optional) {
			*why = "missing port";
			return -1;
		}
		h = NULL;
		hlen = 0;
		colon = s - 1;
	} else {
		h = s;
		hlen = (size_t)(colon - s);
		if (memchr(s, ':', hlen) != NULL) {
			*why = "IPv6 addresses need brackets: [V6]:PORT";
			return -1;
		}
	}
	port = colon + 1;
	if (!config_port_ok(port, &a->port)) {
		*why = *port ? "port must be 1..65535" : "missing port";
		return -1;
	}
	if (h != NULL && !v6 && hlen == 1 && *h == '*' && host_optional)
		return 0;
	if (h == NULL)
		return 0;
	if (v6 ? !config_v6_ok(h, hlen) : !config_host_ok(h, hlen)) {
		*why = v6 ? "bad IPv6 address" : "bad host name";
		return -1;
	}
	if ((a->host = strndup(h, hlen)) == NULL)
		return -2;
	return 0;
}

/* "0660": octal permission bits of a unix listen socket, not 0. */
static int
config_mode(const char *s, size_t n, unsigned *mode)
{
	unsigned	v = 0;
	size_t		i;

	if (n == 0 || n > 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (v == 0 || v > 0777)
		return -1;
	*mode = v;
	return 0;
}

/*
 * "exec:PROGRAM ARG...": split like a command line without a shell; the
 * program must be an executable file now (checked again at each spawn).
 * 0, -1 (bad, message in err) or -2 (out of memory).
 */
static int
config_exec_parse(const char *s, struct config_addr *a, char *err,
    size_t errlen)
{
	struct stat	st;
	char		why[256];

	a->kind = CONFIG_ADDR_EXEC;
	if ((a->path = strdup(s + 5)) == NULL || (a->spec = strdup(s)) == NULL)
		goto oom;
	if ((a->argv = exec_argv_parse(a->path, why, sizeof(why))) == NULL) {
		if (strcmp(why, "out of memory") == 0)
			goto oom;
		goto bad;
	}
	if (stat(a->argv[0], &st) == -1)
		snprintf(why, sizeof(why), "'%s': %s", a->argv[0],
		    strerror(errno));
	else if (!S_ISREG(st.st_mode) || access(a->argv[0], X_OK) == -1)
		snprintf(why, sizeof(why), "'%s' is not an executable file",
		    a->argv[0]);
	else
		return 0;
 bad:
	snprintf(err, errlen, "%s: %s", s, why);
	config_addr_clear(a);
	return -1;
 oom:
	snprintf(err, errlen, "out of memory");
	config_addr_clear(a);
	return -2;
}

/* config_parse_addr, telling allocation failure (-2) from bad input. */
static int
config_addr_parse(const char *s, int want_listen, struct config_addr *a,
    char *err, size_t errlen)
{
	const char	*why = NULL, *p, *opt;
	char		*addr = NULL;
	size_t		 n, olen;
	int		 r = -1;

	memset(a, 0, sizeof(*a));
	if (!want_listen && strncmp(s, "exec:", 5) == 0)
		return config_exec_parse(s, a, err, errlen);
	for (n = 0; s[n] != '\0' && !config_isspace(s[n]); n++)
		;
	if ((addr = strndup(s, n)) == NULL)
		goto oom;
	/* Options after the address: listen only ("tls", "proxy_protocol"). */
	for (p = s + n; *p != '\0'; p = opt + olen) {
		for (opt = p; config_isspace(*opt); opt++)
			;
		for (olen = 0; opt[olen] != '\0' && !config_isspace(opt[olen]);
		    olen++)
			;
		if (olen == 0)
			break;
		if (want_listen && olen == 3 && memcmp(opt, "tls", 3) == 0)
			a->tls = true;
		else if (want_listen && olen == 4 && memcmp(opt, "auto", 4) == 0)
			a->tls_auto = true;
		else if (want_listen && olen == 14 &&
		    memcmp(opt, "proxy_protocol", 14) == 0)
			a->proxy_protocol = true;
		else if (want_listen && olen > 5 && memcmp(opt, "mode=", 5) == 0) {
			if (config_mode(opt + 5, olen - 5, &a->mode) == -1) {
				snprintf(err, errlen, "bad address '%s': mode "
				    "must be octal 0001..0777, as in mode=0660",
				    s);
				goto fail;
			}
		} else {
			snprintf(err, errlen, "bad address '%s': unknown "
			    "option '%.*s'%s", s, (int)olen, opt,
			    want_listen ? " (known: tls, auto, proxy_protocol, "
			    "mode=)" : "");
			goto fail;
		}
		if (a->tls_auto && !a->tls) {
			snprintf(err, errlen, "bad address '%s': auto goes "
			    "after tls (\"tls auto\": TLS and plain clients on "
			    "one port)", s);
			goto fail;
		}
		if (a->tls && a->proxy_protocol) {
			snprintf(err, errlen, "bad address '%s': tls and "
			    "proxy_protocol on one listener are not supported "
			    "yet", s);
			goto fail;
		}
	}
	if (a->mode != 0 && strncmp(addr, "unix:", 5) != 0) {
		snprintf(err, errlen, "bad address '%s': mode= is for unix: "
		    "sockets", s);
		goto fail;
	}
	if (strncmp(addr, "unix:", 5) == 0) {
		a->kind = CONFIG_ADDR_UNIX;
		if (addr[5] == '\0')
			why = "empty unix socket path";
		else if (strlen(addr + 5) >= CONFIG_SUN_PATH_MAX)
			why = "unix socket path too long";
		else if ((a->path = strdup(addr + 5)) == NULL)
			goto oom;
	} else if (want_listen && strncmp(addr, "fd:", 3) == 0) {
		/* A socket handed over already listening (inetd "wait", a
		 * supervisor): websockify's --inetd is fd:0. */
		a->kind = CONFIG_ADDR_FD;
		if (strspn(addr + 3, "0123456789") != strlen(addr + 3) ||
		    addr[3] == '\0' || strlen(addr + 3) > 4)
			why = "fd: takes a descriptor number, as in fd:0";
		else
			a->fd = atoi(addr + 3);
	} else if (strncmp(addr, "tcp:", 4) == 0) {
		r = config_hostport(addr + 4, 0, a, &why);
	} else if (!want_listen && strncmp(addr, "tls:", 4) == 0) {
		/* A TCP backend spoken to over TLS (a->tls). */
		r = config_hostport(addr + 4, 0, a, &why);
		a->tls = true;
	} else if (want_listen && addr[0] != '\0') {
		r = config_hostport(addr, 1, a, &why);
	} else
		why = want_listen ?
		    "use HOST:PORT, [V6]:PORT, PORT, unix:/path or fd:N" :
		    "use tcp:HOST:PORT, tcp:[V6]:PORT, tls:HOST:PORT, "
		    "unix:/path or exec:/PROGRAM ARG...";
	if (r == -2)
		goto oom;
	if (why != NULL) {
		snprintf(err, errlen, "bad address '%s' (%s)", s, why);
		goto fail;
	}
	a->spec = addr;
	return 0;
 oom:
	snprintf(err, errlen, "out of memory");
	free(addr);
	config_addr_clear(a);
	return -2;
 fail:
	free(addr);
	config_addr_clear(a);
	return -1;
}

int
config_parse_addr(const char *s, bool want_listen, struct config_addr *a,
    char *err, size_t errlen)
{
	return config_addr_parse(s, want_listen, a, err, errlen) == 0 ? 0 : -1;
}

/* Parse an address for key k at the current line; -1 after reporting. */
static int
config_addr_key(struct config_ctx *c, const struct config_key *k,
    const char *value, int want_listen, struct config_addr *a)
{
	char	why[CONFIG_MSG_MAX];
	int	r;

	r = config_addr_parse(value, want_listen, a, why, sizeof(why));
	if (r == -2)
		c->oom = 1;
	else if (r == -1)
		config_errorx(c, "%s: %s", k->name, why);
	a->line = c->lineno;
	return r == 0 ? 0 : -1;
}

static int
config_addrv_add(struct config_ctx *c, struct config_addr **v, size_t *nv,
    struct config_addr *a)
{
	struct config_addr	*nvec;

	if ((nvec = realloc(*v, (*nv + 1) * sizeof(**v))) == NULL) {
		config_addr_clear(a);
		c->oom = 1;
		return -1;
	}
	nvec[(*nv)++] = *a;
	*v = nvec;
	return 0;
}

/* ---- setters (config_set_fn) ---- */

static int
config_set_listen(struct config_ctx *c, const struct config_key *k, void *obj,
    const char *value)
{
	struct config		*cfg = obj;
	struct config_addr	 a;

	if (config_addr_key(c, k, value, 1, &a) == -1)
		return -1;
	return config_addrv_add(c, &cfg->listens, &cfg->nlistens, &a);
}

static int
config_set_backend(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;
	struct config_addr	 a;

	if (config_addr_key(c, k, value, 0, &a) == -1)
		return -1;
	return config_addrv_add(c, &r->backends, &r->nbackends, &a);
}

/* A plain count in [k->min, k->max] into the uint64_t at k->off. */
static int
config_set_count(struct config_ctx *c, const struct config_key *k, void *obj,
    const char *value)
{
	const char	*end;
	uint64_t	 n;

	if (config_parse_uint(value, &end, &n) == -1 || *end != '\0') {
		config_errorx(c, "%s: bad number '%s'", k->name, value);
		return -1;
	}
	if (n < k->min || n > k->max) {
		config_errorx(c, "%s: '%s' out of range (%s)", k->name, value,
		    k->range);
		return -1;
	}
	memcpy((char *)obj + k->off, &n, sizeof(n));
	return 0;
}

static int
config_set_workers(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config	*cfg = obj;
	const char	*end;
	uint64_t	 n;

	if (strcmp(value, "auto") == 0) {
		cfg->workers = 0;
		return 0;
	}
	if (config_parse_uint(value, &end, &n) == -1 || *end != '\0' ||
	    n < k->min || n > k->max) {
		config_errorx(c, "%s: bad value '%s' (%s)", k->name, value,
		    k->range);
		return -1;
	}
	cfg->workers = (unsigned)n;
	return 0;
}

/* Shared tail of durations and sizes: range check, then store. */
static int
config_store_u64(struct config_ctx *c, const struct config_key *k, void *obj,
    const char *value, uint64_t n)
{
	if (n < k->min || n > k->max) {
		config_errorx(c, "%s: '%s' out of range (%s)", k->name, value,
		    k->range);
		return -1;
	}
	memcpy((char *)obj + k->off, &n, sizeof(n));
	return 0;
}

static int
config_set_duration(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	uint64_t	ms;

	if (config_parse_duration(value, &ms) == -1) {
		config_errorx(c, "%s: bad duration '%s' (use ms, s, m, h)",
		    k->name, value);
		return -1;
	}
	return config_store_u64(c, k, obj, value, ms);
}

static int
config_set_size(struct config_ctx *c, const struct config_key *k, void *obj,
    const char *value)
{
	uint64_t	bytes;

	if (config_parse_size(value, &bytes) == -1) {
		config_errorx(c, "%s: bad size '%s' (use K, M, G)", k->name,
		    value);
		return -1;
	}
	return config_store_u64(c, k, obj, value, bytes);
}

static int
config_set_admin(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config		*cfg = obj;
	struct config_addr	 a;

	if (strcmp(value, "off") == 0)
		return 0;
	if (config_addr_key(c, k, value, 1, &a) == -1)
		return -1;
	if (a.kind != CONFIG_ADDR_TCP || a.tls) {
		config_errorx(c, "%s: bad address '%s' (use HOST:PORT or off)",
		    k->name, value);
		config_addr_clear(&a);
		return -1;
	}
	cfg->admin_listen = a.spec;
	a.spec = NULL;
	config_addr_clear(&a);
	return 0;
}

/* Index of value in names[], or -1 after reporting. */
static int
config_enum(struct config_ctx *c, const struct config_key *k,
    const char *value, const char *const *names, size_t n, const char *list)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(value, names[i]) == 0)
			return (int)i;
	config_errorx(c, "%s: bad value '%s' (use %s)", k->name, value, list);
	return -1;
}

static int
config_set_log_level(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct config	*cfg = obj;
	int		 i;

	if ((i = config_enum(c, k, value, names, 4,
	    "error, warn, info, debug")) == -1)
		return -1;
	cfg->log_level = (enum config_log_level)i;
	return 0;
}


/* "N/s" (N handshakes a second, N at once) or 0 = no limit. */
static int
config_set_rate(struct config_ctx *c, const struct config_key *k, void *obj,
    const char *value)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(value, &end, 10);
	if (end == value || errno != 0 || value[0] == '-' ||
	    (strcmp(end, "/s") != 0 && !(n == 0 && *end == '\0')) ||
	    n > k->max) {
		config_errorx(c, "%s: bad rate '%s' (use N/s, N up to %llu, "
		    "or 0)", k->name, value, (unsigned long long)k->max);
		return -1;
	}
	*(uint64_t *)(void *)((char *)obj + k->off) = (uint64_t)n;
	return 0;
}



/*
 * One of the words in k->range ("off, v1, v2"), stored as its index in
 * the uint64_t at k->off.
 */
static int
config_set_choice(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	const char	*w = k->range;
	size_t		 n, len = strlen(value);
	uint64_t	 i;

	for (i = 0; *w != '\0'; i++) {
		n = strcspn(w, ",");
		if (n == len && memcmp(w, value, n) == 0) {
			memcpy((char *)obj + k->off, &i, sizeof(i));
			return 0;
		}
		w += n;
		w += strspn(w, ", ");
	}
	config_errorx(c, "%s: bad value '%s' (use %s)", k->name, value,
	    k->range);
	return -1;
}

static int
config_set_log_format(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	static const char *const names[] = { "text", "json" };
	struct config	*cfg = obj;
	int		 i;

	if ((i = config_enum(c, k, value, names, 2, "text, json")) == -1)
		return -1;
	cfg->log_format = (enum config_log_format)i;
	return 0;
}

/* A string into the char * at k->off. */
static int
config_set_string(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	char	*s;

	if ((s = config_strndup(c, value, strlen(value))) == NULL)
		return -1;
	memcpy((char *)obj + k->off, &s, sizeof(s));
	return 0;
}

/*
 * A relative root is taken from the directory of the file it is written
 * in (as nginx takes it from its prefix), so a config and its web files
 * can travel together: the default gateway.conf serves demo/www from the
 * source tree. Returns the absolute, resolved path (malloc'd), or NULL
 * after an error message.
 */
static char *
config_root_relative(struct config_ctx *c, const struct config_key *k,
    const char *value)
{
	const char	*slash = strrchr(c->name, '/');
	char		*joined, *abs;
	size_t		 dlen = slash == NULL ? 1 : (size_t)(slash - c->name);
	size_t		 n = dlen + 1 + strlen(value) + 1;

	if ((joined = malloc(n)) == NULL) {
		c->oom = 1;
		return NULL;
	}
	if (slash == NULL)
		snprintf(joined, n, "./%s", value);
	else
		snprintf(joined, n, "%.*s/%s", (int)dlen, c->name, value);
	if ((abs = realpath(joined, NULL)) == NULL)
		config_errorx(c, "%s: '%s' (%s, from the config file's "
		    "directory): %s", k->name, value, joined, strerror(errno));
	free(joined);
	return abs;
}

/*
 * root: a directory that exists now: an absolute path, or (root only)
 * one relative to the config file's directory, stored resolved. The
 * check is at load (and reload) time only; static.c copes with it
 * vanishing later.
 */
static int
config_set_root(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct stat	 st;
	char		*abs = NULL;
	int		 r = -1;

	if (value[0] != '/' && strcmp(k->name, "root") != 0) {
		config_errorx(c, "%s: '%s' is not an absolute path", k->name,
		    value);
		return -1;
	}
	if (value[0] != '/') {
		if ((abs = config_root_relative(c, k, value)) == NULL)
			return -1;
		value = abs;
	}
	if (stat(value, &st) == -1)
		config_errorx(c, "%s: '%s': %s", k->name, value,
		    strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		config_errorx(c, "%s: '%s' is not a directory", k->name, value);
	else
		r = config_set_string(c, k, obj, value);
	free(abs);
	return r;
}

/* index: one file name inside a directory, not hidden (no '/', no '.'). */
static int
config_set_index(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	size_t	i;

	for (i = 0; value[i] != '\0'; i++)
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] == 0x7f || value[i] == '/' ||
		    value[i] == '\\')
			break;
	if (value[i] != '\0' || value[0] == '.') {
		config_errorx(c, "%s: bad file name '%s' (one name such as "
		    "index.html: no '/', blanks or leading '.')", k->name,
		    value);
		return -1;
	}
	return config_set_string(c, k, obj, value);
}

/* "*", "null" or scheme://host[:port] without a path (RFC 6454 §6.2). */
static int
config_origin_ok(const char *o, size_t n)
{
	size_t	i;

	if ((n == 1 && o[0] == '*') || (n == 4 && memcmp(o, "null", 4) == 0))
		return 1;
	if (n == 0 || !config_isalpha(o[0]))
		return 0;
	for (i = 1; i < n && (config_isalpha(o[i]) || config_isdigit(o[i]) ||
	    o[i] == '+' || o[i] == '-' || o[i] == '.'); i++)
		;
	if (n - i < 4 || memcmp(o + i, "://", 3) != 0)
		return 0;
	for (i += 3; i < n; i++)
		if ((unsigned char)o[i] <= 0x20 || (unsigned char)o[i] >= 0x7f ||
		    strchr("/?#", o[i]) != NULL)
			return 0;
	return 1;
}

/*
 * Split value on blanks and commas; check each item with ok(); append to
 * the vector. Returns 0 or -1 after reporting.
 */
static int
config_set_list(struct config_ctx *c, const struct config_key *k,
    const char *value, int (*ok)(const char *, size_t), const char *what,
    const char *hint, char ***v, size_t *nv)
{
	const char	*p = value;
	size_t		 n;
	int		 any = 0, bad = 0;

	for (;;) {
		while (*p == ',' || config_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		for (n = 0; p[n] != '\0' && p[n] != ',' &&
		    !config_isspace(p[n]); n++)
			;
		if (!ok(p, n)) {
			config_errorx(c, "%s: bad %s '%.*s' (%s)", k->name,
			    what, (int)n, p, hint);
			bad = 1;
		} else if (config_strv_add(c, v, nv, p, n) == -1)
			return -1;
		any = 1;
		p += n;
	}
	if (!any) {
		config_errorx(c, "%s: empty list", k->name);
		return -1;
	}
	return bad ? -1 : 0;
}

/* An environment variable name: [A-Za-z_][A-Za-z0-9_]*. */
static int
config_envname_ok(const char *s, size_t n)
{
	size_t	i;

	if (n == 0 || config_isdigit(s[0]))
		return 0;
	for (i = 0; i < n; i++)
		if (!config_isalpha(s[i]) && !config_isdigit(s[i]) &&
		    s[i] != '_')
			return 0;
	return 1;
}

/*
 * exec_env: "NAME=VALUE" (one per line; the value is kept as written) or
 * a list of NAMEs to pass through from wsgate's own environment.
 */
static int
config_set_exec_env(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;
	const char		*eq = strchr(value, '=');

	if (eq == NULL)
		return config_set_list(c, k, value, config_envname_ok,
		    "variable name", "letters, digits and '_', or NAME=VALUE",
		    &r->exec_env, &r->nexec_env);
	if (!config_envname_ok(value, (size_t)(eq - value))) {
		config_errorx(c, "%s: bad variable name '%.*s' (letters, "
		    "digits and '_')", k->name, (int)(eq - value), value);
		return -1;
	}
	return config_strv_add(c, &r->exec_env, &r->nexec_env, value,
	    strlen(value));
}

static int
config_set_origins(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;

	return config_set_list(c, k, value, config_origin_ok,
	    "origin", "use scheme://host[:port], null or *", &r->origins,
	    &r->norigins);
}

static int
config_token_ok(const char *s, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (!config_istchar((unsigned char)s[i]))
			return 0;
	return n > 0;
}

static int
config_set_subprotocols(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;

	return config_set_list(c, k, value, config_token_ok,
	    "token", "RFC 7230 token characters only", &r->subprotocols,
	    &r->nsubprotocols);
}

/* Any non-empty name without '"' (blanks and commas separate names). */
static int
config_name_ok(const char *s, size_t n)
{
	return n > 0 && memchr(s, '"', n) == NULL;
}

static int
config_set_allow_cn(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;

	return config_set_list(c, k, value, config_name_ok, "name",
	    "names separated by spaces or commas", &r->allow_client_cn,
	    &r->nallow_client_cn);
}

static int
config_set_allow_san(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;

	return config_set_list(c, k, value, config_name_ok, "name",
	    "names separated by spaces or commas", &r->allow_client_san,
	    &r->nallow_client_san);
}

/* "ADDR" or "ADDR/BITS", IPv4 or IPv6. */
static int
config_cidr_ok(const char *s, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned char a[16];
	unsigned long bits, max;

	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if ((slash = strchr(buf, '/')) != NULL)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, a) == 1)
		max = 32;
	else if (inet_pton(AF_INET6, buf, a) == 1)
		max = 128;
	else
		return 0;
	if (slash == NULL)
		return 1;
	if (slash[1] < '0' || slash[1] > '9')
		return 0;
	bits = strtoul(slash + 1, &end, 10);
	return *end == '\0' && bits <= max;
}

static int
config_set_trusted(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config	*cfg = obj;

	return config_set_list(c, k, value, config_cidr_ok, "network",
	    "use ADDR or ADDR/BITS, IPv4 or IPv6", &cfg->trusted_proxies,
	    &cfg->ntrusted_proxies);
}

/* min_version = TLS1.2 | TLS1.3 */
/* redis = HOST:PORT | [V6]:PORT | unix:/path */
static int
config_set_redis(struct config_ctx *c, const struct config_key *k, void *obj,
    const char *value)
{
	struct config		*cfg = obj;
	struct config_addr	 a;
	char			 buf[CONFIG_MSG_MAX];

	if (strncmp(value, "unix:", 5) != 0 && strncmp(value, "tcp:", 4) != 0) {
		snprintf(buf, sizeof(buf), "tcp:%s", value);
		value = buf;
	}
	if (strchr(value, ' ') != NULL || strchr(value, '\t') != NULL) {
		config_errorx(c, "%s: bad address '%s' (use HOST:PORT or "
		    "unix:/path)", k->name, value);
		return -1;
	}
	if (config_addr_key(c, k, value, 0, &a) == -1)
		return -1;
	if (a.kind == CONFIG_ADDR_UNIX && a.path[0] != '/') {
		config_errorx(c, "%s: unix socket path must be absolute",
		    k->name);
		config_addr_clear(&a);
		return -1;
	}
	if ((cfg->redis = malloc(sizeof(*cfg->redis))) == NULL) {
		config_addr_clear(&a);
		c->oom = 1;
		return -1;
	}
	*cfg->redis = a;
	return 0;
}

/* instance: a name unique in the fleet, 1..64 of [A-Za-z0-9._-]. */
static int
config_set_instance(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	size_t	n = strlen(value);

	if (n > 64 || strspn(value, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n) {
		config_errorx(c, "%s: bad name '%s' (1..64 letters, digits, "
		    "'.', '_', '-')", k->name, value);
		return -1;
	}
	return config_set_string(c, k, obj, value);
}

/* token_api: an http:// URL holding "%s" once (the token goes there). */
static int
config_set_token_api(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	const char	*p = strchr(value, '%');
	size_t		 i;

	for (i = 0; value[i] != '\0'; i++)
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] >= 0x7f)
			break;
	if (strncmp(value, "http://", 7) != 0 || value[7] == '\0' ||
	    value[i] != '\0' || p == NULL || p[1] != 's' ||
	    strchr(p + 1, '%') != NULL) {
		config_errorx(c, "%s: bad URL '%s' (http://HOST[:PORT]/PATH "
		    "with one %%s where the token goes, no other '%%')",
		    k->name, value);
		return -1;
	}
	return config_set_string(c, k, obj, value);
}

static int
config_target_rule_ok(const char *s, size_t n)
{
	char		 buf[512];
	const char	*why;

	if (n >= sizeof(buf))
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return target_rule_check(buf, &why) == 0;
}

static int
config_set_allow_targets(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;

	return config_set_list(c, k, value, config_target_rule_ok, "rule",
	    "use HOST:PORTS, NET/BITS:PORTS, [V6]:PORTS, *:PORTS, unix:/path "
	    "or unix:/dir/*; PORTS is N, N-M or *", &r->allow_targets,
	    &r->nallow_targets);
}

/* basic_auth = user:password (websockify's BasicHTTPAuth source). */
static int
config_set_basic_auth(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	const char	*colon = strchr(value, ':');
	size_t		 i;

	for (i = 0; value[i] != '\0'; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			break;
	if (colon == NULL || colon == value || value[i] != '\0') {
		/* Never echo the value: it holds a password. */
		config_errorx(c, "%s: expected USER:PASSWORD (a non-empty user, "
		    "no control characters)", k->name);
		return -1;
	}
	return config_set_string(c, k, obj, value);
}

static int
config_set_tls_version(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	static const char *const names[] = { "TLS1.2", "TLS1.3" };
	struct config	*cfg = obj;
	int		 i;

	if ((i = config_enum(c, k, value, names, 2, "TLS1.2, TLS1.3")) == -1)
		return -1;
	cfg->tls_min_version = (unsigned)(12 + i);
	return 0;
}

/* verify_client = off | optional | require */
static int
config_set_verify_client(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	static const char *const names[] = { "off", "optional", "require" };
	struct config	*cfg = obj;
	int		 i;

	if ((i = config_enum(c, k, value, names, 3,
	    "off, optional, require")) == -1)
		return -1;
	cfg->tls_verify_client = (unsigned)i;
	return 0;
}

/*
 * private_key_password = pass:SECRET | env:VARIABLE | file:/path, as
 * openssl's -passin has them. Only the form is checked here (pure); tls.c
 * reads the variable or the file when it loads the key.
 */
static int
config_set_password(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	if ((strncmp(value, "pass:", 5) != 0 || value[5] == '\0') &&
	    (strncmp(value, "env:", 4) != 0 || value[4] == '\0') &&
	    (strncmp(value, "file:", 5) != 0 || value[5] != '/')) {
		config_errorx(c, "%s: use pass:SECRET, env:VARIABLE or "
		    "file:/absolute/path", k->name);
		return -1;
	}
	return config_set_string(c, k, obj, value);
}

/* A file named by an absolute path (the daemon may chdir). */
static int
config_set_abspath(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	if (value[0] != '/') {
		config_errorx(c, "%s: '%s' is not an absolute path", k->name,
		    value);
		return -1;
	}
	return config_set_string(c, k, obj, value);
}

/* syslog = /unix/socket/path or HOST:PORT (UDP), as websockify's. */
static int
config_set_syslog(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_addr	a;
	char			why[CONFIG_MSG_MAX];
	int			r;

	if (value[0] == '/')
		return config_set_string(c, k, obj, value);
	r = config_addr_parse(value, 1, &a, why, sizeof(why));
	if (r == -2) {
		c->oom = 1;
		return -1;
	}
	if (r == 0 && (a.host == NULL || a.kind != CONFIG_ADDR_TCP || a.tls)) {
		config_addr_clear(&a);
		r = -1;
	}
	if (r == -1) {
		config_errorx(c, "%s: bad server '%s' (a socket path such as "
		    "/dev/log, or HOST:PORT for UDP)", k->name, value);
		return -1;
	}
	config_addr_clear(&a);
	return config_set_string(c, k, obj, value);
}

/* ---- inheritance (config_copy_fn) ---- */

static int
config_copy_u64(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	memcpy((char *)dst + k->off, (const char *)src + k->off,
	    sizeof(uint64_t));
	return 0;
}

static int
config_copy_backends(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	size_t	i;

	(void)k;
	/* A failed line may have left values: the route is dropped anyway. */
	for (i = 0; i < dst->nbackends; i++)
		config_addr_clear(&dst->backends[i]);
	free(dst->backends);
	dst->backends = NULL;
	dst->nbackends = 0;
	if (src->nbackends == 0)
		return 0;
	dst->backends = calloc(src->nbackends, sizeof(*dst->backends));
	if (dst->backends == NULL)
		return -1;
	for (i = 0; i < src->nbackends; i++) {
		if (config_addr_copy(&dst->backends[i], &src->backends[i]) == -1)
			return -1;
		dst->nbackends = i + 1;
	}
	return 0;
}

static int
config_copy_strv(char ***dst, size_t *ndst, char *const *src, size_t nsrc)
{
	size_t	i;

	config_strv_free(*dst, *ndst);
	*dst = NULL;
	*ndst = 0;
	if (nsrc == 0)
		return 0;
	if ((*dst = calloc(nsrc, sizeof(**dst))) == NULL)
		return -1;
	for (i = 0; i < nsrc; i++) {
		if (((*dst)[i] = strdup(src[i])) == NULL)
			return -1;
		*ndst = i + 1;
	}
	return 0;
}

static int
config_copy_origins(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	(void)k;
	return config_copy_strv(&dst->origins, &dst->norigins, src->origins,
	    src->norigins);
}

static int
config_copy_exec_env(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	(void)k;
	return config_copy_strv(&dst->exec_env, &dst->nexec_env,
	    src->exec_env, src->nexec_env);
}

static int
config_copy_subprotocols(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	(void)k;
	return config_copy_strv(&dst->subprotocols, &dst->nsubprotocols,
	    src->subprotocols, src->nsubprotocols);
}

static int
config_copy_allow_cn(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	(void)k;
	return config_copy_strv(&dst->allow_client_cn, &dst->nallow_client_cn,
	    src->allow_client_cn, src->nallow_client_cn);
}

static int
config_copy_allow_san(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	(void)k;
	return config_copy_strv(&dst->allow_client_san,
	    &dst->nallow_client_san, src->allow_client_san,
	    src->nallow_client_san);
}

static int
config_copy_allow_targets(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	(void)k;
	return config_copy_strv(&dst->allow_targets, &dst->nallow_targets,
	    src->allow_targets, src->nallow_targets);
}

/* The char * at k->off. */
static int
config_copy_string(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	char	*d, *s;

	memcpy(&d, (char *)dst + k->off, sizeof(d));
	memcpy(&s, (const char *)src + k->off, sizeof(s));
	free(d);
	d = NULL;
	if (s != NULL && (d = strdup(s)) == NULL)
		return -1;
	memcpy((char *)dst + k->off, &d, sizeof(d));
	return 0;
}

/* ---- structure ---- */

static void
config_route_defaults(struct config_route *r)
{
	memset(r, 0, sizeof(*r));
	r->heartbeat_interval_ms = CONFIG_DEFAULT_HEARTBEAT_INTERVAL_MS;
	r->heartbeat_timeout_ms = CONFIG_DEFAULT_HEARTBEAT_TIMEOUT_MS;
	r->idle_timeout_ms = CONFIG_DEFAULT_IDLE_TIMEOUT_MS;
	r->connect_timeout_ms = CONFIG_DEFAULT_CONNECT_TIMEOUT_MS;
	r->max_message_size = CONFIG_DEFAULT_MAX_MESSAGE_SIZE;
	r->token_api_timeout_ms = CONFIG_DEFAULT_TOKEN_API_TIMEOUT_MS;
	r->backend_verify = 1;
	r->record_max_size = CONFIG_DEFAULT_RECORD_MAX_SIZE;
	r->line_max = CONFIG_DEFAULT_LINE_MAX;
	r->max_processes = CONFIG_DEFAULT_MAX_PROCESSES;
	r->exec_kill_timeout_ms = CONFIG_DEFAULT_EXEC_KILL_TIMEOUT_MS;
}

static void
config_route_clear(struct config_route *r)
{
	size_t	i;

	free(r->path);
	for (i = 0; i < r->nbackends; i++)
		config_addr_clear(&r->backends[i]);
	free(r->backends);
	config_strv_free(r->origins, r->norigins);
	config_strv_free(r->subprotocols, r->nsubprotocols);
	free(r->root);
	free(r->index_file);
	free(r->record);
	free(r->token_secret_file);
	free(r->token_public_key_file);
	free(r->token_audience);
	free(r->htpasswd_file);
	free(r->token_file);
	config_strv_free(r->allow_client_cn, r->nallow_client_cn);
	config_strv_free(r->allow_client_san, r->nallow_client_san);
	free(r->backend_ca);
	free(r->backend_server_name);
	free(r->backend_certificate);
	free(r->backend_private_key);
	free(r->token_redis_prefix);
	free(r->token_dir);
	free(r->token_socket_dir);
	free(r->token_jwt_key_file);
	free(r->token_api);
	config_strv_free(r->allow_targets, r->nallow_targets);
	if (r->basic_auth != NULL)
		explicit_bzero(r->basic_auth, strlen(r->basic_auth));
	free(r->basic_auth);
	config_strv_free(r->exec_env, r->nexec_env);
	free(r->exec_user);
	free(r->exec_cwd);
	memset(r, 0, sizeof(*r));
}

static struct config *
config_new(void)
{
	struct config	*cfg;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return NULL;
	cfg->workers = 0;
	cfg->max_connections = CONFIG_DEFAULT_MAX_CONNECTIONS;
	cfg->handshake_timeout_ms = CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_MS;
	cfg->drain_timeout_ms = CONFIG_DEFAULT_DRAIN_TIMEOUT_MS;
	cfg->max_header_size = CONFIG_DEFAULT_MAX_HEADER_SIZE;
	cfg->max_buffer = CONFIG_DEFAULT_MAX_BUFFER;
	cfg->log_level = CONFIG_LOG_INFO;
	cfg->log_format = CONFIG_LOG_TEXT;
	cfg->redis_timeout_ms = CONFIG_DEFAULT_REDIS_TIMEOUT_MS;
	return cfg;
}

void
config_free(struct config *cfg)
{
	size_t	i;

	if (cfg == NULL)
		return;
	free(cfg->file);
	for (i = 0; i < cfg->nlistens; i++)
		config_addr_clear(&cfg->listens[i]);
	free(cfg->listens);
	free(cfg->admin_listen);
	free(cfg->admin_token_file);
	free(cfg->token_id_key_file);
	free(cfg->tls_certificate);
	free(cfg->user);
	free(cfg->tls_private_key);
	free(cfg->tls_key_password);
	free(cfg->log_file);
	free(cfg->syslog_server);
	free(cfg->wrap_command);
	free(cfg->tls_ciphers);
	free(cfg->tls_ciphersuites);
	free(cfg->tls_client_ca);
	config_strv_free(cfg->trusted_proxies, cfg->ntrusted_proxies);
	if (cfg->redis != NULL)
		config_addr_clear(cfg->redis);
	free(cfg->redis);
	free(cfg->redis_password_file);
	free(cfg->instance);
	for (i = 0; i < cfg->nroutes; i++)
		config_route_clear(&cfg->routes[i]);
	free(cfg->routes);
	free(cfg);
}

/* ---- sections ---- */

/*
 * A route path as written in "[route PATH]": '/' then visible ASCII other
 * than '?', '#' and '*', except a final "/\*" that makes it a prefix.
 * Stores the path without the "/\*": "/\*" alone becomes "".
 */
static int
config_route_path(const char *p, size_t n, size_t *plen, int *prefix)
{
	size_t	i;

	if (n == 0 || p[0] != '/')
		return -1;
	*prefix = n >= 2 && p[n - 2] == '/' && p[n - 1] == '*';
	*plen = *prefix ? n - 2 : n;
	for (i = 0; i < *plen; i++)
		if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f ||
		    strchr("?#*", p[i]) != NULL)
			return -1;
	/* "/a//\*" would be a prefix ending in '/': almost surely a typo. */
	if (*prefix && *plen > 0 && p[*plen - 1] == '/')
		return -1;
	return 0;
}

/* Open "[route PATH]" (PATH is p[0..n)): a new route, defaults in. */
static void
config_route_open(struct config_ctx *c, const char *p, size_t n)
{
	struct config		*cfg = c->cfg;
	struct config_route	*nr, *r;
	struct config_rset	*ns;
	size_t			 i, plen;
	int			 prefix;

	if (config_route_path(p, n, &plen, &prefix) == -1) {
		config_errorx(c, "bad route path '%.*s' (must start with '/'; "
		    "no blanks, '?', '#'; '*' only as a final '/*')", (int)n, p);
		c->sect = CONFIG_SECT_BAD;
		return;
	}
	for (i = 0; i < cfg->nroutes; i++) {
		r = &cfg->routes[i];
		if (r->prefix == (prefix != 0) && strlen(r->path) == plen &&
		    memcmp(r->path, p, plen) == 0)
			config_errorx(c, "duplicate [route %.*s] (first at "
			    "line %d)", (int)n, p, r->line);
	}
	/* A duplicate is kept anyway so that its keys are still checked. */
	if ((nr = realloc(cfg->routes, (cfg->nroutes + 1) *
	    sizeof(*nr))) == NULL) {
		c->oom = 1;
		return;
	}
	cfg->routes = nr;
	if ((ns = realloc(c->rset, (cfg->nroutes + 1) * sizeof(*ns))) == NULL) {
		c->oom = 1;
		return;
	}
	c->rset = ns;
	r = &cfg->routes[cfg->nroutes];
	config_route_defaults(r);
	if ((r->path = config_strndup(c, p, plen)) == NULL)
		return;
	r->prefix = prefix != 0;
	r->line = c->lineno;
	memset(&c->rset[cfg->nroutes], 0, sizeof(*ns));
	c->route = cfg->nroutes++;
	c->sect = CONFIG_SECT_ROUTE;
}

/* A header line "[...]", line[0..n), blanks stripped on both sides. */
static void
config_section(struct config_ctx *c, const char *line, size_t n)
{
	const char	*close, *in, *rest;
	size_t		 inlen;

	c->sect = CONFIG_SECT_BAD;
	snprintf(c->sect_name, sizeof(c->sect_name), "?");
	if ((close = memchr(line, ']', n)) == NULL) {
		config_errorx(c, "missing ']' in section header '%.*s'",
		    (int)n, line);
		return;
	}
	for (rest = close + 1; rest < line + n && config_isspace(*rest); rest++)
		;
	if (rest < line + n && *rest != ';' && *rest != '#')
		config_errorx(c, "junk after section header: '%.*s'",
		    (int)(line + n - rest), rest);
	for (in = line + 1; in < close && config_isspace(*in); in++)
		;
	for (inlen = (size_t)(close - in); inlen > 0 &&
	    config_isspace(in[inlen - 1]); inlen--)
		;
	snprintf(c->sect_name, sizeof(c->sect_name), "%.*s", (int)inlen, in);
	if (inlen == 7 && memcmp(in, "gateway", 7) == 0)
		c->sect = CONFIG_SECT_GATEWAY;
	else if (inlen == 3 && memcmp(in, "tls", 3) == 0)
		c->sect = CONFIG_SECT_TLS;
	else if (inlen >= 5 && memcmp(in, "route", 5) == 0 &&
	    (inlen == 5 || config_isspace(in[5]))) {
		for (in += 5, inlen -= 5; inlen > 0 && config_isspace(*in);
		    in++, inlen--)
			;
		if (inlen == 0)
			config_errorx(c, "[route] needs a path, as in "
			    "[route /vnc] or [route /vnc/*]");
		else
			config_route_open(c, in, inlen);
	} else
		config_errorx(c, "unknown section [%.*s] (use [gateway], "
		    "[tls] or [route PATH])", (int)inlen, in);
}

/* ---- inih glue ---- */

/*
 * Does line[0..n) hold '=' or ':' before an inline comment? Mirrors
 * inih's find_chars_or_comment(): ';' opens a comment after a blank.
 */
static int
config_has_separator(const char *line, size_t n)
{
	size_t	i;
	int	was_space = 0;

	for (i = 0; i < n; i++) {
		if (line[i] == '=' || line[i] == ':')
			return 1;
		if (was_space && line[i] == ';')
			return 0;
		was_space = config_isspace(line[i]);
	}
	return 0;
}

/*
 * inih's fgets(): hand over the next line, at most num - 1 bytes. Counts
 * lines; strips blanks and a leading UTF-8 BOM; handles headers and
 * malformed lines itself (see the top of the file). End of input, or an
 * allocation failure, returns NULL.
 */
static char *
config_ini_reader(char *str, int num, void *stream)
{
	struct config_ctx	*c = stream;
	const char		*line, *nl;
	size_t			 n;

	if (c->oom || c->off >= c->len || num < 4)
		return NULL;
	line = c->text + c->off;
	nl = memchr(line, '\n', c->len - c->off);
	n = nl ? (size_t)(nl - line) : c->len - c->off;
	c->off += nl ? n + 1 : n;
	c->lineno++;
	str[0] = '\0';
	if (c->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		n -= 3;
	}
	while (n > 0 && config_isspace(*line)) {
		line++;
		n--;
	}
	while (n > 0 && config_isspace(line[n - 1]))
		n--;
	if (memchr(line, '\0', n) != NULL)
		config_errorx(c, "NUL byte in line");
	else if (n > (size_t)num - 1)
		config_errorx(c, "line too long (%zu bytes, at most %d)", n,
		    num - 1);
	else if (n == 0 || line[0] == ';' || line[0] == '#')
		;
	else if (line[0] == '[') {
		config_section(c, line, n);
		memcpy(str, "[s]", 4);
	} else if (!config_has_separator(line, n))
		config_errorx(c, "expected 'key = value', got '%.*s'",
		    (int)n, line);
	else {
		memcpy(str, line, n);
		str[n] = '\0';
	}
	return str;
}

static const struct config_key *
config_key_find(const struct config_key *keys, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* A key that exists, in the wrong section: say where it belongs. */
static void
config_misplaced(struct config_ctx *c, const char *name)
{
	const char	*where = NULL;

	if (config_key_find(config_gateway_keys, CONFIG_GKEY_COUNT, name))
		where = "[gateway]";
	else if (config_key_find(config_tls_keys, CONFIG_TKEY_COUNT, name))
		where = "[tls]";
	else if (config_key_find(config_route_keys, CONFIG_RKEY_COUNT, name))
		where = "[gateway] or [route PATH]";
	if (where != NULL)
		config_errorx(c, "%s: not allowed in [%s] (only in %s)", name,
		    c->sect_name, where);
	else
		config_errorx(c, "unknown key '%s' in [%s]", name,
		    c->sect_name);
}

/*
 * inih's handler: one "name = value" of the current line. The section
 * argument is ignored: ours (c->sect) is exact. Returns 1, or 0 after
 * reporting an error.
 */
static int
config_ini_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct config_ctx	*c = user;
	const struct config_key	*keys = NULL, *k = NULL;
	void			*obj = NULL;
	int			*set = NULL;
	size_t			 nkeys = 0;

	(void)section;
	if (c->oom || c->sect == CONFIG_SECT_BAD)
		return c->oom ? 0 : 1;
	if (*name == '\0') {
		config_errorx(c, "missing key before '='");
		return 0;
	}
	if (strpbrk(name, " \t\v\f\r") != NULL) {
		config_errorx(c, "bad key '%s' (missing '='?)", name);
		return 0;
	}
	switch (c->sect) {
	case CONFIG_SECT_GATEWAY:
		keys = config_gateway_keys;
		nkeys = CONFIG_GKEY_COUNT;
		obj = c->cfg;
		set = c->gset;
		if ((k = config_key_find(keys, nkeys, name)) == NULL) {
			keys = config_route_keys;
			nkeys = CONFIG_RKEY_COUNT;
			obj = &c->gw;
			set = c->gw_rset.line;
		}
		break;
	case CONFIG_SECT_TLS:
		keys = config_tls_keys;
		nkeys = CONFIG_TKEY_COUNT;
		obj = c->cfg;
		set = c->tset;
		break;
	case CONFIG_SECT_ROUTE:
		keys = config_route_keys;
		nkeys = CONFIG_RKEY_COUNT;
		obj = &c->cfg->routes[c->route];
		set = c->rset[c->route].line;
		break;
	default:
		config_errorx(c, "%s: key outside any section (start with "
		    "[gateway])", name);
		return 0;
	}
	if (k == NULL && (k = config_key_find(keys, nkeys, name)) == NULL) {
		config_misplaced(c, name);
		return 0;
	}
	if (set[k - keys] != 0 && !k->list) {
		config_errorx(c, "%s: already set at line %d", name,
		    set[k - keys]);
		return 0;
	}
	if (*value == '\0') {
		config_errorx(c, "%s: empty value", name);
		return 0;
	}
	if (k->set(c, k, obj, value) == -1)
		return 0;
	if (set[k - keys] == 0)
		set[k - keys] = c->lineno;
	return 1;
}

/* ---- whole-file checks ---- */

/* A route's token source keys, once inherited: one source at most. */
static void
config_route_token_checks(struct config_ctx *c, const struct config_route *r)
{
	int	n;

	n = (r->token_file != NULL) + (r->token_redis != 0) +
	    (r->token_dir != NULL) + (r->token_socket_dir != NULL) +
	    (r->token_jwt_key_file != NULL) + (r->token_api != NULL);
	if (n > 1)
		config_error(c, r->line, "[route %s%s]: more than one token "
		    "source (token_file, token_redis, token_dir, "
		    "token_socket_dir, token_jwt_key_file, token_api): pick one",
		    r->path, r->prefix ? "/*" : "");
	if (r->token_redis != 0 && c->cfg->redis == NULL)
		config_error(c, r->line, "[route %s%s]: token_redis = on needs "
		    "redis in [gateway]", r->path, r->prefix ? "/*" : "");
}

/*
 * Process backends: an exec: backend is its route's only backend (there is
 * no failover between programs), speaks no PROXY header and no TLS; the
 * exec-only keys set in the route need one; a route user other than
 * [gateway] user cannot be had once root is dropped.
 */
static void
config_route_exec_checks(struct config_ctx *c, const struct config_route *r,
    const int *set)
{
	static const enum config_rkey only[] = { CONFIG_RKEY_EXEC_USER,
	    CONFIG_RKEY_EXEC_CWD, CONFIG_RKEY_EXEC_ENV };
	const char	*rp = r->prefix ? "/*" : "";
	size_t		 j, nexec = 0;

	for (j = 0; j < r->nbackends; j++)
		if (r->backends[j].kind == CONFIG_ADDR_EXEC)
			nexec++;
	if (nexec > 0 && r->nbackends > 1)
		config_error(c, r->backends[0].line, "[route %s%s]: an exec: "
		    "backend must be the route's only backend", r->path, rp);
	if (nexec > 0 && r->backend_proxy_protocol != 0)
		config_error(c, r->line, "[route %s%s]: backend_proxy_protocol "
		    "does not apply to exec: backends", r->path, rp);
	for (j = 0; nexec == 0 && j < sizeof(only) / sizeof(only[0]); j++)
		if (set[only[j]] != 0)
			config_error(c, set[only[j]], "%s: only for exec: "
			    "backends ([route %s%s])",
			    config_route_keys[only[j]].name, r->path, rp);
	if (nexec > 0 && r->exec_user != NULL && c->cfg->user != NULL &&
	    strcmp(r->exec_user, c->cfg->user) != 0)
		config_error(c, set[CONFIG_RKEY_EXEC_USER] != 0 ?
		    set[CONFIG_RKEY_EXEC_USER] : r->line, "user: '%s' cannot "
		    "be had after [gateway] user = %s drops root ([route "
		    "%s%s])", r->exec_user, c->cfg->user, r->path, rp);
}

/* Fill the keys route i did not set from [gateway]; check the result. */
static int
config_route_finish(struct config_ctx *c, size_t i)
{
	struct config_route	*r = &c->cfg->routes[i];
	const struct config_key	*k;
	int			*set = c->rset[i].line;
	size_t			 j;
	int			 line;

	for (j = 0; j < CONFIG_RKEY_COUNT; j++) {
		k = &config_route_keys[j];
		if (set[j] == 0 && c->gw_rset.line[j] != 0 &&
		    k->copy(k, r, &c->gw) == -1) {
			c->oom = 1;
			return -1;
		}
	}
	config_route_token_checks(c, r);
	if (r->nbackends == 0 && r->root == NULL &&
	    !config_route_has_token_source(r))
		config_error(c, r->line, "[route %s%s]: no backend (set "
		    "backend here or in [gateway])", r->path,
		    r->prefix ? "/*" : "");
	if (r->auth == CONFIG_AUTH_TOKEN && (r->token_secret_file == NULL) ==
	    (r->token_public_key_file == NULL))
		config_error(c, r->line, "[route %s%s]: auth = token needs "
		    "exactly one of token_secret_file, token_public_key_file",
		    r->path, r->prefix ? "/*" : "");
	if (r->auth == CONFIG_AUTH_BASIC && (r->htpasswd_file == NULL) ==
	    (r->basic_auth == NULL))
		config_error(c, r->line, "[route %s%s]: auth = basic needs "
		    "exactly one of htpasswd_file, basic_auth", r->path,
		    r->prefix ? "/*" : "");
	if (r->auth != CONFIG_AUTH_BASIC && r->basic_auth != NULL)
		config_error(c, r->line, "[route %s%s]: basic_auth needs "
		    "auth = basic", r->path, r->prefix ? "/*" : "");
	/* index in [gateway] is a default for the routes that have a root. */
	if (set[CONFIG_RKEY_INDEX] != 0 && r->root == NULL)
		config_error(c, set[CONFIG_RKEY_INDEX], "index: needs a root "
		    "([route %s%s])", r->path, r->prefix ? "/*" : "");
	if (r->heartbeat_interval_ms > 0 && r->heartbeat_timeout_ms == 0) {
		line = set[CONFIG_RKEY_HB_TIMEOUT];
		if (line == 0)
			line = c->gw_rset.line[CONFIG_RKEY_HB_TIMEOUT];
		if (line == 0)
			line = r->line;
		config_error(c, line, "heartbeat_timeout: must be > 0 when "
		    "heartbeat_interval is set ([route %s%s])", r->path,
		    r->prefix ? "/*" : "");
	}
	config_route_exec_checks(c, r, set);
	return 0;
}

static void
config_finish(struct config_ctx *c)
{
	struct config	*cfg = c->cfg;
	size_t		 i;

	if (cfg->nlistens == 0)
		config_error(c, 0, "no listen address (add listen = PORT to "
		    "[gateway])");
	if (cfg->nroutes == 0)
		config_error(c, 0, "no route (add a [route PATH] section with "
		    "a backend)");
	for (i = 0; i < cfg->nlistens; i++)
		if (cfg->listens[i].tls && (cfg->tls_certificate == NULL ||
		    cfg->tls_private_key == NULL))
			config_error(c, cfg->listens[i].line, "listen: '%s' "
			    "is tls but [tls] lacks certificate or "
			    "private_key", cfg->listens[i].spec);
	if (cfg->wrap_command != NULL && cfg->wrap_private_port == 0)
		config_error(c, 0, "wrap_command needs wrap_private_port (the "
		    "127.0.0.1 port the program's wrap_port is moved to)");
	if (cfg->wrap_command != NULL && cfg->wrap_port == 0) {
		for (i = 0; i < cfg->nlistens &&
		    cfg->listens[i].kind != CONFIG_ADDR_TCP; i++)
			;
		if (i == cfg->nlistens)
			config_error(c, 0, "wrap_command needs wrap_port (no "
			    "TCP listen address to take it from)");
		else
			cfg->wrap_port = cfg->listens[i].port;
	}
	if (cfg->tls_verify_client != 0 && cfg->tls_client_ca == NULL)
		config_error(c, 0, "[tls] verify_client needs client_ca (a CA "
		    "file, or system for OpenSSL's default store)");
	for (i = 0; i < cfg->nroutes; i++)
		if (cfg->tls_verify_client == 0 &&
		    (cfg->routes[i].nallow_client_cn > 0 ||
		    cfg->routes[i].nallow_client_san > 0))
			config_error(c, cfg->routes[i].line, "[route %s%s]: "
			    "allow_client_cn/allow_client_san need [tls] "
			    "verify_client = optional or require",
			    cfg->routes[i].path,
			    cfg->routes[i].prefix ? "/*" : "");
	for (i = 0; i < cfg->nroutes && !c->oom; i++)
		if (config_route_finish(c, i) == -1)
			return;
}

/* Parse text[0..len); the common body of config_load and _parse_string. */
static int
config_parse(const char *text, size_t len, const char *name,
    struct config **out, char *err, size_t errlen)
{
	struct config_ctx	c;
	int			r;

	*out = NULL;
	memset(&c, 0, sizeof(c));
	c.name = name;
	c.text = text;
	c.len = len;
	c.err = err;
	c.errlen = errlen;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	config_route_defaults(&c.gw);
	if ((c.cfg = config_new()) == NULL ||
	    (c.cfg->file = strdup(name)) == NULL) {
		c.oom = 1;
		goto done;
	}
	r = ini_parse_stream(config_ini_reader, &c, config_ini_handler, &c);
	if (r == -2)
		c.oom = 1;
	else if (r > 0 && c.nerrors == 0)	/* we should have seen it */
		config_error(&c, r, "syntax error");
	if (!c.oom)
		config_finish(&c);
 done:
	config_route_clear(&c.gw);
	free(c.rset);
	if (c.oom) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: out of memory", name);
		config_free(c.cfg);
		return -1;
	}
	if (c.nerrors > 0) {
		config_free(c.cfg);
		return -1;
	}
	*out = c.cfg;
	return 0;
}

int
config_parse_string(const char *text, const char *name, struct config **out,
    char *err, size_t errlen)
{
	return config_parse(text, strlen(text), name ? name : "<string>", out,
	    err, errlen);
}

/* Read all of path into *buf (*len bytes). Returns 0 or -1 with errno. */
static int
config_read_file(const char *path, char **buf, size_t *len)
{
	FILE	*f;
	char	*b = NULL, *nb;
	size_t	 n = 0, cap = 0, r;
	int	 saved;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	for (;;) {
		if (n == cap) {
			if (cap >= CONFIG_MAX_FILE) {
				errno = EFBIG;
				goto fail;
			}
			cap = cap ? cap * 2 : 4096;
			if ((nb = realloc(b, cap)) == NULL)
				goto fail;
			b = nb;
		}
		r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0) {
			if (ferror(f))
				goto fail;
			break;
		}
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
 fail:
	saved = errno;
	free(b);
	fclose(f);
	errno = saved;
	return -1;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char	*text;
	size_t	 len;
	int	 r;

	*out = NULL;
	if (config_read_file(path, &text, &len) == -1) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, "%s: %s", path,
			    errno == EFBIG ? "file too large (max 16M)" :
			    strerror(errno));
		return -1;
	}
	r = config_parse(text, len, path, out, err, errlen);
	free(text);
	return r;
}

/* ---- command line ---- */

int
config_from_args(const char *listen, const char *target,
    struct config **out, char *err, size_t errlen)
{
	struct config		*cfg;
	struct config_route	*r;
	struct config_addr	 a;
	char			 why[CONFIG_MSG_MAX], *spec;
	int			 rc, tcp;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if ((cfg = config_new()) == NULL)
		goto oom;
	rc = config_addr_parse(listen, 1, &a, why, sizeof(why));
	if (rc == 0 && (a.kind != CONFIG_ADDR_TCP || a.tls)) {
		config_addr_clear(&a);
		snprintf(why, sizeof(why), "bad address '%s' (use [HOST:]PORT)",
		    listen);
		rc = -1;
	}
	if (rc == -2)
		goto oom;
	if (rc == -1) {
		snprintf(err, errlen, "listen: %s", why);
		goto fail;
	}
	if ((cfg->listens = malloc(sizeof(a))) == NULL) {
		config_addr_clear(&a);
		goto oom;
	}
	cfg->listens[cfg->nlistens++] = a;

	if ((cfg->routes = calloc(1, sizeof(*r))) == NULL)
		goto oom;
	r = &cfg->routes[cfg->nroutes++];
	config_route_defaults(r);
	r->prefix = true;
	if ((r->path = strdup("")) == NULL)
		goto oom;
	/* A bare HOST:PORT target is TCP, as websockify has it. */
	tcp = strncmp(target, "tcp:", 4) != 0 &&
	    strncmp(target, "unix:", 5) != 0;
	if ((spec = malloc(strlen(target) + 5)) == NULL)
		goto oom;
	snprintf(spec, strlen(target) + 5, "%s%s", tcp ? "tcp:" : "", target);
	rc = config_addr_parse(spec, 0, &a, why, sizeof(why));
	free(spec);
	if (rc == -2)
		goto oom;
	if (rc == -1) {
		snprintf(err, errlen, "target: %s", why);
		goto fail;
	}
	if ((r->backends = malloc(sizeof(a))) == NULL) {
		config_addr_clear(&a);
		goto oom;
	}
	r->backends[r->nbackends++] = a;
	*out = cfg;
	return 0;
 oom:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "out of memory");
 fail:
	config_free(cfg);
	return -1;
}
