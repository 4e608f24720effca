/*
 * leg_read: a plain socket bufferevent reads without libevent 2.1's
 * ioctl(FIONREAD) before every read (see src/leg_read.c).
 */
#ifndef LEG_READ_H
#define LEG_READ_H

struct bufferevent;

/*
 * Make bev, a socket bufferevent (bufferevent_socket_new) on a connected
 * stream socket or a pipe, read through leg_read.c instead of libevent's
 * bufferevent_readcb(). What libevent does around its read stays: the
 * callbacks set with bufferevent_setcb() before or after, EV_READ enabled
 * or not (kept as it was), a read timeout (bufferevent_set_timeouts) and
 * read watermarks (bufferevent_setwatermark), at most 4 KiB per wakeup;
 * EOF and errors disable reading, then the event callback gets
 * BEV_EVENT_READING with BEV_EVENT_EOF, BEV_EVENT_ERROR (errno set) or
 * BEV_EVENT_TIMEOUT. The callbacks run at once, never deferred: not for
 * a bufferevent made with BEV_OPT_DEFER_CALLBACKS, nor a rate-limited one
 * (its buckets are libevent's private state), nor OpenSSL or filter
 * bufferevents.
 *
 * Call it once the descriptor is final: bufferevent_setfd() and
 * bufferevent_socket_connect() re-arm libevent's own read event, so a
 * backend is handed over once connected. bev stays the caller's.
 */
void	leg_read_own(struct bufferevent *bev);

/*
 * Read bev now, as if its read event had fired (bev reads through
 * leg_read_own already, and reading is enabled): what the socket holds
 * goes to the callbacks at once, and with nothing there (EAGAIN) nothing
 * happens. For a socket that most likely holds bytes already (a client
 * that speaks first, just accepted): the loop turn that would announce
 * them is saved. The callbacks may free bev: the caller touches neither
 * bev nor what owns it afterwards.
 */
void	leg_read_now(struct bufferevent *bev);

#endif /* LEG_READ_H */
