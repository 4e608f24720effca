/*
 * zstream: permessage-deflate compression and inflation over zlib
 * (RFC 7692 §7.2), raw deflate streams (negative windowBits).
 *
 * Memory: a zlib compressor with window w and memLevel 8 takes about
 * 2^(w+2) + 2^17 bytes (256 KiB at w = 15), an inflater about 2^15 + 7 KiB.
 * Both are allocated when a message begins and, with no context takeover
 * (the default we negotiate), freed when it ends; an idle struct zstream
 * is sizeof(struct zstream) bytes and nothing else.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "zstream.h"

#define ZSTREAM_CHUNK	16384	/* output bytes per zlib call */
#define ZSTREAM_MEMLEVEL 8

/* §7.2.1: what Z_SYNC_FLUSH ends with, removed on the wire. */
static const uint8_t zstream_tail[4] = { 0x00, 0x00, 0xff, 0xff };

void
zstream_init(struct zstream *zs, bool inflate, unsigned window_bits,
    int level, bool no_context_takeover)
{
	memset(zs, 0, sizeof(*zs));
	zs->inflate = inflate;
	if (window_bits < 9 || window_bits > 15)
		window_bits = 15;
	zs->window_bits = (uint8_t)(inflate ? 15 : window_bits);
	if (level < -1 || level > 9)
		level = Z_DEFAULT_COMPRESSION;
	zs->level = (int8_t)level;
	zs->no_context_takeover = no_context_takeover;
}

void
zstream_release(struct zstream *zs)
{
	if (zs->z != NULL) {
		if (zs->inflate)
			inflateEnd(zs->z);
		else
			deflateEnd(zs->z);
		free(zs->z);
		zs->z = NULL;
	}
	zs->nhold = 0;
	zs->msg_in = zs->msg_out = 0;
	zs->out_pending = false;
	zs->tail_left = 0;
	zs->unused = 0;
}

bool
zstream_busy(const struct zstream *zs)
{
	return zs->z != NULL;
}

/*
 * zlib's allocator, counting what zs holds (zs->held) so the figure can be
 * tested and reported. The size is kept in front of each block.
 */
static voidpf
zstream_zalloc(voidpf opaque, uInt items, uInt size)
{
	struct zstream	*zs = opaque;
	size_t		 n;
	max_align_t	*p;

	if (size != 0 && items > (SIZE_MAX - sizeof(*p)) / size)
		return Z_NULL;
	n = (size_t)items * size;
	if ((p = malloc(sizeof(*p) + n)) == NULL)
		return Z_NULL;
	memcpy(p, &n, sizeof(n));
	zs->held += n;
	return p + 1;
}

static void
zstream_zfree(voidpf opaque, voidpf addr)
{
	struct zstream	*zs = opaque;
	max_align_t	*p = addr;
	size_t		 n;

	if (p == NULL)
		return;
	memcpy(&n, p - 1, sizeof(n));
	zs->held -= n;
	free(p - 1);
}

/* Allocate the zlib state for a new message; 0 or ZSTREAM_ERR_NOMEM. */
static int
zstream_open(struct zstream *zs)
{
	int	r;

	if (zs->z != NULL)
		return 0;
	if ((zs->z = calloc(1, sizeof(*zs->z))) == NULL)
		return ZSTREAM_ERR_NOMEM;
	zs->z->zalloc = zstream_zalloc;
	zs->z->zfree = zstream_zfree;
	zs->z->opaque = zs;
	if (zs->inflate)
		r = inflateInit2(zs->z, -(int)zs->window_bits);
	else
		r = deflateInit2(zs->z, zs->level, Z_DEFLATED,
		    -(int)zs->window_bits, ZSTREAM_MEMLEVEL,
		    Z_DEFAULT_STRATEGY);
	if (r != Z_OK) {
		free(zs->z);
		zs->z = NULL;
		return ZSTREAM_ERR_NOMEM;
	}
	return 0;
}

