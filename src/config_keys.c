/*
 * config_keys: the keyword tables of gateway.conf and their setters.
 *
 * Each section has a table: name, setter, (route keys) the copier that
 * inherits a [gateway] value, the field, and for numbers its range; a
 * word list (origins, subprotocols, ...) names its field and count
 * (CONFIG_RWORDS), the check of one word and the hint told after a bad
 * one, and shares one setter and one copier with the other lists.
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
    config_set_backend, config_set_words, config_set_choice,
    config_set_root, config_set_index, config_set_rate,
    config_set_tls_version, config_set_verify_client, config_set_trusted,
    config_set_redis, config_set_instance, config_set_token_api,
    config_set_basic_auth, config_set_password, config_set_exec_env,
    config_set_abspath, config_set_syslog;
static config_copy_fn config_copy_u64, config_copy_backends,
    config_copy_words, config_copy_string;
static int config_target_rule_ok(const char *, size_t);

const struct config_key config_gateway_keys[CONFIG_GKEY_COUNT] = {
	{ .name = "listen", .set = config_set_listen, .list = 1 },
	{ .name = "workers", .set = config_set_workers,
	    .off = CONFIG_G(workers), .min = 1, .max = 256,
	    .range = "auto or 1..256" },
	{ .name = "max_connections", .set = config_set_count,
	    .off = CONFIG_G(max_connections), .min = 1, .max = 10000000,
	    .range = "1..10000000" },
	{ .name = "handshake_timeout", .set = config_set_duration,
	    .off = CONFIG_G(handshake_timeout_ms), .min = 1, .max = UINT64_MAX,
	    .range = "must be > 0" },
	{ .name = "drain_timeout", .set = config_set_duration,
	    .off = CONFIG_G(drain_timeout_ms), .max = UINT64_MAX },
	{ .name = "max_header_size", .set = config_set_size,
	    .off = CONFIG_G(max_header_size), .min = 1024, .max = 64 * 1024,
	    .range = "1K..64K" },
	{ .name = "max_buffer", .set = config_set_size,
	    .off = CONFIG_G(max_buffer), .min = 4 * 1024,
	    .max = 64 * 1024 * 1024, .range = "4K..64M" },
	{ .name = "admin_listen", .set = config_set_admin },
	{ .name = "admin_max_connections", .set = config_set_count,
	    .off = CONFIG_G(admin_max_connections), .min = 1, .max = 100000,
	    .range = "1..100000" },
	{ .name = "log_level", .set = config_set_log_level },
	{ .name = "log_format", .set = config_set_log_format },
	{ .name = "user", .set = config_set_string, .off = CONFIG_G(user) },
	{ .name = "max_connections_per_ip", .set = config_set_count,
	    .off = CONFIG_G(max_connections_per_ip), .max = 10000000,
	    .range = "0..10000000" },
	{ .name = "handshake_rate_per_ip", .set = config_set_rate,
	    .off = CONFIG_G(handshake_rate_per_ip), .max = 1000000 },
	{ .name = "trusted_proxies", .set = config_set_trusted, .list = 1 },
	{ .name = "redis", .set = config_set_redis },
	{ .name = "redis_db", .set = config_set_count,
	    .off = CONFIG_G(redis_db), .max = 100000, .range = "0..100000" },
	{ .name = "redis_password_file", .set = config_set_string,
	    .off = CONFIG_G(redis_password_file) },
	{ .name = "redis_timeout", .set = config_set_duration,
	    .off = CONFIG_G(redis_timeout_ms), .min = 10, .max = 600000,
	    .range = "10ms..10m" },
	{ .name = "instance", .set = config_set_instance,
	    .off = CONFIG_G(instance) },
	{ .name = "admin_token_file", .set = config_set_string,
	    .off = CONFIG_G(admin_token_file) },
	{ .name = "token_id_key_file", .set = config_set_string,
	    .off = CONFIG_G(token_id_key_file) },
	{ .name = "drain_delay", .set = config_set_duration,
	    .off = CONFIG_G(drain_delay_ms), .max = 3600 * 1000,
	    .range = "0..1h" },
	{ .name = "exit_after", .set = config_set_duration,
	    .off = CONFIG_G(exit_after_ms), .max = UINT64_MAX },
	{ .name = "exit_when_idle", .set = config_set_duration,
	    .off = CONFIG_G(exit_when_idle_ms), .max = UINT64_MAX },
	{ .name = "exit_after_sessions", .set = config_set_count,
	    .off = CONFIG_G(exit_after_sessions), .max = 1000000000,
	    .range = "0..1000000000" },
	{ .name = "log_file", .set = config_set_abspath,
	    .off = CONFIG_G(log_file) },
	{ .name = "syslog", .set = config_set_syslog,
	    .off = CONFIG_G(syslog_server) },
	{ .name = "syslog_format", .set = config_set_choice,
	    .off = CONFIG_G(syslog_format), .max = 1,
	    .range = "rfc5424, rfc3164" },
	{ .name = "wrap_command", .set = config_set_string,
	    .off = CONFIG_G(wrap_command) },
	{ .name = "wrap_mode", .set = config_set_choice,
	    .off = CONFIG_G(wrap_mode), .max = 2,
	    .range = "exit, ignore, respawn" },
	{ .name = "wrap_port", .set = config_set_count,
	    .off = CONFIG_G(wrap_port), .min = 1, .max = 65535,
	    .range = "1..65535" },
	{ .name = "wrap_private_port", .set = config_set_count,
	    .off = CONFIG_G(wrap_private_port), .min = 1, .max = 65535,
	    .range = "1..65535" },
	{ .name = "limits_scope", .set = config_set_choice,
	    .off = CONFIG_G(limits_scope), .max = 1, .range = "local, fleet" },
};

const struct config_key config_tls_keys[CONFIG_TKEY_COUNT] = {
	{ .name = "certificate", .set = config_set_string,
	    .off = CONFIG_G(tls_certificate) },
	{ .name = "private_key", .set = config_set_string,
	    .off = CONFIG_G(tls_private_key) },
	{ .name = "min_version", .set = config_set_tls_version },
	{ .name = "ciphers", .set = config_set_string,
	    .off = CONFIG_G(tls_ciphers) },
	{ .name = "ciphersuites", .set = config_set_string,
	    .off = CONFIG_G(tls_ciphersuites) },
	{ .name = "client_ca", .set = config_set_string,
	    .off = CONFIG_G(tls_client_ca) },
	{ .name = "verify_client", .set = config_set_verify_client },
	{ .name = "private_key_password", .set = config_set_password,
	    .off = CONFIG_G(tls_key_password) },
	{ .name = "session_tickets", .set = config_set_count,
	    .off = CONFIG_G(tls_session_tickets), .min = 0, .max = 16,
	    .range = "0..16" },
};

const struct config_key config_route_keys[CONFIG_RKEY_COUNT] = {
	[CONFIG_RKEY_BACKEND] = { .name = "backend", .set = config_set_backend,
	    .copy = config_copy_backends, .list = 1 },
	[CONFIG_RKEY_ORIGINS] = { .name = "origins", .set = config_set_words,
	    .copy = config_copy_words, CONFIG_RWORDS(origins),
	    .word_ok = config_origin_ok, .word = "origin",
	    .range = "use scheme://host[:port], null or *", .list = 1 },
	[CONFIG_RKEY_SUBPROTOCOLS] = { .name = "subprotocols",
	    .set = config_set_words, .copy = config_copy_words,
	    CONFIG_RWORDS(subprotocols), .word_ok = config_token_ok,
	    .word = "token", .range = "RFC 7230 token characters only",
	    .list = 1 },
	[CONFIG_RKEY_HB_INTERVAL] = { .name = "heartbeat_interval",
	    .set = config_set_duration, .copy = config_copy_u64,
	    .off = CONFIG_R(heartbeat_interval_ms), .max = UINT64_MAX },
	[CONFIG_RKEY_HB_TIMEOUT] = { .name = "heartbeat_timeout",
	    .set = config_set_duration, .copy = config_copy_u64,
	    .off = CONFIG_R(heartbeat_timeout_ms), .max = UINT64_MAX },
	[CONFIG_RKEY_IDLE_TIMEOUT] = { .name = "idle_timeout",
	    .set = config_set_duration, .copy = config_copy_u64,
	    .off = CONFIG_R(idle_timeout_ms), .max = UINT64_MAX },
	[CONFIG_RKEY_CONNECT_TIMEOUT] = { .name = "connect_timeout",
	    .set = config_set_duration, .copy = config_copy_u64,
	    .off = CONFIG_R(connect_timeout_ms), .min = 1, .max = UINT64_MAX,
	    .range = "must be > 0" },
	[CONFIG_RKEY_MAX_MESSAGE] = { .name = "max_message_size",
	    .set = config_set_size, .copy = config_copy_u64,
	    .off = CONFIG_R(max_message_size), .max = UINT64_MAX },
	[CONFIG_RKEY_BACKEND_PROXY] = { .name = "backend_proxy_protocol",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(backend_proxy_protocol), .max = 2,
	    .range = "off, v1, v2" },
	[CONFIG_RKEY_ROOT] = { .name = "root", .set = config_set_root,
	    .copy = config_copy_string, .off = CONFIG_R(root) },
	[CONFIG_RKEY_INDEX] = { .name = "index", .set = config_set_index,
	    .copy = config_copy_string, .off = CONFIG_R(index_file) },
	[CONFIG_RKEY_AUTH] = { .name = "auth", .set = config_set_choice,
	    .copy = config_copy_u64, .off = CONFIG_R(auth), .max = 2,
	    .range = "off, token, basic" },
	[CONFIG_RKEY_TOKEN_SECRET] = { .name = "token_secret_file",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(token_secret_file) },
	[CONFIG_RKEY_TOKEN_PUBKEY] = { .name = "token_public_key_file",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(token_public_key_file) },
	[CONFIG_RKEY_TOKEN_AUDIENCE] = { .name = "token_audience",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(token_audience) },
	[CONFIG_RKEY_TOKEN_REQUIRE_PATH] = { .name = "token_require_path",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(token_require_path), .max = 1, .range = "off, on" },
	[CONFIG_RKEY_HTPASSWD] = { .name = "htpasswd_file",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(htpasswd_file) },
	[CONFIG_RKEY_TOKEN_FILE] = { .name = "token_file",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(token_file) },
	[CONFIG_RKEY_ALLOW_CN] = { .name = "allow_client_cn",
	    .set = config_set_words, .copy = config_copy_words,
	    CONFIG_RWORDS(allow_client_cn), .word_ok = config_name_ok,
	    .word = "name", .range = "names separated by spaces or commas",
	    .list = 1 },
	[CONFIG_RKEY_ALLOW_SAN] = { .name = "allow_client_san",
	    .set = config_set_words, .copy = config_copy_words,
	    CONFIG_RWORDS(allow_client_san), .word_ok = config_name_ok,
	    .word = "name", .range = "names separated by spaces or commas",
	    .list = 1 },
	[CONFIG_RKEY_BACKEND_CA] = { .name = "backend_ca",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(backend_ca) },
	[CONFIG_RKEY_BACKEND_NAME] = { .name = "backend_server_name",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(backend_server_name) },
	[CONFIG_RKEY_BACKEND_CERT] = { .name = "backend_certificate",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(backend_certificate) },
	[CONFIG_RKEY_BACKEND_KEY] = { .name = "backend_private_key",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(backend_private_key) },
	[CONFIG_RKEY_TOKEN_REDIS] = { .name = "token_redis",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(token_redis), .max = 1, .range = "off, on" },
	[CONFIG_RKEY_TOKEN_REDIS_PREFIX] = { .name = "token_redis_prefix",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(token_redis_prefix) },
	[CONFIG_RKEY_TOKEN_DIR] = { .name = "token_dir", .set = config_set_root,
	    .copy = config_copy_string, .off = CONFIG_R(token_dir) },
	[CONFIG_RKEY_TOKEN_SOCKET_DIR] = { .name = "token_socket_dir",
	    .set = config_set_root, .copy = config_copy_string,
	    .off = CONFIG_R(token_socket_dir) },
	[CONFIG_RKEY_TOKEN_JWT_KEY] = { .name = "token_jwt_key_file",
	    .set = config_set_string, .copy = config_copy_string,
	    .off = CONFIG_R(token_jwt_key_file) },
	[CONFIG_RKEY_TOKEN_API] = { .name = "token_api",
	    .set = config_set_token_api, .copy = config_copy_string,
	    .off = CONFIG_R(token_api) },
	[CONFIG_RKEY_TOKEN_API_TIMEOUT] = { .name = "token_api_timeout",
	    .set = config_set_duration, .copy = config_copy_u64,
	    .off = CONFIG_R(token_api_timeout_ms), .min = 10, .max = 600000,
	    .range = "10ms..10m" },
	[CONFIG_RKEY_TOKEN_FROM] = { .name = "token_from",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(token_from), .max = 1, .range = "query, host" },
	[CONFIG_RKEY_ALLOW_TARGETS] = { .name = "allow_targets",
	    .set = config_set_words, .copy = config_copy_words,
	    CONFIG_RWORDS(allow_targets), .word_ok = config_target_rule_ok,
	    .word = "rule", .range = "use HOST:PORTS, NET/BITS:PORTS, "
	    "[V6]:PORTS, *:PORTS, unix:/path or unix:/dir/*; PORTS is N, N-M "
	    "or *", .list = 1 },
	[CONFIG_RKEY_BASIC_AUTH] = { .name = "basic_auth",
	    .set = config_set_basic_auth, .copy = config_copy_string,
	    .off = CONFIG_R(basic_auth) },
	[CONFIG_RKEY_ORIGIN_REQUIRED] = { .name = "origin_required",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(origin_required), .max = 1, .range = "off, on" },
	[CONFIG_RKEY_BACKEND_VERIFY] = { .name = "backend_verify",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(backend_verify), .max = 1, .range = "off, on" },
	[CONFIG_RKEY_COMPRESSION] = { .name = "compression",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(compression), .max = 1, .range = "off, on" },
	[CONFIG_RKEY_FRAMING] = { .name = "framing", .set = config_set_choice,
	    .copy = config_copy_u64, .off = CONFIG_R(framing), .max = 2,
	    .range = "stream, line, text" },
	[CONFIG_RKEY_LINE_MAX] = { .name = "line_max", .set = config_set_size,
	    .copy = config_copy_u64, .off = CONFIG_R(line_max), .min = 16,
	    .max = 64 * 1024 * 1024, .range = "16..64M" },
	[CONFIG_RKEY_LINE_OVERFLOW] = { .name = "line_overflow",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(line_overflow), .max = 1, .range = "split, close" },
	[CONFIG_RKEY_LINE_INVALID] = { .name = "line_invalid",
	    .set = config_set_choice, .copy = config_copy_u64,
	    .off = CONFIG_R(line_invalid), .max = 1, .range = "binary, close" },
	[CONFIG_RKEY_MAX_PROCESSES] = { .name = "max_processes",
	    .set = config_set_count, .copy = config_copy_u64,
	    .off = CONFIG_R(max_processes), .max = 1000000,
	    .range = "0..1000000" },
	[CONFIG_RKEY_EXEC_KILL_TIMEOUT] = { .name = "exec_kill_timeout",
	    .set = config_set_duration, .copy = config_copy_u64,
	    .off = CONFIG_R(exec_kill_timeout_ms), .max = 3600 * 1000,
	    .range = "0..1h" },
	[CONFIG_RKEY_EXEC_ENV] = { .name = "exec_env",
	    .set = config_set_exec_env, .copy = config_copy_words,
	    CONFIG_RWORDS(exec_env), .word_ok = config_envname_ok,
	    .word = "variable name",
	    .range = "letters, digits and '_', or NAME=VALUE", .list = 1 },
	[CONFIG_RKEY_EXEC_USER] = { .name = "user", .set = config_set_string,
	    .copy = config_copy_string, .off = CONFIG_R(exec_user) },
	[CONFIG_RKEY_EXEC_CWD] = { .name = "cwd", .set = config_set_root,
	    .copy = config_copy_string, .off = CONFIG_R(exec_cwd) },
	[CONFIG_RKEY_RECORD] = { .name = "record", .set = config_set_abspath,
	    .copy = config_copy_string, .off = CONFIG_R(record) },
	[CONFIG_RKEY_RECORD_MAX] = { .name = "record_max_size",
	    .set = config_set_size, .copy = config_copy_u64,
	    .off = CONFIG_R(record_max_size), .max = UINT64_MAX },
	[CONFIG_RKEY_WEB_AUTH] = { .name = "web_auth", .set = config_set_choice,
	    .copy = config_copy_u64, .off = CONFIG_R(web_auth), .max = 1,
	    .range = "off, on" },
	[CONFIG_RKEY_TRAFFIC] = { .name = "traffic", .set = config_set_choice,
	    .copy = config_copy_u64, .off = CONFIG_R(traffic), .max = 1,
	    .range = "off, on" },
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

/* Shared tail of counts, durations and sizes: range check, then store. */
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
	return config_store_u64(c, k, obj, value, n);
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
 * Store one word s[0..n) of a list for key k into obj: 0; 1 after
 * reporting a bad word (the list goes on, so every bad one is told);
 * -1 when out of memory (c->oom set: stop).
 */
