/*
 * Unit tests for upgrade.c: the request-head parser, the RFC 6455 §4.2.1
 * checks, the accept key and the answer texts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "upgrade.h"

#define KEY	"dGhlIHNhbXBsZSBub25jZQ=="	/* RFC 6455 §1.3 */
#define ACCEPT	"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

static const char valid_req[] =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: " KEY "\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

/* The valid request's header lines, for mkreq(). */
static const char *const base_hdrs[] = {
	"Host: server.example.com",
	"Upgrade: websocket",
	"Connection: Upgrade",
	("Sec-WebSocket-Key: " KEY),
	"Origin: http://example.com",
	"Sec-WebSocket-Protocol: chat, superchat",
	"Sec-WebSocket-Version: 13",
};

static char reqbuf[65536];
static char post_buf[8192];	/* extra header lines for mkreq() */

/*
 * Build a request in reqbuf: request line `line` (NULL: the valid one),
 * the base headers except those named in `drop` ("Host|Origin|"), then
 * the raw lines `extra` (each with its CRLF), then the blank line.
 */
static size_t
mkreq(const char *line, const char *drop, const char *extra)
{
	char	name[64];
	size_t	i, n = 0;

	n += (size_t)snprintf(reqbuf + n, sizeof(reqbuf) - n, "%s\r\n",
	    line != NULL ? line : "GET /chat?room=1 HTTP/1.1");
	for (i = 0; i < sizeof(base_hdrs) / sizeof(base_hdrs[0]); i++) {
		snprintf(name, sizeof(name), "%.*s|",
		    (int)strcspn(base_hdrs[i], ":"), base_hdrs[i]);
		if (drop != NULL && strstr(drop, name) != NULL)
			continue;
		n += (size_t)snprintf(reqbuf + n, sizeof(reqbuf) - n, "%s\r\n",
		    base_hdrs[i]);
	}
	if (extra != NULL && *extra != '\0') {
		n += (size_t)snprintf(reqbuf + n, sizeof(reqbuf) - n, "%s",
		    extra);
		/* A last extra line without its CRLF gets one. */
		if (extra[strlen(extra) - 1] != '\n')
			n += (size_t)snprintf(reqbuf + n, sizeof(reqbuf) - n,
			    "\r\n");
	}
	n += (size_t)snprintf(reqbuf + n, sizeof(reqbuf) - n, "\r\n");
	assert_true(n < sizeof(reqbuf));
	return n;
}

static bool
slice_is(const struct upgrade_slice *s, const char *want)
{
	return s->len == strlen(want) && (s->len == 0 ||
	    memcmp(s->p, want, s->len) == 0);
}

/* Parse buf[0..len) and expect a refusal with status (and a reason). */
static void
expect_status_len(const char *buf, size_t len, int status)
{
	struct upgrade_req	req;
	int			rc;

	rc = upgrade_parse(buf, len, 0, &req);
	if (rc != -1 || req.status != status)
		print_error("want %d, got rc %d status %d (%s) for:\n%.*s\n",
		    status, rc, req.status, req.error ? req.error : "-",
		    (int)len, buf);
	assert_int_equal(rc, -1);
	assert_int_equal(req.status, status);
	assert_non_null(req.error);
}

/* The same for a string literal, which may hold NUL bytes. */
#define expect_lit(s, status) expect_status_len((s), sizeof(s) - 1, (status))

static void
expect_status(size_t len, int status)
{
	expect_status_len(reqbuf, len, status);
}

/* A refusal whose reason mentions what. */
static void
expect_error(size_t len, int status, const char *what)
{
	struct upgrade_req	req;

	expect_status(len, status);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), -1);
	assert_non_null(strstr(req.error, what));
}

static void
expect_ok(size_t len)
{
	struct upgrade_req	req;
	int			rc;

	rc = upgrade_parse(reqbuf, len, 0, &req);
	if (rc != (int)len)
		print_error("want ok, got rc %d status %d (%s) for:\n%.*s\n",
		    rc, req.status, req.error ? req.error : "-",
		    (int)len, reqbuf);
	assert_int_equal(rc, (int)len);
	assert_int_equal(req.status, 0);
	assert_null(req.error);
}

/* The fields of valid_req, parsed from p. */
static void
check_valid_fields(const char *p, const struct upgrade_req *req)
{
	assert_true(slice_is(&req->method, "GET"));
	assert_true(slice_is(&req->target, "/chat?room=1"));
	assert_true(slice_is(&req->path, "/chat"));
	assert_true(slice_is(&req->query, "room=1"));
	assert_true(slice_is(&req->host, "server.example.com"));
	assert_true(slice_is(&req->origin, "http://example.com"));
	assert_true(slice_is(&req->key, KEY));
	assert_int_equal(req->nforwarded_for, 0);
	assert_int_equal(req->nprotocols, 2);
	assert_true(slice_is(&req->protocols[0], "chat"));
	assert_true(slice_is(&req->protocols[1], "superchat"));
	/* Slices point into the caller's buffer. */
	assert_ptr_equal(req->method.p, p);
	assert_true(req->key.p > p && req->key.p < p + sizeof(valid_req));
}

/* RFC 6455 §1.3 / §4.2.2 example. */
static void
test_accept_key(void **state)
{
	char	out[UPGRADE_ACCEPT_LEN + 1];

	(void)state;
	assert_int_equal(upgrade_accept_key(KEY, strlen(KEY), out), 0);
	assert_string_equal(out, ACCEPT);
	assert_int_equal(strlen(out), UPGRADE_ACCEPT_LEN);
}

/* Keys whose answers hold '+' and '/' in every place base64 can put
 * them, and the all-zero and all-ones 16 bytes (Python's hashlib). */
static void
test_accept_key_vectors(void **state)
{
	static const char *const v[][2] = {
		{ "UvImZaYMEtKJGF2VDuiBNg==", "cHMn22GzZlGAa8CBaeJUk2re/LY=" },
		{ "CRZvaxE9F41sD9OQH/I5oQ==", "SBXRnzy4FffbfBy0Rz2FHk79YpM=" },
		{ "JIoekk6P0K4uGpSSozBfGA==", "S5KLlZI+/prUxI8f1tc53PA6fTs=" },
		{ "BTTz84dcJbCL6gbCh0z6pA==", "+eJ97obRMRI6igRLbo8uswRvVhg=" },
		{ "IAcml+d3zqclnNOY+nmo7w==", "4HVJtuuM3+4McqqfhxZEqM/Wfls=" },
		{ "KqQpEzWA589/jDhz6FX/wg==", "+FktrKFXov9fRG64NBdh60g8Tjg=" },
		{ "AAAAAAAAAAAAAAAAAAAAAA==", "ICX+Yqv66kxgM0FcWaLWlFLwTAI=" },
		{ "/////////////////////w==", "XXpj4jYzLM2yUE0C7TIgMwTQh2g=" },
	};
	char	out[UPGRADE_ACCEPT_LEN + 1];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(out, 'x', sizeof(out));
		assert_int_equal(upgrade_accept_key(v[i][0], 24, out), 0);
		assert_string_equal(out, v[i][1]);
	}
}

/* The answer for key, computed here with OpenSSL's own encoder. */
static void
ref_accept(const char *key, char out[UPGRADE_ACCEPT_LEN + 1])
{
	unsigned char	buf[24 + 36], md[20];
	unsigned int	mdlen;

	memcpy(buf, key, 24);
	memcpy(buf + 24, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
	assert_int_equal(EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha1(),
	    NULL), 1);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out, md, 20),
	    UPGRADE_ACCEPT_LEN);
}

/* A random valid key (16 random bytes, base64) into key. */
static void
random_key(unsigned *seed, char key[25])
{
	unsigned char	raw[16];
	size_t		i;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (unsigned char)(rand_r(seed) >> 7);
	assert_int_equal(EVP_EncodeBlock((unsigned char *)key, raw, 16), 24);
}

/* Many digests: the hand-written base64 agrees with EVP_EncodeBlock. */
static void
test_accept_key_random(void **state)
{
	char		key[25], got[UPGRADE_ACCEPT_LEN + 1];
	char		want[UPGRADE_ACCEPT_LEN + 1];
	unsigned	seed = 14;
	int		i;

	(void)state;
	for (i = 0; i < 20000; i++) {
		random_key(&seed, key);
		ref_accept(key, want);
		assert_int_equal(upgrade_accept_key(key, 24, got), 0);
		assert_string_equal(got, want);
	}
}

