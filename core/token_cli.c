/*
 * `parley token` (see token_cli.h): reads the configuration file as the server does (the same
 * parser, so the same errors), takes the secret from the options of the plugin named
 * auth-token (inline in `plugins`, else `plugin_options`), builds the claims and signs them
 * with the token codec. The token is verified again before it is printed, so a claim the
 * server would refuse (too long a userid, too many rooms) is refused here, in the same words.
 */
#include "token_cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli.h"
#include "config.h"
#include "error.h"
#include "token.h"

#define PLUGIN_NAME	 "auth-token" /* whose options hold the secret */
#define DEFAULT_TTL	 3600	      /* seconds a token is valid */
#define MAX_TTL		 315360000LL  /* ten years */
#define EXIT_NO_SECRET	 1

/* What to sign, from the command line. */
struct request {
	const char *userid;		    /* sub */
	const char *name;		    /* name, or NULL */
	const char *config;		    /* the configuration file, or NULL */
	long long ttl;			    /* seconds until exp */
	const char *rooms[PL_TOKEN_MAX_ROOMS + 1]; /* rooms, one more to notice too many */
	size_t n_rooms;			    /* entries in rooms */
	bool help;			    /* --help */
};

static void usage(void)
{
	printf("Usage: parley token USERID [--name NAME] [--ttl SECONDS] [--room ROOM]...\n"
	       "                    --config FILE\n\n"
	       "Prints a token for USERID, signed with the secret of the auth-token plugin in\n"
	       "the configuration file (plugin_options = { [\"auth-token\"] = { secret = ... } }).\n"
	       "A client sends it in its CONNECT auth: io(url, { auth: { token } }).\n"
	       "  --name NAME      the display name the server gives the user\n"
	       "  --ttl SECONDS    how long the token is valid (default %d)\n"
	       "  --room ROOM      a private room the user may join (repeatable, at most %d)\n"
	       "  --config FILE    the server's configuration file\n"
	       "  --help           print this text\n"
	       "Exit status: 0; 1 when the configuration holds no usable secret; 2 for a wrong\n"
	       "command line.\n",
	       DEFAULT_TTL, PL_TOKEN_MAX_ROOMS);
}

/* Prints one line about a wrong command line; returns PL_EXIT_USAGE. */
#define usage_error(...) pl_cli_usage_error("token", __VA_ARGS__)

/* The value of option opt at argv[*i] ("--opt value" or "--opt=value"), or NULL if it is not
 * that option; *missing is set when the value is absent. */
static const char *value_of(const char *opt, int argc, char **argv, int *i, bool *missing)
{
	size_t n = strlen(opt);
	const char *a = argv[*i];
	if (strncmp(a, opt, n) != 0 || (a[n] && a[n] != '='))
		return NULL;
	if (a[n] == '=')
		return a + n + 1;
	if (*i + 1 >= argc) {
		*missing = true;
		return NULL;
	}
	return argv[++*i];
}

/* Fills r from argv. Returns 0, or PL_EXIT_USAGE after saying why. */
static int parse_args(struct request *r, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v;
		bool missing = false;
		if (a[0] != '-' || !a[1]) {
			if (r->userid)
				return usage_error("one USERID only, got '%s' and '%s'", r->userid, a);
			r->userid = a;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			r->help = true;
			return 0;
		} else if ((v = value_of("--name", argc, argv, &i, &missing))) {
			r->name = v;
		} else if ((v = value_of("--config", argc, argv, &i, &missing))) {
			r->config = v;
		} else if ((v = value_of("--room", argc, argv, &i, &missing))) {
			if (r->n_rooms > PL_TOKEN_MAX_ROOMS)
				return usage_error("at most %d rooms", PL_TOKEN_MAX_ROOMS);
			r->rooms[r->n_rooms++] = v;
		} else if ((v = value_of("--ttl", argc, argv, &i, &missing))) {
			char *end;
			errno = 0;
			r->ttl = strtoll(v, &end, 10);
			if (errno || end == v || *end || r->ttl < 1 || r->ttl > MAX_TTL)
				return usage_error("--ttl: expected seconds from 1 to %lld, got '%s'",
						   MAX_TTL, v);
		} else if (missing) {
			return usage_error("%s: missing value", a);
		} else {
			return usage_error("unknown option '%s'", a);
		}
	}
	if (!r->userid || !*r->userid)
		return usage_error("missing USERID");
	if (!r->config)
		return usage_error("missing --config FILE (the secret is in the auth-token "
				   "plugin's options)");
	return 0;
}

