/*
 * auth: JWT (JWS compact, RFC 7515/7519) verification with OpenSSL 3,
 * token extraction from the upgrade request, htpasswd checks.
 *
 * Order of work in auth_jwt_verify, so that nothing an attacker controls
 * is trusted before the signature is checked: split and base64url-decode
 * (strict), read the header, insist its alg is the key's, verify the
 * signature, and only then read the claims.
 *
 * The JSON of the header and the claims is read by auth_json.c (why not
 * jansson is said there).
 */

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>

#include "auth.h"
#include "auth_json.h"
#include "loadfile.h"
#include "pct.h"

#define AUTH_SECRET_MIN		32	/* RFC 7518 §3.2: >= hash size */
#define AUTH_SECRET_FILE_MAX	4096
#define AUTH_PEM_FILE_MAX	(64 * 1024)
#define AUTH_HTPASSWD_MAX	(16 * 1024 * 1024)
#define AUTH_PASS_MAX		1024
#define AUTH_RSA_MIN_BITS	2048
#define AUTH_LEEWAY_MAX		86400

struct auth_key {
	enum auth_alg	 alg;
	unsigned char	*secret;	/* HS256: the shared secret */
	size_t		 secret_len;
	EVP_PKEY	*pkey;		/* RS256, ES256: the public key */
};

/* ---- names ---------------------------------------------------------- */

const char *
auth_strerror(int err)
{
	switch (err) {
	case AUTH_OK:			return "ok";
	case AUTH_ERR_TOO_LONG:		return "token too long";
	case AUTH_ERR_FORMAT:		return "token malformed";
	case AUTH_ERR_HEADER:		return "token header invalid";
	case AUTH_ERR_ALG:		return "token algorithm refused";
	case AUTH_ERR_SIGNATURE:	return "token signature invalid";
	case AUTH_ERR_CLAIMS:		return "token claims invalid";
	case AUTH_ERR_EXPIRED:		return "token expired";
	case AUTH_ERR_NOT_YET_VALID:	return "token not yet valid";
	case AUTH_ERR_NO_EXP:		return "token has no expiry";
	case AUTH_ERR_AUDIENCE:		return "token audience mismatch";
	case AUTH_ERR_PATH:		return "token not valid for this path";
	case AUTH_ERR_INTERNAL:		return "token check failed internally";
	}
	return "token refused";
}

const char *
auth_alg_name(enum auth_alg alg)
{
	switch (alg) {
	case AUTH_ALG_HS256:	return "HS256";
	case AUTH_ALG_RS256:	return "RS256";
	case AUTH_ALG_ES256:	return "ES256";
	case AUTH_ALG_NONE:	break;
	}
	return "none";
}

enum auth_alg
auth_key_alg(const struct auth_key *key)
{
	return key->alg;
}

