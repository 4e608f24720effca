/*
 * Unit tests for ws_frame.
 *
 * Every vector runs whole, one byte at a time and split at every offset
 * (with a stride more than 1 KiB from both ends of big inputs). Each
 * decode call sees its input copied to the very end of a readable page
 * with a PROT_NONE page after it, so reading one byte too far faults.
 * The driver checks the event invariants on every call and reassembles
 * the unmasked payload of each frame.
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
#include <sys/types.h>
#include <unistd.h>

#include "ws_frame.h"

#define TEST_FRAME_MAX_FRAMES	16
#define TEST_FRAME_ARENA	(1u << 17)	/* biggest input + slack */
#define TEST_FRAME_SPLIT_ALL	1024	/* every split this near an end */

/* ---- guarded memory ---------------------------------------------- */

/* A mapping whose last page is PROT_NONE; end points at that page. */
struct test_frame_guard {
	uint8_t		*map;
	size_t		 maplen;
	uint8_t		*end;
};

static struct test_frame_guard test_frame_arena;

static void
test_frame_guard_new(struct test_frame_guard *g, size_t len)
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
	g->end = g->map + data;
}

static void
test_frame_guard_free(struct test_frame_guard *g)
{
	munmap(g->map, g->maplen);
}

/* Copy len bytes to the end of the arena; returns where they start. */
static uint8_t *
test_frame_at_guard(const uint8_t *p, size_t len)
{
	uint8_t *q = test_frame_arena.end - len;

	assert_true(len <= TEST_FRAME_ARENA);
	if (len > 0)
		memcpy(q, p, len);
	return q;
}

/* ---- the driver ---------------------------------------------------- */

struct test_frame_rec {
	bool		fin;
	uint8_t		opcode;
	uint64_t	payload_len;
	size_t		off;		/* payload start in result buf */
	uint64_t	got;
	bool		ended;
};

struct test_frame_result {
	int		err;		/* 0 or the decode error */
	uint16_t	close_code;
	size_t		fail_at;	/* input index of the failing byte */
	size_t		nframes;
	struct test_frame_rec f[TEST_FRAME_MAX_FRAMES];
	uint8_t		*buf;		/* unmasked payloads, back to back */
	size_t		 buflen;
	size_t		 bufcap;
	size_t		 consumed;
};

static void
test_frame_result_init(struct test_frame_result *r, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->bufcap = cap;
	r->buf = malloc(cap ? cap : 1);
	assert_non_null(r->buf);
}

static void
test_frame_result_free(struct test_frame_result *r)
{
	free(r->buf);
}

/* True while a frame's payload is still expected. */
static bool
test_frame_open(const struct test_frame_result *r)
{
	return r->nframes > 0 && !r->f[r->nframes - 1].ended;
}

/* Check one event against the invariants and record it. */
static void
test_frame_take(struct ws_frame_decoder *d, struct test_frame_result *r,
    const uint8_t *p, size_t rem, ssize_t n, const struct ws_frame_ev *ev)
{
	struct test_frame_rec *f;

	assert_true(n >= 0 && (size_t)n <= rem);
	switch (ev->type) {
	case WS_FRAME_EV_NONE:
		/* all of the input went into the header buffer */
		assert_int_equal(n, rem);
		assert_false(test_frame_open(r));
		assert_int_equal(d->state, 0);
		break;
	case WS_FRAME_EV_HEADER:
		assert_false(test_frame_open(r));
		assert_true(n >= 1 && n <= 14);
		assert_true(r->nframes < TEST_FRAME_MAX_FRAMES);
		f = &r->f[r->nframes++];
		f->fin = ev->fin;
		f->opcode = ev->opcode;
		f->payload_len = ev->payload_len;
		f->off = r->buflen;
		f->ended = ev->payload_len == 0;
		assert_int_equal(ev->frame_end, f->ended);
		assert_int_equal(d->fin, ev->fin);
		assert_int_equal(d->opcode, ev->opcode);
		assert_true(d->payload_len == ev->payload_len);
		assert_int_equal(d->state, f->ended ? 0 : 1);
		break;
	case WS_FRAME_EV_PAYLOAD:
		assert_true(test_frame_open(r));
		f = &r->f[r->nframes - 1];
		assert_true(n > 0);
		assert_ptr_equal(ev->data, p);
		assert_int_equal(ev->len, n);
		assert_int_equal(ev->mask_off, f->got % 4);
		assert_int_equal(ev->fin, f->fin);
		assert_int_equal(ev->opcode, f->opcode);
		assert_true(f->got + ev->len <= f->payload_len);
		assert_true(r->buflen + ev->len <= r->bufcap);
		if (d->masked)
			assert_int_equal(ws_frame_unmask(d->mask, ev->mask_off,
			    r->buf + r->buflen, ev->data, ev->len),
			    (ev->mask_off + ev->len) % 4);
		else
			memcpy(r->buf + r->buflen, ev->data, ev->len);
		r->buflen += ev->len;
		f->got += ev->len;
		f->ended = f->got == f->payload_len;
		assert_int_equal(ev->frame_end, f->ended);
		assert_int_equal(d->state, f->ended ? 0 : 1);
		break;
	default:
		fail_msg("bad event type %d", ev->type);
	}
}

/*
 * Decode in[0..len) delivered as the given chunks (their sizes sum to
 * len), each chunk copied against the guard page. Stops at an error.
 */
