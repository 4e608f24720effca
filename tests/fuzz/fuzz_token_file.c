/* libFuzzer driver for token_file_parse_string(): errors name the file,
 * and every line's token, if listed, leads to a sane target. */
#include <stdlib.h>
#include <string.h>
#include "token_file.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data, *end = s + size, *nl, *c;
	const struct token_target *t;
	struct token_map *m;
	char		 err[512] = "";

	if (token_file_parse_string(s, size, "f", &m, err, sizeof(err)) != 0) {
		if (m != NULL || strncmp(err, "f:", 2) != 0)
			abort();
		return 0;
	}
	if (token_file_count(m) > size / 5)	/* "t:h:1" is the shortest */
		abort();
	for (; s < end; s = nl + 1) {
		if ((nl = memchr(s, '\n', (size_t)(end - s))) == NULL)
			nl = end;
		if ((c = memchr(s, ':', (size_t)(nl - s))) == NULL ||
		    (t = token_file_lookup(m, s, (size_t)(c - s))) == NULL)
			continue;
		if (t->kind == TOKEN_FILE_TCP ? t->host == NULL ||
		    t->port == 0 || t->path != NULL : t->path == NULL ||
		    t->path[0] != '/' || t->host != NULL || t->line == 0)
			abort();
	}
	token_file_free(m);
	return 0;
}
