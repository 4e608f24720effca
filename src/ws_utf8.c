/*
 * ws_utf8: incremental UTF-8 validator (RFC 3629 §4) for RFC 6455 text
 * messages (§5.6, §8.1) and close reasons (§5.5.1).
 *
 * A DFA over byte classes. The classes and the transitions below are read
 * straight off the RFC 3629 §4 syntax:
 *
 *   UTF8-1    = %x00-7F
 *   UTF8-2    = %xC2-DF UTF8-tail
 *   UTF8-3    = %xE0 %xA0-BF UTF8-tail / %xE1-EC 2( UTF8-tail ) /
 *               %xED %x80-9F UTF8-tail / %xEE-EF 2( UTF8-tail )
 *   UTF8-4    = %xF0 %x90-BF 2( UTF8-tail ) / %xF1-F3 3( UTF8-tail ) /
 *               %xF4 %x80-8F 2( UTF8-tail )
 *   UTF8-tail = %x80-BF
 *
 * so overlong forms (C0, C1, E0 80-9F, F0 80-8F), surrogates (ED A0-BF)
 * and code points above U+10FFFF (F4 90-BF, F5-FF) have no path to the
 * accept state. Pure ASCII, the common case on a text relay, goes through
 * a fast path that tests eight bytes at a time while at a boundary.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ws_utf8.h"

/* Byte classes: the byte ranges the grammar above tells apart. */
enum ws_utf8_class {
	WS_UTF8_C_ASCII = 0,	/* 00-7F */
	WS_UTF8_C_T8,		/* 80-8F tail */
	WS_UTF8_C_T9,		/* 90-9F tail */
	WS_UTF8_C_TA,		/* A0-BF tail */
	WS_UTF8_C_BAD,		/* C0-C1, F5-FF: never valid */
	WS_UTF8_C_L2,		/* C2-DF: lead of 2 */
	WS_UTF8_C_E0,		/* E0: lead of 3, next A0-BF */
	WS_UTF8_C_L3,		/* E1-EC, EE-EF: lead of 3 */
	WS_UTF8_C_ED,		/* ED: lead of 3, next 80-9F */
	WS_UTF8_C_F0,		/* F0: lead of 4, next 90-BF */
	WS_UTF8_C_L4,		/* F1-F3: lead of 4 */
	WS_UTF8_C_F4,		/* F4: lead of 4, next 80-8F */
	WS_UTF8_NCLASS
};

/*
 * States. ACCEPT must be 0: a zeroed struct ws_utf8 is the start state.
 * REJECT is absorbing.
 */
enum ws_utf8_state {
	WS_UTF8_S_ACCEPT = 0,	/* at a character boundary */
	WS_UTF8_S_REJECT,	/* not UTF-8, whatever follows */
	WS_UTF8_S_TAIL1,	/* need 1 more tail byte 80-BF */
	WS_UTF8_S_TAIL2,	/* need 2 more tail bytes */
	WS_UTF8_S_TAIL3,	/* need 3 more tail bytes */
	WS_UTF8_S_E0,		/* after E0: need A0-BF, then 1 tail */
	WS_UTF8_S_ED,		/* after ED: need 80-9F, then 1 tail */
	WS_UTF8_S_F0,		/* after F0: need 90-BF, then 2 tails */
	WS_UTF8_S_F4,		/* after F4: need 80-8F, then 2 tails */
	WS_UTF8_NSTATE
};

#define A	WS_UTF8_C_ASCII
#define T8	WS_UTF8_C_T8
#define T9	WS_UTF8_C_T9
#define TA	WS_UTF8_C_TA
#define XX	WS_UTF8_C_BAD
#define L2	WS_UTF8_C_L2
#define E0	WS_UTF8_C_E0
#define L3	WS_UTF8_C_L3
#define ED	WS_UTF8_C_ED
#define F0	WS_UTF8_C_F0
#define L4	WS_UTF8_C_L4
#define F4	WS_UTF8_C_F4

static const uint8_t ws_utf8_class[256] = {
	/* 00-7F */
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	A, A, A, A, A, A, A, A, A, A, A, A, A, A, A, A,
	/* 80-8F */
	T8, T8, T8, T8, T8, T8, T8, T8, T8, T8, T8, T8, T8, T8, T8, T8,
	/* 90-9F */
	T9, T9, T9, T9, T9, T9, T9, T9, T9, T9, T9, T9, T9, T9, T9, T9,
	/* A0-BF */
	TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA,
	TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA, TA,
	/* C0-C1 overlong leads, C2-DF */
	XX, XX, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2,
	L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2, L2,
	/* E0, E1-EC, ED, EE-EF */
	E0, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, L3, ED, L3, L3,
	/* F0, F1-F3, F4, F5-FF */
	F0, L4, L4, L4, F4, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
};

