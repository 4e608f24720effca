/*
 * Unit tests for auth: JWT verification (HS256, RS256, ES256), claims,
 * algorithm confusion, key files, token extraction, htpasswd.
 *
 * Keys are generated here with OpenSSL; tokens are built and signed by
 * the test's own signer. Every token is copied into a heap buffer of its
 * exact length (no NUL) before it is verified, so ASan sees over-reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "auth.h"

#define NOW	1700000000LL

static const char secret[] = "0123456789abcdef0123456789abcdef-test-secret";

static EVP_PKEY		*rsa_priv, *ec_priv;
static char		*rsa_pem, *ec_pem;	/* public keys, PEM */
static struct auth_key	*hs_key, *rs_key, *es_key;
static char		 tmpdir[64];

/* ---- test signer ---------------------------------------------------- */

static void
b64url(const unsigned char *in, size_t len, char *out)
{
	static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t	 i, n = 0;
	uint32_t acc = 0;
	int	 bits = 0;

	for (i = 0; i < len; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[n++] = tab[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[n++] = tab[(acc << (6 - bits)) & 63];
	out[n] = '\0';
}

static void
b64url_str(const char *s, char *out)
{
	b64url((const unsigned char *)s, strlen(s), out);
}

/* Raw signature of data under alg with the test keys; returns length. */
static size_t
sign_raw(enum auth_alg alg, const void *hkey, size_t hkeylen,
    const char *data, unsigned char *sig)
{
	EVP_MD_CTX	*ctx;
	EVP_PKEY	*pk = alg == AUTH_ALG_RS256 ? rsa_priv : ec_priv;
	unsigned char	 der[256];
	const unsigned char *p = der;
	size_t		 len = sizeof(der);
	unsigned int	 hl;
	ECDSA_SIG	*es;

	if (alg == AUTH_ALG_HS256) {
		assert_non_null(HMAC(EVP_sha256(), hkey, (int)hkeylen,
		    (const unsigned char *)data, strlen(data), sig, &hl));
		return hl;
	}
	assert_non_null(ctx = EVP_MD_CTX_new());
	assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL,
	    pk), 1);
	if (alg == AUTH_ALG_RS256) {
		len = 512;
		assert_int_equal(EVP_DigestSign(ctx, sig, &len,
		    (const unsigned char *)data, strlen(data)), 1);
		EVP_MD_CTX_free(ctx);
		return len;
	}
	assert_int_equal(EVP_DigestSign(ctx, der, &len,
	    (const unsigned char *)data, strlen(data)), 1);
	EVP_MD_CTX_free(ctx);
	assert_non_null(es = d2i_ECDSA_SIG(NULL, &p, (long)len));
	BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
	BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
	ECDSA_SIG_free(es);
	return 64;
}

/*
 * "b64(header).b64(payload).b64(sig)" signed under alg (the HS256 key is
 * hkey, default the test secret). Returns a static buffer.
 */
static const char *
mk_keyed(const char *header, const char *payload, enum auth_alg alg,
    const void *hkey, size_t hkeylen)
{
	static char	 tok[40000];
	unsigned char	 sig[512];
	size_t		 n, siglen;

	b64url_str(header, tok);
	n = strlen(tok);
	tok[n++] = '.';
	b64url_str(payload, tok + n);
	if (hkey == NULL) {
		hkey = secret;
		hkeylen = strlen(secret);
	}
	siglen = alg == AUTH_ALG_NONE ? 0 :
	    sign_raw(alg, hkey, hkeylen, tok, sig);
	n = strlen(tok);
	tok[n++] = '.';
	b64url(sig, siglen, tok + n);
	return tok;
}

static const char *
mk(const char *header, const char *payload, enum auth_alg alg)
{
	return mk_keyed(header, payload, alg, NULL, 0);
}

#define HS	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define RS	"{\"alg\":\"RS256\",\"typ\":\"JWT\"}"
#define ES	"{\"alg\":\"ES256\"}"
#define CLAIMS	"{\"sub\":\"alice\",\"exp\":1700000100,\"nbf\":1699999900}"

static struct auth_claims_req
req_default(void)
{
	struct auth_claims_req r;

	memset(&r, 0, sizeof(r));
	r.now = NOW;
	r.require_exp = true;
	return r;
}

/* Verify tok[0..len) from an exact-size heap copy. */
static int
verify_n(const char *tok, size_t len, const struct auth_key *key,
    const struct auth_claims_req *r)
{
	char	*copy = malloc(len > 0 ? len : 1);
	int	 rc;

	assert_non_null(copy);
	memcpy(copy, tok, len);
	rc = auth_jwt_verify(copy, len, key, r);
	free(copy);
	return rc;
}

static int
verify(const char *tok, const struct auth_key *key,
    const struct auth_claims_req *r)
{
	return verify_n(tok, strlen(tok), key, r);
}

/* Verify payload signed with HS256 under r. */
static int
hs_claims(const char *payload, const struct auth_claims_req *r)
{
	return verify(mk(HS, payload, AUTH_ALG_HS256), hs_key, r);
}

/* ---- fixtures ------------------------------------------------------- */

static char *
pem_public(EVP_PKEY *pk)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*data, *s;
	long	 n;

	assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
	n = BIO_get_mem_data(b, &data);
	s = strndup(data, (size_t)n);
	BIO_free(b);
	return s;
}

