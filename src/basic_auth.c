/*
 * basic_auth: see include/basic_auth.h.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth.h"
#include "basic_auth.h"
#include "config.h"
#include "confgen.h"
#include "handshake.h"
#include "log.h"
#include "lookup.h"
#include "pwcheck.h"
#include "session-int.h"
#include "upgrade.h"

#define BASIC_AUTH_CHALLENGE	"WWW-Authenticate: Basic realm=\"wsgate\", " \
				"charset=\"UTF-8\"\r\n"
#define BASIC_AUTH_MAX		2048	/* decoded user:pass */

static void
basic_auth_refuse(struct session *s, const char *why)
{
	handshake_refuse(s, 401, why, BASIC_AUTH_CHALLENGE);
}

/* Equal, in time that depends on the lengths only. */
static bool
basic_auth_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && CRYPTO_memcmp(a, b, alen) == 0;
}

/* basic_auth = user:password */
static int
basic_auth_fixed(struct session *s, const struct config_route *r,
    const char *user, size_t ulen, const char *pass, size_t plen)
{
	const char *colon = strchr(r->basic_auth, ':');
	size_t cu = (size_t)(colon - r->basic_auth);
	bool ok;

	ok = basic_auth_eq(user, ulen, r->basic_auth, cu);
	ok &= basic_auth_eq(pass, plen, colon + 1, strlen(colon + 1));
	if (!ok) {
		log_info("session %llu: client=%s basic auth failed",
		    (unsigned long long)s->id, s->peer);
		basic_auth_refuse(s, "bad user or password");
		return -1;
	}
	s->basic_ok = true;
	return 1;
}

static void
basic_auth_done(struct session *s, enum lookup_status st, const char *v,
    size_t len, uint64_t usec, void *arg)
{
	(void)v;
	(void)len;
	(void)arg;
	log_debug("session %llu: password checked in %llu us",
	    (unsigned long long)s->id, (unsigned long long)usec);
	if (st == LOOKUP_OK) {
		s->basic_ok = true;
		handshake_resume(s);
	} else if (st == LOOKUP_DENIED) {
		log_info("session %llu: client=%s basic auth failed",
		    (unsigned long long)s->id, s->peer);
		basic_auth_refuse(s, "bad user or password");
	} else
		handshake_refuse(s, 503, "password check did not finish in "
		    "time", "Retry-After: 1\r\n");
}

int
basic_auth_check(struct session *s, const struct upgrade_req *req,
    const struct config_route *r, const struct confgen_route *gr)
{
	char buf[BASIC_AUTH_MAX];
	const char *user, *pass;
	size_t ulen, plen;
	uint64_t ticket;
	int rc;

	if (req->authorization.len == 0) {
		basic_auth_refuse(s, "authentication required");
		return -1;
	}
	if (auth_basic_credentials(req->authorization.p,
	    req->authorization.len, buf, sizeof(buf), &user, &ulen, &pass,
	    &plen) == -1) {
		basic_auth_refuse(s, "malformed credentials");
		return -1;
	}
	if (r->basic_auth != NULL) {
		rc = basic_auth_fixed(s, r, user, ulen, pass, plen);
		explicit_bzero(buf, sizeof(buf));
		return rc;
	}
	ticket = lookup_wait(s, s->cfg->handshake_timeout_ms, basic_auth_done,
	    NULL);
	if (ticket == 0 || pwcheck_submit(s->w, ticket, s->gen, gr->htpasswd,
	    user, ulen, pass, plen) == -1) {
		explicit_bzero(buf, sizeof(buf));
		if (ticket == 0) {
			handshake_refuse(s, 503, "out of memory",
			    "Retry-After: 1\r\n");
			return -1;
		}
		/* The wait is set: end it with the refusal, next turn. */
		lookup_answer(s->w, ticket, LOOKUP_UNAVAILABLE, NULL, 0);
		return 0;
	}
	explicit_bzero(buf, sizeof(buf));
	return 0;
}