/* Each thread hashes in a context of its own, freed when it ends. */
static void *
accept_thread(void *arg)
{
	char		key[25], got[UPGRADE_ACCEPT_LEN + 1];
	char		want[UPGRADE_ACCEPT_LEN + 1];
	unsigned	seed = (unsigned)(uintptr_t)arg;
	int		i;

	for (i = 0; i < 2000; i++) {
		random_key(&seed, key);
		ref_accept(key, want);
		if (upgrade_accept_key(key, 24, got) != 0 ||
		    strcmp(got, want) != 0)
			return (void *)1;
	}
	return NULL;
}

static void
test_accept_key_threads(void **state)
{
	pthread_t	t[4];
	void		*r;
	uintptr_t	i;

	(void)state;
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, accept_thread,
		    (void *)(i + 1)), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
}

static void
test_valid_whole(void **state)
{
	struct upgrade_req	req;
	size_t			len = sizeof(valid_req) - 1;

	(void)state;
	assert_int_equal(upgrade_parse(valid_req, len, 0, &req), (int)len);
	assert_int_equal(req.status, 0);
	assert_null(req.error);
	check_valid_fields(valid_req, &req);
	/* max_head exactly the head's length still fits. */
	assert_int_equal(upgrade_parse(valid_req, len, len, &req), (int)len);
	assert_int_equal(upgrade_parse(valid_req, len, len - 1, &req), -1);
	assert_int_equal(req.status, 431);
}

/* Every shorter prefix is incomplete: -2, never an answer. */
static void
test_valid_every_prefix(void **state)
{
	struct upgrade_req	req;
	size_t			k, len = sizeof(valid_req) - 1;

	(void)state;
	for (k = 0; k < len; k++) {
		memset(&req, 0xa5, sizeof(req));
		assert_int_equal(upgrade_parse(valid_req, k, 0, &req), -2);
		assert_int_equal(req.status, 0);
		assert_null(req.error);
	}
}

/* A caller re-parses its growing buffer: prefix first, then the rest. */
static void
test_valid_every_split(void **state)
{
	struct upgrade_req	req;
	char			buf[sizeof(valid_req)];
	size_t			k, len = sizeof(valid_req) - 1;

	(void)state;
	for (k = 0; k <= len; k++) {
		memset(buf, 'X', sizeof(buf));
		memcpy(buf, valid_req, k);
		if (k < len)
			assert_int_equal(upgrade_parse(buf, k, 0, &req), -2);
		memcpy(buf + k, valid_req + k, len - k);
		assert_int_equal(upgrade_parse(buf, len, 0, &req), (int)len);
		check_valid_fields(buf, &req);
	}
}

/* Bytes after the head are frame data and are not consumed. */
static void
test_trailing_frame_bytes(void **state)
{
	struct upgrade_req	req;
	char			buf[sizeof(valid_req) + 16];
	size_t			len = sizeof(valid_req) - 1;
	static const char	frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f"
				    "\x4d\x51\x58\r\n\r\n";

	(void)state;
	memcpy(buf, valid_req, len);
	memcpy(buf + len, frame, sizeof(frame) - 1);
	assert_int_equal(upgrade_parse(buf, len + sizeof(frame) - 1, 0, &req),
	    (int)len);
	check_valid_fields(buf, &req);
	/* Trailing bytes past max_head do not matter either. */
	assert_int_equal(upgrade_parse(buf, len + sizeof(frame) - 1, len, &req),
	    (int)len);
}