static bool
auth_eq(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

/* ---- base64 (RFC 4648), strict ------------------------------------- */

static int
auth_b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

/*
 * Decode in[0..len) into out (capacity cap). url: the base64url alphabet
 * without padding (RFC 7515 §2); else the standard alphabet with the
 * padding that makes len a multiple of 4. Unused low bits of the last
 * character must be zero, so every byte string has one encoding and a
 * signature cannot be re-spelt. Returns 0 or -1.
 */
static int
auth_b64_decode(const char *in, size_t len, unsigned char *out, size_t cap,
    size_t *outlen, bool url)
{
	uint32_t	 acc = 0;
	size_t		 i, n = 0, bits = 0;
	int		 v;

	if (!url) {
		if (len % 4 != 0)
			return -1;
		if (len > 0 && in[len - 1] == '=')
			len--;
		if (len > 0 && in[len - 1] == '=')
			len--;
	}
	if (len % 4 == 1 || (len / 4) * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
		return -1;
	for (i = 0; i < len; i++) {
		if ((v = auth_b64_value((unsigned char)in[i], url)) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0)
		return -1;
	*outlen = n;
	return 0;
}

/* ---- header and claims --------------------------------------------- */

struct auth_hdr {
	const char	*alg;		/* NULL: absent */
	size_t		 alg_len;
};

static int
auth_hdr_member(void *arg, struct auth_json *j, const char *k, size_t klen)
{
	struct auth_hdr	*h = arg;
	const char	*s;
	size_t		 len;

	if (auth_eq(k, klen, "alg"))
		return auth_json_string(j, &h->alg, &h->alg_len);
	if (auth_eq(k, klen, "typ"))	/* RFC 7519 §5.1: "JWT", any case */
		return auth_json_string(j, &s, &len) == 0 && len == 3 &&
		    strncasecmp(s, "JWT", 3) == 0 ? 0 : -1;
	if (auth_eq(k, klen, "crit"))	/* RFC 7515 §4.1.11 */
		return -1;
	return auth_json_skip(j);	/* kid, jku, x5c ...: never used */
}

struct auth_claims {
	const struct auth_claims_req *req;
	bool		 has_exp, has_nbf, has_aud, aud_ok, has_path;
	int64_t		 exp, nbf;
	const char	*path;
	size_t		 path_len;
};

static int
auth_aud_elem(void *arg, struct auth_json *j)
{
	struct auth_claims	*c = arg;
	const char		*s;
	size_t			 len;

	if (auth_json_string(j, &s, &len) == -1)
		return -1;
	if (c->req->audience != NULL && auth_eq(s, len, c->req->audience))
		c->aud_ok = true;
	return 0;
}

static int
auth_claim_member(void *arg, struct auth_json *j, const char *k, size_t klen)
{
	struct auth_claims	*c = arg;
	int64_t			 v;

	if (auth_eq(k, klen, "exp")) {
		c->has_exp = true;
		return auth_json_numdate(j, &c->exp);
	}
	if (auth_eq(k, klen, "nbf")) {
		c->has_nbf = true;
		return auth_json_numdate(j, &c->nbf);
	}
	if (auth_eq(k, klen, "iat"))
		return auth_json_numdate(j, &v);
	if (auth_eq(k, klen, "aud")) {	/* RFC 7519 §4.1.3 */
		c->has_aud = true;
		if (auth_json_at(j, '['))
			return auth_json_array(j, auth_aud_elem, c);
		return auth_aud_elem(c, j);
	}
	if (auth_eq(k, klen, "path")) {
		c->has_path = true;
		return auth_json_string(j, &c->path, &c->path_len);
	}
	return auth_json_skip(j);
}

/* Does the path claim cover the request path? See auth.h. */
static bool
auth_path_match(const char *claim, size_t clen, const char *path,
    size_t plen)
{
	if (clen >= 2 && claim[clen - 2] == '/' && claim[clen - 1] == '*') {
		clen -= 2;		/* "/a/\*": "/a", or under "/a/" */
		if (plen == clen)
			return memcmp(claim, path, clen) == 0;
		return plen > clen && memcmp(claim, path, clen) == 0 &&
		    path[clen] == '/';
	}
	return clen == plen && memcmp(claim, path, plen) == 0;
}

static int
auth_claims_check(const struct auth_claims *c)
{
	const struct auth_claims_req *r = c->req;
	int64_t leeway = r->leeway_s;

	if (leeway < 0 || leeway > AUTH_LEEWAY_MAX)
		leeway = 0;
	if (!c->has_exp && r->require_exp)
		return AUTH_ERR_NO_EXP;
	/* RFC 7519 §4.1.4: now must be before exp. */
	if (c->has_exp && r->now >= c->exp + leeway)
		return AUTH_ERR_EXPIRED;
	if (c->has_nbf && r->now < c->nbf - leeway)
		return AUTH_ERR_NOT_YET_VALID;
	/* RFC 7519 §4.1.3: an "aud" must name us, and one is required when
	 * we have an audience (aud_ok is never set without one). */
	if ((c->has_aud || r->audience != NULL) && !c->aud_ok)
		return AUTH_ERR_AUDIENCE;
	if (c->has_path ? r->path == NULL || !auth_path_match(c->path,
	    c->path_len, r->path, r->path_len) : r->require_path)
		return AUTH_ERR_PATH;
	return AUTH_OK;
}

/* ---- signatures ---------------------------------------------------- */

static int
auth_verify_pkey(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
    const char *data, size_t len)
{
	EVP_MD_CTX	*ctx;
	int		 rc = AUTH_ERR_INTERNAL;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return rc;
	if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1)
		rc = EVP_DigestVerify(ctx, sig, siglen,
		    (const unsigned char *)data, len) == 1 ?
		    AUTH_OK : AUTH_ERR_SIGNATURE;
	EVP_MD_CTX_free(ctx);
	return rc;
}

/* ES256 signatures are R||S, 32 bytes each (RFC 7518 §3.4); OpenSSL
 * verifies DER. */
static int
auth_verify_es256(EVP_PKEY *pkey, const unsigned char *sig, size_t siglen,
    const char *data, size_t len)
{
	ECDSA_SIG	*es;
	BIGNUM		*r, *s;
	unsigned char	 der[80], *p = der;
	int		 n, rc;

	if (siglen != 64)
		return AUTH_ERR_SIGNATURE;
	es = ECDSA_SIG_new();
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	if (es == NULL || r == NULL || s == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1) {
		ECDSA_SIG_free(es);
		BN_free(r);
		BN_free(s);
		return AUTH_ERR_INTERNAL;
	}
	if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > sizeof(der))
		rc = AUTH_ERR_INTERNAL;
	else if (i2d_ECDSA_SIG(es, &p) != n)
		rc = AUTH_ERR_INTERNAL;
	else
		rc = auth_verify_pkey(pkey, der, (size_t)n, data, len);
	ECDSA_SIG_free(es);
	return rc;
}

static int
auth_verify_sig(const struct auth_key *key, const unsigned char *sig,
    size_t siglen, const char *data, size_t len)
{
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0;
	int		 rc;

	switch (key->alg) {
	case AUTH_ALG_HS256:
		if (HMAC(EVP_sha256(), key->secret, (int)key->secret_len,
		    (const unsigned char *)data, len, md, &mdlen) == NULL)
			return AUTH_ERR_INTERNAL;
		rc = siglen == mdlen && mdlen == 32 &&
		    CRYPTO_memcmp(md, sig, mdlen) == 0 ?
		    AUTH_OK : AUTH_ERR_SIGNATURE;
		OPENSSL_cleanse(md, sizeof(md));
		return rc;
	case AUTH_ALG_RS256:
		if (siglen != (size_t)EVP_PKEY_get_size(key->pkey))
			return AUTH_ERR_SIGNATURE;
		return auth_verify_pkey(key->pkey, sig, siglen, data, len);
	case AUTH_ALG_ES256:
		return auth_verify_es256(key->pkey, sig, siglen, data, len);
	case AUTH_ALG_NONE:
		break;
	}
	return AUTH_ERR_ALG;
}

static enum auth_alg
auth_alg_parse(const char *s, size_t len)
{
	/* JWA names are case-sensitive (RFC 7515 §4.1.1). */
	if (auth_eq(s, len, "HS256"))
		return AUTH_ALG_HS256;
	if (auth_eq(s, len, "RS256"))
		return AUTH_ALG_RS256;
	if (auth_eq(s, len, "ES256"))
		return AUTH_ALG_ES256;
	return AUTH_ALG_NONE;		/* "none" and everything else */
}

/* ---- verify -------------------------------------------------------- */

int
auth_jwt_verify(const char *token, size_t len, const struct auth_key *key,
    const struct auth_claims_req *req)
{
	return auth_jwt_verify_payload(token, len, key, req, NULL, 0, NULL);
}

int
auth_jwt_verify_payload(const char *token, size_t len,
    const struct auth_key *key, const struct auth_claims_req *req,
    char *payload, size_t cap, size_t *plen)
{
	unsigned char		 buf[AUTH_MAX_TOKEN];
	const char		*d1, *d2;
	size_t			 n;
	struct auth_hdr		 h = { NULL, 0 };
	struct auth_claims	 c;
	int			 rc;

	if (len > AUTH_MAX_TOKEN)
		return AUTH_ERR_TOO_LONG;
	if (len == 0 || (d1 = memchr(token, '.', len)) == NULL ||
	    (d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token))) ==
	    NULL || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)) != NULL)
		return AUTH_ERR_FORMAT;

	/* Header: alg must be the key's, whatever the token says. */
	if (auth_b64_decode(token, (size_t)(d1 - token), buf, sizeof(buf),
	    &n, true) == -1)
		return AUTH_ERR_FORMAT;
	if (auth_json_parse((char *)buf, n, auth_hdr_member, &h) == -1)
		return AUTH_ERR_HEADER;
	if (h.alg == NULL || auth_alg_parse(h.alg, h.alg_len) != key->alg ||
	    key->alg == AUTH_ALG_NONE)
		return AUTH_ERR_ALG;

	/* Signature over "header.payload" as sent (RFC 7515 §5.2). */
	if (auth_b64_decode(d2 + 1, len - (size_t)(d2 + 1 - token), buf,
	    sizeof(buf), &n, true) == -1)
		return AUTH_ERR_FORMAT;
	ERR_set_mark();
	rc = auth_verify_sig(key, buf, n, token, (size_t)(d2 - token));
	ERR_pop_to_mark();	/* failed verifies leave no OpenSSL errors */
	if (rc != AUTH_OK)
		return rc;

	/* Claims, trusted now. */
	if (auth_b64_decode(d1 + 1, (size_t)(d2 - d1 - 1), buf, sizeof(buf),
	    &n, true) == -1)
		return AUTH_ERR_FORMAT;
	memset(&c, 0, sizeof(c));
	c.req = req;
	/* The claims as signed, before the reader decodes them in place. */
	if (payload != NULL && n < cap)
		memcpy(payload, buf, n);
	if (auth_json_parse((char *)buf, n, auth_claim_member, &c) == -1)
		return AUTH_ERR_CLAIMS;
	if ((rc = auth_claims_check(&c)) != AUTH_OK || payload == NULL)
		return rc;
	if (n >= cap)
		return AUTH_ERR_TOO_LONG;
	payload[n] = '\0';
	*plen = n;
	return AUTH_OK;
}

