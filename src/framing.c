/*
 * framing: line and text framing of backend bytes (see framing.h).
 *
 * UTF-8 is checked with ws_utf8's DFA over the pending bytes as they
 * come. To cut a message at a code point boundary we only need to know how
 * many bytes at the end belong to a character not yet complete (tail):
 * the DFA says whether we are at a boundary, and if not, those bytes are a
 * lead byte and its continuation bytes (at most 3), possibly spread over
 * earlier pieces.
 */
#include <string.h>

#include "framing.h"

void
framing_init(struct framing *f, enum framing_mode mode, size_t line_max,
    bool overflow_close, bool invalid_close)
{
	memset(f, 0, sizeof(*f));
	f->mode = (uint8_t)mode;
	f->line_max = line_max < 4 ? 4 : line_max;
	f->overflow_close = overflow_close;
	f->invalid_close = invalid_close;
}

/* Start a new pending message with nothing in it. */
static void
framing_clear(struct framing *f)
{
	ws_utf8_reset(&f->utf8);
	f->cur = f->tail = 0;
	f->invalid = f->cr = false;
}

static void
framing_error(struct framing *f, uint16_t code, struct framing_ev *ev)
{
	f->failed = true;
	f->fail_code = code;
	ev->type = FRAMING_EV_ERROR;
	ev->close_code = code;
}

/*
 * Account for m bytes at s joining the pending message. Returns -1 when
 * they make it invalid UTF-8 and the policy is to close (the caller
 * reports the error), else 0.
 */
static int
framing_take(struct framing *f, const uint8_t *s, size_t m)
{
	size_t	j, k;

	if (m == 0)
		return 0;
	f->cur += m;
	f->cr = s[m - 1] == '\r';
	if (f->invalid)
		return 0;
	if (ws_utf8_feed(&f->utf8, s, m) == -1) {
		f->invalid = true;
		f->tail = 0;
		return f->invalid_close ? -1 : 0;
	}
	if (ws_utf8_complete(&f->utf8)) {
		f->tail = 0;
		return 0;
	}
	/* Inside a character: find its lead byte among the last bytes. */
	for (j = m, k = 0; j > 0 && k < 4; j--, k++)
		if ((s[j - 1] & 0xc0) != 0x80)
			break;
	if (j > 0 && k < 4)
		f->tail = m - (j - 1);
	else
		f->tail += m;	/* all continuation bytes: lead came before */
	return 0;
}

/*
 * Report a message of the first len pending bytes (then drop bytes that
 * were not fed as pending: a newline). What stays pending after it is
 * either nothing, or the incomplete character at the end (tail), whose
 * DFA state carries on into the next message.
 */
static void
framing_message(struct framing *f, size_t len, size_t drop, bool keep_tail,
    struct framing_ev *ev)
{
	ev->type = FRAMING_EV_MESSAGE;
	ev->len = len;
	ev->drop = drop;
	ev->binary = f->invalid || (!keep_tail && f->tail > 0);
	if (keep_tail) {
		f->cur = f->tail;
		f->cr = false;
	} else
		framing_clear(f);
}

/*
 * A line over line_max: cut it or fail. Pending are line_max bytes, or
 * line_max + 1 when the last is a '\r' that may have started a CRLF (it
 * was not fed to the DFA: it is content only if no '\n' follows). That
 * one joins the next message after the cut; if it makes that invalid and
 * the policy is to close, the error comes on the next call, after this
 * message, as it would have had the bytes come in another split.
 */
static void
framing_overflow(struct framing *f, struct framing_ev *ev)
{
	bool	extra_cr = f->cur > f->line_max;

	if (f->overflow_close) {
		framing_error(f, 1009, ev);
		return;
	}
	if (extra_cr)
		f->cur--;
	/* Cut at the last code point boundary when there is one before. */
	if (!f->invalid && f->tail > 0 && f->tail < f->cur)
		framing_message(f, f->cur - f->tail, 0, true, ev);
	else
		framing_message(f, f->cur, 0, false, ev);
	if (extra_cr && framing_take(f, (const uint8_t *)"\r", 1) == -1) {
		f->failed = true;
		f->fail_code = 1007;
	}
}

