/*
 * Unit tests for route: path matching, origins, backend choice.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "route.h"

static struct config *
load(const char *text)
{
	struct config	*cfg = NULL;
	char		 err[1024];

	if (config_parse_string(text, "t.conf", &cfg, err, sizeof(err)) != 0)
		fail_msg("config: %s", err);
	return cfg;
}

/* The route matched for path, as written ("/a/\*", "/b"), or "-". */
static const char *
match(const struct config *cfg, const char *path)
{
	static char			 buf[256];
	const struct config_route	*r;

	if ((r = route_match(cfg, path, strlen(path))) == NULL)
		return "-";
	snprintf(buf, sizeof(buf), "%s%s", r->path, r->prefix ? "/*" : "");
	return buf;
}

static const char routes[] =
    "[gateway]\nlisten = 80\nbackend = unix:/s\n"
    "[route /a/*]\n"
    "[route /a]\n"
    "[route /a/b/*]\n"
    "[route /a/b/c]\n"
    "[route /vnc]\n"
    "[route /x/]\n"
    "[route /ws/*]\n"
    "[route /ws/deep/er/*]\n";

static void
test_match_table(void **state)
{
	static const struct {
		const char	*path;
		const char	*want;
	} v[] = {
		/* exact wins over a prefix covering the same path */
		{ "/a", "/a" },
		{ "/a/", "/a/*" },
		{ "/a/x", "/a/*" },
		{ "/a/b", "/a/b/*" },		/* longest prefix */
		{ "/a/b/", "/a/b/*" },
		{ "/a/b/c", "/a/b/c" },
		{ "/a/b/c/", "/a/b/*" },	/* exact is exact */
		{ "/a/b/cd", "/a/b/*" },
		{ "/a/bc", "/a/*" },		/* "/a/b/\*" is not "/a/bc" */
		{ "/ab", "-" },			/* near miss of "/a/\*" */
		{ "/", "-" },
		{ "", "-" },
		{ "/vnc", "/vnc" },
		{ "/vnc/", "-" },
		{ "/vn", "-" },
		{ "/vncx", "-" },
		{ "/VNC", "-" },		/* case-sensitive */
		{ "/x/", "/x/" },
		{ "/x", "-" },
		{ "/ws", "/ws/*" },
		{ "/ws/deep/er", "/ws/deep/er/*" },
		{ "/ws/deep/e", "/ws/*" },
		{ "/ws/deep/er/x/y", "/ws/deep/er/*" },
		{ "/wsx", "-" },
		{ "/w", "-" },
	};
	struct config	*cfg = load(routes);
	size_t		 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(match(cfg, v[i].path), v[i].want) != 0)
			fail_msg("path '%s': want %s, got %s", v[i].path,
			    v[i].want, match(cfg, v[i].path));
	config_free(cfg);
}

/* "/\*" catches what nothing longer matches, in any order of sections. */
static void
test_match_catch_all(void **state)
{
	static const char *const texts[] = {
		"[gateway]\nlisten = 80\nbackend = unix:/s\n"
		    "[route /*]\n[route /a/*]\n[route /b]\n",
		"[gateway]\nlisten = 80\nbackend = unix:/s\n"
		    "[route /b]\n[route /a/*]\n[route /*]\n",
	};
	struct config	*cfg;
	size_t		 i;

	for (i = 0; i < 2; i++) {
		cfg = load(texts[i]);
		assert_string_equal(match(cfg, "/"), "/*");
		assert_string_equal(match(cfg, "/ab"), "/*");
		assert_string_equal(match(cfg, "/a"), "/a/*");
		assert_string_equal(match(cfg, "/a/z"), "/a/*");
		assert_string_equal(match(cfg, "/b"), "/b");
		assert_string_equal(match(cfg, "/b/"), "/*");
		assert_string_equal(match(cfg, "/x/y/z"), "/*");
		assert_string_equal(match(cfg, "anything"), "/*");
		assert_string_equal(match(cfg, ""), "/*");
		config_free(cfg);
	}
}

/* The path is (pointer, length): bytes past len are never looked at. */
static void
test_match_len(void **state)
{
	struct config			*cfg = load(routes);
	const struct config_route	*r;

	r = route_match(cfg, "/vnc?x=1", 4);
	assert_non_null(r);
	assert_string_equal(r->path, "/vnc");
	r = route_match(cfg, "/abc", 2);
	assert_non_null(r);
	assert_false(r->prefix);
	assert_string_equal(r->path, "/a");
	assert_null(route_match(cfg, "/vnc", 3));
	/* An embedded NUL is just a byte. */
	assert_null(route_match(cfg, "/vnc\0", 5));
	r = route_match(cfg, "/a/\0", 4);
	assert_non_null(r);
	assert_true(r->prefix);
	config_free(cfg);
}

