/*
 * record_fmt: websockify's --record format, pure. A record file is a
 * JavaScript array that noVNC's playback page reads:
 *
 *   var VNC_frame_data = [
 *   '{MS{DATA',          bytes to the client (from the backend)
 *   '}MS}DATA',          bytes from the client (to the backend)
 *   'EOF'];
 *
 * MS is milliseconds since the session's upgrade; DATA is the bytes as
 * Python's latin1 -> unicode_escape makes them, with ' escaped: printable
 * ASCII as itself, \\ \t \n \r, every other byte \xhh (lower case hex),
 * and \'.
 */
#ifndef RECORD_FMT_H
#define RECORD_FMT_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_FMT_HEAD	"var VNC_frame_data = [\n"
#define RECORD_FMT_TAIL	"'EOF'];\n"
/* Worst case of record_fmt_escape(): 4 bytes out per byte in. */
#define RECORD_FMT_MAX(n)	((n) * 4)

/*
 * Escape p[0..n) into out, which has room for RECORD_FMT_MAX(n) bytes (no
 * NUL is written). Returns the bytes written.
 */
size_t	record_fmt_escape(const uint8_t *p, size_t n, char *out);

/* How many bytes record_fmt_escape() writes for p[0..n). */
size_t	record_fmt_escaped_len(const uint8_t *p, size_t n);

/*
 * The start of one entry, "'{MS{" (to_client) or "'}MS}", into out (at
 * least 32 bytes). Returns its length. The entry ends with "',\n".
 */
size_t	record_fmt_open(char *out, int to_client, uint64_t ms);

#endif