static int
setup(void **state)
{
	char	 err[256];

	(void)state;
	if ((rsa_priv = EVP_RSA_gen(2048)) == NULL ||
	    (ec_priv = EVP_EC_gen("P-256")) == NULL)
		return -1;
	rsa_pem = pem_public(rsa_priv);
	ec_pem = pem_public(ec_priv);
	if (auth_key_new_secret(secret, strlen(secret), &hs_key, err,
	    sizeof(err)) != 0 ||
	    auth_key_new_public(rsa_pem, strlen(rsa_pem), &rs_key, err,
	    sizeof(err)) != 0 ||
	    auth_key_new_public(ec_pem, strlen(ec_pem), &es_key, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_auth.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	auth_key_free(hs_key);
	auth_key_free(rs_key);
	auth_key_free(es_key);
	EVP_PKEY_free(rsa_priv);
	EVP_PKEY_free(ec_priv);
	free(rsa_pem);
	free(ec_pem);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- valid tokens --------------------------------------------------- */

static void
test_valid_each_alg(void **state)
{
	struct auth_claims_req r = req_default();

	(void)state;
	assert_int_equal(verify(mk(HS, CLAIMS, AUTH_ALG_HS256), hs_key, &r),
	    AUTH_OK);
	assert_int_equal(verify(mk(RS, CLAIMS, AUTH_ALG_RS256), rs_key, &r),
	    AUTH_OK);
	assert_int_equal(verify(mk(ES, CLAIMS, AUTH_ALG_ES256), es_key, &r),
	    AUTH_OK);
	assert_int_equal(auth_key_alg(hs_key), AUTH_ALG_HS256);
	assert_int_equal(auth_key_alg(rs_key), AUTH_ALG_RS256);
	assert_int_equal(auth_key_alg(es_key), AUTH_ALG_ES256);
	assert_string_equal(auth_alg_name(AUTH_ALG_ES256), "ES256");
	/* whitespace, unknown members, nested values, escapes are fine */
	assert_int_equal(verify(mk(" { \"typ\" : \"jwt\" ,\n\"kid\":\"k1\","
	    "\"alg\" : \"HS256\" } ", "{\"exp\":1700000100,\"iat\":1699999000"
	    ",\"roles\":{\"a\":[1,2.5,-3e2,true,false,null,{}]},"
	    "\"name\":\"\\u00e9\\ud83d\\ude00\\n\\\"\\/\",\"e\":[]}",
	    AUTH_ALG_HS256), hs_key, &r), AUTH_OK);
}

/* ---- time claims ---------------------------------------------------- */

static void
test_exp_nbf_leeway(void **state)
{
	struct auth_claims_req r = req_default();

	(void)state;
	/* RFC 7519 §4.1.4: now must be before exp */
	assert_int_equal(hs_claims("{\"exp\":1700000001}", &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1700000000}", &r),
	    AUTH_ERR_EXPIRED);
	assert_int_equal(hs_claims("{\"exp\":1}", &r), AUTH_ERR_EXPIRED);
	assert_int_equal(hs_claims("{\"exp\":1700000000,\"nbf\":1700000000}",
	    &r), AUTH_ERR_EXPIRED);
	/* nbf: valid from nbf on */
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"nbf\":1700000000}",
	    &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"nbf\":1700000001}",
	    &r), AUTH_ERR_NOT_YET_VALID);
	/* leeway on both sides */
	r.leeway_s = 30;
	assert_int_equal(hs_claims("{\"exp\":1699999971}", &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1699999970}", &r),
	    AUTH_ERR_EXPIRED);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"nbf\":1700000030}",
	    &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"nbf\":1700000031}",
	    &r), AUTH_ERR_NOT_YET_VALID);
	/* absurd leeway counts as none */
	r.leeway_s = -5;
	assert_int_equal(hs_claims("{\"exp\":1700000000}", &r),
	    AUTH_ERR_EXPIRED);
	r.leeway_s = 0;
	/* fractions round up: now >= 1700000000.5 only from ...01 */
	assert_int_equal(hs_claims("{\"exp\":1700000000.5}", &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1699999999.999}", &r),
	    AUTH_ERR_EXPIRED);
	assert_int_equal(hs_claims("{\"exp\":1700000000.000}", &r),
	    AUTH_ERR_EXPIRED);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"nbf\":-1.5}", &r),
	    AUTH_OK);
	/* exp required, and it must be a plain number */
	assert_int_equal(hs_claims("{\"sub\":\"x\"}", &r), AUTH_ERR_NO_EXP);
	assert_int_equal(hs_claims("{\"exp\":\"1800000000\"}", &r),
	    AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":1.8e9}", &r), AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":null}", &r), AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":[1800000000]}", &r),
	    AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":9999999999999999}", &r),
	    AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"nbf\":true}", &r),
	    AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"iat\":\"x\"}", &r),
	    AUTH_ERR_CLAIMS);
	r.require_exp = false;
	assert_int_equal(hs_claims("{\"sub\":\"x\"}", &r), AUTH_OK);
	assert_int_equal(hs_claims("{}", &r), AUTH_OK);
}

/* ---- audience and path ---------------------------------------------- */

static void
test_audience(void **state)
{
	struct auth_claims_req r = req_default();

	(void)state;
	r.audience = "wsgate";
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":\"wsgate\"}",
	    &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":\"other\"}",
	    &r), AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":\"WSGATE\"}",
	    &r), AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":\"wsgate\\u0000"
	    "\"}", &r), AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":[\"a\","
	    "\"wsgate\"]}", &r), AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":[\"a\","
	    "\"b\"]}", &r), AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":[]}", &r),
	    AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000}", &r),
	    AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":[\"wsgate\","
	    "7]}", &r), AUTH_ERR_CLAIMS);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":7}", &r),
	    AUTH_ERR_CLAIMS);
	/* RFC 7519 §4.1.3: an audience we do not claim to be */
	r.audience = NULL;
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"aud\":\"wsgate\"}",
	    &r), AUTH_ERR_AUDIENCE);
	assert_int_equal(hs_claims("{\"exp\":1800000000}", &r), AUTH_OK);
}

static int
path_check(const char *claim, const char *path, bool require)
{
	struct auth_claims_req r = req_default();
	char	 payload[256];

	r.path = path;
	r.path_len = path != NULL ? strlen(path) : 0;
	r.require_path = require;
	if (claim != NULL)
		snprintf(payload, sizeof(payload), "{\"exp\":1800000000,"
		    "\"path\":\"%s\"}", claim);
	else
		snprintf(payload, sizeof(payload), "{\"exp\":1800000000}");
	return hs_claims(payload, &r);
}

