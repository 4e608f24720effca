/*
 * Unit tests for ws_conn, the message layer above the frame codec, on
 * bufferevent_pair_new() legs (libevent's regress style): the session's
 * client and backend legs are our ends of two pairs; the test writes the
 * client's frames into the client leg's input, runs ws_conn_input(), and
 * reads what the backend received and the frames the client got at the
 * pairs' other ends.
 *
 * The session lifecycle ws_conn calls out to (session_close, the
 * heartbeat's notes) is this file's own: it records what was asked and
 * does what session.c does to the client (the close frame), no more.
 * Every case runs with the input fed whole, one byte at a time, and in
 * 7-byte steps (each step followed by a ws_conn_input() call), and the
 * same three again through ws_conn_take() first, as session.c's read hook
 * offers a read before it is queued.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "leg_read.h"
#include "record.h"
#include "session-int.h"
#include "ws_conn.h"
#include "ws_frame.h"
#include "xform.h"

/* ---- the session around ws_conn --------------------------------- */

struct test_conn {
	struct event_base	*base;
	struct bufferevent	*pair_c[2];	/* [0] ours, [1] the client */
	struct bufferevent	*pair_b[2];	/* [0] ours, [1] the backend */
	struct config		 cfg;
	struct config_route	 route;
	struct metrics_route	 mr;
	struct session		 s;
	int			 closes;	/* session_close() calls */
	uint16_t		 close_code;	/* the first one's code */
	char			 close_cause[128];
	int			 pongs;		/* hb_pong() calls */
	int			 alive;		/* hb_alive() calls */
};

static struct test_conn *test_cur;

void
session_close(struct session *s, uint16_t code, const char *cause)
{
	struct test_conn *t = test_cur;

	if (t->closes++ == 0) {
		t->close_code = code;
		snprintf(t->close_cause, sizeof(t->close_cause), "%s",
		    cause != NULL ? cause : "");
	}
	/* What session.c does to the client: say it once, then closing. */
	if (code == 1002 || code == 1007 || code == 1009)
		s->fin.failed = true;
	if (code != 0 && !s->fin.sent) {
		s->fin.sent = true;
		s->fin.code = code;
		ws_conn_send_close(s, code, cause);
	}
	s->state = SESSION_CLOSING;
}

void
hb_alive(struct session *s)
{
	(void)s;
	test_cur->alive++;
}

void
hb_pong(struct session *s)
{
	(void)s;
	test_cur->pongs++;
}

void
hb_activity(struct session *s)
{
	(void)s;
}

/* xform.c's client hooks: reached only with s->x set, which no session
 * here has (plain routes keep the move without a copy tested above). */
bool
xform_client_takes(const struct session *s)
{
	return s->x != NULL;
}

bool
xform_client_inflating(const struct session *s)
{
	return s->x != NULL;
}

void
xform_client_message(struct session *s, const struct ws_frame_ev *ev)
{
	(void)s;
	(void)ev;
	fail_msg("xform_client_message without an xform");
}

int
xform_client_payload(struct session *s, const struct ws_frame_ev *ev,
    uint8_t *p, struct evbuffer *in)
{
	(void)s;
	(void)ev;
	(void)p;
	(void)in;
	fail_msg("xform_client_payload without an xform");
	return -1;
}

int
xform_client_message_end(struct session *s)
{
	(void)s;
	fail_msg("xform_client_message_end without an xform");
	return -1;
}

bool
xform_client_pending(const struct session *s)
{
	return s->x != NULL;
}

int
xform_client_resume(struct session *s)
{
	(void)s;
	fail_msg("xform_client_resume without an xform");
	return -1;
}

/* session.c's, reached from session_leg.c only when a TLS leg's held
 * close records are out (session_leg_shut_cb); these legs are never TLS. */
int
session_leg_progress(struct session_leg *leg)
{
	(void)leg;
	fail_msg("session_leg_progress from a plain leg");
	return -1;
}

/* tls.c's calls for TLS legs (EOF, writes); these legs are never TLS. */
void	tls_shutdown(struct bufferevent *);
void
tls_shutdown(struct bufferevent *bev)
{
	(void)bev;
	fail_msg("tls_shutdown on a plain leg");
}

