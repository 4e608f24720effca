/*
 * Unit tests for zstream: the RFC 7692 §7.2.3 examples inflated whole and
 * one byte at a time, "Hello" compressed to the exact §7.2.3.1 bytes,
 * round trips of text-like and random data in pieces at every window
 * size, the inflated-size limit against a bomb, context takeover kept or
 * dropped, corrupt input, a refusing sink, and the memory an idle and a
 * busy stream hold.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zstream.h"

/* A growing output buffer; limit > 0 makes the sink refuse past it. */
struct test_zs_buf {
	uint8_t	*p;
	size_t	 len, cap;
	size_t	 refuse_after;
	size_t	 calls;
};

static int
test_zs_sink(void *arg, const uint8_t *p, size_t n)
{
	struct test_zs_buf *b = arg;

	assert_true(n > 0);
	b->calls++;
	if (b->refuse_after > 0 && b->len + n > b->refuse_after)
		return -1;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

static void
test_zs_reset(struct test_zs_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

struct test_zs_vec {
	const char	*name;
	const uint8_t	*in;
	size_t		 len;
	const char	*out;
};

static const uint8_t test_zs_one_block[] =	/* §7.2.3.1 */
    { 0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00 };
static const uint8_t test_zs_stored[] =		/* §7.2.3.3 */
    { 0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00 };
static const uint8_t test_zs_bfinal[] =		/* §7.2.3.4 */
    { 0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00 };
static const uint8_t test_zs_two_blocks[] =	/* §7.2.3.5 */
    { 0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9,
      0x07, 0x00 };
static const uint8_t test_zs_empty[] = { 0x00 };	/* §7.2.3.6 */

static const struct test_zs_vec test_zs_vecs[] = {
	{ "one block", test_zs_one_block, sizeof(test_zs_one_block), "Hello" },
	{ "stored", test_zs_stored, sizeof(test_zs_stored), "Hello" },
	{ "bfinal", test_zs_bfinal, sizeof(test_zs_bfinal), "Hello" },
	{ "two blocks", test_zs_two_blocks, sizeof(test_zs_two_blocks),
	    "Hello" },
	{ "empty", test_zs_empty, sizeof(test_zs_empty), "" },
	{ "nothing", test_zs_empty, 0, "" },
};

static void
test_rfc_examples(void **state)
{
	struct test_zs_buf	b = { 0 };
	struct zstream		zs;
	size_t			i, j;

	(void)state;
	for (i = 0; i < sizeof(test_zs_vecs) / sizeof(test_zs_vecs[0]); i++) {
		const struct test_zs_vec *v = &test_zs_vecs[i];

		/* whole */
		zstream_init(&zs, true, 15, -1, true);
		assert_int_equal(zstream_inflate(&zs, v->in, v->len, true, 0,
		    test_zs_sink, &b), ZSTREAM_OK);
		if (b.len != strlen(v->out) ||
		    (b.len > 0 && memcmp(b.p, v->out, b.len) != 0))
			fail_msg("%s: wrong output", v->name);
		assert_false(zstream_busy(&zs));
		test_zs_reset(&b);
		/* one byte at a time, the end on its own */
		zstream_init(&zs, true, 15, -1, true);
		for (j = 0; j < v->len; j++)
			assert_int_equal(zstream_inflate(&zs, v->in + j, 1,
			    false, 0, test_zs_sink, &b), ZSTREAM_OK);
		assert_int_equal(zstream_inflate(&zs, NULL, 0, true, 0,
		    test_zs_sink, &b), ZSTREAM_OK);
		if (b.len != strlen(v->out) ||
		    (b.len > 0 && memcmp(b.p, v->out, b.len) != 0))
			fail_msg("%s: wrong output byte by byte", v->name);
		test_zs_reset(&b);
		/* the limit: exactly the size passes, one less fails */
		if (strlen(v->out) > 0) {
			zstream_init(&zs, true, 15, -1, true);
			assert_int_equal(zstream_inflate(&zs, v->in, v->len,
			    true, strlen(v->out), test_zs_sink, &b),
			    ZSTREAM_OK);
			test_zs_reset(&b);
			assert_int_equal(zstream_inflate(&zs, v->in, v->len,
			    true, strlen(v->out) - 1, test_zs_sink, &b),
			    ZSTREAM_ERR_TOO_BIG);
			assert_false(zstream_busy(&zs));
			assert_true(b.len < strlen(v->out));
			test_zs_reset(&b);
		}
	}
}

/* zlib's default level gives the §7.2.3.1 bytes for "Hello", fed whole or
 * a byte at a time; the empty message is the single byte 00. */
static void
test_deflate_exact(void **state)
{
	struct test_zs_buf	b = { 0 };
	struct zstream		zs;
	const char		*h = "Hello";
	size_t			i;

	(void)state;
	zstream_init(&zs, false, 15, -1, true);
	assert_int_equal(zstream_deflate(&zs, (const uint8_t *)h, 5, true,
	    test_zs_sink, &b), ZSTREAM_OK);
	assert_int_equal(b.len, sizeof(test_zs_one_block));
	assert_memory_equal(b.p, test_zs_one_block, b.len);
	assert_false(zstream_busy(&zs));
	test_zs_reset(&b);
	for (i = 0; i < 5; i++)
		assert_int_equal(zstream_deflate(&zs, (const uint8_t *)h + i, 1,
		    false, test_zs_sink, &b), ZSTREAM_OK);
	assert_true(zstream_busy(&zs));
	assert_int_equal(zstream_deflate(&zs, NULL, 0, true, test_zs_sink,
	    &b), ZSTREAM_OK);
	assert_int_equal(b.len, sizeof(test_zs_one_block));
	assert_memory_equal(b.p, test_zs_one_block, b.len);
	test_zs_reset(&b);
	assert_int_equal(zstream_deflate(&zs, NULL, 0, true, test_zs_sink,
	    &b), ZSTREAM_OK);
	assert_int_equal(b.len, 1);
	assert_int_equal(b.p[0], 0x00);
	test_zs_reset(&b);
}

/* Text-like data: words from a small vocabulary, lines of varied length. */
static void
test_zs_text(uint8_t *p, size_t n, unsigned seed)
{
	static const char *const words[] = { "gateway", "session", "frame",
	    "deflate", "{\"id\":", "\"value\":", "42", "\xc3\xa9t\xc3\xa9",
	    "the", "of", "\xe2\x82\xac" };
	size_t	i = 0, w, k;

	srand(seed);
	while (i < n) {
		w = (size_t)rand() % (sizeof(words) / sizeof(words[0]));
		for (k = 0; words[w][k] != '\0' && i < n; k++)
			p[i++] = (uint8_t)words[w][k];
		if (i < n)
			p[i++] = rand() % 9 == 0 ? '\n' : ' ';
	}
}

static void
test_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 100, 16383, 16384,
	    16385, 65536, 300000, 1 << 20 };
	struct test_zs_buf	c = { 0 }, d = { 0 };
	struct zstream		def, inf;
	uint8_t			*src;
	size_t			i, off, piece;
	unsigned		w, kind;

	(void)state;
	src = malloc(1 << 20);
	assert_non_null(src);
	for (kind = 0; kind < 2; kind++)
	for (w = 9; w <= 15; w += 3)
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		if (kind == 0)
			test_zs_text(src, n, (unsigned)(n + w));
		else
			for (off = 0; off < n; off++)
				src[off] = (uint8_t)(rand() >> 7);
		zstream_init(&def, false, w, 6, true);
		zstream_init(&inf, true, 15, -1, true);
		/* compress in pieces of changing size */
		for (off = 0, piece = 1; off < n; off += piece, piece =
		    piece * 3 + 7) {
			if (piece > n - off)
				piece = n - off;
			assert_int_equal(zstream_deflate(&def, src + off,
			    piece, false, test_zs_sink, &c), ZSTREAM_OK);
		}
		assert_int_equal(zstream_deflate(&def, NULL, 0, true,
		    test_zs_sink, &c), ZSTREAM_OK);
		if (kind == 0 && n >= 65536)
			assert_true(c.len < n / 3);	/* it compresses */
		/* inflate in pieces of another pattern */
		for (off = 0, piece = 5; off < c.len; off += piece,
		    piece = piece * 2 + 1) {
			if (piece > c.len - off)
				piece = c.len - off;
			assert_int_equal(zstream_inflate(&inf, c.p + off,
			    piece, false, n, test_zs_sink, &d), ZSTREAM_OK);
		}
		assert_int_equal(zstream_inflate(&inf, NULL, 0, true, n,
		    test_zs_sink, &d), ZSTREAM_OK);
		if (d.len != n || (n > 0 && memcmp(d.p, src, n) != 0))
			fail_msg("kind %u window %u size %zu: %zu back", kind,
			    w, n, d.len);
		assert_false(zstream_busy(&def));
		assert_false(zstream_busy(&inf));
		test_zs_reset(&c);
		test_zs_reset(&d);
	}
	free(src);
}