static void
test_path_binding(void **state)
{
	(void)state;
	assert_int_equal(path_check("/vnc", "/vnc", false), AUTH_OK);
	assert_int_equal(path_check("/vnc", "/vnc", true), AUTH_OK);
	assert_int_equal(path_check("/vnc", "/ssh", false), AUTH_ERR_PATH);
	assert_int_equal(path_check("/vnc", "/vnc/", false), AUTH_ERR_PATH);
	assert_int_equal(path_check("/vnc", "/vncx", false), AUTH_ERR_PATH);
	assert_int_equal(path_check("/vnc", "/VNC", false), AUTH_ERR_PATH);
	assert_int_equal(path_check(NULL, "/vnc", true), AUTH_ERR_PATH);
	assert_int_equal(path_check(NULL, "/vnc", false), AUTH_OK);
	assert_int_equal(path_check("/vnc", NULL, false), AUTH_ERR_PATH);
	/* prefix claims, as route prefixes */
	assert_int_equal(path_check("/vnc/*", "/vnc", true), AUTH_OK);
	assert_int_equal(path_check("/vnc/*", "/vnc/", true), AUTH_OK);
	assert_int_equal(path_check("/vnc/*", "/vnc/a/b", true), AUTH_OK);
	assert_int_equal(path_check("/vnc/*", "/vncx", true), AUTH_ERR_PATH);
	assert_int_equal(path_check("/vnc/*", "/vn", true), AUTH_ERR_PATH);
	assert_int_equal(path_check("/*", "/anything", true), AUTH_OK);
	assert_int_equal(path_check("/vnc*", "/vnc", true), AUTH_ERR_PATH);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"path\":1}",
	    &(struct auth_claims_req){ .now = NOW, .path = "/",
	    .path_len = 1 }), AUTH_ERR_CLAIMS);
}

/* ---- tampering and format ------------------------------------------- */

static void
test_tampered(void **state)
{
	struct auth_claims_req r = req_default();
	char	 tok[4096], *dot;
	size_t	 i, len;

	(void)state;
	snprintf(tok, sizeof(tok), "%s", mk(HS, CLAIMS, AUTH_ALG_HS256));
	/* a payload claiming a later exp, signature kept */
	dot = strchr(tok, '.');
	b64url_str("{\"sub\":\"alice\",\"exp\":1900000100}", dot + 1);
	len = strlen(tok);
	tok[len] = '.';
	snprintf(tok + len + 1, sizeof(tok) - len - 1, "%s",
	    strrchr(mk(HS, CLAIMS, AUTH_ALG_HS256), '.') + 1);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_SIGNATURE);

	/* every single-character change in any part is refused */
	for (int k = 0; k < 3; k++) {
		const struct auth_key *key = k == 0 ? hs_key : k == 1 ?
		    rs_key : es_key;

		snprintf(tok, sizeof(tok), "%s", k == 0 ?
		    mk(HS, CLAIMS, AUTH_ALG_HS256) : k == 1 ?
		    mk(RS, CLAIMS, AUTH_ALG_RS256) :
		    mk(ES, CLAIMS, AUTH_ALG_ES256));
		len = strlen(tok);
		assert_int_equal(verify(tok, key, &r), AUTH_OK);
		for (i = 0; i < len; i++) {
			char c = tok[i];

			tok[i] = c == 'A' ? 'B' : c == '.' ? 'x' : 'A';
			assert_int_not_equal(verify(tok, key, &r), AUTH_OK);
			tok[i] = c;
			/* and every truncation */
			assert_int_not_equal(verify_n(tok, i, key, &r),
			    AUTH_OK);
		}
	}
	/* signature from another key of the same kind */
	{
		EVP_PKEY *save = ec_priv;

		ec_priv = EVP_EC_gen("P-256");
		snprintf(tok, sizeof(tok), "%s", mk(ES, CLAIMS,
		    AUTH_ALG_ES256));
		EVP_PKEY_free(ec_priv);
		ec_priv = save;
		assert_int_equal(verify(tok, es_key, &r), AUTH_ERR_SIGNATURE);
	}
	assert_int_equal(verify(mk_keyed(HS, CLAIMS, AUTH_ALG_HS256,
	    "0123456789abcdef0123456789abcdeX-test-secret", 44), hs_key, &r),
	    AUTH_ERR_SIGNATURE);
}

static void
test_format(void **state)
{
	struct auth_claims_req r = req_default();
	char	 tok[4096], h[128], p[128];
	const char *good = mk(HS, CLAIMS, AUTH_ALG_HS256);

	(void)state;
	b64url_str(HS, h);
	b64url_str(CLAIMS, p);
	assert_int_equal(verify("", hs_key, &r), AUTH_ERR_FORMAT);
	assert_int_equal(verify("..", hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify("abc", hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s.%s", h, p);	/* two parts */
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s.", good);	/* four parts */
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s.%s", good, "AAAA");
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s.%s.", h, p);	/* no signature */
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_SIGNATURE);
	/* padding, standard alphabet, whitespace */
	snprintf(tok, sizeof(tok), "%s=", good);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s==.%s.%s", h, p,
	    strrchr(good, '.') + 1);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s", good);
	strrchr(tok, '.')[3] = '+';
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	strrchr(tok, '.')[3] = '/';
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), " %s", good);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	snprintf(tok, sizeof(tok), "%s\n", good);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	/* a 43-char HS256 signature has 2 unused bits: they must be 0 */
	snprintf(tok, sizeof(tok), "%s", good);
	{
		char	*last = tok + strlen(tok) - 1;
		const char *tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
		    "qrstuvwxyz0123456789-_";
		int	 v = (int)(strchr(tab, *last) - tab);

		*last = tab[v | 1];
		assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	}
	/* a length of 4n+1 characters is never base64 */
	snprintf(tok, sizeof(tok), "%sAA", good);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_FORMAT);
	/* NUL inside */
	snprintf(tok, sizeof(tok), "%s", good);
	tok[5] = '\0';
	assert_int_equal(verify_n(tok, strlen(good), hs_key, &r),
	    AUTH_ERR_FORMAT);
}

