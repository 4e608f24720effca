/*
 * static: files from a route's root for plain GET/HEAD requests (the web
 * client next to the WebSocket it talks to, as websockify --web does).
 *
 * Small and strict, not a general web server: no listings, no ranges, no
 * keep-alive, no symbolic links, no dot files. Runs on the worker's
 * thread; its file system calls are short local ones (open, fstat) and
 * the body is queued by reference (sendfile where the output allows).
 */
#ifndef STATIC_H
#define STATIC_H

#include <stddef.h>

struct evbuffer;
struct config_route;
struct static_body;
struct upgrade_req;

/*
 * Answer a plain GET/HEAD request req (upgrade_parse returned
 * UPGRADE_PLAIN) for route r, which has a root, by appending the whole
 * response to out: status line, headers (Connection: close: the caller
 * closes once out is flushed) and, for GET, the body. req->path is
 * matched by r (route_match); the route's path is stripped from it and
 * the rest, percent-decoded, names a file under r->root:
 *   "/desk/\*" with root /usr/share/novnc: /desk/vnc.html -> root/vnc.html;
 *   exact "/" (or any exact route): the root directory itself.
 * A directory is answered with its index file (r->index_file, default
 * index.html), or 403 without one; a directory asked for without its
 * final '/' is a 301 to the path with it (prefix routes only), runs of
 * '/' collapsed to one so the Location never starts "//" (RFC 3986 §4.2:
 * that would name another host).
 * Refused: 400 for a bad %-escape, NUL, control bytes or '\'; 404 for a
 * missing file, a name starting with '.' (so "..") and an encoded '/';
 * 403 for a symbolic link anywhere under the root (even one pointing
 * inside it), a directory without index and anything but regular files
 * and directories; 405 if req is neither GET nor HEAD; 500 if out of
 * file descriptors or memory.
 * A 200 carries Content-Type (by extension), Content-Length,
 * Last-Modified, a weak ETag of (inode, size, mtime), Cache-Control:
 * no-cache and X-Content-Type-Options: nosniff; If-None-Match (or, absent
 * that, If-Modified-Since in IMF-fixdate form) turns it into a 304.
 * The body: with bodyp NULL, a file segment in out (sendfile(2) when out
 * drains to a socket; only then: libevent would mmap it for anything
 * else, and a file that shrinks under a mapping faults with SIGBUS).
 * With bodyp not NULL (TLS), *bodyp gets a body that reads the file into
 * out in chunks of 64 KiB as out drains (out holds at most ~128 KiB of
 * it), or stays as it was when there is no body to send; if the file
 * shrinks meanwhile, the body ends early (logged) and the client, which
 * the caller disconnects once out is flushed, gets fewer bytes than
 * Content-Length said.
 * Returns the HTTP status answered. The file's descriptor, if any, is
 * owned by out or *bodyp afterwards (closed when the body has been read
 * or sent, or out / the body is freed); nothing else is kept.
 */
int	static_serve(const struct config_route *r, const struct upgrade_req *req,
	    struct evbuffer *out, struct static_body **bodyp);

/*
 * Free a body from static_serve (NULL is fine) and close its file. Call it
 * before out is freed: the body hangs a callback on out and this removes
 * it. Bytes of the body already in out stay there.
 */
void	static_body_free(struct static_body *b);

/*
 * Bytes of the body still to be read into out (0 for NULL or once it is
 * done or cut short): with out's length, what is left to send, so a
 * caller measuring progress by what is still queued sees it fall.
 */
size_t	static_body_left(const struct static_body *b);

/*
 * MIME type for a file name by its extension (case-insensitive), as
 * sent in Content-Type; "application/octet-stream" if unknown.
 */
const char *static_mime_type(const char *name);

#endif