size_t	tls_read_more(struct bufferevent *, size_t);
size_t
tls_read_more(struct bufferevent *bev, size_t room)
{
	(void)bev;
	(void)room;
	fail_msg("tls_read_more on a plain leg");
	return 0;
}

void	tls_read_pending(struct bufferevent *);
void
tls_read_pending(struct bufferevent *bev)
{
	(void)bev;
	fail_msg("tls_read_pending on a plain leg");
}

int	tls_flush(struct bufferevent *);
int
tls_flush(struct bufferevent *bev)
{
	(void)bev;
	fail_msg("tls_flush on a plain leg");
	return 0;
}

int	tls_send(struct bufferevent *, const void *, size_t, const void *,
	    struct evbuffer *, size_t);
int
tls_send(struct bufferevent *bev, const void *hdr, size_t hl, const void *p,
    struct evbuffer *chain, size_t len)
{
	(void)bev;
	(void)hdr;
	(void)hl;
	(void)p;
	(void)chain;
	(void)len;
	fail_msg("tls_send on a plain leg");
	return -1;
}

/* record.c's hook (--record, --traffic); these sessions record nothing. */
void
record_chunk(struct record *rec, int to_client, const struct evbuffer *b,
    size_t off, size_t len)
{
	(void)to_client;
	(void)b;
	(void)off;
	(void)len;
	if (rec != NULL)
		fail_msg("record_chunk with a recorder");
}

/* Set up t's base, pairs and session (limits as t has them). */
static void
test_open(struct test_conn *t)
{
	struct session *s = &t->s;

	assert_non_null(t->base = event_base_new());
	assert_int_equal(bufferevent_pair_new(t->base, 0, t->pair_c), 0);
	assert_int_equal(bufferevent_pair_new(t->base, 0, t->pair_b), 0);
	bufferevent_enable(t->pair_c[1], EV_READ);
	bufferevent_enable(t->pair_b[1], EV_READ);
	s->cfg = &t->cfg;
	s->route = &t->route;
	s->mr = &t->mr;
	s->state = SESSION_OPEN;
	session_leg_init(&s->client, s, &s->upstream);
	session_leg_init(&s->upstream, s, &s->client);
	s->client.bev = t->pair_c[0];
	s->upstream.bev = t->pair_b[0];
	s->client.up = s->upstream.up = true;
	ws_frame_decoder_init(&s->rx.dec, t->route.max_message_size, true);
	test_cur = t;
}

static void
test_close(struct test_conn *t)
{
	bufferevent_free(t->pair_c[0]);
	bufferevent_free(t->pair_c[1]);
	bufferevent_free(t->pair_b[0]);
	bufferevent_free(t->pair_b[1]);
	event_base_free(t->base);
}

static int
test_setup(void **state)
{
	struct test_conn *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	t->cfg.max_buffer = 1 << 20;
	t->route.max_message_size = 1 << 20;
	test_open(t);
	*state = t;
	return 0;
}

static int
test_teardown(void **state)
{
	struct test_conn *t = *state;

	test_close(t);
	free(t);
	return 0;
}

/* Start over between feeding modes: a fresh session, the same limits. */
static void
test_reset(struct test_conn *t)
{
	struct config cfg = t->cfg;
	struct config_route route = t->route;

	test_close(t);
	memset(t, 0, sizeof(*t));
	t->cfg = cfg;
	t->route = route;
	test_open(t);
}

/* ---- frames ------------------------------------------------------ */

struct test_buf {
	uint8_t		*p;
	size_t		 len, cap;
};

static void
test_buf_add(struct test_buf *b, const void *p, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		assert_non_null(b->p = realloc(b->p, b->cap));
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
}

/* Append one masked client frame: b0 = FIN/RSV bits | opcode. */
static void
test_frame(struct test_buf *b, unsigned b0, const void *payload, size_t len)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t hdr[14], *m;
	size_t hl;

	hl = ws_frame_header_encode(hdr, (b0 & 0x80) != 0,
	    (enum ws_opcode)(b0 & 0x0f), len, key);
	hdr[0] |= (uint8_t)(b0 & 0x70);
	test_buf_add(b, hdr, hl);
	assert_non_null(m = malloc(len + 1));
	ws_frame_unmask(key, 0, m, payload, len);
	test_buf_add(b, m, len);
	free(m);
}