static void
test_frame_drive(struct ws_frame_decoder *d, const uint8_t *in, size_t len,
    const size_t *chunks, size_t nchunks, struct test_frame_result *r)
{
	struct ws_frame_ev ev;
	size_t c, off = 0, rem, before;
	uint8_t *p;
	ssize_t n;

	for (c = 0; c < nchunks; c++) {
		assert_true(off + chunks[c] <= len);
		p = test_frame_at_guard(in + off, chunks[c]);
		rem = chunks[c];
		while (rem > 0) {
			before = d->state == 0 ? d->hdr_len : 0;
			n = ws_frame_decode(d, p, rem, &ev);
			if (n < 0) {
				r->err = (int)n;
				r->close_code = d->close_code;
				r->fail_at = r->consumed + d->hdr_len - before
				    - 1;
				assert_int_equal(d->state, 2);
				/* sticky, with more bytes or with none */
				assert_int_equal(ws_frame_decode(d, p, rem,
				    &ev), n);
				assert_int_equal(ws_frame_decode(d, p, 0, &ev),
				    n);
				assert_int_equal(d->close_code, r->close_code);
				return;
			}
			test_frame_take(d, r, p, rem, n, &ev);
			p += n;
			rem -= (size_t)n;
			r->consumed += (size_t)n;
		}
		off += chunks[c];
	}
	assert_int_equal(off, len);
	/* at the end of the input: nothing more to report */
	n = ws_frame_decode(d, test_frame_arena.end, 0, &ev);
	assert_int_equal(n, 0);
	assert_int_equal(ev.type, WS_FRAME_EV_NONE);
}

/* ---- vectors --------------------------------------------------------- */

struct test_frame_exp {
	bool		 fin;
	uint8_t		 opcode;
	const uint8_t	*payload;	/* unmasked */
	size_t		 len;
};

struct test_frame_vec {
	const char	*name;
	const uint8_t	*in;
	size_t		 len;
	bool		 require_mask;
	uint64_t	 max_payload;
	int		 err;		/* 0: valid */
	uint16_t	 close_code;
	size_t		 fail_at;
	size_t		 nframes;	/* complete frames (before err) */
	struct test_frame_exp f[6];
};

#define B(...)	(const uint8_t []){ __VA_ARGS__ }, \
	sizeof((const uint8_t []){ __VA_ARGS__ })
#define P(s)	(const uint8_t *)(s), sizeof(s) - 1

static void
test_frame_check_result(const struct test_frame_vec *v,
    const struct test_frame_result *r)
{
	size_t i;

	assert_int_equal(r->err, v->err);
	if (v->err != 0) {
		assert_int_equal(r->close_code, v->close_code);
		assert_int_equal(r->fail_at, v->fail_at);
		assert_int_equal(r->nframes, v->nframes);
	} else {
		assert_int_equal(r->nframes, v->nframes);
		assert_false(test_frame_open(r));
		assert_int_equal(r->consumed, v->len);
	}
	for (i = 0; i < v->nframes; i++) {
		assert_int_equal(r->f[i].fin, v->f[i].fin);
		assert_int_equal(r->f[i].opcode, v->f[i].opcode);
		assert_true(r->f[i].payload_len == v->f[i].len);
		assert_true(r->f[i].ended);
		if (v->f[i].len > 0)
			assert_memory_equal(r->buf + r->f[i].off,
			    v->f[i].payload, v->f[i].len);
	}
}

static void
test_frame_run_chunks(const struct test_frame_vec *v, const size_t *chunks,
    size_t nchunks)
{
	struct ws_frame_decoder d;
	struct test_frame_result r;

	ws_frame_decoder_init(&d, v->max_payload, v->require_mask);
	test_frame_result_init(&r, v->len);
	test_frame_drive(&d, v->in, v->len, chunks, nchunks, &r);
	test_frame_check_result(v, &r);
	test_frame_result_free(&r);
}

/* Whole, one byte at a time, split in two at every offset (strided for
 * big inputs), and in three at a few places. */
static void
test_frame_run_vec(const struct test_frame_vec *v)
{
	size_t *ones, two[2], three[3], k, step;

	print_message("  %s\n", v->name);
	test_frame_run_chunks(v, &v->len, 1);

	ones = malloc((v->len ? v->len : 1) * sizeof(*ones));
	assert_non_null(ones);
	for (k = 0; k < v->len; k++)
		ones[k] = 1;
	test_frame_run_chunks(v, ones, v->len);
	free(ones);

	for (k = 0; k <= v->len; k += step) {
		two[0] = k;
		two[1] = v->len - k;
		test_frame_run_chunks(v, two, 2);
		step = (k < TEST_FRAME_SPLIT_ALL ||
		    v->len - k < TEST_FRAME_SPLIT_ALL) ? 1 : 509;
	}
	for (k = 0; k + 3 <= v->len && k < 64; k++) {
		three[0] = k;
		three[1] = 3;
		three[2] = v->len - k - 3;
		test_frame_run_chunks(v, three, 3);
	}
}

