/*
 * loadfile: see include/loadfile.h.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadfile.h"

/* "16 MiB", "64 KiB", "100 bytes": the cap as a person writes it. */
static void
loadfile_size(size_t n, char *out, size_t len)
{
	if (n >= 1024 * 1024 && n % (1024 * 1024) == 0)
		snprintf(out, len, "%zu MiB", n / (1024 * 1024));
	else if (n >= 1024 && n % 1024 == 0)
		snprintf(out, len, "%zu KiB", n / 1024);
	else
		snprintf(out, len, "%zu bytes", n);
}

/* The checks on what fstat says; 0, or -1 with err. */
static int
loadfile_check(const char *path, const struct stat *st, size_t max,
    unsigned flags, char *err, size_t errlen)
{
	char	cap[32];

	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if ((flags & LOADFILE_PRIVATE) &&
	    (st->st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, errlen, "%s: readable by group or others (mode "
		    "%03o); chmod 600 it", path, (unsigned)(st->st_mode & 0777));
		return -1;
	}
	if ((flags & LOADFILE_NO_OTHER) && (st->st_mode & S_IRWXO) != 0) {
		snprintf(err, errlen, "%s: readable by others (mode %03o); "
		    "chmod 640 it", path, (unsigned)(st->st_mode & 0777));
		return -1;
	}
	if (st->st_size < 0 || (unsigned long long)st->st_size > max) {
		loadfile_size(max, cap, sizeof(cap));
		snprintf(err, errlen, "%s: larger than %s", path, cap);
		return -1;
	}
	return 0;
}

int
loadfile_read(const char *path, size_t max, unsigned flags, char **buf,
    size_t *len, char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 r;
	size_t		 n = 0, want = 0;
	char		*b = NULL;
	int		 fd;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (loadfile_check(path, &st, max, flags, err, errlen) == -1)
		goto fail;
	want = (size_t)st.st_size + 1;	/* one more: notice growth */
	if ((b = malloc(want + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	while (n < want && (r = read(fd, b + n, want - n)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto fail;
		}
		n += (size_t)r;
	}
	if (n == want) {
		snprintf(err, errlen, "%s: changed while read", path);
		goto fail;
	}
	if ((flags & LOADFILE_TEXT) && memchr(b, '\0', n) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		goto fail;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
 fail:
	loadfile_free(b, b != NULL ? want : 0);
	if (fd != -1)
		close(fd);
	return -1;
}

int
loadfile_secret(const char *path, size_t min, size_t max, unsigned how,
    char **out, size_t *outlen, char *err, size_t errlen)
{
	bool first = (how & LOADFILE_SECRET_FIRST) != 0;
	char *buf;
	size_t len, n;

	*out = NULL;
	/* relayd's check_file_secrecy: a secret is a key. "\r\n" after it
	 * may make the file two bytes longer than the secret. */
	if (loadfile_read(path, first ? max : max + 2, LOADFILE_PRIVATE, &buf,
	    &len, err, errlen) == -1)
		return -1;
	if (first)
		n = strcspn(buf, "\r\n");
	else
		for (n = len; n > 0 && (buf[n - 1] == '\n' ||
		    buf[n - 1] == '\r'); n--)
			;
	if (first && n < min)
		snprintf(err, errlen, "%s: empty first line", path);
	else if (!first && (n < min || n > max || ((how &
	    LOADFILE_SECRET_LINE) && memchr(buf, '\n', n) != NULL)))
		snprintf(err, errlen, (how & LOADFILE_SECRET_LINE) ?
		    "%s: want one line of %zu to %zu bytes" :
		    "%s: the key must be %zu to %zu bytes", path, min, max);
	else if ((*out = malloc(n + 1)) == NULL)
		snprintf(err, errlen, "%s: out of memory", path);
	else {
		memcpy(*out, buf, n);
		(*out)[n] = '\0';
		*outlen = n;
	}
	loadfile_free(buf, len);
	return *out != NULL ? 0 : -1;
}

void
loadfile_free(char *buf, size_t len)
{
	if (buf == NULL)
		return;
	explicit_bzero(buf, len + 1);
	free(buf);
}