static void
test_match_no_routes(void **state)
{
	struct config	cfg;

	memset(&cfg, 0, sizeof(cfg));
	assert_null(route_match(&cfg, "/", 1));
}

static void
test_origins(void **state)
{
	struct config			*cfg = load(
	    "[gateway]\nlisten = 80\nbackend = unix:/s\n"
	    "[route /open]\n"
	    "[route /list]\n"
	    "origins = https://App.Example.com http://localhost:8080\n"
	    "[route /star]\n"
	    "origins = https://a.example *\n");
	const struct config_route	*open, *list, *star;

	open = route_match(cfg, "/open", 5);
	list = route_match(cfg, "/list", 5);
	star = route_match(cfg, "/star", 5);
	assert_non_null(open);
	assert_non_null(list);
	assert_non_null(star);

	assert_true(route_origin_allowed(open, "https://evil.example", 20));
	assert_true(route_origin_allowed(open, "", 0));

	assert_true(route_origin_allowed(list, "https://app.example.com", 23));
	assert_true(route_origin_allowed(list, "HTTPS://APP.EXAMPLE.COM", 23));
	assert_true(route_origin_allowed(list, "http://localhost:8080", 21));
	assert_true(route_origin_allowed(list, "", 0));
	assert_false(route_origin_allowed(list, "https://app.example.co", 22));
	assert_false(route_origin_allowed(list, "https://app.example.com.evil",
	    28));
	assert_false(route_origin_allowed(list, "http://app.example.com", 22));
	assert_false(route_origin_allowed(list, "http://localhost:8081", 21));
	assert_false(route_origin_allowed(list, "null", 4));
	assert_false(route_origin_allowed(list, "*", 1));
	/* Length rules, not NUL: a prefix of the buffer is compared. */
	assert_true(route_origin_allowed(list, "http://localhost:8080/x", 21));
	assert_false(route_origin_allowed(list, "http://localhost:8080\0", 22));

	assert_true(route_origin_allowed(star, "https://anything", 16));
	assert_true(route_origin_allowed(star, "null", 4));
	config_free(cfg);
}

static void
test_backend_round_robin(void **state)
{
	struct config			*cfg = load(
	    "[gateway]\nlisten = 80\n"
	    "[route /]\nbackend = tcp:a:1\nbackend = tcp:b:2\n"
	    "backend = unix:/c\n");
	const struct config_route	*r = &cfg->routes[0];
	static const char		 want[][4] = {
		/* seq 0..4, attempts 0..2: a rotation each, then NULL */
		"abc", "bca", "cab", "abc", "bca",
	};
	const struct config_addr	*a;
	uint64_t			 seq;
	size_t				 attempt;
	char				 got;

	assert_int_equal(r->nbackends, 3);
	for (seq = 0; seq < 5; seq++) {
		for (attempt = 0; attempt < 3; attempt++) {
			a = route_backend(r, seq, attempt);
			assert_non_null(a);
			got = a->kind == CONFIG_ADDR_UNIX ? 'c' : a->host[0];
			if (got != want[seq][attempt])
				fail_msg("seq %llu attempt %zu: want %c got %c",
				    (unsigned long long)seq, attempt,
				    want[seq][attempt], got);
		}
		assert_null(route_backend(r, seq, 3));
		assert_null(route_backend(r, seq, SIZE_MAX));
	}
	/* A huge ticket wraps cleanly: UINT64_MAX % 3 == 0. */
	assert_string_equal(route_backend(r, UINT64_MAX, 0)->host, "a");
	assert_string_equal(route_backend(r, UINT64_MAX, 1)->host, "b");
	assert_string_equal(route_backend(r, UINT64_MAX, 2)->path, "/c");
	assert_string_equal(route_backend(r, UINT64_MAX - 1, 0)->path, "/c");
	assert_string_equal(route_backend(r, UINT64_MAX - 1, 1)->host, "a");
	assert_null(route_backend(r, UINT64_MAX, 3));
	config_free(cfg);
}

static void
test_backend_single_and_none(void **state)
{
	struct config			*cfg = load(
	    "[gateway]\nlisten = 80\n[route /]\nbackend = tcp:only:9\n");
	const struct config_route	*r = &cfg->routes[0];
	struct config_route		 empty;

	assert_string_equal(route_backend(r, 0, 0)->host, "only");
	assert_string_equal(route_backend(r, 12345, 0)->host, "only");
	assert_null(route_backend(r, 12345, 1));
	config_free(cfg);

	memset(&empty, 0, sizeof(empty));
	assert_null(route_backend(&empty, 0, 0));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_match_catch_all),
		cmocka_unit_test(test_match_len),
		cmocka_unit_test(test_match_no_routes),
		cmocka_unit_test(test_origins),
		cmocka_unit_test(test_backend_round_robin),
		cmocka_unit_test(test_backend_single_and_none),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