static const struct test_frame_vec test_frame_vecs[] = {
	/* RFC 6455 §5.7 */
	{ "5.7 single-frame unmasked text",
	    B(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
	    false, 0, 0, 0, 0, 1, { { true, WS_OP_TEXT, P("Hello") } } },
	{ "5.7 single-frame masked text",
	    B(0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51,
	    0x58),
	    true, 0, 0, 0, 0, 1, { { true, WS_OP_TEXT, P("Hello") } } },
	{ "5.7 fragmented unmasked text",
	    B(0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f),
	    false, 0, 0, 0, 0, 2, {
		{ false, WS_OP_TEXT, P("Hel") },
		{ true, WS_OP_CONT, P("lo") } } },
	{ "5.7 unmasked ping",
	    B(0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
	    false, 0, 0, 0, 0, 1, { { true, WS_OP_PING, P("Hello") } } },
	{ "5.7 masked pong",
	    B(0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51,
	    0x58),
	    true, 0, 0, 0, 0, 1, { { true, WS_OP_PONG, P("Hello") } } },
	{ "5.7 stream: fragments, ping between, masked pong",
	    B(0x01, 0x03, 0x48, 0x65, 0x6c, 0x89, 0x05, 0x48, 0x65, 0x6c,
	    0x6c, 0x6f, 0x80, 0x02, 0x6c, 0x6f, 0x8a, 0x85, 0x37, 0xfa,
	    0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58),
	    false, 0, 0, 0, 0, 4, {
		{ false, WS_OP_TEXT, P("Hel") },
		{ true, WS_OP_PING, P("Hello") },
		{ true, WS_OP_CONT, P("lo") },
		{ true, WS_OP_PONG, P("Hello") } } },
	/* empty payloads: HEADER with frame_end */
	{ "empty text, empty pong",
	    B(0x81, 0x00, 0x8a, 0x00),
	    false, 0, 0, 0, 0, 2, {
		{ true, WS_OP_TEXT, NULL, 0 },
		{ true, WS_OP_PONG, NULL, 0 } } },
	{ "masked empty close, then masked close 1000",
	    B(0x88, 0x80, 0x01, 0x02, 0x03, 0x04,
	    0x88, 0x82, 0x11, 0x22, 0x33, 0x44, 0x03 ^ 0x11, 0xe8 ^ 0x22),
	    true, 0, 0, 0, 0, 2, {
		{ true, WS_OP_CLOSE, NULL, 0 },
		{ true, WS_OP_CLOSE, B(0x03, 0xe8) } } },
	{ "payload exactly at max_payload",
	    B(0x82, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
	    false, 5, 0, 0, 0, 1, { { true, WS_OP_BINARY, P("Hello") } } },

	/* §5.2 RSV bits */
	{ "RSV1", B(0xc1, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
	    false, 0, WS_FRAME_ERR_RSV, 1002, 0, 0, { { 0 } } },
	{ "RSV2", B(0xa2, 0x00), false, 0, WS_FRAME_ERR_RSV, 1002, 0, 0,
	    { { 0 } } },
	{ "RSV3", B(0x91, 0x00), false, 0, WS_FRAME_ERR_RSV, 1002, 0, 0,
	    { { 0 } } },
	{ "RSV after a good frame", B(0x81, 0x01, 0x41, 0xc1, 0x00),
	    false, 0, WS_FRAME_ERR_RSV, 1002, 3, 1,
	    { { true, WS_OP_TEXT, P("A") } } },
	{ "RSV before reserved opcode", B(0xf3, 0x00),
	    false, 0, WS_FRAME_ERR_RSV, 1002, 0, 0, { { 0 } } },
	/* §5.2 reserved opcodes */
	{ "opcode 3", B(0x83, 0x00), false, 0, WS_FRAME_ERR_OPCODE, 1002,
	    0, 0, { { 0 } } },
	{ "opcode 7", B(0x87, 0x00), false, 0, WS_FRAME_ERR_OPCODE, 1002,
	    0, 0, { { 0 } } },
	{ "opcode B", B(0x8b, 0x00), false, 0, WS_FRAME_ERR_OPCODE, 1002,
	    0, 0, { { 0 } } },
	{ "opcode F no FIN", B(0x0f, 0x00), false, 0, WS_FRAME_ERR_OPCODE,
	    1002, 0, 0, { { 0 } } },
	/* §5.5 control frames */
	{ "ping without FIN", B(0x09, 0x00), false, 0,
	    WS_FRAME_ERR_CTRL_FRAGMENTED, 1002, 0, 0, { { 0 } } },
	{ "close without FIN", B(0x08, 0x00), false, 0,
	    WS_FRAME_ERR_CTRL_FRAGMENTED, 1002, 0, 0, { { 0 } } },
	{ "pong without FIN, 126", B(0x0a, 0x7e, 0x00, 0x7e), false, 0,
	    WS_FRAME_ERR_CTRL_FRAGMENTED, 1002, 0, 0, { { 0 } } },
	{ "ping 126", B(0x89, 0x7e, 0x00, 0x7e), false, 0,
	    WS_FRAME_ERR_CTRL_TOO_LONG, 1002, 1, 0, { { 0 } } },
	{ "close 127", B(0x88, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0), false, 0,
	    WS_FRAME_ERR_CTRL_TOO_LONG, 1002, 1, 0, { { 0 } } },
	{ "masked pong 126, mask required", B(0x8a, 0xfe, 0x00, 0x7e),
	    true, 0, WS_FRAME_ERR_CTRL_TOO_LONG, 1002, 1, 0, { { 0 } } },
	{ "unmasked ping 126, mask required", B(0x89, 0x7e), true, 0,
	    WS_FRAME_ERR_CTRL_TOO_LONG, 1002, 1, 0, { { 0 } } },
	/* §5.1 masking */
	{ "unmasked text, mask required",
	    B(0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f),
	    true, 0, WS_FRAME_ERR_UNMASKED, 1002, 1, 0, { { 0 } } },
	{ "unmasked after a masked frame",
	    B(0x82, 0x80, 1, 2, 3, 4, 0x82, 0x00), true, 0,
	    WS_FRAME_ERR_UNMASKED, 1002, 7, 1,
	    { { true, WS_OP_BINARY, NULL, 0 } } },
	{ "unmasked and too big, mask required", B(0x82, 0x65), true, 100,
	    WS_FRAME_ERR_UNMASKED, 1002, 1, 0, { { 0 } } },
	/* §5.2 minimal lengths */
	{ "16-bit length 125", B(0x82, 0x7e, 0x00, 0x7d), false, 0,
	    WS_FRAME_ERR_NON_MINIMAL, 1002, 3, 0, { { 0 } } },
	{ "16-bit length 0", B(0x82, 0x7e, 0x00, 0x00), false, 0,
	    WS_FRAME_ERR_NON_MINIMAL, 1002, 3, 0, { { 0 } } },
	{ "masked 16-bit length 5", B(0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4),
	    true, 0, WS_FRAME_ERR_NON_MINIMAL, 1002, 3, 0, { { 0 } } },
	{ "64-bit length 0xffff", B(0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0xff, 0xff),
	    false, 0, WS_FRAME_ERR_NON_MINIMAL, 1002, 9, 0, { { 0 } } },
	{ "64-bit length 0", B(0x82, 0x7f, 0, 0, 0, 0, 0, 0, 0, 0),
	    false, 0, WS_FRAME_ERR_NON_MINIMAL, 1002, 9, 0, { { 0 } } },
	{ "64-bit length MSB", B(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0),
	    false, 0, WS_FRAME_ERR_LENGTH_MSB, 1002, 2, 0, { { 0 } } },
	{ "64-bit length MSB, small", B(0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 5),
	    false, 0, WS_FRAME_ERR_LENGTH_MSB, 1002, 2, 0, { { 0 } } },
	{ "64-bit length all ones", B(0x82, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4), true, 0,
	    WS_FRAME_ERR_LENGTH_MSB, 1002, 2, 0, { { 0 } } },
	/* size limit */
	{ "7-bit over max", B(0x82, 0x65), false, 100, WS_FRAME_ERR_TOO_BIG,
	    1009, 1, 0, { { 0 } } },
	{ "ping over max", B(0x89, 0x0b), false, 10, WS_FRAME_ERR_TOO_BIG,
	    1009, 1, 0, { { 0 } } },
	{ "16-bit over max", B(0x82, 0x7e, 0x03, 0xe9), false, 1000,
	    WS_FRAME_ERR_TOO_BIG, 1009, 3, 0, { { 0 } } },
	{ "64-bit over max", B(0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 1), false,
	    65536, WS_FRAME_ERR_TOO_BIG, 1009, 9, 0, { { 0 } } },
	{ "masked 64-bit over max", B(0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0,
	    1, 2, 3, 4), true, 1 << 20, WS_FRAME_ERR_TOO_BIG, 1009, 9, 0,
	    { { 0 } } },
	{ "non-minimal before too big", B(0x82, 0x7e, 0x00, 0x7d), false, 10,
	    WS_FRAME_ERR_NON_MINIMAL, 1002, 3, 0, { { 0 } } },
};

#undef B
#undef P

static void
test_frame_vectors(void **state)
{
	size_t i;

	for (i = 0; i < sizeof(test_frame_vecs) / sizeof(test_frame_vecs[0]);
	    i++)
		test_frame_run_vec(&test_frame_vecs[i]);
}

/* Build a frame around a payload of len bytes; mask with key if given. */
static uint8_t *
test_frame_build(bool fin, enum ws_opcode op, const uint8_t *payload,
    size_t len, const uint8_t *key, size_t *outlen)
{
	uint8_t hdr[14], *f;
	size_t h, i;

	h = ws_frame_header_encode(hdr, fin, op, len, key);
	f = malloc(h + len);
	assert_non_null(f);
	memcpy(f, hdr, h);
	for (i = 0; i < len; i++)	/* naive masking, §5.3 */
		f[h + i] = payload[i] ^ (key ? key[i % 4] : 0);
	*outlen = h + len;
	return f;
}

/* §5.7: 256 bytes and 64 KiB of binary in a single frame, unmasked (126
 * and 127 lengths, as in the RFC) and masked. */
static void
test_frame_rfc_big(void **state)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	static const size_t sizes[] = { 256, 65536 };
	struct test_frame_vec v;
	uint8_t *payload, *f;
	size_t s, i, flen;
	int m;

	for (s = 0; s < 2; s++)
	for (m = 0; m < 2; m++) {
		payload = malloc(sizes[s]);
		assert_non_null(payload);
		for (i = 0; i < sizes[s]; i++)
			payload[i] = (uint8_t)(i * 7 + (i >> 8));
		f = test_frame_build(true, WS_OP_BINARY, payload, sizes[s],
		    m ? key : NULL, &flen);
		if (!m && s == 0)
			assert_memory_equal(f, ((uint8_t []){ 0x82, 0x7e,
			    0x01, 0x00 }), 4);
		if (!m && s == 1)
			assert_memory_equal(f, ((uint8_t []){ 0x82, 0x7f,
			    0, 0, 0, 0, 0, 1, 0, 0 }), 10);
		memset(&v, 0, sizeof(v));
		v.name = s ? (m ? "5.7 64KiB masked" : "5.7 64KiB binary") :
		    (m ? "5.7 256B masked" : "5.7 256B binary");
		v.in = f;
		v.len = flen;
		v.require_mask = m;
		v.nframes = 1;
		v.f[0].fin = true;
		v.f[0].opcode = WS_OP_BINARY;
		v.f[0].payload = payload;
		v.f[0].len = sizes[s];
		test_frame_run_vec(&v);
		/* one over the limit is refused, at the limit it is not */
		v.max_payload = sizes[s];
		test_frame_run_chunks(&v, &v.len, 1);
		v.max_payload = sizes[s] - 1;
		v.err = WS_FRAME_ERR_TOO_BIG;
		v.close_code = 1009;
		v.fail_at = s ? 9 : 3;
		v.nframes = 0;
		test_frame_run_chunks(&v, &v.len, 1);
		free(f);
		free(payload);
	}
}

/* §5.5: a control frame of exactly 125 bytes is fine, masked or not. */
static void
test_frame_control_125(void **state)
{
	static const uint8_t key[4] = { 9, 8, 7, 6 };
	struct test_frame_vec v;
	uint8_t payload[125], *f;
	size_t flen;
	int m;

	memset(payload, 'p', sizeof(payload));
	for (m = 0; m < 2; m++) {
		f = test_frame_build(true, WS_OP_PING, payload, 125,
		    m ? key : NULL, &flen);
		memset(&v, 0, sizeof(v));
		v.name = m ? "masked ping of 125" : "ping of 125";
		v.in = f;
		v.len = flen;
		v.require_mask = m;
		v.nframes = 1;
		v.f[0].fin = true;
		v.f[0].opcode = WS_OP_PING;
		v.f[0].payload = payload;
		v.f[0].len = 125;
		test_frame_run_vec(&v);
		free(f);
	}
}

/* ---- encoder <-> decoder round trip ---------------------------------- */

static size_t
test_frame_hdr_size(uint64_t len, bool masked)
{
	size_t n = len < 126 ? 2 : len <= 0xffff ? 4 : 10;

	return n + (masked ? 4 : 0);
}

static void
test_frame_roundtrip(void **state)
{
	static const uint64_t lens[] = {
		0, 1, 2, 3, 4, 5, 125, 126, 127, 128, 1000, 65535, 65536,
		65537, 100000,
	};
	static const uint8_t key[4] = { 0xde, 0xad, 0xbe, 0xef };
	static const struct { bool fin; enum ws_opcode op; } kinds[] = {
		{ true, WS_OP_BINARY }, { false, WS_OP_TEXT },
		{ true, WS_OP_CONT }, { false, WS_OP_CONT },
	};
	struct test_frame_vec v;
	uint8_t *payload, *f;
	size_t i, k, j, flen;
	int m;

	payload = malloc(100000);
	assert_non_null(payload);
	for (j = 0; j < 100000; j++)
		payload[j] = (uint8_t)(j ^ (j >> 9));
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
	for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
	for (m = 0; m < 2; m++) {
		f = test_frame_build(kinds[k].fin, kinds[k].op, payload,
		    lens[i], m ? key : NULL, &flen);
		assert_int_equal(flen - lens[i],
		    test_frame_hdr_size(lens[i], m));
		memset(&v, 0, sizeof(v));
		v.name = "roundtrip";
		v.in = f;
		v.len = flen;
		v.require_mask = m;
		v.nframes = 1;
		v.f[0].fin = kinds[k].fin;
		v.f[0].opcode = kinds[k].op;
		v.f[0].payload = payload;
		v.f[0].len = lens[i];
		test_frame_run_chunks(&v, &v.len, 1);
		if (lens[i] <= 128)
			test_frame_run_vec(&v);
		free(f);
	}
	free(payload);
	/* control frames up to 125 */
	for (j = 0; j <= 125; j++) {
		uint8_t hdr[14];
		struct ws_frame_decoder d;
		struct ws_frame_ev ev;
		size_t h = ws_frame_header_encode(hdr, true, WS_OP_PING, j,
		    key);

		ws_frame_decoder_init(&d, 0, true);
		assert_int_equal(ws_frame_decode(&d,
		    test_frame_at_guard(hdr, h), h, &ev), h);
		assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
		assert_int_equal(ev.opcode, WS_OP_PING);
		assert_true(ev.payload_len == j);
	}
}

/* Lengths too big to allocate: the header alone, then a few bytes. */
static void
test_frame_roundtrip_huge(void **state)
{
	static const uint64_t lens[] = {
		UINT64_C(0xffffffff), UINT64_C(0x100000000),
		UINT64_C(0x123456789abc), UINT64_C(0x7fffffffffffffff),
	};
	static const uint8_t key[4] = { 1, 2, 3, 4 };
	static const uint8_t body[7] = { 1, 2, 3, 4, 5, 6, 7 };
	struct ws_frame_decoder d;
	struct ws_frame_ev ev;
	uint8_t hdr[14], *p;
	size_t i, h;
	int m;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
	for (m = 0; m < 2; m++) {
		h = ws_frame_header_encode(hdr, true, WS_OP_BINARY, lens[i],
		    m ? key : NULL);
		assert_int_equal(h, m ? 14 : 10);
		assert_int_equal(hdr[1] & 0x7f, 127);
		ws_frame_decoder_init(&d, 0, m);
		p = test_frame_at_guard(hdr, h);
		assert_int_equal(ws_frame_decode(&d, p, h, &ev), h);
		assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
		assert_true(ev.fin);
		assert_true(ev.payload_len == lens[i]);
		assert_false(ev.frame_end);
		assert_int_equal(d.state, 1);
		assert_int_equal(d.masked, m);
		if (m)
			assert_memory_equal(d.mask, key, 4);
		p = test_frame_at_guard(body, sizeof(body));
		assert_int_equal(ws_frame_decode(&d, p, 7, &ev), 7);
		assert_int_equal(ev.type, WS_FRAME_EV_PAYLOAD);
		assert_int_equal(ev.mask_off, 0);
		assert_false(ev.frame_end);
		assert_true(d.payload_left == lens[i] - 7);
		assert_int_equal(d.mask_off, 3);
		assert_int_equal(ws_frame_decode(&d, p, 7, &ev), 7);
		assert_int_equal(ev.mask_off, 3);
		assert_int_equal(d.mask_off, 2);
		/* the same header is refused above a lower limit */
		ws_frame_decoder_init(&d, lens[i] - 1, m);
		assert_int_equal(ws_frame_decode(&d, test_frame_at_guard(hdr,
		    h), h, &ev), WS_FRAME_ERR_TOO_BIG);
		assert_int_equal(d.close_code, 1009);
	}
}

/* ---- single-call semantics ------------------------------------------ */

static void
test_frame_one_event_per_call(void **state)
{
	static const uint8_t two[] = {
		0x81, 0x02, 'h', 'i', 0x82, 0x00, 0x89, 0x01, '!',
	};
	struct ws_frame_decoder d;
	struct ws_frame_ev ev;
	const uint8_t *p = test_frame_at_guard(two, sizeof(two));

	/* a zeroed decoder is valid: no mask required, no limit */
	memset(&d, 0, sizeof(d));
	assert_int_equal(ws_frame_decode(&d, p, 0, &ev), 0);
	assert_int_equal(ev.type, WS_FRAME_EV_NONE);
	assert_int_equal(ws_frame_decode(&d, p, 9, &ev), 2);
	assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
	assert_int_equal(ev.opcode, WS_OP_TEXT);
	assert_false(ev.frame_end);
	assert_int_equal(ws_frame_decode(&d, p + 2, 7, &ev), 2);
	assert_int_equal(ev.type, WS_FRAME_EV_PAYLOAD);
	assert_ptr_equal(ev.data, p + 2);
	assert_int_equal(ev.len, 2);
	assert_true(ev.frame_end);
	assert_int_equal(ws_frame_decode(&d, p + 4, 5, &ev), 2);
	assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
	assert_true(ev.frame_end);
	assert_true(ev.payload_len == 0);
	/* a header split: the first byte alone is NONE, all consumed */
	assert_int_equal(ws_frame_decode(&d, p + 6, 1, &ev), 1);
	assert_int_equal(ev.type, WS_FRAME_EV_NONE);
	assert_int_equal(d.hdr_len, 1);
	assert_int_equal(ws_frame_decode(&d, p + 7, 2, &ev), 1);
	assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
	assert_int_equal(ev.opcode, WS_OP_PING);
	assert_int_equal(ws_frame_decode(&d, p + 8, 1, &ev), 1);
	assert_int_equal(ev.type, WS_FRAME_EV_PAYLOAD);
	assert_true(ev.frame_end);
	assert_int_equal(d.state, 0);
}

/* After an error every call returns it again, with close_code kept. */
static void
test_frame_error_sticky(void **state)
{
	static const uint8_t bad[] = { 0x82, 0x7e, 0x00, 0x10 };
	static const uint8_t good[] = { 0x81, 0x00 };
	static const uint8_t big[] = { 0x82, 0x0b };
	struct ws_frame_decoder d;
	struct ws_frame_ev ev;
	int i;

	ws_frame_decoder_init(&d, 0, false);
	assert_int_equal(ws_frame_decode(&d, bad, 4, &ev),
	    WS_FRAME_ERR_NON_MINIMAL);
	for (i = 0; i < 3; i++) {
		assert_int_equal(ws_frame_decode(&d, good, 2, &ev),
		    WS_FRAME_ERR_NON_MINIMAL);
		assert_int_equal(d.close_code, 1002);
	}
	ws_frame_decoder_init(&d, 0, false);
	assert_int_equal(ws_frame_decode(&d, good, 2, &ev), 2);
	assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
	/* the policy-dependent errors hold even if the policy is changed */
	ws_frame_decoder_init(&d, 10, true);
	assert_int_equal(ws_frame_decode(&d, bad, 4, &ev),
	    WS_FRAME_ERR_UNMASKED);
	d.require_mask = false;
	assert_int_equal(ws_frame_decode(&d, good, 2, &ev),
	    WS_FRAME_ERR_UNMASKED);
	assert_int_equal(d.close_code, 1002);
	ws_frame_decoder_init(&d, 10, false);
	assert_int_equal(ws_frame_decode(&d, big, 2, &ev),
	    WS_FRAME_ERR_TOO_BIG);
	d.max_payload = 0;
	assert_int_equal(ws_frame_decode(&d, good, 2, &ev),
	    WS_FRAME_ERR_TOO_BIG);
	assert_int_equal(d.close_code, 1009);
}

/* ---- unmask ---------------------------------------------------------- */

static void
test_frame_unmask_ref(const uint8_t mask[4], unsigned off, uint8_t *dst,
    const uint8_t *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		dst[i] = src[i] ^ mask[(off + i) % 4];
}

static void
test_frame_unmask(void **state)
{
	static const uint8_t mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t src[224], dst[224 + 16], ref[224], inplace[224 + 16];
	unsigned off, sa, da;
	size_t len, i;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 31 + 5);
	/* Up to 208 bytes: the head to alignment, three 64-byte turns and
	 * every tail the word loop and the byte loop leave. */
	for (off = 0; off < 4; off++)
	for (sa = 0; sa < 8; sa++)
	for (da = 0; da < 8; da++)
	for (len = 0; len <= 208; len++) {
		test_frame_unmask_ref(mask, off, ref, src + sa, len);
		memset(dst, 0xa5, sizeof(dst));
		assert_int_equal(ws_frame_unmask(mask, off, dst + da,
		    src + sa, len), (off + len) % 4);
		if (len > 0)
			assert_memory_equal(dst + da, ref, len);
		/* nothing written outside dst[da..da+len) */
		for (i = 0; i < sizeof(dst); i++)
			if (i < da || i >= da + len)
				assert_int_equal(dst[i], 0xa5);
		/* in place */
		memcpy(inplace + da, src + sa, len);
		assert_int_equal(ws_frame_unmask(mask, off, inplace + da,
		    inplace + da, len), (off + len) % 4);
		if (len > 0)
			assert_memory_equal(inplace + da, ref, len);
	}
}

/*
 * dst before src in the same buffer (ws_conn_take gathers payload over
 * the headers it drops): every distance up to 16 bytes, every length
 * through the vector, word and byte loops, every alignment of dst.
 */
static void
test_frame_unmask_forward(void **state)
{
	static const uint8_t mask[4] = { 0x9c, 0x03, 0xe1, 0x48 };
	uint8_t buf[16 + 224 + 8], ref[224];
	unsigned off;
	size_t len, gap, da, i;

	(void)state;
	for (off = 0; off < 4; off += 3)
	for (da = 0; da < 8; da++)
	for (gap = 1; gap <= 16; gap++)
	for (len = 0; len <= 208; len += len < 80 ? 1 : 7) {
		for (i = 0; i < sizeof(buf); i++)
			buf[i] = (uint8_t)(i * 29 + 3);
		test_frame_unmask_ref(mask, off, ref, buf + da + gap, len);
		assert_int_equal(ws_frame_unmask(mask, off, buf + da,
		    buf + da + gap, len), (off + len) % 4);
		if (len > 0)
			assert_memory_equal(buf + da, ref, len);
	}
}

/* Unmask chunk by chunk carrying the returned offset equals one pass. */
static void
test_frame_unmask_chunked(void **state)
{
	static const uint8_t mask[4] = { 0x01, 0x80, 0x7f, 0xff };
	uint8_t src[100], ref[100], out[100];
	unsigned off;
	size_t i, a, b;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 13);
	test_frame_unmask_ref(mask, 0, ref, src, sizeof(src));
	for (a = 0; a <= sizeof(src); a++)
	for (b = a; b <= sizeof(src); b += 7) {
		off = ws_frame_unmask(mask, 0, out, src, a);
		off = ws_frame_unmask(mask, off, out + a, src + a, b - a);
		off = ws_frame_unmask(mask, off, out + b, src + b,
		    sizeof(src) - b);
		assert_int_equal(off, sizeof(src) % 4);
		assert_memory_equal(out, ref, sizeof(src));
	}
}

/* Source and destination both end against a guard page. */
static void
test_frame_unmask_guarded(void **state)
{
	static const uint8_t mask[4] = { 0xaa, 0x55, 0x0f, 0xf0 };
	struct test_frame_guard gs, gd;
	uint8_t ref[48], *s, *dd;
	unsigned off;
	size_t len, i;

	test_frame_guard_new(&gs, 64);
	test_frame_guard_new(&gd, 64);
	for (len = 0; len <= 40; len++)
	for (off = 0; off < 4; off++) {
		s = gs.end - len;
		dd = gd.end - len;
		for (i = 0; i < len; i++)
			s[i] = (uint8_t)(i + len);
		test_frame_unmask_ref(mask, off, ref, s, len);
		assert_int_equal(ws_frame_unmask(mask, off, dd, s, len),
		    (off + len) % 4);
		if (len > 0)
			assert_memory_equal(dd, ref, len);
		ws_frame_unmask(mask, off, s, s, len);
		if (len > 0)
			assert_memory_equal(s, ref, len);
	}
	test_frame_guard_free(&gs);
	test_frame_guard_free(&gd);
}

/* ---- header encoder -------------------------------------------------- */

static void
test_frame_encode(void **state)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t out[14];

	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_TEXT, 5,
	    NULL), 2);
	assert_memory_equal(out, ((uint8_t []){ 0x81, 0x05 }), 2);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_TEXT, 5,
	    key), 6);
	assert_memory_equal(out, ((uint8_t []){ 0x81, 0x85, 0x37, 0xfa, 0x21,
	    0x3d }), 6);
	assert_int_equal(ws_frame_header_encode(out, false, WS_OP_TEXT, 3,
	    NULL), 2);
	assert_memory_equal(out, ((uint8_t []){ 0x01, 0x03 }), 2);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_CONT, 2,
	    NULL), 2);
	assert_memory_equal(out, ((uint8_t []){ 0x80, 0x02 }), 2);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_CLOSE, 0,
	    NULL), 2);
	assert_memory_equal(out, ((uint8_t []){ 0x88, 0x00 }), 2);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_BINARY, 125,
	    NULL), 2);
	assert_int_equal(out[1], 125);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_BINARY, 126,
	    NULL), 4);
	assert_memory_equal(out, ((uint8_t []){ 0x82, 0x7e, 0x00, 0x7e }), 4);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_BINARY,
	    65535, NULL), 4);
	assert_memory_equal(out, ((uint8_t []){ 0x82, 0x7e, 0xff, 0xff }), 4);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_BINARY,
	    65536, key), 14);
	assert_memory_equal(out, ((uint8_t []){ 0x82, 0xff, 0, 0, 0, 0, 0, 1,
	    0, 0, 0x37, 0xfa, 0x21, 0x3d }), 14);
	assert_int_equal(ws_frame_header_encode(out, true, WS_OP_BINARY,
	    UINT64_C(0x0102030405060708), NULL), 10);
	assert_memory_equal(out, ((uint8_t []){ 0x82, 0x7f, 1, 2, 3, 4, 5, 6,
	    7, 8 }), 10);
}

