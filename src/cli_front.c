/*
 * cli_front: see include/cli_front.h.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_front.h"
#include "cli_websockify.h"

#define CLI_FRONT_NOTES	2048

static void
cli_front_notes(const char *notes)
{
	const char	*p, *nl;

	for (p = notes; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			nl = p + strlen(p);
		fprintf(stderr, "wsgate: note: %.*s\n", (int)(nl - p), p);
		if (*nl == '\0')
			break;
	}
}

/*
 * A 127.0.0.1 port free right now, for the wrapped program (websockify
 * picks its REBIND_NEW_PORT the same way). 0 if none could be had.
 */
static unsigned
cli_front_free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	unsigned port = 0;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

bool
cli_front_args(int argc, char **argv, struct cli_front *f)
{
	struct cli_ws	 o;
	char		 err[512], notes[CLI_FRONT_NOTES], *cwd, *text;

	if (!cli_ws_wanted(argc, (const char *const *)argv))
		return false;
	if (cli_ws_parse(argc, (const char *const *)argv, &o, err, sizeof(err)) == -1) {
		fprintf(stderr, "wsgate: error: %s (--help lists the "
		    "options)\n", err);
		exit(2);
	}
	if (o.help) {
		fputs(cli_ws_usage(), stdout);
		exit(0);
	}
	if (o.version) {
		printf("wsgate %s\n", WSGATE_VERSION);
		exit(0);
	}
	if (o.wrap_argv != NULL)
		o.wrap_private_port = cli_front_free_port();
	cwd = getcwd(NULL, 0);
	text = cli_ws_render(&o, cwd, notes, sizeof(notes), err, sizeof(err));
	free(cwd);
	if (text == NULL) {
		fprintf(stderr, "wsgate: error: %s\n", err);
		exit(2);
	}
	if (o.print_config) {
		fputs(text, stdout);
		cli_front_notes(notes);
		free(text);
		exit(0);
	}
	cli_front_notes(notes);
	f->text = text;
	f->foreground = !o.daemon || o.foreground;
	f->verbose = o.verbose;
	f->check = o.check;
	return true;
}