/* The value of key in a NULL-terminated key/value list, or NULL. */
static const char *kv_get(char **kv, const char *key)
{
	for (; kv[0] && kv[1]; kv += 2)
		if (strcmp(kv[0], key) == 0)
			return kv[1];
	return NULL;
}

/* The option key of the auth-token plugin in c (inline options first), or NULL. Valid while c
 * is. */
static const char *plugin_option(const struct pl_config *c, const char *key)
{
	const char *v = NULL;
	for (size_t i = 0; !v && i < c->n_plugins; i++)
		if (strcmp(c->plugins[i].name, PLUGIN_NAME) == 0)
			v = kv_get(c->plugins[i].options, key);
	for (size_t i = 0; !v && i < c->n_plugin_opts; i++)
		if (strcmp(c->plugin_opts[i].name, PLUGIN_NAME) == 0)
			v = kv_get(c->plugin_opts[i].options, key);
	return v;
}

/* Signs r's claims with secret and prints the token. Returns the exit status. */
static int sign(const struct request *r, const char *secret)
{
	long long now = (long long)time(NULL);
	json_t *claims = json_pack("{sssIsI}", "sub", r->userid, "iat", (json_int_t)now, "exp",
				   (json_int_t)(now + r->ttl));
	json_t *rooms = r->n_rooms ? json_array() : NULL;
	if (!claims || (r->n_rooms && !rooms))
		goto nomem;
	if (r->name && json_object_set_new(claims, "name", json_string(r->name)))
		goto nomem;
	for (size_t i = 0; i < r->n_rooms; i++)
		if (json_array_append_new(rooms, json_string(r->rooms[i])))
			goto nomem;
	if (rooms && json_object_set(claims, "rooms", rooms))
		goto nomem;
	int status = PL_EXIT_USAGE;
	char *token = pl_token_sign(claims, secret, strlen(secret));
	json_t *back = NULL;
	int rc = token ? pl_token_verify(token, strlen(token), secret, strlen(secret), now, 0, &back)
		       : PL_TOKEN_EMALFORMED;
	if (rc == 0) {
		printf("%s\n", token);
		status = 0;
	} else {
		/* a USERID, NAME or ROOM the server would refuse (not UTF-8, too long) */
		fprintf(stderr, "parley token: %s (each of USERID, NAME and ROOM is 1 to %d bytes of "
				"UTF-8)\n",
			pl_strerror(rc), PL_TOKEN_MAX_FIELD);
	}
	json_decref(back);
	free(token);
	json_decref(rooms);
	json_decref(claims);
	return status;
nomem:
	fprintf(stderr, "parley token: out of memory\n");
	json_decref(rooms);
	json_decref(claims);
	return EXIT_NO_SECRET;
}

int pl_token_cli(int argc, char **argv)
{
	struct request r = {.ttl = DEFAULT_TTL};
	int status = parse_args(&r, argc, argv);
	if (status || r.help) {
		if (r.help)
			usage();
		return status;
	}
	/* the server's own reading of the file; the bundled plugins are of no interest here */
	struct pl_config c;
	pl_config_init(&c);
	char *args[] = {"parley", "--config", (char *)r.config, "--no-bundled", NULL};
	if (pl_config_parse_args(&c, 4, args) != 0) {
		pl_config_close(&c);
		return EXIT_NO_SECRET; /* the parser said why */
	}
	const char *secret = plugin_option(&c, "secret");
	if (!secret)
		fprintf(stderr, "parley token: %s: no secret in the options of the %s plugin\n",
			r.config, PLUGIN_NAME);
	else if (strlen(secret) < PL_TOKEN_MIN_KEY)
		fprintf(stderr, "parley token: %s: the %s secret is shorter than %d bytes\n",
			r.config, PLUGIN_NAME, PL_TOKEN_MIN_KEY);
	status = secret && strlen(secret) >= PL_TOKEN_MIN_KEY ? sign(&r, secret) : EXIT_NO_SECRET;
	pl_config_close(&c);
	return status;
}
