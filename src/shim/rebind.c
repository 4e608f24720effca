/*
 * rebind.so: LD_PRELOADed into a program that wsgate wraps (websockify's
 * "-- WRAP_COMMAND_LINE"). When the program binds TCP port
 * REBIND_OLD_PORT, on any address, the socket is bound to loopback port
 * REBIND_NEW_PORT instead: wsgate listens on the old port and relays to
 * the new one, so the program's clients reach it through wsgate only.
 * IPv6 sockets are bound to ::ffff:127.0.0.1 (IPV6_V6ONLY off), so the
 * program's port is on 127.0.0.1 whatever family it uses.
 *
 * Written for wsgate (after the idea of websockify's rebind.c); it is not
 * part of the daemon and is never built with sanitizers, since it runs
 * inside the wrapped program.
 */
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

typedef int rebind_bind_fn(int, const struct sockaddr *, socklen_t);

int	bind(int, const struct sockaddr *, socklen_t);

/* A port from the environment, or 0. */
static unsigned
rebind_port(const char *name)
{
	const char	*v = getenv(name);
	char		*end;
	unsigned long	 n;

	if (v == NULL || *v == '\0')
		return 0;
	n = strtoul(v, &end, 10);
	return *end == '\0' && n > 0 && n < 65536 ? (unsigned)n : 0;
}

int
bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	static rebind_bind_fn	*real;
	struct sockaddr_in	 in4;
	struct sockaddr_in6	 in6;
	unsigned		 from, to;
	int			 off = 0;

	if (real == NULL &&
	    (real = (rebind_bind_fn *)dlsym(RTLD_NEXT, "bind")) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	from = rebind_port("REBIND_OLD_PORT");
	to = rebind_port("REBIND_NEW_PORT");
	if (from == 0 || to == 0 || sa == NULL)
		return real(fd, sa, len);
	if (sa->sa_family == AF_INET && len >= sizeof(in4)) {
		memcpy(&in4, sa, sizeof(in4));
		if (ntohs(in4.sin_port) != from)
			return real(fd, sa, len);
		in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		in4.sin_port = htons((unsigned short)to);
		return real(fd, (struct sockaddr *)&in4, sizeof(in4));
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(in6)) {
		memcpy(&in6, sa, sizeof(in6));
		if (ntohs(in6.sin6_port) != from)
			return real(fd, sa, len);
		memset(&in6.sin6_addr, 0, sizeof(in6.sin6_addr));
		in6.sin6_addr.s6_addr[10] = 0xff;
		in6.sin6_addr.s6_addr[11] = 0xff;
		in6.sin6_addr.s6_addr[12] = 127;
		in6.sin6_addr.s6_addr[15] = 1;
		in6.sin6_port = htons((unsigned short)to);
		in6.sin6_scope_id = 0;
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		    sizeof(off));
		return real(fd, (struct sockaddr *)&in6, sizeof(in6));
	}
	return real(fd, sa, len);
}