/* ---- keys ---------------------------------------------------------- */

static struct auth_key *
auth_key_alloc(enum auth_alg alg, char *err, size_t errlen)
{
	struct auth_key	*key;

	if ((key = calloc(1, sizeof(*key))) == NULL)
		snprintf(err, errlen, "out of memory");
	else
		key->alg = alg;
	return key;
}

int
auth_key_new_secret(const void *secret, size_t len, struct auth_key **out,
    char *err, size_t errlen)
{
	struct auth_key	*key;

	*out = NULL;
	if (len < AUTH_SECRET_MIN || len > AUTH_SECRET_FILE_MAX) {
		snprintf(err, errlen, "HS256 secret is %zu bytes; %d to %d "
		    "are needed (RFC 7518 3.2)", len, AUTH_SECRET_MIN,
		    AUTH_SECRET_FILE_MAX);
		return -1;
	}
	if (len >= 10 && memcmp(secret, "-----BEGIN", 10) == 0) {
		snprintf(err, errlen, "HS256 secret is a PEM file; a public "
		    "key belongs in token_public_key_file");
		return -1;
	}
	if ((key = auth_key_alloc(AUTH_ALG_HS256, err, errlen)) == NULL)
		return -1;
	if ((key->secret = malloc(len)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(key);
		return -1;
	}
	memcpy(key->secret, secret, len);
	key->secret_len = len;
	*out = key;
	return 0;
}

static void
auth_ossl_err(char *err, size_t errlen, const char *what)
{
	unsigned long	 e = ERR_peek_last_error();
	char		 buf[256] = "no details";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s: %s", what, buf);
}

/* Which algorithm pkey can verify, or AUTH_ALG_NONE with err. */
static enum auth_alg
auth_pkey_alg(EVP_PKEY *pkey, char *err, size_t errlen)
{
	char	 group[64];
	int	 bits;

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if ((bits = EVP_PKEY_get_bits(pkey)) < AUTH_RSA_MIN_BITS) {
			snprintf(err, errlen, "RSA key has %d bits; at least "
			    "%d are needed", bits, AUTH_RSA_MIN_BITS);
			return AUTH_ALG_NONE;
		}
		return AUTH_ALG_RS256;
	}
	if (EVP_PKEY_is_a(pkey, "EC")) {
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group),
		    NULL) != 1 || strcmp(group, SN_X9_62_prime256v1) != 0) {
			snprintf(err, errlen, "EC key is not on P-256 "
			    "(ES256 only)");
			return AUTH_ALG_NONE;
		}
		return AUTH_ALG_ES256;
	}
	snprintf(err, errlen, "key type %s not supported (RSA for RS256, EC "
	    "P-256 for ES256)", EVP_PKEY_get0_type_name(pkey));
	return AUTH_ALG_NONE;
}

