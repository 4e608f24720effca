/*
 * Unit tests for framing: line and text mode vectors with their exact
 * messages, fed whole, one byte at a time and split at every offset (line
 * messages must not depend on where reads end; text messages must
 * concatenate to the input and each be whole UTF-8), CRLF and a '\r' at
 * the line_max edge, cuts at code point boundaries, invalid UTF-8 under
 * both policies, overflow under both policies, and EOF.
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

#include "framing.h"
#include "ws_utf8.h"

/* What the caller sees: messages as "t:..." or "b:..." joined by '|',
 * an error as "E1007"; the held bytes as a caller would hold them. */
struct test_fr_run {
	char	out[4096];
	uint8_t	held[4096];
	size_t	nheld;
	int	error;
};

static void
test_fr_event(struct test_fr_run *r, const struct framing_ev *ev)
{
	size_t	n = strlen(r->out);

	if (ev->type == FRAMING_EV_ERROR) {
		if (!r->error)
			snprintf(r->out + n, sizeof(r->out) - n, "%sE%u",
			    n > 0 ? "|" : "", ev->close_code);
		r->error = 1;
		return;
	}
	assert_int_equal(ev->type, FRAMING_EV_MESSAGE);
	assert_true(ev->len + ev->drop <= r->nheld);
	if (!ev->binary)
		assert_true(ws_utf8_valid(r->held, ev->len));
	snprintf(r->out + n, sizeof(r->out) - n, "%s%c:%.*s", n > 0 ? "|" :
	    "", ev->binary ? 'b' : 't', (int)ev->len, (const char *)r->held);
	memmove(r->held, r->held + ev->len + ev->drop,
	    r->nheld - ev->len - ev->drop);
	r->nheld -= ev->len + ev->drop;
}

/* Feed p[0..n) as a read: append, scan to the end, then flush. */
static void
test_fr_read(struct framing *f, struct test_fr_run *r, const uint8_t *p,
    size_t n)
{
	struct framing_ev	ev;
	size_t			used;

	if (r->error)
		return;
	memcpy(r->held + r->nheld, p, n);
	r->nheld += n;
	while (n > 0 && !r->error) {
		used = framing_feed(f, p, n, &ev);
		assert_true(used <= n);
		if (ev.type == FRAMING_EV_NONE)
			assert_int_equal(used, n);
		else
			test_fr_event(r, &ev);
		p += used;
		n -= used;
	}
	for (;;) {
		if (r->error)
			return;
		framing_flush(f, &ev);
		if (ev.type == FRAMING_EV_NONE)
			break;
		test_fr_event(r, &ev);
	}
}

static void
test_fr_eof(struct framing *f, struct test_fr_run *r)
{
	struct framing_ev	ev;

	for (;;) {
		if (r->error)
			return;
		framing_end(f, &ev);
		if (ev.type == FRAMING_EV_NONE)
			break;
		test_fr_event(r, &ev);
	}
	assert_int_equal(r->nheld, 0);
}

struct test_fr_vec {
	enum framing_mode mode;
	size_t		 line_max;
	bool		 overflow_close, invalid_close;
	const char	*in;
	size_t		 len;
	bool		 eof;
	const char	*want;		/* fed whole, then EOF if eof */
};

#define L(max, oc, ic, s, eof, want) \
	{ FRAMING_LINE, max, oc, ic, s, sizeof(s) - 1, eof, want }
#define T(ic, s, eof, want) \
	{ FRAMING_TEXT, 0, false, ic, s, sizeof(s) - 1, eof, want }

