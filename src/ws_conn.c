/*
 * ws_conn: the client's WebSocket side of a session. See include/ws_conn.h.
 *
 * Input: the client's bytes are decoded in place over the first extent of
 * the input buffer (ws_frame_decode on evbuffer_peek), a chunk at a time.
 * Data payload is unmasked and moved to the backend's output without a
 * separate copy; control payloads (<= 125 bytes) collect in s->rx.ctrl and
 * are acted on at the frame's end. Message rules sit here, above the
 * codec: fragmentation (RFC 6455 §5.4), UTF-8 of text (§8.1), the route's
 * message size limit, and the close handshake (§5.5.1).
 *
 * Flow control: decoding stops while the backend's output (or the
 * client's own, full of pongs it does not read) is at max_buffer; the
 * write callbacks in session.c resume it.
 *
 * Output: ws_conn_send() is the one writer toward the client (frames, the
 * 101, and the count in s->out_total that heartbeat.c reads).
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "config.h"
#include "heartbeat.h"
#include "leg_read.h"
#include "record.h"
#include "session-int.h"
#include "tls.h"
#include "ws_conn.h"
#include "ws_frame.h"
#include "ws_utf8.h"
#include "xform.h"

/* "client sent close 65535" and its NUL, with room to spare. */
#define WS_CONN_CAUSE_MAX	32

/* The one writer toward the client: see include/ws_conn.h. */
size_t
ws_conn_send(struct session *s, unsigned b0, const void *p, size_t len,
    struct evbuffer *chain)
{
	struct evbuffer *out = bufferevent_get_output(s->client.bev);
	uint8_t hdr[14];
	size_t hl = 0;

	if (chain != NULL)
		len = evbuffer_get_length(chain);
	if (b0 != WS_CONN_RAW) {
		/* Server frames are never masked (RFC 6455 §5.1). */
		hl = ws_frame_header_encode(hdr, (b0 & WS_CONN_FIN) != 0,
		    (enum ws_opcode)(b0 & 0x0f), len, NULL);
		hdr[0] |= (uint8_t)(b0 & 0x70);		/* RSV1-3 */
		/* TLS: header and payload in one record, sent now. */
		if (s->client.tls && tls_send(s->client.bev, hdr, hl, p, chain,
		    len) == 0) {
			s->out_total += hl + len;
			return len;
		}
		evbuffer_add(out, hdr, hl);
	}
	if (chain != NULL)
		evbuffer_add_buffer(out, chain);	/* chains move */
	else if (p != NULL && len > 0)
		evbuffer_add(out, p, len);
	/* else: RAW bytes the caller committed in place just now */
	s->out_total += hl + len;
	session_leg_flush(&s->client);
	return len;
}

/* A control frame: its payload (<= 125 bytes) is copied. */
static void
ws_conn_send_frame(struct session *s, enum ws_opcode op, const void *p,
    size_t len)
{
	(void)ws_conn_send(s, WS_CONN_FIN | op, p, len, NULL);
}

void
ws_conn_send_close(struct session *s, uint16_t code, const char *reason)
{
	uint8_t payload[125];
	size_t rlen = 0;

	if (code == 1005) {		/* "no status": an empty close */
		ws_conn_send_frame(s, WS_OP_CLOSE, NULL, 0);
		return;
	}
	payload[0] = (uint8_t)(code >> 8);
	payload[1] = (uint8_t)code;
	if (reason != NULL) {
		rlen = strlen(reason);
		if (rlen > sizeof(payload) - 2)
			rlen = sizeof(payload) - 2;
		memcpy(payload + 2, reason, rlen);
	}
	ws_conn_send_frame(s, WS_OP_CLOSE, payload, 2 + rlen);
}

/* Is the backend's output full? Then stop reading the client. */
static bool
ws_conn_upstream_full(struct session *s)
{
	size_t max = s->cfg->max_buffer;

	if (s->upstream.bev == NULL)
		return false;
	if (evbuffer_get_length(bufferevent_get_output(s->upstream.bev)) < max)
		return false;
	/* Give the socket what it takes first: a pause needs a write
	 * callback to end it, and only a leg with bytes left gets one. */
	session_leg_flush(&s->upstream);
	if (evbuffer_get_length(bufferevent_get_output(s->upstream.bev)) < max)
		return false;
	session_leg_pause(&s->client, &s->upstream);
	return true;
}

