/*
 * config: gateway.conf -> an immutable struct config.
 *
 * Pure: reads the file through inih (config_load) or a string
 * (config_parse_string), no logging, no globals. Every error is reported as
 * "FILE:LINE: message" into the caller's error buffer. After a successful
 * load the struct is never written again; workers share it read-only and a
 * reload builds a new one beside it.
 * The grammar is documented in docs/gateway.conf.5.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

enum config_addr_kind {
	CONFIG_ADDR_TCP = 0,
	CONFIG_ADDR_UNIX,
	CONFIG_ADDR_EXEC,	/* backend = exec:PROGRAM ARG... */
	CONFIG_ADDR_FD,		/* listen only: an inherited listening socket */
};

/* A listen address or a backend target (forms: config_parse_addr). */
struct config_addr {
	enum config_addr_kind kind;
	char		*host;		/* TCP: name or literal, no brackets;
					   listen: NULL = every interface */
	uint16_t	 port;		/* TCP */
	struct sockaddr_storage sa;	/* TCP, host an address literal: it
					   and port, parsed once at load */
	socklen_t	 salen;		/* 0: a name (or none) to resolve */
	char		*path;		/* UNIX; EXEC: the command as written */
	int		 fd;		/* FD: "fd:N" (inetd's stdin is fd:0) */
	char		**argv;		/* EXEC: PROGRAM, ARG..., NULL (one
					   allocation, exec_argv_parse()) */
	char		*spec;		/* as written, for logs: "tcp:h:1"
					   (listen: without the options) */
	bool		 tls;		/* listen "tls", or a tls: backend */
	bool		 proxy_protocol; /* listen only: PROXY v1/v2 first */
	bool		 tls_auto;	/* listen "tls auto": TLS or plain,
					   told by the first byte */
	unsigned	 mode;		/* listen unix "mode=0660"; 0: umask */
	int		 line;		/* where it was written */
};

enum config_auth {
	CONFIG_AUTH_OFF = 0,
	CONFIG_AUTH_TOKEN,
	CONFIG_AUTH_BASIC,
};

enum config_log_level {
	CONFIG_LOG_ERROR = 0,
	CONFIG_LOG_WARN,
	CONFIG_LOG_INFO,
	CONFIG_LOG_DEBUG,
};

enum config_log_format {
	CONFIG_LOG_TEXT = 0,
	CONFIG_LOG_JSON,
};

/* Per-route settings; also the shape of the [gateway] defaults. */
struct config_route {
	/* Exact "/vnc" is "/vnc"; prefix "/vnc/\*" is "/vnc" with prefix
	 * set; the catch-all "/\*" is "" with prefix set. So the path as
	 * written is always path, plus "/\*" when prefix. */
	char		*path;
	bool		 prefix;
	int		 line;		/* line of the [route ...] header */
	struct config_addr *backends;
	size_t		 nbackends;
	char		**origins;	/* allow-list; none = any origin */
	size_t		 norigins;
	char		**subprotocols;	/* offered by us, in preference order */
	size_t		 nsubprotocols;
	uint64_t	 heartbeat_interval_ms;	/* 0 = no pings */
	uint64_t	 heartbeat_timeout_ms;
	uint64_t	 idle_timeout_ms;	/* 0 = none */
	uint64_t	 connect_timeout_ms;
	uint64_t	 max_message_size;	/* bytes; 0 = unlimited */
	uint64_t	 backend_proxy_protocol; /* 0 off, 1 v1, 2 v2 */
	uint64_t	 auth;			/* CONFIG_AUTH_* */
	char		*token_secret_file;	/* auth = token: HS256 */
	char		*token_public_key_file;	/* auth = token: RS256/ES256 */
	char		*token_audience;	/* NULL: aud not checked */
	uint64_t	 token_require_path;	/* 1: "path" claim required */
	char		*htpasswd_file;		/* auth = basic */
	char		*token_file;		/* websockify token targets */
	char		**allow_client_cn;	/* mTLS: allowed subject CNs */
	size_t		 nallow_client_cn;
	char		**allow_client_san;	/* mTLS: allowed DNS/email SANs */
	size_t		 nallow_client_san;
	char		*backend_ca;		/* tls: backends; NULL: system */
	char		*backend_server_name;	/* SNI + name checked; NULL: host */
	char		*backend_certificate;	/* our client certificate */
	char		*backend_private_key;
	uint64_t	 backend_verify;	/* tls: backends: 1 (default)
						   verify, 0 off (logged) */
	/* Static files for plain GET/HEAD (static.c): an absolute path to
	 * a directory that existed at load time; NULL = none. A route needs
	 * a root or backends, or both. */
	char		*root;
	char		*index_file;	/* "index" key; NULL = CONFIG_DEFAULT_INDEX */
	char		*record;	/* websockify --record: PATH.ID files */
	uint64_t	 record_max_size; /* bytes a file may reach; 0 none */
	uint64_t	 traffic;	/* 1: websockify's --traffic marks */
	uint64_t	 web_auth;	/* 1: root's files need the route's
					   auth, origin and client checks */
	/* Token sources besides token_file (at most one per route) and what
	 * they may name (docs/gateway.conf.5, "Token sources"). */
	uint64_t	 token_redis;		/* 1: GET <prefix><token> */
	char		*token_redis_prefix;	/* NULL: "" */
	char		*token_dir;		/* file name = token, content = target */
	char		*token_socket_dir;	/* token names a socket in it */
	char		*token_jwt_key_file;	/* the token is a JWT naming the target */
	char		*token_api;		/* http:// URL with one %s */
	uint64_t	 token_api_timeout_ms;
	uint64_t	 token_from;		/* CONFIG_TOKEN_FROM_* */
	char		**allow_targets;	/* target_rule_check() rules */
	size_t		 nallow_targets;
	/* auth = basic: one of these */
	char		*basic_auth;		/* "user:password" */
	uint64_t	 origin_required;	/* 1: no Origin header is a 403 */
	/* Beyond byte bridges (issue 16) */
	uint64_t	 compression;		/* 1: permessage-deflate offered */
	uint64_t	 framing;		/* enum framing_mode */
	uint64_t	 line_max;		/* line framing: bytes per line */
	uint64_t	 line_overflow;		/* 0 split, 1 close (1009) */
	uint64_t	 line_invalid;		/* 0 binary, 1 close (1007) */
	uint64_t	 max_processes;		/* exec: per route; 0 = no limit */
	uint64_t	 exec_kill_timeout_ms;	/* SIGTERM .. SIGKILL */
	char		**exec_env;		/* "NAME" pass, "NAME=VALUE" set */
	size_t		 nexec_env;
	char		*exec_user;		/* "user": run processes as */
	char		*exec_cwd;		/* "cwd": absolute directory */
};