/* ---- close payloads -------------------------------------------------- */

static bool
test_frame_code_ok(unsigned c)
{
	return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
	    (c >= 3000 && c <= 4999);
}

static void
test_frame_close_codes(void **state)
{
	struct test_frame_guard g;
	const uint8_t *reason;
	size_t rlen;
	uint16_t code;
	uint8_t *p;
	unsigned c;
	int rc;

	test_frame_guard_new(&g, 16);
	for (c = 0; c <= 0xffff; c++) {
		p = g.end - 2;
		p[0] = (uint8_t)(c >> 8);
		p[1] = (uint8_t)c;
		code = 0;
		rc = ws_frame_close_parse(p, 2, &code, &reason, &rlen);
		if (test_frame_code_ok(c)) {
			assert_int_equal(rc, 0);
			assert_int_equal(code, c);
			assert_int_equal(rlen, 0);
		} else
			assert_int_equal(rc, 1002);
	}
	/* the listed ones by name */
	{
		static const unsigned bad[] = {
			0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000,
			65535,
		};
		static const unsigned good[] = {
			1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
			1012, 1013, 1014, 3000, 4999,
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			assert_false(test_frame_code_ok(bad[i]));
		for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
			assert_true(test_frame_code_ok(good[i]));
	}
	/* empty: no status, 1005 */
	code = 0;
	reason = (const uint8_t *)"x";
	rlen = 9;
	assert_int_equal(ws_frame_close_parse(g.end, 0, &code, &reason,
	    &rlen), 0);
	assert_int_equal(code, 1005);
	assert_null(reason);
	assert_int_equal(rlen, 0);
	/* a lone byte */
	p = g.end - 1;
	p[0] = 0x03;
	assert_int_equal(ws_frame_close_parse(p, 1, &code, &reason, &rlen),
	    1002);
	test_frame_guard_free(&g);
}

static void
test_frame_close_reasons(void **state)
{
	static const struct {
		const char *s;
		size_t len;
		int rc;
	} cases[] = {
		{ "\x03\xe8" "bye", 5, 0 },
		{ "\x03\xe9" "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
		    "\xce\xb5", 13, 0 },
		{ "\x0f\xa0" "\xf4\x8f\xbf\xbf", 6, 0 },
		{ "\x03\xe8" "\xc0\x80", 4, 1007 },
		{ "\x03\xe8" "ok\xed\xa0\x80", 7, 1007 },
		{ "\x03\xe8" "cut\xe2\x82", 7, 1007 },
		{ "\x03\xe8" "\xff", 3, 1007 },
		{ "\x03\xe8" "\xf4\x90\x80\x80", 6, 1007 },
		/* a bad code wins over a bad reason */
		{ "\x03\xed" "\xff", 3, 1002 },
	};
	struct test_frame_guard g;
	const uint8_t *reason;
	size_t i, rlen;
	uint16_t code;
	uint8_t *p;

	test_frame_guard_new(&g, 64);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = g.end - cases[i].len;
		memcpy(p, cases[i].s, cases[i].len);
		assert_int_equal(ws_frame_close_parse(p, cases[i].len, &code,
		    &reason, &rlen), cases[i].rc);
		if (cases[i].rc == 0) {
			assert_int_equal(code, (unsigned)(p[0] << 8 | p[1]));
			assert_ptr_equal(reason, p + 2);
			assert_int_equal(rlen, cases[i].len - 2);
		}
	}
	test_frame_guard_free(&g);
}

