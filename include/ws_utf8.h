/*
 * ws_utf8: incremental UTF-8 validator for WebSocket text messages and close
 * reasons (RFC 6455 §5.6, §8.1; RFC 3629 for what is valid).
 *
 * Pure: no allocation, no I/O. A zero-initialised struct ws_utf8 is the
 * valid start state, so it can be embedded and reset with memset.
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ws_utf8 {
	uint32_t state;		/* DFA state; 0 = at a character boundary */
};

/* Start a new message. */
void	ws_utf8_reset(struct ws_utf8 *u);

/*
 * Feed the next len bytes of a message. A code point may be split across
 * calls at any byte. Returns 0 while the bytes seen so far can still be
 * (a prefix of) valid UTF-8, -1 as soon as they cannot (overlong forms,
 * surrogates, code points above U+10FFFF, bad continuation bytes).
 * After -1 the state stays invalid until ws_utf8_reset().
 */
int	ws_utf8_feed(struct ws_utf8 *u, const uint8_t *p, size_t len);

/* True when the bytes fed so far end on a character boundary (a text
 * message may end only then). */
bool	ws_utf8_complete(const struct ws_utf8 *u);

/* One-shot check of a whole buffer: true if it is complete, valid UTF-8. */
bool	ws_utf8_valid(const uint8_t *p, size_t len);

#endif