static size_t
framing_feed_line(struct framing *f, const uint8_t *p, size_t n,
    struct framing_ev *ev)
{
	const uint8_t	*nl = memchr(p, '\n', n);
	size_t		 q = nl != NULL ? (size_t)(nl - p) : n;
	size_t		 room, content;
	bool		 cr;

	if (nl != NULL) {
		cr = q > 0 ? p[q - 1] == '\r' : f->cr;
		content = f->cur + q - (cr ? 1 : 0);
		if (content <= f->line_max) {
			if (framing_take(f, p, q) == -1) {
				framing_error(f, 1007, ev);
				return q;
			}
			/* A character cut by the newline is invalid. */
			if (f->tail > 0)
				f->invalid = true;
			if (f->invalid && f->invalid_close) {
				framing_error(f, 1007, ev);
				return q;
			}
			framing_message(f, content, 0, false, ev);
			ev->drop = (cr ? 1u : 0u) + 1;
			return q + 1;
		}
	} else if (f->cur + n <= f->line_max ||
	    (f->cur + n == f->line_max + 1 && p[n - 1] == '\r')) {
		/* No newline yet and within the limit (a last '\r' past
		 * it may be half of a CRLF: held outside the DFA). */
		if (f->cur + n > f->line_max) {
			if (framing_take(f, p, n - 1) == -1)
				framing_error(f, 1007, ev);
			f->cur++;
			f->cr = true;
		} else if (framing_take(f, p, n) == -1)
			framing_error(f, 1007, ev);
		return n;
	}
	/* The line is longer than line_max: take up to it and cut. */
	room = f->cur < f->line_max ? f->line_max - f->cur : 0;
	if (room > 0 && framing_take(f, p, room) == -1) {
		framing_error(f, 1007, ev);
		return room;
	}
	framing_overflow(f, ev);
	return room;
}

size_t
framing_feed(struct framing *f, const uint8_t *p, size_t n,
    struct framing_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (f->failed) {
		ev->type = FRAMING_EV_ERROR;
		ev->close_code = f->fail_code;
		return 0;
	}
	if (n == 0)
		return 0;
	if (f->mode == FRAMING_LINE)
		return framing_feed_line(f, p, n, ev);
	/* text (and stream, which keeps no state here) */
	if (framing_take(f, p, n) == -1)
		framing_error(f, 1007, ev);
	return n;
}

void
framing_flush(struct framing *f, struct framing_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (f->failed) {
		ev->type = FRAMING_EV_ERROR;
		ev->close_code = f->fail_code;
		return;
	}
	if (f->mode == FRAMING_LINE || f->cur == 0)
		return;
	if (f->invalid)
		framing_message(f, f->cur, 0, false, ev);
	else if (f->cur > f->tail)
		framing_message(f, f->cur - f->tail, 0, true, ev);
}

void
framing_end(struct framing *f, struct framing_ev *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (f->failed) {
		ev->type = FRAMING_EV_ERROR;
		ev->close_code = f->fail_code;
		return;
	}
	if (f->mode == FRAMING_TEXT && f->cur > f->tail) {
		framing_flush(f, ev);
		return;
	}
	if (f->cur == 0)
		return;
	/* A last '\r' past line_max never got its '\n'. */
	if (f->mode == FRAMING_LINE && f->cur > f->line_max) {
		framing_overflow(f, ev);
		return;
	}
	/* The last line without its newline, or an incomplete character
	 * the backend will never finish. */
	if (f->tail > 0)
		f->invalid = true;
	if (f->invalid && f->invalid_close) {
		framing_error(f, 1007, ev);
		return;
	}
	framing_message(f, f->cur, 0, false, ev);
}

bool
framing_needs_newline(const struct framing *f, size_t len, uint8_t last)
{
	return f->mode == FRAMING_LINE && (len == 0 || last != '\n');
}

const char *
framing_mode_name(enum framing_mode mode)
{
	switch (mode) {
	case FRAMING_STREAM:
		return "stream";
	case FRAMING_LINE:
		return "line";
	case FRAMING_TEXT:
		return "text";
	}
	return "?";
}