static void
test_frame_strerror(void **state)
{
	static const int errs[] = {
		WS_FRAME_ERR_RSV, WS_FRAME_ERR_OPCODE,
		WS_FRAME_ERR_CTRL_FRAGMENTED, WS_FRAME_ERR_CTRL_TOO_LONG,
		WS_FRAME_ERR_NON_MINIMAL, WS_FRAME_ERR_LENGTH_MSB,
		WS_FRAME_ERR_UNMASKED, WS_FRAME_ERR_TOO_BIG,
	};
	const size_t n = sizeof(errs) / sizeof(errs[0]);
	const char *unknown = ws_frame_strerror(-100);
	size_t i, j;

	assert_non_null(unknown);
	assert_non_null(ws_frame_strerror(WS_FRAME_OK));
	for (i = 0; i < n; i++) {
		assert_non_null(ws_frame_strerror(errs[i]));
		assert_true(strlen(ws_frame_strerror(errs[i])) > 0);
		assert_string_not_equal(ws_frame_strerror(errs[i]), unknown);
		for (j = i + 1; j < n; j++)
			assert_string_not_equal(ws_frame_strerror(errs[i]),
			    ws_frame_strerror(errs[j]));
	}
	assert_string_equal(ws_frame_strerror(WS_FRAME_ERR_OPCODE),
	    "reserved opcode");
}

