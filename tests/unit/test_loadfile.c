/*
 * test_loadfile: the one loader, on real files in a fresh directory:
 * contents, the size cap, modes, and what is not a regular file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadfile.h"

static char	dir[] = "/tmp/test_loadfile.XXXXXX";
static char	path[256];

/* dir/name holding s[0..n) with mode; its path in path[]. */
static const char *
put(const char *name, const char *s, size_t n, mode_t mode)
{
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, s, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	return path;
}

static int
setup(void **state)
{
	(void)state;
	return mkdtemp(dir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_reads_whole(void **state)
{
	char	*buf, err[512];
	size_t	 len;

	(void)state;
	assert_int_equal(loadfile_read(put("a", "ab\0c\n", 5, 0644), 5, 0,
	    &buf, &len, err, sizeof(err)), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(buf, "ab\0c\n", 5);
	assert_int_equal(buf[5], '\0');		/* NUL after the bytes */
	loadfile_free(buf, len);
	/* Empty is a file too. */
	assert_int_equal(loadfile_read(put("e", "", 0, 0600), 5, 0, &buf,
	    &len, err, sizeof(err)), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	loadfile_free(buf, len);
	loadfile_free(NULL, 0);
}

static void
test_size_cap(void **state)
{
	char	*buf = (char *)1, err[512], want[400];
	size_t	 len;

	(void)state;
	assert_int_equal(loadfile_read(put("big", "123456", 6, 0600), 5, 0,
	    &buf, &len, err, sizeof(err)), -1);
	assert_null(buf);
	snprintf(want, sizeof(want), "%s: larger than 5 bytes", path);
	assert_string_equal(err, want);
	assert_int_equal(loadfile_read(path, 0, 0, &buf, &len, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "larger than 0 bytes"));
	/* Exactly at the cap is fine. */
	assert_int_equal(loadfile_read(path, 6, 0, &buf, &len, err,
	    sizeof(err)), 0);
	loadfile_free(buf, len);
}

static void
test_cap_words(void **state)
{
	char	 big[2049], *buf, err[512];
	size_t	 len;

	(void)state;
	memset(big, 'x', sizeof(big));
	put("2k", big, sizeof(big), 0600);
	assert_int_equal(loadfile_read(path, 2048, 0, &buf, &len, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, ": larger than 2 KiB"));
}

static void
test_modes(void **state)
{
	char	*buf, err[512], want[400];
	size_t	 len;

	(void)state;
	put("s", "secret\n", 7, 0640);
	assert_int_equal(loadfile_read(path, 64, LOADFILE_PRIVATE, &buf, &len,
	    err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: readable by group or others (mode "
	    "640); chmod 600 it", path);
	assert_string_equal(err, want);
	/* 640 is fine where only others are refused (htpasswd). */
	assert_int_equal(loadfile_read(path, 64, LOADFILE_NO_OTHER, &buf, &len,
	    err, sizeof(err)), 0);
	loadfile_free(buf, len);
	put("s", "secret\n", 7, 0604);
	assert_int_equal(loadfile_read(path, 64, LOADFILE_NO_OTHER, &buf, &len,
	    err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: readable by others (mode 604); "
	    "chmod 640 it", path);
	assert_string_equal(err, want);
	/* Write or execute bits count as access too. */
	put("s", "secret\n", 7, 0610);
	assert_int_equal(loadfile_read(path, 64, LOADFILE_PRIVATE, &buf, &len,
	    err, sizeof(err)), -1);
	put("s", "secret\n", 7, 0400);
	assert_int_equal(loadfile_read(path, 64, LOADFILE_PRIVATE, &buf, &len,
	    err, sizeof(err)), 0);
	loadfile_free(buf, len);
}

static void
test_text(void **state)
{
	char	*buf, err[512], want[400];
	size_t	 len;

	(void)state;
	put("t", "a\0b", 3, 0600);
	assert_int_equal(loadfile_read(path, 64, LOADFILE_TEXT, &buf, &len,
	    err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: contains a NUL byte", path);
	assert_string_equal(err, want);
}

static void
test_not_regular(void **state)
{
	char	*buf, err[512], want[400];
	size_t	 len;

	(void)state;
	/* A directory, a FIFO nobody writes to (must not hang), nothing. */
	assert_int_equal(loadfile_read(dir, 64, 0, &buf, &len, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	assert_string_equal(err, want);
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(loadfile_read(path, 64, 0, &buf, &len, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file", path);
	assert_string_equal(err, want);
	assert_int_equal(loadfile_read("/dev/null", 64, 0, &buf, &len, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "/dev/null: not a regular file");
	snprintf(path, sizeof(path), "%s/absent", dir);
	assert_int_equal(loadfile_read(path, 64, 0, &buf, &len, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
}

/* secret(how, min, max) of s[0..n) at mode 600: the secret or NULL. */
static char *
secret(const char *s, size_t n, unsigned how, size_t min, size_t max,
    size_t *len, char *err, size_t errlen)
{
	static char	 junk[] = "x";
	char		*out = junk;

	if (loadfile_secret(put("s", s, n, 0600), min, max, how, &out, len,
	    err, errlen) == -1) {
		assert_null(out);
		return NULL;
	}
	assert_int_equal(out[*len], '\0');
	return out;
}

static void
test_secret(void **state)
{
	char	*v, err[512], want[600];
	size_t	 len;

	(void)state;
	/* Whole: trailing line ends go, line ends inside stay. */
	v = secret("0123456789abcdef\r\n\n", 19, 0, 16, 20, &len, err,
	    sizeof(err));
	assert_non_null(v);
	assert_int_equal(len, 16);
	assert_memory_equal(v, "0123456789abcdef", 16);
	loadfile_free(v, len);
	v = secret("01234567\n89abcdef\n", 18, 0, 16, 20, &len, err,
	    sizeof(err));
	assert_non_null(v);
	assert_int_equal(len, 17);
	loadfile_free(v, len);
	assert_null(secret("short\n", 6, 0, 16, 20, &len, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: the key must be 16 to 20 bytes",
	    path);
	assert_string_equal(err, want);
	/* max bytes and "\r\n" fit; one byte more does not. */
	v = secret("0123456789abcdefghij\r\n", 22, 0, 16, 20, &len, err,
	    sizeof(err));
	assert_non_null(v);
	assert_int_equal(len, 20);
	loadfile_free(v, len);
	assert_null(secret("0123456789abcdefghijk", 21, 0, 16, 20, &len, err,
	    sizeof(err)));
	/* One line: a line end inside is refused. */
	v = secret("tok\r\n", 5, LOADFILE_SECRET_LINE, 1, 8, &len, err,
	    sizeof(err));
	assert_non_null(v);
	assert_string_equal(v, "tok");
	loadfile_free(v, len);
	assert_null(secret("to\nk\n", 5, LOADFILE_SECRET_LINE, 1, 8, &len,
	    err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: want one line of 1 to 8 bytes",
	    path);
	assert_string_equal(err, want);
	assert_null(secret("\n", 1, LOADFILE_SECRET_LINE, 1, 8, &len, err,
	    sizeof(err)));
	/* First line: the rest is ignored; an empty one is refused. */
	v = secret("user pw\r\nmore\n", 14, LOADFILE_SECRET_FIRST, 1, 64,
	    &len, err, sizeof(err));
	assert_non_null(v);
	assert_string_equal(v, "user pw");
	assert_int_equal(len, 7);
	loadfile_free(v, len);
	assert_null(secret("\npw\n", 4, LOADFILE_SECRET_FIRST, 1, 64, &len,
	    err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: empty first line", path);
	assert_string_equal(err, want);
	/* A secret is private: 644 is refused, with loadfile_read's words. */
	put("s", "0123456789abcdef", 16, 0644);
	v = err;
	assert_int_equal(loadfile_secret(path, 16, 20, 0, &v, &len, err,
	    sizeof(err)), -1);
	assert_null(v);
	assert_non_null(strstr(err, "readable by group or others"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_whole),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_cap_words),
		cmocka_unit_test(test_modes),
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_secret),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