/* The same frame sent unmasked (a protocol error from a client). */
static void
test_frame_unmasked(struct test_buf *b, unsigned b0, const void *payload,
    size_t len)
{
	uint8_t hdr[14];
	size_t hl;

	hl = ws_frame_header_encode(hdr, (b0 & 0x80) != 0,
	    (enum ws_opcode)(b0 & 0x0f), len, NULL);
	test_buf_add(b, hdr, hl);
	test_buf_add(b, payload, len);
}

/* Bytes arrive from the client (as the pair would hand them over). */
static void
test_arrive(struct test_conn *t, const uint8_t *p, size_t n)
{
	struct evbuffer *cin = bufferevent_get_input(t->pair_c[0]);

	/* A bufferevent keeps its input's end frozen outside its reads. */
	evbuffer_unfreeze(cin, 0);
	assert_int_equal(evbuffer_add(cin, p, n), 0);
	evbuffer_freeze(cin, 0);
}

/*
 * A read as leg_read hands it over with session.c's take hook: offered to
 * ws_conn_take() first (in a buffer with the headroom leg_read gives),
 * what it leaves to the input and ws_conn_input(). Returns false once the
 * session was closed (LEG_READ_GONE: the rest of the read is dropped, as
 * a closed session's input is).
 */
static bool
test_arrive_take(struct test_conn *t, const uint8_t *p, size_t n)
{
	uint8_t *buf;
	ssize_t r;

	assert_non_null(buf = malloc(LEG_READ_HEADROOM + n));
	memcpy(buf + LEG_READ_HEADROOM, p, n);
	r = ws_conn_take(&t->s, buf + LEG_READ_HEADROOM, n);
	if (r != LEG_READ_GONE) {
		assert_true(r >= 0 && (size_t)r <= n);
		if ((size_t)r < n) {
			test_arrive(t, buf + LEG_READ_HEADROOM + r,
			    n - (size_t)r);
			(void)ws_conn_input(&t->s);
		}
	} else
		assert_true(t->closes > 0);
	free(buf);
	return r != LEG_READ_GONE;
}

/*
 * Feed in to the client leg in steps of step bytes (0: whole), running
 * ws_conn_input() after each, as the read callback would; with take,
 * through ws_conn_take() first (test_arrive_take).
 */
static void
test_feed(struct test_conn *t, const struct test_buf *in, size_t step,
    bool take)
{
	size_t off = 0, n;

	while (off < in->len && t->closes == 0) {
		n = step == 0 || in->len - off < step ? in->len - off : step;
		if (take) {
			(void)test_arrive_take(t, in->p + off, n);
			off += n;
			continue;
		}
		test_arrive(t, in->p + off, n);
		off += n;
		(void)ws_conn_input(&t->s);
	}
	if (off < in->len) {		/* closed: the rest arrives anyway */
		test_arrive(t, in->p + off, in->len - off);
		(void)ws_conn_input(&t->s);
	}
	event_base_loop(t->base, EVLOOP_NONBLOCK);
}

/* What the backend has received so far (a copy, NUL-terminated). */
static char *
test_backend_got(struct test_conn *t, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(t->pair_b[1]);
	char *p;

	*len = evbuffer_get_length(in);
	assert_non_null(p = malloc(*len + 1));
	evbuffer_remove(in, p, *len);
	p[*len] = '\0';
	return p;
}

/* The next frame the client received: opcode, payload (into buf). */
static int
test_client_frame(struct test_conn *t, uint8_t *buf, size_t cap, size_t *len)
{
	struct evbuffer *in = bufferevent_get_input(t->pair_c[1]);
	struct ws_frame_decoder d;
	struct ws_frame_ev ev;
	uint8_t *p;
	size_t have = evbuffer_get_length(in), off = 0;
	ssize_t r;
	int op = -1;

	if (have == 0)
		return -1;
	ws_frame_decoder_init(&d, 0, false);
	p = evbuffer_pullup(in, -1);
	*len = 0;
	for (;;) {
		r = ws_frame_decode(&d, p + off, have - off, &ev);
		assert_true(r >= 0);
		off += (size_t)r;
		if (ev.type == WS_FRAME_EV_HEADER) {
			assert_false(d.masked);		/* §5.1 */
			op = ev.opcode;
		} else if (ev.type == WS_FRAME_EV_PAYLOAD) {
			assert_true(*len + ev.len <= cap);
			memcpy(buf + *len, ev.data, ev.len);
			*len += ev.len;
		} else {
			fail_msg("a partial frame to the client");
		}
		if (ev.frame_end)
			break;
	}
	evbuffer_drain(in, off);
	return op;
}

