/*
 * static: a route's root directory over plain GET/HEAD.
 *
 * Path resolution never leaves the root: the request path is decoded
 * into a private buffer, split on '/', and walked one name at a time
 * with openat(..., O_NOFOLLOW) from a descriptor of the root, so no
 * "..", symbolic link or rename race can step outside it (realpath and a
 * prefix check would leave a window between the check and the open).
 * The price is that symbolic links inside the root are refused too, even
 * those that point inside it (Debian's novnc ships vnc_auto.html ->
 * vnc.html: ask for vnc.html). Names starting with '.' are refused, which
 * covers "." and ".." and keeps dot files (.git, .htpasswd) private.
 *
 * On plain sockets the file is queued as an evbuffer file segment, sent
 * with sendfile(2), never a copy in our heap. Under TLS the bytes must
 * pass through OpenSSL, and libevent would map the segment: a file cut
 * short while a client reads it (cp, rsync --inplace, an editor) then
 * faults with SIGBUS on the pages past its new end and takes the whole
 * process down. So TLS bodies are read with pread(2) into the output in
 * bounded chunks as the client drains it (struct static_body); a short
 * read ends the response early, and the caller's close tells the client
 * (Content-Length was already sent: RFC 9112 §6.3 makes it incomplete).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "config.h"
#include "log.h"
#include "pct.h"
#include "static.h"
#include "upgrade.h"

#define STATIC_PATH_MAX		4096	/* decoded path bytes */
#define STATIC_ETAG_MAX		64
#define STATIC_DATE_LEN		29	/* "Sun, 06 Nov 1994 08:49:37 GMT" */
#define STATIC_BODY_LOW		(64 * 1024)	/* refill below this queued */
#define STATIC_BODY_CHUNK	(64 * 1024)	/* one pread */
#define STATIC_BODY_NAME	256	/* what the log calls the file */

static const char *const static_days[] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char *const static_months[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* Extension (lowercase, without the dot) -> Content-Type. */
static const struct {
	const char	*ext;
	const char	*type;
} static_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "ico", "image/x-icon" },
	{ "wasm", "application/wasm" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "txt", "text/plain; charset=utf-8" },
};

/*
 * A body read into the output as it drains (TLS). Invariant: off <= end;
 * fd is -1 once the body is complete or was cut short; cb stays on out
 * until static_body_free (removing it from inside itself is avoided).
 */
struct static_body {
	int			 fd;
	off_t			 off;		/* next byte to read */
	off_t			 end;		/* the size Content-Length said */
	struct evbuffer		*out;
	struct evbuffer_cb_entry *cb;
	bool			 busy;		/* inside a refill (re-entry) */
	char			 name[STATIC_BODY_NAME];
};

/* What a request resolved to, while it is being answered. */
struct static_file {
	int		 fd;		/* open regular file, or -1 */
	struct stat	 st;
	const char	*name;		/* last name, for the MIME type */
};

static const char *
static_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	default: return upgrade_status_text(status);
	}
}

static char
static_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

const char *
static_mime_type(const char *name)
{
	const char	*dot = strrchr(name, '.');
	char		 ext[8];
	size_t		 i, n;

	if (dot == NULL || strchr(dot, '/') != NULL)
		return "application/octet-stream";
	n = strlen(++dot);
	if (n == 0 || n >= sizeof(ext))
		return "application/octet-stream";
	for (i = 0; i <= n; i++)
		ext[i] = static_lower(dot[i]);
	for (i = 0; i < sizeof(static_types) / sizeof(static_types[0]); i++)
		if (strcmp(ext, static_types[i].ext) == 0)
			return static_types[i].type;
	return "application/octet-stream";
}

/* IMF-fixdate (RFC 7231 §7.1.1.1) of t into out[STATIC_DATE_LEN + 1]. */
static void
static_http_date(time_t t, char *out)
{
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0)
		memset(&tm, 0, sizeof(tm));	/* 1900: far past, harmless */
	/* Each field bounded to its width, as gmtime_r() leaves them, so
	 * the compiler sees the text fit STATIC_DATE_LEN. */
	snprintf(out, STATIC_DATE_LEN + 1, "%s, %02u %s %04u %02u:%02u:%02u GMT",
	    static_days[tm.tm_wday % 7], (unsigned)tm.tm_mday % 100u,
	    static_months[tm.tm_mon % 12], (unsigned)(tm.tm_year + 1900) % 10000u,
	    (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
	    (unsigned)tm.tm_sec % 100u);
}

