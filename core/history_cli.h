/*
 * The operator command `parley history`: prints stored messages of a room, or a user's private
 * messages, straight from the database file, whether or not a server has it open. The file is
 * opened read-only and never written.
 */
#ifndef PL_HISTORY_CLI_H
#define PL_HISTORY_CLI_H

/*
 * Runs `parley history` with argv[0] being "history" and the command's arguments after it
 * (see `parley history --help`). Prints the messages to stdout and problems as one line on
 * stderr. Returns the exit status: 0, 1 when the database cannot be read, 2 for a wrong
 * command line.
 */
int pl_history_cli(int argc, char **argv);

#endif
