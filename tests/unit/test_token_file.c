/*
 * Unit tests for token_file: websockify "token: host:port" files.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "token_file.h"

static char	 tmpdir[64];

static struct token_map *
parse(const char *text)
{
	struct token_map *m = NULL;
	char		 err[512];
	char		*copy = malloc(strlen(text) + 1);	/* exact size */

	assert_non_null(copy);
	memcpy(copy, text, strlen(text));
	if (token_file_parse_string(copy, strlen(text), "t", &m, err,
	    sizeof(err)) != 0)
		fail_msg("parse: %s", err);
	free(copy);
	return m;
}

/* The error for text, or "" when it parses. */
static const char *
parse_err(const char *text)
{
	static char	 err[512];
	struct token_map *m = NULL;

	if (token_file_parse_string(text, strlen(text), "t", &m, err,
	    sizeof(err)) == 0) {
		token_file_free(m);
		return "";
	}
	assert_null(m);
	return err;
}

static const struct token_target *
look(const struct token_map *m, const char *tok)
{
	return token_file_lookup(m, tok, strlen(tok));
}

static void
assert_tcp(const struct token_map *m, const char *tok, const char *host,
    unsigned port)
{
	const struct token_target *t = look(m, tok);

	if (t == NULL)
		fail_msg("token %s not found", tok);
	assert_int_equal(t->kind, TOKEN_FILE_TCP);
	assert_string_equal(t->host, host);
	assert_int_equal(t->port, port);
	assert_null(t->path);
}

static void
test_valid(void **state)
{
	struct token_map *m;
	const struct token_target *t;

	(void)state;
	m = parse("# websockify targets\n"
	    "\n"
	    "vm1: 10.0.0.5:5900\n"
	    "  vm2:   host.example.com:5901  \r\n"
	    "vm3:localhost:1\n"
	    "vm4: [2001:db8::7]:5902\n"
	    "vm5: ::1:5903\n"
	    "vm6: unix_socket:/run/vnc/vm6.sock\n"
	    "vm7: unix:/tmp/x y.sock\n"
	    "a:b: h_1:65535\n"
	    "\t# indented comment\n"
	    "UPPER\t: [::ffff:1.2.3.4]:7\n"
	    "last: h:8");		/* no final newline */
	assert_int_equal(token_file_count(m), 10);
	assert_tcp(m, "vm1", "10.0.0.5", 5900);
	assert_tcp(m, "vm2", "host.example.com", 5901);
	assert_tcp(m, "vm3", "localhost", 1);
	assert_tcp(m, "vm4", "2001:db8::7", 5902);
	assert_tcp(m, "vm5", "::1", 5903);
	assert_tcp(m, "a:b", "h_1", 65535);
	assert_tcp(m, "UPPER", "::ffff:1.2.3.4", 7);
	assert_tcp(m, "last", "h", 8);
	t = look(m, "vm6");
	assert_non_null(t);
	assert_int_equal(t->kind, TOKEN_FILE_UNIX);
	assert_string_equal(t->path, "/run/vnc/vm6.sock");
	assert_null(t->host);
	assert_string_equal(t->source, "t");
	assert_int_equal(t->line, 8);
	t = look(m, "vm7");
	assert_non_null(t);
	assert_string_equal(t->path, "/tmp/x y.sock");
	/* lookups are exact */
	assert_null(look(m, "vm"));
	assert_null(look(m, "vm10"));
	assert_null(look(m, "VM1"));
	assert_null(look(m, "upper"));
	assert_null(look(m, "vm1 "));
	assert_null(look(m, ""));
	assert_null(look(m, "a"));
	assert_null(token_file_lookup(m, "vm1\0", 4));
	assert_true(token_file_changed(m, "t"));	/* not from a file */
	token_file_free(m);
	token_file_free(NULL);

	m = parse("");
	assert_int_equal(token_file_count(m), 0);
	assert_null(look(m, "x"));
	token_file_free(m);
	m = parse("# only comments\n\n   \n\r\n");
	assert_int_equal(token_file_count(m), 0);
	token_file_free(m);
}

