/*
 * Unit tests for pmd: permessage-deflate offers as real clients send them
 * (Chromium, Firefox, Node ws, Python websockets), the RFC 7692 §7.1
 * parameter rules, declined offers falling through to the next, grammar
 * errors, the exact response bytes, and every value placed at the end of
 * a guarded page.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "pmd.h"

struct test_pmd_vec {
	const char	*offer;
	enum pmd_result	 result;
	const char	*response;	/* ACCEPTED: exact rendered value */
};

#define R_NCT	"permessage-deflate; server_no_context_takeover; " \
		"client_no_context_takeover"

static const struct test_pmd_vec test_pmd_vecs[] = {
	/* Chromium and Firefox */
	{ "permessage-deflate; client_max_window_bits", PMD_ACCEPTED, R_NCT },
	/* Python websockets 10 */
	{ "permessage-deflate; client_max_window_bits", PMD_ACCEPTED, R_NCT },
	/* Node ws 8 */
	{ "permessage-deflate; client_max_window_bits", PMD_ACCEPTED, R_NCT },
	{ "permessage-deflate", PMD_ACCEPTED, R_NCT },
	{ "  permessage-deflate  ", PMD_ACCEPTED, R_NCT },
	{ "permessage-deflate;server_no_context_takeover", PMD_ACCEPTED,
	    R_NCT },
	{ "permessage-deflate; client_no_context_takeover", PMD_ACCEPTED,
	    R_NCT },
	{ "permessage-deflate; server_max_window_bits=10", PMD_ACCEPTED,
	    R_NCT "; server_max_window_bits=10" },
	{ "permessage-deflate; server_max_window_bits=\"12\"", PMD_ACCEPTED,
	    R_NCT "; server_max_window_bits=12" },
	{ "permessage-deflate; server_max_window_bits = 15", PMD_ACCEPTED,
	    R_NCT "; server_max_window_bits=15" },
	{ "permessage-deflate; client_max_window_bits=9", PMD_ACCEPTED,
	    R_NCT "; client_max_window_bits=9" },
	{ "permessage-deflate; client_max_window_bits=\"8\"", PMD_ACCEPTED,
	    R_NCT "; client_max_window_bits=8" },
	/* §7.1.2.1: 8 cannot be honoured with zlib; the next offer wins */
	{ "permessage-deflate; server_max_window_bits=8, permessage-deflate",
	    PMD_ACCEPTED, R_NCT },
	{ "permessage-deflate; server_max_window_bits=8", PMD_NONE, NULL },
	/* bad values, repeats, unknown parameters: declined (§7.1) */
	{ "permessage-deflate; server_max_window_bits", PMD_NONE, NULL },
	{ "permessage-deflate; server_max_window_bits=7", PMD_NONE, NULL },
	{ "permessage-deflate; server_max_window_bits=16", PMD_NONE, NULL },
	{ "permessage-deflate; server_max_window_bits=010", PMD_NONE, NULL },
	{ "permessage-deflate; server_max_window_bits=+9", PMD_NONE, NULL },
	{ "permessage-deflate; server_max_window_bits=\"1 0\"", PMD_NONE,
	    NULL },
	{ "permessage-deflate; client_max_window_bits=0", PMD_NONE, NULL },
	{ "permessage-deflate; client_max_window_bits=100000000000",
	    PMD_NONE, NULL },
	{ "permessage-deflate; client_no_context_takeover=1", PMD_NONE,
	    NULL },
	{ "permessage-deflate; server_no_context_takeover; "
	    "server_no_context_takeover", PMD_NONE, NULL },
	{ "permessage-deflate; client_max_window_bits; "
	    "client_max_window_bits=10", PMD_NONE, NULL },
	{ "permessage-deflate; x_unknown", PMD_NONE, NULL },
	{ "permessage-deflate; Server_No_Context_Takeover", PMD_NONE, NULL },
	{ "permessage-deflate; x_unknown, permessage-deflate; "
	    "server_max_window_bits=11", PMD_ACCEPTED,
	    R_NCT "; server_max_window_bits=11" },
	/* other extensions are skipped, ours is found among them */
	{ "x-webkit-deflate-frame", PMD_NONE, NULL },
	{ "foo; a=1; b=\"x,y;z\", permessage-deflate", PMD_ACCEPTED, R_NCT },
	{ "permessage-deflate-x", PMD_NONE, NULL },
	{ "", PMD_NONE, NULL },
	{ ",, ,", PMD_NONE, NULL },
	{ ", permessage-deflate ,", PMD_ACCEPTED, R_NCT },
	/* the first acceptable offer wins */
	{ "permessage-deflate; server_max_window_bits=9, permessage-deflate",
	    PMD_ACCEPTED, R_NCT "; server_max_window_bits=9" },
	/* grammar errors */
	{ "permessage-deflate;", PMD_MALFORMED, NULL },
	{ "permessage-deflate; =1", PMD_MALFORMED, NULL },
	{ "permessage-deflate; a=", PMD_MALFORMED, NULL },
	{ "permessage-deflate; a=\"unterminated", PMD_MALFORMED, NULL },
	{ "permessage-deflate; a=\"x\\", PMD_MALFORMED, NULL },
	{ "permessage-deflate a", PMD_MALFORMED, NULL },
	{ "permessage-deflate; a b", PMD_MALFORMED, NULL },
	{ "\"permessage-deflate\"", PMD_MALFORMED, NULL },
	{ "permessage-deflate; a=\"\x01\"", PMD_MALFORMED, NULL },
	{ "permessage-deflate, @", PMD_MALFORMED, NULL },
	/* a malformed header is refused even after a good offer */
	{ "permessage-deflate, permessage-deflate;;", PMD_MALFORMED, NULL },
};

