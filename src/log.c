/*
 * log: see include/log.h.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "addr.h"
#include "log.h"

static bool		log_foreground = true;
static FILE		*log_file;	/* log_file = PATH; NULL: none */
static int		 log_sys_fd = -1;	/* syslog = SERVER; -1: none */
static bool		 log_sys_legacy;	/* RFC 3164 instead of 5424 */
static int		 log_sys_facility = LOG_DAEMON;
static char		 log_hostname[256] = "-";
/*
 * Level and format: set by the main thread (start, SIGHUP), read by every
 * worker on each line and each log_debug test. Atomic, relaxed: a worker
 * may go on with the old value for a few lines after a reload, but never
 * reads a torn one, and a relaxed load is a plain load on x86 and arm64.
 */
static _Atomic bool	log_json;
static _Atomic int	log_level_cur = LOG_LEVEL_INFO;

static const char *const log_level_names[] = {
	"error", "warn", "info", "debug",
};

static void
log_libevent_cb(int severity, const char *msg)
{
	switch (severity) {
	case EVENT_LOG_DEBUG:
		log_debug("libevent: %s", msg);
		break;
	case EVENT_LOG_MSG:
		log_info("libevent: %s", msg);
		break;
	default:
		log_warnx("libevent: %s", msg);
		break;
	}
}

void
log_init(bool foreground, enum log_level level, bool json)
{
	log_foreground = foreground;
	log_set(level, json);
	if (!foreground)
		openlog("wsgate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	event_set_log_callback(log_libevent_cb);
}

void
log_set(enum log_level level, bool json)
{
	atomic_store_explicit(&log_level_cur, (int)level,
	    memory_order_relaxed);
	atomic_store_explicit(&log_json, json, memory_order_relaxed);
}

bool
log_enabled(enum log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level_cur,
	    memory_order_relaxed);
}

static bool
log_is_json(void)
{
	return atomic_load_explicit(&log_json, memory_order_relaxed);
}

/* Append s to out as a JSON string body (no quotes). */
static void
log_json_escape(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
}

/* Where log_emit() writes the JSON object's body from: "msg" or fields. */
static void	log_emit_json(FILE *, enum log_level, const char *,
		    const char *, const struct log_field *, size_t);

/*
 * syslog = SERVER: one datagram per line to the server, RFC 5424 section
 * 6 ("<PRI>1 TIMESTAMP HOST APP PROCID - - MSG"), or with
 * syslog_format = rfc3164 the BSD form ("<PRI>Mmm dd hh:mm:ss HOST
 * APP[PID]: MSG", RFC 3164 section 4.1), as websockify's --legacy-syslog.
 * A lost datagram is lost: logging never blocks a worker.
 */
static void
log_emit_syslog(enum log_level level, const char *msg)
{
	static const int sev[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char line[2048], when[40];
	struct timespec ts;
	struct tm tm;
	int pri = log_sys_facility | sev[level], n;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (log_sys_legacy) {
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "<%d>%s %s wsgate[%ld]: %s",
		    pri, when, log_hostname, (long)getpid(), msg);
	} else {
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
		n = snprintf(line, sizeof(line), "<%d>1 %s.%03ldZ %s wsgate %ld "
		    "- - %s", pri, when, ts.tv_nsec / 1000000, log_hostname,
		    (long)getpid(), msg);
	}
	if (n > 0)
		(void)send(log_sys_fd, line, (size_t)n < sizeof(line) ?
		    (size_t)n : sizeof(line) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void
log_emit(enum log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (log_sys_fd != -1)
		log_emit_syslog(level, msg);
	if (!log_foreground && log_file == NULL && log_sys_fd == -1) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_is_json()) {
		if (log_foreground)
			log_emit_json(stderr, level, msg, NULL, NULL, 0);
		if (log_file != NULL)
			log_emit_json(log_file, level, msg, NULL, NULL, 0);
		return;
	}
	if (log_foreground) {
		flockfile(stderr);
		fprintf(stderr, "%s.%03ldZ %s: %s\n", when,
		    ts.tv_nsec / 1000000, log_level_names[level], msg);
		funlockfile(stderr);
		fflush(stderr);
	}
	if (log_file != NULL) {
		flockfile(log_file);
		fprintf(log_file, "%s.%03ldZ %s: %s\n", when,
		    ts.tv_nsec / 1000000, log_level_names[level], msg);
		funlockfile(log_file);
		fflush(log_file);
	}
}

int
log_open_file(const char *path)
{
	FILE *f;
	int fd;

	if (path == NULL) {
		f = log_file;
		log_file = NULL;
		if (f != NULL)
			fclose(f);
		return 0;
	}
	if ((fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOCTTY, 0640)) == -1)
		return -1;
	if ((f = fdopen(fd, "a")) == NULL) {
		close(fd);
		return -1;
	}
	log_file = f;	/* at start, before any worker thread runs */
	return 0;
}

