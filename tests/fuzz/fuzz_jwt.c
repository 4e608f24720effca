/* libFuzzer driver for auth: the input as a token; then "header\npayload"
 * encoded and signed, so claims get past the signature; the extractors. */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "auth.h"

#define KEY	"fuzz-secret-fuzz-secret-fuzz-se!"	/* 32 bytes */
int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t	/* base64url of in at out + n, unpadded; the new end */
b64url(const void *in, size_t len, char *out, size_t n)
{
	size_t e = n + (size_t)EVP_EncodeBlock((uint8_t *)out + n, in, (int)len);

	for (; n < e && out[n] != '='; n++)
		out[n] = out[n] == '+' ? '-' : out[n] == '/' ? '_' : out[n];
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct auth_key *key;
	struct auth_claims_req req = { .now = 1700000000, .leeway_s = 60,
	    .audience = "wsgate", .path = "/vnc", .path_len = 4 };
	const char *s = (const char *)data, *nl, *a, *b;
	char	 tok[2 * AUTH_MAX_TOKEN], out[512];
	size_t	 n, al, bl;
	int	 rc;

	if ((key == NULL && auth_key_new_secret(KEY, 32, &key, out, 512)) ||
	    (rc = auth_jwt_verify(s, size, key, &req)) > 0 ||
	    rc < AUTH_ERR_INTERNAL)
		abort();
	if (size <= 6000 && (nl = memchr(s, '\n', size)) != NULL) {
		n = b64url(s, (size_t)(nl - s), tok, 0);
		tok[n] = '.';
		n = b64url(nl + 1, size - (size_t)(nl + 1 - s), tok, n + 1);
		HMAC(EVP_sha256(), KEY, 32, (uint8_t *)tok, n, (uint8_t *)out, 0);
		tok[n] = '.';
		rc = auth_jwt_verify(tok, b64url(out, 32, tok, n + 1), key, &req);
		if (rc > 0 || rc < AUTH_ERR_INTERNAL || rc == AUTH_ERR_FORMAT ||
		    rc == AUTH_ERR_TOO_LONG || rc == AUTH_ERR_SIGNATURE)
			abort();	/* it is signed right and short enough */
	}
	(void)auth_query_param(s, size, "token", out, sizeof(out), &n);
	(void)(auth_bearer_token(s, size, &a, &al) +
	    auth_protocol_token(s, size, &a, &al) + auth_basic_credentials(s,
	    size, out, sizeof(out), &a, &al, &b, &bl));
	return 0;
}
