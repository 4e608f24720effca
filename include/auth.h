/*
 * auth: who may open a route. Signed connect tokens (JWT, RFC 7519, in
 * JWS compact form, RFC 7515) verified with OpenSSL, the helpers that
 * find a token in the upgrade request, and htpasswd files for
 * "auth = basic".
 *
 * Pure: no logging, no libevent, no globals, no clock (the caller passes
 * the time). The only I/O is in the *_load functions, which read one file
 * each; everything else works on the caller's bytes and can be fuzzed.
 * Keys and htpasswd tables are immutable once built and may be shared
 * read-only between worker threads.
 *
 * Never put a token, a secret or a password in an error string: the
 * messages here name only files, lines and reasons.
 */
#ifndef AUTH_H
#define AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_MAX_TOKEN		8192	/* longer JWTs are refused unread */
#define AUTH_PROTOCOL_PREFIX	"bearer."	/* Sec-WebSocket-Protocol entry */

/* The JWS algorithms we verify (RFC 7518 §3.1). A key is for exactly one. */
enum auth_alg {
	AUTH_ALG_NONE = 0,	/* never accepted; the zero value */
	AUTH_ALG_HS256,		/* HMAC-SHA256 with a shared secret */
	AUTH_ALG_RS256,		/* RSASSA-PKCS1-v1_5 SHA-256, RSA >= 2048 */
	AUTH_ALG_ES256,		/* ECDSA P-256 SHA-256, R||S signature */
};

/* auth_jwt_verify results: 0, or one of these negative reasons. */
enum auth_err {
	AUTH_OK = 0,
	AUTH_ERR_TOO_LONG = -1,		/* over AUTH_MAX_TOKEN */
	AUTH_ERR_FORMAT = -2,		/* not 3 strict base64url parts */
	AUTH_ERR_HEADER = -3,		/* header not a strict JSON object,
					   typ not JWT, crit present */
	AUTH_ERR_ALG = -4,		/* alg missing, none, unknown, or not
					   the algorithm of the key */
	AUTH_ERR_SIGNATURE = -5,	/* signature does not verify */
	AUTH_ERR_CLAIMS = -6,		/* payload not a strict JSON object,
					   duplicate or mistyped claim */
	AUTH_ERR_EXPIRED = -7,		/* now >= exp + leeway */
	AUTH_ERR_NOT_YET_VALID = -8,	/* now < nbf - leeway */
	AUTH_ERR_NO_EXP = -9,		/* exp absent and required */
	AUTH_ERR_AUDIENCE = -10,	/* aud does not name us */
	AUTH_ERR_PATH = -11,		/* path claim absent or not ours */
	AUTH_ERR_INTERNAL = -12,	/* out of memory, OpenSSL failure */
};

/* Opaque: an HS256 secret, or an RSA / EC P-256 public key. */
struct auth_key;

/*
 * What the claims must say. Zeroed, it means: time 0, no leeway, exp
 * optional, and tokens carrying "aud" or "path" refused (no audience, no
 * request path). exp and nbf, when present, are always checked.
 */
struct auth_claims_req {
	int64_t		 now;		/* seconds since the epoch */
	int64_t		 leeway_s;	/* clock skew allowed, 0..86400 */
	bool		 require_exp;	/* a token without exp is refused */
	/*
	 * NULL: the token must not carry "aud" (RFC 7519 §4.1.3: a token
	 * naming an audience we are not is refused). Else "aud" must be
	 * this string or an array holding it (exact, case-sensitive).
	 */
	const char	*audience;
	/*
	 * The request path (no query; need not be NUL-terminated). When the
	 * token carries a "path" claim it must match this: exactly, or, if
	 * the claim ends in "/\*", as a route prefix does ("/a/\*" matches
	 * "/a", "/a/" and everything under "/a/"; "/\*" matches any path).
	 * A "path" claim with path NULL is refused (fail closed).
	 */
	const char	*path;
	size_t		 path_len;
	bool		 require_path;	/* a token without "path" is refused */
};

