/*
 * config_int: what the files of the config loader share, and nothing
 * outside them includes: the parser state, the keyword table's shape, the
 * error reporter and the small string helpers.
 *
 *   config.c        inih glue, sections, inheritance, whole-file checks,
 *                   config_load / config_parse_string / config_from_args
 *   config_keys.c   the keyword tables and their setters and copiers
 *   config_value.c  value syntax: numbers, durations, sizes, list words
 *   config_addr.c   listen and backend addresses
 */
#ifndef CONFIG_INT_H
#define CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define CONFIG_MSG_MAX		512	/* one error line, before truncation */

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
	CONFIG_RKEY_TRAFFIC,
	CONFIG_RKEY_COUNT
};

#define CONFIG_GKEY_COUNT	34	/* entries in config_gateway_keys[] */
#define CONFIG_TKEY_COUNT	9	/* entries in config_tls_keys[] */

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

/*
 * One key of a section's table. The tables use designated initializers:
 * fields a key does not need stay 0 / NULL.
 */
struct config_key {
	const char	*name;
	config_set_fn	*set;
	config_copy_fn	*copy;		/* route keys: inherit from [gateway] */
	size_t		 off;		/* the field: uint64_t for numbers,
					 * char * for strings, char ** for
					 * word lists */
	size_t		 noff;		/* word lists: their size_t count */
	uint64_t	 min, max;	/* numeric keys: allowed range */
	const char	*range;		/* ... as told in messages; word
					 * lists: the hint after a bad word */
	int		(*word_ok)(const char *, size_t); /* word lists */
	const char	*word;		/* word lists: "bad <word> '...'" */
	int		 list;		/* may repeat; values accumulate */
};

#define CONFIG_G(f)	offsetof(struct config, f)
#define CONFIG_R(f)	offsetof(struct config_route, f)
/* A route's word list: the char **f and its count nf. */
#define CONFIG_RWORDS(f)	.off = CONFIG_R(f), .noff = CONFIG_R(n##f)

/* The keyword tables (config_keys.c). */
extern const struct config_key config_gateway_keys[CONFIG_GKEY_COUNT];
extern const struct config_key config_tls_keys[CONFIG_TKEY_COUNT];
extern const struct config_key config_route_keys[CONFIG_RKEY_COUNT];

/* ---- config.c ---- */

/*
 * Append one error line "NAME:LINE: message" (line 0: "NAME: message") to
 * c->err and count it. Never fails.
 */
void	config_error(struct config_ctx *c, int line, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* config_error at the current line. */
#define config_errorx(c, ...)	config_error((c), (c)->lineno, __VA_ARGS__)
/* A NUL-terminated copy of s[0..n), or NULL with c->oom set. */
char	*config_strndup(struct config_ctx *c, const char *s, size_t n);
/* Append a copy of s[0..n) to *v (*nv entries): 0, or -1 with c->oom. */
int	 config_strv_add(struct config_ctx *c, char ***v, size_t *nv,
	    const char *s, size_t n);
/* Free the n strings of v, then v; v may be NULL. */
void	 config_strv_free(char **v, size_t n);

/* ---- config_value.c: character classes without the locale ---- */
int	 config_isspace(int ch);
int	 config_isdigit(int ch);
int	 config_isalpha(int ch);
int	 config_istchar(int ch);
/*
 * Decimal digits at s (at least one, no sign) into *v; *end is set past
 * them. 0, or -1 on no digit or overflow (*v, *end untouched).
 */
int	 config_parse_uint(const char *s, const char **end, uint64_t *v);
/* List words: 1 when s[0..n) is one, else 0. */
int	 config_origin_ok(const char *s, size_t n);	/* RFC 6454 origin */
int	 config_envname_ok(const char *s, size_t n);	/* [A-Za-z_][A-Za-z0-9_]* */
int	 config_token_ok(const char *s, size_t n);	/* RFC 7230 token */
int	 config_name_ok(const char *s, size_t n);	/* non-empty, no '"' */
/*
 * The next word of a list at *p: blanks and commas separate words. Sets
 * *p to its start and *n to its length; false at the end of the list.
 */
bool	 config_list_word(const char **p, size_t *n);

/* ---- config_addr.c ---- */

/*
 * config_parse_addr, telling allocation failure (-2, err "out of memory")
 * from bad input (-1, reason in err). On failure a is cleared.
 */
int	 config_addr_parse(const char *s, int want_listen,
	    struct config_addr *a, char *err, size_t errlen);
/* A deep copy of src into dst: 0, or -1 (out of memory, dst cleared). */
int	 config_addr_copy(struct config_addr *dst,
	    const struct config_addr *src);
/* Parse an address for key k at the current line; -1 after reporting. */
int	 config_addr_key(struct config_ctx *c, const struct config_key *k,
	    const char *value, int want_listen, struct config_addr *a);
/* Move *a onto the end of *v; on failure clears a, sets c->oom, -1. */
int	 config_addrv_add(struct config_ctx *c, struct config_addr **v,
	    size_t *nv, struct config_addr *a);

#endif /* CONFIG_INT_H */
