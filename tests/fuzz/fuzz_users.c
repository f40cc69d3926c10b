/* libFuzzer target: passwd(5) parsing and both lookups over what it kept. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "users.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long long	 uids[] = { 0, 1, 65534, 4242, -1, 4294967295LL };
	struct users		*u = users_parse((const char *)data, size);
	const char		*name;
	size_t			 i;

	for (i = 0; i < sizeof(uids) / sizeof(uids[0]); i++) {
		/* A name found for a uid must map back to some uid. */
		if ((name = users_name(u, uids[i])) != NULL &&
		    users_uid(u, name) < 0)
			__builtin_trap();
	}
	users_uid(u, "root");
	users_uid(u, "");
	users_count(u);
	users_free(u);
	return 0;
}
