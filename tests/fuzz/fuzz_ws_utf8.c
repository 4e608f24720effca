/* ws_utf8: data[0] picks two cut points. Fed in three pieces, and fed one
 * byte at a time (no 8-byte fast path), the verdict must match
 * ws_utf8_valid() on the whole; -1 must stay -1. */
#include <stdbool.h>
#include <stdlib.h>
#include "ws_utf8.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ws_utf8 u;
	size_t a, b, i;
	bool valid;
	int r1, r2, r3;

	if (size < 1)
		return 0;
	a = (data[0] & 0x0f) * (size - 1) / 15;
	b = a + (size - 1 - a) * (data[0] >> 4) / 15;
	data++;
	size--;
	valid = ws_utf8_valid(data, size);
	ws_utf8_reset(&u);
	r1 = ws_utf8_feed(&u, data, a);
	r2 = ws_utf8_feed(&u, data + a, b - a);
	r3 = ws_utf8_feed(&u, data + b, size - b);
	if ((r1 < 0 && r2 == 0) || (r2 < 0 && r3 == 0))
		abort();	/* -1 is sticky */
	if ((r3 == 0 && ws_utf8_complete(&u)) != valid ||
	    (r3 < 0 && ws_utf8_complete(&u)))
		abort();
	ws_utf8_reset(&u);
	for (i = 0, r1 = 0; i < size && r1 == 0; i++)
		r1 = ws_utf8_feed(&u, data + i, 1);
	if ((r1 == 0 && ws_utf8_complete(&u)) != valid)
		abort();
	return 0;
}
