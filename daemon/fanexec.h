/*
 * Exec paths from fanotify FAN_OPEN_EXEC (sidecar, with CAP_SYS_ADMIN): a pure
 * decoder of the event buffer, and a thin shell that marks the filesystem of
 * the target's root and gives each exec's binary to the table (kernel.md §12.3).
 */
#ifndef PIDCAR_FANEXEC_H
#define PIDCAR_FANEXEC_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

/* One decoded event. */
struct fan_event {
	uint64_t	 mask;		/* FAN_OPEN_EXEC, FAN_Q_OVERFLOW, ... */
	int		 fd;		/* the opened file, or -errno (FAN_REPORT_FD_ERROR), or FAN_NOFD */
	pid_t		 pid;		/* in the reader's PID namespace; 0 for outsiders */
	int		 overflow;	/* FAN_Q_OVERFLOW: events were lost */
};

/*
 * Decodes the event at *off of a read(2) buffer of len bytes and advances
 * *off.  Returns 1 with *ev set, 0 at the end, -1 when the buffer is malformed
 * (the caller must then close no fd from its rest).
 */
int	fanexec_next(const void *buf, size_t len, size_t *off, struct fan_event *ev);
/* Whether path names an ELF interpreter (ld-linux*, ld-musl*, ld.so*): not the exe. */
int	fanexec_is_interp(const char *path);

struct daemon;
struct fanexec;

/*
 * fanotify_init and a FAN_OPEN_EXEC filesystem mark on root (e.g.
 * "/proc/1/root/"), before privileges are dropped.  NULL with errno (EPERM
 * without CAP_SYS_ADMIN).
 */
struct fanexec	*fanexec_open(const char *root);
/* Reads events on d->base and fills the exe of the table's processes. */
void		 fanexec_start(struct fanexec *, struct daemon *);
/* Closes the group; NULL is a no-op. */
void		 fanexec_free(struct fanexec *);

#endif