/* A message ended: keep the context or free it. */
static void
zstream_message_done(struct zstream *zs)
{
	if (zs->no_context_takeover)
		zstream_release(zs);
	else {
		zs->nhold = 0;
		zs->msg_in = zs->msg_out = 0;
	}
}

/*
 * Pass n fresh output bytes on, always keeping the last four of all
 * output so far in zs->hold. 0 or -1 (sink refused).
 */
static int
zstream_emit(struct zstream *zs, const uint8_t *p, size_t n,
    zstream_sink_fn *sink, void *arg)
{
	size_t	total = zs->nhold + n, give;

	if (total <= 4) {
		memcpy(zs->hold + zs->nhold, p, n);
		zs->nhold = (uint8_t)total;
		return 0;
	}
	/* Of the held bytes, those not among the last four go first. */
	give = total - 4 < zs->nhold ? total - 4 : zs->nhold;
	if (give > 0 && sink(arg, zs->hold, give) == -1)
		return -1;
	memmove(zs->hold, zs->hold + give, zs->nhold - give);
	zs->nhold = (uint8_t)(zs->nhold - give);
	/* Then the new bytes but the last (4 - nhold). */
	give = n - (4 - zs->nhold);
	if (give > 0 && sink(arg, p, give) == -1)
		return -1;
	memcpy(zs->hold + zs->nhold, p + give, n - give);
	zs->nhold = 4;
	return 0;
}

int
zstream_deflate(struct zstream *zs, const uint8_t *in, size_t len, bool end,
    zstream_sink_fn *sink, void *arg)
{
	uint8_t	 out[ZSTREAM_CHUNK];
	z_stream *z;
	size_t	 n;
	int	 r, flush = end ? Z_SYNC_FLUSH : Z_NO_FLUSH;

	if (len == 0 && !end)
		return ZSTREAM_OK;
	if ((r = zstream_open(zs)) != 0)
		return r;
	z = zs->z;
	/* zlib counts in uInt; feed huge inputs in slices. */
	do {
		size_t slice = len > (1u << 30) ? (1u << 30) : len;

		z->next_in = (Bytef *)(uintptr_t)in;
		z->avail_in = (uInt)slice;
		in += slice;
		len -= slice;
		do {
			z->next_out = out;
			z->avail_out = sizeof(out);
			r = deflate(z, len > 0 ? Z_NO_FLUSH : flush);
			if (r == Z_STREAM_ERROR) {
				zstream_release(zs);
				return ZSTREAM_ERR_NOMEM;
			}
			n = sizeof(out) - z->avail_out;
			zs->msg_out += n;
			if (n > 0 && zstream_emit(zs, out, n, sink, arg) == -1) {
				zstream_release(zs);
				return ZSTREAM_ERR_SINK;
			}
		} while (z->avail_out == 0);
		zs->msg_in += slice;
	} while (len > 0);
	if (!end)
		return ZSTREAM_OK;
	/* The flush ended on an empty stored block: drop its 00 00 ff ff.
	 * Anything else would be a zlib bug; refuse rather than send junk. */
	if (zs->nhold != 4 || memcmp(zs->hold, zstream_tail, 4) != 0) {
		zstream_release(zs);
		return ZSTREAM_ERR_DATA;
	}
	zstream_message_done(zs);
	return ZSTREAM_OK;
}