static void
test_many(void **state)
{
	struct token_map *m;
	char		*text = malloc(64 * 2000), tok[32];
	size_t		 n = 0, i;

	(void)state;
	for (i = 0; i < 2000; i++)
		n += (size_t)sprintf(text + n, "tok%zu: h%zu:%zu\n", i, i,
		    i + 1);
	m = parse(text);
	assert_int_equal(token_file_count(m), 2000);
	for (i = 0; i < 2000; i++) {
		char host[32];

		snprintf(tok, sizeof(tok), "tok%zu", i);
		snprintf(host, sizeof(host), "h%zu", i);
		assert_tcp(m, tok, host, (unsigned)i + 1);
	}
	assert_null(look(m, "tok2000"));
	token_file_free(m);
	free(text);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*text;
		const char	*err;
	} v[] = {
		{ "vm1 10.0.0.5 5900\n",
		  "t:1: expected \"token: host:port\"" },
		{ "a: h:1\n\nnocolon\n",
		  "t:3: expected \"token: host:port\"" },
		{ ": h:1\n", "t:1: empty token" },
		{ "  \t: h:1\n", "t:1: empty token" },
		{ "a b: h:1\n", "t:1: blank or control character in token" },
		{ "a\x01: h:1\n", "t:1: blank or control character in token" },
		{ "a: h\n", "t:1: target must be host:port or "
		  "unix_socket:/path" },
		{ "a:\n", "t:1: target must be host:port or "
		  "unix_socket:/path" },
		{ "a: h:0\n", "t:1: port must be 1..65535" },
		{ "a: h:65536\n", "t:1: port must be 1..65535" },
		{ "a: h:123456\n", "t:1: port must be 1..65535" },
		{ "a: h:-1\n", "t:1: port must be 1..65535" },
		{ "a: h:\n", "t:1: port must be 1..65535" },
		{ "a: h:5900x\n", "t:1: port must be 1..65535" },
		{ "a: :5900\n", "t:1: bad host name or address" },
		{ "a: h/x:5900\n", "t:1: bad host name or address" },
		{ "a: h x:5900\n", "t:1: bad host name or address" },
		{ "a: 1:2:3:5900\n", "t:1: bad host name or address" },
		{ "a: [::1:5900\n", "t:1: bad IPv6 address in brackets" },
		{ "a: [h]:5900\n", "t:1: bad IPv6 address in brackets" },
		{ "a: []:5900\n", "t:1: bad IPv6 address in brackets" },
		{ "a: [::1]5900\n", "t:1: expected [v6]:port" },
		{ "a: [::1]\n", "t:1: expected [v6]:port" },
		{ "a: [fe80::1%eth0]:1\n", "t:1: bad IPv6 address in brackets" },
		{ "a: unix_socket:run/x\n", "t:1: unix socket path must be "
		  "absolute" },
		{ "a: unix:\n", "t:1: unix socket path must be absolute" },
		{ "a: unix_socket:\n", "t:1: unix socket path must be "
		  "absolute" },
		{ "a: unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "t:1: unix socket path too long" },
		{ "a: h:1\nb: h:2\na: h:3\n",
		  "t:3: duplicate token (first at t:1)" },
		{ "x: h:1\n\n\nx :  unix:/s\n",
		  "t:4: duplicate token (first at t:1)" },
	};
	size_t	 i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (strcmp(parse_err(v[i].text), v[i].err) != 0)
			fail_msg("%zu: %s: got \"%s\", want \"%s\"", i,
			    v[i].text, parse_err(v[i].text), v[i].err);
}