static void
test_too_long(void **state)
{
	struct auth_claims_req r = req_default();
	char	*payload = malloc(8000), tok[40000];
	size_t	 n;

	(void)state;
	assert_non_null(payload);
	/* just under the limit: fine */
	n = (size_t)snprintf(payload, 8000, "{\"exp\":1800000000,\"pad\":\"");
	memset(payload + n, 'x', 5800);
	strcpy(payload + n + 5800, "\"}");
	snprintf(tok, sizeof(tok), "%s", mk(HS, payload, AUTH_ALG_HS256));
	assert_true(strlen(tok) <= AUTH_MAX_TOKEN);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_OK);
	/* over it: refused unread */
	memset(payload + n, 'x', 6200);
	strcpy(payload + n + 6200, "\"}");
	snprintf(tok, sizeof(tok), "%s", mk(HS, payload, AUTH_ALG_HS256));
	assert_true(strlen(tok) > AUTH_MAX_TOKEN);
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_TOO_LONG);
	free(payload);
}

/* ---- algorithms and confusion --------------------------------------- */

static void
test_alg_none_and_unknown(void **state)
{
	struct auth_claims_req r = req_default();
	char	 tok[4096];

	(void)state;
	assert_int_equal(verify(mk("{\"alg\":\"none\"}", CLAIMS,
	    AUTH_ALG_NONE), hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"none\"}", CLAIMS,
	    AUTH_ALG_NONE), rs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"None\"}", CLAIMS,
	    AUTH_ALG_NONE), es_key, &r), AUTH_ERR_ALG);
	/* "none" with a valid HS256 signature attached: still refused */
	snprintf(tok, sizeof(tok), "%s", mk("{\"alg\":\"none\"}", CLAIMS,
	    AUTH_ALG_HS256));
	assert_int_equal(verify(tok, hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"hs256\"}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"HS512\"}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"PS256\"}", CLAIMS,
	    AUTH_ALG_RS256), rs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"HS256 \"}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":\"\"}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"typ\":\"JWT\"}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk("{\"alg\":null}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("{\"alg\":[\"HS256\"]}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_HEADER);
	/* escaped spelling of the right name is the right name */
	assert_int_equal(verify(mk("{\"alg\":\"HS\\u00325\\u0036\"}", CLAIMS,
	    AUTH_ALG_HS256), hs_key, &r), AUTH_OK);
}

static void
test_alg_confusion(void **state)
{
	struct auth_claims_req r = req_default();
	struct auth_key	*k;
	char		 err[256];

	(void)state;
	/* the classic attack: HS256 keyed with the RSA public key's PEM */
	assert_int_equal(verify(mk_keyed(HS, CLAIMS, AUTH_ALG_HS256, rsa_pem,
	    strlen(rsa_pem)), rs_key, &r), AUTH_ERR_ALG);
	assert_int_equal(verify(mk_keyed(HS, CLAIMS, AUTH_ALG_HS256, ec_pem,
	    strlen(ec_pem)), es_key, &r), AUTH_ERR_ALG);
	/* ... and the PEM cannot become an HS256 secret either */
	assert_int_equal(auth_key_new_secret(rsa_pem, strlen(rsa_pem), &k,
	    err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PEM"));
	assert_null(k);
	/* every other key/alg pairing */
	assert_int_equal(verify(mk(RS, CLAIMS, AUTH_ALG_RS256), hs_key, &r),
	    AUTH_ERR_ALG);
	assert_int_equal(verify(mk(ES, CLAIMS, AUTH_ALG_ES256), hs_key, &r),
	    AUTH_ERR_ALG);
	assert_int_equal(verify(mk(ES, CLAIMS, AUTH_ALG_ES256), rs_key, &r),
	    AUTH_ERR_ALG);
	assert_int_equal(verify(mk(RS, CLAIMS, AUTH_ALG_RS256), es_key, &r),
	    AUTH_ERR_ALG);
	assert_int_equal(verify(mk(HS, CLAIMS, AUTH_ALG_HS256), es_key, &r),
	    AUTH_ERR_ALG);
	/* a header lying about alg but signed the other way */
	assert_int_equal(verify(mk(RS, CLAIMS, AUTH_ALG_HS256), rs_key, &r),
	    AUTH_ERR_SIGNATURE);
}

static void
test_es256_signature_shape(void **state)
{
	struct auth_claims_req r = req_default();
	char	 tok[4096], *dot;
	unsigned char zero[64];

	(void)state;
	snprintf(tok, sizeof(tok), "%s", mk(ES, CLAIMS, AUTH_ALG_ES256));
	dot = strrchr(tok, '.');
	/* r = s = 0 ("psychic signature", CVE-2022-21449) */
	memset(zero, 0, sizeof(zero));
	b64url(zero, 64, dot + 1);
	assert_int_equal(verify(tok, es_key, &r), AUTH_ERR_SIGNATURE);
	/* 63 and 65 bytes */
	b64url(zero, 63, dot + 1);
	assert_int_equal(verify(tok, es_key, &r), AUTH_ERR_SIGNATURE);
	memset(zero, 0xff, sizeof(zero));
	b64url(zero, 64, dot + 1);	/* r, s >= n */
	assert_int_equal(verify(tok, es_key, &r), AUTH_ERR_SIGNATURE);
	/* a DER signature where R||S belongs */
	{
		EVP_MD_CTX	*ctx = EVP_MD_CTX_new();
		unsigned char	 der[128];
		size_t		 len = sizeof(der);

		*dot = '\0';
		assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(),
		    NULL, ec_priv), 1);
		assert_int_equal(EVP_DigestSign(ctx, der, &len,
		    (unsigned char *)tok, strlen(tok)), 1);
		EVP_MD_CTX_free(ctx);
		*dot = '.';
		b64url(der, len, dot + 1);
		assert_int_equal(verify(tok, es_key, &r), AUTH_ERR_SIGNATURE);
	}
	/* RS256 signature one byte short */
	snprintf(tok, sizeof(tok), "%s", mk(RS, CLAIMS, AUTH_ALG_RS256));
	dot = strrchr(tok, '.');
	memset(zero, 0, sizeof(zero));
	b64url(zero, 64, dot + 1);
	assert_int_equal(verify(tok, rs_key, &r), AUTH_ERR_SIGNATURE);
}

/* ---- header and JSON strictness ------------------------------------- */

static void
test_header_rules(void **state)
{
	struct auth_claims_req r = req_default();

	(void)state;
	assert_int_equal(verify(mk("{\"alg\":\"HS256\",\"typ\":\"JOSE\"}",
	    CLAIMS, AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("{\"alg\":\"HS256\",\"typ\":1}",
	    CLAIMS, AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("{\"alg\":\"HS256\",\"crit\":[\"b64\"],"
	    "\"b64\":false}", CLAIMS, AUTH_ALG_HS256), hs_key, &r),
	    AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
	    CLAIMS, AUTH_ALG_HS256), hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("{\"alg\":\"none\",\"al\\u0067\":"
	    "\"HS256\"}", CLAIMS, AUTH_ALG_HS256), hs_key, &r),
	    AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("[\"HS256\"]", CLAIMS, AUTH_ALG_HS256),
	    hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify(mk("", CLAIMS, AUTH_ALG_HS256),
	    hs_key, &r), AUTH_ERR_HEADER);
	assert_int_equal(verify(mk(HS "x", CLAIMS, AUTH_ALG_HS256),
	    hs_key, &r), AUTH_ERR_HEADER);
}

static void
test_json_strict(void **state)
{
	static const char *bad[] = {
		"{\"exp\":1800000000,}",		/* trailing comma */
		"{\"exp\":1800000000",			/* unterminated */
		"{\"exp\":1800000000}}",		/* trailing garbage */
		"{\"exp\":1800000000} x",
		"{'exp':1800000000}",
		"{exp:1800000000}",
		"{\"exp\":01800000000}",		/* leading zero */
		"{\"exp\":+1800000000}",
		"{\"exp\":1800000000.}",
		"{\"exp\":.5}",
		"{\"exp\":1800000000,\"exp\":1}",	/* duplicate */
		"{\"exp\":1800000000,\"\\u0065xp\":1}",	/* same, escaped */
		"{\"exp\":1800000000,\"a\":\"\\x\"}",	/* bad escape */
		"{\"exp\":1800000000,\"a\":\"\\ud800\"}",	/* lone high */
		"{\"exp\":1800000000,\"a\":\"\\udc00\"}",	/* lone low */
		"{\"exp\":1800000000,\"a\":\"\\ud800\\u0041\"}",
		"{\"exp\":1800000000,\"a\":\"\\u12\"}",
		"{\"exp\":1800000000,\"a\":\"\t\"}",	/* raw control */
		"{\"exp\":1800000000,\"a\":\"\xc0\xaf\"}",	/* overlong */
		"{\"exp\":1800000000,\"a\":\"\xed\xa0\x80\"}",	/* surrogate */
		"{\"exp\":1800000000,\"a\":\"\xff\"}",
		"{\"exp\":1800000000,\"a\":\"\xe2\x82\"}",	/* truncated */
		"{\"exp\":1800000000,\"a\":tru}",
		"{\"exp\":1800000000,\"a\":nul}",
		"{\"exp\":1800000000,\"a\":[1,]}",
		"{\"exp\":1800000000,\"a\":{\"b\":1,\"b\":2}}",
		("{\"exp\":1800000000,\"a\":"
		    "[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]}"),	/* deep */
		"[]",
		"\"exp\"",
		"",
	};
	struct auth_claims_req r = req_default();
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hs_claims(bad[i], &r) != AUTH_ERR_CLAIMS)
			fail_msg("accepted payload %zu: %s", i, bad[i]);
	/* within bounds */
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"a\":"
	    "[[[[[[[[[[[[[[1]]]]]]]]]]]]]]}", &r), AUTH_OK);
	assert_int_equal(hs_claims("\t{\"exp\":1800000000}\r\n ", &r),
	    AUTH_OK);
	assert_int_equal(hs_claims("{\"exp\":1800000000,\"a\":\"\xf0\x9f\x98"
	    "\x80\xc3\xa9\"}", &r), AUTH_OK);
}

