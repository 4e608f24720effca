/*
 * exec: process backends (backend = exec:PROGRAM ARG...). A process per
 * session in a process group of its own, its stdin and stdout one end of
 * a socket pair (the session's backend leg, a plain bufferevent socket),
 * its stderr read line by line into the log with the session id.
 *
 * Exit is seen through a pidfd on the worker's own event loop (no SIGCHLD
 * handler, no blocking wait, no hand-off between workers: each worker
 * reaps only its own children). When the session lets go, the group gets
 * SIGTERM, then SIGKILL after the route's exec_kill_timeout; the process
 * object outlives the session until the group is gone, never longer.
 */
#ifndef EXEC_H
#define EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct gw_worker;
struct gw_gen;
struct config_route;
struct config_addr;
struct exec_proc;

/* Called once when the program exits while a session holds it; status as
 * from waitid() (si_code CLD_EXITED: exit status, else the signal). */
typedef void exec_exit_fn(void *arg, int code, int status);

/*
 * Count one process more for route ri of gen against max_processes,
 * counted per route path across configuration generations (a reload does
 * not reset it; the limit read is gen's). Any thread. Returns 0 (a slot is held: pass it to exec_spawn, or give it back with
 * exec_unadmit) or -1 when the route is full (or out of memory).
 */
int	exec_admit(struct gw_gen *gen, size_t ri);
void	exec_unadmit(struct gw_gen *gen, size_t ri);

/*
 * Start backend a's program for session sid of worker w, with environment
 * envp (kept by the caller). Takes the slot exec_admit() gave for route ri
 * of gen (given back when the process object is freed, or here on
 * failure) and a reference on gen. On success returns the process and
 * *fd, our end of the socket pair (non-blocking, close-on-exec; the
 * caller owns it); on failure NULL with a reason in err (logged by the
 * caller).
 */
struct exec_proc *exec_spawn(struct gw_worker *w, struct gw_gen *gen,
	    size_t ri, const struct config_addr *a, char **envp, uint64_t sid,
	    int *fd, char *err, size_t errlen);

/* Call cb(arg, ...) when the program exits (at most once, never after
 * exec_release()). */
void	exec_watch(struct exec_proc *p, exec_exit_fn *cb, void *arg);

/* Send sig to the process group now (a session that saw the program exit
 * ends its stragglers). */
void	exec_signal(struct exec_proc *p, int sig);

/*
 * The session lets go of p: SIGTERM to the group, SIGKILL after the
 * route's exec_kill_timeout, freed once the program is reaped and the
 * group empty. The callback is never called after this. NULL is fine.
 */
void	exec_release(struct exec_proc *p);

/* Worker w stops: SIGKILL every group of w, reap, free (blocks briefly:
 * at exit only). */
void	exec_free_all(struct gw_worker *w);

/* Processes alive (not yet reaped or group not empty) in every worker. */
uint64_t exec_count(void);

/* "exited with status 3", "killed by signal 9 (Killed)". */
void	exec_status_text(int code, int status, char *buf, size_t len);

#endif
