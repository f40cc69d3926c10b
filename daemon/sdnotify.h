/*
 * The systemd notification protocol without libsystemd: READY=1 once the
 * first scan is done, WATCHDOG=1 from the loop, RELOADING=1 around SIGHUP,
 * STOPPING=1 at the end.  Nothing happens without NOTIFY_SOCKET.
 */
#ifndef PIDCAR_SDNOTIFY_H
#define PIDCAR_SDNOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct daemon;
struct sdnotify;

/*
 * Parses NOTIFY_SOCKET: a path, or '@' for the abstract namespace.  Fills
 * addr (a struct sockaddr_un, addrsize bytes) and returns its length for
 * connect/sendto, or -1 when the value is no usable address (pure).
 */
int		 sdnotify_parse_addr(const char *value, void *addr,
		    size_t addrsize);
/*
 * The watchdog period from WATCHDOG_USEC and WATCHDOG_PID (pid is ours):
 * microseconds, 0 when no watchdog is asked of this process (pure).
 */
uint64_t	 sdnotify_watchdog_usec(const char *usec, const char *wpid,
		    long pid);
/*
 * Starts notifying on d->base when NOTIFY_SOCKET is set: READY=1 when
 * d->ready turns 1, WATCHDOG=1 every half watchdog period, RELOADING=1 and
 * READY=1 around each SIGHUP.  Unsets the NOTIFY_SOCKET and WATCHDOG_*
 * variables.  Returns the notifier (free with sdnotify_free), or NULL when
 * there is nothing to notify (not an error).
 */
struct sdnotify	*sdnotify_start(struct daemon *d);
/* Sends STOPPING=1, frees every event; NULL is a no-op. */
void		 sdnotify_free(struct sdnotify *);

#endif
