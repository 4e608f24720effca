/*
 * ws_frame: RFC 6455 §5 frame decoder and encoder.
 *
 * Pure: no allocation, no I/O, no clock, no libevent. The decoder is
 * push-style: feed it any number of bytes, it consumes what it can and
 * reports one event per call; it can stop and resume at any byte.
 *
 * Syntax is checked here (§5.2): RSV bits, reserved opcodes, control frames
 * with FIN and <= 125 bytes, minimal length encodings, the 64-bit length's
 * top bit, the mask bit when required, the per-frame size limit.
 * Message-level rules (fragmentation, UTF-8, close payloads) sit one layer
 * up, in the session, helped by ws_frame_close_parse() below.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Negative results of ws_frame_decode(); d->close_code says what to send. */
enum ws_frame_err {
	WS_FRAME_OK = 0,
	WS_FRAME_ERR_RSV = -1,		/* RSV bit not allowed: 1002 */
	WS_FRAME_ERR_OPCODE = -2,	/* reserved opcode: 1002 */
	WS_FRAME_ERR_CTRL_FRAGMENTED = -3, /* control frame without FIN: 1002 */
	WS_FRAME_ERR_CTRL_TOO_LONG = -4, /* control payload > 125: 1002 */
	WS_FRAME_ERR_NON_MINIMAL = -5,	/* length not minimally encoded: 1002 */
	WS_FRAME_ERR_LENGTH_MSB = -6,	/* 64-bit length with MSB set: 1002 */
	WS_FRAME_ERR_UNMASKED = -7,	/* mask required but absent: 1002 */
	WS_FRAME_ERR_TOO_BIG = -8,	/* payload over max_payload: 1009 */
};

enum ws_frame_ev_type {
	WS_FRAME_EV_NONE = 0,	/* nothing complete yet (input used up) */
	WS_FRAME_EV_HEADER,	/* a frame header was completed */
	WS_FRAME_EV_PAYLOAD,	/* a chunk of the current frame's payload */
};

/* What one ws_frame_decode() call reports. */
struct ws_frame_ev {
	enum ws_frame_ev_type type;
	/* HEADER: the frame's fields (also kept in the decoder) */
	bool		fin;
	bool		rsv1;		/* allow_rsv1: a compressed message */
	uint8_t		opcode;		/* enum ws_opcode value */
	uint64_t	payload_len;
	/*
	 * PAYLOAD: data points into the caller's input, still masked;
	 * mask_off is the mask index (0..3) of data[0], so
	 * ws_frame_unmask(d->mask, ev.mask_off, ...) unmasks it.
	 */
	const uint8_t	*data;
	size_t		 len;
	unsigned	 mask_off;
	/* true on the event that completes a frame: a HEADER whose
	 * payload_len is 0, or the PAYLOAD chunk holding the last byte. */
	bool		frame_end;
};

/*
 * Decoder state. Zero-initialised it is valid: no mask required, no size
 * limit. ws_frame_decoder_init() sets the policy.
 * Invariant: in the payload state, payload_left > 0.
 */
struct ws_frame_decoder {
	/* policy */
	uint64_t	max_payload;	/* per-frame limit, 0 = none */
	bool		require_mask;	/* server side: clients must mask */
	bool		allow_rsv1;	/* permessage-deflate negotiated:
					   RSV1 on a message's first frame */
	/* header accumulation */
	uint8_t		state;		/* 0 header, 1 payload, 2 failed */
	uint8_t		hdr[14];
	uint8_t		hdr_len;	/* bytes of hdr[] filled */
	/* current frame */
	bool		fin;
	bool		rsv1;
	bool		masked;
	uint8_t		opcode;
	uint8_t		mask[4];
	uint64_t	payload_len;
	uint64_t	payload_left;
	unsigned	mask_off;	/* (payload_len - payload_left) % 4 */
	/* on error: the close code to send (1002 or 1009) */
	uint16_t	close_code;
};

/* Reset d to the start state with the given policy. */
void	ws_frame_decoder_init(struct ws_frame_decoder *d, uint64_t max_payload,
	    bool require_mask);

/*
 * Decode from in[0..len). Returns the number of bytes consumed (0..len) and
 * fills *ev; or a negative enum ws_frame_err, with d->close_code set, after
 * which every further call returns the same error. At most one event per
 * call: a HEADER consumes only header bytes, a PAYLOAD only payload bytes
 * of the current frame. ev->type is NONE when the input was used up without
 * completing anything (all of it is then consumed into the header buffer).
 * The input is never written; PAYLOAD data points into it.
 */
ssize_t	ws_frame_decode(struct ws_frame_decoder *d, const uint8_t *in,
	    size_t len, struct ws_frame_ev *ev);

/*
 * XOR len bytes of src with mask, starting at mask index off (0..3), into
 * dst. dst may equal src (unmask in place) or lie before it in the same
 * buffer (a move toward the front); otherwise they do not overlap. Works
 * 64 bytes at a time (four 16-byte vectors), then a machine word at a
 * time, each block read before it is written.
 * Returns the mask index after the last byte: (off + len) % 4.
 */
unsigned ws_frame_unmask(const uint8_t mask[4], unsigned off, uint8_t *dst,
	    const uint8_t *src, size_t len);

/*
 * The length of the header ws_frame_header_encode() writes for a payload
 * of len bytes, unmasked (a mask adds 4): 2, 4 or 10 (§5.2's minimal
 * length encoding). For a caller that places the header before a payload
 * it already holds.
 */
size_t	ws_frame_header_len(uint64_t len);

/*
 * Write a frame header for a payload of len bytes into out (up to 14 bytes)
 * using the minimal length encoding. mask is NULL for server-to-client
 * frames, else the 4-byte key to put in the header (the payload is masked
 * by the caller). Returns the header length (2..14).
 */
size_t	ws_frame_header_encode(uint8_t out[14], bool fin, enum ws_opcode op,
	    uint64_t len, const uint8_t *mask);

/*
 * Check a complete, unmasked close frame payload (RFC 6455 §5.5.1, §7.4).
 * An empty payload is valid (*code = 1005, no status). Otherwise it must be
 * at least 2 bytes, the code must be one an endpoint may send (1000-1003,
 * 1007-1014, 3000-4999) and the reason valid UTF-8. Returns 0 and sets
 * *code, *reason (into p) and *reason_len; or the close code to answer
 * with: 1002 for a bad length or code, 1007 for a bad reason.
 */
int	ws_frame_close_parse(const uint8_t *p, size_t len, uint16_t *code,
	    const uint8_t **reason, size_t *reason_len);

/* Human name of an error result, for logs ("reserved opcode", ...). */
const char *ws_frame_strerror(int err);

#endif
