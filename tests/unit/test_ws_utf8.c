/*
 * Unit tests for ws_utf8: RFC 3629 vectors fed whole, one byte at a time
 * and split at every offset; the ASCII fast path around word boundaries;
 * an exhaustive comparison with a plain code-point decoder for short
 * strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ws_utf8.h"

enum test_utf8_expect {
	TEST_UTF8_VALID = 0,
	TEST_UTF8_INCOMPLETE,	/* a valid prefix, but not a whole text */
	TEST_UTF8_INVALID,
};

struct test_utf8_vec {
	const char	*name;
	const char	*s;
	size_t		 len;
	enum test_utf8_expect expect;
	size_t		 fail_at;	/* INVALID: first bad byte */
};

#define V(name, s, expect, at) { name, s, sizeof(s) - 1, expect, at }

static const struct test_utf8_vec test_utf8_vecs[] = {
	V("empty", "", TEST_UTF8_VALID, 0),
	V("ascii", "Hello, world", TEST_UTF8_VALID, 0),
	V("nul and del", "a\0b\x7f", TEST_UTF8_VALID, 0),
	V("U+0080", "\xc2\x80", TEST_UTF8_VALID, 0),
	V("U+07FF", "\xdf\xbf", TEST_UTF8_VALID, 0),
	V("U+0800", "\xe0\xa0\x80", TEST_UTF8_VALID, 0),
	V("U+D7FF", "\xed\x9f\xbf", TEST_UTF8_VALID, 0),
	V("U+E000", "\xee\x80\x80", TEST_UTF8_VALID, 0),
	V("U+FFFF", "\xef\xbf\xbf", TEST_UTF8_VALID, 0),
	V("U+10000", "\xf0\x90\x80\x80", TEST_UTF8_VALID, 0),
	V("U+40000", "\xf1\x80\x80\x80", TEST_UTF8_VALID, 0),
	V("U+10FFFF", "\xf4\x8f\xbf\xbf", TEST_UTF8_VALID, 0),
	V("kosme", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5",
	    TEST_UTF8_VALID, 0),
	V("mixed", "a\xc3\xa9z\xe2\x82\xac!\xf0\x9f\x98\x80.",
	    TEST_UTF8_VALID, 0),
	/* overlong forms */
	V("C0 80", "\xc0\x80", TEST_UTF8_INVALID, 0),
	V("C1 BF", "\xc1\xbf", TEST_UTF8_INVALID, 0),
	V("E0 80 80", "\xe0\x80\x80", TEST_UTF8_INVALID, 1),
	V("E0 9F BF", "\xe0\x9f\xbf", TEST_UTF8_INVALID, 1),
	V("F0 80 80 80", "\xf0\x80\x80\x80", TEST_UTF8_INVALID, 1),
	V("F0 8F BF BF", "\xf0\x8f\xbf\xbf", TEST_UTF8_INVALID, 1),
	/* UTF-16 surrogates */
	V("U+D800", "\xed\xa0\x80", TEST_UTF8_INVALID, 1),
	V("U+DFFF", "\xed\xbf\xbf", TEST_UTF8_INVALID, 1),
	V("surrogate pair", "\xed\xa0\x80\xed\xb0\x80", TEST_UTF8_INVALID, 1),
	/* above U+10FFFF */
	V("F4 90", "\xf4\x90\x80\x80", TEST_UTF8_INVALID, 1),
	V("F4 BF", "\xf4\xbf\xbf\xbf", TEST_UTF8_INVALID, 1),
	V("F5", "\xf5\x80\x80\x80", TEST_UTF8_INVALID, 0),
	V("FE", "\xfe", TEST_UTF8_INVALID, 0),
	V("FF", "\xff", TEST_UTF8_INVALID, 0),
	/* bad continuations */
	V("lone 80", "\x80", TEST_UTF8_INVALID, 0),
	V("lone BF after ascii", "a\xbf", TEST_UTF8_INVALID, 1),
	V("C2 C2", "\xc2\xc2\x80", TEST_UTF8_INVALID, 1),
	V("E2 82 41", "\xe2\x82\x41", TEST_UTF8_INVALID, 2),
	V("F0 9F 98 41", "\xf0\x9f\x98\x41", TEST_UTF8_INVALID, 3),
	V("too many tails", "\xc3\xa9\x80", TEST_UTF8_INVALID, 2),
	/* truncated: a valid prefix, not a whole text */
	V("C2", "\xc2", TEST_UTF8_INCOMPLETE, 0),
	V("E2 82", "\xe2\x82", TEST_UTF8_INCOMPLETE, 0),
	V("F0 9F 98", "\xf0\x9f\x98", TEST_UTF8_INCOMPLETE, 0),
	V("ascii then F4 8F", "abcdefghij\xf4\x8f", TEST_UTF8_INCOMPLETE, 0),
	/* detected mid-stream, after a long valid run */
	V("Hello C2 41", "Hello\xc2\x41", TEST_UTF8_INVALID, 6),
	V("autobahn 6.4.1",
	    "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"
	    "\x65\x64\x69\x74\x65\x64", TEST_UTF8_INVALID, 12),
	V("late 80",
	    "abcdefghijklmnopqrstuvwxyz\xe2\x82\xac" "0123456789\x80xyz",
	    TEST_UTF8_INVALID, 39),
};

