/*
 * zstream: the zlib side of permessage-deflate (RFC 7692 §7.2): compress
 * one message at a time for the client, inflate the client's messages
 * under a hard limit on the inflated size.
 *
 * No libevent, no I/O: output goes to a caller's sink function. zlib state
 * is allocated on the first byte of a message and, with no context
 * takeover, released when the message ends, so an idle session holds only
 * the small struct zstream (a zero-initialised one is idle and valid).
 */
#ifndef ZSTREAM_H
#define ZSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct z_stream_s;

/* Results of zstream_deflate() and zstream_inflate(). */
enum zstream_err {
	ZSTREAM_OK = 0,
	ZSTREAM_PAUSED = 1,		/* inflate: the sink asked to stop */
	ZSTREAM_ERR_TOO_BIG = -1,	/* inflated past the limit: 1009 */
	ZSTREAM_ERR_DATA = -2,		/* not a valid deflate stream: 1007 */
	ZSTREAM_ERR_NOMEM = -3,		/* zlib could not allocate: 1011 */
	ZSTREAM_ERR_SINK = -4,		/* the sink refused: its own error */
};

/*
 * Where output goes: n > 0 bytes at p, valid during the call only.
 * Returns 0; 1 when it took the bytes but wants no more for now (inflate
 * only: the call returns ZSTREAM_PAUSED); or -1 to stop (the call then
 * returns ZSTREAM_ERR_SINK).
 */
typedef int zstream_sink_fn(void *arg, const uint8_t *p, size_t n);

struct zstream {
	struct z_stream_s *z;		/* NULL: no zlib state held */
	uint8_t		 window_bits;	/* deflate: 9..15 (inflate: 15) */
	int8_t		 level;		/* deflate: zlib level, -1..9 */
	bool		 inflate;
	bool		 no_context_takeover; /* release after each message */
	uint8_t		 hold[4];	/* deflate: last output bytes, held
					   back to drop the sync tail */
	uint8_t		 nhold;
	uint64_t	 msg_in;	/* this message's bytes taken */
	uint64_t	 msg_out;	/* ... and produced */
	size_t		 held;		/* heap bytes zlib holds for zs */
	/* inflate after ZSTREAM_PAUSED */
	size_t		 unused;	/* bytes of the last input not taken */
	bool		 out_pending;	/* zlib had more output ready */
	uint8_t		 tail_left;	/* bytes of the tail still to feed */
};

/*
 * Set up zs (no allocation; zs must not move while it is busy: zlib's
 * allocator is handed its address): a compressor with the given window (9..15,
 * RFC 7692 server_max_window_bits) and zlib level, or an inflater
 * (window_bits ignored: 15 reads every smaller window). no_context_takeover:
 * the zlib state is freed at every message end, else kept for the next.
 */
void	zstream_init(struct zstream *zs, bool inflate, unsigned window_bits,
	    int level, bool no_context_takeover);

/*
 * Compress the next len bytes of a message; end: it is the message's last
 * piece (len may be 0), and the output is then flushed (Z_SYNC_FLUSH) with
 * the 00 00 ff ff tail removed (§7.2.1); an empty message gives the one
 * byte 00. Output reaches sink in pieces as zlib produces it; up to four
 * bytes are held back until the next call. Returns ZSTREAM_OK, _NOMEM or
 * _SINK; after an error the message is lost and zs is idle again.
 */
int	zstream_deflate(struct zstream *zs, const uint8_t *in, size_t len,
	    bool end, zstream_sink_fn *sink, void *arg);

/*
 * Inflate the next len bytes of a compressed message; end: the last piece
 * (the 00 00 ff ff tail is added here, §7.2.2). max: the most bytes the
 * whole message may inflate to (0 = no limit); zlib is never asked for
 * more than max + 1 bytes of it, so a bomb stops at the limit. Returns
 * ZSTREAM_OK, _TOO_BIG, _DATA, _NOMEM or _SINK; after an error zs is idle
 * (state freed) and the rest of the message must not be fed. Returns
 * ZSTREAM_PAUSED when the sink returned 1: zstream_unused() bytes at the
 * end of in were not taken; call again with them (and the same end), or
 * with len 0 when none were left but zstream_paused() is true, before
 * anything else of the message.
 */
int	zstream_inflate(struct zstream *zs, const uint8_t *in, size_t len,
	    bool end, uint64_t max, zstream_sink_fn *sink, void *arg);

/* After ZSTREAM_PAUSED: bytes of the last input not taken; whether zlib
 * still has output or the tail to give (call again even with no input). */
size_t	zstream_unused(const struct zstream *zs);
bool	zstream_paused(const struct zstream *zs);

/* Free any zlib state zs holds (it stays usable, idle). */
void	zstream_release(struct zstream *zs);

/* True while zs holds zlib state (a message under way, or a context
 * kept). */
bool	zstream_busy(const struct zstream *zs);

/* Human name of an error result, for logs and close reasons. */
const char *zstream_strerror(int err);

#endif
