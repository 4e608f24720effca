/*
 * ws_frame: RFC 6455 §5 frame decoder and encoder.
 *
 * The decoder takes header bytes one at a time into d->hdr and checks each
 * field as soon as the byte that carries it is in, so a bad frame is
 * refused at the earliest byte whatever the chunking. Payload bytes are
 * never copied: a PAYLOAD event points into the caller's input and the
 * caller unmasks with ws_frame_unmask() (into its own buffer, or in place).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "ws_frame.h"
#include "ws_utf8.h"

/* Decoder states (d->state). */
enum ws_frame_state {
	WS_FRAME_S_HEADER = 0,
	WS_FRAME_S_PAYLOAD = 1,
	WS_FRAME_S_FAILED = 2,
};

#define WS_FRAME_FIN		0x80
#define WS_FRAME_RSV		0x70
#define WS_FRAME_RSV1		0x40
#define WS_FRAME_OPCODE		0x0f
#define WS_FRAME_MASK		0x80
#define WS_FRAME_LEN7		0x7f
#define WS_FRAME_LEN16		126
#define WS_FRAME_LEN64		127
#define WS_FRAME_CTRL_MAX	125

#define WS_FRAME_CLOSE_PROTOCOL	1002
#define WS_FRAME_CLOSE_NO_STATUS 1005
#define WS_FRAME_CLOSE_UTF8	1007
#define WS_FRAME_CLOSE_TOO_BIG	1009

void
ws_frame_decoder_init(struct ws_frame_decoder *d, uint64_t max_payload,
    bool require_mask)
{
	memset(d, 0, sizeof(*d));
	d->max_payload = max_payload;
	d->require_mask = require_mask;
}

/* Bytes of extended length that follow byte 1 (§5.2: 0, 2 or 8). */
static unsigned
ws_frame_ext_len(uint8_t b1)
{
	switch (b1 & WS_FRAME_LEN7) {
	case WS_FRAME_LEN16:
		return 2;
	case WS_FRAME_LEN64:
		return 8;
	default:
		return 0;
	}
}

/* Whole header length, once byte 1 is known. */
static unsigned
ws_frame_hdr_need(uint8_t b1)
{
	return 2 + ws_frame_ext_len(b1) + ((b1 & WS_FRAME_MASK) ? 4 : 0);
}

static int
ws_frame_check_size(const struct ws_frame_decoder *d, uint64_t len)
{
	if (d->max_payload != 0 && len > d->max_payload)
		return WS_FRAME_ERR_TOO_BIG;
	return WS_FRAME_OK;
}

/*
 * The checks that become possible once hdr[0..n) is in, that is the ones
 * about hdr[n - 1]. They depend only on hdr[] and the policy, so a failed
 * decoder can replay them to return the same error again.
 */
static int
ws_frame_check(const struct ws_frame_decoder *d, unsigned n)
{
	uint8_t b0 = d->hdr[0], b1 = d->hdr[1];
	unsigned ext = ws_frame_ext_len(b1);
	uint64_t len;
	unsigned i;

	if (n == 1) {
		/* §5.2: RSV1-3 MUST be 0 unless an extension was
		 * negotiated. permessage-deflate (RFC 7692 §6) gives RSV1
		 * a meaning on the first frame of a data message only:
		 * never on control frames or continuations (§6.1). */
		if (b0 & WS_FRAME_RSV & ~(d->allow_rsv1 ? WS_FRAME_RSV1 : 0))
			return WS_FRAME_ERR_RSV;
		if ((b0 & WS_FRAME_RSV1) && ((b0 & 0x08) ||
		    (b0 & WS_FRAME_OPCODE) == WS_OP_CONT))
			return WS_FRAME_ERR_RSV;
		/* §5.2: opcodes 3-7 and B-F are reserved. */
		switch (b0 & WS_FRAME_OPCODE) {
		case WS_OP_CONT:
		case WS_OP_TEXT:
		case WS_OP_BINARY:
		case WS_OP_CLOSE:
		case WS_OP_PING:
		case WS_OP_PONG:
			break;
		default:
			return WS_FRAME_ERR_OPCODE;
		}
		/* §5.5: control frames MUST NOT be fragmented. */
		if ((b0 & 0x08) && !(b0 & WS_FRAME_FIN))
			return WS_FRAME_ERR_CTRL_FRAGMENTED;
		return WS_FRAME_OK;
	}
	if (n == 2) {
		/* §5.5: control payloads are 125 bytes or less, so the
		 * 7-bit field alone decides (126 and 127 are too long). */
		if ((b0 & 0x08) && (b1 & WS_FRAME_LEN7) > WS_FRAME_CTRL_MAX)
			return WS_FRAME_ERR_CTRL_TOO_LONG;
		/* §5.1: a server MUST close on an unmasked client frame. */
		if (d->require_mask && !(b1 & WS_FRAME_MASK))
			return WS_FRAME_ERR_UNMASKED;
		if (ext == 0)
			return ws_frame_check_size(d, b1 & WS_FRAME_LEN7);
		return WS_FRAME_OK;
	}
	/* §5.2: the 64-bit form's most significant bit MUST be 0; it is
	 * the first extended length byte's top bit. */
	if (ext == 8 && n == 3 && (d->hdr[2] & 0x80))
		return WS_FRAME_ERR_LENGTH_MSB;
	if (ext == 0 || n != 2 + ext)
		return WS_FRAME_OK;		/* nothing new is known */
	/* §5.2: "the minimal number of bytes MUST be used to encode the
	 * length". */
	if (ext == 2) {
		len = (uint64_t)d->hdr[2] << 8 | d->hdr[3];
		if (len < WS_FRAME_LEN16)
			return WS_FRAME_ERR_NON_MINIMAL;
		return ws_frame_check_size(d, len);
	}
	len = 0;
	for (i = 2; i < 10; i++)
		len = len << 8 | d->hdr[i];
	if (len <= 0xffff)
		return WS_FRAME_ERR_NON_MINIMAL;
	return ws_frame_check_size(d, len);
}