/* n decimal digits at p, or -1. */
static int
static_digits(const char *p, size_t n)
{
	int	v = 0;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/*
 * Parse an IMF-fixdate. Returns 0 with *t set, or -1. The obsolete
 * RFC 850 and asctime forms are not understood, so If-Modified-Since in
 * them is ignored (a full 200 instead of a 304: safe, and browsers echo
 * our own Last-Modified, which is fixdate).
 */
static int
static_parse_date(const struct upgrade_slice *v, time_t *t)
{
	const char	*p = v->p;
	struct tm	 tm;
	int		 mon;

	if (v->len != STATIC_DATE_LEN || p[3] != ',' || p[4] != ' ' ||
	    p[7] != ' ' || p[11] != ' ' || p[16] != ' ' || p[19] != ':' ||
	    p[22] != ':' || memcmp(p + 25, " GMT", 4) != 0)
		return -1;
	for (mon = 0; mon < 12; mon++)
		if (memcmp(p + 8, static_months[mon], 3) == 0)
			break;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = mon;
	tm.tm_mday = static_digits(p + 5, 2);
	tm.tm_year = static_digits(p + 12, 4) - 1900;
	tm.tm_hour = static_digits(p + 17, 2);
	tm.tm_min = static_digits(p + 20, 2);
	tm.tm_sec = static_digits(p + 23, 2);
	if (mon == 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_year < 0 ||
	    tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
	    tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	*t = timegm(&tm);
	return *t == (time_t)-1 ? -1 : 0;
}

/* Weak ETag (RFC 7232 §2.3) of the file: W/"inode-size-mtime_ns". */
static void
static_etag(const struct stat *st, char *out, size_t cap)
{
	uint64_t	mt = (uint64_t)st->st_mtim.tv_sec * 1000000000u +
			    (uint64_t)st->st_mtim.tv_nsec;

	snprintf(out, cap, "W/\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"",
	    (uint64_t)st->st_ino, (uint64_t)st->st_size, mt);
}

/*
 * Does If-None-Match list our tag? Weak comparison (RFC 7232 §2.3.2):
 * the opaque tags must be equal, "W/" prefixes ignored; "*" matches any.
 */
static bool
static_etag_match(const struct upgrade_slice *inm, const char *etag)
{
	const char	*p = inm->p, *end = inm->p + inm->len, *s;
	const char	*mine = etag + 2;	/* without "W/" */
	size_t		 mlen = strlen(mine), n;

	while (p < end) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		if (p == end)
			break;
		if (*p == '*')
			return true;
		if (end - p > 2 && p[0] == 'W' && p[1] == '/')
			p += 2;
		/* An entity-tag is a quoted string without '"' inside. */
		if (*p != '"' || (s = memchr(p + 1, '"', (size_t)(end - p - 1)))
		    == NULL)
			return false;
		n = (size_t)(s + 1 - p);
		if (n == mlen && memcmp(p, mine, n) == 0)
			return true;
		p = s + 1;
	}
	return false;
}

/* RFC 7232 §6 order: If-None-Match, else If-Modified-Since. */
static bool
static_not_modified(const struct upgrade_req *req, const struct stat *st,
    const char *etag)
{
	time_t	since;

	if (req->if_none_match.len > 0)
		return static_etag_match(&req->if_none_match, etag);
	if (req->if_modified_since.len > 0 &&
	    static_parse_date(&req->if_modified_since, &since) == 0)
		return st->st_mtim.tv_sec <= since;
	return false;
}

/* Status line and the headers every answer carries. */
static void
static_head(struct evbuffer *out, int status)
{
	char	date[STATIC_DATE_LEN + 1];

	static_http_date(time(NULL), date);
	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n"
	    "Connection: close\r\nX-Content-Type-Options: nosniff\r\n",
	    status, static_reason(status), date);
}

/* A short text answer: "<status> <reason>\n". Returns status. */
static int
static_error(const struct upgrade_req *req, struct evbuffer *out, int status)
{
	const char	*reason = static_reason(status);

	static_head(out, status);
	if (status == 405)
		evbuffer_add_printf(out, "Allow: GET, HEAD\r\n");
	evbuffer_add_printf(out, "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n\r\n", 3 + 1 + strlen(reason) + 1);
	if (!req->head)
		evbuffer_add_printf(out, "%d %s\n", status, reason);
	return status;
}