int
auth_key_new_public(const char *pem, size_t len, struct auth_key **out,
    char *err, size_t errlen)
{
	OSSL_DECODER_CTX	*dctx;
	EVP_PKEY		*pkey = NULL;
	const unsigned char	*p = (const unsigned char *)pem;
	size_t			 left = len;
	enum auth_alg		 alg;
	int			 ok;

	*out = NULL;
	/* A private key would decode too; say what went wrong instead. */
	if (memmem(pem, len, "PRIVATE KEY-----", 16) != NULL) {
		snprintf(err, errlen, "this is a private key; give the public "
		    "key (openssl pkey -pubout)");
		return -1;
	}
	ERR_set_mark();
	dctx = OSSL_DECODER_CTX_new_for_pkey(&pkey, "PEM", NULL, NULL,
	    EVP_PKEY_PUBLIC_KEY, NULL, NULL);
	ok = dctx != NULL && OSSL_DECODER_from_data(dctx, &p, &left) == 1 &&
	    pkey != NULL;
	if (!ok)
		auth_ossl_err(err, errlen, "no PEM public key (\"PUBLIC KEY\" "
		    "or \"RSA PUBLIC KEY\")");
	ERR_pop_to_mark();
	OSSL_DECODER_CTX_free(dctx);
	if (!ok) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	if ((alg = auth_pkey_alg(pkey, err, errlen)) == AUTH_ALG_NONE ||
	    (*out = auth_key_alloc(alg, err, errlen)) == NULL) {
		EVP_PKEY_free(pkey);
		return -1;
	}
	(*out)->pkey = pkey;
	return 0;
}