/* 64 MiB of zeros deflate to ~64 KiB; with a 1 MiB limit the inflater
 * stops at 1 MiB + 1 bytes produced and the sink sees at most 1 MiB. */
static void
test_bomb(void **state)
{
	struct test_zs_buf	c = { 0 }, d = { 0 };
	struct zstream		def, inf;
	uint8_t			*zero;
	size_t			i;

	(void)state;
	zero = calloc(1, 1 << 20);
	assert_non_null(zero);
	zstream_init(&def, false, 15, 9, true);
	for (i = 0; i < 64; i++)
		assert_int_equal(zstream_deflate(&def, zero, 1 << 20, false,
		    test_zs_sink, &c), ZSTREAM_OK);
	assert_int_equal(zstream_deflate(&def, NULL, 0, true, test_zs_sink,
	    &c), ZSTREAM_OK);
	assert_true(c.len < 128 * 1024);
	zstream_init(&inf, true, 15, -1, true);
	assert_int_equal(zstream_inflate(&inf, c.p, c.len, true, 1 << 20,
	    test_zs_sink, &d), ZSTREAM_ERR_TOO_BIG);
	assert_true(d.len <= 1 << 20);
	assert_false(zstream_busy(&inf));
	/* and fed in small pieces, it stops on the piece that passes */
	test_zs_reset(&d);
	for (i = 0; i < c.len; i += 100) {
		int r = zstream_inflate(&inf, c.p + i, c.len - i < 100 ?
		    c.len - i : 100, false, 1 << 20, test_zs_sink, &d);

		if (r == ZSTREAM_ERR_TOO_BIG)
			break;
		assert_int_equal(r, ZSTREAM_OK);
	}
	assert_true(i < c.len);
	assert_true(i < 4096);		/* well before the end */
	assert_true(d.len <= 1 << 20);
	test_zs_reset(&c);
	test_zs_reset(&d);
	free(zero);
}

