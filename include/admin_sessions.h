/*
 * admin_sessions: the operator's /sessions API on admin_listen.
 *
 *   GET    /sessions[?scope=fleet]   live sessions here (or in the fleet)
 *   DELETE /sessions/INSTANCE/ID     end one with 1008 "closed by operator",
 *                                    on whichever gateway holds it
 *   DELETE /sessions?token=T         end every one opened with token T,
 *                                    fleet-wide when there is a fleet
 *
 * Reads and mutations alike need "Authorization: Bearer <secret>" when
 * admin_token_file is set; without it they are open on a loopback
 * admin_listen only and answer 403 elsewhere. Answers are gathered from
 * every worker through registry mailboxes, never by reaching into
 * another worker's sessions.
 */
#ifndef ADMIN_SESSIONS_H
#define ADMIN_SESSIONS_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct evhttp;

/*
 * True when /sessions is safe as configured: admin_token_file is set, or
 * admin_listen is a loopback address (or off). wsgate -t warns otherwise.
 */
bool	admin_sessions_guarded(const struct config *cfg);

/*
 * Read admin_token_file of cfg, if set (mode 600, one line). For -t and
 * start. Returns 0, or -1 with a message in err.
 */
int	admin_sessions_load(const struct config *cfg, char *err,
	    size_t errlen);

/*
 * Serve /sessions on http (worker 0's). admin_sessions_load must have
 * succeeded and the registry be started.
 */
void	admin_sessions_setup(struct evhttp *http, const struct config *cfg);

/* Forget the secret (at exit). */
void	admin_sessions_stop(void);

#endif