void
auth_key_free(struct auth_key *key)
{
	if (key == NULL)
		return;
	if (key->secret != NULL)
		OPENSSL_cleanse(key->secret, key->secret_len);
	free(key->secret);
	EVP_PKEY_free(key->pkey);
	free(key);
}

enum auth_key_file {
	AUTH_KEY_FILE_SECRET = 0,	/* an HS256 secret, private */
	AUTH_KEY_FILE_PUBLIC,		/* a PEM public key */
	AUTH_KEY_FILE_ANY,		/* a PEM if it starts like one */
};

/*
 * The one loader of key files: read path as kind says and build *out
 * from it. A secret file must be private (relayd's check_file_secrecy:
 * a shared secret is a private key) and loses one trailing "\n" and
 * then one "\r"; a file of kind ANY that does not start as a PEM is read
 * again as a secret, through its own door (size and mode checked).
 * 0, or -1 with err set.
 */
static int
auth_key_load(const char *path, enum auth_key_file kind,
    struct auth_key **out, char *err, size_t errlen)
{
	bool secret = kind == AUTH_KEY_FILE_SECRET;
	char *buf, msg[512];
	size_t len, n;
	int rc;

	*out = NULL;
	if (loadfile_read(path, secret ? AUTH_SECRET_FILE_MAX :
	    AUTH_PEM_FILE_MAX, secret ? LOADFILE_PRIVATE : 0, &buf, &len, err,
	    errlen) == -1)
		return -1;
	if (kind == AUTH_KEY_FILE_ANY && !(len >= 10 &&
	    memcmp(buf, "-----BEGIN", 10) == 0)) {
		loadfile_free(buf, len);
		return auth_key_load(path, AUTH_KEY_FILE_SECRET, out, err,
		    errlen);
	}
	n = len;
	if (secret && n > 0 && buf[n - 1] == '\n')
		n--;
	if (secret && n > 0 && buf[n - 1] == '\r')
		n--;
	rc = secret ? auth_key_new_secret(buf, n, out, msg, sizeof(msg)) :
	    auth_key_new_public(buf, len, out, msg, sizeof(msg));
	if (rc == -1)
		snprintf(err, errlen, "%s: %s", path, msg);
	loadfile_free(buf, len);
	return rc == -1 ? -1 : 0;
}

