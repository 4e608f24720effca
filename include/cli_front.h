/*
 * cli_front: main's hook for the websockify command line. Reads argv with
 * cli_websockify, answers --help, --version and --print-config itself
 * (exiting), and otherwise hands main the gateway.conf text to run.
 */
#ifndef CLI_FRONT_H
#define CLI_FRONT_H

#include <stdbool.h>

struct cli_front {
	char	*text;		/* gateway.conf text (malloc'd, main's) */
	bool	 foreground;	/* not -D */
	int	 verbose;	/* -v count */
	bool	 check;		/* -t: check and exit */
};

/*
 * If argv is a websockify command line (cli_ws_wanted), fill *f and return
 * true; notes for the user go to stderr. On a bad command line, prints
 * the error and exits 2; --help, --version and --print-config print and
 * exit 0. Returns false for wsgate's own form (f untouched).
 */
bool	cli_front_args(int argc, char **argv, struct cli_front *f);

#endif