#undef V

#define NVECS	(sizeof(test_utf8_vecs) / sizeof(test_utf8_vecs[0]))

/* Place a copy of s at the very end of a readable page, a PROT_NONE page
 * right after it, so any read past the end faults. */
struct test_utf8_guard {
	uint8_t		*map;
	size_t		 maplen;
	uint8_t		*p;
};

static void
test_utf8_guard_put(struct test_utf8_guard *g, const void *s, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (len + pg - 1) / pg * pg;

	if (data == 0)
		data = pg;
	g->maplen = data + pg;
	g->map = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->map != MAP_FAILED);
	assert_int_equal(mprotect(g->map + data, pg, PROT_NONE), 0);
	g->p = g->map + data - len;
	if (len > 0)
		memcpy(g->p, s, len);
}

static void
test_utf8_guard_free(struct test_utf8_guard *g)
{
	munmap(g->map, g->maplen);
}

static void
test_utf8_check_end(const struct test_utf8_vec *v, int rc,
    const struct ws_utf8 *u)
{
	switch (v->expect) {
	case TEST_UTF8_VALID:
		assert_int_equal(rc, 0);
		assert_true(ws_utf8_complete(u));
		break;
	case TEST_UTF8_INCOMPLETE:
		assert_int_equal(rc, 0);
		assert_false(ws_utf8_complete(u));
		break;
	case TEST_UTF8_INVALID:
		assert_int_equal(rc, -1);
		assert_false(ws_utf8_complete(u));
		break;
	}
}

static void
test_utf8_whole(void **state)
{
	struct test_utf8_guard g;
	struct ws_utf8 u;
	size_t i;
	int rc;

	for (i = 0; i < NVECS; i++) {
		const struct test_utf8_vec *v = &test_utf8_vecs[i];

		print_message("  %s\n", v->name);
		test_utf8_guard_put(&g, v->s, v->len);
		memset(&u, 0, sizeof(u));
		rc = ws_utf8_feed(&u, g.p, v->len);
		test_utf8_check_end(v, rc, &u);
		assert_int_equal(ws_utf8_valid(g.p, v->len),
		    v->expect == TEST_UTF8_VALID);
		test_utf8_guard_free(&g);
	}
}

