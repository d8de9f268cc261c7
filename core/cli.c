/* The command-line tools' shared parts (see cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>

int pl_cli_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "parley %s: ", command);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, " (see parley %s --help)\n", command);
	va_end(ap);
	return PL_EXIT_USAGE;
}