int
auth_key_load_secret(const char *path, struct auth_key **out, char *err,
    size_t errlen)
{
	return auth_key_load(path, AUTH_KEY_FILE_SECRET, out, err, errlen);
}

int
auth_key_load_public(const char *path, struct auth_key **out, char *err,
    size_t errlen)
{
	return auth_key_load(path, AUTH_KEY_FILE_PUBLIC, out, err, errlen);
}

int
auth_key_load_any(const char *path, struct auth_key **out, char *err,
    size_t errlen)
{
	return auth_key_load(path, AUTH_KEY_FILE_ANY, out, err, errlen);
}

/* ---- finding the token in a request -------------------------------- */

int
auth_query_param(const char *query, size_t len, const char *name,
    char *out, size_t cap, size_t *outlen)
{
	const char	*f, *fe, *end = query + len, *amp, *eq;
	size_t		 nlen = strlen(name);
	long		 dec;
	int		 found = 0;

	for (f = query; len > 0; f = amp + 1) {
		amp = memchr(f, '&', (size_t)(end - f));
		fe = amp != NULL ? amp : end;
		if ((eq = memchr(f, '=', (size_t)(fe - f))) == NULL)
			eq = fe;
		if ((size_t)(eq - f) == nlen && memcmp(f, name, nlen) == 0) {
			if (found++ > 0)
				return -1;
			if ((dec = pct_decode(eq + (eq < fe), (size_t)(fe -
			    eq) - (eq < fe), PCT_PLUS_SPACE, out, cap)) < 0)
				return -1;
			*outlen = (size_t)dec;
		}
		if (amp == NULL)
			break;
	}
	return found;
}

/* RFC 7235 §2.1 token68 character, without the trailing '='. */
static bool
auth_is_token68(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~' || c == '+' || c == '/';
}

/* "<scheme> <token68> [spaces]": the token68's bounds, or false. */
static bool
auth_scheme_value(const char *v, size_t len, const char *scheme,
    const char **tok, size_t *toklen)
{
	size_t	 i, s, e, sl = strlen(scheme);

	if (len <= sl || strncasecmp(v, scheme, sl) != 0 || v[sl] != ' ')
		return false;
	for (i = sl; i < len && v[i] == ' '; i++)
		;
	for (s = i; i < len && auth_is_token68(v[i]); i++)
		;
	while (i < len && v[i] == '=')
		i++;
	for (e = i; i < len && (v[i] == ' ' || v[i] == '\t'); i++)
		;
	if (i != len || e == s)
		return false;
	*tok = v + s;
	*toklen = e - s;
	return true;
}

bool
auth_bearer_token(const char *value, size_t len, const char **tok,
    size_t *toklen)
{
	return auth_scheme_value(value, len, "Bearer", tok, toklen);
}

bool
auth_protocol_token(const char *entry, size_t len, const char **tok,
    size_t *toklen)
{
	size_t	 pl = sizeof(AUTH_PROTOCOL_PREFIX) - 1;

	if (len <= pl || memcmp(entry, AUTH_PROTOCOL_PREFIX, pl) != 0)
		return false;
	*tok = entry + pl;
	*toklen = len - pl;
	return true;
}