/* The client got a close with this code (and nothing after it). */
static void
test_expect_close(struct test_conn *t, uint16_t code)
{
	uint8_t buf[125];
	size_t len;
	int op;

	while ((op = test_client_frame(t, buf, sizeof(buf), &len)) == WS_OP_PONG)
		;
	assert_int_equal(op, WS_OP_CLOSE);
	assert_true(len >= 2);
	assert_int_equal((buf[0] << 8) | buf[1], code);
	assert_int_equal(evbuffer_get_length(
	    bufferevent_get_input(t->pair_c[1])), 0);
	assert_int_equal(t->close_code, code);
}

/* Feeding modes: whole, by 1 and by 7 bytes, each through the input
 * alone and through ws_conn_take() first. */
static const size_t test_steps[] = { 0, 1, 7, 0, 1, 7 };
#define TEST_NSTEPS (sizeof(test_steps) / sizeof(test_steps[0]))
#define TEST_TAKE(i)	((i) >= 3)

/* Run in through every feeding mode; check(t) after each. */
static void
test_each_step(struct test_conn *t, const struct test_buf *in,
    void (*check)(struct test_conn *))
{
	size_t i;

	for (i = 0; i < TEST_NSTEPS; i++) {
		if (i > 0)
			test_reset(t);
		test_feed(t, in, test_steps[i], TEST_TAKE(i));
		check(t);
	}
}

/* ---- cases --------------------------------------------------------- */

static void
check_hello(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	assert_int_equal(t->closes, 0);
	assert_string_equal(got, "Hello, backend");
	assert_int_equal(t->s.bytes_up, 14);
	assert_int_equal(t->mr.bytes_up, 14);	/* live counters */
	free(got);
}

static void
test_single_frames(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "Hello, ", 7);
	test_frame(&in, WS_CONN_FIN | WS_OP_TEXT, "backend", 7);
	test_each_step(*state, &in, check_hello);
	free(in.p);
}

static void
test_fragmented(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_OP_TEXT, "Hel", 3);
	test_frame(&in, WS_OP_CONT, "lo, ", 4);
	test_frame(&in, WS_OP_CONT, "", 0);
	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "backend", 7);
	test_each_step(*state, &in, check_hello);
	free(in.p);
}

static void
check_interleaved(struct test_conn *t)
{
	uint8_t buf[125];
	size_t len;

	check_hello(t);
	assert_int_equal(test_client_frame(t, buf, sizeof(buf), &len),
	    WS_OP_PONG);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "ping", 4);
	assert_int_equal(test_client_frame(t, buf, sizeof(buf), &len),
	    WS_OP_PONG);
	assert_int_equal(len, 0);
	assert_int_equal(t->pongs, 1);
	assert_true(t->alive > 0);
}

/* Control frames may come between the fragments of a message (§5.4). */
static void
test_interleaved_control(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_OP_BINARY, "Hel", 3);
	test_frame(&in, WS_CONN_FIN | WS_OP_PING, "ping", 4);
	test_frame(&in, WS_OP_CONT, "lo, ", 4);
	test_frame(&in, WS_CONN_FIN | WS_OP_PONG, "x", 1);
	test_frame(&in, WS_CONN_FIN | WS_OP_PING, "", 0);
	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "backend", 7);
	test_each_step(*state, &in, check_interleaved);
	free(in.p);
}

static void
check_utf8_split(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	assert_int_equal(t->closes, 0);
	assert_int_equal(len, 9);
	assert_memory_equal(got, "a\xe2\x82\xac\xf0\x9f\x98\x80z", 9);
	free(got);
}

/* A code point may be split across frames of one message (§5.6, §8.1). */
static void
test_utf8_across_frames(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_OP_TEXT, "a\xe2", 2);		/* € begins */
	test_frame(&in, WS_OP_CONT, "\x82", 1);
	test_frame(&in, WS_OP_CONT, "\xac\xf0\x9f", 3);	/* 😀 begins */
	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "\x98\x80z", 3);
	test_each_step(*state, &in, check_utf8_split);
	free(in.p);
}