static const struct test_fr_vec test_fr_vecs[] = {
	L(8, 0, 0, "a\nb\n", 0, "t:a|t:b"),
	L(8, 0, 0, "a\r\nb\r\n", 0, "t:a|t:b"),
	L(8, 0, 0, "\n\n", 0, "t:|t:"),
	L(8, 0, 0, "\r\n", 0, "t:"),
	L(8, 0, 0, "a\rb\n", 0, "t:a\rb"),
	L(8, 0, 0, "abc", 0, ""),
	L(8, 0, 0, "abc", 1, "t:abc"),
	L(8, 0, 0, "abc\r", 1, "t:abc\r"),
	L(8, 0, 0, "12345678\n", 0, "t:12345678"),
	L(8, 0, 0, "12345678\r\n", 0, "t:12345678"),
	L(8, 0, 0, "123456789\n", 0, "t:12345678|t:9"),
	L(8, 0, 0, "12345678123456781\n", 0, "t:12345678|t:12345678|t:1"),
	L(8, 0, 0, "12345678\r9\n", 0, "t:12345678|t:\r9"),
	L(8, 0, 0, "12345678\r", 1, "t:12345678|t:\r"),
	L(8, 1, 0, "12345678\r", 1, "E1009"),
	/* found by fuzz_framing: a '\r' at line_max after a cut character */
	L(4, 0, 0, "ab\xe1\x9b\rox", 1, "t:ab|b:\xe1\x9b\ro|t:x"),
	L(4, 0, 1, "ab\xe1\x9b\rox", 1, "t:ab|E1007"),
	L(8, 0, 0, "1234567\xc3\xa9x\n", 0, "t:1234567|t:\xc3\xa9x"),
	L(8, 0, 0, "12345\xe2\x82\xac\xe2\x82\xac\n", 0,
	    "t:12345\xe2\x82\xac|t:\xe2\x82\xac"),
	L(8, 0, 0, "123456\xf0\x9f\x98\x80\n", 0,
	    "t:123456|t:\xf0\x9f\x98\x80"),
	L(8, 0, 0, "h\xc3\xa9llo\nw\xc3\xb6rld\n", 0,
	    "t:h\xc3\xa9llo|t:w\xc3\xb6rld"),
	L(8, 0, 0, "a\xff" "b\n", 0, "b:a\xff" "b"),
	L(8, 0, 0, "\xe2\x82\nok\n", 0, "b:\xe2\x82|t:ok"),
	L(8, 0, 0, "ab\xe2", 1, "b:ab\xe2"),
	L(8, 0, 0, "1234567\xff" "9\n", 0, "b:1234567\xff|t:9"),
	L(8, 0, 1, "ok\nbad\xff\nmore\n", 0, "t:ok|E1007"),
	L(8, 0, 1, "\xe2\x82\n", 0, "E1007"),
	L(8, 0, 1, "ab\xe2", 1, "E1007"),
	L(8, 1, 0, "ok\n123456789\n", 0, "t:ok|E1009"),
	L(8, 1, 0, "12345678\n", 0, "t:12345678"),
	L(8, 1, 0, "12345678\r\n", 0, "t:12345678"),
	T(0, "hello", 0, "t:hello"),
	T(0, "h\xc3\xa9llo \xe2\x82\xac", 0, "t:h\xc3\xa9llo \xe2\x82\xac"),
	T(0, "line\nline\n", 0, "t:line\nline\n"),
	T(0, "ab\xe2\x82", 0, "t:ab"),
	T(0, "ab\xe2\x82", 1, "t:ab|b:\xe2\x82"),
	T(0, "a\xff", 0, "b:a\xff"),
	T(1, "a\xff", 0, "E1007"),
	T(1, "ab\xe2", 1, "t:ab|E1007"),
	T(0, "", 1, ""),
};

static void
test_fr_one(const struct test_fr_vec *v, size_t cut, size_t step,
    struct test_fr_run *r)
{
	struct framing	f;
	size_t		off;

	memset(r, 0, sizeof(*r));
	framing_init(&f, v->mode, v->line_max, v->overflow_close,
	    v->invalid_close);
	if (step > 0) {
		for (off = 0; off < v->len; off += step)
			test_fr_read(&f, r, (const uint8_t *)v->in + off,
			    v->len - off < step ? v->len - off : step);
	} else {
		test_fr_read(&f, r, (const uint8_t *)v->in, cut);
		test_fr_read(&f, r, (const uint8_t *)v->in + cut,
		    v->len - cut);
	}
	if (v->eof)
		test_fr_eof(&f, r);
}

/* Text messages of one run joined; "E" if the run failed. */
static void
test_fr_text_join(const char *out, char *join, size_t cap)
{
	size_t	n = 0;

	if (strchr(out, 'E') != NULL && (out[0] == 'E' ||
	    strstr(out, "|E") != NULL)) {
		snprintf(join, cap, "E");
		return;
	}
	while (*out != '\0') {
		const char *end = strchr(out + 2, '|');
		size_t len = end != NULL ? (size_t)(end - out - 2) :
		    strlen(out + 2);

		memcpy(join + n, out + 2, len);
		n += len;
		out += 2 + len + (end != NULL ? 1 : 0);
	}
	join[n] = '\0';
}