/* With takeover the second identical message refers back to the first
 * and comes out smaller; the state stays between messages. */
static void
test_context_takeover(void **state)
{
	struct test_zs_buf	c = { 0 }, d = { 0 };
	struct zstream		def, inf;
	uint8_t			msg[2000];
	size_t			first;

	(void)state;
	test_zs_text(msg, sizeof(msg), 7);
	zstream_init(&def, false, 15, 6, false);
	zstream_init(&inf, true, 15, -1, false);
	assert_int_equal(zstream_deflate(&def, msg, sizeof(msg), true,
	    test_zs_sink, &c), ZSTREAM_OK);
	assert_true(zstream_busy(&def));
	first = c.len;
	assert_int_equal(zstream_inflate(&inf, c.p, c.len, true, 0,
	    test_zs_sink, &d), ZSTREAM_OK);
	assert_true(zstream_busy(&inf));
	test_zs_reset(&c);
	test_zs_reset(&d);
	assert_int_equal(zstream_deflate(&def, msg, sizeof(msg), true,
	    test_zs_sink, &c), ZSTREAM_OK);
	assert_true(c.len < first / 4);
	assert_int_equal(zstream_inflate(&inf, c.p, c.len, true, 0,
	    test_zs_sink, &d), ZSTREAM_OK);
	assert_int_equal(d.len, sizeof(msg));
	assert_memory_equal(d.p, msg, sizeof(msg));
	zstream_release(&def);
	zstream_release(&inf);
	assert_false(zstream_busy(&def));
	test_zs_reset(&c);
	test_zs_reset(&d);
}

static void
test_corrupt_and_sink(void **state)
{
	static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	struct test_zs_buf	b = { 0 };
	struct zstream		zs;
	uint8_t			msg[50000];

	(void)state;
	zstream_init(&zs, true, 15, -1, true);
	assert_int_equal(zstream_inflate(&zs, junk, sizeof(junk), true, 0,
	    test_zs_sink, &b), ZSTREAM_ERR_DATA);
	assert_false(zstream_busy(&zs));
	/* a stored block whose NLEN does not match */
	assert_int_equal(zstream_inflate(&zs, (const uint8_t *)
	    "\x00\x05\x00\xfb\xffHello", 10, true, 0, test_zs_sink, &b),
	    ZSTREAM_ERR_DATA);
	test_zs_reset(&b);
	/* the sink refuses: the error comes back, the state is freed */
	test_zs_text(msg, sizeof(msg), 3);
	b.refuse_after = 10;
	zstream_init(&zs, false, 15, 0, true);	/* level 0: stored */
	assert_int_equal(zstream_deflate(&zs, msg, sizeof(msg), true,
	    test_zs_sink, &b), ZSTREAM_ERR_SINK);
	assert_false(zstream_busy(&zs));
	test_zs_reset(&b);
	assert_string_equal(zstream_strerror(ZSTREAM_ERR_TOO_BIG),
	    "message inflates past max_message_size");
}

/* A sink that takes each piece but asks to stop after it: the inflater
 * pauses, keeps its place, and the caller feeds what was not taken. */
static int
test_zs_pausing_sink(void *arg, const uint8_t *p, size_t n)
{
	test_zs_sink(arg, p, n);
	return 1;
}