static void
test_utf8_bytewise(void **state)
{
	struct test_utf8_guard g;
	struct ws_utf8 u;
	size_t i, j;
	int rc;

	for (i = 0; i < NVECS; i++) {
		const struct test_utf8_vec *v = &test_utf8_vecs[i];

		ws_utf8_reset(&u);
		rc = 0;
		for (j = 0; j < v->len; j++) {
			test_utf8_guard_put(&g, v->s + j, 1);
			rc = ws_utf8_feed(&u, g.p, 1);
			test_utf8_guard_free(&g);
			/* -1 exactly from the first bad byte on */
			if (v->expect == TEST_UTF8_INVALID && j >= v->fail_at)
				assert_int_equal(rc, -1);
			else
				assert_int_equal(rc, 0);
		}
		test_utf8_check_end(v, rc, &u);
		/* sticky, even with nothing or good bytes fed */
		if (v->expect == TEST_UTF8_INVALID) {
			assert_int_equal(ws_utf8_feed(&u, NULL, 0), -1);
			assert_int_equal(ws_utf8_feed(&u,
			    (const uint8_t *)"ok", 2), -1);
			ws_utf8_reset(&u);
			assert_int_equal(ws_utf8_feed(&u,
			    (const uint8_t *)"ok", 2), 0);
			assert_true(ws_utf8_complete(&u));
		}
	}
}

static void
test_utf8_split(void **state)
{
	struct test_utf8_guard a, b;
	struct ws_utf8 u;
	size_t i, k;
	int rc;

	for (i = 0; i < NVECS; i++) {
		const struct test_utf8_vec *v = &test_utf8_vecs[i];

		for (k = 0; k <= v->len; k++) {
			test_utf8_guard_put(&a, v->s, k);
			test_utf8_guard_put(&b, v->s + k, v->len - k);
			ws_utf8_reset(&u);
			rc = ws_utf8_feed(&u, a.p, k);
			if (v->expect == TEST_UTF8_INVALID && k > v->fail_at)
				assert_int_equal(rc, -1);
			else
				assert_int_equal(rc, 0);
			rc = ws_utf8_feed(&u, b.p, v->len - k);
			test_utf8_check_end(v, rc, &u);
			test_utf8_guard_free(&a);
			test_utf8_guard_free(&b);
		}
	}
}

/*
 * The fast path: runs of ASCII with one non-ASCII sequence placed at every
 * position, starting at every alignment, so the sequence falls at each
 * byte of an 8-byte word and straddles word ends.
 */
static void
test_utf8_fast_path(void **state)
{
	static const struct {
		const char *seq;
		size_t len;
		bool valid;
	} seqs[] = {
		{ "\xc3\xa9", 2, true },
		{ "\xe2\x82\xac", 3, true },
		{ "\xf0\x9f\x98\x80", 4, true },
		{ "\x80", 1, false },
		{ "\xc0\xaf", 2, false },
		{ "\xed\xa0\x80", 3, false },
		{ "\xff", 1, false },
	};
	uint8_t buf[64 + 8];
	struct ws_utf8 u;
	size_t s, align, pos, total;
	int rc;

	for (s = 0; s < sizeof(seqs) / sizeof(seqs[0]); s++)
	for (align = 0; align < 8; align++)
	for (total = 0; total <= 40; total++)
	for (pos = 0; pos + seqs[s].len <= total; pos++) {
		uint8_t *p = buf + align;

		memset(p, 'x', total);
		memcpy(p + pos, seqs[s].seq, seqs[s].len);
		assert_int_equal(ws_utf8_valid(p, total), seqs[s].valid);
		ws_utf8_reset(&u);
		/* the prefix before the sequence is clean */
		assert_int_equal(ws_utf8_feed(&u, p, pos), 0);
		assert_true(ws_utf8_complete(&u));
		rc = ws_utf8_feed(&u, p + pos, total - pos);
		assert_int_equal(rc, seqs[s].valid ? 0 : -1);
		/* the sequence cut short at the end of a buffer */
		if (seqs[s].valid && seqs[s].len > 1) {
			ws_utf8_reset(&u);
			assert_int_equal(ws_utf8_feed(&u, p,
			    pos + seqs[s].len - 1), 0);
			assert_false(ws_utf8_complete(&u));
		}
	}
	/* all-ASCII runs of every length and alignment */
	for (align = 0; align < 8; align++)
	for (total = 0; total <= 64; total++) {
		memset(buf + align, 0x7f, total);
		assert_true(ws_utf8_valid(buf + align, total));
	}
}

/*
 * An independent reference: decode each code point by its lead byte and
 * check the value range, as RFC 3629 §3 words it.
 */
