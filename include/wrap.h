/*
 * wrap: websockify's "PORT -- WRAP_COMMAND_LINE" as gateway.conf says it
 * (wrap_command, wrap_mode, wrap_port, wrap_private_port). wsgate starts
 * the program with rebind.so preloaded, so that its bind() of wrap_port
 * lands on 127.0.0.1:wrap_private_port, where a route's backend points;
 * when it exits, wsgate exits too (wrap_mode = exit, with its status),
 * carries on (ignore) or starts it again (respawn, at most 3 times in
 * 10 s, as websockify).
 */
#ifndef WRAP_H
#define WRAP_H

#include "config.h"

struct event_base;

/*
 * Start cfg's wrap_command, if any, watched from base (worker 0's).
 * stop is called once when wrap_mode = exit and the program has exited.
 * Returns 0, or -1 if it could not be started (logged).
 */
int	wrap_start(struct event_base *base, const struct config *cfg,
	    void (*stop)(const char *why));

/* At exit: end the program (TERM to its process group, then KILL). */
void	wrap_stop(void);

/* The status to exit with: the program's, once wrap_mode = exit saw it
 * exit; else 0. */
int	wrap_exit_status(void);

/*
 * Split cmd into words (blanks separate; "double" quotes with \" and \\,
 * 'single' quotes verbatim; no shell). Returns a NULL-terminated vector in
 * one allocation (free()), or NULL on bad quoting or out of memory.
 */
char	**wrap_split(const char *cmd);

#endif