static void
test_vectors(void **state)
{
	struct test_fr_run	whole, r;
	size_t			i, cut;

	(void)state;
	for (i = 0; i < sizeof(test_fr_vecs) / sizeof(test_fr_vecs[0]); i++) {
		const struct test_fr_vec *v = &test_fr_vecs[i];

		test_fr_one(v, v->len, 0, &whole);
		if (strcmp(whole.out, v->want) != 0)
			fail_msg("vector %zu: '%s', want '%s'", i, whole.out,
			    v->want);
		if (v->mode != FRAMING_LINE)
			continue;
		/* line messages do not depend on where reads end */
		test_fr_one(v, 0, 1, &r);
		if (strcmp(r.out, v->want) != 0)
			fail_msg("vector %zu byte by byte: '%s', want '%s'",
			    i, r.out, v->want);
		for (cut = 0; cut <= v->len; cut++) {
			test_fr_one(v, cut, 0, &r);
			if (strcmp(r.out, v->want) != 0)
				fail_msg("vector %zu cut at %zu: '%s', want "
				    "'%s'", i, cut, r.out, v->want);
		}
	}
}

/* Text mode: wherever reads end, the messages join up to the same bytes
 * (or fail the same way), and every text message is whole UTF-8 (checked
 * in test_fr_event). */
static void
test_text_splits(void **state)
{
	struct test_fr_run	whole, r;
	char			a[4096], b[4096];
	size_t			i, cut;

	(void)state;
	for (i = 0; i < sizeof(test_fr_vecs) / sizeof(test_fr_vecs[0]); i++) {
		const struct test_fr_vec *v = &test_fr_vecs[i];

		if (v->mode != FRAMING_TEXT)
			continue;
		test_fr_one(v, v->len, 0, &whole);
		test_fr_text_join(whole.out, a, sizeof(a));
		test_fr_one(v, 0, 1, &r);
		test_fr_text_join(r.out, b, sizeof(b));
		assert_string_equal(a, b);
		for (cut = 0; cut <= v->len; cut++) {
			test_fr_one(v, cut, 0, &r);
			test_fr_text_join(r.out, b, sizeof(b));
			assert_string_equal(a, b);
		}
	}
}

/* A long multibyte text fed byte by byte: never a message that is not a
 * whole character, never a byte lost. */
static void
test_text_byte_by_byte(void **state)
{
	static const char s[] = "\xe2\x82\xac\xc3\xa9\xf0\x9f\x98\x80z";
	struct framing		f;
	struct test_fr_run	r;
	size_t			i;

	(void)state;
	memset(&r, 0, sizeof(r));
	framing_init(&f, FRAMING_TEXT, 0, false, false);
	for (i = 0; i < sizeof(s) - 1; i++)
		test_fr_read(&f, &r, (const uint8_t *)s + i, 1);
	test_fr_eof(&f, &r);
	assert_string_equal(r.out, "t:\xe2\x82\xac|t:\xc3\xa9|"
	    "t:\xf0\x9f\x98\x80|t:z");
}

/* After an error every call reports it again and consumes nothing. */
static void
test_sticky_error(void **state)
{
	struct framing		f;
	struct framing_ev	ev;

	(void)state;
	framing_init(&f, FRAMING_LINE, 4, true, false);
	assert_int_equal(framing_feed(&f, (const uint8_t *)"12345", 5, &ev),
	    4);
	assert_int_equal(ev.type, FRAMING_EV_ERROR);
	assert_int_equal(ev.close_code, 1009);
	assert_int_equal(framing_feed(&f, (const uint8_t *)"\n", 1, &ev), 0);
	assert_int_equal(ev.type, FRAMING_EV_ERROR);
	framing_flush(&f, &ev);
	assert_int_equal(ev.type, FRAMING_EV_ERROR);
	framing_end(&f, &ev);
	assert_int_equal(ev.close_code, 1009);
}

static void
test_client_newline(void **state)
{
	struct framing	f;

	(void)state;
	framing_init(&f, FRAMING_LINE, 100, false, false);
	assert_true(framing_needs_newline(&f, 0, 0));
	assert_true(framing_needs_newline(&f, 3, 'c'));
	assert_false(framing_needs_newline(&f, 3, '\n'));
	framing_init(&f, FRAMING_TEXT, 100, false, false);
	assert_false(framing_needs_newline(&f, 3, 'c'));
	assert_string_equal(framing_mode_name(FRAMING_LINE), "line");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_text_splits),
		cmocka_unit_test(test_text_byte_by_byte),
		cmocka_unit_test(test_sticky_error),
		cmocka_unit_test(test_client_newline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
