/*
 * libFuzzer driver: config_parse_string over arbitrary bytes; on success,
 * route_match on a few paths and a round of route_backend.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "route.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const paths[] = { "/", "/a", "/a/", "/ab", "/vnc" };
	const struct config_route *r;
	struct config	*cfg;
	char		*text, err[512];
	size_t		 i;

	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	if (config_parse_string(text, "fuzz.conf", &cfg, err, sizeof(err)) == 0) {
		for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			if ((r = route_match(cfg, paths[i], strlen(paths[i]))))
				(void)route_backend(r, i, 0);
		config_free(cfg);
	}
	free(text);
	return 0;
}