/*
 * The payload handed back (JWT target claims, read again by target.c) is
 * the claims as signed: reading them must not decode escapes in place.
 * Before the fix "127.0.0.\u0031" came back as "127.0.0.1u0031".
 */
static void
test_payload_as_signed(void **state)
{
	static const char claims[] = "{\"exp\":1800000000,\"host\":"
	    "\"127.0.0.\\u0031\",\"port\":5900,\"n\":\"a\\\"b\\n\"}";
	struct auth_claims_req r = req_default();
	const char *tok = mk(HS, claims, AUTH_ALG_HS256);
	char payload[512];
	size_t plen = 0;

	(void)state;
	assert_int_equal(auth_jwt_verify_payload(tok, strlen(tok), hs_key, &r,
	    payload, sizeof(payload), &plen), AUTH_OK);
	assert_int_equal(plen, strlen(claims));
	assert_string_equal(payload, claims);
	/* Too small a buffer is refused, not cut. */
	assert_int_equal(auth_jwt_verify_payload(tok, strlen(tok), hs_key, &r,
	    payload, strlen(claims), &plen), AUTH_ERR_TOO_LONG);
}

static void
test_too_many_members(void **state)
{
	struct auth_claims_req r = req_default();
	char	 payload[4096];
	size_t	 n, i;

	(void)state;
	for (int count = 63; count <= 64; count++) {
		n = (size_t)snprintf(payload, sizeof(payload),
		    "{\"exp\":1800000000");
		for (i = 0; i < (size_t)count; i++)
			n += (size_t)snprintf(payload + n, sizeof(payload) - n,
			    ",\"k%zu\":0", i);
		snprintf(payload + n, sizeof(payload) - n, "}");
		assert_int_equal(hs_claims(payload, &r),
		    count == 63 ? AUTH_OK : AUTH_ERR_CLAIMS);
	}
}

/* ---- keys and key files --------------------------------------------- */