int
log_open_syslog(const char *server, bool legacy, bool daemon_facility,
    char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_un sun;
	char host[256];
	const char *h, *port;
	size_t hlen, plen;
	int fd = -1, e;

	log_sys_legacy = legacy;
	log_sys_facility = daemon_facility ? LOG_DAEMON : LOG_USER;
	if (gethostname(log_hostname, sizeof(log_hostname)) == -1 ||
	    log_hostname[0] == '\0')
		snprintf(log_hostname, sizeof(log_hostname), "-");
	if (server[0] == '/') {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", server);
		if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1 ||
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			goto fail;
	} else {
		/* HOST:PORT or [V6]:PORT, checked by config_keys.c. */
		(void)addr_split(server, strlen(server), &h, &hlen, &port,
		    &plen);
		snprintf(host, sizeof(host), "%.*s", (int)hlen, h);
		memset(&hints, 0, sizeof(hints));
		hints.ai_socktype = SOCK_DGRAM;
		if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
			snprintf(err, errlen, "syslog %s: %s", server,
			    gai_strerror(e));
			return -1;
		}
		if ((fd = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC,
		    0)) == -1 || connect(fd, res->ai_addr, res->ai_addrlen) ==
		    -1)
			goto fail;
		freeaddrinfo(res);
	}
	log_sys_fd = fd;
	return 0;
 fail:
	snprintf(err, errlen, "syslog %s: %s", server, strerror(errno));
	if (fd != -1)
		close(fd);
	if (res != NULL)
		freeaddrinfo(res);
	return -1;
}

static void
log_emit_json(FILE *out, enum log_level level, const char *msg,
    const char *event, const struct log_field *f, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(out);
	fprintf(out, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", when,
	    ts.tv_nsec / 1000000, log_level_names[level]);
	if (msg != NULL) {
		fputs(",\"msg\":\"", out);
		log_json_escape(out, msg);
		fputc('"', out);
	}
	if (event != NULL)
		fprintf(out, ",\"event\":\"%s\"", event);
	for (i = 0; i < n; i++) {
		fprintf(out, ",\"%s\":", f[i].key);
		if (f[i].str == NULL) {
			fprintf(out, "%llu", f[i].num);
		} else {
			fputc('"', out);
			log_json_escape(out, f[i].str);
			fputc('"', out);
		}
	}
	fputs("}\n", out);
	funlockfile(out);
	fflush(out);
}

/* Append v to buf at *off, quoted when it has spaces or quotes. */
static void
log_text_value(char *buf, size_t cap, size_t *off, const char *v)
{
	bool quote = v[0] == '\0' || strpbrk(v, " \"\\=") != NULL;
	const char *p;

	if (*off + 1 >= cap)
		return;
	if (quote)
		buf[(*off)++] = '"';
	for (p = v; *p != '\0' && *off + 3 < cap; p++) {
		if (quote && (*p == '"' || *p == '\\'))
			buf[(*off)++] = '\\';
		buf[(*off)++] = *p;
	}
	if (quote && *off + 1 < cap)
		buf[(*off)++] = '"';
	buf[*off] = '\0';
}

