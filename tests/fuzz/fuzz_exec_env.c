/* exec_env: the input is a request head (any bytes) with the target its
 * first data[0] bytes; every entry built must be NAME=VALUE with a name
 * of [A-Z0-9_] and no NUL inside; argv parsing of the same bytes must
 * give a vector or an error, never both or neither. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "exec_env.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct exec_env_req r = { 0 };
	char **env, **argv, *s, err[128];
	size_t i, j, tl;

	if (size < 1)
		return 0;
	tl = data[0] < size - 1 ? data[0] : size - 1;
	r.remote_addr = "::1";
	r.remote_port = "1";
	r.target = (const char *)data + 1;
	r.target_len = tl;
	r.script_name = "/x";
	r.unique_id = "1";
	r.software = "wsgate";
	r.head = (const char *)data + 1;
	r.head_len = size - 1;
	if ((env = exec_env_build(&r, NULL, 0, NULL)) == NULL)
		abort();
	for (i = 0; env[i] != NULL; i++) {
		for (j = 0; env[i][j] != '=' ; j++)
			if (env[i][j] == '\0' || !((env[i][j] >= 'A' &&
			    env[i][j] <= 'Z') || (env[i][j] >= '0' &&
			    env[i][j] <= '9') || env[i][j] == '_'))
				abort();
	}
	free(env);
	if ((s = malloc(size)) == NULL)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	err[0] = '\0';
	argv = exec_argv_parse(s, err, sizeof(err));
	if ((argv == NULL) == (err[0] == '\0'))
		abort();
	free(argv);
	free(s);
	return 0;
}