/*
 * Is the client's own output full (pongs it does not read, say)? Then stop
 * reading it too, until it drains: what it sends may need answers.
 */
static bool
ws_conn_client_full(struct session *s)
{
	if (s->state == SESSION_CLOSING ||
	    evbuffer_get_length(bufferevent_get_output(s->client.bev)) <
	    s->cfg->max_buffer)
		return false;
	session_leg_pause(&s->client, &s->client);
	return true;
}

/*
 * A frame header arrived: message-level checks (RFC 6455 §5.4). Returns
 * 0, or the close code to answer with (*cause says why); nothing is
 * closed here.
 */
static uint16_t
ws_conn_header_fault(struct session *s, const struct ws_frame_ev *ev,
    const char **cause)
{
	uint64_t max = s->route->max_message_size;

	if (ev->opcode & 0x8) {
		s->rx.ctrl_len = 0;
		return 0;
	}
	if (ev->opcode == WS_OP_CONT) {
		if (!s->rx.in_message) {
			*cause = "continuation frame without a message to "
			    "continue";
			return 1002;
		}
	} else {
		if (s->rx.in_message) {
			*cause = "new data frame inside a fragmented message";
			return 1002;
		}
		s->rx.in_message = true;
		s->rx.msg_text = ev->opcode == WS_OP_TEXT;
		s->rx.msg_size = 0;
		ws_utf8_reset(&s->rx.utf8);
		if (s->x != NULL)
			xform_client_message(s, ev);	/* compressed? */
	}
	s->rx.msg_size += ev->payload_len;
	/* A compressed message is held to max_message_size as inflated
	 * (xform.c); on the wire it may be a little larger. */
	if (max != 0 && s->rx.msg_size > max && !xform_client_inflating(s)) {
		*cause = "message too big";
		return 1009;
	}
	return 0;
}

/* The same, closing on a fault: -1 then (s may be gone). */
static int
ws_conn_frame_header(struct session *s, const struct ws_frame_ev *ev)
{
	const char *cause = NULL;
	uint16_t code;

	if ((code = ws_conn_header_fault(s, ev, &cause)) != 0) {
		session_close(s, code, cause);
		return -1;
	}
	return 0;
}

/*
 * Move n payload bytes, the start of in's first chain (p, writable, holds
 * avail bytes), unmasked to out. A payload that fills the chain is unmasked
 * in place and the chain moves. One that ends inside it would make
 * evbuffer_remove_buffer() copy it (2.1 cannot split a chain), so it is
 * unmasked straight into out's free space instead: the copy rides on the
 * pass unmasking needs anyway. A text message's bytes are checked before
 * any of them moves (RFC 6455 §8.1). Returns 0, -1 out of memory, or -2
 * for invalid UTF-8 (nothing moved).
 */
static int
ws_conn_move_unmasked(struct session *s, struct evbuffer *in,
    struct evbuffer *out, uint8_t *p, size_t n, size_t avail,
    unsigned mask_off)
{
	struct evbuffer_iovec v[2];
	size_t done = 0;
	int i, nv;

	if (n == avail) {
		ws_frame_unmask(s->rx.dec.mask, mask_off, p, p, n);
		if (s->rx.msg_text && ws_utf8_feed(&s->rx.utf8, p, n) == -1)
			return -2;
		evbuffer_remove_buffer(in, out, n);
		return 0;
	}
	if ((nv = evbuffer_reserve_space(out, (ev_ssize_t)n, v, 2)) < 1)
		return -1;
	for (i = 0; i < nv && done < n; i++) {
		if (v[i].iov_len > n - done)
			v[i].iov_len = n - done;
		mask_off = ws_frame_unmask(s->rx.dec.mask, mask_off,
		    v[i].iov_base, p + done, v[i].iov_len);
		if (s->rx.msg_text && ws_utf8_feed(&s->rx.utf8, v[i].iov_base,
		    v[i].iov_len) == -1) {
			evbuffer_commit_space(out, v, 0);
			return -2;
		}
		done += v[i].iov_len;
	}
	evbuffer_commit_space(out, v, i);
	evbuffer_drain(in, n);
	return 0;
}