/*
 * Build an HS256 key from secret[0..len). The bytes are copied. RFC 7518
 * §3.2 wants at least 32 bytes (the hash size): shorter is refused, and
 * so is a secret that starts with "-----BEGIN", a PEM file given where a
 * shared secret belongs (the classic HS256-with-the-public-key attack
 * would then work). Returns 0 with *out set, or -1 with err filled.
 */
int	auth_key_new_secret(const void *secret, size_t len,
	    struct auth_key **out, char *err, size_t errlen);

/*
 * Build a verification key from a PEM public key in pem[0..len):
 * "PUBLIC KEY" (SubjectPublicKeyInfo) or "RSA PUBLIC KEY" (PKCS#1). RSA
 * (at least 2048 bits) gives an RS256 key, EC on P-256 an ES256 key;
 * anything else (RSA-PSS, other curves, Ed25519, private keys) is
 * refused. Returns 0 with *out set, or -1 with err filled.
 */
int	auth_key_new_public(const char *pem, size_t len,
	    struct auth_key **out, char *err, size_t errlen);

/*
 * Read an HS256 secret from path (as auth_key_new_secret; one trailing
 * "\n" or "\r\n" is dropped). The file must be a regular file of at most
 * 4 KiB that group and others cannot read or write (mode & 077 == 0).
 * Errors say "PATH: reason". Returns 0 or -1.
 */
int	auth_key_load_secret(const char *path, struct auth_key **out,
	    char *err, size_t errlen);

/* Read a PEM public key from path (as auth_key_new_public). 0 or -1. */
int	auth_key_load_public(const char *path, struct auth_key **out,
	    char *err, size_t errlen);

/*
 * A PEM public key (RS256, ES256) if the file starts "-----BEGIN", else an
 * HS256 secret read as auth_key_load_secret does (websockify's
 * JWTTokenApi takes either). Same returns and errors as those.
 */
int	auth_key_load_any(const char *path, struct auth_key **out,
	    char *err, size_t errlen);

/* Free a key; the secret is wiped first. NULL is allowed. */
void	auth_key_free(struct auth_key *key);

/* The one algorithm this key verifies. */
enum auth_alg auth_key_alg(const struct auth_key *key);

/* "HS256", "RS256", "ES256", or "none". */
const char *auth_alg_name(enum auth_alg alg);

/*
 * Verify the JWT token[0..len) with key and check its claims against req.
 * Returns AUTH_OK (0) or a negative enum auth_err; auth_strerror names it.
 *
 * In order: length <= AUTH_MAX_TOKEN; exactly three parts of strict
 * base64url (RFC 7515 §2: no padding, no other characters, unused bits
 * zero); the header a strict JSON object whose "alg" is the key's
 * algorithm, spelled exactly ("none", unknown names and any other
 * algorithm are refused: HS256 never verifies against a public key);
 * "typ", if present, is "JWT" (any case); "crit" is refused (we
 * understand no extension, RFC 7515 §4.1.11); then the signature; then
 * the payload, a strict JSON object whose "exp", "nbf" and "iat" are
 * numbers (a fraction counts as the next whole second; exponents are
 * refused), "aud" a string or an array of strings, "path" a string.
 * Duplicate names in either object are refused, after unescaping.
 * key and req must not be NULL; token need not be NUL-terminated. Uses
 * about 24 KiB of stack and no heap except OpenSSL's verify context.
 */
int	auth_jwt_verify(const char *token, size_t len,
	    const struct auth_key *key, const struct auth_claims_req *req);

/*
 * As auth_jwt_verify, and on AUTH_OK the decoded payload (a strict JSON
 * object, the claims) is copied into payload (capacity cap, NUL-added)
 * with its length in *plen: for tokens whose claims say more than who
 * may pass (JWTTokenApi's host and port). A payload that does not fit
 * gives AUTH_ERR_TOO_LONG.
 */
int	auth_jwt_verify_payload(const char *token, size_t len,
	    const struct auth_key *key, const struct auth_claims_req *req,
	    char *payload, size_t cap, size_t *plen);

