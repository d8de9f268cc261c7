/*
 * The operator command `parley token`: prints a signed token for a user, made with the secret
 * of the auth-token plugin's options in the configuration file, so that what it prints is what
 * a server with the same file accepts.
 */
#ifndef PL_TOKEN_CLI_H
#define PL_TOKEN_CLI_H

/*
 * Runs `parley token` with argv[0] being "token" and the command's arguments after it (see
 * `parley token --help`). Prints the token and a newline to stdout and problems as one line on
 * stderr. Returns the exit status: 0, 1 when the configuration holds no usable secret, 2 for a
 * wrong command line.
 */
int pl_token_cli(int argc, char **argv);

#endif