static const char *
write_file(const char *name, const void *data, size_t len, mode_t mode)
{
	static char	 path[128];
	FILE		*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void
test_secret_file(void **state)
{
	struct auth_claims_req r = req_default();
	struct auth_key	*k;
	char		 err[512], buf[128];
	const char	*p;

	(void)state;
	/* one trailing newline is not part of the secret */
	snprintf(buf, sizeof(buf), "%s\n", secret);
	p = write_file("hs.key", buf, strlen(buf), 0600);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), 0);
	assert_int_equal(verify(mk(HS, CLAIMS, AUTH_ALG_HS256), k, &r),
	    AUTH_OK);
	auth_key_free(k);
	snprintf(buf, sizeof(buf), "%s\r\n", secret);
	p = write_file("hs.key", buf, strlen(buf), 0400);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), 0);
	assert_int_equal(verify(mk(HS, CLAIMS, AUTH_ALG_HS256), k, &r),
	    AUTH_OK);
	auth_key_free(k);
	/* group- or world-readable: refused, with the mode in the message */
	p = write_file("hs.key", secret, strlen(secret), 0644);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), -1);
	assert_null(k);
	assert_non_null(strstr(err, "readable by group or others"));
	assert_non_null(strstr(err, "644"));
	assert_non_null(strstr(err, p));
	p = write_file("hs.key", secret, strlen(secret), 0640);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), -1);
	p = write_file("hs.key", secret, strlen(secret), 0602);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), -1);
	/* short, PEM, missing, directory */
	p = write_file("short.key", "tooshort\n", 9, 0600);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "32 to"));
	p = write_file("pem.key", rsa_pem, strlen(rsa_pem), 0600);
	assert_int_equal(auth_key_load_secret(p, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "PEM"));
	snprintf(buf, sizeof(buf), "%s/nonexistent", tmpdir);
	assert_int_equal(auth_key_load_secret(buf, &k, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	assert_int_equal(auth_key_load_secret(tmpdir, &k, err, sizeof(err)),
	    -1);
	/* the secret never appears in a message */
	assert_null(strstr(err, secret));
}

static char *
pem_of(EVP_PKEY *pk, int pkcs1, int priv)
{
	BIO	*b = BIO_new(BIO_s_mem());
	char	*data, *s;
	long	 n;

	if (priv)
		assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL,
		    0, NULL, NULL), 1);
	else if (pkcs1) {
		OSSL_ENCODER_CTX *ec = OSSL_ENCODER_CTX_new_for_pkey(pk,
		    EVP_PKEY_PUBLIC_KEY, "PEM", "type-specific", NULL);

		assert_int_equal(OSSL_ENCODER_to_bio(ec, b), 1);
		OSSL_ENCODER_CTX_free(ec);
	}
	else
		assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
	n = BIO_get_mem_data(b, &data);
	s = strndup(data, (size_t)n);
	BIO_free(b);
	return s;
}

static int
load_pem(const char *pem, char *err, size_t errlen, enum auth_alg *alg)
{
	struct auth_key	*k;
	const char	*p = write_file("pub.pem", pem, strlen(pem), 0644);

	if (auth_key_load_public(p, &k, err, errlen) == -1) {
		assert_null(k);
		return -1;
	}
	*alg = auth_key_alg(k);
	auth_key_free(k);
	return 0;
}

static void
test_public_key_files(void **state)
{
	char		 err[512];
	char		*pem;
	enum auth_alg	 alg;
	EVP_PKEY	*pk;

	(void)state;
	assert_int_equal(load_pem(rsa_pem, err, sizeof(err), &alg), 0);
	assert_int_equal(alg, AUTH_ALG_RS256);
	assert_int_equal(load_pem(ec_pem, err, sizeof(err), &alg), 0);
	assert_int_equal(alg, AUTH_ALG_ES256);
	pem = pem_of(rsa_priv, 1, 0);		/* "RSA PUBLIC KEY" */
	assert_non_null(strstr(pem, "BEGIN RSA PUBLIC KEY"));
	assert_int_equal(load_pem(pem, err, sizeof(err), &alg), 0);
	assert_int_equal(alg, AUTH_ALG_RS256);
	free(pem);
	pem = pem_of(rsa_priv, 0, 1);		/* a private key */
	assert_int_equal(load_pem(pem, err, sizeof(err), &alg), -1);
	assert_non_null(strstr(err, "private key"));
	free(pem);
	pk = EVP_RSA_gen(1024);
	pem = pem_of(pk, 0, 0);
	assert_int_equal(load_pem(pem, err, sizeof(err), &alg), -1);
	assert_non_null(strstr(err, "2048"));
	free(pem);
	EVP_PKEY_free(pk);
	pk = EVP_EC_gen("P-384");
	pem = pem_of(pk, 0, 0);
	assert_int_equal(load_pem(pem, err, sizeof(err), &alg), -1);
	assert_non_null(strstr(err, "P-256"));
	free(pem);
	EVP_PKEY_free(pk);
	pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	pem = pem_of(pk, 0, 0);
	assert_int_equal(load_pem(pem, err, sizeof(err), &alg), -1);
	assert_non_null(strstr(err, "not supported"));
	free(pem);
	EVP_PKEY_free(pk);
	assert_int_equal(load_pem("garbage\n", err, sizeof(err), &alg), -1);
	assert_non_null(strstr(err, "pub.pem"));
	assert_int_equal(load_pem("", err, sizeof(err), &alg), -1);
}

/* ---- finding the token ---------------------------------------------- */

static int
qp(const char *query, char *out, size_t cap)
{
	size_t	 len = 0;
	char	*copy = strdup(query);
	int	 rc;

	rc = auth_query_param(copy, strlen(query), "token", out, cap, &len);
	free(copy);
	if (rc == 1)
		assert_int_equal(len, strlen(out));
	return rc;
}