static int
test_frame_setup(void **state)
{
	test_frame_guard_new(&test_frame_arena, TEST_FRAME_ARENA);
	return 0;
}

static int
test_frame_teardown(void **state)
{
	test_frame_guard_free(&test_frame_arena);
	return 0;
}

/* permessage-deflate (RFC 7692 §6): RSV1 is allowed once negotiated, on
 * the first frame of a data message only; RSV2/3 never. Fed whole and a
 * byte at a time. */
static void
test_rsv1_negotiated(void **state)
{
	static const struct {
		uint8_t in[8];
		size_t len;
		int want;	/* 0: header ok with rsv1 as below */
		bool rsv1;
	} v[] = {
		{ { 0xc1, 0x05, 'H', 'e', 'l', 'l', 'o' }, 7, 0, true },
		{ { 0xc2, 0x00 }, 2, 0, true },
		{ { 0x41, 0x00 }, 2, 0, true },		/* first, no FIN */
		{ { 0x81, 0x00 }, 2, 0, false },
		{ { 0xc0, 0x00 }, 2, WS_FRAME_ERR_RSV, false },	/* CONT */
		{ { 0x40, 0x00 }, 2, WS_FRAME_ERR_RSV, false },
		{ { 0xc9, 0x00 }, 2, WS_FRAME_ERR_RSV, false },	/* ping */
		{ { 0xc8, 0x00 }, 2, WS_FRAME_ERR_RSV, false },	/* close */
		{ { 0xe1, 0x00 }, 2, WS_FRAME_ERR_RSV, false },	/* +RSV2 */
		{ { 0xd1, 0x00 }, 2, WS_FRAME_ERR_RSV, false },	/* +RSV3 */
	};
	struct ws_frame_decoder d;
	struct ws_frame_ev ev;
	size_t i, j;
	ssize_t r;
	int step;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
	for (step = 0; step < 2; step++) {
		ws_frame_decoder_init(&d, 0, false);
		d.allow_rsv1 = true;
		r = 0;
		memset(&ev, 0, sizeof(ev));
		for (j = 0; j < 2 && r >= 0; j += step ? 1 : 2) {
			r = ws_frame_decode(&d, v[i].in + j, step ? 1 : 2, &ev);
		}
		if (v[i].want != 0) {
			assert_int_equal(r, v[i].want);
			assert_int_equal(d.close_code, 1002);
			continue;
		}
		assert_true(r >= 0);
		assert_int_equal(ev.type, WS_FRAME_EV_HEADER);
		assert_int_equal(ev.rsv1, v[i].rsv1);
	}
	/* not negotiated: RSV1 is the §5.2 error it always was */
	ws_frame_decoder_init(&d, 0, false);
	assert_int_equal(ws_frame_decode(&d, v[0].in, 7, &ev),
	    WS_FRAME_ERR_RSV);
}

