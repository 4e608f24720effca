/*
 * framing: how backend bytes become WebSocket messages on a route
 * (framing = stream | line | text), as a scanner over bytes that arrive in
 * pieces of any size.
 *
 *   stream  every read becomes one binary message (the session's copy-free
 *           path; this module is not involved);
 *   line    every line becomes one text message, the "\n" (or "\r\n")
 *           stripped; a line over line_max is cut into messages of at
 *           most line_max bytes (split) or ends the session with 1009
 *           (close); a line that is not UTF-8 goes as a binary message
 *           (binary) or ends the session with 1007 (close);
 *   text    every read becomes one text message, cut only at code point
 *           boundaries (an incomplete character waits for the next read);
 *           bytes that are not UTF-8 go as binary or close with 1007.
 *
 * Pure: no allocation, no I/O. The scanner never holds payload: the caller
 * keeps every byte it fed in its own buffer (an evbuffer) and, on each
 * MESSAGE event, takes the message from the front of what it holds.
 */
#ifndef FRAMING_H
#define FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws_utf8.h"

enum framing_mode {
	FRAMING_STREAM = 0,
	FRAMING_LINE,
	FRAMING_TEXT,
};

enum framing_ev_type {
	FRAMING_EV_NONE = 0,	/* input used up, no message complete */
	FRAMING_EV_MESSAGE,	/* a message is complete */
	FRAMING_EV_ERROR,	/* end the session with ev.close_code */
};

struct framing_ev {
	enum framing_ev_type type;
	/* MESSAGE: the payload is the first len bytes the caller holds;
	 * the drop bytes after it (a stripped newline) are discarded. */
	size_t		 len;
	size_t		 drop;
	bool		 binary;	/* not UTF-8: send as binary */
	uint16_t	 close_code;	/* ERROR: 1009 or 1007 */
};

/*
 * Scanner state. framing_init() sets the policy; the rest starts at zero.
 * Invariant: cur counts the bytes fed and not yet taken by a MESSAGE;
 * tail <= cur are the bytes of an incomplete code point at its end.
 */
struct framing {
	/* policy */
	uint8_t		 mode;		/* enum framing_mode */
	bool		 overflow_close; /* line_overflow = close */
	bool		 invalid_close;	/* line_invalid = close */
	size_t		 line_max;	/* line: longest message, >= 4 */
	/* state */
	struct ws_utf8	 utf8;		/* over the pending bytes */
	size_t		 cur;
	size_t		 tail;
	bool		 invalid;	/* pending bytes are not UTF-8 */
	bool		 cr;		/* last pending byte is '\r' */
	bool		 failed;	/* an ERROR was reported */
	uint16_t	 fail_code;
};

/* Reset f with a policy; line_max below 4 is taken as 4. */
void	framing_init(struct framing *f, enum framing_mode mode, size_t line_max,
	    bool overflow_close, bool invalid_close);

/*
 * Feed the next n bytes (the caller appends them to what it holds first).
 * Returns how many were consumed, 0..n, and sets *ev; at most one event
 * per call, so call again with the rest until all is consumed. A MESSAGE
 * in line mode is reported as soon as its newline or the line_max-th byte
 * is fed. After an ERROR every call reports it again.
 */
size_t	framing_feed(struct framing *f, const uint8_t *p, size_t n,
	    struct framing_ev *ev);

/*
 * A read ended (no more input for now). Text mode: a MESSAGE of every
 * complete character pending; line mode: NONE (a line waits for its
 * newline). Call until it reports NONE.
 */
void	framing_flush(struct framing *f, struct framing_ev *ev);

/*
 * The backend sent EOF: whatever is pending becomes a last message (a line
 * without its newline; in text mode an incomplete character makes it
 * binary, or an ERROR 1007 with invalid_close). Call until NONE.
 */
void	framing_end(struct framing *f, struct framing_ev *ev);

/*
 * Line mode, client to backend: true when a client message of len bytes
 * whose last byte is last needs a "\n" appended to be one line.
 */
bool	framing_needs_newline(const struct framing *f, size_t len,
	    uint8_t last);

/* "stream", "line", "text". */
const char *framing_mode_name(enum framing_mode mode);

#endif
