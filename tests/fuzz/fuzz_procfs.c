/*
 * libFuzzer target: every /proc parser over the same bytes (stat, io, status,
 * the btime of /proc/stat, ns_last_pid, cmdline argument counting).
 */
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "procfs.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*buf = (const char *)data;
	struct proc_stat	 st;
	struct proc_io		 io;
	struct proc_status	 status;
	unsigned long long	 btime;
	pid_t			 pid;
	size_t			 argc;

	if (procfs_parse_stat(buf, size, &st) == 0) {
		/* comm is a C string inside its array, whatever the input held. */
		if (memchr(st.comm, '\0', sizeof(st.comm)) == NULL)
			__builtin_trap();
	}
	procfs_parse_io(buf, size, &io);
	procfs_parse_status(buf, size, &status);
	procfs_parse_btime(buf, size, &btime);
	if (procfs_parse_pid(buf, size, &pid) == 0 && pid < 0)
		__builtin_trap();
	argc = procfs_cmdline_argc(buf, size);
	if (argc > size)
		__builtin_trap();
	return 0;
}