/* Room log_event() needs for its text line, quotes and escapes included. */
static size_t
log_event_size(const char *event, const struct log_field *f, size_t n)
{
	size_t need = strlen(event) + 1, i;

	for (i = 0; i < n; i++)
		need += 4 + strlen(f[i].key) + (f[i].str != NULL ?
		    2 * strlen(f[i].str) + 2 : 20);
	return need;
}

void
log_event(enum log_level level, const char *event, const struct log_field *f,
    size_t n)
{
	char stack[2048], *msg = stack;
	size_t off, i, cap = sizeof(stack), need;
	int saved = errno, r;

	if (!log_enabled(level))
		return;
	if (log_is_json() && log_foreground && log_sys_fd == -1) {
		log_emit_json(stderr, level, NULL, event, f, n);
		if (log_file != NULL)
			log_emit_json(log_file, level, NULL, event, f, n);
		errno = saved;
		return;
	}
	/* Fields may carry client input: a line longer than the stack
	 * buffer is built on the heap, whole (truncated only without
	 * memory). */
	if ((need = log_event_size(event, f, n)) > cap &&
	    (msg = malloc(need)) != NULL)
		cap = need;
	else if (msg == NULL)
		msg = stack;
	off = (size_t)snprintf(msg, cap, "%s", event);
	for (i = 0; i < n && off + 2 < cap; i++) {
		r = snprintf(msg + off, cap - off, " %s=", f[i].key);
		if (r < 0 || (size_t)r >= cap - off)
			break;
		off += (size_t)r;
		if (f[i].str != NULL) {
			log_text_value(msg, cap, &off, f[i].str);
		} else {
			r = snprintf(msg + off, cap - off, "%llu", f[i].num);
			if (r < 0 || (size_t)r >= cap - off)
				break;
			off += (size_t)r;
		}
	}
	log_emit(level, msg);
	if (msg != stack)
		free(msg);
	errno = saved;
}

/* fmt is the caller's printf format: clang checks it at each caller. */
static void __attribute__((format(printf, 3, 0)))
log_vlog(enum log_level level, int errnum, const char *fmt, va_list ap)
{
	char stack[2048], *msg = stack;
	const char *err = errnum != 0 ? strerror(errnum) : NULL;
	size_t cap = sizeof(stack), need;
	va_list aq;
	int saved = errno;
	int n;

	if (!log_enabled(level))
		return;
	va_copy(aq, ap);
	n = vsnprintf(msg, cap, fmt, ap);
	/* A longer line (it may echo a request path) goes whole, from the
	 * heap; truncated only when there is no memory for it. */
	need = n < 0 ? 0 : (size_t)n + 1 + (err != NULL ? 2 + strlen(err) : 0);
	if (need > cap && (msg = malloc(need)) != NULL) {
		cap = need;
		n = vsnprintf(msg, cap, fmt, aq);
	} else if (msg == NULL)
		msg = stack;
	va_end(aq);
	if (err != NULL && n >= 0 && (size_t)n < cap)
		snprintf(msg + n, cap - (size_t)n, ": %s", err);
	log_emit(level, msg);
	if (msg != stack)
		free(msg);
	errno = saved;
}

#define LOG_DEFINE(name, level, with_errno)				\
void									\
name(const char *fmt, ...)						\
{									\
	va_list ap;							\
	int e = errno;							\
									\
	va_start(ap, fmt);						\
	log_vlog(level, (with_errno) ? e : 0, fmt, ap);			\
	va_end(ap);							\
	errno = e;							\
}

LOG_DEFINE(log_warn, LOG_LEVEL_WARN, 1)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARN, 0)
LOG_DEFINE(log_error, LOG_LEVEL_ERROR, 0)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, 0)
LOG_DEFINE(log_debug_emit, LOG_LEVEL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;
	int e = errno;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, e, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vlog(LOG_LEVEL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

void
log_openssl_errors(const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		log_warnx("%s: %s", what, buf);
	}
}
