/*
 * listener: one accept event per listen address (TCP v4/v6, Unix), handing
 * accepted sockets to session_new(). On EMFILE/ENFILE accepting pauses for
 * a second instead of spinning.
 */
#ifndef LISTENER_H
#define LISTENER_H

struct gw_worker;
struct config;

/*
 * Bind every listen address of cfg and attach them to w's event base. TCP
 * sockets are bound per worker with SO_REUSEPORT; Unix sockets are bound
 * once, by the first worker (first == NULL), and shared by the others
 * (first = that worker). Errors are logged, naming the address and the
 * config line. Returns 0, or -1 after closing whatever w opened.
 */
int	listener_open_all(struct gw_worker *w, const struct gw_worker *first,
	    const struct config *cfg);

/*
 * Reload: keep w's listeners that ncfg still lists (same address and
 * flags), close the others, open the new ones. Returns 0, or -1 if some
 * new address could not be opened (logged; the rest went ahead).
 */
int	listener_reload(struct gw_worker *w, const struct gw_worker *first,
	    const struct config *ncfg);

/* Stop accepting: close every listener of w, unlink Unix socket files. */
void	listener_close_all(struct gw_worker *w);

#endif
