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

/* Wipe buf[0..len] (secrets) and free it; buf may be NULL. */
void	loadfile_free(char *buf, size_t len);

#endif
