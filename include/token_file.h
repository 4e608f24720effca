/*
 * token_file: websockify-compatible token -> target files for
 * "token_file = PATH": the token query parameter picks the backend, and
 * only targets listed in the file are reachable (no open proxy).
 *
 * Format (websockify's TokenFile, read a little more leniently, checked
 * more strictly):
 *   # comment
 *   vm1: 10.0.0.5:5900
 *   vm2: [2001:db8::7]:5901
 *   vm3: unix_socket:/run/vnc/vm3.sock
 *   vm4:host.example:5902
 * - One "token: target" per line; blank lines and lines whose first
 *   non-blank character is '#' are skipped; leading and trailing blanks
 *   and a CR before the LF are ignored.
 * - The token ends at the first ": " (colon and blank), as websockify
 *   splits; a line without one splits at its first ':'. So a token may
 *   hold ':' only when a blank follows the separator. Tokens are 1..256
 *   bytes, without blanks or control characters; matching is exact.
 * - Targets: "host:port" (name or IPv4), "[v6]:port", websockify's
 *   unbracketed "v6:port" (split at the last ':'), "unix_socket:/path"
 *   (websockify's UnixDomainSocketDirectory spelling) or "unix:/path"
 *   (gateway.conf's). Ports 1..65535; socket paths absolute and shorter
 *   than sun_path.
 * - A token listed twice, in one file or across a directory, is an error
 *   (websockify silently took the last one).
 * - A directory loads every regular file in it, in name order, except
 *   names starting with '.' (editor swap files, Kubernetes' "..data")
 *   and names ending in '~'.
 * Lines are at most 4096 bytes; a file at most 64 MiB.
 *
 * Pure except token_file_load and token_file_changed, which read and
 * stat the files. Errors are "FILE:LINE: message" and never contain a
 * token. Lookups hash the token (SHA-256) and search the digests, so
 * their timing says nothing about how close a guess was.
 * A map is immutable once built; share it read-only between threads.
 */
#ifndef TOKEN_FILE_H
#define TOKEN_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define TOKEN_FILE_MAX_TOKEN	256

enum token_file_kind {
	TOKEN_FILE_TCP = 0,
	TOKEN_FILE_UNIX,
};

struct token_target {
	enum token_file_kind kind;
	char		*host;		/* TCP: name or literal, no brackets */
	uint16_t	 port;		/* TCP */
	bool		 literal;	/* TCP: host is an IP literal, */
	struct addr_ip	 ip;		/* parsed once, here */
	char		*path;		/* UNIX: absolute socket path */
	const char	*source;	/* file it was read from */
	unsigned	 line;		/* and its line */
};

struct token_map;

/*
 * Parse text[0..len) (need not be NUL-terminated; a NUL byte is an
 * error) named name in messages. Returns 0 with *out set (possibly an
 * empty map), or -1 with "name:line: message" in err and *out NULL.
 */
int	token_file_parse_string(const char *text, size_t len,
	    const char *name, struct token_map **out, char *err,
	    size_t errlen);

/* Load a file, or every file of a directory (see above). 0 or -1. */
int	token_file_load(const char *path, struct token_map **out, char *err,
	    size_t errlen);

/*
 * The target for token[0..len) (the decoded query value), or NULL when
 * it is not listed. The pointer lives as long as the map.
 */
const struct token_target *token_file_lookup(const struct token_map *m,
	    const char *token, size_t len);

/*
 * Parse one target s[0..len) as a token file writes it (host:port,
 * [v6]:port, v6:port, unix_socket:/path, unix:/path; no blanks around).
 * Returns 0 with t->host or t->path allocated (the caller frees them;
 * t->source stays NULL), or -1 with a static reason in *why and nothing
 * allocated.
 */
int	token_file_parse_target(const char *s, size_t len,
	    struct token_target *t, const char **why);

/* Number of tokens. */
size_t	token_file_count(const struct token_map *m);

/*
 * Has path changed since m was loaded from it? Compares the inode,
 * size and modification time of the file, or of the directory and every
 * file it would load; stats only, reads nothing. True also when path
 * cannot be read now (reload and let the load report why), and for maps
 * from token_file_parse_string.
 */
bool	token_file_changed(const struct token_map *m, const char *path);

/* Free a map; NULL is allowed. */
void	token_file_free(struct token_map *m);

#endif