static void
test_pause_and_resume(void **state)
{
	struct test_zs_buf	c = { 0 }, d = { 0 };
	struct zstream		def, inf;
	uint8_t			*src;
	size_t			n = 300000, off, piece, rest, pauses = 0;
	const uint8_t		*p;
	int			r;

	(void)state;
	src = malloc(n);
	assert_non_null(src);
	test_zs_text(src, n, 11);
	zstream_init(&def, false, 15, 6, true);
	assert_int_equal(zstream_deflate(&def, src, n, true, test_zs_sink,
	    &c), ZSTREAM_OK);
	zstream_init(&inf, true, 15, -1, true);
	/* the input in pieces; each piece fed until all is taken */
	for (off = 0; off < c.len; off += piece) {
		piece = c.len - off < 1000 ? c.len - off : 1000;
		p = c.p + off;
		rest = piece;
		for (;;) {
			r = zstream_inflate(&inf, p, rest, false, n,
			    test_zs_pausing_sink, &d);
			if (r == ZSTREAM_OK)
				break;
			assert_int_equal(r, ZSTREAM_PAUSED);
			pauses++;
			p += rest - zstream_unused(&inf);
			rest = zstream_unused(&inf);
			assert_true(zstream_busy(&inf));
		}
	}
	while ((r = zstream_inflate(&inf, NULL, 0, true, n,
	    test_zs_pausing_sink, &d)) == ZSTREAM_PAUSED)
		pauses++;
	assert_int_equal(r, ZSTREAM_OK);
	assert_false(zstream_busy(&inf));
	assert_false(zstream_paused(&inf));
	assert_int_equal(d.len, n);
	assert_memory_equal(d.p, src, n);
	assert_true(pauses > n / 16384 / 2);	/* it did stop, often */
	/* a limit still holds across pauses */
	test_zs_reset(&d);
	for (r = zstream_inflate(&inf, c.p, c.len, true, 100000,
	    test_zs_pausing_sink, &d), p = c.p; r == ZSTREAM_PAUSED;) {
		p += (size_t)(c.p + c.len - p) - zstream_unused(&inf);
		r = zstream_inflate(&inf, p, (size_t)(c.p + c.len - p), true,
		    100000, test_zs_pausing_sink, &d);
	}
	if (r != ZSTREAM_ERR_TOO_BIG)
		fail_msg("r %d, %zu bytes out", r, d.len);
	assert_true(d.len <= 100000);
	assert_false(zstream_busy(&inf));
	test_zs_reset(&c);
	test_zs_reset(&d);
	free(src);
}

/* What a stream costs: idle, nothing but the struct; busy, the zlib heap
 * bytes printed here (the figure the idle budget is checked against). */
static void
test_memory(void **state)
{
	struct test_zs_buf	b = { 0 };
	struct zstream		zs;

	(void)state;
	zstream_init(&zs, false, 15, -1, true);
	assert_int_equal(zs.held, 0);
	assert_int_equal(zstream_deflate(&zs, (const uint8_t *)"x", 1, false,
	    test_zs_sink, &b), ZSTREAM_OK);
	printf("zstream: idle %zu bytes; busy deflate w15 %zu", sizeof(zs),
	    zs.held);
	assert_true(zs.held > 256 * 1024 && zs.held < 300 * 1024);
	assert_int_equal(zstream_deflate(&zs, NULL, 0, true, test_zs_sink,
	    &b), ZSTREAM_OK);
	assert_int_equal(zs.held, 0);
	zstream_init(&zs, false, 9, -1, true);
	assert_int_equal(zstream_deflate(&zs, (const uint8_t *)"x", 1, false,
	    test_zs_sink, &b), ZSTREAM_OK);
	printf(", w9 %zu", zs.held);
	zstream_release(&zs);
	test_zs_reset(&b);
	zstream_init(&zs, true, 15, -1, true);
	assert_int_equal(zstream_inflate(&zs, test_zs_two_blocks, 4, false, 0,
	    test_zs_sink, &b), ZSTREAM_OK);
	printf(", inflate %zu bytes\n", zs.held);
	assert_true(zs.held > 32 * 1024 && zs.held < 48 * 1024);
	assert_true(zstream_busy(&zs));
	zstream_release(&zs);
	assert_false(zstream_busy(&zs));
	assert_int_equal(zs.held, 0);
	test_zs_reset(&b);
	assert_true(sizeof(zs) <= 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_deflate_exact),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_bomb),
		cmocka_unit_test(test_context_takeover),
		cmocka_unit_test(test_corrupt_and_sink),
		cmocka_unit_test(test_pause_and_resume),
		cmocka_unit_test(test_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