/* ---- basic auth and htpasswd --------------------------------------- */

int
auth_basic_credentials(const char *value, size_t len, char *buf, size_t cap,
    const char **user, size_t *ulen, const char **pass, size_t *plen)
{
	const char	*b64, *colon;
	size_t		 blen, n, i;

	if (!auth_scheme_value(value, len, "Basic", &b64, &blen) ||
	    auth_b64_decode(b64, blen, (unsigned char *)buf, cap, &n,
	    false) == -1 || (colon = memchr(buf, ':', n)) == NULL ||
	    colon == buf)
		return -1;
	for (i = 0; buf + i < colon; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return -1;
	*user = buf;
	*ulen = (size_t)(colon - buf);
	*pass = colon + 1;
	*plen = n - *ulen - 1;
	return 0;
}

struct auth_htpasswd_entry {
	char		*user;
	char		*hash;
	unsigned	 line;
};

struct auth_htpasswd {
	struct auth_htpasswd_entry *v;	/* sorted by user */
	size_t		 n;
};

static int
auth_htpasswd_cmp(const void *a, const void *b)
{
	const struct auth_htpasswd_entry *x = a, *y = b;

	return strcmp(x->user, y->user);
}

void
auth_htpasswd_free(struct auth_htpasswd *h)
{
	size_t	 i;

	if (h == NULL)
		return;
	for (i = 0; i < h->n; i++) {
		free(h->v[i].user);
		free(h->v[i].hash);
	}
	free(h->v);
	free(h);
}

size_t
auth_htpasswd_count(const struct auth_htpasswd *h)
{
	return h->n;
}

/*
 * Every modular crypt format libcrypt accepts ends in "$" and the hash in
 * its base64 alphabet: 53 characters for bcrypt (salt and hash run
 * together), 43 or 86 for the others. Want at least 22.
 */
static bool
auth_htpasswd_hash_ok(const char *hash)
{
	const char	*last = strrchr(hash, '$') + 1;
	size_t		 n = strspn(last, "./0123456789"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");

	if (last[n] != '\0')
		return false;
	return strncmp(hash, "$2", 2) == 0 ? n == 53 : n >= 22;
}

/* One "user:hash" line (s[0..len), without the newline) into h. */
static int
auth_htpasswd_line(struct auth_htpasswd *h, const char *s, size_t len,
    unsigned line, const char **why)
{
	struct auth_htpasswd_entry	*e, *v;
	const char			*colon;
	size_t				 i;
	int				 r;

	if ((colon = memchr(s, ':', len)) == NULL || colon == s)
		return *why = "expected user:hash", -1;
	for (i = 0; s + i < colon; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return *why = "control character in user", -1;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if ((v = reallocarray(h->v, h->n + 1, sizeof(*v))) == NULL)
		return *why = "out of memory", -1;
	h->v = v;
	e = &h->v[h->n];
	e->user = strndup(s, (size_t)(colon - s));
	e->hash = strndup(colon + 1, len - (size_t)(colon - s) - 1);
	e->line = line;
	if (e->user == NULL || e->hash == NULL) {
		free(e->user);
		free(e->hash);
		return *why = "out of memory", -1;
	}
	h->n++;
	/* Refuses $apr1$, {SHA}, DES, plain text: only current methods. */
	/*
	 * Debian's libxcrypt calls SHA-256 crypt ("$5$", htpasswd -2)
	 * legacy; it is still a salted hash of 5000+ rounds that htpasswd
	 * writes on request, so take it. MD5-crypt stays out.
	 */
	r = e->hash[0] != '$' ? CRYPT_SALT_INVALID : crypt_checksalt(e->hash);
	if (r == CRYPT_SALT_METHOD_LEGACY && strncmp(e->hash, "$5$", 3) == 0)
		r = CRYPT_SALT_OK;
	if (r != CRYPT_SALT_OK)
		return *why = "hash method not supported (use bcrypt: "
		    "htpasswd -B)", -1;
	/* crypt_checksalt reads only the setting: want the hash too. */
	if (!auth_htpasswd_hash_ok(e->hash))
		return *why = "hash truncated or malformed", -1;
	return 0;
}

int
auth_htpasswd_parse_string(const char *text, const char *name,
    struct auth_htpasswd **out, char *err, size_t errlen)
{
	struct auth_htpasswd	*h;
	const char		*s, *nl, *next, *why;
	size_t			 len, i, skip;
	unsigned		 line = 0, a, b;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -1;
	}
	for (s = text; *s != '\0'; s = next) {
		line++;
		nl = strchr(s, '\n');
		len = nl != NULL ? (size_t)(nl - s) : strlen(s);
		next = s + len + (nl != NULL);
		if (len > 0 && s[len - 1] == '\r')
			len--;
		for (skip = 0; skip < len && (s[skip] == ' ' ||
		    s[skip] == '\t'); skip++)
			;
		if (skip == len || s[skip] == '#')
			continue;
		if (auth_htpasswd_line(h, s, len, line, &why) == -1) {
			snprintf(err, errlen, "%s:%u: %s", name, line, why);
			goto fail;
		}
	}
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(*h->v), auth_htpasswd_cmp);
	for (i = 1; i < h->n; i++)
		if (strcmp(h->v[i - 1].user, h->v[i].user) == 0) {
			a = h->v[i - 1].line;
			b = h->v[i].line;
			snprintf(err, errlen, "%s:%u: duplicate user (first "
			    "at line %u)", name, a > b ? a : b, a > b ? b : a);
			goto fail;
		}
	*out = h;
	return 0;
fail:
	auth_htpasswd_free(h);
	return -1;
}

int
auth_htpasswd_load(const char *path, struct auth_htpasswd **out, char *err,
    size_t errlen)
{
	char		*buf;
	size_t		 len;
	int		 rc;

	*out = NULL;
	/* Hashes, not secrets: the web server's group may read it (640). */
	if (loadfile_read(path, AUTH_HTPASSWD_MAX, LOADFILE_NO_OTHER |
	    LOADFILE_TEXT, &buf, &len, err, errlen) == -1)
		return -1;
	rc = auth_htpasswd_parse_string(buf, path, out, err, errlen);
	loadfile_free(buf, len);
	return rc;
}

static const struct auth_htpasswd_entry *
auth_htpasswd_find(const struct auth_htpasswd *h, const char *user,
    size_t ulen)
{
	size_t	 lo = 0, hi = h->n, mid;
	int	 c;

	if (memchr(user, '\0', ulen) != NULL)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		c = strncmp(user, h->v[mid].user, ulen);
		if (c == 0 && h->v[mid].user[ulen] != '\0')
			c = -1;		/* user is a proper prefix */
		if (c == 0)
			return &h->v[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int
auth_htpasswd_check(const struct auth_htpasswd *h, const char *user,
    size_t ulen, const char *pass, size_t plen)
{
	const struct auth_htpasswd_entry *e;
	struct crypt_data	*cd;
	const char		*hash, *r;
	char			 pw[AUTH_PASS_MAX + 1];
	size_t			 hlen;
	int			 rc = -1;

	if (h->n == 0 || plen > AUTH_PASS_MAX ||
	    memchr(pass, '\0', plen) != NULL)
		return -1;
	/* An unknown user hashes against a real entry all the same. */
	e = auth_htpasswd_find(h, user, ulen);
	hash = e != NULL ? e->hash : h->v[0].hash;
	if ((cd = calloc(1, sizeof(*cd))) == NULL)
		return -1;
	memcpy(pw, pass, plen);
	pw[plen] = '\0';
	r = crypt_rn(pw, hash, cd, sizeof(*cd));
	hlen = strlen(hash);
	if (r != NULL && strlen(r) == hlen &&
	    CRYPTO_memcmp(r, hash, hlen) == 0 && e != NULL)
		rc = 0;
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return rc;
}