static void
check_1007_nothing_relayed(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	test_expect_close(t, 1007);
	assert_int_equal(t->closes, 1);
	/* The good message, and at most the valid start of the bad one (a
	 * chunk moves once its bytes are checked): never an invalid byte,
	 * nothing after. */
	assert_true(len >= 2 && len <= 5);
	assert_memory_equal(got, "okbad", len);
	free(got);
}

static void
test_utf8_invalid(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_TEXT, "ok", 2);
	test_frame(&in, WS_CONN_FIN | WS_OP_TEXT, "bad\xc0\xaf", 5);
	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "after", 5);
	test_each_step(*state, &in, check_1007_nothing_relayed);
	free(in.p);
}

static void
check_1007(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	test_expect_close(t, 1007);
	assert_int_equal(t->closes, 1);
	free(got);
}

/* A text message must not end inside a code point (§8.1). */
static void
test_utf8_truncated_message(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_OP_TEXT, "ab", 2);
	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "c\xe2\x82", 3);
	test_each_step(*state, &in, check_1007);
	free(in.p);
}

static void
check_1009(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	test_expect_close(t, 1009);
	assert_true(len <= 10);
	free(got);
}

/* max_message_size counts a fragmented message whole. */
static void
test_message_too_big(void **state)
{
	struct test_conn *t = *state;
	struct test_buf in = { 0 };

	t->route.max_message_size = 10;
	ws_frame_decoder_init(&t->s.rx.dec, 10, true);
	test_frame(&in, WS_OP_BINARY, "123456", 6);
	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "789012", 6);
	test_each_step(t, &in, check_1009);
	free(in.p);
}

/* ... and the codec refuses a single frame over it. */
static void
test_frame_too_big(void **state)
{
	struct test_conn *t = *state;
	struct test_buf in = { 0 };

	t->route.max_message_size = 10;
	ws_frame_decoder_init(&t->s.rx.dec, 10, true);
	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "12345678901", 11);
	test_each_step(t, &in, check_1009);
	free(in.p);
}

static void
check_1002(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	test_expect_close(t, 1002);
	assert_int_equal(t->closes, 1);
	assert_true(t->s.fin.failed);
	free(got);
}

static void
test_continuation_without_message(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "x", 1);
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
test_data_frame_inside_message(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_OP_TEXT, "x", 1);
	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "y", 1);
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
test_unmasked_frame(void **state)
{
	struct test_buf in = { 0 };

	test_frame_unmasked(&in, WS_CONN_FIN | WS_OP_BINARY, "x", 1);
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
test_rsv_without_extension(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_CONN_RSV1 | WS_OP_BINARY, "x", 1);
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
test_fragmented_ping(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_OP_PING, "x", 1);		/* control, no FIN */
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
check_client_close(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	assert_string_equal(got, "before");	/* nothing after the close */
	assert_true(t->s.fin.received);
	assert_int_equal(t->s.fin.peer_code, 1000);
	assert_string_equal(t->close_cause, "client sent close 1000");
	test_expect_close(t, 1000);		/* echoed (§5.5.1) */
	free(got);
}

static void
test_client_close_echoed(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "before", 6);
	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "\x03\xe8" "bye", 5);
	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "after", 5);
	test_each_step(*state, &in, check_client_close);
	free(in.p);
}

static void
check_close_1005(struct test_conn *t)
{
	assert_true(t->s.fin.received);
	assert_int_equal(t->close_code, 1005);
	assert_string_equal(t->close_cause, "client sent close 1005");
}

static void
check_close_4999(struct test_conn *t)
{
	assert_int_equal(t->close_code, 4999);
	assert_string_equal(t->close_cause, "client sent close 4999");
}

/* The cause names the client's code, every digit of it. */
static void
test_client_close_cause(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "\x13\x87", 2);
	test_each_step(*state, &in, check_close_4999);
	free(in.p);
}

/* An empty close is "no status" (1005), echoed empty by session.c. */
static void
test_client_close_empty(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "", 0);
	test_each_step(*state, &in, check_close_1005);
	free(in.p);
}

