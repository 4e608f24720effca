/*
 * record: websockify's --record and --traffic, as route keys (record =
 * PATH, record_max_size, traffic = on). Each upgraded session of such a route writes
 * PATH.ID (ID: the session id, as logged), in record_fmt's format, for
 * noVNC's playback page. Sessions of other routes pay nothing.
 *
 * The file is written from the session's worker through a buffered
 * FILE: small writes into the page cache, as websockify's own.
 */
#ifndef RECORD_H
#define RECORD_H

#include <stddef.h>
#include <stdint.h>

struct config_route;
struct evbuffer;
struct record;

/*
 * Start recording session id of route r (and its traffic marks, '}' for
 * client bytes and '{' for backend bytes on stdout, with traffic = on):
 * NULL when r records nothing, or
 * when the file cannot be created (logged; the session goes on). The
 * result belongs to the caller (record_close).
 */
struct record	*record_open(const struct config_route *r, uint64_t id);

/*
 * Record len bytes of b from offset off: to_client for backend bytes on
 * their way to the client, else client payload on its way to the
 * backend. b is only read. Past record_max_size nothing more is written
 * (logged once). rec may be NULL (nothing happens).
 */
void	record_chunk(struct record *rec, int to_client,
	    const struct evbuffer *b, size_t off, size_t len);

/* Write the end of the array and close. NULL is fine. */
void	record_close(struct record *rec);

#endif