/*
 * A chunk of payload at the head of the client's input (p is its first
 * byte, writable; avail bytes are contiguous there). Unmask it and move it
 * to the backend without a separate copy; control payloads are collected
 * in s->rx.ctrl instead.
 */
static int
ws_conn_frame_payload(struct session *s, const struct ws_frame_ev *ev,
    uint8_t *p, size_t avail)
{
	struct evbuffer *in = bufferevent_get_input(s->client.bev);
	int r;

	if (s->rx.dec.opcode & 0x8) {
		ws_frame_unmask(s->rx.dec.mask, ev->mask_off,
		    s->rx.ctrl + s->rx.ctrl_len,
		    p, ev->len);
		s->rx.ctrl_len += (uint8_t)ev->len;
		evbuffer_drain(in, ev->len);
		return 0;
	}
	/*
	 * Closing, and our close sent: what the client sent before it saw
	 * our close is still the backend's (RFC 6455 §1.4: only a close
	 * received ends a peer's data; ws_conn_input drops input after it).
	 *
	 * A transform of client messages (permessage-deflate's inflate,
	 * line or text framing) takes the unmasked chunk here in place of
	 * the plain move below, and the message's end in ws_conn_frame_end.
	 */
	if (s->upstream.bev == NULL) {
		evbuffer_drain(in, ev->len);	/* nobody to give it to */
		return 0;
	}
	if (xform_client_takes(s)) {
		/* inflate, line framing (xform.c) */
		if (xform_client_payload(s, ev, p, in) == -1)
			return -1;
		hb_activity(s);
		return 0;
	}
	r = ws_conn_move_unmasked(s, in,
	    bufferevent_get_output(s->upstream.bev),
	    p, ev->len, avail, ev->mask_off);
	if (r < 0) {
		session_close(s, r == -2 ? 1007 : 1011, r == -2 ?
		    "invalid UTF-8 in a text message" :
		    "internal error: out of memory");
		return -1;
	}
	if (s->rec != NULL) {	/* --record, --traffic: what just moved */
		struct evbuffer *o = bufferevent_get_output(s->upstream.bev);

		record_chunk(s->rec, 0, o, evbuffer_get_length(o) - ev->len,
		    ev->len);
	}
	s->bytes_up += ev->len;
	metrics_addn(&s->mr->bytes_up, ev->len); /* live in /metrics */
	hb_activity(s);
	return 0;
}

/*
 * "client sent close <code>" into cause, as snprintf would write it but
 * without its ~800 instructions (one per connect cycle, bench-instr).
 */
static void
ws_conn_close_cause(char cause[WS_CONN_CAUSE_MAX], uint16_t code)
{
	static const char pre[] = "client sent close ";
	char digits[5];
	size_t n = 0, k = sizeof(pre) - 1;

	memcpy(cause, pre, k);
	do
		digits[n++] = (char)('0' + code % 10);
	while ((code /= 10) != 0);
	while (n > 0)
		cause[k++] = digits[--n];
	cause[k] = '\0';
}

/* The client's close frame (RFC 6455 §5.5.1): check, echo, finish. */
static int
ws_conn_client_close(struct session *s)
{
	const uint8_t *reason;
	size_t rlen;
	uint16_t code;
	int bad;
	char cause[WS_CONN_CAUSE_MAX];

	bad = ws_frame_close_parse(s->rx.ctrl, s->rx.ctrl_len, &code, &reason,
	    &rlen);
	if (bad != 0) {
		session_close(s, (uint16_t)bad, bad == 1007 ?
		    "invalid UTF-8 in the close reason" :
		    "invalid close frame");
		return -1;
	}
	s->fin.received = true;
	s->fin.peer_code = code;
	ws_conn_close_cause(cause, code);
	/* Echo the client's code (§5.5.1); "no status" is echoed empty. */
	session_close(s, code, cause);
	return -1;
}

