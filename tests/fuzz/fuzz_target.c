/* libFuzzer driver for target_parse_value() and target_allowed(): a value
 * parses to a sane target or to nothing, and the allow-list never lets a
 * socket path with "." / ".." components or a TCP target through a unix
 * rule. The first line is an allow_targets rule, the rest the value. */
#include <stdlib.h>
#include <string.h>
#include "target.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*s = (const char *)data, *nl, *why = NULL;
	struct token_target t;
	struct target_rules *rs;
	char		 rule[301], *rules[1] = { rule };
	size_t		 rl;
	bool		 ok;

	nl = memchr(s, '\n', size);
	rl = nl != NULL ? (size_t)(nl - s) : 0;
	if (rl >= sizeof(rule))
		return 0;
	memcpy(rule, s, rl);
	rule[rl] = '\0';
	if (nl != NULL) {
		size -= rl + 1;
		s = nl + 1;
	}
	if (target_parse_value(s, size, &t, &why) != 0) {
		if (why == NULL || t.host != NULL || t.path != NULL)
			abort();
		return 0;
	}
	if (t.kind == TOKEN_FILE_TCP ? t.host == NULL || t.port == 0 ||
	    t.path != NULL : t.path == NULL || t.path[0] != '/' ||
	    t.host != NULL)
		abort();
	if (target_rule_check(rule, &why) == 0) {
		if (target_rules_new(rules, 1, &rs) == -1)
			abort();
		ok = target_allowed(&t, rs);
		target_rules_free(rs);
		if (ok && t.kind == TOKEN_FILE_UNIX &&
		    (strstr(t.path, "/../") != NULL ||
		    strncmp(rule, "unix:", 5) != 0))
			abort();
		if (ok && t.kind == TOKEN_FILE_TCP && strncmp(rule, "unix:", 5) == 0)
			abort();
	}
	target_clear(&t);
	return 0;
}
