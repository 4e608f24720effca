/*
 * config_keys: the keyword tables of gateway.conf and their setters.
 *
 * Each section has a table: name, setter, (route keys) the copier that
 * inherits a [gateway] value, and for numbers the field and its range.
 * A setter checks one value and stores it, or reports "FILE:LINE: key:
 * why" and returns -1. A new key goes into its table here, is documented
 * in docs/gateway.conf.5, and (route keys) gets a CONFIG_RKEY_ entry in
 * config_int.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "config_int.h"
#include "target.h"

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

const struct config_key config_gateway_keys[CONFIG_GKEY_COUNT] = {
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
	{ "limits_scope", config_set_choice, NULL, CONFIG_G(limits_scope), 0,
	    1, "local, fleet", 0 },
};

const struct config_key config_tls_keys[CONFIG_TKEY_COUNT] = {
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

const struct config_key config_route_keys[CONFIG_RKEY_COUNT] = {
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
	[CONFIG_RKEY_TRAFFIC] = { "traffic", config_set_choice,
	    config_copy_u64, CONFIG_R(traffic), 0, 1, "off, on", 0 },
};

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
	cfg->admin_addr = a;
	cfg->admin_listen = cfg->admin_addr.spec;
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

	while (config_list_word(&p, &n)) {
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
config_set_subprotocols(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config_route	*r = obj;

	return config_set_list(c, k, value, config_token_ok,
	    "token", "RFC 7230 token characters only", &r->subprotocols,
	    &r->nsubprotocols);
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

/* trusted_proxies: networks, kept parsed (matched on every XFF hop). */
static int
config_set_trusted(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	struct config		*cfg = obj;
	struct addr_cidr	 net, *nv;
	const char		*p = value;
	size_t			 n;
	int			 any = 0, bad = 0;

	while (config_list_word(&p, &n)) {
		any = 1;
		if (addr_cidr_parse(p, n, 0, &net) == -1) {
			config_errorx(c, "%s: bad network '%.*s' (use ADDR or "
			    "ADDR/BITS, IPv4 or IPv6)", k->name, (int)n, p);
			bad = 1;
		} else if ((nv = realloc(cfg->trusted_proxies,
		    (cfg->ntrusted_proxies + 1) * sizeof(*nv))) == NULL) {
			c->oom = 1;
			return -1;
		} else {
			nv[cfg->ntrusted_proxies++] = net;
			cfg->trusted_proxies = nv;
		}
		p += n;
	}
	if (!any) {
		config_errorx(c, "%s: empty list", k->name);
		return -1;
	}
	return bad ? -1 : 0;
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

/* token_api: an http:// or https:// URL holding "%s" once (the token). */
static int
config_set_token_api(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	const char	*p = strchr(value, '%');
	size_t		 i, n;

	for (i = 0; value[i] != '\0'; i++)
		if ((unsigned char)value[i] <= 0x20 ||
		    (unsigned char)value[i] >= 0x7f)
			break;
	n = strncmp(value, "http://", 7) == 0 ? 7 :
	    strncmp(value, "https://", 8) == 0 ? 8 : 0;
	if (n == 0 || value[n] == '\0' || value[n] == '/' ||
	    value[i] != '\0' || p == NULL || p[1] != 's' ||
	    strchr(p + 1, '%') != NULL) {
		config_errorx(c, "%s: bad URL '%s' (http[s]://HOST[:PORT]/PATH "
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
