/* libFuzzer driver for cli_ws_parse() and cli_ws_render(): NUL-separated
 * arguments; rendered text keeps to gateway.conf's line limit, and the
 * config parser finds no line or key in it malformed (values it may
 * refuse: they came from the fuzzer). */
#include <stdlib.h>
#include <string.h>
#include "cli_websockify.h"
#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*argv[64] = { "websockify" }, *p, *line;
	char		*buf, *text, err[512], cerr[4096];
	struct cli_ws	 o;
	struct config	*cfg;
	int		 argc = 1;

	if ((buf = malloc(size + 1)) == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (p = buf; argc < 63 && p < buf + size; p += strlen(p) + 1)
		argv[argc++] = p;
	if (cli_ws_parse(argc, argv, &o, err, sizeof(err)) == 0 &&
	    (text = cli_ws_render(&o, "/", NULL, 0, err, sizeof(err))) != NULL) {
		for (line = text; *line != '\0'; line += strcspn(line, "\n") + 1)
			if (strcspn(line, "\n") > 199)
				abort();
		if (config_parse_string(text, "c", &cfg, cerr, sizeof(cerr)) == 0)
			config_free(cfg);
		else
			for (line = cerr; *line != '\0';
			    line += strcspn(line, "\n") + (line[strcspn(line,
			    "\n")] != '\0')) {
				p = line + 2 + strspn(line + 2, "0123456789");
				if (strncmp(p, ": expected", 10) == 0 ||
				    strncmp(p, ": unknown key", 13) == 0)
					abort();
			}
		free(text);
	}
	free(buf);
	return 0;
}