static void
test_missing_headers(void **state)
{
	(void)state;
	expect_status(mkreq(NULL, "Host|", NULL), 400);
	expect_status(mkreq(NULL, "Upgrade|", NULL), 400);
	expect_status(mkreq(NULL, "Connection|", NULL), 400);
	expect_status(mkreq(NULL, "Sec-WebSocket-Key|", NULL), 400);
	expect_status(mkreq(NULL, "Sec-WebSocket-Version|", NULL), 400);
	/* Origin and Sec-WebSocket-Protocol are optional. */
	expect_ok(mkreq(NULL, "Origin|Sec-WebSocket-Protocol|", NULL));
	/* A plain GET is not an upgrade (see test_plain_*). */
	{
		static const char	plain[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
		struct upgrade_req	req;

		assert_int_equal(upgrade_parse(plain, sizeof(plain) - 1, 0,
		    &req), UPGRADE_PLAIN);
	}
}

static void
test_missing_fields_zero(void **state)
{
	struct upgrade_req	req;
	size_t			len;

	(void)state;
	len = mkreq("GET /x HTTP/1.1", "Origin|Sec-WebSocket-Protocol|", NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_int_equal(req.origin.len, 0);
	assert_int_equal(req.nprotocols, 0);
	assert_int_equal(req.query.len, 0);
	assert_true(slice_is(&req.path, "/x"));
}

static void
test_duplicates(void **state)
{
	(void)state;
	expect_status(mkreq(NULL, NULL, "Host: other\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "Upgrade: websocket\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "Sec-WebSocket-Key: " KEY "\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "Origin: http://example.com\r\n"), 400);
	/* Case-insensitive names still count as the same header. */
	expect_status(mkreq(NULL, NULL, "HOST: server.example.com\r\n"), 400);
	/* List headers may repeat. */
	expect_ok(mkreq(NULL, NULL, "Connection: keep-alive\r\n"));
	expect_ok(mkreq(NULL, NULL, "Sec-WebSocket-Protocol: x\r\n"));
}

static void
test_version(void **state)
{
	struct upgrade_req	req;
	char			out[512];
	size_t			len;
	int			n;

	(void)state;
	expect_status(mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 8\r\n"), 426);
	expect_status(mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 13, 8\r\n"), 426);
	expect_status(mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 013\r\n"), 426);
	expect_status(mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version:\r\n"), 426);
	expect_status(mkreq(NULL, NULL, "Sec-WebSocket-Version: 8\r\n"), 426);
	expect_ok(mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: \t13 \r\n"));

	len = mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 7\r\n");
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), -1);
	n = upgrade_response_error(out, sizeof(out), req.status, req.error);
	assert_true(n > 0);
	assert_non_null(strstr(out, "HTTP/1.1 426 Upgrade Required\r\n"));
	assert_non_null(strstr(out, "\r\nSec-WebSocket-Version: 13\r\n"));
}

static void
test_method(void **state)
{
	(void)state;
	expect_status(mkreq("POST /chat HTTP/1.1", NULL, NULL), 405);
	expect_status(mkreq("get /chat HTTP/1.1", NULL, NULL), 405);
	expect_status(mkreq("GETX /chat HTTP/1.1", NULL, NULL), 405);
	expect_status(mkreq("HEAD /chat HTTP/1.1", NULL, NULL), 405);
	/* Not a token: syntax. */
	expect_status(mkreq("G(T /chat HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq(" GET /chat HTTP/1.1", NULL, NULL), 400);
}

static void
test_http_version(void **state)
{
	(void)state;
	expect_status(mkreq("GET /chat HTTP/1.0", NULL, NULL), 400);
	expect_status(mkreq("GET /chat HTTP/2.0", NULL, NULL), 400);
	expect_status(mkreq("GET /chat HTTP/0.9", NULL, NULL), 400);
	expect_status(mkreq("GET /chat http/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET /chat HTTP/1.11", NULL, NULL), 400);
	expect_status(mkreq("GET /chat HTTP/1.", NULL, NULL), 400);
	expect_status(mkreq("GET /chat", NULL, NULL), 400);
	expect_status(mkreq("GET /chat HTTP/1.1 ", NULL, NULL), 400);
	expect_status(mkreq("GET  /chat HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET /chat  HTTP/1.1", NULL, NULL), 400);
	expect_ok(mkreq("GET /chat HTTP/1.2", NULL, NULL));
	expect_ok(mkreq("GET /chat HTTP/1.9", NULL, NULL));
}

static void
test_target(void **state)
{
	struct upgrade_req	req;
	size_t			len;

	(void)state;
	expect_status(mkreq("GET * HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET h:80 HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET /a#frag HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET /a\x7f HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET /a\x80 HTTP/1.1", NULL, NULL), 400);
	expect_status(mkreq("GET /a\tb HTTP/1.1", NULL, NULL), 400);

	len = mkreq("GET / HTTP/1.1", NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_true(slice_is(&req.path, "/"));
	assert_int_equal(req.query.len, 0);

	len = mkreq("GET /a/b?x=1&y=2?z HTTP/1.1", NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_true(slice_is(&req.target, "/a/b?x=1&y=2?z"));
	assert_true(slice_is(&req.path, "/a/b"));
	assert_true(slice_is(&req.query, "x=1&y=2?z"));

	len = mkreq("GET /a? HTTP/1.1", NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_true(slice_is(&req.path, "/a"));
	assert_int_equal(req.query.len, 0);
}

/*
 * Issue 11 item 9: absolute-form targets (RFC 9112 §3.2.2) are accepted:
 * path and query come from the URI, and its authority is the host,
 * whatever the Host header says (which must still be there, once, and
 * valid: §3.2).
 */
static void
test_target_absolute_form(void **state)
{
	static const char *const ok[][5] = {
		/* line, path, query, host, target */
		{ "GET http://h.example/chat?room=1 HTTP/1.1", "/chat",
		    "room=1", "h.example", "http://h.example/chat?room=1" },
		{ "GET HTTPS://h.example:8443/a/b HTTP/1.1", "/a/b", "",
		    "h.example:8443", NULL },
		{ "GET ws://[::1]:80/x HTTP/1.1", "/x", "", "[::1]:80", NULL },
		{ "GET wss://h/ HTTP/1.1", "/", "", "h", NULL },
		/* An empty path is "/" (RFC 9110 §4.2.3). */
		{ "GET http://h HTTP/1.1", "/", "", "h", NULL },
		{ "GET http://h?q=2 HTTP/1.1", "/", "q=2", "h", NULL },
	};
	static const char *const bad[] = {
		"GET http:/h/chat HTTP/1.1",		/* no authority */
		"GET http:///chat HTTP/1.1",		/* empty host */
		"GET http://u@h/chat HTTP/1.1",		/* userinfo */
		"GET ftp://h/chat HTTP/1.1",		/* not http(s)/ws(s) */
		"GET http//h/chat HTTP/1.1",		/* no scheme */
		"GET 1http://h/ HTTP/1.1",		/* scheme starts ALPHA */
		"GET http://h\"/ HTTP/1.1",		/* bad authority byte */
		"GET mailto:a@b HTTP/1.1",
		"GET h:80 HTTP/1.1",			/* authority-form */
	};
	struct upgrade_req	req;
	size_t			i, len;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		len = mkreq(ok[i][0], NULL, NULL);
		assert_int_equal(upgrade_parse(reqbuf, len, 0, &req),
		    (int)len);
		assert_true(slice_is(&req.path, ok[i][1]));
		assert_true(slice_is(&req.query, ok[i][2]));
		assert_true(slice_is(&req.host, ok[i][3]));
		/* Slices stay inside the caller's buffer. */
		assert_true(req.path.p >= reqbuf && req.path.p < reqbuf + len);
		if (ok[i][4] != NULL)
			assert_true(slice_is(&req.target, ok[i][4]));
		/* The same as a plain request, for the static root. */
		len = mkreq(ok[i][0], "Upgrade|Sec-WebSocket-Key|"
		    "Sec-WebSocket-Version|Sec-WebSocket-Protocol|", NULL);
		assert_int_equal(upgrade_parse(reqbuf, len, 0, &req),
		    UPGRADE_PLAIN);
		assert_true(slice_is(&req.path, ok[i][1]));
		assert_true(slice_is(&req.host, ok[i][3]));
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_status(mkreq(bad[i], NULL, NULL), 400);
	/* Host is still required (HTTP/1.1), single and valid (§3.2). */
	expect_status(mkreq("GET http://h/chat HTTP/1.1", "Host|", NULL), 400);
	expect_status(mkreq("GET http://h/chat HTTP/1.1", NULL, "Host: b"),
	    400);
	expect_status(mkreq("GET http://h/chat HTTP/1.1", "Host|",
	    "Host: a b"), 400);
	/* HTTP/1.0 may omit Host: the authority names the host. */
	len = (size_t)snprintf(reqbuf, sizeof(reqbuf),
	    "GET http://h.example/f HTTP/1.0\r\n\r\n");
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), UPGRADE_PLAIN);
	assert_true(slice_is(&req.host, "h.example"));
	assert_true(slice_is(&req.path, "/f"));
	/* Incomplete, the request line waits; every prefix is -2. */
	len = mkreq("GET http://h.example/chat HTTP/1.1", NULL, NULL);
	for (i = 0; i < len; i++)
		assert_int_equal(upgrade_parse(reqbuf, i, 0, &req), -2);
}

static void
test_bad_keys(void **state)
{
	static const char *const bad[] = {
		"",
		"dGhlIHNhbXBsZQ==",			/* too short */
		"dGhlIHNhbXBsZSBub25jZQ=",		/* 23 */
		"dGhlIHNhbXBsZSBub25jZQ===",		/* 25 */
		"dGhlIHNhbXBsZSBub25jZQ==A",		/* 25 */
		"dGhlIHNhbXBsZSBub25j!Q==",		/* alphabet */
		"dGhlIHNhbXBsZSBub25j-Q==",		/* base64url */
		"dGhlIHNhbXBsZSBub25jZQ=A",		/* pad */
		"dGhlIHNhbXBsZSBub2=jZQ==",		/* pad inside */
		"dGhlIHNhbXBsZSBub25jZWFh",		/* 18 bytes */
		"dGhlIHNhbXBsZSBub25j",			/* 15 bytes */
		"dGhlIHNhbXBsZSBub25jZWE=",		/* 17 bytes */
		"dGhlIHNhbX BsZSBub25jZQ==",		/* space inside */
		("dGhlIHNhbXBsZSBub25jZQ==, " KEY),	/* two keys */
	};
	char	line[128];
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "Sec-WebSocket-Key: %s\r\n",
		    bad[i]);
		expect_status(mkreq(NULL, "Sec-WebSocket-Key|", line), 400);
	}
	/* Trimmed, and the padding bits are not checked (see upgrade.c). */
	expect_ok(mkreq(NULL, "Sec-WebSocket-Key|",
	    "Sec-WebSocket-Key: \t" KEY " \t\r\n"));
	expect_ok(mkreq(NULL, "Sec-WebSocket-Key|",
	    "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAA/==\r\n"));
	expect_ok(mkreq(NULL, "Sec-WebSocket-Key|",
	    "Sec-WebSocket-Key: +/+/+/+/+/+/+/+/+/+/+w==\r\n"));
}

static void
test_line_syntax(void **state)
{
	(void)state;
	/* obs-fold */
	expect_error(mkreq(NULL, NULL, "X-A: b\r\n c\r\n"), 400, "folding");
	expect_error(mkreq(NULL, NULL, "X-A: b\r\n\tc\r\n"), 400, "folding");
	/* space or tab before the colon */
	expect_error(mkreq(NULL, NULL, "X-A : b\r\n"), 400, "colon");
	expect_error(mkreq(NULL, NULL, "X-A\t: b\r\n"), 400, "colon");
	expect_status(mkreq(NULL, "Host|", "Host : a\r\n"), 400);
	/* no colon, empty name, bad name char */
	expect_status(mkreq(NULL, NULL, "X-A b\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "X-A\r\n"), 400);
	expect_status(mkreq(NULL, NULL, ": b\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "X(A): b\r\n"), 400);
	/* control characters in values; obs-text is fine */
	expect_status(mkreq(NULL, NULL, "X-A: b\x01\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "X-A: b\x7f\r\n"), 400);
	expect_ok(mkreq(NULL, NULL, "X-A: \xc3\xa9t\xc3\xa9 \t x\r\n"));
	expect_ok(mkreq(NULL, NULL, "X-Empty:\r\n"));
	expect_ok(mkreq(NULL, NULL, "X-Empty:  \t \r\n"));
	/* a leading empty line */
	expect_lit("\r\nGET / HTTP/1.1\r\n\r\n", 400);
}

static void
test_nul_cr_lf(void **state)
{
	size_t	len;

	(void)state;
	/* NUL in a value, in a name, in the request line */
	len = mkreq(NULL, NULL, "X-A: b#c\r\n");
	*strchr(reqbuf, '#') = '\0';
	expect_error(len, 400, "NUL");
	len = mkreq(NULL, NULL, "X-#: b\r\n");
	*strchr(reqbuf, '#') = '\0';
	expect_status(len, 400);
	len = mkreq("GET /a#b HTTP/1.1", NULL, NULL);
	*strchr(reqbuf, '#') = '\0';
	expect_status(len, 400);
	/* bare CR in a value, at a line's end, in the request line */
	expect_error(mkreq(NULL, NULL, "X-A: b\rc\r\n"), 400, "bare CR");
	expect_status(mkreq(NULL, NULL, "X-A: b\r\r\n"), 400);
	expect_status(mkreq("GET /a HTTP/1.1\r", NULL, NULL), 400);
	expect_status(mkreq("GET /a\r HTTP/1.1", NULL, NULL), 400);
	/* bare LF ending a header line, the request line, the head */
	expect_error(mkreq(NULL, NULL, "X-A: b\nX-B: c\r\n"), 400, "bare LF");
	expect_status(mkreq("GET /a HTTP/1.1\nHost: x", NULL, NULL), 400);
	expect_lit("GET / HTTP/1.1\nHost: a\n\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\n\n\r\n\r\n", 400);
	/* a bare CR where the blank line should be */
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\n\rx\r\n\r\n", 400);
}

/* Garbage is refused before the head is complete. */
static void
test_early_reject(void **state)
{
#define E(s) { (s), sizeof(s) - 1 }
	static const struct {
		const char	*s;
		size_t		 len;
	} early[] = {
		E("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
		E("\x16"), E("\x00"), E(" "), E("\r\n"), E("\n"), E("GET\tx"),
		E("GET x"), E("GET httpx"), E("GET wss:/x"), E("GET *"),
		E("GET /a b"), E("GET / HTTP/2"),
		E("GET / HTTPS"), E("GET / HTTP/1.1\n"),
		E("GET / HTTP/1.1\r\r"), E("GET / HTTP/1.1\r\nHost : a"),
		E("GET / HTTP/1.1\r\n Host: a"),
		E("GET / HTTP/1.1\r\nHost: a\n"),
		E("GET / HTTP/1.1\r\nHo\x00st"),
		E("GET / HTTP/1.1\r\nHost: a\x01"),
		E("GET / HTTP/1.1\r\nHost: a\r\nX\r\n"),
		E("SSH-2.0-OpenSSH_9.2\r\n"),
		E("\x80\x01\x01\x00\x03"),
		E("GET / HTTP/1.x"), E("GET / HTTP/1.0\r\nHost: a\n"),
	};
#undef E
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++)
		expect_status_len(early[i].s, early[i].len, 400);
	/* A valid start of a POST waits for the whole head (405 is later). */
	{
		struct upgrade_req	req;

		static const char	post[] = "POST / HTTP/1.1\r\nA: b";

		assert_int_equal(upgrade_parse(post, sizeof(post) - 1, 0, &req),
		    -2);
	}
}

static void
test_head_too_large(void **state)
{
	struct upgrade_req	req;
	char			pad[9000];
	size_t			len;

	(void)state;
	memset(pad, 'a', sizeof(pad));
	memcpy(pad, "X-Pad: ", 7);
	memcpy(pad + sizeof(pad) - 3, "\r\n", 3);
	/* Whole head seen, too large. */
	len = mkreq(NULL, NULL, pad);
	expect_status(len, 431);
	/* Only the first max_head bytes seen, no end yet. */
	assert_int_equal(upgrade_parse(reqbuf, UPGRADE_DEFAULT_MAX_HEAD, 0,
	    &req), -1);
	assert_int_equal(req.status, 431);
	assert_int_equal(upgrade_parse(reqbuf, UPGRADE_DEFAULT_MAX_HEAD - 1, 0,
	    &req), -2);
	/* A small max_head. */
	len = mkreq(NULL, NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 64, &req), -1);
	assert_int_equal(req.status, 431);
	assert_int_equal(upgrade_parse(reqbuf, 63, 64, &req), -2);
	assert_int_equal(upgrade_parse(reqbuf, 64, 64, &req), -1);
	assert_int_equal(req.status, 431);
	/* A head of exactly max_head bytes fits. */
	assert_int_equal(upgrade_parse(reqbuf, len, len, &req), (int)len);
	assert_int_equal(upgrade_parse(reqbuf, len, len - 1, &req), -1);
	assert_int_equal(req.status, 431);
}

static void
test_too_many_headers(void **state)
{
	char	extra[4096];
	size_t	i, n, base;

	(void)state;
	base = sizeof(base_hdrs) / sizeof(base_hdrs[0]);
	/* mkreq adds one line for extra; fill up to exactly 100 headers. */
	for (n = 0, i = 0; i < 100 - base - 1; i++)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    "X-%zu: v\r\n", i);
	snprintf(extra + n, sizeof(extra) - n, "X-Last: v");
	expect_ok(mkreq(NULL, NULL, extra));
	snprintf(extra + n, sizeof(extra) - n, "X-Last: v\r\nX-Over: v");
	expect_status(mkreq(NULL, NULL, extra), 431);
	/* Also when the head is not complete yet. */
	expect_status_len(reqbuf, strlen(reqbuf) - 2, 431);
}

/* 431 > 400 syntax > 405 > 400 headers > 426. */
static void
test_order(void **state)
{
	char	pad[9000];
	char	extra[4096];
	size_t	i, n;

	(void)state;
	memset(pad, 'a', sizeof(pad));
	memcpy(pad, "X-Pad: \x01", 8);
	memcpy(pad + sizeof(pad) - 3, "\r\n", 3);
	expect_status(mkreq("POST / HTTP/1.1", "Host|", pad), 431);
	for (n = 0, i = 0; i < 120; i++)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
		    "X-%zu: v\r\n", i);
	snprintf(extra + n, sizeof(extra) - n, "X A: v");
	expect_status(mkreq(NULL, NULL, extra), 431);
	expect_status(mkreq("POST / HTTP/1.1", NULL, "X A: b\r\n"), 400);
	expect_status(mkreq("POST / HTTP/1.1", "Host|", NULL), 405);
	expect_status(mkreq("POST / HTTP/1.1", "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 8\r\n"), 405);
	expect_status(mkreq(NULL, "Host|Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 8\r\n"), 400);
	expect_status(mkreq(NULL, "Sec-WebSocket-Key|Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 8\r\nSec-WebSocket-Key: x\r\n"), 400);
}

static void
test_connection_variants(void **state)
{
	static const char *const good[] = {
		"Connection: keep-alive, Upgrade\r\n",
		"Connection: Upgrade,keep-alive\r\n",
		"Connection:upgrade\r\n",
		"Connection: \t UPGRADE \t\r\n",
		"Connection: ,, keep-alive ,,Upgrade , ,\r\n",
		"Connection: keep-alive\r\nConnection: Upgrade\r\n",
		"Connection: Upgrade\r\nConnection: close\r\n",
	};
	static const char *const bad[] = {
		"Connection: keep-alive\r\n",
		"Connection: Upgrades\r\n",
		"Connection: up grade\r\n",
		"Connection: Upgrade-x, keep-alive\r\n",
		"Connection: \"Upgrade\"\r\n",
		"Connection:\r\n",
		"Connection: keep-alive\r\nConnection: close\r\n",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		expect_ok(mkreq(NULL, "Connection|", good[i]));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_status(mkreq(NULL, "Connection|", bad[i]), 400);
}

static void
test_upgrade_variants(void **state)
{
	(void)state;
	expect_ok(mkreq(NULL, "Upgrade|", "Upgrade: WebSocket\r\n"));
	expect_ok(mkreq(NULL, "Upgrade|", "Upgrade: h2c, websocket\r\n"));
	expect_ok(mkreq(NULL, "Upgrade|", "Upgrade:WEBSOCKET , foo\r\n"));
	expect_status(mkreq(NULL, "Upgrade|", "Upgrade: h2c\r\n"), 400);
	expect_status(mkreq(NULL, "Upgrade|", "Upgrade: websockets\r\n"), 400);
	expect_status(mkreq(NULL, "Upgrade|", "Upgrade:\r\n"), 400);
}

static void
test_case_insensitive(void **state)
{
	struct upgrade_req	req;
	size_t			len;

	(void)state;
	len = mkreq(NULL, "Host|Upgrade|Connection|Sec-WebSocket-Key|"
	    "Sec-WebSocket-Version|Origin|Sec-WebSocket-Protocol|",
	    "hOST: h\r\nUPGRADE: webSOCKET\r\nconnection: UpGrAdE\r\n"
	    "SEC-WEBSOCKET-KEY: " KEY "\r\nsec-websocket-version: 13\r\n"
	    "ORIGIN: o\r\nsec-WebSocket-protocol: a\r\n"
	    "x-FORWARDED-for: 1.2.3.4");
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_true(slice_is(&req.host, "h"));
	assert_true(slice_is(&req.origin, "o"));
	assert_true(slice_is(&req.key, KEY));
	assert_int_equal(req.nprotocols, 1);
	assert_int_equal(req.nforwarded_for, 1);
	assert_true(slice_is(&req.forwarded_for[0], "1.2.3.4"));
}

static void
test_host_origin_values(void **state)
{
	struct upgrade_req	req;
	size_t			len;

	(void)state;
	expect_status(mkreq(NULL, "Host|", "Host:\r\n"), 400);
	expect_status(mkreq(NULL, "Host|", "Host:  \r\n"), 400);
	expect_status(mkreq(NULL, "Host|", "Host: a b\r\n"), 400);
	expect_status(mkreq(NULL, "Host|", "Host: a/b\r\n"), 400);
	expect_status(mkreq(NULL, "Host|", "Host: u@h\r\n"), 400);
	expect_status(mkreq(NULL, "Host|", "Host: h\xc3\xa9\r\n"), 400);
	expect_ok(mkreq(NULL, "Host|", "Host: xn--e1a.example:443\r\n"));
	expect_ok(mkreq(NULL, "Host|", "Host: 192.0.2.1\r\n"));
	len = mkreq(NULL, "Host|", "Host: \t[::1]:8080 \t");
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_true(slice_is(&req.host, "[::1]:8080"));
}

static void
test_forwarded_for(void **state)
{
	struct upgrade_req	req;
	size_t			len;

	(void)state;
	/* Issue 11 item 7: repeated lines are one list (RFC 9110 §5.3). */
	len = mkreq(NULL, NULL, "X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n"
	    "X-Forwarded-For:  192.0.2.7 ");
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_int_equal(req.nforwarded_for, 2);
	assert_true(slice_is(&req.forwarded_for[0], "10.0.0.1, 10.0.0.2"));
	assert_true(slice_is(&req.forwarded_for[1], "192.0.2.7"));
	/* Past the bound the last lines are kept, in order. */
	{
		char	hdrs[64 * (UPGRADE_MAX_FORWARDED + 4)], want[32];
		size_t	i, off = 0;

		for (i = 0; i < UPGRADE_MAX_FORWARDED + 4; i++)
			off += (size_t)snprintf(hdrs + off, sizeof(hdrs) - off,
			    "%sX-Forwarded-For: 10.0.0.%zu", i ? "\r\n" : "",
			    i);
		len = mkreq(NULL, NULL, hdrs);
		assert_int_equal(upgrade_parse(reqbuf, len, 0, &req),
		    (int)len);
		assert_int_equal(req.nforwarded_for, UPGRADE_MAX_FORWARDED);
		for (i = 0; i < UPGRADE_MAX_FORWARDED; i++) {
			snprintf(want, sizeof(want), "10.0.0.%zu", i + 4);
			assert_true(slice_is(&req.forwarded_for[i], want));
		}
	}
}

static void
test_body_refused(void **state)
{
	(void)state;
	expect_status(mkreq(NULL, NULL, "Content-Length: 5\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "Transfer-Encoding: chunked\r\n"),
	    400);
	expect_ok(mkreq(NULL, NULL, "Content-Length: 0\r\n"));
}

static void
test_protocols(void **state)
{
	static const char *const allow_a[] = { "superchat", "chat" };
	static const char *const allow_b[] = { "mqtt" };
	static const char *const allow_c[] = { "Chat", NULL, "v2" };
	struct upgrade_req	 req;
	char			 extra[1024];
	size_t			 len, i, n;

	(void)state;
	/* The first offered that is allowed, whatever the allowed order. */
	len = mkreq(NULL, NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_int_equal(upgrade_pick_protocol(&req, allow_a, 2), 0);
	assert_int_equal(upgrade_pick_protocol(&req, allow_a + 1, 1), 0);
	assert_int_equal(upgrade_pick_protocol(&req, allow_a, 1), 1);
	/* None allowed, none listed, case-sensitive. */
	assert_int_equal(upgrade_pick_protocol(&req, allow_b, 1), -1);
	assert_int_equal(upgrade_pick_protocol(&req, allow_b, 0), -1);
	assert_int_equal(upgrade_pick_protocol(&req, allow_c, 3), -1);
	/* None offered. */
	len = mkreq(NULL, "Sec-WebSocket-Protocol|", NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_int_equal(req.nprotocols, 0);
	assert_int_equal(upgrade_pick_protocol(&req, allow_a, 2), -1);
	/* Several headers, in order, empty elements skipped. */
	len = mkreq(NULL, "Sec-WebSocket-Protocol|",
	    "Sec-WebSocket-Protocol: ,a , ,b,\r\n"
	    "Sec-WebSocket-Protocol:\r\n"
	    "Sec-WebSocket-Protocol: v2,chat");
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_int_equal(req.nprotocols, 4);
	assert_true(slice_is(&req.protocols[0], "a"));
	assert_true(slice_is(&req.protocols[1], "b"));
	assert_true(slice_is(&req.protocols[2], "v2"));
	assert_true(slice_is(&req.protocols[3], "chat"));
	assert_int_equal(upgrade_pick_protocol(&req, allow_a, 2), 3);
	assert_int_equal(upgrade_pick_protocol(&req, allow_c, 3), 2);
	/* Not tokens. */
	expect_status(mkreq(NULL, NULL, "Sec-WebSocket-Protocol: a b\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "Sec-WebSocket-Protocol: a/b\r\n"), 400);
	expect_status(mkreq(NULL, NULL, "Sec-WebSocket-Protocol: \"a\"\r\n"),
	    400);
	/* UPGRADE_MAX_PROTOCOLS, and one more. */
	n = (size_t)snprintf(extra, sizeof(extra), "Sec-WebSocket-Protocol: p0");
	for (i = 1; i < UPGRADE_MAX_PROTOCOLS; i++)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n, ", p%zu", i);
	len = mkreq(NULL, "Sec-WebSocket-Protocol|", extra);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), (int)len);
	assert_int_equal(req.nprotocols, UPGRADE_MAX_PROTOCOLS);
	snprintf(extra + n, sizeof(extra) - n, "\r\nSec-WebSocket-Protocol: x");
	expect_status(mkreq(NULL, "Sec-WebSocket-Protocol|", extra), 400);
}

/*
 * The request ends at a page followed by a PROT_NONE page, so reading one
 * byte past len faults; tried at every prefix length.
 */
static void
test_guard_page(void **state)
{
	struct upgrade_req	 req;
	long			 pg = sysconf(_SC_PAGESIZE);
	char			*map, *p;
	size_t			 k, len = sizeof(valid_req) - 1;
	int			 rc;

	(void)state;
	assert_true(pg > 0 && (size_t)pg >= len);
	map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (k = 0; k <= len; k++) {
		p = map + pg - k;
		memcpy(p, valid_req, k);
		rc = upgrade_parse(p, k, 0, &req);
		assert_int_equal(rc, k == len ? (int)len : -2);
		/* Refusals read no further either. */
		if (k > 0) {
			p[k - 1] = '\x01';
			rc = upgrade_parse(p, k, 0, &req);
			assert_true(rc == -1 || rc == -2);
		}
	}
	/* Every byte at the edge of a refused head. */
	for (k = 1; k <= 64; k++) {
		p = map + pg - k;
		memset(p, '\r', k);
		(void)upgrade_parse(p, k, 0, &req);
		memset(p, 'A', k);
		(void)upgrade_parse(p, k, 0, &req);
		(void)upgrade_parse(p, k, k, &req);
	}
	munmap(map, 2 * (size_t)pg);
}

/* ---- plain GET/HEAD (UPGRADE_PLAIN) ---- */

static const char plain_req[] =
    "GET /desk/vnc.html?x=1 HTTP/1.1\r\n"
    "Host: gw.example:8080\r\n"
    "User-Agent: test\r\n"
    "Accept: */*\r\n"
    "If-None-Match: W/\"5f-1a2b\"\r\n"
    "If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";

static void
check_plain_fields(const char *p, const struct upgrade_req *req)
{
	assert_true(slice_is(&req->method, "GET"));
	assert_true(slice_is(&req->target, "/desk/vnc.html?x=1"));
	assert_true(slice_is(&req->path, "/desk/vnc.html"));
	assert_true(slice_is(&req->query, "x=1"));
	assert_true(slice_is(&req->host, "gw.example:8080"));
	assert_true(slice_is(&req->if_none_match, "W/\"5f-1a2b\""));
	assert_true(slice_is(&req->if_modified_since,
	    "Sun, 06 Nov 1994 08:49:37 GMT"));
	assert_false(req->head);
	assert_int_equal(req->status, 0);
	assert_null(req->error);
	assert_int_equal(req->key.len, 0);
	assert_int_equal(req->nprotocols, 0);
	assert_ptr_equal(req->method.p, p);
}

/* Parse s (NUL-terminated, no NUL inside) and expect UPGRADE_PLAIN. */
static void
expect_plain_str(const char *s, struct upgrade_req *req)
{
	int	rc;

	rc = upgrade_parse(s, strlen(s), 0, req);
	if (rc != UPGRADE_PLAIN)
		print_error("want plain, got rc %d status %d (%s) for:\n%s\n",
		    rc, req->status, req->error ? req->error : "-", s);
	assert_int_equal(rc, UPGRADE_PLAIN);
	assert_int_equal(req->status, 0);
	assert_null(req->error);
}

static void
test_plain_get(void **state)
{
	struct upgrade_req	req;
	size_t			len = sizeof(plain_req) - 1;

	(void)state;
	assert_int_equal(UPGRADE_PLAIN, -3);
	assert_int_equal(upgrade_parse(plain_req, len, 0, &req),
	    UPGRADE_PLAIN);
	check_plain_fields(plain_req, &req);
	/* Bounded by max_head like an upgrade. */
	assert_int_equal(upgrade_parse(plain_req, len, len, &req),
	    UPGRADE_PLAIN);
	assert_int_equal(upgrade_parse(plain_req, len, len - 1, &req), -1);
	assert_int_equal(req.status, 431);
	/* Without validators, they are empty. */
	expect_plain_str("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &req);
	assert_int_equal(req.if_none_match.len, 0);
	assert_int_equal(req.if_modified_since.len, 0);
	assert_true(slice_is(&req.path, "/"));
	assert_int_equal(req.query.len, 0);
	/* Header names are case-insensitive; values trimmed; last wins. */
	expect_plain_str("GET /a HTTP/1.1\r\nhost: a\r\nIF-NONE-MATCH: \t\"x\""
	    " \r\nif-none-match: \"y\", \"z\"\r\nif-modified-since:  d \r\n"
	    "\r\n", &req);
	assert_true(slice_is(&req.if_none_match, "\"y\", \"z\""));
	assert_true(slice_is(&req.if_modified_since, "d"));
	/* Content-Length: 0 is no body. */
	expect_plain_str("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n"
	    "\r\n", &req);
}

static void
test_plain_head(void **state)
{
	struct upgrade_req	req;

	(void)state;
	expect_plain_str("HEAD /x/y.js HTTP/1.1\r\nHost: a\r\n\r\n", &req);
	assert_true(req.head);
	assert_true(slice_is(&req.method, "HEAD"));
	assert_true(slice_is(&req.path, "/x/y.js"));
	/* HEAD asking for WebSocket is a handshake with the wrong method. */
	expect_status(mkreq("HEAD /chat HTTP/1.1", NULL, NULL), 405);
}

static void
test_plain_versions(void **state)
{
	struct upgrade_req	req;

	(void)state;
	/* HTTP/1.0 may omit Host (RFC 7230 §5.4 binds 1.1 only). */
	expect_plain_str("GET /a HTTP/1.0\r\n\r\n", &req);
	assert_int_equal(req.host.len, 0);
	expect_plain_str("HEAD /a HTTP/1.0\r\nHost: h\r\n\r\n", &req);
	assert_true(req.head);
	assert_true(slice_is(&req.host, "h"));
	expect_plain_str("GET /a HTTP/1.9\r\nHost: h\r\n\r\n", &req);
	expect_lit("GET /a HTTP/1.1\r\n\r\n", 400);
	expect_lit("GET /a HTTP/2.0\r\nHost: h\r\n\r\n", 400);
	expect_lit("GET /a HTTP/0.9\r\nHost: h\r\n\r\n", 400);
	expect_lit("GET /a HTTP/1.10\r\nHost: h\r\n\r\n", 400);
	/* A handshake still needs 1.1, whatever else is wrong with it. */
	expect_status(mkreq("GET /chat HTTP/1.0", NULL, NULL), 400);
	expect_status(mkreq("POST /chat HTTP/1.0", NULL, NULL), 400);
	expect_lit("GET / HTTP/1.0\r\nUpgrade: websocket\r\n\r\n", 400);
}

static void
test_plain_refusals(void **state)
{
	(void)state;
	/* Other methods: 405, case-sensitive. */
	expect_lit("POST / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	expect_lit("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n",
	    405);
	expect_lit("PUT / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	expect_lit("OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	expect_lit("get / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	expect_lit("head / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	expect_lit("GETS / HTTP/1.1\r\nHost: a\r\n\r\n", 405);
	/* Host: one, valid. */
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.0\r\nHost:\r\n\r\n", 400);
	/* A body. */
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\nx",
	    400);
	expect_lit("HEAD / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n", 400);
	/* Syntax is the same as for a handshake. */
	expect_lit("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_lit("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nX : y\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\n y\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nX: y\0\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nX: y\rz\r\n\r\n", 400);
}

/* Any sign of a handshake keeps it a handshake: 400/426, never plain. */
static void
test_plain_vs_handshake(void **state)
{
	struct upgrade_req	req;

	(void)state;
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
	    400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, WebSocket\r\n"
	    "Connection: upgrade\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Key: " KEY
	    "\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Version: 13"
	    "\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nSec-WebSocket-Protocol: x"
	    "\r\n\r\n", 400);
	expect_lit("GET / HTTP/1.1\r\nHost: a\r\nsec-websocket-protocol:"
	    "\r\n\r\n", 400);
	/* The handshake's own refusals are unchanged. */
	expect_status(mkreq(NULL, "Sec-WebSocket-Version|",
	    "Sec-WebSocket-Version: 8\r\n"), 426);
	expect_status(mkreq(NULL, "Upgrade|", NULL), 400);
	expect_status(mkreq(NULL, "Connection|", NULL), 400);
	expect_status(mkreq("POST /chat HTTP/1.1", NULL, NULL), 405);
	/* Connection: upgrade alone, or another protocol's Upgrade (curl's
	 * h2c), is a plain request whose upgrade is ignored (RFC 7230 §6.7). */
	expect_plain_str("GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, "
	    "HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAA"
	    "AAIAAAAA\r\n\r\n", &req);
	expect_plain_str("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n"
	    "\r\n", &req);
	expect_plain_str("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websockets\r\n"
	    "\r\n", &req);
	/* Origin alone is no sign (browsers send it on module scripts). */
	expect_plain_str("GET /a.mjs HTTP/1.1\r\nHost: a\r\nOrigin: http://a"
	    "\r\nOrigin: http://b\r\n\r\n", &req);
}

/* Every shorter prefix is incomplete; every split parses the same. */
static void
test_plain_every_prefix(void **state)
{
	struct upgrade_req	req;
	char			buf[sizeof(plain_req)];
	size_t			k, len = sizeof(plain_req) - 1;

	(void)state;
	for (k = 0; k < len; k++) {
		memset(&req, 0xa5, sizeof(req));
		assert_int_equal(upgrade_parse(plain_req, k, 0, &req), -2);
		assert_int_equal(req.status, 0);
		assert_null(req.error);
		assert_false(req.head);
	}
	for (k = 0; k <= len; k++) {
		memset(buf, 'X', sizeof(buf));
		memcpy(buf, plain_req, k);
		if (k < len)
			assert_int_equal(upgrade_parse(buf, k, 0, &req), -2);
		memcpy(buf + k, plain_req + k, len - k);
		assert_int_equal(upgrade_parse(buf, len, 0, &req),
		    UPGRADE_PLAIN);
		check_plain_fields(buf, &req);
	}
}

/* A plain request at the end of a page: nothing past len is read. */
static void
test_plain_guard_page(void **state)
{
	static const char *const reqs[] = {
		plain_req,
		"HEAD / HTTP/1.0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\n\r\n",
	};
	struct upgrade_req	 req;
	long			 pg = sysconf(_SC_PAGESIZE);
	char			*map, *p;
	size_t			 i, k, len;
	int			 rc, want;

	(void)state;
	map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		len = strlen(reqs[i]);
		assert_true((size_t)pg >= len);
		want = i == 2 ? -1 : UPGRADE_PLAIN;
		for (k = 0; k <= len; k++) {
			p = map + pg - k;
			memcpy(p, reqs[i], k);
			rc = upgrade_parse(p, k, 0, &req);
			assert_int_equal(rc, k == len ? want : -2);
			if (k == len && i == 1)
				assert_true(req.head);
			if (k > 0) {
				p[k - 1] = '\x01';
				rc = upgrade_parse(p, k, 0, &req);
				assert_true(rc == -1 || rc == -2);
			}
		}
	}
	munmap(map, 2 * (size_t)pg);
}

static void
test_response_101(void **state)
{
	static const char want[] =
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n"
	    "\r\n";
	static const char want_p[] =
	    "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: " ACCEPT "\r\n"
	    "Sec-WebSocket-Protocol: chat\r\n"
	    "\r\n";
	struct upgrade_req	req;
	struct upgrade_slice	bad = { "a\r\nX: y", 7 };
	char			out[512];
	size_t			len = sizeof(valid_req) - 1, cap;

	(void)state;
	assert_int_equal(upgrade_parse(valid_req, len, 0, &req), (int)len);
	assert_int_equal(upgrade_response_101(out, sizeof(out), &req, NULL),
	    (int)sizeof(want) - 1);
	assert_string_equal(out, want);
	assert_int_equal(upgrade_response_101(out, sizeof(out), &req,
	    &req.protocols[upgrade_pick_protocol(&req,
	    (const char *const[]){ "chat" }, 1)]), (int)sizeof(want_p) - 1);
	assert_string_equal(out, want_p);
	/* Exactly fitting works; anything smaller does not. */
	assert_int_equal(upgrade_response_101(out, sizeof(want) - 1, &req,
	    NULL), (int)sizeof(want) - 1);
	assert_memory_equal(out, want, sizeof(want) - 1);
	for (cap = 0; cap < sizeof(want) - 1; cap++)
		assert_int_equal(upgrade_response_101(out, cap, &req, NULL),
		    -1);
	/* A slice that is not a token cannot inject a header. */
	assert_int_equal(upgrade_response_101(out, sizeof(out), &req, &bad),
	    -1);
}

static void
test_response_error(void **state)
{
	static const int statuses[] = {
		400, 401, 403, 404, 405, 408, 426, 429, 431, 500, 502, 503, 504
	};
	static const char want[] =
	    "HTTP/1.1 404 Not Found\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 24\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "404 Not Found: no route\n";
	char		 out[1024];
	const char	*body, *cl;
	size_t		 i, cap;
	int		 n;

	(void)state;
	n = upgrade_response_error(out, sizeof(out), 404, "no route");
	assert_int_equal(n, (int)sizeof(want) - 1);
	assert_string_equal(out, want);
	for (cap = 0; cap < sizeof(want) - 1; cap++)
		assert_int_equal(upgrade_response_error(out, cap, 404,
		    "no route"), -1);

	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
		char	line[64];

		n = upgrade_response_error(out, sizeof(out), statuses[i],
		    i % 2 ? NULL : "why");
		assert_true(n > 0);
		assert_int_equal(strlen(out), n);
		assert_string_not_equal(upgrade_status_text(statuses[i]),
		    "Error");
		snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", statuses[i],
		    upgrade_status_text(statuses[i]));
		assert_memory_equal(out, line, strlen(line));
		assert_non_null(strstr(out, "\r\nConnection: close\r\n"));
		assert_non_null(strstr(out,
		    "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
		body = strstr(out, "\r\n\r\n") + 4;
		cl = strstr(out, "Content-Length: ");
		assert_non_null(cl);
		assert_int_equal(strtoul(cl + 16, NULL, 10), strlen(body));
		assert_int_equal(strstr(out, "Sec-WebSocket-Version: 13") !=
		    NULL, statuses[i] == 426);
		assert_int_equal(strstr(out, "Allow: GET") != NULL,
		    statuses[i] == 405);
		assert_true(body[strlen(body) - 1] == '\n');
	}
	assert_string_equal(upgrade_status_text(431),
	    "Request Header Fields Too Large");
	assert_string_equal(upgrade_status_text(299), "Error");
	assert_int_equal(upgrade_response_error(out, sizeof(out), 0, NULL), -1);
	n = upgrade_response_error(out, sizeof(out), 418, NULL);
	assert_true(n > 0);
	assert_non_null(strstr(out, "HTTP/1.1 418 Error\r\n"));
}

/*
 * Issue 11 item 6: a bearer.<JWT> subprotocol of the largest token
 * accepted (8192 bytes) is echoed whole; the size helper gives the exact
 * length, so a buffer sized with it always fits.
 */
static void
test_response_101_long_protocol(void **state)
{
	static char		 proto[7 + 8192];
	struct upgrade_req	 req;
	struct upgrade_slice	 p = { proto, sizeof(proto) };
	size_t			 len = sizeof(valid_req) - 1, cap;
	char			*out, *hdr;

	(void)state;
	memcpy(proto, "bearer.", 7);
	memset(proto + 7, 'x', sizeof(proto) - 7);
	assert_int_equal(upgrade_parse(valid_req, len, 0, &req), (int)len);
	cap = upgrade_response_101_size(&p);
	assert_int_equal(upgrade_response_101_size(NULL) + 26 + sizeof(proto),
	    cap);
	assert_non_null(out = malloc(cap));
	assert_int_equal(upgrade_response_101(out, cap, &req, &p), (int)cap);
	hdr = memmem(out, cap, "\r\nSec-WebSocket-Protocol: bearer.x", 34);
	assert_non_null(hdr);
	assert_memory_equal(hdr + 26, proto, sizeof(proto));
	assert_memory_equal(out + cap - 4, "\r\n\r\n", 4);
	assert_int_equal(upgrade_response_101(out, cap - 1, &req, &p), -1);
	free(out);
	/* Empty and absent protocols measure and write the same. */
	p.len = 0;
	assert_int_equal(upgrade_response_101_size(&p),
	    upgrade_response_101_size(NULL));
}

/* An extra header line goes before the blank line; sizes are exact. */
static void
test_response_error_hdr(void **state)
{
	static const char want[] =
	    "HTTP/1.1 401 Unauthorized\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 27\r\n"
	    "Connection: close\r\n"
	    "WWW-Authenticate: Bearer\r\n"
	    "\r\n"
	    "401 Unauthorized: no token\n";
	static const int statuses[] = { 400, 401, 405, 426, 431, 503 };
	char	out[512];
	size_t	i, cap;

	(void)state;
	cap = upgrade_response_error_size(401, "no token",
	    "WWW-Authenticate: Bearer\r\n");
	assert_int_equal(cap, sizeof(want) - 1);
	assert_int_equal(upgrade_response_error_hdr(out, cap, 401, "no token",
	    "WWW-Authenticate: Bearer\r\n"), (int)cap);
	assert_memory_equal(out, want, cap);
	assert_int_equal(upgrade_response_error_hdr(out, cap - 1, 401,
	    "no token", "WWW-Authenticate: Bearer\r\n"), -1);
	for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		assert_int_equal(upgrade_response_error_size(statuses[i],
		    i % 2 ? "why" : NULL, NULL), upgrade_response_error(out,
		    sizeof(out), statuses[i], i % 2 ? "why" : NULL));
}

/* Every refusal has a status the error answer can carry. */
static void
test_error_answers_for_refusals(void **state)
{
	struct upgrade_req	req;
	char			out[1024];
	size_t			len;

	(void)state;
	len = mkreq("PUT / HTTP/1.1", NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, 0, &req), -1);
	assert_int_equal(req.status, 405);
	assert_true(upgrade_response_error(out, sizeof(out), req.status,
	    req.error) > 0);
	assert_non_null(strstr(out, "405 Method Not Allowed: method is not GET"));
}

/* ---- byte classes: every byte value in every place that classifies ---- */

/* The RFC sets, spelled out here apart from upgrade.c's table. */
static bool
ref_alnum(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9');
}

static bool
ref_in(int c, const char *set)
{
	return c != 0 && strchr(set, c) != NULL;
}

/* RFC 7230 §3.2.6 */
static bool
ref_tchar(int c)
{
	return ref_alnum(c) || ref_in(c, "!#$%&'*+-.^_`|~");
}

/* Parse pre, the byte c, post (one request, no NUL terminator needed). */
static int
parse_with_byte(const char *pre, int c, const char *post,
    struct upgrade_req *req)
{
	size_t	a = strlen(pre), b = strlen(post);

	assert_true(a + 1 + b < sizeof(reqbuf));
	memcpy(reqbuf, pre, a);
	reqbuf[a] = (char)c;
	memcpy(reqbuf + a + 1, post, b);
	return upgrade_parse(reqbuf, a + 1 + b, 0, req);
}

#define HS_REST	"Upgrade: websocket\r\nConnection: Upgrade\r\n" \
		"Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"

static void
test_byte_classes(void **state)
{
	struct upgrade_req	req;
	int			c, rc;
	bool			want;

	(void)state;
	for (c = 0; c < 256; c++) {
		/* A header name byte: tchar (':' ends the name early). */
		rc = parse_with_byte("GET / HTTP/1.1\r\nHost: h\r\nX", c,
		    "Y: 1\r\n" HS_REST "\r\n", &req);
		want = ref_tchar(c) || c == ':';
		assert_int_equal(rc > 0, want);
		if (!want)
			assert_int_equal(req.status, 400);

		/* A header value byte: VCHAR, obs-text, SP, HTAB. */
		rc = parse_with_byte("GET / HTTP/1.1\r\nHost: h\r\nX: a", c,
		    "b\r\n" HS_REST "\r\n", &req);
		want = (c > 0x20 && c < 0x7f) || c >= 0x80 || c == ' ' ||
		    c == '\t';
		assert_int_equal(rc > 0, want);
		if (!want)
			assert_int_equal(req.status, 400);

		/* A Host byte: reg-name, IP-literal and port characters. */
		rc = parse_with_byte("GET / HTTP/1.1\r\nHost: a", c,
		    "b\r\n" HS_REST "\r\n", &req);
		want = ref_alnum(c) || ref_in(c, "-._~!$&'()*+,;=%:[]");
		assert_int_equal(rc > 0, want);
		if (!want)
			assert_int_equal(req.status, 400);

		/* The first key byte (KEY without its 'd'): base64. */
		rc = parse_with_byte("GET / HTTP/1.1\r\nHost: h\r\n"
		    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ", c,
		    "GhlIHNhbXBsZSBub25jZQ==\r\n\r\n", &req);
		want = ref_alnum(c) || c == '+' || c == '/';
		assert_int_equal(rc > 0, want);
		if (!want)
			assert_int_equal(req.status, 400);

		/* A request-target byte: visible ASCII but '#'. */
		rc = parse_with_byte("GET /a", c,
		    "b HTTP/1.1\r\nHost: h\r\n" HS_REST "\r\n", &req);
		want = c > 0x20 && c < 0x7f && c != '#';
		assert_int_equal(rc > 0, want);
		if (!want)
			assert_int_equal(req.status, 400);
	}
}

/*
 * Header names and list tokens match case-insensitively, and only so:
 * each byte of "Sec-WebSocket-Version" (compared eight bytes at a time)
 * and of the Upgrade token "websocket", replaced by every byte value,
 * still names it only when it is that letter in either case.
 */
static void
test_case_folding_every_byte(void **state)
{
	static const char	name[] = "Sec-WebSocket-Version";
	static const char	tok[] = "websocket";
	char			pre[256], post[256];
	struct upgrade_req	req;
	size_t			k;
	int			c, rc;
	bool			want;

	(void)state;
	for (k = 0; k < sizeof(name) - 1; k++)
		for (c = 0; c < 256; c++) {
			snprintf(pre, sizeof(pre), "GET / HTTP/1.1\r\n"
			    "Host: h\r\nUpgrade: websocket\r\n"
			    "Connection: Upgrade\r\nSec-WebSocket-Key: "
			    KEY "\r\n%.*s", (int)k, name);
			snprintf(post, sizeof(post), "%s: 13\r\n\r\n",
			    name + k + 1);
			rc = parse_with_byte(pre, c, post, &req);
			want = c == name[k] || (c ^ 0x20) == name[k];
			want = want && (ref_alnum(c) || c == '-');
			assert_int_equal(rc > 0, want);
		}
	for (k = 0; k < sizeof(tok) - 1; k++)
		for (c = 0; c < 256; c++) {
			snprintf(pre, sizeof(pre), "GET / HTTP/1.1\r\n"
			    "Host: h\r\nUpgrade: %.*s", (int)k, tok);
			snprintf(post, sizeof(post), "%s\r\n"
			    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY
			    "\r\nSec-WebSocket-Version: 13\r\n\r\n",
			    tok + k + 1);
			rc = parse_with_byte(pre, c, post, &req);
			want = c == tok[k] || c == tok[k] - 'a' + 'A';
			assert_int_equal(rc > 0, want);
			if (!want)
				assert_int_equal(req.status, 400);
		}
}

/*
 * The one-pass path (a head that scans clean) and the full path agree:
 * the head's length is its first CRLF CRLF, frame bytes after it that
 * look like more header lines are not read, and 100 header lines pass
 * where 101 are a 431 even when a syntax error follows them.
 */
static void
test_one_pass_edges(void **state)
{
	struct upgrade_req	req;
	size_t			len, n;
	int			i;

	(void)state;
	len = mkreq(NULL, NULL, NULL);
	memcpy(reqbuf + len, "X: y\r\n\r\n", 8);
	assert_int_equal(upgrade_parse(reqbuf, len + 8, 0, &req), (int)len);
	/* 7 base lines + 93 = 100 header lines: fine. */
	n = 0;
	for (i = 0; i < 93; i++)
		n += (size_t)snprintf(post_buf + n, sizeof(post_buf) - n,
		    "X-%d: v\r\n", i);
	expect_ok(mkreq(NULL, NULL, post_buf));
	/* One more: 431, also with a bad line after the 101st. */
	snprintf(post_buf + n, sizeof(post_buf) - n, "X-last: v\r\n");
	expect_status(mkreq(NULL, NULL, post_buf), 431);
	snprintf(post_buf + n, sizeof(post_buf) - n, "X-last: v\r\nbad\r\n");
	expect_status(mkreq(NULL, NULL, post_buf), 431);
	/* A head that ends exactly at max_head, and one byte past it. */
	len = mkreq(NULL, NULL, NULL);
	assert_int_equal(upgrade_parse(reqbuf, len, len, &req), (int)len);
	assert_int_equal(upgrade_parse(reqbuf, len + 1, len, &req), (int)len);
	assert_int_equal(upgrade_parse(reqbuf, len, len - 1, &req), -1);
	assert_int_equal(req.status, 431);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_key),
		cmocka_unit_test(test_accept_key_vectors),
		cmocka_unit_test(test_accept_key_random),
		cmocka_unit_test(test_accept_key_threads),
		cmocka_unit_test(test_valid_whole),
		cmocka_unit_test(test_valid_every_prefix),
		cmocka_unit_test(test_valid_every_split),
		cmocka_unit_test(test_trailing_frame_bytes),
		cmocka_unit_test(test_missing_headers),
		cmocka_unit_test(test_missing_fields_zero),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_method),
		cmocka_unit_test(test_http_version),
		cmocka_unit_test(test_target),
		cmocka_unit_test(test_target_absolute_form),
		cmocka_unit_test(test_bad_keys),
		cmocka_unit_test(test_line_syntax),
		cmocka_unit_test(test_nul_cr_lf),
		cmocka_unit_test(test_early_reject),
		cmocka_unit_test(test_head_too_large),
		cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_connection_variants),
		cmocka_unit_test(test_upgrade_variants),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_host_origin_values),
		cmocka_unit_test(test_forwarded_for),
		cmocka_unit_test(test_body_refused),
		cmocka_unit_test(test_protocols),
		cmocka_unit_test(test_guard_page),
		cmocka_unit_test(test_plain_get),
		cmocka_unit_test(test_plain_head),
		cmocka_unit_test(test_plain_versions),
		cmocka_unit_test(test_plain_refusals),
		cmocka_unit_test(test_plain_vs_handshake),
		cmocka_unit_test(test_plain_every_prefix),
		cmocka_unit_test(test_plain_guard_page),
		cmocka_unit_test(test_response_101),
		cmocka_unit_test(test_response_error),
		cmocka_unit_test(test_response_101_long_protocol),
		cmocka_unit_test(test_response_error_hdr),
		cmocka_unit_test(test_error_answers_for_refusals),
		cmocka_unit_test(test_byte_classes),
		cmocka_unit_test(test_case_folding_every_byte),
		cmocka_unit_test(test_one_pass_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
