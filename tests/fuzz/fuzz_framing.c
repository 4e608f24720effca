/* framing: data[0] picks the mode, policy and line_max, data[1] the read
 * size. Invariants: every text message is whole UTF-8; line messages are
 * at most line_max and the same as when fed in one read; messages plus
 * dropped newlines account for every byte; an error is sticky. */
#include <stdlib.h>
#include <string.h>
#include "framing.h"

static size_t
fz_run(const uint8_t *p, size_t n, size_t step, uint8_t pol, uint8_t *sig)
{
	struct framing f;
	struct framing_ev ev;
	size_t held = 0, start = 0, used, off, k, nsig = 0, lm = 4 + pol % 29;

	framing_init(&f, (pol & 0x40) ? FRAMING_TEXT : FRAMING_LINE, lm,
	    pol & 0x20, pol & 0x80);
	for (off = 0; off <= n; off += k) {
		k = n - off < step ? n - off : step;
		held += k;
		for (used = 0; ; ) {
			if (off == n)
				framing_end(&f, &ev);
			else if (used < k)
				used += framing_feed(&f, p + off + used,
				    k - used, &ev);
			else
				framing_flush(&f, &ev);
			if (ev.type == FRAMING_EV_ERROR)
				return nsig;
			if (ev.type == FRAMING_EV_NONE && (used == k ||
			    off == n))
				break;
			if (ev.type == FRAMING_EV_NONE)
				continue;
			if (ev.len + ev.drop > held)
				abort();
			if ((!ev.binary && !ws_utf8_valid(p + start, ev.len)) ||
			    (!(pol & 0x40) && ev.len > lm))
				abort();
			sig[nsig++] = (uint8_t)ev.len;
			start += ev.len + ev.drop;
			held -= ev.len + ev.drop;
		}
		if (off == n)
			break;
	}
	if (held != 0)
		abort();
	return nsig;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t a[70000], b[70000];
	size_t na, nb;

	if (size < 2 || size > 65536)
		return 0;
	na = fz_run(data + 2, size - 2, size, data[0], a);
	nb = fz_run(data + 2, size - 2, 1 + data[1] % 16, data[0], b);
	if (!(data[0] & 0x40) && (na != nb || memcmp(a, b, na) != 0))
		abort();
	return 0;
}