/* A short static phrase for an auth_err ("token expired"). */
const char *auth_strerror(int err);

/*
 * Find parameter name in a URL query (after '?', without it) and
 * percent-decode its value into out (capacity cap, NUL-terminated);
 * '+' decodes to a space, as in forms and websockify's parse_qs.
 * Returns 1 with *outlen set, 0 when absent, or -1 when the value is
 * malformed (bad or %00 escape), does not fit, or the parameter is given
 * twice (which one would we check?).
 */
int	auth_query_param(const char *query, size_t len, const char *name,
	    char *out, size_t cap, size_t *outlen);

/*
 * Authorization header value "Bearer <token>" (RFC 6750 §2.1: scheme any
 * case, one or more spaces, a token68 and optional trailing spaces).
 * Returns true with *tok and *toklen pointing into value, else false.
 */
bool	auth_bearer_token(const char *value, size_t len, const char **tok,
	    size_t *toklen);

/*
 * Browsers cannot set headers on a WebSocket, so a token may travel as a
 * Sec-WebSocket-Protocol entry "bearer.<JWT>": every JWT character is an
 * HTTP token character, so the entry is a valid subprotocol name. The
 * client offers it beside the real subprotocol, for example
 *   new WebSocket(url, ["binary", "bearer." + jwt])
 * and the server must answer with the real one, never the token entry.
 * Returns true with *tok and *toklen (the part after the prefix, non-empty)
 * when entry[0..len) is such an entry, else false.
 */
bool	auth_protocol_token(const char *entry, size_t len, const char **tok,
	    size_t *toklen);

/*
 * htpasswd files for "auth = basic": lines "user:hash", '#' comments and
 * blank lines. Hashes must be ones libcrypt accepts as current
 * (crypt_checksalt: bcrypt "$2b$"/"$2y$", yescrypt "$y$", SHA-512-crypt
 * "$6$", ...), and SHA-256-crypt "$5$" (htpasswd -2), which libxcrypt
 * calls legacy; Apache's "$apr1$", "{SHA}", DES and plain text are
 * refused with the line number. Duplicate users are an error.
 */
struct auth_htpasswd;

/* Parse text (NUL-terminated); errors say "name:line: message". 0 / -1. */
int	auth_htpasswd_parse_string(const char *text, const char *name,
	    struct auth_htpasswd **out, char *err, size_t errlen);

/*
 * Read and parse path (at most 16 MiB). Hashes can be attacked offline,
 * so a file others can read or write (mode & 007) is refused; the group
 * may read it. 0 / -1.
 */
int	auth_htpasswd_load(const char *path, struct auth_htpasswd **out,
	    char *err, size_t errlen);

void	auth_htpasswd_free(struct auth_htpasswd *h);

/* Number of users. */
size_t	auth_htpasswd_count(const struct auth_htpasswd *h);

/*
 * Does pass[0..plen) match the hash of user[0..ulen)? Returns 0 yes,
 * -1 no (unknown user, wrong password, NUL in the password, password
 * over 1024 bytes, out of memory). An unknown user still costs one hash
 * computation, so timing does not tell which users exist. This computes
 * a deliberately slow hash (bcrypt cost 10 is ~50 ms): call it off the
 * event loop or cache the result.
 */
int	auth_htpasswd_check(const struct auth_htpasswd *h, const char *user,
	    size_t ulen, const char *pass, size_t plen);

/*
 * Authorization header value "Basic <base64 of user:pass>" (RFC 7617).
 * Decodes into buf (capacity cap); *user and *pass point into buf (not
 * NUL-terminated). The user must be non-empty and the split is at the
 * first ':'. Returns 0, or -1 (other scheme, bad base64, no ':', control
 * characters in the user, too long).
 */
int	auth_basic_credentials(const char *value, size_t len, char *buf,
	    size_t cap, const char **user, size_t *ulen, const char **pass,
	    size_t *plen);

#endif