/* The end of a frame: dispatch control frames, finish messages. */
static int
ws_conn_frame_end(struct session *s)
{
	int r;

	switch (s->rx.dec.opcode) {
	case WS_OP_CLOSE:
		return ws_conn_client_close(s);
	case WS_OP_PING:
		if (!s->fin.sent)
			ws_conn_send_frame(s, WS_OP_PONG, s->rx.ctrl,
			    s->rx.ctrl_len);
		return 0;
	case WS_OP_PONG:
		hb_pong(s);	/* liveness was noted already; RTT here */
		return 0;
	default:
		break;
	}
	if (!s->rx.dec.fin)
		return 0;
	s->rx.in_message = false;
	if (s->x != NULL && (r = xform_client_message_end(s)) != 0)
		return r == -1 ? -1 : 0;	/* 1: the end waits (xform.c) */
	if (s->rx.msg_text && !ws_utf8_complete(&s->rx.utf8)) {
		session_close(s, 1007, "text message ends inside a UTF-8 "
		    "sequence");
		return -1;
	}
	return 0;
}

/*
 * The payload a read brought, gathered at p[0..n) by ws_conn_take(), to
 * the backend. Returns 0, 1 if bytes wait in the backend's output, or -1
 * if the session was closed (s may be gone).
 */
static int
ws_conn_take_send(struct session *s, const uint8_t *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if ((r = session_leg_send(&s->upstream, p, n)) == -1) {
		session_close(s, 1011, "internal error: out of memory");
		return -1;
	}
	s->bytes_up += n;
	metrics_addn(&s->mr->bytes_up, n);	/* live in /metrics, per read */
	hb_activity(s);
	return r;
}

/*
 * Would the end of the frame being decoded close the session? A close
 * frame does, and so may the end of a text message (an unfinished UTF-8
 * sequence): the payload before it goes to the backend first.
 */
static bool
ws_conn_end_may_close(const struct session *s)
{
	if (s->rx.dec.opcode == WS_OP_CLOSE)
		return true;
	return !(s->rx.dec.opcode & 0x8) && s->rx.dec.fin &&
	    s->rx.msg_text && !ws_utf8_complete(&s->rx.utf8);
}

/*
 * The contract is in include/ws_conn.h. The frames are decoded where they
 * lie, as ws_conn_input() does over the input's first extent; data payload
 * is unmasked to the front of p, behind what was gathered there already
 * (dst never passes src: headers are dropped), and goes to the backend in
 * one send, before anything that may close the session and at the end.
 */
ssize_t
ws_conn_take(struct session *s, uint8_t *p, size_t n)
{
	struct session_leg *u = &s->upstream;
	struct ws_frame_ev ev;
	const char *cause = NULL;
	size_t i = 0, out = 0;
	bool queued = false, ctrl = false;
	uint16_t code;
	ssize_t r;
	int q;

	/* Only the plain relay of an open session, with nothing waiting in
	 * the input, and not while the client's own output is full
	 * (ws_conn_input pauses the client then). A full backend output
	 * has the client paused already. */
	if (s->state != SESSION_OPEN || s->x != NULL || s->rec != NULL ||
	    s->fin.received || s->fin.failed || u->bev == NULL || !u->up ||
	    evbuffer_get_length(bufferevent_get_input(s->client.bev)) != 0 ||
	    evbuffer_get_length(bufferevent_get_output(s->client.bev)) >=
	    s->cfg->max_buffer)
		return 0;
	hb_alive(s);
	while (i < n) {
		r = ws_frame_decode(&s->rx.dec, p + i, n - i, &ev);
		if (r < 0) {
			if (ws_conn_take_send(s, p, out) != -1)
				session_close(s, s->rx.dec.close_code,
				    ws_frame_strerror((int)r));
			return LEG_READ_GONE;
		}
		if (ev.type == WS_FRAME_EV_PAYLOAD && (s->rx.dec.opcode & 0x8)) {
			ws_frame_unmask(s->rx.dec.mask, ev.mask_off,
			    s->rx.ctrl + s->rx.ctrl_len, p + i, ev.len);
			s->rx.ctrl_len += (uint8_t)ev.len;
		} else if (ev.type == WS_FRAME_EV_PAYLOAD) {
			ws_frame_unmask(s->rx.dec.mask, ev.mask_off, p + out,
			    p + i, ev.len);
			/* §8.1: nothing of a chunk with invalid UTF-8 moves. */
			if (s->rx.msg_text &&
			    ws_utf8_feed(&s->rx.utf8, p + out, ev.len) == -1) {
				if (ws_conn_take_send(s, p, out) != -1)
					session_close(s, 1007, "invalid UTF-8 "
					    "in a text message");
				return LEG_READ_GONE;
			}
			out += ev.len;
		} else if (ev.type == WS_FRAME_EV_HEADER &&
		    (code = ws_conn_header_fault(s, &ev, &cause)) != 0) {
			if (ws_conn_take_send(s, p, out) != -1)
				session_close(s, code, cause);
			return LEG_READ_GONE;
		}
		i += (size_t)r;
		if (!ev.frame_end)
			continue;
		if (ws_conn_end_may_close(s)) {
			if ((q = ws_conn_take_send(s, p, out)) == -1)
				return LEG_READ_GONE;
			queued |= q == 1;
			out = 0;
		}
		ctrl |= (s->rx.dec.opcode & 0x8) != 0;
		if (ws_conn_frame_end(s) == -1)
			return LEG_READ_GONE;
	}
	if ((q = ws_conn_take_send(s, p, out)) == -1)
		return LEG_READ_GONE;
	/* Full now? Then stop reading, as ws_conn_input() would. */
	if ((queued || q == 1) && ws_conn_upstream_full(s))
		return (ssize_t)n;
	if (ctrl)
		(void)ws_conn_client_full(s);	/* pongs */
	return (ssize_t)n;
}