static bool
test_utf8_ref(const uint8_t *p, size_t len)
{
	size_t i = 0, n, j;
	uint32_t cp, min;

	while (i < len) {
		uint8_t b = p[i];

		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xe0) == 0xc0) {
			n = 2; cp = b & 0x1f; min = 0x80;
		} else if ((b & 0xf0) == 0xe0) {
			n = 3; cp = b & 0x0f; min = 0x800;
		} else if ((b & 0xf8) == 0xf0) {
			n = 4; cp = b & 0x07; min = 0x10000;
		} else
			return false;
		if (len - i < n)
			return false;
		for (j = 1; j < n; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* Every string of 1 to 3 bytes, and 4-byte strings over the interesting
 * byte values, against the reference. */
static void
test_utf8_exhaustive(void **state)
{
	static const uint8_t pick[] = {
		0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0,
		0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xec, 0xed, 0xee, 0xef, 0xf0,
		0xf1, 0xf3, 0xf4, 0xf5, 0xff,
	};
	const size_t np = sizeof(pick);
	uint8_t b[4];
	uint32_t x;
	size_t i, j, k, l;

	for (x = 0; x < 0x1000000; x++) {
		b[0] = (uint8_t)(x >> 16);
		b[1] = (uint8_t)(x >> 8);
		b[2] = (uint8_t)x;
		if (x < 0x100)
			assert_int_equal(ws_utf8_valid(b + 2, 1),
			    test_utf8_ref(b + 2, 1));
		if (x < 0x10000)
			assert_int_equal(ws_utf8_valid(b + 1, 2),
			    test_utf8_ref(b + 1, 2));
		if (ws_utf8_valid(b, 3) != test_utf8_ref(b, 3))
			fail_msg("%02x %02x %02x", b[0], b[1], b[2]);
	}
	for (i = 0; i < np; i++)
	for (j = 0; j < np; j++)
	for (k = 0; k < np; k++)
	for (l = 0; l < np; l++) {
		b[0] = pick[i]; b[1] = pick[j]; b[2] = pick[k]; b[3] = pick[l];
		if (ws_utf8_valid(b, 4) != test_utf8_ref(b, 4))
			fail_msg("%02x %02x %02x %02x", b[0], b[1], b[2], b[3]);
	}
}

/* Random strings biased towards UTF-8 shapes, whole and split in three. */
static void
test_utf8_random(void **state)
{
	static const uint8_t pick[] = {
		'a', 'a', 'a', 0x80, 0x9f, 0xa0, 0xbf, 0xc2, 0xe0, 0xe1, 0xed,
		0xf0, 0xf4, 0xc0, 0xf5,
	};
	uint8_t buf[48];
	uint32_t r = 12345;
	struct ws_utf8 u;
	size_t iter, i, len, k1, k2;
	bool ref;
	int rc;

	for (iter = 0; iter < 200000; iter++) {
		r = r * 1103515245u + 12345u;
		len = (r >> 16) % sizeof(buf);
		for (i = 0; i < len; i++) {
			r = r * 1103515245u + 12345u;
			buf[i] = (r >> 20) & 1 ?
			    pick[(r >> 8) % sizeof(pick)] : (uint8_t)(r >> 12);
		}
		ref = test_utf8_ref(buf, len);
		assert_int_equal(ws_utf8_valid(buf, len), ref);
		k1 = len ? (r >> 3) % (len + 1) : 0;
		k2 = k1 + (len - k1) / 2;
		ws_utf8_reset(&u);
		rc = ws_utf8_feed(&u, buf, k1);
		if (rc == 0)
			rc = ws_utf8_feed(&u, buf + k1, k2 - k1);
		if (rc == 0)
			rc = ws_utf8_feed(&u, buf + k2, len - k2);
		assert_int_equal(rc == 0 && ws_utf8_complete(&u), ref);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_utf8_whole),
		cmocka_unit_test(test_utf8_bytewise),
		cmocka_unit_test(test_utf8_split),
		cmocka_unit_test(test_utf8_fast_path),
		cmocka_unit_test(test_utf8_exhaustive),
		cmocka_unit_test(test_utf8_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