static ssize_t
ws_frame_fail(struct ws_frame_decoder *d, int err)
{
	d->state = WS_FRAME_S_FAILED;
	d->close_code = err == WS_FRAME_ERR_TOO_BIG ?
	    WS_FRAME_CLOSE_TOO_BIG : WS_FRAME_CLOSE_PROTOCOL;
	return err;
}

/* hdr[0..hdr_len) is a whole, checked header: load the frame fields. */
static void
ws_frame_load(struct ws_frame_decoder *d)
{
	unsigned ext = ws_frame_ext_len(d->hdr[1]);
	uint64_t len = d->hdr[1] & WS_FRAME_LEN7;
	unsigned i;

	if (ext != 0) {
		len = 0;
		for (i = 2; i < 2 + ext; i++)
			len = len << 8 | d->hdr[i];
	}
	d->fin = (d->hdr[0] & WS_FRAME_FIN) != 0;
	d->rsv1 = (d->hdr[0] & WS_FRAME_RSV1) != 0;
	d->opcode = d->hdr[0] & WS_FRAME_OPCODE;
	d->masked = (d->hdr[1] & WS_FRAME_MASK) != 0;
	if (d->masked)
		memcpy(d->mask, d->hdr + 2 + ext, 4);
	else
		memset(d->mask, 0, 4);
	d->payload_len = len;
	d->payload_left = len;
	d->mask_off = 0;
}

static void
ws_frame_ev_fields(const struct ws_frame_decoder *d, struct ws_frame_ev *ev)
{
	ev->fin = d->fin;
	ev->rsv1 = d->rsv1;
	ev->opcode = d->opcode;
	ev->payload_len = d->payload_len;
}

/*
 * A whole header at in (need bytes, none of it taken yet): the checks the
 * byte-wise path makes, at the only lengths where ws_frame_check() can
 * find something (1, 2, 3 for the 64-bit form, and 2 + ext), so a bad
 * header fails at the same byte with hdr_len the same. Returns need, or a
 * negative error.
 */
static ssize_t
ws_frame_take_whole(struct ws_frame_decoder *d, const uint8_t *in,
    unsigned need)
{
	unsigned ext = ws_frame_ext_len(in[1]);
	unsigned at[4] = { 1, 2, 3, 2 + ext }, k, nk;
	int err;

	memcpy(d->hdr, in, need);
	nk = ext == 0 ? 2 : ext == 8 ? 4 : 3;
	if (ext == 2)
		at[2] = 4;
	for (k = 0; k < nk; k++)
		if ((err = ws_frame_check(d, at[k])) != WS_FRAME_OK) {
			d->hdr_len = (uint8_t)at[k];
			return ws_frame_fail(d, err);
		}
	d->hdr_len = (uint8_t)need;
	return need;
}