enum config_token_from {
	CONFIG_TOKEN_FROM_QUERY = 0,	/* ?token=T */
	CONFIG_TOKEN_FROM_HOST,		/* Host: T (without its port) */
};

/* Does r pick its backend by a token (token_file or another source)? */
static inline bool
config_route_has_token_source(const struct config_route *r)
{
	return r->token_file != NULL || r->token_redis != 0 ||
	    r->token_dir != NULL || r->token_socket_dir != NULL ||
	    r->token_jwt_key_file != NULL || r->token_api != NULL;
}

struct config {
	char		*file;		/* path it was read from; NULL
					   from config_from_args */
	struct config_addr *listens;
	size_t		 nlistens;
	unsigned	 workers;	/* 0 = auto (one per core) */
	uint64_t	 max_connections;
	uint64_t	 max_connections_per_ip;	/* 0 = no limit */
	uint64_t	 handshake_rate_per_ip;		/* a second; 0 = none */
	uint64_t	 limits_scope;	/* 0 local, 1 fleet (across redis) */
	struct addr_cidr *trusted_proxies;	/* X-Forwarded-For accepted
						   from these networks */
	size_t		 ntrusted_proxies;
	uint64_t	 handshake_timeout_ms;
	uint64_t	 drain_timeout_ms;
	uint64_t	 drain_delay_ms;	/* SIGTERM: not ready, then drain */
	uint64_t	 max_header_size;	/* request head limit, bytes */
	uint64_t	 max_buffer;		/* per leg output high-water mark */
	char		*admin_listen;		/* NULL = off; else admin_addr.spec
						   (not freed on its own) */
	struct config_addr admin_addr;		/* admin_listen, parsed */
	uint64_t	 admin_max_connections;	/* open at once; more: closed */
	char		*admin_token_file;	/* Bearer secret for /sessions */
	char		*token_id_key_file;	/* HMAC key of token ids; NULL:
						   a random one per process */
	enum config_log_level log_level;
	enum config_log_format log_format;
	char		*user;			/* drop root to it; NULL: stay */
	unsigned	 tls_min_version;	/* 12 or 13; 0 = 12 */
	char		*tls_ciphers;		/* TLS 1.2 list; NULL: default */
	char		*tls_ciphersuites;	/* TLS 1.3 list; NULL: default */
	char		*tls_client_ca;		/* CA file for client certs */
	unsigned	 tls_verify_client;	/* 0 off, 1 optional, 2 require */
	char		*tls_certificate;
	char		*tls_private_key;
	/* Redis (src/redis.c): NULL redis = none, and nothing changes */
	struct config_addr *redis;	/* tcp: or unix: */
	uint64_t	 redis_db;
	char		*redis_password_file;
	uint64_t	 redis_timeout_ms;
	char		*instance;	/* NULL: the host name */
	char		*tls_key_password;	/* pass:X, env:VAR, file:PATH */
	uint64_t	 tls_session_tickets;	/* TLS 1.3 tickets per full
						   handshake; 0: none */
	char		*log_file;		/* also log here; NULL: no */
	char		*syslog_server;		/* /path or HOST:PORT (UDP) */
	uint64_t	 syslog_format;		/* 0 rfc5424, 1 rfc3164 */
	char		*wrap_command;		/* a program to run and relay to */
	uint64_t	 wrap_mode;		/* 0 exit, 1 ignore, 2 respawn */
	uint64_t	 wrap_port;		/* the port it binds; 0: the
						   first TCP listen port */
	uint64_t	 wrap_private_port;	/* ... moved to 127.0.0.1:this */
	uint64_t	 exit_after_ms;		/* stop accepting then; 0 never */
	uint64_t	 exit_when_idle_ms;	/* exit this long without
						   sessions; 0 never */
	uint64_t	 exit_after_sessions;	/* stop after N upgrades; 0 no */
	struct config_route *routes;	/* in file order */
	size_t		 nroutes;
};

