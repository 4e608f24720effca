/*
 * log: leveled logger. Text ("2026-11-25T18:00:00.123Z info: msg") or JSON
 * lines, to stderr (foreground, -d) or syslog. errno is preserved across
 * every call. libevent's own warnings are routed in by log_init().
 */
#ifndef LOG_H
#define LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level {
	LOG_LEVEL_ERROR = 0,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Start logging: to stderr when foreground, else syslog as "wsgate". */
void	log_init(bool foreground, enum log_level level, bool json);
/*
 * log_file = PATH: also append every line to PATH (created 0640); NULL
 * stops. Without -d, lines then go to the file instead of syslog. Call
 * at start only, before the workers run. Returns 0, or -1 with errno.
 */
int	log_open_file(const char *path);

/*
 * syslog = SERVER: also send every line as a datagram to SERVER, a Unix
 * socket path (/dev/log) or HOST:PORT over UDP; RFC 5424, or RFC 3164
 * with legacy. daemon_facility: LOG_DAEMON, else LOG_USER (websockify's
 * choice with and without -D). Returns 0, or -1 with the reason in err.
 */
int	log_open_syslog(const char *server, bool legacy, bool daemon_facility,
	    char *err, size_t errlen);

/* Change level/format (config reload, -v). */
void	log_set(enum log_level level, bool json);
bool	log_enabled(enum log_level level);

/* log_warn appends ": strerror(errno)"; the x forms do not. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/*
 * log_debug tests the level before the call (its arguments are then not
 * evaluated either): debug lines sit on the per-connection path, five of
 * them a connect cycle, and a call that found the level off still cost
 * ~60 instructions (the variadic prologue, errno saved and restored).
 */
#define log_debug(...)	do {						\
	if (log_enabled(LOG_LEVEL_DEBUG))				\
		log_debug_emit(__VA_ARGS__);				\
} while (0)
void	log_debug_emit(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

/* One field of a structured event: a string or a number. */
struct log_field {
	const char		*key;
	const char		*str;	/* NULL: the field is num */
	unsigned long long	 num;
};
#define LOG_STR(k, v)	{ (k), (v) != NULL ? (v) : "-", 0 }
#define LOG_NUM(k, v)	{ (k), NULL, (unsigned long long)(v) }

/*
 * A structured event: in text, "event k=v k=v" (values with spaces or
 * quotes are quoted); in JSON, one object with "event" and every field
 * (numbers as numbers).
 */
void	log_event(enum log_level level, const char *event,
	    const struct log_field *f, size_t n);

/* Log every queued OpenSSL error at warn level, prefixed by what. */
void	log_openssl_errors(const char *what);

#endif