/*
 * The directory without its final '/': send the client to it with.
 * Runs of '/' collapse to one, as nginx's merge_slashes does: the path
 * named the same directory with them (the walk skips empty names), and a
 * Location starting "//" is a network-path reference (RFC 3986 §4.2):
 * "GET //evil.example" would send the browser to another host.
 */
static int
static_redirect(const struct upgrade_req *req, struct evbuffer *out)
{
	static const char	body[] = "301 Moved Permanently\n";
	size_t			i;

	/* The path and query are visible ASCII (upgrade_parse checked). */
	static_head(out, 301);
	evbuffer_add(out, "Location: ", 10);
	for (i = 0; i < req->path.len; i++)
		if (req->path.p[i] != '/' || i == 0 || req->path.p[i - 1] != '/')
			evbuffer_add(out, req->path.p + i, 1);
	evbuffer_add_printf(out, "/%s%.*s\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %zu\r\n\r\n",
	    req->query.len > 0 ? "?" : "", (int)req->query.len, req->query.p,
	    sizeof(body) - 1);
	if (!req->head)
		evbuffer_add(out, body, sizeof(body) - 1);
	return 301;
}

/*
 * Percent-decode p[0..n) into out (NUL-terminated, capacity cap).
 * Returns 0, or the status to refuse with: 400 for a bad escape, a NUL
 * or control byte or a backslash; 404 for an encoded '/' (a name cannot
 * hold one, and decoding it into a separator would give one file two
 * spellings) or a path too long.
 */
static int
static_decode(const char *p, size_t n, char *out, size_t cap)
{
	size_t	i, o = 0;
	int	b;
	char	c;

	for (i = 0; i < n; i++) {
		c = p[i];
		if (c == '%') {
			if ((b = pct_byte(p + i, n - i)) < 0)
				return 400;
			c = (char)b;
			if (c == '/')
				return 404;
			i += 2;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f || c == '\\')
			return 400;
		if (o + 1 >= cap)
			return 404;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Status for a failed open/openat. */
static int
static_errno_status(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
	case ENAMETOOLONG:
		return 404;
	case ELOOP:		/* O_NOFOLLOW met a symbolic link */
	case EACCES:
	case EPERM:
	case ENXIO:		/* a Unix socket, a device without driver */
		return 403;
	default:
		return 500;
	}
}

/*
 * Is name in dirfd something that may be opened: a regular file or a
 * directory (or missing: openat then says which error)? A device is
 * refused before open(2), which could act on it (a tape rewinds, a
 * terminal becomes ours); FIFOs and sockets too. The open that follows
 * checks the type again with fstat: this only keeps open away.
 */
static bool
static_openable(int dirfd, const char *name)
{
	struct stat	st;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return true;
	return S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
	    S_ISLNK(st.st_mode);	/* O_NOFOLLOW refuses it with 403 */
}

/*
 * Open the regular file name in directory dirfd into f. Returns 0, or the
 * status to refuse with (403 for what is not a regular file).
 */
static int
static_open_file(int dirfd, const char *name, struct static_file *f)
{
	int	fd;

	if (!static_openable(dirfd, name))
		return 403;
	/* O_NONBLOCK: a FIFO must not hang the worker in open(). */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
	    O_CLOEXEC);
	if (fd == -1)
		return static_errno_status(errno);
	if (fstat(fd, &f->st) == -1 || !S_ISREG(f->st.st_mode)) {
		close(fd);
		return 403;
	}
	f->fd = fd;
	f->name = name;
	return 0;
}

/*
 * Walk path (decoded, NUL-terminated; cut into names in place) from the
 * directory dirfd, which this takes over, one name at a time. Returns 0
 * with f->fd set to a regular file, or with f->fd -1 and *dirfd_out the
 * directory the path names; else the status to refuse with.
 */