/* The contract is in include/ws_conn.h. */
int
ws_conn_send_read(struct session *s, unsigned b0, uint8_t *p, size_t len)
{
	uint8_t *h;
	size_t hl;
	int r;

	if (s->client.tls) {	/* one record, sent now (tls_send) */
		(void)ws_conn_send(s, b0, p, len, NULL);
		return 1;
	}
	/* Server frames are never masked (RFC 6455 §5.1). The header goes
	 * right before the payload: one write. */
	hl = ws_frame_header_len(len);
	h = p - hl;
	(void)ws_frame_header_encode(h, (b0 & WS_CONN_FIN) != 0,
	    (enum ws_opcode)(b0 & 0x0f), len, NULL);
	h[0] |= (uint8_t)(b0 & 0x70);		/* RSV1-3 */
	if ((r = session_leg_send(&s->client, h, hl + len)) == -1)
		return -1;
	s->out_total += hl + len;
	return r;
}

/* The contract is in include/ws_conn.h. The first extent of the input is
 * decoded in place, one event per turn of the loop. */
int
ws_conn_input(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->client.bev);
	struct evbuffer_iovec v;
	struct ws_frame_ev ev;
	ssize_t r;

	while (s->client.bev != NULL && (evbuffer_get_length(in) > 0 ||
	    xform_client_pending(s))) {
		if (s->fin.received || s->fin.failed) {
			evbuffer_drain(in, evbuffer_get_length(in));
			break;
		}
		if (ws_conn_upstream_full(s) || ws_conn_client_full(s))
			break;
		/* An inflate paused on the backend goes on first: nothing
		 * after it is decoded before it is done (xform.c). */
		if (s->x != NULL && (r = xform_client_resume(s)) != 0) {
			if (r == -1)
				return -1;
			continue;	/* full again: the check above pauses */
		}
		if (evbuffer_get_length(in) == 0)
			break;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		hb_alive(s);
		r = ws_frame_decode(&s->rx.dec, v.iov_base, v.iov_len, &ev);
		if (r < 0) {
			session_close(s, s->rx.dec.close_code,
			    ws_frame_strerror((int)r));
			return -1;
		}
		if (ev.type == WS_FRAME_EV_PAYLOAD) {
			if (ws_conn_frame_payload(s, &ev, v.iov_base,
			    v.iov_len) == -1)
				return -1;
		} else {
			evbuffer_drain(in, (size_t)r);
			if (ev.type == WS_FRAME_EV_HEADER &&
			    ws_conn_frame_header(s, &ev) == -1)
				return -1;
		}
		if (ev.frame_end && ws_conn_frame_end(s) == -1)
			return -1;
	}
	/* One write for every frame this read brought (a backend still
	 * connecting gets them once it is up). */
	session_leg_flush(&s->upstream);
	return 0;
}
