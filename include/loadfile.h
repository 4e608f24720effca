/*
 * loadfile: the one reader of files at load time (config, token files,
 * htpasswd, keys, secrets, password files). It opens without blocking
 * (a FIFO is refused, not waited on), takes regular files only, refuses
 * files over a size cap and, for secrets, files that group or others may
 * access (relayd's check_file_secrecy), then reads the whole file, one
 * byte more than fstat said, to notice a file that grows meanwhile.
 *
 * Links without libevent or OpenSSL; it does file I/O, nothing else.
 */
#ifndef LOADFILE_H
#define LOADFILE_H

#include <stddef.h>

#define LOADFILE_PRIVATE	0x1	/* refuse group/other access: 600 */
#define LOADFILE_NO_OTHER	0x2	/* refuse other access: 640 */
#define LOADFILE_TEXT		0x4	/* refuse a NUL byte */

/*
 * Read path whole (at most max bytes) into *buf, a malloc'd copy with a
 * NUL after its *len bytes. flags: LOADFILE_*. Returns 0; or -1 with
 * *buf NULL and err set to "PATH: reason" (errno's words, "not a regular
 * file", "larger than 16 MiB", "readable by group or others (mode 644);
 * chmod 600 it", ...). The caller owns *buf: free it with loadfile_free.
 */
int	loadfile_read(const char *path, size_t max, unsigned flags,
	    char **buf, size_t *len, char *err, size_t errlen);

#define LOADFILE_SECRET_LINE	0x1	/* one line: no '\n' inside */
#define LOADFILE_SECRET_FIRST	0x2	/* the first line; the rest ignored */

/*
 * The one reader of secret files (admin_token_file, token_id_key_file,
 * redis_password_file): a private file (LOADFILE_PRIVATE). how 0: the
 * whole file less its trailing line ends ('\n', '\r'), min..max bytes;
 * LOADFILE_SECRET_LINE: the same, and no '\n' left inside;
 * LOADFILE_SECRET_FIRST: its first line (up to the first '\r', '\n' or
 * NUL), at least min bytes, of a file of at most max bytes. Returns 0
 * with *out a malloc'd copy of the secret's *outlen bytes, a NUL after
 * them (the caller's: free it with loadfile_free(*out, *outlen)); or -1
 * with *out NULL and err set to "PATH: reason" (as loadfile_read, or
 * "want one line of 1 to 1024 bytes", "the key must be 16 to 1024
 * bytes", "empty first line", "out of memory").
 */
int	loadfile_secret(const char *path, size_t min, size_t max, unsigned how,
	    char **out, size_t *outlen, char *err, size_t errlen);

/* Wipe buf[0..len] (secrets) and free it; buf may be NULL. */
void	loadfile_free(char *buf, size_t len);

#endif