/* Header state: take header bytes until the header is whole. */
static ssize_t
ws_frame_decode_header(struct ws_frame_decoder *d, const uint8_t *in,
    size_t len, struct ws_frame_ev *ev)
{
	size_t n = 0;
	unsigned need;
	int err;

	if (d->hdr_len == 0 && len >= 2 &&
	    len >= (need = ws_frame_hdr_need(in[1]))) {
		/* The usual case: the whole header is here. */
		ssize_t r = ws_frame_take_whole(d, in, need);

		if (r < 0)
			return r;
		n = (size_t)r;
	}
	need = d->hdr_len >= 2 ? ws_frame_hdr_need(d->hdr[1]) : 2;
	while (d->hdr_len < need) {
		if (n == len)
			return n;		/* ev->type stays NONE */
		d->hdr[d->hdr_len++] = in[n++];
		if ((err = ws_frame_check(d, d->hdr_len)) != WS_FRAME_OK)
			return ws_frame_fail(d, err);
		if (d->hdr_len == 2)
			need = ws_frame_hdr_need(d->hdr[1]);
	}
	ws_frame_load(d);
	d->hdr_len = 0;
	ev->type = WS_FRAME_EV_HEADER;
	ws_frame_ev_fields(d, ev);
	if (d->payload_len == 0)
		ev->frame_end = true;		/* stay in the header state */
	else
		d->state = WS_FRAME_S_PAYLOAD;
	return n;
}

/* Payload state: hand out the next chunk of the current frame. */
static ssize_t
ws_frame_decode_payload(struct ws_frame_decoder *d, const uint8_t *in,
    size_t len, struct ws_frame_ev *ev)
{
	size_t n = len;

	if (len == 0)
		return 0;
	if ((uint64_t)n > d->payload_left)
		n = (size_t)d->payload_left;
	ev->type = WS_FRAME_EV_PAYLOAD;
	ws_frame_ev_fields(d, ev);
	ev->data = in;
	ev->len = n;
	ev->mask_off = d->mask_off;
	d->payload_left -= n;
	d->mask_off = (d->mask_off + (unsigned)(n & 3)) & 3;
	if (d->payload_left == 0) {
		ev->frame_end = true;
		d->state = WS_FRAME_S_HEADER;
	}
	return n;
}

/*
 * One event per call (see ws_frame.h). ev is cleared first; on PAYLOAD it
 * also carries the frame's fin, opcode and payload_len.
 */
ssize_t
ws_frame_decode(struct ws_frame_decoder *d, const uint8_t *in, size_t len,
    struct ws_frame_ev *ev)
{
	int err;

	memset(ev, 0, sizeof(*ev));
	switch (d->state) {
	case WS_FRAME_S_HEADER:
		return ws_frame_decode_header(d, in, len, ev);
	case WS_FRAME_S_PAYLOAD:
		return ws_frame_decode_payload(d, in, len, ev);
	default:
		/*
		 * Failed. The header bytes up to the one that failed are
		 * still in hdr[], so replaying its check gives the same
		 * error. Only TOO_BIG (the one 1009) and UNMASKED depend
		 * on the policy; pin those down in case it was changed.
		 */
		if (d->close_code == WS_FRAME_CLOSE_TOO_BIG)
			return WS_FRAME_ERR_TOO_BIG;
		err = d->hdr_len > 0 ? ws_frame_check(d, d->hdr_len) :
		    WS_FRAME_OK;
		if (err == WS_FRAME_OK || err == WS_FRAME_ERR_TOO_BIG)
			err = WS_FRAME_ERR_UNMASKED;
		return ws_frame_fail(d, err);
	}
}

/* Two 64-bit lanes (GCC/clang vector extension): one 128-bit register. */
typedef uint64_t ws_frame_v16 __attribute__((vector_size(16)));

/*
 * §5.3: octet i of the payload is XORed with mask[(off + i) % 4]. dst and
 * src are the same, or dst lies before src (each block is loaded before
 * the store that could reach it), or they do not overlap; neither need be
 * aligned.
 */
unsigned
ws_frame_unmask(const uint8_t mask[4], unsigned off, uint8_t *dst,
    const uint8_t *src, size_t len)
{
	uint8_t m12[12];
	uint64_t m, w;
	size_t i = 0;
	unsigned k = off & 3;

	/* Head: bytes until dst is 8-byte aligned (or len is done). */
	while (i < len && ((uintptr_t)(dst + i) & 7) != 0) {
		dst[i] = src[i] ^ mask[k];
		k = (k + 1) & 3;
		i++;
	}
	if (len - i >= 8) {
		/* The mask rotated to index k, repeated over a word: bytes
		 * k..k+7 of it three times, right on either byte order. A word is a
		 * multiple of 4 bytes, so k is the same after each one. */
		memcpy(m12, mask, 4);
		memcpy(m12 + 4, mask, 4);
		memcpy(m12 + 8, mask, 4);
		memcpy(&m, m12 + k, sizeof(m));
		if (len - i >= 64) {
			/* 64 bytes a turn as four 16-byte vectors (SSE2 on
			 * x86-64, NEON on arm64; GCC and clang split them on
			 * targets without): a quarter of the instructions of
			 * word-wise XOR, which a wss stream up pays per byte
			 * beside the AEAD. */
			ws_frame_v16 mv = { m, m }, a, b, c, e;

			for (; len - i >= 64; i += 64) {
				memcpy(&a, src + i, 16);
				memcpy(&b, src + i + 16, 16);
				memcpy(&c, src + i + 32, 16);
				memcpy(&e, src + i + 48, 16);
				a ^= mv;
				b ^= mv;
				c ^= mv;
				e ^= mv;
				memcpy(dst + i, &a, 16);
				memcpy(dst + i + 16, &b, 16);
				memcpy(dst + i + 32, &c, 16);
				memcpy(dst + i + 48, &e, 16);
			}
		}
		for (; len - i >= 16; i += 16) {
			memcpy(&w, src + i, 8);
			w ^= m;
			memcpy(dst + i, &w, 8);
			memcpy(&w, src + i + 8, 8);
			w ^= m;
			memcpy(dst + i + 8, &w, 8);
		}
		if (len - i >= 8) {
			memcpy(&w, src + i, 8);
			w ^= m;
			memcpy(dst + i, &w, 8);
			i += 8;
		}
	}
	/* Tail. */
	for (; i < len; i++) {
		dst[i] = src[i] ^ mask[k];
		k = (k + 1) & 3;
	}
	return (off + (unsigned)(len & 3)) & 3;
}