static void
test_limits(void **state)
{
	char		 text[8192];
	struct token_map *m;
	char		 err[256];

	(void)state;
	/* 256-byte token fine, 257 not */
	memset(text, 'k', 256);
	strcpy(text + 256, ": h:1\n");
	m = parse(text);
	memset(text, 'k', 256);
	text[256] = '\0';
	assert_non_null(look(m, text));
	assert_null(token_file_lookup(m, text, 257));
	token_file_free(m);
	memset(text, 'k', 257);
	strcpy(text + 257, ": h:1\n");
	assert_string_equal(parse_err(text), "t:1: token longer than 256 "
	    "bytes");
	/* lines over 4096 bytes */
	memset(text, ' ', 5000);
	strcpy(text + 5000, "a: h:1\n");
	assert_string_equal(parse_err(text), "t:1: line longer than 4096 "
	    "bytes");
	/* NUL */
	memcpy(text, "a: h:1\nb\0: h:2\n", 15);
	assert_int_equal(token_file_parse_string(text, 15, "t", &m, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "t:2: NUL byte");
	/* a host name of 254 bytes */
	memcpy(text, "a: ", 3);
	memset(text + 3, 'h', 254);
	strcpy(text + 257, ":1\n");
	assert_string_equal(parse_err(text), "t:1: bad host name or address");
	text[3 + 253] = ':';
	strcpy(text + 257, "1\n");
	assert_string_equal(parse_err(text), "");
}

/* Error messages never contain the token. */
static void
test_no_token_in_errors(void **state)
{
	(void)state;
	assert_null(strstr(parse_err("s3cr3t-token: h:0\n"), "s3cr3t"));
	assert_null(strstr(parse_err("s3cr3t-token: h:1\ns3cr3t-token: h:2\n"),
	    "s3cr3t"));
}

/* ---- files ----------------------------------------------------------- */

static void
put(const char *name, const char *text)
{
	char	 path[256];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_token_file.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
teardown(void **state)
{
	char	 cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void
test_load_file(void **state)
{
	struct token_map *m;
	char		 err[512], path[256], want[512];

	(void)state;
	put("single", "vm1: 10.0.0.1:5900\n");
	snprintf(path, sizeof(path), "%s/single", tmpdir);
	assert_int_equal(token_file_load(path, &m, err, sizeof(err)), 0);
	assert_tcp(m, "vm1", "10.0.0.1", 5900);
	assert_string_equal(look(m, "vm1")->source, path);
	assert_false(token_file_changed(m, path));
	/* same size, new content, new mtime (or inode): changed */
	usleep(20000);
	put("single", "vm1: 10.0.0.2:5900\n");
	assert_true(token_file_changed(m, path));
	token_file_free(m);
	assert_int_equal(token_file_load(path, &m, err, sizeof(err)), 0);
	assert_tcp(m, "vm1", "10.0.0.2", 5900);
	assert_false(token_file_changed(m, path));
	unlink(path);
	assert_true(token_file_changed(m, path));
	token_file_free(m);

	assert_int_equal(token_file_load(path, &m, err, sizeof(err)), -1);
	assert_null(m);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(err, want);
	put("bad", "ok: h:1\nbad line\n");
	snprintf(path, sizeof(path), "%s/bad", tmpdir);
	assert_int_equal(token_file_load(path, &m, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: expected \"token: host:port\"",
	    path);
	assert_string_equal(err, want);
	unlink(path);
	assert_int_equal(token_file_load("/dev/null", &m, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "/dev/null: not a file or directory");
}

static void
test_load_directory(void **state)
{
	struct token_map *m;
	char		 err[512], dir[256], want[600];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/d", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	put("d/a.conf", "vm1: h1:1\nvm2: h2:2\n");
	put("d/b.conf", "# b\nvm3: unix_socket:/run/3.sock\n");
	put("d/.hidden", "vm1: evil:1\n");	/* would be a duplicate */
	put("d/b.conf~", "vm1: evil:1\n");
	snprintf(want, sizeof(want), "%s/sub", dir);
	assert_int_equal(mkdir(want, 0700), 0);	/* subdirectories skipped */
	assert_int_equal(token_file_load(dir, &m, err, sizeof(err)), 0);
	assert_int_equal(token_file_count(m), 3);
	assert_tcp(m, "vm1", "h1", 1);
	assert_tcp(m, "vm2", "h2", 2);
	assert_int_equal(look(m, "vm3")->kind, TOKEN_FILE_UNIX);
	snprintf(want, sizeof(want), "%s/b.conf", dir);
	assert_string_equal(look(m, "vm3")->source, want);
	assert_int_equal(look(m, "vm3")->line, 2);
	assert_false(token_file_changed(m, dir));
	/* a new file changes the directory */
	put("d/c.conf", "vm4: h4:4\n");
	assert_true(token_file_changed(m, dir));
	token_file_free(m);
	assert_int_equal(token_file_load(dir, &m, err, sizeof(err)), 0);
	assert_int_equal(token_file_count(m), 4);
	assert_false(token_file_changed(m, dir));
	/* editing a file in place changes it too */
	usleep(20000);
	put("d/c.conf", "vm4: h4:5\n");
	assert_true(token_file_changed(m, dir));
	token_file_free(m);
	/* duplicates across files name both places, in name order */
	put("d/c.conf", "# c\nvm2: other:9\n");
	assert_int_equal(token_file_load(dir, &m, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/c.conf:2: duplicate token (first at "
	    "%s/a.conf:2)", dir, dir);
	assert_string_equal(err, want);
	/* an error in one file names that file */
	put("d/c.conf", "vm9: h:99999\n");
	assert_int_equal(token_file_load(dir, &m, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s/c.conf:1: port must be 1..65535",
	    dir);
	assert_string_equal(err, want);
	/* empty directory: an empty map */
	snprintf(want, sizeof(want), "%s/sub", dir);
	assert_int_equal(token_file_load(want, &m, err, sizeof(err)), 0);
	assert_int_equal(token_file_count(m), 0);
	token_file_free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_many),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_no_token_in_errors),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_load_directory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