static void
test_query_param(void **state)
{
	char	 out[64];

	(void)state;
	assert_int_equal(qp("token=abc", out, sizeof(out)), 1);
	assert_string_equal(out, "abc");
	assert_int_equal(qp("a=1&token=a.b-c_d&b=2", out, sizeof(out)), 1);
	assert_string_equal(out, "a.b-c_d");
	assert_int_equal(qp("token=%41%2b+x%2F", out, sizeof(out)), 1);
	assert_string_equal(out, "A+ x/");
	assert_int_equal(qp("token=", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(qp("token", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(qp("tokens=abc&xtoken=1&token2=x", out,
	    sizeof(out)), 0);
	assert_int_equal(qp("", out, sizeof(out)), 0);
	assert_int_equal(qp("&&", out, sizeof(out)), 0);
	assert_int_equal(qp("a=b=c&token=x=y", out, sizeof(out)), 1);
	assert_string_equal(out, "x=y");
	assert_int_equal(qp("token=a&token=b", out, sizeof(out)), -1);
	assert_int_equal(qp("token=%4", out, sizeof(out)), -1);
	assert_int_equal(qp("token=%zz", out, sizeof(out)), -1);
	assert_int_equal(qp("token=a%00b", out, sizeof(out)), -1);
	assert_int_equal(qp("token=abcd", out, 5), 1);
	assert_int_equal(qp("token=abcde", out, 5), -1);
	assert_int_equal(qp("token=%41%41%41%41", out, 5), 1);
}

static void
test_header_and_protocol(void **state)
{
	const char	*t;
	size_t		 n;

	(void)state;
	assert_true(auth_bearer_token("Bearer a.b.c", 12, &t, &n));
	assert_int_equal(n, 5);
	assert_memory_equal(t, "a.b.c", 5);
	assert_true(auth_bearer_token("bearer   a.b_c-  \t", 18, &t, &n));
	assert_int_equal(n, 6);
	assert_true(auth_bearer_token("BEARER abc==", 12, &t, &n));
	assert_int_equal(n, 5);
	assert_false(auth_bearer_token("Bearer", 6, &t, &n));
	assert_false(auth_bearer_token("Bearer ", 7, &t, &n));
	assert_false(auth_bearer_token("Bearerabc", 9, &t, &n));
	assert_false(auth_bearer_token("Basic abc", 9, &t, &n));
	assert_false(auth_bearer_token("Bearer a b", 10, &t, &n));
	assert_false(auth_bearer_token("Bearer a,b", 10, &t, &n));
	assert_false(auth_bearer_token("Bearer ab=c", 11, &t, &n));
	assert_false(auth_bearer_token("Bearer\tabc", 10, &t, &n));

	assert_true(auth_protocol_token("bearer.a.b.c", 12, &t, &n));
	assert_int_equal(n, 5);
	assert_memory_equal(t, "a.b.c", 5);
	assert_false(auth_protocol_token("bearer.", 7, &t, &n));
	assert_false(auth_protocol_token("bearer", 6, &t, &n));
	assert_false(auth_protocol_token("Bearer.abc", 10, &t, &n));
	assert_false(auth_protocol_token("binary", 6, &t, &n));
}

/* ---- htpasswd ------------------------------------------------------- */

static char *
hash_of(const char *prefix, const char *pw)
{
	char		 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	char		*h;

	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt,
	    sizeof(salt)));
	assert_non_null(crypt_rn(pw, salt, cd, sizeof(*cd)));
	h = strdup(cd->output);
	free(cd);
	return h;
}

static void
test_htpasswd(void **state)
{
	struct auth_htpasswd *h;
	char	*bc = hash_of("$2b$", "s3cret"), *yc = hash_of("$y$", "pw2");
	char	 text[1024], err[256];

	(void)state;
	snprintf(text, sizeof(text), "# users\n\nalice:%s\r\n  \n"
	    "bob:%s  \ncarol:%s", bc, yc, bc);
	assert_int_equal(auth_htpasswd_parse_string(text, "hp", &h, err,
	    sizeof(err)), 0);
	assert_int_equal(auth_htpasswd_count(h), 3);
	assert_int_equal(auth_htpasswd_check(h, "alice", 5, "s3cret", 6), 0);
	assert_int_equal(auth_htpasswd_check(h, "alice", 5, "s3creT", 6), -1);
	assert_int_equal(auth_htpasswd_check(h, "alice", 5, "s3cre", 5), -1);
	assert_int_equal(auth_htpasswd_check(h, "alice", 5, "s3cret\0", 7),
	    -1);
	assert_int_equal(auth_htpasswd_check(h, "bob", 3, "pw2", 3), 0);
	assert_int_equal(auth_htpasswd_check(h, "bob", 3, "s3cret", 6), -1);
	assert_int_equal(auth_htpasswd_check(h, "carol", 5, "s3cret", 6), 0);
	assert_int_equal(auth_htpasswd_check(h, "alic", 4, "s3cret", 6), -1);
	assert_int_equal(auth_htpasswd_check(h, "alicex", 6, "s3cret", 6),
	    -1);
	assert_int_equal(auth_htpasswd_check(h, "alice", 6, "s3cret", 6),
	    -1);		/* "alice\0" */
	assert_int_equal(auth_htpasswd_check(h, "dave", 4, "s3cret", 6), -1);
	assert_int_equal(auth_htpasswd_check(h, "", 0, "", 0), -1);
	auth_htpasswd_free(h);

	/* htpasswd -2 and -5: SHA-256 / SHA-512 crypt (libxcrypt calls the
	 * first legacy; taken all the same). */
	{
		char *s5 = hash_of("$5$", "five"), *s6 = hash_of("$6$", "six");

		snprintf(text, sizeof(text), "f:%s\ns:%s\n", s5, s6);
		assert_int_equal(auth_htpasswd_parse_string(text, "hp", &h,
		    err, sizeof(err)), 0);
		assert_int_equal(auth_htpasswd_check(h, "f", 1, "five", 4), 0);
		assert_int_equal(auth_htpasswd_check(h, "f", 1, "six", 3), -1);
		assert_int_equal(auth_htpasswd_check(h, "s", 1, "six", 3), 0);
		auth_htpasswd_free(h);
		free(s5);
		free(s6);
	}
	snprintf(text, sizeof(text), "alice:%s\nbob:%s\n#\nalice:%s\n", bc,
	    bc, yc);
	assert_int_equal(auth_htpasswd_parse_string(text, "hp", &h, err,
	    sizeof(err)), -1);
	assert_null(h);
	assert_string_equal(err, "hp:4: duplicate user (first at line 1)");
	assert_int_equal(auth_htpasswd_parse_string("a:$2b$\n", "hp", &h, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "hp:1: hash truncated or malformed");
	snprintf(text, sizeof(text), "a:%s\nb:%.*s\n", bc, 40, bc);
	assert_int_equal(auth_htpasswd_parse_string(text, "hp", &h, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "hp:2: hash truncated or malformed");
	snprintf(text, sizeof(text), "a:%s$\n", bc);
	assert_int_equal(auth_htpasswd_parse_string(text, "hp", &h, err,
	    sizeof(err)), -1);
	assert_int_equal(auth_htpasswd_parse_string("a:$1$abcdefgh$"
	    "0123456789abcdefghijkl\n", "hp", &h, err, sizeof(err)), -1);
	assert_string_equal(err, "hp:1: hash method not supported (use "
	    "bcrypt: htpasswd -B)");
	snprintf(text, sizeof(text), "a:%s\nb:$apr1$abcdefgh$0123456789abcdef"
	    "ghijkl\n", bc);
	assert_int_equal(auth_htpasswd_parse_string(text, "hp", &h, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "hp:2: hash method"));
	assert_int_equal(auth_htpasswd_parse_string("\n\nb:{SHA}abc=\n", "hp",
	    &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "hp:3:"));
	assert_int_equal(auth_htpasswd_parse_string("b:plaintext\n", "hp", &h,
	    err, sizeof(err)), -1);
	assert_int_equal(auth_htpasswd_parse_string("nocolon\n", "hp", &h,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "hp:1: expected user:hash");
	assert_int_equal(auth_htpasswd_parse_string(":x\n", "hp", &h,
	    err, sizeof(err)), -1);
	assert_int_equal(auth_htpasswd_parse_string("", "hp", &h,
	    err, sizeof(err)), 0);
	assert_int_equal(auth_htpasswd_check(h, "a", 1, "b", 1), -1);
	auth_htpasswd_free(h);
	assert_int_equal(auth_htpasswd_parse_string("\r", "hp", &h,
	    err, sizeof(err)), 0);
	auth_htpasswd_free(h);

	/* files: others may not read them, the group may */
	snprintf(text, sizeof(text), "alice:%s\n", bc);
	assert_int_equal(auth_htpasswd_load(write_file("htpasswd", text,
	    strlen(text), 0640), &h, err, sizeof(err)), 0);
	assert_int_equal(auth_htpasswd_check(h, "alice", 5, "s3cret", 6), 0);
	auth_htpasswd_free(h);
	assert_int_equal(auth_htpasswd_load(write_file("htpasswd", text,
	    strlen(text), 0644), &h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "readable by others"));
	free(bc);
	free(yc);
}

static void
test_basic_credentials(void **state)
{
	char		 buf[64];
	const char	*u, *p;
	size_t		 ul, pl;

	(void)state;
	/* "alice:pa:ss" */
	assert_int_equal(auth_basic_credentials("Basic YWxpY2U6cGE6c3M=", 22,
	    buf, sizeof(buf), &u, &ul, &p, &pl), 0);
	assert_int_equal(ul, 5);
	assert_memory_equal(u, "alice", 5);
	assert_int_equal(pl, 5);
	assert_memory_equal(p, "pa:ss", 5);
	/* "alice:" (empty password) */
	assert_int_equal(auth_basic_credentials("basic YWxpY2U6", 14, buf,
	    sizeof(buf), &u, &ul, &p, &pl), 0);
	assert_int_equal(pl, 0);
	/* ":pw" (no user), "alice" (no colon), bad base64, padding missing */
	assert_int_equal(auth_basic_credentials("Basic OnB3", 10, buf,
	    sizeof(buf), &u, &ul, &p, &pl), -1);
	assert_int_equal(auth_basic_credentials("Basic YWxpY2U=", 14, buf,
	    sizeof(buf), &u, &ul, &p, &pl), -1);
	assert_int_equal(auth_basic_credentials("Basic YWxpY2U6cGE6c3M", 21,
	    buf, sizeof(buf), &u, &ul, &p, &pl), -1);
	assert_int_equal(auth_basic_credentials("Basic YWxp*2U6", 14, buf,
	    sizeof(buf), &u, &ul, &p, &pl), -1);
	assert_int_equal(auth_basic_credentials("Bearer YWxpY2U6", 15, buf,
	    sizeof(buf), &u, &ul, &p, &pl), -1);
	assert_int_equal(auth_basic_credentials("Basic YWxpY2U6cGE6c3M=", 22,
	    buf, 8, &u, &ul, &p, &pl), -1);
	/* "a\tb:x" (control character in the user) */
	assert_int_equal(auth_basic_credentials("Basic YQliOng=", 14, buf,
	    sizeof(buf), &u, &ul, &p, &pl), -1);
}

static void
test_strerror(void **state)
{
	int	 e;

	(void)state;
	for (e = AUTH_OK; e >= AUTH_ERR_INTERNAL; e--)
		assert_non_null(strstr(auth_strerror(e), e == 0 ? "ok" :
		    "token"));
	assert_string_equal(auth_strerror(-99), "token refused");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_each_alg),
		cmocka_unit_test(test_exp_nbf_leeway),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_path_binding),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_alg_none_and_unknown),
		cmocka_unit_test(test_alg_confusion),
		cmocka_unit_test(test_es256_signature_shape),
		cmocka_unit_test(test_header_rules),
		cmocka_unit_test(test_json_strict),
		cmocka_unit_test(test_too_many_members),
		cmocka_unit_test(test_payload_as_signed),
		cmocka_unit_test(test_secret_file),
		cmocka_unit_test(test_public_key_files),
		cmocka_unit_test(test_query_param),
		cmocka_unit_test(test_header_and_protocol),
		cmocka_unit_test(test_htpasswd),
		cmocka_unit_test(test_basic_credentials),
		cmocka_unit_test(test_strerror),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