#undef A
#undef T8
#undef T9
#undef TA
#undef XX
#undef L2
#undef E0
#undef L3
#undef ED
#undef F0
#undef L4
#undef F4

#define OK	WS_UTF8_S_ACCEPT
#define RJ	WS_UTF8_S_REJECT
#define T1	WS_UTF8_S_TAIL1
#define T2	WS_UTF8_S_TAIL2
#define T3	WS_UTF8_S_TAIL3
#define SE0	WS_UTF8_S_E0
#define SED	WS_UTF8_S_ED
#define SF0	WS_UTF8_S_F0
#define SF4	WS_UTF8_S_F4

/* ws_utf8_next[state][class]: the state after one byte. */
static const uint8_t ws_utf8_next[WS_UTF8_NSTATE][WS_UTF8_NCLASS] = {
	/*		A   T8  T9  TA  XX  L2  E0  L3  ED  F0  L4  F4 */
	[WS_UTF8_S_ACCEPT] = {
			OK, RJ, RJ, RJ, RJ, T1, SE0, T2, SED, SF0, T3, SF4 },
	[WS_UTF8_S_REJECT] = {
			RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	[WS_UTF8_S_TAIL1] = {
			RJ, OK, OK, OK, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	[WS_UTF8_S_TAIL2] = {
			RJ, T1, T1, T1, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	[WS_UTF8_S_TAIL3] = {
			RJ, T2, T2, T2, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	/* E0 80-9F would be an overlong 3-byte form */
	[WS_UTF8_S_E0] = {
			RJ, RJ, RJ, T1, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	/* ED A0-BF would be a UTF-16 surrogate, D800-DFFF */
	[WS_UTF8_S_ED] = {
			RJ, T1, T1, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	/* F0 80-8F would be an overlong 4-byte form */
	[WS_UTF8_S_F0] = {
			RJ, RJ, T2, T2, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
	/* F4 90-BF would be above U+10FFFF */
	[WS_UTF8_S_F4] = {
			RJ, T2, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ, RJ },
};

#undef OK
#undef RJ
#undef T1
#undef T2
#undef T3
#undef SE0
#undef SED
#undef SF0
#undef SF4

#define WS_UTF8_HIGH_BITS	UINT64_C(0x8080808080808080)

void
ws_utf8_reset(struct ws_utf8 *u)
{
	u->state = WS_UTF8_S_ACCEPT;
}

/*
 * Skip the ASCII prefix of p[i..len), eight bytes at a time, then byte by
 * byte. Only valid at a boundary. Returns the index of the first non-ASCII
 * byte, or len. The 8-byte loads go through memcpy: p has no alignment.
 */
static size_t
ws_utf8_skip_ascii(const uint8_t *p, size_t i, size_t len)
{
	uint64_t w;

	while (len - i >= 8) {
		memcpy(&w, p + i, sizeof(w));
		if (w & WS_UTF8_HIGH_BITS)
			break;
		i += 8;
	}
	while (i < len && p[i] < 0x80)
		i++;
	return i;
}

/*
 * Feed len more bytes. Returns 0 while p[] still reads as (a prefix of)
 * valid UTF-8, -1 as soon as it cannot; -1 is sticky until reset.
 */
int
ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t len)
{
	uint32_t s = u->state;
	size_t i = 0;

	if (s >= WS_UTF8_NSTATE)	/* corrupt: treat as rejected */
		s = WS_UTF8_S_REJECT;
	if (s == WS_UTF8_S_REJECT) {
		u->state = s;
		return -1;
	}
	while (i < len) {
		if (s == WS_UTF8_S_ACCEPT) {
			i = ws_utf8_skip_ascii(p, i, len);
			if (i == len)
				break;
		}
		s = ws_utf8_next[s][ws_utf8_class[p[i++]]];
		if (s == WS_UTF8_S_REJECT) {
			u->state = s;
			return -1;
		}
	}
	u->state = s;
	return 0;
}

bool
ws_utf8_complete(const struct ws_utf8 *u)
{
	return u->state == WS_UTF8_S_ACCEPT;
}

bool
ws_utf8_valid(const uint8_t *p, size_t len)
{
	struct ws_utf8 u = { 0 };

	return ws_utf8_feed(&u, p, len) == 0 && ws_utf8_complete(&u);
}
