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

struct evbuffer;
struct config_route;
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
 * final '/' is a 301 to the path with it (prefix routes only).
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
 * Returns the HTTP status answered. The file's descriptor, if any, is
 * owned by out afterwards (closed when the body has been sent or out is
 * freed); nothing else is kept.
 */
int	static_serve(const struct config_route *r, const struct upgrade_req *req,
	    struct evbuffer *out);

/*
 * MIME type for a file name by its extension (case-insensitive), as
 * sent in Content-Type; "application/octet-stream" if unknown.
 */
const char *static_mime_type(const char *name);

#endif