size_t
ws_frame_header_len(uint64_t len)
{
	return len < WS_FRAME_LEN16 ? 2 : len <= 0xffff ? 4 : 10;
}

/*
 * len must be below 2^63 (§5.2); the caller's own limits keep it far below.
 * op is written as given: sending a reserved opcode is the caller's bug.
 */
size_t
ws_frame_header_encode(uint8_t out[14], bool fin, enum ws_opcode op,
    uint64_t len, const uint8_t *mask)
{
	size_t n;
	int i;

	out[0] = (fin ? WS_FRAME_FIN : 0) | ((uint8_t)op & WS_FRAME_OPCODE);
	/* §5.2: the minimal length encoding. */
	if (len < WS_FRAME_LEN16) {
		out[1] = (uint8_t)len;
		n = 2;
	} else if (len <= 0xffff) {
		out[1] = WS_FRAME_LEN16;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		n = 4;
	} else {
		out[1] = WS_FRAME_LEN64;
		for (i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask != NULL) {
		out[1] |= WS_FRAME_MASK;
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

/*
 * §7.4.1 defines 1000-1015; 1004 is reserved, and 1005, 1006 and 1015 MUST
 * NOT be sent in a close frame. §7.4.2: 0-999 are unused, 1016-2999 are
 * for future protocol revisions, 3000-4999 for libraries and applications.
 */
static bool
ws_frame_close_code_ok(unsigned code)
{
	if (code >= 1000 && code <= 1003)
		return true;
	if (code >= 1007 && code <= 1014)
		return true;
	return code >= 3000 && code <= 4999;
}

int
ws_frame_close_parse(const uint8_t *p, size_t len, uint16_t *code,
    const uint8_t **reason, size_t *reason_len)
{
	unsigned c;

	/* §5.5.1: the body is optional; with none there is no status,
	 * which §7.1.5 reports as 1005. */
	if (len == 0) {
		*code = WS_FRAME_CLOSE_NO_STATUS;
		*reason = NULL;
		*reason_len = 0;
		return 0;
	}
	/* §5.5.1: if there is a body, its first two bytes are the code. */
	if (len < 2)
		return WS_FRAME_CLOSE_PROTOCOL;
	c = (unsigned)p[0] << 8 | p[1];
	if (!ws_frame_close_code_ok(c))
		return WS_FRAME_CLOSE_PROTOCOL;
	/* §5.5.1: the reason is UTF-8; §8.1: invalid data is a 1007. */
	if (!ws_utf8_valid(p + 2, len - 2))
		return WS_FRAME_CLOSE_UTF8;
	*code = (uint16_t)c;
	*reason = p + 2;
	*reason_len = len - 2;
	return 0;
}

const char *
ws_frame_strerror(int err)
{
	switch (err) {
	case WS_FRAME_OK:
		return "no error";
	case WS_FRAME_ERR_RSV:
		return "reserved bit set";
	case WS_FRAME_ERR_OPCODE:
		return "reserved opcode";
	case WS_FRAME_ERR_CTRL_FRAGMENTED:
		return "fragmented control frame";
	case WS_FRAME_ERR_CTRL_TOO_LONG:
		return "control frame payload over 125 bytes";
	case WS_FRAME_ERR_NON_MINIMAL:
		return "payload length not minimally encoded";
	case WS_FRAME_ERR_LENGTH_MSB:
		return "64-bit payload length with top bit set";
	case WS_FRAME_ERR_UNMASKED:
		return "unmasked client frame";
	case WS_FRAME_ERR_TOO_BIG:
		return "frame payload over the size limit";
	default:
		return "unknown frame error";
	}
}
