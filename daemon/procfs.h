/*
 * /proc parsers (pure: buffers in, structs out) and a thin reader over a procfs
 * directory fd.  Parsers never touch fds; readers never interpret bytes.
 */
#ifndef PIDCAR_PROCFS_H
#define PIDCAR_PROCFS_H

#include <sys/types.h>
#include <stddef.h>

/* Fields of /proc/PID/stat that pidcar uses (proc(5) numbering in comments). */
struct proc_stat {
	pid_t		 pid;		/* (1) */
	char		 comm[64];	/* (2) raw bytes between the first '(' and the last ')' */
	char		 state;		/* (3) */
	pid_t		 ppid;		/* (4) */
	unsigned long long utime;	/* (14) ticks */
	unsigned long long stime;	/* (15) */
	unsigned long long cutime;	/* (16) */
	unsigned long long cstime;	/* (17) */
	long		 num_threads;	/* (20) */
	unsigned long long starttime;	/* (22) ticks since boot */
	unsigned long long vsize;	/* (23) bytes */
	long long	 rss_pages;	/* (24) */
	int		 exit_code;	/* (52) wait status; -1 when absent */
};

struct proc_io {
	long long	 read_bytes;	/* "read_bytes:" */
	long long	 write_bytes;	/* "write_bytes:" */
	long long	 rchar;
	long long	 wchar;
};

struct proc_status {
	long long	 uid[4];	/* real, effective, saved, fs */
	long long	 gid[4];
	long		 threads;
	pid_t		 ppid;
	char		 state;
};

/* Parses a stat line; comm may hold spaces, ')' and newlines.  Returns 0, or -1 on garbage. */
int	procfs_parse_stat(const char *buf, size_t len, struct proc_stat *out);
/* Parses /proc/PID/io; missing keys stay -1.  Returns 0, -1 on garbage. */
int	procfs_parse_io(const char *buf, size_t len, struct proc_io *out);
/* Parses Uid, Gid, Threads, PPid and State of /proc/PID/status.  Returns 0 or -1. */
int	procfs_parse_status(const char *buf, size_t len, struct proc_status *out);
/* Parses "btime N" from /proc/stat into *btime (seconds since the epoch).  0 or -1. */
int	procfs_parse_btime(const char *buf, size_t len, unsigned long long *btime);
/* Parses /proc/sys/kernel/ns_last_pid (a decimal and a newline).  0 or -1. */
int	procfs_parse_pid(const char *buf, size_t len, pid_t *out);
/* Counts the NUL-terminated arguments in a cmdline buffer (a missing final NUL counts one more). */
size_t	procfs_cmdline_argc(const char *buf, size_t len);

/*
 * Readers over dirfd, an open procfs root (O_DIRECTORY).  Each returns 0, or -1
 * with errno set; ENOENT and ESRCH mean the process vanished and are not errors
 * worth a log line.  Readers use one static buffer: the daemon is single-threaded.
 */
int	procfs_read_stat(int dirfd, pid_t, struct proc_stat *);
int	procfs_read_io(int dirfd, pid_t, struct proc_io *);
int	procfs_read_status(int dirfd, pid_t, struct proc_status *);
/* *out is a malloc'd NUL-separated copy the caller frees; *len excludes the final NUL added. */
int	procfs_read_cmdline(int dirfd, pid_t, char **out, size_t *len);
/* *out is a malloc'd path the caller frees (" (deleted)" kept as the kernel gives it). */
int	procfs_read_exe(int dirfd, pid_t, char **out);
/* Number of open fds: st_size of PID/fd on 6.2+, else a count of its entries. */
int	procfs_count_fds(int dirfd, pid_t, long long *out);
/* Effective uid and gid of the process, from the owner of its PID directory. */
int	procfs_owner(int dirfd, pid_t, long long *uid, long long *gid);
/* Reads a whole small file relative to dirfd into a malloc'd NUL-terminated buffer. */
int	procfs_read_file(int dirfd, const char *path, char **out, size_t *len);

/* True when errno says the process is simply gone. */
#define PROCFS_VANISHED(e)	((e) == ENOENT || (e) == ESRCH)

#endif
