/*
 * libFuzzer target: the config file parser, from defaults, as a file and a
 * reload would see it.  Keywords that name files are kept inside an empty
 * directory ('/' becomes '_'), so no input can make it read a device or FIFO.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "redact.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static char	workdir[] = "/tmp/pidcar-fuzz-config.XXXXXX";

static void
remove_workdir(void)
{
	if (chdir("/") == 0)
		rmdir(workdir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(LOG_LVL_ERROR);
	if (mkdtemp(workdir) == NULL || chdir(workdir) == -1) {
		perror("fuzz_config: empty working directory");
		abort();
	}
	atexit(remove_workdir);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	*conf;
	char		*text, err[1024], cmd[] = "x\0--password=y";
	size_t		 i, outlen;
	int		 rc;

	if ((text = malloc(size == 0 ? 1 : size)) == NULL)
		return 0;
	for (i = 0; i < size; i++)
		text[i] = data[i] == '/' ? '_' : (char)data[i];
	conf = config_defaults();
	err[0] = '\0';
	rc = config_parse_buffer(conf, "fuzz.conf", text, size, err, sizeof(err));
	/* A rejected file always says where: "fuzz.conf:LINE: ...". */
	if (rc == -1 && strncmp(err, "fuzz.conf:", 10) != 0)
		__builtin_trap();
	if (rc == 0 && conf->redact != NULL)
		free(redact_apply(conf->redact, cmd, sizeof(cmd) - 1, &outlen));
	config_free(conf);
	free(text);
	return 0;
}
