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
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