/* Inflate what z holds in its input; see zstream_inflate(). */
static int
zstream_inflate_run(struct zstream *zs, uint64_t max, zstream_sink_fn *sink,
    void *arg)
{
	uint8_t	 out[ZSTREAM_CHUNK];
	z_stream *z = zs->z;
	size_t	 room, n;
	int	 r, sr = 0;

	do {
		room = sizeof(out);
		/* Never ask for more than one byte past the limit. */
		if (max > 0 && max - zs->msg_out + 1 < room)
			room = (size_t)(max - zs->msg_out + 1);
		z->next_out = out;
		z->avail_out = (uInt)room;
		r = inflate(z, Z_SYNC_FLUSH);
		n = room - z->avail_out;
		zs->msg_out += n;
		if (max > 0 && zs->msg_out > max)
			return ZSTREAM_ERR_TOO_BIG;
		if (n > 0 && (sr = sink(arg, out, n)) == -1)
			return ZSTREAM_ERR_SINK;
		switch (r) {
		case Z_OK:
			break;
		case Z_STREAM_END:
			/* A final block (BFINAL = 1) is allowed, §7.2.3.4
			 * shows one; what follows in this message (our own
			 * tail at least) starts a new stream. */
			if (inflateReset(z) != Z_OK)
				return ZSTREAM_ERR_DATA;
			break;
		case Z_BUF_ERROR:
			/* No progress possible: input used up. */
			return ZSTREAM_OK;
		case Z_MEM_ERROR:
			return ZSTREAM_ERR_NOMEM;
		default:	/* Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR */
			return ZSTREAM_ERR_DATA;
		}
		if (sr == 1) {
			/* The sink is full: stop here, zlib keeps its place
			 * (and any output it has not given yet). */
			zs->out_pending = z->avail_out == 0;
			return ZSTREAM_PAUSED;
		}
	} while (z->avail_in > 0 || z->avail_out == 0);
	zs->out_pending = false;
	return ZSTREAM_OK;
}

int
zstream_inflate(struct zstream *zs, const uint8_t *in, size_t len, bool end,
    uint64_t max, zstream_sink_fn *sink, void *arg)
{
	size_t	off;
	int	r;

	zs->unused = 0;
	if (len == 0 && !end && !zs->out_pending)
		return ZSTREAM_OK;
	if ((r = zstream_open(zs)) != 0)
		return r;
	if (zs->out_pending) {
		/* Output zlib had ready when the sink paused goes first. */
		zs->z->next_in = NULL;
		zs->z->avail_in = 0;
		if ((r = zstream_inflate_run(zs, max, sink, arg)) != 0) {
			zs->unused = len;	/* none of in was taken */
			goto out;
		}
	}
	for (off = 0; off < len; ) {
		size_t slice = len - off > (1u << 30) ? (1u << 30) : len - off;

		zs->z->next_in = (Bytef *)(uintptr_t)(in + off);
		zs->z->avail_in = (uInt)slice;
		off += slice;
		r = zstream_inflate_run(zs, max, sink, arg);
		zs->msg_in += slice - zs->z->avail_in;
		if (r != 0) {
			zs->unused = (len - off) + zs->z->avail_in;
			goto out;
		}
	}
	if (end) {
		/* The tail (§7.2.2), or what a pause left of it. */
		if (zs->tail_left == 0)
			zs->tail_left = sizeof(zstream_tail);
		zs->z->next_in = (Bytef *)(uintptr_t)(zstream_tail +
		    sizeof(zstream_tail) - zs->tail_left);
		zs->z->avail_in = zs->tail_left;
		r = zstream_inflate_run(zs, max, sink, arg);
		zs->tail_left = (uint8_t)zs->z->avail_in;
		if (r != 0)
			goto out;
		zs->tail_left = 0;
		zstream_message_done(zs);
	}
	return ZSTREAM_OK;
 out:
	if (r == ZSTREAM_PAUSED)
		return r;
	zstream_release(zs);
	return r;
}

size_t
zstream_unused(const struct zstream *zs)
{
	return zs->unused;
}

bool
zstream_paused(const struct zstream *zs)
{
	return zs->out_pending || zs->tail_left > 0;
}

const char *
zstream_strerror(int err)
{
	switch (err) {
	case ZSTREAM_OK:
		return "ok";
	case ZSTREAM_ERR_TOO_BIG:
		return "message inflates past max_message_size";
	case ZSTREAM_ERR_DATA:
		return "invalid deflate data";
	case ZSTREAM_ERR_NOMEM:
		return "out of memory for zlib";
	case ZSTREAM_ERR_SINK:
		return "output refused";
	case ZSTREAM_PAUSED:
		return "paused: the output is full";
	}
	return "unknown error";
}
