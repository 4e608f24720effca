/* zstream: inflate the input as a client's message under a limit taken
 * from data[0], in two pieces; the sink must never see more than the
 * limit, and an error must leave no state. Then deflate the input and
 * inflate it back: the same bytes. */
#include <stdlib.h>
#include <string.h>
#include "zstream.h"

struct fz_out { uint8_t *p; size_t len, cap; };

static int
fz_sink(void *arg, const uint8_t *p, size_t n)
{
	struct fz_out *o = arg;

	if (o->len + n > o->cap) {
		o->cap = (o->len + n) * 2;
		if ((o->p = realloc(o->p, o->cap)) == NULL)
			abort();
	}
	memcpy(o->p + o->len, p, n);
	o->len += n;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zstream zs;
	struct fz_out a = { 0 }, b = { 0 };
	uint64_t max;
	size_t cut;
	int r;

	if (size < 1)
		return 0;
	max = (uint64_t)data[0] * 64;
	cut = (size - 1) / 2;
	zstream_init(&zs, true, 15, -1, true);
	r = zstream_inflate(&zs, data + 1, cut, false, max, fz_sink, &a);
	if (r == 0)
		r = zstream_inflate(&zs, data + 1 + cut, size - 1 - cut, true,
		    max, fz_sink, &a);
	if ((max > 0 && a.len > max) || zstream_busy(&zs) || zs.held != 0)
		abort();
	zstream_init(&zs, false, 9 + data[0] % 7, data[0] % 10, true);
	if (zstream_deflate(&zs, data, size, true, fz_sink, &b) != 0)
		abort();
	a.len = 0;
	zstream_init(&zs, true, 15, -1, true);
	if (zstream_inflate(&zs, b.p, b.len, true, 0, fz_sink, &a) != 0 ||
	    a.len != size || memcmp(a.p, data, size) != 0)
		abort();
	free(a.p);
	free(b.p);
	return 0;
}
