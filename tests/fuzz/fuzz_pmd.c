/* pmd: data[0] picks a cut point; the rest is split into two header
 * values there. Whatever the input: the verdict is the same twice, an
 * accepted offer renders within PMD_RESPONSE_MAX with windows in range,
 * and our own response, read back as an offer, is accepted with the
 * same server window. */
#include <stdlib.h>
#include "pmd.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pmd_policy pol;
	struct pmd_params p, q;
	const char *v[2];
	size_t l[2], cut;
	char buf[PMD_RESPONSE_MAX];
	int n;

	if (size < 1)
		return 0;
	cut = data[0] * (size - 1) / 255;
	v[0] = (const char *)data + 1;
	l[0] = cut;
	v[1] = v[0] + cut;
	l[1] = size - 1 - cut;
	pmd_policy_default(&pol);
	pol.server_max_window_bits = 9 + data[0] % 7;
	if (pmd_negotiate(v, l, 2, &pol, &p) != pmd_negotiate(v, l, 2, &pol,
	    &q))
		abort();
	if (pmd_negotiate(v, l, 2, &pol, &p) != PMD_ACCEPTED)
		return 0;
	if (p.server_max_window_bits < 9 || p.server_max_window_bits > 15 ||
	    p.client_max_window_bits < 8 || p.client_max_window_bits > 15)
		abort();
	if ((n = pmd_render(&p, buf, sizeof(buf))) < 0)
		abort();
	v[0] = buf;
	l[0] = (size_t)n;
	if (pmd_negotiate(v, l, 1, &pol, &q) != PMD_ACCEPTED ||
	    q.server_max_window_bits != p.server_max_window_bits)
		abort();
	return 0;
}
