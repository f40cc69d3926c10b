/*
 * libFuzzer target: the agent-mode netlink decoders, the proc connector's and
 * taskstats', over the same bytes (a kernel message is 4-byte aligned, as
 * libFuzzer's buffer is), and the per-CPU loss counting fed by what decodes.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cnproc.h"
#include "taskstats.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cn_event		 ev;
	struct ts_record	 ts;
	struct cn_seq		 seq;

	memset(&seq, 0, sizeof(seq));
	if (cnproc_decode(data, size, &ev) == 0) {
		if (memchr(ev.comm, '\0', sizeof(ev.comm)) == NULL)
			__builtin_trap();
		cnproc_seq_gap(&seq, ev.cpu, ev.seq);
		if (cnproc_seq_gap(&seq, ev.cpu, ev.seq + 1) != 0)
			__builtin_trap();
	}
	if (taskstats_decode(data, size, &ts) == 0 &&
	    memchr(ts.comm, '\0', sizeof(ts.comm)) == NULL)
		__builtin_trap();
	return 0;
}
