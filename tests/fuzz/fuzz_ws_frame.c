/* ws_frame: data[0] policy, data[1] chunk size seed (0: whole), then frames;
 * text payload goes through ws_utf8 as it streams, close payloads through
 * ws_frame_close_parse, as the session does. */
#include <stdlib.h>
#include <string.h>
#include "ws_frame.h"
#include "ws_utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[8192], ctrl[125];
	struct ws_frame_decoder d;
	struct ws_utf8 u = { 0 };
	size_t clen = 0, rlen;
	const uint8_t *reason;
	uint16_t code;
	struct ws_frame_ev ev;
	const uint8_t *p, *end, *stop = data + size;
	size_t chunk, seed;
	ssize_t n;

	if (size < 2 || size > sizeof(out))
		return 0;	/* bit 0: require_mask; 1-7: max_payload/64 */
	ws_frame_decoder_init(&d, (uint64_t)(data[0] >> 1) * 64, data[0] & 1);
	for (seed = data[1], p = end = data + 2; p < stop; p += n) {
		if (p == end) {		/* next chunk */
			seed = seed * 1103515245u + 12345u;
			chunk = data[1] ? 1 + (seed >> 16) % (2u * data[1]) :
			    size;
			end = chunk < (size_t)(stop - p) ? p + chunk : stop;
		}
		if ((n = ws_frame_decode(&d, p, (size_t)(end - p), &ev)) < 0) {
			if (ws_frame_decode(&d, p, 0, &ev) != n)
				abort();	/* errors are sticky */
			return 0;
		}
		if (n == 0 || n > end - p || (ev.type == WS_FRAME_EV_HEADER &&
		    n > 14) || (ev.type == WS_FRAME_EV_NONE && n != end - p))
			abort();	/* progress, never past the input */
		if (ev.type == WS_FRAME_EV_PAYLOAD && (ev.data != p ||
		    ev.len != (size_t)n || ev.frame_end != !d.payload_left ||
		    ev.mask_off != (ev.payload_len - d.payload_left - n) % 4 ||
		    ws_frame_unmask(d.mask, ev.mask_off, out, p, n) != d.mask_off))
			abort();	/* within the input; offsets agree */
		if (ev.type == WS_FRAME_EV_PAYLOAD && d.opcode == WS_OP_TEXT)
			ws_utf8_feed(&u, out, (size_t)n);
		if (ev.type == WS_FRAME_EV_PAYLOAD && d.opcode == WS_OP_CLOSE) {
			memcpy(ctrl + clen, out, (size_t)n);	/* <= 125 */
			clen += (size_t)n;
		}
		if (ev.frame_end && d.opcode == WS_OP_CLOSE &&
		    ws_frame_close_parse(ctrl, clen, &code, &reason, &rlen) == 0 &&
		    (rlen > clen || (clen >= 2 && reason != ctrl + 2)))
			abort();	/* the reason lies inside the payload */
		if (ev.frame_end && d.opcode == WS_OP_CLOSE)
			clen = 0;
		if (ev.frame_end && d.fin && d.opcode == WS_OP_TEXT &&
		    ws_utf8_complete(&u))
			ws_utf8_reset(&u);
	}
	return 0;
}
