/*
 * log: see include/log.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <event2/event.h>
#include <openssl/err.h>

#include "log.h"

static bool		log_foreground = true;
static bool		log_json;
static enum log_level	log_level_cur = LOG_LEVEL_INFO;

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
	log_level_cur = level;
	log_json = json;
}

bool
log_enabled(enum log_level level)
{
	return level <= log_level_cur;
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
static void	log_emit_json(enum log_level, const char *, const char *,
		    const struct log_field *, size_t);

static void
log_emit(enum log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	struct timespec ts;
	struct tm tm;
	char when[32];

	if (!log_foreground) {
		syslog(prio[level], "%s", msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (log_json) {
		log_emit_json(level, msg, NULL, NULL, 0);
		return;
	}
	flockfile(stderr);
	{
		fprintf(stderr, "%s.%03ldZ %s: %s\n", when,
		    ts.tv_nsec / 1000000, log_level_names[level], msg);
	}
	funlockfile(stderr);
	fflush(stderr);
}

static void
log_emit_json(enum log_level level, const char *msg, const char *event,
    const struct log_field *f, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	flockfile(stderr);
	fprintf(stderr, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\"", when,
	    ts.tv_nsec / 1000000, log_level_names[level]);
	if (msg != NULL) {
		fputs(",\"msg\":\"", stderr);
		log_json_escape(stderr, msg);
		fputc('"', stderr);
	}
	if (event != NULL)
		fprintf(stderr, ",\"event\":\"%s\"", event);
	for (i = 0; i < n; i++) {
		fprintf(stderr, ",\"%s\":", f[i].key);
		if (f[i].str == NULL) {
			fprintf(stderr, "%llu", f[i].num);
		} else {
			fputc('"', stderr);
			log_json_escape(stderr, f[i].str);
			fputc('"', stderr);
		}
	}
	fputs("}\n", stderr);
	funlockfile(stderr);
	fflush(stderr);
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
	if (log_json && log_foreground) {
		log_emit_json(level, NULL, event, f, n);
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

static void
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
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, 0)

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