/* ws_frame_header_len() is the encoder's length, at every boundary. */
static void
test_header_len_matches_encode(void **state)
{
	static const uint64_t lens[] = { 0, 1, 125, 126, 127, 0xffff,
	    0x10000, (uint64_t)1 << 32, ((uint64_t)1 << 63) - 1 };
	uint8_t hdr[14];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
		assert_int_equal(ws_frame_header_len(lens[i]),
		    ws_frame_header_encode(hdr, true, WS_OP_BINARY, lens[i],
		    NULL));
	assert_int_equal(ws_frame_header_len(125), 2);
	assert_int_equal(ws_frame_header_len(126), 4);
	assert_int_equal(ws_frame_header_len(0x10000), 10);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_header_len_matches_encode),
		cmocka_unit_test(test_rsv1_negotiated),
		cmocka_unit_test(test_frame_vectors),
		cmocka_unit_test(test_frame_rfc_big),
		cmocka_unit_test(test_frame_control_125),
		cmocka_unit_test(test_frame_roundtrip),
		cmocka_unit_test(test_frame_roundtrip_huge),
		cmocka_unit_test(test_frame_one_event_per_call),
		cmocka_unit_test(test_frame_error_sticky),
		cmocka_unit_test(test_frame_unmask),
		cmocka_unit_test(test_frame_unmask_forward),
		cmocka_unit_test(test_frame_unmask_chunked),
		cmocka_unit_test(test_frame_unmask_guarded),
		cmocka_unit_test(test_frame_encode),
		cmocka_unit_test(test_frame_close_codes),
		cmocka_unit_test(test_frame_close_reasons),
		cmocka_unit_test(test_frame_strerror),
	};

	return cmocka_run_group_tests(tests, test_frame_setup,
	    test_frame_teardown);
}
