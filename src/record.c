/*
 * record: see include/record.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "config.h"
#include "log.h"
#include "record.h"
#include "record_fmt.h"

#define RECORD_STEP	1024	/* bytes escaped at a time */

struct record {
	FILE		*f;		/* NULL: traffic marks only */
	int		 traffic;	/* print websockify's marks */
	char		*path;
	struct timespec	 t0;		/* the upgrade: entries count from it */
	uint64_t	 written;	/* bytes in the file so far */
	uint64_t	 max;		/* record_max_size; 0 none */
	int		 full;		/* max reached: no more entries */
	size_t		 pending;	/* the entry being measured */
};

struct record *
record_open(const struct config_route *r, uint64_t id)
{
	struct record *rec;
	int fd;

	if (r->record == NULL && !r->traffic)
		return NULL;
	if (r->record == NULL) {
		if ((rec = calloc(1, sizeof(*rec))) != NULL)
			rec->traffic = 1;
		return rec;
	}
	if ((rec = calloc(1, sizeof(*rec))) == NULL ||
	    asprintf(&rec->path, "%s.%llu", r->record,
	    (unsigned long long)id) == -1) {
		free(rec);
		log_warnx("record: out of memory; session %llu not recorded",
		    (unsigned long long)id);
		return NULL;
	}
	/* No following a link someone left where the file goes. */
	fd = open(rec->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC |
	    O_NOFOLLOW, 0640);
	if (fd == -1 || (rec->f = fdopen(fd, "w")) == NULL) {
		log_warn("record %s: session %llu not recorded", rec->path,
		    (unsigned long long)id);
		if (fd != -1)
			close(fd);
		free(rec->path);
		free(rec);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &rec->t0);
	rec->traffic = r->traffic != 0;
	rec->max = r->record_max_size;
	fputs(RECORD_FMT_HEAD, rec->f);
	rec->written = sizeof(RECORD_FMT_HEAD) - 1;
	log_info("session %llu: recording to %s", (unsigned long long)id,
	    rec->path);
	return rec;
}

static uint64_t
record_ms(const struct record *rec)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - rec->t0.tv_sec) * 1000 +
	    (uint64_t)((now.tv_nsec - rec->t0.tv_nsec) / 1000000);
}

/* Escape and write p[0..n). */
static void
record_put(struct record *rec, const uint8_t *p, size_t n)
{
	char out[RECORD_FMT_MAX(RECORD_STEP)];
	size_t k, len;

	for (; n > 0; p += k, n -= k) {
		k = n < RECORD_STEP ? n : RECORD_STEP;
		len = record_fmt_escape(p, k, out);
		fwrite(out, 1, len, rec->f);
		rec->written += len;
	}
}

/*
 * Call fn(rec, p, n) over len bytes of b from off (extents, no copy).
 * Returns 0, or -1 if off/len do not fit b.
 */
static int
record_each(struct record *rec, const struct evbuffer *b, size_t off,
    size_t len, void (*fn)(struct record *, const uint8_t *, size_t))
{
	struct evbuffer *eb = (struct evbuffer *)(uintptr_t)b;
	struct evbuffer_iovec v[16];
	struct evbuffer_ptr pos;
	size_t i, k;
	int nv;

	if (evbuffer_ptr_set(eb, &pos, off, EVBUFFER_PTR_SET) == -1)
		return -1;
	while (len > 0) {
		if ((nv = evbuffer_peek(eb, (ev_ssize_t)len, &pos, v, 16)) <= 0)
			return -1;
		for (i = 0; i < (size_t)nv && i < 16 && len > 0; i++) {
			k = v[i].iov_len < len ? v[i].iov_len : len;
			fn(rec, v[i].iov_base, k);
			len -= k;
			if (len > 0 && evbuffer_ptr_set(eb, &pos, k,
			    EVBUFFER_PTR_ADD) == -1)
				return -1;
		}
	}
	return 0;
}

/* record_each() callback: add up what the entry will take. */
static void
record_measure(struct record *rec, const uint8_t *p, size_t n)
{
	rec->pending += record_fmt_escaped_len(p, n);
}

void
record_chunk(struct record *rec, int to_client, const struct evbuffer *b,
    size_t off, size_t len)
{
	char head[32];
	size_t n;

	if (rec == NULL || len == 0)
		return;
	/* websockify's legend: '}' client receive, '{' target receive (we
	 * send on at once, so no separate '<' '>'). stdout, never blocking
	 * the loop for long: a mark lost to a full pipe is lost. */
	if (rec->traffic && write(STDOUT_FILENO, to_client ? "{" : "}", 1) !=
	    1)
		rec->traffic = 0;	/* stdout gone: stop trying */
	if (rec->f == NULL || rec->full)
		return;
	n = record_fmt_open(head, to_client, record_ms(rec));
	/* The cap holds for the whole file, its tail included. */
	rec->pending = n + 3;
	if (rec->max != 0 && (record_each(rec, b, off, len,
	    record_measure) == -1 || rec->written + rec->pending +
	    sizeof(RECORD_FMT_TAIL) - 1 > rec->max)) {
		rec->full = 1;
		log_warnx("record %s: record_max_size (%llu bytes) reached; "
		    "the rest of the session is not recorded", rec->path,
		    (unsigned long long)rec->max);
		return;
	}
	fwrite(head, 1, n, rec->f);
	rec->written += n;
	(void)record_each(rec, b, off, len, record_put);
	fputs("',\n", rec->f);
	rec->written += 3;
}

void
record_close(struct record *rec)
{
	if (rec == NULL)
		return;
	if (rec->f == NULL) {
		free(rec);
		return;
	}
	fputs(RECORD_FMT_TAIL, rec->f);
	if (fclose(rec->f) != 0)
		log_warn("record %s", rec->path);
	free(rec->path);
	free(rec);
}
