/* ws_frame: data[0] policy, data[1] chunk size seed (0: whole), then frames */
#include <stdlib.h>
#include "ws_frame.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[8192];
	struct ws_frame_decoder d;
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
	}
	return 0;
}