static enum pmd_result
test_pmd_one(const char *s, size_t n, const struct pmd_policy *pol,
    struct pmd_params *out)
{
	const char	*v[1] = { s };
	size_t		 l[1] = { n };

	return pmd_negotiate(v, l, 1, pol, out);
}

static void
test_vectors(void **state)
{
	struct pmd_policy	pol;
	struct pmd_params	p;
	char			buf[PMD_RESPONSE_MAX];
	size_t			i;

	(void)state;
	pmd_policy_default(&pol);
	for (i = 0; i < sizeof(test_pmd_vecs) / sizeof(test_pmd_vecs[0]);
	    i++) {
		const struct test_pmd_vec *v = &test_pmd_vecs[i];
		enum pmd_result r;

		r = test_pmd_one(v->offer, strlen(v->offer), &pol, &p);
		if (r != v->result)
			fail_msg("'%s': %d, want %d", v->offer, r, v->result);
		if (r != PMD_ACCEPTED)
			continue;
		assert_true(pmd_render(&p, buf, sizeof(buf)) > 0);
		if (strcmp(buf, v->response) != 0)
			fail_msg("'%s': '%s', want '%s'", v->offer, buf,
			    v->response);
	}
}

/* Each value ends at a page boundary followed by an unmapped page: an
 * over-read past the value is a crash, not a pass. */
static void
test_guard_page(void **state)
{
	long	 pg = sysconf(_SC_PAGESIZE);
	char	*map;
	size_t	 i, n;
	struct pmd_policy pol;
	struct pmd_params p;

	(void)state;
	map = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + pg, (size_t)pg, PROT_NONE), 0);
	pmd_policy_default(&pol);
	for (i = 0; i < sizeof(test_pmd_vecs) / sizeof(test_pmd_vecs[0]);
	    i++) {
		n = strlen(test_pmd_vecs[i].offer);
		memcpy(map + pg - n, test_pmd_vecs[i].offer, n);
		assert_int_equal(test_pmd_one(map + pg - n, n, &pol, &p),
		    test_pmd_vecs[i].result);
	}
	munmap(map, 2 * (size_t)pg);
}

/* Several headers are one list: split at every comma, same answer. */
static void
test_split_headers(void **state)
{
	const char *s = "foo;a=1, permessage-deflate; x, permessage-deflate;"
	    " server_max_window_bits=12 , bar";
	const char *v[2];
	size_t l[2], n = strlen(s), i;
	struct pmd_policy pol;
	struct pmd_params p;
	enum pmd_result r;
	char buf[PMD_RESPONSE_MAX];

	(void)state;
	pmd_policy_default(&pol);
	for (i = 0; i <= n; i++) {
		v[0] = s;
		l[0] = i;
		v[1] = s + i;
		l[1] = n - i;
		r = pmd_negotiate(v, l, 2, &pol, &p);
		if (i == 0 || i == n || s[i] == ',' || s[i - 1] == ',') {
			if (r != PMD_ACCEPTED)
				fail_msg("split at %zu: %d", i, r);
			pmd_render(&p, buf, sizeof(buf));
			assert_string_equal(buf,
			    R_NCT "; server_max_window_bits=12");
		}
	}
}

#define S(x)	x, sizeof(x) - 1

static void
test_policy(void **state)
{
	struct pmd_policy pol = { 12, 10, false };
	struct pmd_params p;
	char buf[PMD_RESPONSE_MAX];

	(void)state;
	/* our smaller window is named though not offered (§7.1.2.1);
	 * client_max_window_bits only when offered (§7.1.2.2); no
	 * takeover only when asked for or wanted */
	assert_int_equal(test_pmd_one(S("permessage-deflate"), &pol, &p),
	    PMD_ACCEPTED);
	pmd_render(&p, buf, sizeof(buf));
	assert_string_equal(buf,
	    "permessage-deflate; server_max_window_bits=12");
	assert_int_equal(p.server_max_window_bits, 12);
	assert_int_equal(p.client_max_window_bits, 15);

	assert_int_equal(test_pmd_one(S("permessage-deflate; "
	    "client_max_window_bits; server_no_context_takeover"), &pol, &p),
	    PMD_ACCEPTED);
	pmd_render(&p, buf, sizeof(buf));
	assert_string_equal(buf, "permessage-deflate; "
	    "server_no_context_takeover; server_max_window_bits=12; "
	    "client_max_window_bits=10");
	assert_false(p.client_no_context_takeover);

	/* the client's smaller server window beats ours */
	assert_int_equal(test_pmd_one(S("permessage-deflate; "
	    "server_max_window_bits=9"), &pol, &p), PMD_ACCEPTED);
	assert_int_equal(p.server_max_window_bits, 9);
	/* the client's smaller own window is kept */
	assert_int_equal(test_pmd_one(S("permessage-deflate; "
	    "client_max_window_bits=8"), &pol, &p), PMD_ACCEPTED);
	assert_int_equal(p.client_max_window_bits, 8);
}

static void
test_render_small_buffer(void **state)
{
	struct pmd_params p = { true, true, 10, 9, true, true };
	char buf[PMD_RESPONSE_MAX];
	int n;

	(void)state;
	n = pmd_render(&p, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(R_NCT "; server_max_window_bits=10; "
	    "client_max_window_bits=9"));
	assert_int_equal(pmd_render(&p, buf, (size_t)n), -1);
	assert_int_equal(pmd_render(&p, buf, (size_t)n + 1), n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_guard_page),
		cmocka_unit_test(test_split_headers),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_render_small_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