static int
static_walk(int dirfd, char *path, struct static_file *f, int *dirfd_out)
{
	char	*seg = path, *end;
	bool	 more;
	int	 fd, st = 0;

	for (;;) {
		while (*seg == '/')
			seg++;
		if (*seg == '\0') {
			*dirfd_out = dirfd;
			return 0;
		}
		/* ".", ".." and dot files. */
		if (seg[0] == '.') {
			st = 404;
			break;
		}
		end = seg + strcspn(seg, "/");
		more = *end == '/';	/* then it must be a directory */
		*end = '\0';
		if (!static_openable(dirfd, seg)) {
			st = 403;	/* FIFO, socket, device */
			break;
		}
		fd = openat(dirfd, seg, O_RDONLY | O_NOFOLLOW | O_NONBLOCK |
		    O_CLOEXEC | (more ? O_DIRECTORY : 0));
		if (fd == -1) {
			st = static_errno_status(errno);
			/* O_DIRECTORY meeting a link says ENOTDIR: still 403. */
			if (errno == ENOTDIR && fstatat(dirfd, seg, &f->st,
			    AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(f->st.st_mode))
				st = 403;
			break;
		}
		close(dirfd);
		dirfd = fd;
		if (fstat(fd, &f->st) == -1) {
			st = 500;
			break;
		}
		if (S_ISDIR(f->st.st_mode)) {
			seg = more ? end + 1 : end;
			continue;
		}
		if (!S_ISREG(f->st.st_mode)) {
			st = 403;	/* FIFO, socket, device */
			break;
		}
		f->fd = fd;
		f->name = seg;
		return 0;
	}
	close(dirfd);
	return st;
}

/* Stop reading: the body is complete or cannot be. */
static void
static_body_stop(struct static_body *b)
{
	if (b->fd != -1)
		close(b->fd);
	b->fd = -1;
}

/*
 * Top the output up to about STATIC_BODY_LOW + STATIC_BODY_CHUNK bytes,
 * reading straight into its space. A read that comes back short of the
 * size announced means the file shrank under us: stop there and log it;
 * the caller closes once out is flushed, and the client, seeing fewer
 * bytes than Content-Length, knows the response is incomplete.
 */
static void
static_body_fill(struct static_body *b)
{
	struct evbuffer_iovec	v;
	ssize_t			n;
	size_t			want;

	/* Adding runs out's callbacks: a filter bufferevent writes from them
	 * at once and its drain calls us again. The outer loop goes on. */
	if (b->busy)
		return;
	b->busy = true;
	while (b->fd != -1 && evbuffer_get_length(b->out) < STATIC_BODY_LOW) {
		want = (size_t)(b->end - b->off) < STATIC_BODY_CHUNK ?
		    (size_t)(b->end - b->off) : STATIC_BODY_CHUNK;
		if (evbuffer_reserve_space(b->out, (ev_ssize_t)want, &v, 1) < 1)
			break;	/* out of memory: a stall; the linger ends it */
		do
			n = pread(b->fd, v.iov_base, want, b->off);
		while (n == -1 && errno == EINTR);
		if (n <= 0) {
			if (n == 0)
				log_warnx("static: %s shrank while being sent "
				    "(%jd of %jd bytes sent): response cut short",
				    b->name, (intmax_t)b->off,
				    (intmax_t)b->end);
			else
				log_warn("static: %s: read at %jd of %jd: "
				    "response cut short", b->name,
				    (intmax_t)b->off, (intmax_t)b->end);
			static_body_stop(b);
			break;
		}
		v.iov_len = (size_t)n;
		b->off += n;
		if (b->off == b->end)
			static_body_stop(b);
		if (evbuffer_commit_space(b->out, &v, 1) == -1) {
			static_body_stop(b);
			break;
		}
	}
	b->busy = false;
}

static void
static_body_cb(struct evbuffer *out, const struct evbuffer_cb_info *info,
    void *arg)
{
	(void)out;
	if (info->n_deleted > 0)
		static_body_fill(arg);
}

/*
 * A body that reads f (its descriptor taken over) into out as out
 * drains. Returns it, or NULL out of memory (the descriptor closed).
 */
static struct static_body *
static_body_new(struct static_file *f, const struct upgrade_req *req,
    const struct config_route *r, struct evbuffer *out)
{
	struct static_body	*b;

	if ((b = calloc(1, sizeof(*b))) == NULL) {
		close(f->fd);
		return NULL;
	}
	b->fd = f->fd;
	b->end = f->st.st_size;
	b->out = out;
	snprintf(b->name, sizeof(b->name), "%s%.*s", r->root,
	    (int)(req->path.len - strlen(r->path)), req->path.p +
	    strlen(r->path));
	if ((b->cb = evbuffer_add_cb(out, static_body_cb, b)) == NULL) {
		close(b->fd);
		free(b);
		return NULL;
	}
	return b;
}

void
static_body_free(struct static_body *b)
{
	if (b == NULL)
		return;
	evbuffer_remove_cb_entry(b->out, b->cb);
	static_body_stop(b);
	free(b);
}

size_t
static_body_left(const struct static_body *b)
{
	return b == NULL || b->fd == -1 ? 0 : (size_t)(b->end - b->off);
}

/*
 * The 200 or 304 for the open file f; its descriptor goes to out, or to
 * a body in *bodyp when bodyp is not NULL (or is closed). Returns the
 * status, or 500 if out of memory (then the head may already be queued:
 * the client sees a short body and the close).
 */
static int
static_send(const struct config_route *r, const struct upgrade_req *req,
    struct static_file *f, struct evbuffer *out, struct static_body **bodyp)
{
	struct evbuffer_file_segment	*seg = NULL;
	struct static_body		*body = NULL;
	char				 date[STATIC_DATE_LEN + 1];
	char				 etag[STATIC_ETAG_MAX];
	int				 status, rc;

	static_etag(&f->st, etag, sizeof(etag));
	status = static_not_modified(req, &f->st, etag) ? 304 : 200;
	if (status != 200 || req->head || f->st.st_size == 0)
		close(f->fd);
	else if (bodyp != NULL) {
		if ((body = static_body_new(f, req, r, out)) == NULL) {
			f->fd = -1;
			return static_error(req, out, 500);
		}
	} else {
		/*
		 * A segment we hold ourselves closes the descriptor whatever
		 * happens (evbuffer_add_file() in 2.1 leaks it when adding
		 * fails). Only for outputs that drain to a socket: sendfile.
		 */
		seg = evbuffer_file_segment_new(f->fd, 0, f->st.st_size,
		    EVBUF_FS_CLOSE_ON_FREE);
		if (seg == NULL) {
			close(f->fd);
			f->fd = -1;
			return static_error(req, out, 500);
		}
	}
	f->fd = -1;

	static_http_date(f->st.st_mtim.tv_sec, date);
	static_head(out, status);
	evbuffer_add_printf(out, "Last-Modified: %s\r\nETag: %s\r\n"
	    "Cache-Control: no-cache\r\n", date, etag);
	if (status == 200)
		evbuffer_add_printf(out, "Content-Type: %s\r\n"
		    "Content-Length: %jd\r\n", static_mime_type(f->name),
		    (intmax_t)f->st.st_size);
	evbuffer_add(out, "\r\n", 2);
	if (body != NULL) {
		*bodyp = body;
		static_body_fill(body);
		return status;
	}
	if (seg == NULL)
		return status;
	rc = evbuffer_add_file_segment(out, seg, 0, f->st.st_size);
	evbuffer_file_segment_free(seg);	/* out keeps its own reference */
	return rc == 0 ? 200 : 500;
}

int
static_serve(const struct config_route *r, const struct upgrade_req *req,
    struct evbuffer *out, struct static_body **bodyp)
{
	struct static_file	 f = { -1, { 0 }, NULL };
	const char		*rest, *index;
	char			 path[STATIC_PATH_MAX];
	size_t			 plen = strlen(r->path), rlen;
	bool			 slash;
	int			 rootfd, dirfd = -1, st;

	if (!req->head && (req->method.len != 3 ||
	    memcmp(req->method.p, "GET", 3) != 0))
		return static_error(req, out, 405);
	/* route_match matched r: its path is a prefix of req->path. */
	if (r->root == NULL || req->path.len < plen ||
	    memcmp(req->path.p, r->path, plen) != 0)
		return static_error(req, out, 404);
	rest = req->path.p + plen;
	rlen = req->path.len - plen;
	slash = rlen > 0 && rest[rlen - 1] == '/';
	if ((st = static_decode(rest, rlen, path, sizeof(path))) != 0)
		return static_error(req, out, st);

	/* The root itself may be a symbolic link: the operator chose it. */
	if ((rootfd = open(r->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return static_error(req, out, static_errno_status(errno));
	if ((st = static_walk(rootfd, path, &f, &dirfd)) != 0)
		return static_error(req, out, st);
	if (f.fd == -1) {
		/*
		 * A directory. Asked for without its final '/', relative
		 * links in its index would resolve one level up: redirect
		 * ("/desk" on "/desk/\*"). An exact route has no '/' form.
		 */
		if (!slash && (rlen > 0 || r->prefix)) {
			close(dirfd);
			return static_redirect(req, out);
		}
		index = r->index_file != NULL ? r->index_file :
		    CONFIG_DEFAULT_INDEX;
		st = static_open_file(dirfd, index, &f);
		close(dirfd);
		/* No listings: a directory without index is forbidden. */
		if (st != 0)
			return static_error(req, out, st == 404 ? 403 : st);
	}
	return static_send(r, req, &f, out, bodyp);
}
