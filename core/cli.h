/*
 * What the command-line tools (parley history, parley token) share: their exit status for a
 * wrong command line and the one line that says what was wrong.
 */
#ifndef PL_CLI_H
#define PL_CLI_H

#define PL_EXIT_USAGE 2 /* the exit status of a wrong command line */

/*
 * Prints "parley COMMAND: <message> (see parley COMMAND --help)" to stderr. Returns
 * PL_EXIT_USAGE.
 */
int pl_cli_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
