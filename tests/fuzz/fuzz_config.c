/*
 * Fuzzes the config file loader (core/config.c, pl_config_load_buffer): Lua text run in an
 * empty environment, bounded in instructions and memory, whose globals are validated into a
 * struct pl_config. A file that loads must leave values inside the documented limits; one that
 * does not must leave nothing behind once the config is closed (LeakSanitizer checks).
 */
#include "config.h"
#include "fuzz.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* the loader prints a line for each file it rejects: keep them out of libFuzzer's output
	 * (its reports and CHECK write to file descriptor 2, not through stderr) */
	FILE *null = fopen("/dev/null", "w");
	if (null)
		stderr = null;
	return 0;
}

/* True if the NULL-ended key/value list kv has whole pairs of strings. */
static bool pairs(char **kv)
{
	size_t n = 0;
	while (kv[n])
		n++;
	return n % 2 == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_copy(data, size);
	struct pl_config c;
	pl_config_init(&c);
	int rc = pl_config_load_buffer(&c, text, size, "fuzz.lua");
	free(text);
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		CHECK(c.port >= 0 && c.port <= 65535);
		CHECK(*c.host && *c.web_root && *c.db_path && *c.path);
		CHECK(c.log_level >= PL_LOG_ERROR && c.log_level <= PL_LOG_DEBUG);
		CHECK(c.app == PL_APP_CHAT || c.app == PL_APP_CONFORMANCE ||
		      c.app == PL_APP_ENGINE_ECHO);
		CHECK(c.n_namespaces <= PL_CONFIG_MAX_NSP);
		for (size_t i = 0; i < c.n_namespaces; i++)
			CHECK(c.namespaces[i][0] == '/' && !strchr(c.namespaces[i], ','));
		for (size_t i = 0; i < c.n_plugins; i++)
			CHECK(*c.plugins[i].path && c.plugins[i].name &&
			      pairs(c.plugins[i].options));
		for (size_t i = 0; i < c.n_plugin_opts; i++)
			CHECK(c.plugin_opts[i].name && pairs(c.plugin_opts[i].options));
		for (size_t i = 0; i < c.n_scripts; i++)
			CHECK(*c.scripts[i]);
		CHECK(!c.n_scripts || !c.scripts[c.n_scripts]);
	}
	pl_config_close(&c);
	return 0;
}