/* Defaults (also in docs/gateway.conf.5 and gateway.conf). */
#define CONFIG_DEFAULT_MAX_CONNECTIONS		100000
#define CONFIG_DEFAULT_ADMIN_MAX_CONNECTIONS	64
#define CONFIG_DEFAULT_HANDSHAKE_TIMEOUT_MS	10000
#define CONFIG_DEFAULT_DRAIN_TIMEOUT_MS		10000
#define CONFIG_DEFAULT_MAX_HEADER_SIZE		16384
#define CONFIG_DEFAULT_MAX_BUFFER		(256 * 1024)
#define CONFIG_DEFAULT_HEARTBEAT_INTERVAL_MS	20000
#define CONFIG_DEFAULT_HEARTBEAT_TIMEOUT_MS	10000
#define CONFIG_DEFAULT_IDLE_TIMEOUT_MS		0
#define CONFIG_DEFAULT_CONNECT_TIMEOUT_MS	5000
#define CONFIG_DEFAULT_MAX_MESSAGE_SIZE		(16 * 1024 * 1024)
#define CONFIG_DEFAULT_RECORD_MAX_SIZE	(100 * 1024 * 1024)
#define CONFIG_DEFAULT_INDEX			"index.html"
#define CONFIG_DEFAULT_LINE_MAX			(1024 * 1024)
#define CONFIG_DEFAULT_MAX_PROCESSES		1024
#define CONFIG_DEFAULT_EXEC_KILL_TIMEOUT_MS	5000
#define CONFIG_DEFAULT_REDIS_TIMEOUT_MS		1000
#define CONFIG_DEFAULT_TOKEN_API_TIMEOUT_MS	5000
#define CONFIG_DEFAULT_TLS_SESSION_TICKETS	2	/* OpenSSL's */

/*
 * Read and check the file at path. On success returns 0 and *out owns a new
 * config (free with config_free). On failure returns -1, *out is NULL and
 * err (capacity errlen, always NUL-terminated) holds one "path:line:
 * message" line per error found, newline-separated.
 */
int	config_load(const char *path, struct config **out, char *err,
	    size_t errlen);

/* As config_load, from text; name stands in for the file name in errors. */
int	config_parse_string(const char *text, const char *name,
	    struct config **out, char *err, size_t errlen);

/*
 * A config with one route "/\*" to target, listening on listen: the
 * websockify-style command line. listen is "[HOST:]PORT", target
 * "HOST:PORT" (IPv6 in brackets). Same return and ownership as config_load.
 */
int	config_from_args(const char *listen, const char *target,
	    struct config **out, char *err, size_t errlen);

/* Free cfg and everything it owns. NULL is fine. */
void	config_free(struct config *cfg);

/* "1500ms", "10s", "2m", "1h", "0", bare number = seconds. Returns 0 or -1. */
int	config_parse_duration(const char *s, uint64_t *ms);

/* "65536", "64K", "16M", "1G" (powers of 1024). Returns 0 or -1. */
int	config_parse_size(const char *s, uint64_t *bytes);

/*
 * Parse an address (config_addr.c, over addr.c). Backends (want_listen
 * false): "tcp:HOST:PORT", "tcp:[V6]:PORT" (a "%zone" allowed),
 * "tls:HOST:PORT" (TCP spoken to over TLS: a->tls), "unix:/path" or
 * "exec:/PROGRAM ARG..." (argv split as exec_argv_parse() does: no
 * shell; the program must be an executable file now). Listen: "tcp:"
 * and "unix:" forms, bare "HOST:PORT", "[V6]:PORT", "PORT" and "*:PORT"
 * (all interfaces), "fd:N" (an inherited listening socket), each with the
 * options " tls", " tls auto", " proxy_protocol" and (unix only)
 * " mode=0660". An address literal is also kept parsed in a->sa. Fills
 * *a (strings owned by a; free with config_addr_clear). Returns 0, or -1
 * with a message in err.
 */
int	config_parse_addr(const char *s, bool want_listen, struct config_addr *a,
	    char *err, size_t errlen);
void	config_addr_clear(struct config_addr *a);

#endif