static void
test_close_bad_code(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "\x03\xe7", 2);   /* 999 */
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
test_close_one_byte(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "\x03", 1);
	test_each_step(*state, &in, check_1002);
	free(in.p);
}

static void
test_close_reason_bad_utf8(void **state)
{
	struct test_buf in = { 0 };

	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "\x03\xe8\xff", 3);
	test_each_step(*state, &in, check_1007);
	free(in.p);
}

static void
check_after_our_close(struct test_conn *t)
{
	size_t len;
	char *got = test_backend_got(t, &len);

	/* Everything up to the client's close reaches the backend. */
	assert_string_equal(got, "still the backend's");
	assert_true(t->s.fin.received);
	free(got);
}

/*
 * Our close is out (CLOSING, fin.sent) but the client's has not come:
 * what it sends meanwhile is still the backend's (RFC 6455 §1.4).
 */
static void
test_data_after_our_close(void **state)
{
	struct test_conn *t = *state;
	struct test_buf in = { 0 };
	size_t i;

	test_frame(&in, WS_OP_BINARY, "still ", 6);
	test_frame(&in, WS_CONN_FIN | WS_OP_CONT, "the backend's", 13);
	test_frame(&in, WS_CONN_FIN | WS_OP_CLOSE, "\x03\xe9", 2);
	test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, "dropped", 7);
	for (i = 0; i < TEST_NSTEPS; i++) {
		if (i > 0)
			test_reset(t);
		t->s.state = SESSION_CLOSING;
		t->s.fin.sent = true;
		t->s.fin.code = 1001;
		test_feed(t, &in, test_steps[i], TEST_TAKE(i));
		check_after_our_close(t);
	}
	free(in.p);
}

/*
 * The backend's output full: decoding stops (the client leg is paused,
 * its input kept), and goes on where it stopped once the backend reads.
 */
static void
test_backpressure(void **state)
{
	struct test_conn *t = *state;
	struct test_buf in = { 0 };
	uint8_t chunk[1000];
	size_t len, total = 0, i;
	char *got;

	t->cfg.max_buffer = 4096;
	bufferevent_disable(t->pair_b[1], EV_READ);	/* backend stalls */
	memset(chunk, 'q', sizeof(chunk));
	for (i = 0; i < 20; i++)
		test_frame(&in, WS_CONN_FIN | WS_OP_BINARY, chunk, sizeof(chunk));
	test_feed(t, &in, 0, false);
	assert_true(t->s.client.paused);
	assert_true(evbuffer_get_length(bufferevent_get_output(t->pair_b[0]))
	    >= 4096);
	assert_true(evbuffer_get_length(bufferevent_get_input(t->pair_c[0]))
	    > 0);
	while (t->s.client.paused || evbuffer_get_length(
	    bufferevent_get_input(t->pair_c[0])) > 0) {
		bufferevent_enable(t->pair_b[1], EV_READ);
		event_base_loop(t->base, EVLOOP_NONBLOCK);
		got = test_backend_got(t, &len);
		total += len;
		free(got);
		/* what session.c's write callback does */
		if (session_leg_resume(&t->s.client, &t->s.upstream))
			(void)ws_conn_input(&t->s);
		event_base_loop(t->base, EVLOOP_NONBLOCK);
	}
	got = test_backend_got(t, &len);
	total += len;
	free(got);
	assert_int_equal(total, 20 * sizeof(chunk));
	assert_int_equal(t->closes, 0);
	free(in.p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, test_setup, test_teardown)
		T(test_single_frames),
		T(test_fragmented),
		T(test_interleaved_control),
		T(test_utf8_across_frames),
		T(test_utf8_invalid),
		T(test_utf8_truncated_message),
		T(test_message_too_big),
		T(test_frame_too_big),
		T(test_continuation_without_message),
		T(test_data_frame_inside_message),
		T(test_unmasked_frame),
		T(test_rsv_without_extension),
		T(test_fragmented_ping),
		T(test_client_close_echoed),
		T(test_client_close_empty),
		T(test_client_close_cause),
		T(test_close_bad_code),
		T(test_close_one_byte),
		T(test_close_reason_bad_utf8),
		T(test_data_after_our_close),
		T(test_backpressure),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