typedef int config_word_fn(struct config_ctx *, const struct config_key *,
    void *, const char *, size_t);

/*
 * Hand each word of a list value (blanks and commas separate words) to
 * take. Returns 0, or -1 after reporting: a bad word, an empty list, or
 * out of memory.
 */
static int
config_each_word(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value, config_word_fn *take)
{
	const char	*p = value;
	size_t		 n;
	int		 any = 0, bad = 0, r;

	while (config_list_word(&p, &n)) {
		if ((r = take(c, k, obj, p, n)) == -1)
			return -1;
		bad |= r;
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
 * A word of a word list: checked with k->word_ok (a bad one is told as
 * "bad <k->word> '...' (<k->range>)"), appended to the char ** at k->off,
 * counted by the size_t at k->noff.
 */
static int
config_take_word(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *s, size_t n)
{
	if (!k->word_ok(s, n)) {
		config_errorx(c, "%s: bad %s '%.*s' (%s)", k->name, k->word,
		    (int)n, s, k->range);
		return 1;
	}
	return config_strv_add(c, (void *)((char *)obj + k->off),
	    (void *)((char *)obj + k->noff), s, n);
}

/* A word list (origins, subprotocols, ...): see config_take_word. */
static int
config_set_words(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	return config_each_word(c, k, obj, value, config_take_word);
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
		return config_set_words(c, k, obj, value);
	if (!config_envname_ok(value, (size_t)(eq - value))) {
		config_errorx(c, "%s: bad variable name '%.*s' (letters, "
		    "digits and '_')", k->name, (int)(eq - value), value);
		return -1;
	}
	return config_strv_add(c, &r->exec_env, &r->nexec_env, value,
	    strlen(value));
}

/* One network of trusted_proxies, kept parsed (matched on every XFF hop). */
static int
config_take_network(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *s, size_t n)
{
	struct config		*cfg = obj;
	struct addr_cidr	 net, *nv;

	if (addr_cidr_parse(s, n, 0, &net) == -1) {
		config_errorx(c, "%s: bad network '%.*s' (use ADDR or "
		    "ADDR/BITS, IPv4 or IPv6)", k->name, (int)n, s);
		return 1;
	}
	if ((nv = realloc(cfg->trusted_proxies,
	    (cfg->ntrusted_proxies + 1) * sizeof(*nv))) == NULL) {
		c->oom = 1;
		return -1;
	}
	nv[cfg->ntrusted_proxies++] = net;
	cfg->trusted_proxies = nv;
	return 0;
}

static int
config_set_trusted(struct config_ctx *c, const struct config_key *k,
    void *obj, const char *value)
{
	return config_each_word(c, k, obj, value, config_take_network);
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

/* The word list at k->off, counted at k->noff (config_set_words). */
static int
config_copy_words(const struct config_key *k, struct config_route *dst,
    const struct config_route *src)
{
	char	**sv;
	size_t	  sn;

	memcpy(&sv, (const char *)src + k->off, sizeof(sv));
	memcpy(&sn, (const char *)src + k->noff, sizeof(sn));
	return config_copy_strv((void *)((char *)dst + k->off),
	    (void *)((char *)dst + k->noff), sv, sn);
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
